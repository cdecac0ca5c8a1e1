//! The driving loop of a [`Connection`], written once for every runtime: read → core →
//! write, one timer, the link's life (open, shut down, dialed again when the core's retry
//! budget says so: `Client::next_dial`), and the waits of the calls that queue frames (room,
//! flush) and of the tool handlers, which keep the connection moving and set its events aside.
//!
//! Everything lives in the connection, nothing in a future's locals, so any call that polls
//! this loop may be cancelled between two polls without losing a byte.

use std::convert::Infallible;
use std::future::poll_fn;
use std::task::{ready, Context, Poll};

use futures_core::future::BoxFuture;
use responses_ws_core::client::ClientEvent;
use responses_ws_core::http_client::Transport;
use responses_ws_core::Instant;

use super::Connection;
use crate::runtime::AsyncIo;
use crate::socket::Socket;
use crate::transport::Dialer;
use crate::ConnectError;

/// Where the byte stream stands.
pub(crate) enum Link {
    /// A stream is attached: upgrading, open or closing.
    Up(Socket),
    /// Waiting for the time of the next dial (the core's backoff).
    Backoff(Instant),
    /// A dial is opening its stream (TCP, TLS); the upgrade's timeout counts from `start`.
    Opening {
        future: BoxFuture<'static, Result<Box<dyn AsyncIo>, ConnectError>>,
        start: Instant,
    },
    /// No stream; one comes when the core asks for it (`Client::next_dial`).
    Down,
}

/// What a write did when it was done.
enum Written {
    /// Everything the core had went out.
    All,
    /// The stream broke; the core was told (the connection ends).
    Broke,
    /// Nothing was written: the store did not take the records of what would have gone
    /// out (the error waits in `store_error`).
    Held,
}

impl Link {
    /// A word for `Debug`.
    pub(crate) fn state(&self) -> &'static str {
        match self {
            Link::Up(_) => "up",
            Link::Backoff(_) => "backoff",
            Link::Opening { .. } => "opening",
            Link::Down => "down",
        }
    }
}

impl Connection {
    /// Moves the connection on until it has an event (`None` once it is down for good).
    /// Events taken here are not kept: callers that drive for their own purpose keep the
    /// ones they do not want in `deferred`.
    ///
    /// `holding`: the caller cannot hand events on (it waits for room, a write, or tool
    /// handlers) and sets them aside; past [`MAX_SET_ASIDE_EVENTS`] set aside, the stream is
    /// not read (writes, the core's deadlines and reconnects go on, so the wait still ends).
    pub(crate) fn poll_drive(
        &mut self,
        cx: &mut Context<'_>,
        holding: bool,
    ) -> Poll<Option<ClientEvent>> {
        loop {
            if self.state.machine.transport() == Transport::Http {
                self.drop_link(cx);
                if let Some(event) = ready!(self.poll_http(cx, holding)) {
                    self.state.observe(&event);
                    return Poll::Ready(Some(event));
                }
                if self.state.machine.transport() == Transport::Http {
                    // Closed by the application, every event taken.
                    return Poll::Ready(None);
                }
                // Back to WebSocket mode: it dials at once.
                continue;
            }
            match &mut self.link {
                Link::Up(_) => {
                    if let Some(event) = ready!(self.poll_up(cx, holding)) {
                        self.state.observe(&event);
                        return Poll::Ready(Some(event));
                    }
                }
                Link::Backoff(at) => {
                    let at = *at;
                    ready!(self.timer.poll_until(&*self.runtime, self.clock.at(at), cx));
                    self.start_dial(at);
                }
                Link::Opening { future, start } => {
                    let opened = ready!(future.as_mut().poll(cx));
                    let start = *start;
                    self.link = Link::Down;
                    if let Err(error) = opened.and_then(|stream| self.attach(stream, start)) {
                        self.dial_failed(error);
                    }
                }
                Link::Down => {
                    if let Some(event) = self.next_machine_event() {
                        self.state.observe(&event);
                        return Poll::Ready(Some(event));
                    }
                    match self.state.machine.next_dial() {
                        Some(at) => self.link = Link::Backoff(at),
                        None => return Poll::Ready(None),
                    }
                }
            }
        }
    }

    /// One step of an attached stream: `Some` event, or `None` once the stream is gone.
    /// The stream is read only when the core has no event to give (backpressure), and not
    /// while `holding` past the set-aside limit.
    fn poll_up(&mut self, cx: &mut Context<'_>, holding: bool) -> Poll<Option<ClientEvent>> {
        loop {
            let event = self.next_machine_event();
            // Output the event queued (a pong, a close echo) goes out before it is handed on,
            // as far as the stream takes it without waiting.
            let written = self.poll_write(cx);
            let Link::Up(socket) = &mut self.link else {
                return Poll::Ready(event);
            };
            if let Some(event) = event {
                if matches!(event, ClientEvent::Disconnected { .. }) {
                    socket.mark_ended();
                }
                return Poll::Ready(Some(event));
            }
            if let Poll::Ready(Written::Broke) = written {
                // The core heard of it: its events come first.
                continue;
            }
            // Over: close the stream, giving up on a last write the peer does not take.
            if self.state.machine.is_finished() || (socket.ended() && written.is_pending()) {
                let _ = socket.poll_shutdown(cx);
                self.link = Link::Down;
                return Poll::Ready(None);
            }
            let clock = &self.clock;
            let now = || clock.now();
            let paused = holding && self.state.holds_enough();
            if let Some(client) = self.state.machine.client_mut() {
                if !socket.read_closed() && !paused && socket.poll_read(client, now, cx).is_ready()
                {
                    continue;
                }
            }
            ready!(self.poll_timer(cx));
        }
    }

    /// The next event for the application from the machine, carrying out what it asks of
    /// the HTTP sockets on the way.
    fn next_machine_event(&mut self) -> Option<ClientEvent> {
        let clock = &self.clock;
        self.state.next_machine_event(
            || clock.now(),
            |state, request| {
                let now = clock.now();
                (self.http).carry_out(request, state, &mut self.dialing, &self.runtime, now);
            },
        )
    }

    /// One step over HTTP + SSE: `Some` event, or `None` once the session left HTTP (back
    /// to WebSocket mode) or the application closed it and every event was taken. The
    /// sockets are read only when the machine has no event to give (backpressure), and not
    /// while `holding` past the set-aside limit.
    ///
    /// Write-ahead: the core's records are stored first (which lets the requests they
    /// describe start), and no socket is written while any is not.
    fn poll_http(&mut self, cx: &mut Context<'_>, holding: bool) -> Poll<Option<ClientEvent>> {
        loop {
            let stored = self.state.persist();
            if let Some(event) = self.next_machine_event() {
                return Poll::Ready(Some(event));
            }
            let paused = holding && self.state.holds_enough();
            let Some(client) = self.state.machine.http_mut() else {
                return Poll::Ready(None);
            };
            let clock = &self.clock;
            let now = || clock.now();
            if self
                .http
                .poll(client, now, (!paused, stored), cx)
                .is_ready()
            {
                continue;
            }
            ready!(self.poll_timer(cx));
        }
    }

    /// The WebSocket stream is of no more use (the session moved to HTTP): shut it down,
    /// best effort, and forget any dial in progress.
    fn drop_link(&mut self, cx: &mut Context<'_>) {
        if let Link::Up(socket) = &mut self.link {
            let _ = socket.poll_shutdown(cx);
        }
        self.link = Link::Down;
    }

    /// Writes what the core has queued, as far as the stream takes it: `Ready` once all is
    /// out (or there is no stream to write to), `Pending` while the stream is full. A failed
    /// write is the end of the connection for the core.
    ///
    /// Write-ahead: the core's records are stored first (inline: one durable append, about a
    /// millisecond on the file store), and nothing is written while any is not.
    fn poll_write(&mut self, cx: &mut Context<'_>) -> Poll<Written> {
        if !self.state.persist() {
            return Poll::Ready(Written::Held);
        }
        let (Link::Up(socket), Some(client)) = (&mut self.link, self.state.machine.client_mut())
        else {
            return Poll::Ready(Written::All);
        };
        if let Err(_broken) = ready!(socket.poll_write_all(client, cx)) {
            client.handle_eof(self.clock.now());
            return Poll::Ready(Written::Broke);
        }
        Poll::Ready(Written::All)
    }

    /// Fires the core's deadline once it has passed; registers the timer otherwise
    /// (`Pending` without a deadline).
    fn poll_timer(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let Some(deadline) = self.state.machine.poll_timeout() else {
            return Poll::Pending;
        };
        let at = self.clock.at(deadline);
        ready!(self.timer.poll_until(&*self.runtime, at, cx));
        // The timer may round; the core must see its deadline as reached.
        let now = self.now().max(deadline);
        self.state.machine.handle_timeout(now);
        Poll::Ready(())
    }

    /// Waits (cancel-safe) until the core's outbound queue has room for another request,
    /// driving the connection meanwhile — writing, firing timers, reconnecting — and keeping
    /// its events for `next_event`. Ends early only when the connection is over for good
    /// (the core then refuses the call itself).
    pub(crate) async fn room(&mut self) {
        self.drive_until(|conn, _| conn.state.machine.has_room())
            .await
    }

    /// Writes everything queued, for the calls that queue frames, driving the connection
    /// meanwhile as [`room`](Self::room) does: a peer that takes nothing is caught by the
    /// core's deadlines (keepalive, pong and close timeouts), which end the socket and so
    /// the wait. Without a socket there is nothing to write to: the frames wait in the core.
    ///
    /// Over HTTP + SSE: until every socket the machine asked for is open and its request
    /// written (reading nothing; the connect timeout ends a dial that hangs).
    pub(crate) async fn flush(&mut self) {
        if self.state.machine.transport() == Transport::Http {
            return poll_fn(|cx| self.poll_http_sent(cx)).await;
        }
        self.drive_until(|_, written| written).await
    }

    /// One step of an HTTP flush: the machine's socket requests carried out (its events
    /// stay there, in order), then the sockets opened and written.
    /// The core's deadlines still fire: an exchange whose socket takes nothing ends at its
    /// idle timeout, and with it the wait.
    fn poll_http_sent(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            if !self.state.persist() {
                // Nothing may be written; the store's error waits for the caller.
                return Poll::Ready(());
            }
            while let Some(request) = self.state.machine.poll_socket() {
                let now = self.clock.now();
                (self.http).carry_out(
                    request,
                    &mut self.state,
                    &mut self.dialing,
                    &self.runtime,
                    now,
                );
            }
            let Some(client) = self.state.machine.http_mut() else {
                return Poll::Ready(());
            };
            let clock = &self.clock;
            let now = || clock.now();
            if self.http.poll_sent(client, now, cx).is_ready() {
                return Poll::Ready(());
            }
            ready!(self.poll_timer(cx));
        }
    }

    /// Drives the connection (cancel-safe), keeping its events for `next_event`, until `done`
    /// holds after a write (told whether everything is written), or the connection is over
    /// for good. Past [`MAX_SET_ASIDE_EVENTS`] kept events the stream is not read.
    async fn drive_until(&mut self, done: fn(&Connection, bool) -> bool) {
        poll_fn(|cx| loop {
            let written = self.poll_write(cx).is_ready();
            if done(self, written) {
                return Poll::Ready(());
            }
            match self.poll_drive(cx, true) {
                Poll::Ready(Some(event)) => self.state.set_aside(event),
                Poll::Ready(None) => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    /// Drives the connection while tool handlers run (answering pings, keeping the
    /// keepalive), setting its events aside; never ready: the handlers end the wait.
    pub(crate) fn poll_aside(&mut self, cx: &mut Context<'_>) -> Poll<Infallible> {
        // Bounded: past `MAX_SET_ASIDE_EVENTS` kept events, the stream is not read.
        loop {
            match self.poll_drive(cx, true) {
                Poll::Ready(Some(event)) => self.state.set_aside(event),
                // Over, or nothing now: the handlers finish the wait.
                Poll::Ready(None) | Poll::Pending => return Poll::Pending,
            }
        }
    }

    // --- Dialing and retrying ----------------------------------------------------------

    fn dialer(&mut self) -> Result<Dialer, ConnectError> {
        self.dialing.dialer(&self.runtime, self.state.machine.url())
    }

    /// Opens a stream now, for `connect` and `reconnect`.
    pub(crate) fn dial_now(&mut self) -> Result<(), ConnectError> {
        let start = self.now();
        self.link = Link::Opening {
            future: self.dialer()?.open(),
            start,
        };
        Ok(())
    }

    /// The core's dial time has come: open a new stream.
    fn start_dial(&mut self, start: Instant) {
        match self.dialer() {
            Ok(dialer) => {
                self.link = Link::Opening {
                    future: dialer.open(),
                    start,
                }
            }
            Err(error) => self.dial_failed(error),
        }
    }

    /// Starts the core's connection over `stream` (the upgrade request is queued); its
    /// connect timeout counts from `start`, when the dial began.
    pub(crate) fn attach(
        &mut self,
        stream: Box<dyn AsyncIo>,
        start: Instant,
    ) -> Result<(), ConnectError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| ConnectError::Random(error.into()))?;
        self.state
            .machine
            .connect(seed, start)
            .map_err(ConnectError::Handshake)?;
        self.link = Link::Up(Socket::new(stream));
        Ok(())
    }

    /// A dial failed before the upgrade: the core's budget decides what follows.
    fn dial_failed(&mut self, error: ConnectError) {
        let now = self.now();
        self.state.dial_failed(error, now);
    }
}
