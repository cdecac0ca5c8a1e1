//! [`HttpSockets`]: the sockets of a connection while its conversation runs over HTTP +
//! SSE — one per request in flight, plus the idle kept-alive ones — named by the core's
//! [`HttpClient`] ([`SocketId`]). This file opens them (the same [`Dialer`] as WebSocket
//! mode: TCP, TLS for `wss://`, the connect timeout), writes each one's request, reads its
//! answer into the core and closes what the core closes. Which socket carries what, and what
//! an answer means, is the core's.
//!
//! Invariant: a socket is here from the core's `Dial` until its `Close` (or a failed dial,
//! which the core hears of); no other socket is.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_core::future::BoxFuture;
use responses_ws_adapter::{ConnectionState, SocketRequest};
use responses_ws_core::http_client::{HttpClient, SocketId};
use responses_ws_core::Instant;

use crate::connection::Dialing;
use crate::runtime::{AsyncIo, Runtime};
use crate::socket::{Socket, Wire};
use crate::ConnectError;

/// What each socket reads into at most at once.
const READ_BUFFER: usize = 16 * 1024;

/// The HTTP sockets of one connection.
#[derive(Default)]
pub(crate) struct HttpSockets {
    sockets: BTreeMap<SocketId, HttpSocket>,
}

/// What one pass over the sockets did.
struct Progress {
    /// Something reached the core: bytes, an end, a failed dial.
    moved: bool,
    /// No socket is being opened and every write is done.
    sent: bool,
}

/// One socket: being opened, or open with its read buffer.
enum HttpSocket {
    Opening(BoxFuture<'static, Result<Box<dyn AsyncIo>, ConnectError>>),
    Open { socket: Socket, buffer: Box<[u8]> },
}

/// One socket of the core's [`HttpClient`], as the [`Wire`] a [`Socket`] feeds and drains.
struct HttpWire<'a> {
    client: &'a mut HttpClient,
    socket: SocketId,
    buffer: &'a mut [u8],
}

impl Wire for HttpWire<'_> {
    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.client.poll_transmit(self.socket)
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        self.buffer
    }
    fn release_input_buffer(&mut self) {
        // The buffer is the socket's: it goes with the socket, which the core closes once
        // idle sockets are past `max_idle_sockets`.
    }
    fn commit_input(&mut self, n: usize, now: Instant) {
        self.client
            .handle_input(self.socket, &self.buffer[..n], now)
    }
    fn handle_eof(&mut self, now: Instant) {
        self.client.handle_eof(self.socket, now)
    }
}

impl HttpSockets {
    /// Carries out a socket request of the session's machine: `Dial` starts opening the
    /// socket (TCP, TLS for `wss://`, within the connect timeout; a dialer that cannot be
    /// made fails the exchange at once), `Close` forgets it.
    pub(crate) fn carry_out(
        &mut self,
        request: SocketRequest,
        state: &mut ConnectionState,
        dialing: &mut Dialing,
        runtime: &Arc<dyn Runtime>,
        now: Instant,
    ) {
        match request {
            SocketRequest::Dial(socket) => match dialing.dialer(runtime, state.machine.url()) {
                Ok(dialer) => self.dial(socket, dialer.open()),
                Err(error) => state.http_dial_failed(socket, &error, now),
            },
            SocketRequest::Close(socket) => self.close(socket),
        }
    }

    /// Starts opening `socket` with `open` (a dial's future).
    fn dial(
        &mut self,
        socket: SocketId,
        open: BoxFuture<'static, Result<Box<dyn AsyncIo>, ConnectError>>,
    ) {
        self.sockets.insert(socket, HttpSocket::Opening(open));
    }

    /// Forgets `socket`: dropping the stream closes it (the core is done with it, so
    /// nothing is waiting to be written).
    fn close(&mut self, socket: SocketId) {
        self.sockets.remove(&socket);
    }

    /// Moves every socket on once: finishes opening, writes what the core has for it (unless
    /// `write` is false: write-ahead records wait to be stored), reads (unless `read` is
    /// false: the application is not taking events) into the core. `Ready` when something
    /// reached the core (its events are due), `Pending` when every socket waits.
    pub(crate) fn poll(
        &mut self,
        client: &mut HttpClient,
        now: impl Fn() -> Instant,
        (read, write): (bool, bool),
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        match self.poll_io(client, now, (read, write), cx).moved {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    }

    /// Opens and writes, reading nothing: `Ready` once no socket is being opened and every
    /// request is written (a socket that could not be opened or written to is the core's
    /// news, as in [`poll`](Self::poll)).
    pub(crate) fn poll_sent(
        &mut self,
        client: &mut HttpClient,
        now: impl Fn() -> Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        match self.poll_io(client, now, (false, true), cx).sent {
            true => Poll::Ready(()),
            false => Poll::Pending,
        }
    }

    /// One pass over the sockets: open, write if `write`, and read if `read`.
    fn poll_io(
        &mut self,
        client: &mut HttpClient,
        now: impl Fn() -> Instant,
        (read, write): (bool, bool),
        cx: &mut Context<'_>,
    ) -> Progress {
        let mut progress = Progress {
            moved: self.poll_open(client, &now, cx),
            sent: true,
        };
        for (&id, entry) in &mut self.sockets {
            let HttpSocket::Open { socket, buffer } = entry else {
                progress.sent = false;
                continue;
            };
            let mut wire = HttpWire {
                client: &mut *client,
                socket: id,
                buffer,
            };
            let written = match write {
                true => socket.poll_write_all(&mut wire, cx),
                false => Poll::Pending,
            };
            match written {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_broken)) => {
                    wire.handle_eof(now());
                    progress.moved = true;
                    continue;
                }
                Poll::Pending => progress.sent = false,
            }
            if read && !socket.read_closed() && socket.poll_read(&mut wire, &now, cx).is_ready() {
                progress.moved = true;
            }
        }
        progress
    }

    /// Polls the sockets being opened: an open one gets its read buffer, a failed one is
    /// forgotten and the core told. Whether one failed.
    fn poll_open(
        &mut self,
        client: &mut HttpClient,
        now: impl Fn() -> Instant,
        cx: &mut Context<'_>,
    ) -> bool {
        let mut failed = Vec::new();
        for (&id, entry) in &mut self.sockets {
            let HttpSocket::Opening(open) = entry else {
                continue;
            };
            match open.as_mut().poll(cx) {
                Poll::Pending => {}
                Poll::Ready(Ok(io)) => {
                    *entry = HttpSocket::Open {
                        socket: Socket::new(io),
                        buffer: vec![0; READ_BUFFER].into_boxed_slice(),
                    }
                }
                Poll::Ready(Err(error)) => failed.push((id, error)),
            }
        }
        for (id, error) in &failed {
            self.sockets.remove(id);
            client.dial_failed(*id, error.failure(), now());
        }
        !failed.is_empty()
    }
}

impl fmt::Debug for HttpSockets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let open = self
            .sockets
            .values()
            .filter(|socket| matches!(socket, HttpSocket::Open { .. }))
            .count();
        f.debug_struct("HttpSockets")
            .field("open", &open)
            .field("opening", &(self.sockets.len() - open))
            .finish()
    }
}
