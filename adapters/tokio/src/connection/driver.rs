//! The driving loop of a [`Connection`]: read → core → write, one timer, and the link's life
//! (open, shut down, dialed again when the reconnect policy says so).
//!
//! Everything lives in the connection, nothing in a future's locals, so any call that polls
//! this loop may be cancelled between two polls without losing a byte.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use responses_ws_core::client::ClientEvent;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::Connection;
use crate::transport::{Dialing, Transport};
use crate::{entropy, ConnectError, Error};

/// The transport under the core.
pub(crate) enum Link {
    /// A socket carries the core's current connection.
    Open(Socket),
    /// Reconnecting: waiting out the delay, then TCP and TLS.
    Dialing(Dialing),
    /// No socket, none coming.
    Down,
}

impl fmt::Debug for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Link::Open(socket) => f.debug_tuple("Open").field(socket).finish(),
            Link::Dialing(_) => f.write_str("Dialing"),
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
    /// `Ready(Ok(None))` once the link is down for good and the core has nothing left.
    pub(crate) fn poll_core(
        &mut self,
        cx: &mut Context<'_>,
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
                Link::Open(_) => self.poll_socket(cx),
                Link::Dialing(dialing) => match dialing.as_mut().poll(cx) {
                    Poll::Ready(result) => {
                        self.on_dialed(result)?;
                        Progress::Made
                    }
                    Poll::Pending => return Poll::Pending,
                },
                Link::Down => match self.redial.take_due() {
                    Some(delay) => {
                        self.link = Link::Dialing(self.dialer.dial_after(delay));
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

    /// Writes everything queued (waiting for the socket as needed), for the calls that queue
    /// frames. Without a socket there is nothing to write to: the frames wait in the core.
    pub(crate) async fn flush(&mut self) {
        std::future::poll_fn(|cx| {
            let Link::Open(socket) = &mut self.link else {
                return Poll::Ready(());
            };
            match self
                .outbound
                .poll_drain(cx, &mut self.client, &mut socket.io)
            {
                Poll::Ready(Ok(())) => Poll::Ready(()),
                Poll::Ready(Err(_)) => {
                    self.lose_link();
                    Poll::Ready(())
                }
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Shuts the socket down once the core is finished with it; otherwise reads into the
    /// core's buffer (only called when the core has no event to give: backpressure).
    fn poll_socket(&mut self, cx: &mut Context<'_>) -> Progress {
        let Link::Open(socket) = &mut self.link else {
            return Progress::Waiting;
        };
        if self.client.is_finished() && self.outbound.is_empty() {
            // Best effort: the peer may be gone already.
            return match Pin::new(&mut socket.io).poll_shutdown(cx) {
                Poll::Ready(_) => {
                    self.link = Link::Down;
                    Progress::Made
                }
                Poll::Pending => Progress::Waiting,
            };
        }
        if socket.read_closed {
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
    /// reconnect policy retries) and unwritten bytes are dropped.
    pub(crate) fn lose_link(&mut self) {
        self.client.handle_eof(self.clock.now());
        self.outbound.clear();
        self.link = Link::Down;
    }

    /// A reconnect's transport is ready (or failed): start the upgrade on it, or plan the
    /// next attempt, or give up.
    fn on_dialed(&mut self, result: Result<Transport, ConnectError>) -> Result<(), Error> {
        let failure = match result {
            Ok(io) => match entropy::seed() {
                Ok(seed) => match self.client.connect(seed, self.clock.now()) {
                    Ok(()) => {
                        self.link = Link::Open(io.into());
                        return Ok(());
                    }
                    Err(error) => ConnectError::Handshake(error),
                },
                Err(error) => ConnectError::Random(error),
            },
            Err(error) => error,
        };
        match self.redial.after_failure() {
            Some(delay) => {
                self.link = Link::Dialing(self.dialer.dial_after(delay));
                Ok(())
            }
            None => {
                self.link = Link::Down;
                Err(Error::Reconnect {
                    attempts: self.redial.attempts(),
                    last: Box::new(failure),
                })
            }
        }
    }

    /// Bookkeeping on an event going to the application.
    fn observe(&mut self, event: &ClientEvent) {
        if let ClientEvent::Connected { headers } = event {
            self.headers.clone_from(headers);
        }
        self.redial.observe(event);
    }
}
