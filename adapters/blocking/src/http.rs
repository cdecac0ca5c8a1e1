//! [`HttpSockets`]: the sockets of a blocking connection while its conversation runs over
//! HTTP + SSE — one per request in flight, plus the idle kept-alive ones — named by the
//! core's [`HttpClient`] ([`SocketId`]). This file opens them (the same [`Transport`] as
//! WebSocket mode: TCP, TLS for `wss://`, the connect timeout), writes each request, reads
//! answers into the core and closes what the core closes. Which socket carries what, and
//! what an answer means, is the core's.
//!
//! std has no way to wait for the first of several sockets, so with more than one open the
//! reads take turns, each waiting at most [`TURN`]; a lone socket is read with the core's
//! deadline as its timeout.
//!
//! Invariant: a socket is here from the core's `Dial` until its `Close` (or a failed dial or
//! write, which the core hears of); no other socket is.

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use responses_ws_core::http_client::{HttpClient, SocketId};
use responses_ws_core::ws::WsUrl;
use responses_ws_core::Instant;
use responses_ws_tls::rustls::ClientConfig;

use crate::transport::{is_timeout, Transport};
use crate::ConnectError;
use responses_ws_adapter::{ConnectionState, SocketRequest};

/// What a read takes in at most at once.
const READ_BUFFER: usize = 16 * 1024;

/// The longest a read waits on one of several sockets before the next one's turn.
const TURN: Duration = Duration::from_millis(2);

/// The HTTP sockets of one connection, and the buffer they are read into.
#[derive(Debug)]
pub(crate) struct HttpSockets {
    sockets: BTreeMap<SocketId, Transport>,
    buffer: Box<[u8]>,
    /// The socket whose turn it is to be read next (the first one past it).
    turn: Option<SocketId>,
}

impl Default for HttpSockets {
    fn default() -> Self {
        HttpSockets {
            sockets: BTreeMap::new(),
            buffer: vec![0; READ_BUFFER].into_boxed_slice(),
            turn: None,
        }
    }
}

/// How a connection opens its sockets, WebSocket mode's and HTTP's: TLS for `wss://`, and
/// the time TCP + TLS may take.
#[derive(Debug)]
pub(crate) struct Dialing {
    pub(crate) tls: Option<Arc<ClientConfig>>,
    pub(crate) timeout: Duration,
}

impl Dialing {
    /// Opens a socket to `url`.
    pub(crate) fn open(&self, url: &WsUrl) -> Result<Transport, ConnectError> {
        Transport::open(url, self.tls.as_ref(), self.timeout)
    }
}

impl HttpSockets {
    /// Carries out a socket request of the session's machine: `Dial` opens the socket and
    /// writes its request, unless write-ahead records wait to be stored (the next flush
    /// writes it then); `Close` closes it.
    pub(crate) fn carry_out(
        &mut self,
        request: SocketRequest,
        state: &mut ConnectionState,
        dialing: &Dialing,
        now: impl Fn() -> Instant,
    ) {
        match request {
            SocketRequest::Dial(socket) => {
                let write = state.is_clear();
                let url = state.machine.url().clone();
                if let Some(client) = state.machine.http_mut() {
                    self.dial(socket, &url, dialing, client, now, write);
                }
            }
            SocketRequest::Close(socket) => self.close(socket),
        }
    }

    /// Opens `socket` to `url` and, if `write`, writes its request; a failure goes to the
    /// core.
    fn dial(
        &mut self,
        socket: SocketId,
        url: &WsUrl,
        dialing: &Dialing,
        client: &mut HttpClient,
        now: impl Fn() -> Instant,
        write: bool,
    ) {
        match dialing.open(url) {
            Ok(transport) => {
                self.sockets.insert(socket, transport);
                if write {
                    self.write(client, now);
                }
            }
            Err(error) => client.dial_failed(socket, error.failure(), now()),
        }
    }

    /// Closes `socket` (the core is done with it).
    fn close(&mut self, socket: SocketId) {
        if let Some(transport) = self.sockets.remove(&socket) {
            transport.shutdown();
        }
    }

    /// Writes what the core has for each socket, blocking until it is out; a socket that
    /// fails, or takes nothing for the session's idle timeout (a peer that reads nothing is
    /// as dead as one that sends nothing), is at its end for the core.
    pub(crate) fn write(&mut self, client: &mut HttpClient, now: impl Fn() -> Instant) {
        let idle = client.config().session.idle_timeout;
        for (&id, transport) in &mut self.sockets {
            while let Some(bytes) = client.poll_transmit(id) {
                let written = transport
                    .set_timeout(idle)
                    .and_then(|()| transport.write_all(&bytes))
                    .and_then(|()| transport.flush());
                if written.is_err() {
                    client.handle_eof(id, now());
                    break;
                }
            }
        }
    }

    /// One read into the core: the next socket in turn (waiting at most [`TURN`] when
    /// several are open), or the lone one until `deadline`. `false` when there is no socket
    /// to read and no deadline: nothing can happen.
    pub(crate) fn read_once(
        &mut self,
        client: &mut HttpClient,
        deadline: Option<Instant>,
        now: impl Fn() -> Instant,
    ) -> bool {
        let next = match self.turn {
            Some(turn) => self.sockets.range(turn..).nth(1).map(|(id, _)| *id),
            None => None,
        };
        let Some(id) = next.or_else(|| self.sockets.keys().next().copied()) else {
            return match deadline {
                Some(deadline) => {
                    std::thread::sleep(deadline.saturating_duration_since(now()));
                    true
                }
                None => false,
            };
        };
        self.turn = Some(id);
        let left = deadline.map(|deadline| deadline.saturating_duration_since(now()));
        let wait = match self.sockets.len() {
            1 => left,
            _ => Some(left.map_or(TURN, |left| left.min(TURN))),
        };
        let Some(transport) = self.sockets.get_mut(&id) else {
            return true;
        };
        let read = transport
            .set_timeout(wait)
            .and_then(|()| transport.read(&mut self.buffer));
        match read {
            Ok(0) => client.handle_eof(id, now()),
            Ok(n) => client.handle_input(id, &self.buffer[..n], now()),
            Err(error) if is_timeout(&error) || error.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => client.handle_eof(id, now()),
        }
        true
    }
}
