//! [`Connection`]: the core's [`Client`] driven by the caller's awaits over one byte stream at a
//! time. It reads, writes, keeps one timer and dials again when the core's retry budget says
//! so (`Client::next_dial`); every protocol decision is the core's.
//!
//! The driving step ([`Connection::poll_next_event`]) is a poll function whose whole state
//! lives in the connection, which is what makes [`Connection::next_event`] cancel-safe:
//!
//! 1. hand out an event the core already has (and write whatever output it queued);
//! 2. only when it has none, read the stream into the core's buffer (backpressure: a
//!    consumer that stops asking stops the reading);
//! 3. else wait for the core's deadline, or for the time of the next dial.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant as StdInstant};

use futures_core::future::BoxFuture;
use futures_core::Stream;
use futures_rustls::TlsConnector;
use responses_ws_core::client::{Client, ClientEvent};
use responses_ws_core::session::{Lane, RequestId, ToolCall};
use responses_ws_core::tool_loop::{Calls, ToolLoop};
use responses_ws_core::wire::{Input, ResponseCreate, ToolOutput};
use responses_ws_core::ws::{self, Header};
use responses_ws_core::Instant;
use responses_ws_tls::TlsConfig;

use crate::runtime::{AsyncIo, Runtime};
use crate::socket::Socket;
use crate::timer::Timer;
use crate::transport::Dialer;
use crate::Config;
use crate::{ConnectError, Error, MAX_SET_ASIDE_EVENTS};
use responses_ws_adapter::Credentials;

/// A Responses WebSocket connection (and the session that outlives its reconnections),
/// driven by the caller: nothing runs in the background, every await moves it on.
///
/// ```no_run
/// use responses_ws_futures::{ClientEvent, Config, Connection, ResponseCreate, SessionEvent};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::new("wss://api.openai.com/v1/responses")?.api_key("sk-…");
/// let mut conn = Connection::connect(config).await?;
/// conn.create(ResponseCreate {
///     model: Some("gpt-5.5".into()),
///     input: Some("Say hello.".into()),
///     ..Default::default()
/// })
/// .await?;
/// while let Some(event) = conn.next_event().await? {
///     if let ClientEvent::Session(SessionEvent::Completed { response, .. }) = event {
///         println!("{}", response.all_output_text());
///         break;
///     }
/// }
/// conn.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct Connection {
    client: Client,
    link: Link,
    timer: Timer,
    runtime: Arc<dyn Runtime>,
    dialing: Dialing,
    /// Where fresh credentials come from after a 401, if anywhere.
    credentials: Option<Credentials>,
    /// The error of the last failed attempt (a dial or an upgrade), for `connect`'s error.
    last_error: Option<ConnectError>,
    /// The origin of the core's clock.
    origin: StdInstant,
    /// Events taken while an operation drove the connection for its own purpose (the tool
    /// loop, the upgrade, close), kept for [`next_event`](Self::next_event).
    deferred: VecDeque<ClientEvent>,
    /// The headers of the last `101` answer.
    handshake_headers: Vec<Header>,
}

/// Where the byte stream stands.
enum Link {
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

/// What opening a stream needs beyond the core's configuration.
struct Dialing {
    connect_timeout: Duration,
    tls: TlsConfig,
    /// Built from `tls` on the first `wss://` connect.
    connector: Option<TlsConnector>,
}

impl Connection {
    /// Connects to the configured URL: TCP (with `TCP_NODELAY`) and TLS for `wss://`, then
    /// the WebSocket upgrade, all within the connect timeout, retried within the retry budget
    /// ([`Config::retry`](responses_ws_adapter::Config::retry)).
    ///
    /// When the budget is spent, or a failure is final (a 401 without a
    /// [credentials source](responses_ws_adapter::Config::credentials)), fails with
    /// [`ConnectError::GaveUp`]: the attempts, and the last attempt's error (a refused upgrade
    /// keeps the server's status, headers and body).
    pub async fn connect(config: Config) -> Result<Connection, ConnectError> {
        let mut connection = Connection::new(config)?;
        connection.reconnect().await?;
        Ok(connection)
    }

    /// Runs the upgrade over a stream the caller opened (a proxy tunnel, an in-memory pipe,
    /// a TLS stream of their own); it is used as it is, so for `wss://` it must already be
    /// secured. The config's URL gives the upgrade's `Host` and path. Retries (after this
    /// first upgrade failed, or a later connection ended) dial that URL through the config's
    /// runtime.
    ///
    /// ```no_run
    /// use responses_ws_futures::{Config, Connection};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let tcp = smol::net::TcpStream::connect("127.0.0.1:8080").await?;
    /// let config = Config::new("ws://127.0.0.1:8080/v1/responses")?;
    /// let conn = Connection::from_stream(tcp, config).await?;
    /// # let _ = conn;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn from_stream<S: AsyncIo + 'static>(
        stream: S,
        config: Config,
    ) -> Result<Connection, ConnectError> {
        let mut connection = Connection::new(config)?;
        let now = connection.now();
        connection.attach(Box::new(stream), now)?;
        connection.establish().await?;
        Ok(connection)
    }

    fn new(config: Config) -> Result<Connection, ConnectError> {
        let config = config.into_parts();
        let runtime = config.extra.0.ok_or(ConnectError::NoRuntime)?;
        Ok(Connection {
            client: Client::new(config.client),
            link: Link::Down,
            timer: Timer::default(),
            runtime,
            dialing: Dialing {
                connect_timeout: config.connect_timeout,
                tls: config.tls,
                connector: None,
            },
            credentials: config.credentials,
            last_error: None,
            origin: StdInstant::now(),
            deferred: VecDeque::new(),
            handshake_headers: Vec::new(),
        })
    }

    /// Opens a new connection now, as [`connect`](Self::connect) does (with a fresh retry
    /// budget), and drops the current one, if any (its started requests fail as
    /// interrupted). The session carries every lane on: what was queued or never started
    /// goes out on the new connection, with full context where needed. For use after the
    /// events ended (the application closed, or retrying gave up).
    pub async fn reconnect(&mut self) -> Result<(), ConnectError> {
        let start = self.now();
        self.link = Link::Opening {
            future: self.dialer()?.open(),
            start,
        };
        self.establish().await
    }

    /// Drives the connection until an upgrade succeeds or the retry budget is spent. Session
    /// events that arrive meanwhile are kept for `next_event`; the reports of failed
    /// attempts are summed up by the error.
    async fn establish(&mut self) -> Result<(), ConnectError> {
        self.last_error = None;
        loop {
            match poll_fn(|cx| self.poll_drive(cx, false)).await {
                Some(ClientEvent::Connected { .. }) => return Ok(()),
                Some(ClientEvent::GaveUp(gave_up)) => {
                    return Err(ConnectError::GaveUp {
                        attempts: gave_up.attempts,
                        last: Box::new(self.take_last_error()),
                    })
                }
                Some(event @ ClientEvent::Session(_)) => self.deferred.push_back(event),
                Some(_) => {}
                None => return Err(self.take_last_error()),
            }
        }
    }

    /// The error of the last failed attempt (a lost connection if none was recorded).
    fn take_last_error(&mut self) -> ConnectError {
        self.last_error
            .take()
            .unwrap_or(ConnectError::Closed(ws::Error::ConnectionLost))
    }

    fn dialer(&mut self) -> Result<Dialer, ConnectError> {
        Dialer::new(
            Arc::clone(&self.runtime),
            &self.client.config().url,
            &self.dialing.tls,
            &mut self.dialing.connector,
            self.dialing.connect_timeout,
        )
    }

    /// Starts the core's connection over `stream` (the upgrade request is queued); its
    /// connect timeout counts from `start`, when the dial began.
    fn attach(&mut self, stream: Box<dyn AsyncIo>, start: Instant) -> Result<(), ConnectError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| ConnectError::Random(error.into()))?;
        self.client
            .connect(seed, start)
            .map_err(ConnectError::Handshake)?;
        self.link = Link::Up(Socket::new(stream));
        Ok(())
    }

    /// The core's clock: time since this connection was made.
    fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// Tells the core what time it is before an API call: the session decides (connection
    /// age, rotation) on the time it last saw, and nothing may have polled the connection
    /// for a while.
    fn catch_up(&mut self) {
        let now = self.now();
        self.client.handle_timeout(now);
    }

    // --- The API ------------------------------------------------------------------------

    /// Queues a turn on the lane of `request.stream_id` (the default lane when `None`) and
    /// writes it out. `request.input` is the new input only: the session adds
    /// `previous_response_id` or the full context.
    ///
    /// Waits first (cancel-safe) while the bytes waiting to be written are over
    /// `ws.max_outbound_queue`: a sender faster than the socket is slowed down, never
    /// buffered without a limit. Returns once the request is written (or, while no
    /// connection is open, queued for the next one). If this future is dropped after the
    /// request was queued, it still goes out with the next call that drives the connection.
    ///
    /// Like every call that makes the session send, it first tells the core the time: a
    /// connection past [`SessionConfig::rotate_after`](responses_ws_core::session::SessionConfig::rotate_after)
    /// is replaced before the turn goes out.
    pub async fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        self.catch_up();
        self.room().await;
        let id = self.client.create(request)?;
        self.flush().await;
        Ok(id)
    }

    /// Starts the new named lane of `request.stream_id` from the last response of `from`.
    pub async fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        self.catch_up();
        self.room().await;
        let id = self.client.fork(from, request)?;
        self.flush().await;
        Ok(id)
    }

    /// Answers tool call `call_id` of the lane's last response; the last answer sends the
    /// continuation by itself.
    pub async fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        self.catch_up();
        self.client.submit_tool_output(lane, call_id, output)?;
        self.flush().await;
        Ok(())
    }

    /// Approves or refuses an MCP approval request of the lane's last response.
    pub async fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        self.catch_up();
        self.client
            .submit_approval(lane, request_id, approve, reason)?;
        self.flush().await;
        Ok(())
    }

    /// Steers the lane's running response with more input (`response.steer`).
    pub async fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        self.catch_up();
        self.room().await;
        self.client.steer(lane, input)?;
        self.flush().await;
        Ok(())
    }

    /// Closes the connection (code 1000) and waits for the close handshake (or the close
    /// timeout). No reconnect follows. Events that arrive meanwhile stay available to
    /// [`next_event`](Self::next_event), which then ends.
    pub async fn close(&mut self) -> Result<(), Error> {
        let now = self.now();
        let upgrading = !self.client.is_open() && !self.client.is_finished();
        self.client.close(now);
        if upgrading {
            // Still upgrading: there is nothing to close politely.
            self.client.handle_eof(now);
        }
        if !matches!(self.link, Link::Up(_)) {
            self.link = Link::Down;
        }
        while let Some(event) = poll_fn(|cx| self.poll_drive(cx, false)).await {
            self.deferred.push_back(event);
        }
        Ok(())
    }

    /// The next event: session events of every lane, connection changes. `Ok(None)` once
    /// the connection is over, no new one follows and every event was taken.
    ///
    /// Retrying is reported here: a failed connection is [`ClientEvent::Disconnected`],
    /// then [`ClientEvent::Reconnecting`] with the delay the retry budget chose (honouring
    /// `Retry-After`); the next calls wait it, dial and go on, the new connection's first
    /// event being [`ClientEvent::Connected`]. When the budget is spent the last event is
    /// [`ClientEvent::GaveUp`] (the requests that were waiting end with
    /// [`RequestError::GaveUp`](responses_ws_core::session::RequestError::GaveUp)).
    ///
    /// Cancel-safe: a read lands in the core's buffer or not at all, and a write in progress
    /// is kept and finished by the next call, so dropping this future (in a `select!`, on a
    /// timeout) loses nothing.
    pub async fn next_event(&mut self) -> Result<Option<ClientEvent>, Error> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The events as a [`Stream`] of `Result`s; it ends where
    /// [`next_event`](Self::next_event) returns `None`. Cancel-safe in the same way.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn demo(conn: &mut responses_ws_futures::Connection) -> Result<(), responses_ws_futures::Error> {
    /// let mut events = conn.events();
    /// while let Some(event) = events.next().await {
    ///     println!("{:?}", event?);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&mut self) -> Events<'_> {
        Events { connection: self }
    }

    /// The poll form of [`next_event`](Self::next_event).
    pub fn poll_next_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<ClientEvent>, Error>> {
        if let Some(event) = self.deferred.pop_front() {
            return Poll::Ready(Ok(Some(event)));
        }
        self.poll_drive(cx, false).map(Ok)
    }

    /// The client machine: its session (ledger, pending tool calls), configuration, byte
    /// counts.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the upgrade is done and the connection open.
    pub fn is_open(&self) -> bool {
        matches!(self.link, Link::Up(_)) && self.client.is_open()
    }

    /// The headers of the server's last `101 Switching Protocols` answer.
    pub fn handshake_headers(&self) -> &[Header] {
        &self.handshake_headers
    }

    // --- Driving ------------------------------------------------------------------------

    /// Moves the connection on until it has an event (`None` once it is down for good).
    /// Events taken here are not kept: callers that drive for their own purpose keep the
    /// ones they do not want in `deferred`.
    ///
    /// `holding`: the caller cannot hand events on (it waits for room) and sets them aside;
    /// past [`MAX_SET_ASIDE_EVENTS`] set aside, the stream is not read (writes and the core's
    /// deadlines go on, so the wait still ends).
    pub(crate) fn poll_drive(
        &mut self,
        cx: &mut Context<'_>,
        holding: bool,
    ) -> Poll<Option<ClientEvent>> {
        loop {
            match &mut self.link {
                Link::Up(_) => {
                    if let Some(event) = ready!(self.poll_up(cx, holding)) {
                        self.observe(&event);
                        return Poll::Ready(Some(event));
                    }
                }
                Link::Backoff(at) => {
                    let at = *at;
                    ready!(self
                        .timer
                        .poll_until(&*self.runtime, self.origin + at.elapsed(), cx));
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
                    if let Some(event) = self.client.poll_event() {
                        self.observe(&event);
                        return Poll::Ready(Some(event));
                    }
                    match self.client.next_dial() {
                        Some(at) => self.link = Link::Backoff(at),
                        None => return Poll::Ready(None),
                    }
                }
            }
        }
    }

    /// One step of an attached stream: `Some` event, or `None` once the stream is gone.
    fn poll_up(&mut self, cx: &mut Context<'_>, holding: bool) -> Poll<Option<ClientEvent>> {
        let origin = self.origin;
        let now = move || Instant::from_elapsed(origin.elapsed());
        let Link::Up(socket) = &mut self.link else {
            return Poll::Ready(None);
        };
        loop {
            let event = self.client.poll_event();
            // Output the event queued (a pong, a close echo) goes out before it is handed on,
            // as far as the stream takes it without waiting.
            let written = socket.poll_write_all(&mut self.client, cx);
            if let Poll::Ready(Err(_)) = written {
                self.client.handle_eof(now());
            }
            if let Some(event) = event {
                if matches!(event, ClientEvent::Disconnected { .. }) {
                    socket.mark_ended();
                }
                return Poll::Ready(Some(event));
            }
            if matches!(written, Poll::Ready(Err(_))) {
                continue;
            }
            // Over: close the stream, giving up on a last write the peer does not take.
            if self.client.is_finished() || (socket.ended() && written.is_pending()) {
                let _ = socket.poll_shutdown(cx);
                self.link = Link::Down;
                return Poll::Ready(None);
            }
            let paused = holding && self.deferred.len() >= MAX_SET_ASIDE_EVENTS;
            if !socket.read_closed()
                && !paused
                && socket.poll_read(&mut self.client, now, cx).is_ready()
            {
                continue;
            }
            match self.client.poll_timeout() {
                Some(deadline) => {
                    let at = origin + deadline.elapsed();
                    ready!(self.timer.poll_until(&*self.runtime, at, cx));
                    self.client.handle_timeout(now());
                }
                None => return Poll::Pending,
            }
        }
    }

    /// Writes what the core has queued, waiting while the stream is full (bounded by the
    /// core's deadlines: keepalive and pong timeouts end a connection that takes nothing).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let origin = self.origin;
        let now = move || Instant::from_elapsed(origin.elapsed());
        loop {
            let Link::Up(socket) = &mut self.link else {
                return Poll::Ready(());
            };
            match socket.poll_write_all(&mut self.client, cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(()),
                Poll::Ready(Err(_)) => {
                    self.client.handle_eof(now());
                    return Poll::Ready(());
                }
                Poll::Pending => {}
            }
            // Upgrading or closing: `next_event` takes it from here.
            if !self.client.is_open() {
                return Poll::Ready(());
            }
            let Some(deadline) = self.client.poll_timeout() else {
                return Poll::Pending;
            };
            ready!(self
                .timer
                .poll_until(&*self.runtime, origin + deadline.elapsed(), cx));
            self.client.handle_timeout(now());
        }
    }

    /// Writes everything queued (see [`create`](Self::create)).
    async fn flush(&mut self) {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Waits (cancel-safe) until the core's outbound queue has room for another request,
    /// driving the connection meanwhile — writing, firing timers, reconnecting — and keeping
    /// its events for `next_event`. Ends early only when the connection is over for good
    /// (the core then refuses the call itself).
    async fn room(&mut self) {
        poll_fn(|cx| loop {
            if self.client.has_room() {
                return Poll::Ready(());
            }
            match self.poll_drive(cx, true) {
                Poll::Ready(Some(event)) => self.deferred.push_back(event),
                Poll::Ready(None) => return Poll::Ready(()),
                // Woken by the stream or the timer: the next look may find room.
                Poll::Pending if self.client.has_room() => return Poll::Ready(()),
                Poll::Pending => return Poll::Pending,
            }
        })
        .await
    }

    // --- Retrying -----------------------------------------------------------------------

    /// Bookkeeping on an event going to the application: the last upgrade headers, the
    /// last error of an attempt, fresh credentials when the core asks for them.
    fn observe(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { headers } => {
                self.handshake_headers.clone_from(headers);
                self.last_error = None;
            }
            ClientEvent::Disconnected { closed } if closed.error.is_some() => {
                self.last_error = Some(ConnectError::from_closed(closed.error.clone()));
            }
            ClientEvent::Reconnecting {
                refresh_credentials: true,
                ..
            } => {
                if let Some(key) = self.credentials.as_ref().and_then(Credentials::fetch) {
                    self.client.set_api_key(&key);
                }
            }
            _ => {}
        }
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

    /// A dial failed before the upgrade: the core's budget decides what follows
    /// (`Reconnecting` or `GaveUp`).
    fn dial_failed(&mut self, error: ConnectError) {
        let failure = error.failure();
        self.last_error = Some(error);
        let now = self.now();
        self.client.dial_failed(failure, now);
    }

    /// Keeps events that an operation driving the connection does not want.
    pub(crate) fn defer(&mut self, event: ClientEvent) {
        self.deferred.push_back(event);
    }

    /// Hands the tool loop's outputs to the core (see [`ToolLoop::submit`]) and writes them
    /// out; the approval requests left to the application come back.
    pub(crate) async fn submit_outputs<O: Into<ToolOutput>>(
        &mut self,
        tool_loop: &mut ToolLoop,
        calls: Calls,
        outputs: Vec<O>,
    ) -> Result<Vec<ToolCall>, Error> {
        let now = self.now();
        let approvals = tool_loop.submit(&mut self.client, now, calls, outputs)?;
        self.flush().await;
        Ok(approvals)
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = match self.link {
            Link::Up(_) => "up",
            Link::Backoff(_) => "backoff",
            Link::Opening { .. } => "opening",
            Link::Down => "down",
        };
        f.debug_struct("Connection")
            .field("client", &self.client)
            .field("link", &link)
            .field("runtime", &self.runtime)
            .field("failures", &self.client.failures())
            .field("deferred", &self.deferred.len())
            .finish_non_exhaustive()
    }
}

/// The events of a [`Connection`] as a [`Stream`] (see [`Connection::events`]).
#[derive(Debug)]
pub struct Events<'a> {
    connection: &'a mut Connection,
}

impl Stream for Events<'_> {
    type Item = Result<ClientEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .connection
            .poll_next_event(cx)
            .map(Result::transpose)
    }
}
