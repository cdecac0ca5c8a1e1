//! The driving loop of a [`Connection`]: read → core → write, one timer, and the link's life
//! (open, shut down, dialed again when the core's retry budget says so: `Client::next_dial`).
//!
//! Everything lives in the connection, nothing in a future's locals, so any call that polls
//! this loop may be cancelled between two polls without losing a byte.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use responses_ws_core::client::ClientEvent;
use responses_ws_core::Instant;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Connection;
use crate::transport::{Dialing, Transport};
use crate::{entropy, ConnectError, Error, MAX_SET_ASIDE_EVENTS};

/// The transport under the core.
pub(crate) enum Link {
    /// A socket carries the core's current connection.
    Open(Socket),
    /// (Re)connecting: waiting for the dial time the core gave, then TCP and TLS.
    Dialing {
        /// TCP and TLS, after the wait.
        future: Dialing,
        /// When the dial begins: the connect timeout of the upgrade counts from here.
        start: Instant,
    },
    /// No socket; one comes when the core asks for it (`Client::next_dial`).
    Down,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Open(socket) => f.debug_tuple("Open").field(socket).finish(),
            Link::Dialing { start, .. } => f.debug_struct("Dialing").field("start", start).finish(),
            Link::Down => f.write_str("Down"),
        }
    }
}

/// An open socket.
#[derive(Debug)]
pub(crate) struct Socket {
    io: Transport,
    /// The peer closed its side: nothing more to read.
    read_closed: bool,
}

impl From<Transport> for Socket {
    fn from(io: Transport) -> Self {
        Socket {
            io,
            read_closed: false,
        }
    }
}

/// What one look at the socket did.
enum Progress {
    /// Something changed: look again.
    Made,
    /// Nothing to do until woken.
    Waiting,
}

impl Connection {
    /// The next event of the core, driving the socket, the timer and reconnects as needed.
    /// `Ready(Ok(None))` once the link is down, the core wants no new one (closed, or it gave
    /// up retrying) and has nothing left.
    ///
    /// `holding`: the caller cannot hand events on (it waits for room, a write, or tool
    /// handlers) and sets them aside; past [`MAX_SET_ASIDE_EVENTS`] set aside, the socket is
    /// not read (writes and the core's deadlines go on, so the wait still ends).
    pub(crate) fn poll_core(
        &mut self,
        cx: &mut Context<'_>,
        holding: bool,
    ) -> Poll<Result<Option<ClientEvent>, Error>> {
        loop {
            self.poll_write(cx);
            if let Some(event) = self.client.poll_event() {
                self.observe(&event);
                // Answers the event may have queued (a pong, a continuation) go out now if the
                // socket takes them, later otherwise.
                self.poll_write(cx);
                return Poll::Ready(Ok(Some(event)));
            }
            let progress = match &mut self.link {
                Link::Open(_) => {
                    let paused = holding && self.deferred.len() >= MAX_SET_ASIDE_EVENTS;
                    self.poll_socket(cx, paused)
                }
                Link::Dialing { future, start } => match future.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        let start = *start;
                        self.on_dialed(result, start);
                        Progress::Made
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Link::Down => match self.client.next_dial() {
                    Some(at) => {
                        self.dial_at(at);
                        Progress::Made
                    }
                    None => return Poll::Ready(Ok(None)),
                },
            };
            if let Progress::Made = progress {
                continue;
            }
            match self.poll_timer(cx) {
                Poll::Ready(()) => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Writes what the socket takes now; on a broken socket the link is lost. Without a
    /// socket, bytes of the dead connection are dropped.
    fn poll_write(&mut self, cx: &mut Context<'_>) {
        let Link::Open(socket) = &mut self.link else {
            while self.client.poll_transmit().is_some() {}
            return;
        };
        if let Poll::Ready(Err(_)) = self
            .outbound
            .poll_drain(cx, &mut self.client, &mut socket.io)
        {
            self.lose_link();
        }
    }

    /// Waits (cancel-safe) until the core's outbound queue has room for another request,
    /// driving the connection meanwhile — writing, firing timers, reconnecting — and keeping
    /// its events for `next_event`. Ends early only when the connection is over for good
    /// (the core then refuses the call itself).
    pub(crate) async fn room(&mut self) -> Result<(), Error> {
        self.drive_until(|conn| conn.client.has_room()).await
    }

    /// Writes everything queued, for the calls that queue frames, driving the connection
    /// meanwhile as [`room`](Self::room) does: a peer that takes nothing is caught by the
    /// core's deadlines (keepalive, pong and close timeouts), which end the socket and so
    /// the wait. Without a socket there is nothing to write to: the frames wait in the core.
    pub(crate) async fn flush(&mut self) -> Result<(), Error> {
        self.drive_until(|conn| !matches!(conn.link, Link::Open(_)) || conn.outbound.is_empty())
            .await
    }

    /// Drives the connection (cancel-safe), keeping its events for `next_event`, until
    /// `done` holds after a write, or the connection is over for good.
    async fn drive_until(&mut self, done: fn(&Connection) -> bool) -> Result<(), Error> {
        std::future::poll_fn(|cx| loop {
            // `Outbound` only empties once the core has nothing more to give, so after a
            // write `done` sees what is really left.
            self.poll_write(cx);
            if done(self) {
                return Poll::Ready(Ok(()));
            }
            match self.poll_core(cx, true) {
                Poll::Ready(Ok(Some(event))) => self.deferred.push_back(event),
                Poll::Ready(Ok(None)) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                // Woken by the socket or the timer: the next look may find it done.
                Poll::Pending if done(self) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    /// Shuts the socket down once the core is finished with it; otherwise reads into the
    /// core's buffer (only called when the core has no event to give: backpressure), unless
    /// reading is `paused`.
    fn poll_socket(&mut self, cx: &mut Context<'_>, paused: bool) -> Progress {
        let Link::Open(socket) = &mut self.link else {
            return Progress::Waiting;
        };
        if self.client.is_finished() {
            // The core is done with this connection and its deadlines are spent: bytes still
            // here are ones the peer did not take on the last write (`poll_write` ran just
            // before), and nothing would end a wait for it. Give them up.
            self.outbound.clear();
            // Best effort: the peer may be gone already.
            return match Pin::new(&mut socket.io).poll_shutdown(cx) {
                Poll::Ready(_) => {
                    self.link = Link::Down;
                    Progress::Made
                }
                Poll::Pending => Progress::Waiting,
            };
        }
        if socket.read_closed || paused {
            return Progress::Waiting;
        }
        let space = self.client.input_buffer();
        if space.is_empty() {
            return Progress::Waiting;
        }
        let mut buf = ReadBuf::new(space);
        match Pin::new(&mut socket.io).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len();
                let now = self.clock.now();
                if n == 0 {
                    socket.read_closed = true;
                    self.client.handle_eof(now);
                } else {
                    self.client.commit_input(n, now);
                }
                Progress::Made
            }
            Poll::Ready(Err(_)) => {
                self.lose_link();
                Progress::Made
            }
            Poll::Pending => Progress::Waiting,
        }
    }

    /// Fires the core's deadline when it has passed; registers the timer otherwise.
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.client.poll_timeout() else {
            return Poll::Pending;
        };
        if self
            .timer
            .poll_until(cx, &self.clock, deadline)
            .is_pending()
        {
            return Poll::Pending;
        }
        // The timer may round; the core must see its deadline as reached.
        let now = self.clock.now().max(deadline);
        self.client.handle_timeout(now);
        Poll::Ready(())
    }

    /// The socket broke: the core hears end of file (the connection ends as 1006, which the
    /// retry budget judges) and unwritten bytes are dropped.
    pub(crate) fn lose_link(&mut self) {
        self.client.handle_eof(self.clock.now());
        self.outbound.clear();
        self.link = Link::Down;
    }

    /// Starts dialing at `at` (a time the core gave, or now).
    pub(crate) fn dial_at(&mut self, at: Instant) {
        self.link = Link::Dialing {
            future: self.dialer.dial_at(self.clock.tokio_instant(at)),
            start: at,
        };
    }

    /// A dial's transport is ready: start the upgrade on it. Or it failed: the core's budget
    /// decides what follows (`Reconnecting` or `GaveUp`).
    fn on_dialed(&mut self, result: Result<Transport, ConnectError>, start: Instant) {
        self.link = Link::Down;
        let error = match result.and_then(|io| {
            let seed = entropy::seed().map_err(ConnectError::Random)?;
            self.client
                .connect(seed, start)
                .map_err(ConnectError::Handshake)?;
            Ok(io)
        }) {
            Ok(io) => {
                self.link = Link::Open(io.into());
                return;
            }
            Err(error) => error,
        };
        let failure = error.failure();
        self.last_error = Some(error);
        self.client.dial_failed(failure, self.clock.now());
    }

    /// Bookkeeping on an event going to the application: the last upgrade headers, the
    /// last error of an attempt, fresh credentials when the core asks for them.
    fn observe(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { headers } => {
                self.headers.clone_from(headers);
                self.last_error = None;
            }
            ClientEvent::Disconnected { closed } if closed.error.is_some() => {
                self.last_error = Some(ConnectError::from_closed(closed.error.clone()));
            }
            ClientEvent::Reconnecting {
                refresh_credentials: true,
                ..
            } => {
                if let Some(key) = self.credentials.as_ref().and_then(|c| c.fetch()) {
                    self.client.set_api_key(&key);
                }
            }
            _ => {}
        }
    }
}
