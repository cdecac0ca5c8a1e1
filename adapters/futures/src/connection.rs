//! [`Connection`]: the core's [`Client`] driven by the caller's awaits over one byte stream at a
//! time. It reads, writes, keeps one timer and reconnects when the policy says so; every
//! protocol decision is the core's.
//!
//! The driving step ([`Connection::poll_next_event`]) is a poll function whose whole state
//! lives in the connection, which is what makes [`Connection::next_event`] cancel-safe:
//!
//! 1. hand out an event the core already has (and write whatever output it queued);
//! 2. only when it has none, read the stream into the core's buffer (backpressure: a
//!    consumer that stops asking stops the reading);
//! 3. else wait for the core's deadline, or for the backoff of a reconnect.

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
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::session::{Lane, RequestId};
use responses_ws_core::wire::{Input, ResponseCreate, ToolOutput};
use responses_ws_core::ws::{Closed, Header};
use responses_ws_core::Instant;
use responses_ws_tls::TlsConfig;

use crate::runtime::{AsyncIo, Runtime};
use crate::socket::Socket;
use crate::timer::Timer;
use crate::transport::Dialer;
use crate::Config;
use crate::{ConnectError, Error};

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
    reconnect: ReconnectState,
    /// The origin of the core's clock.
    origin: StdInstant,
    /// Events taken while an operation drove the connection for its own purpose (the tool
    /// loop, the upgrade, close), kept for [`next_event`](Self::next_event).
    deferred: VecDeque<ClientEvent>,
    /// The headers of the last `101` answer.
    handshake_headers: Vec<Header>,
    /// An error to report once, after which the events end.
    failure: Option<Error>,
}

/// Where the byte stream stands.
enum Link {
    /// A stream is attached: upgrading, open or closing.
    Up(Socket),
    /// Waiting for the backoff delay before a reconnect attempt.
    Backoff(StdInstant),
    /// A reconnect attempt is opening its stream (TCP, TLS).
    Opening(BoxFuture<'static, Result<Box<dyn AsyncIo>, ConnectError>>),
    /// No stream, and none coming.
    Down,
}

/// What opening a stream needs beyond the core's configuration.
struct Dialing {
    connect_timeout: Duration,
    tls: TlsConfig,
    /// Built from `tls` on the first `wss://` connect.
    connector: Option<TlsConnector>,
}

/// What the reconnect decision looks at.
struct ReconnectState {
    policy: Option<ReconnectPolicy>,
    /// Off while an upgrade is awaited by `connect` and after `close`.
    armed: bool,
    /// Attempts since a connection last opened.
    attempts: u32,
    /// The session asked for a new connection (connection limit, rotation).
    session_asked: bool,
    /// How the last connection ended.
    last_closed: Option<Closed>,
    /// Why the last attempt failed.
    last_failure: Option<ConnectError>,
}

impl Connection {
    /// Connects to the configured URL: TCP (with `TCP_NODELAY`) and TLS for `wss://` within
    /// the connect timeout, then the WebSocket upgrade.
    ///
    /// A refused upgrade is [`ConnectError::Handshake`] with the server's status, headers
    /// and body.
    pub async fn connect(config: Config) -> Result<Connection, ConnectError> {
        let mut connection = Connection::new(config)?;
        connection.reconnect().await?;
        Ok(connection)
    }

    /// Runs the upgrade over a stream the caller opened (a proxy tunnel, an in-memory pipe,
    /// a TLS stream of their own); it is used as it is, so for `wss://` it must already be
    /// secured. The config's URL gives the upgrade's `Host` and path. Reconnects, if the
    /// policy is on, go through the config's runtime to that URL.
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
        connection.upgrade(Box::new(stream)).await?;
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
            reconnect: ReconnectState {
                policy: config.reconnect,
                armed: false,
                attempts: 0,
                session_asked: false,
                last_closed: None,
                last_failure: None,
            },
            origin: StdInstant::now(),
            deferred: VecDeque::new(),
            handshake_headers: Vec::new(),
            failure: None,
        })
    }

    /// Opens a new connection now, as [`connect`](Self::connect) does, and drops the current
    /// one, if any, once the new stream is open (its started requests fail as interrupted).
    /// The session carries every lane on: what was queued or never started goes out on the
    /// new connection, with full context where needed. For use after the events ended, or
    /// without a reconnect policy (with one, this happens by itself).
    pub async fn reconnect(&mut self) -> Result<(), ConnectError> {
        let stream = self.dialer()?.open().await?;
        self.upgrade(stream).await
    }

    /// Attaches `stream` and drives the upgrade to its end.
    async fn upgrade(&mut self, stream: Box<dyn AsyncIo>) -> Result<(), ConnectError> {
        self.reconnect.armed = false;
        self.failure = None;
        self.attach(stream)?;
        loop {
            match poll_fn(|cx| self.poll_drive(cx)).await {
                Some(ClientEvent::Connected { .. }) => {
                    self.reconnect.armed = true;
                    return Ok(());
                }
                Some(ClientEvent::Disconnected { closed }) => {
                    self.link = Link::Down;
                    return Err(ConnectError::from_closed(closed.error));
                }
                Some(event) => self.deferred.push_back(event),
                None => return Err(ConnectError::from_closed(None)),
            }
        }
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

    /// Starts the core's connection over `stream` (the upgrade request is queued).
    fn attach(&mut self, stream: Box<dyn AsyncIo>) -> Result<(), ConnectError> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|error| ConnectError::Random(error.into()))?;
        let now = self.now();
        self.client
            .connect(seed, now)
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
    pub(crate) fn catch_up(&mut self) {
        let now = self.now();
        self.client.handle_timeout(now);
    }

    // --- The API ------------------------------------------------------------------------

    /// Queues a turn on the lane of `request.stream_id` (the default lane when `None`) and
    /// writes it out. `request.input` is the new input only: the session adds
    /// `previous_response_id` or the full context.
    ///
    /// Returns once the request is written (or, while no connection is open, queued for the
    /// next one). If this future is dropped, the request is still queued and goes out with
    /// the next call that drives the connection.
    ///
    /// Like every call that makes the session send, it first tells the core the time: a
    /// connection past [`SessionConfig::rotate_after`](responses_ws_core::session::SessionConfig::rotate_after)
    /// is replaced before the turn goes out.
    pub async fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        self.catch_up();
        let id = self.client.create(request)?;
        self.flush().await;
        Ok(id)
    }

    /// Starts the new named lane of `request.stream_id` from the last response of `from`.
    pub async fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        self.catch_up();
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
        self.client.steer(lane, input)?;
        self.flush().await;
        Ok(())
    }

    /// Closes the connection (code 1000) and waits for the close handshake (or the close
    /// timeout). No reconnect follows. Events that arrive meanwhile stay available to
    /// [`next_event`](Self::next_event), which then ends.
    pub async fn close(&mut self) -> Result<(), Error> {
        self.reconnect.armed = false;
        let now = self.now();
        match &self.link {
            Link::Up(_) if self.client.is_open() => self.client.close(now),
            // Still upgrading: there is nothing to close politely.
            Link::Up(_) => self.client.handle_eof(now),
            _ => {
                self.link = Link::Down;
                return Ok(());
            }
        }
        while let Some(event) = poll_fn(|cx| self.poll_drive(cx)).await {
            self.deferred.push_back(event);
        }
        Ok(())
    }

    /// The next event: session events of every lane, connection changes. `Ok(None)` once
    /// the connection is over and no reconnect follows; [`Error::Reconnect`] when the
    /// reconnect policy gave up.
    ///
    /// With a reconnect policy, a retried ending is reported as
    /// [`ClientEvent::Disconnected`]; the next call waits the backoff (and any
    /// `Retry-After`), reconnects and goes on: its first event is the new
    /// [`ClientEvent::Connected`].
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
        match ready!(self.poll_drive(cx)) {
            Some(event) => Poll::Ready(Ok(Some(event))),
            None => Poll::Ready(self.failure.take().map_or(Ok(None), Err)),
        }
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
    pub(crate) fn poll_drive(&mut self, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
        loop {
            match &mut self.link {
                Link::Up(_) => {
                    if let Some(event) = ready!(self.poll_up(cx)) {
                        self.observe(&event);
                        return Poll::Ready(Some(event));
                    }
                }
                Link::Backoff(until) => {
                    let until = *until;
                    ready!(self.timer.poll_until(&*self.runtime, until, cx));
                    self.start_attempt();
                }
                Link::Opening(open) => {
                    let opened = ready!(open.as_mut().poll(cx));
                    self.link = Link::Down;
                    if let Err(error) = opened.and_then(|stream| self.attach(stream)) {
                        self.attempt_failed(error);
                    }
                }
                Link::Down => return Poll::Ready(None),
            }
        }
    }

    /// One step of an attached stream: `Some` event, or `None` once the stream is gone.
    fn poll_up(&mut self, cx: &mut Context<'_>) -> Poll<Option<ClientEvent>> {
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
                self.after_connection();
                return Poll::Ready(None);
            }
            if !socket.read_closed() && socket.poll_read(&mut self.client, now, cx).is_ready() {
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

    async fn flush(&mut self) {
        poll_fn(|cx| self.poll_flush(cx)).await
    }

    // --- Reconnecting -------------------------------------------------------------------

    /// Notes what the reconnect decision needs from an event.
    fn observe(&mut self, event: &ClientEvent) {
        let state = &mut self.reconnect;
        match event {
            ClientEvent::Connected { headers } => {
                self.handshake_headers = headers.clone();
                state.attempts = 0;
                state.session_asked = false;
                state.last_closed = None;
                state.last_failure = None;
            }
            ClientEvent::Session(event) if ReconnectPolicy::retries_session(event) => {
                state.session_asked = true;
            }
            ClientEvent::Disconnected { closed } => state.last_closed = Some(closed.clone()),
            _ => {}
        }
    }

    /// The stream is closed: reconnect if the policy and the way it ended say so.
    fn after_connection(&mut self) {
        let state = &mut self.reconnect;
        let session_asked = std::mem::take(&mut state.session_asked);
        let Some(policy) = state.policy.as_ref().filter(|_| state.armed) else {
            return;
        };
        let closed = state.last_closed.as_ref();
        let delay = if session_asked {
            policy.delay(state.attempts, jitter())
        } else {
            match closed {
                Some(closed) if ReconnectPolicy::retries(closed) => {
                    policy.delay_after_close(closed, state.attempts, jitter())
                }
                // Not worth another: after a failed attempt (a 401 to a reconnect), that ends
                // the reconnecting with an error; otherwise the events just end.
                Some(closed) if state.attempts > 0 => {
                    let error = ConnectError::from_closed(closed.error.clone());
                    self.give_up(Some(error));
                    return;
                }
                _ => return,
            }
        };
        self.wait_before_attempt(delay);
    }

    /// Waits `delay` before the next attempt, or gives up when the policy has none.
    fn wait_before_attempt(&mut self, delay: Option<Duration>) {
        match delay {
            Some(delay) => {
                self.reconnect.attempts += 1;
                self.link = Link::Backoff(StdInstant::now() + delay);
            }
            None => self.give_up(None),
        }
    }

    /// Stops reconnecting and reports why.
    fn give_up(&mut self, error: Option<ConnectError>) {
        let state = &mut self.reconnect;
        let last = error
            .or_else(|| state.last_failure.take())
            .or_else(|| {
                let closed = state.last_closed.clone()?;
                Some(ConnectError::from_closed(closed.error))
            })
            .unwrap_or_else(|| ConnectError::from_closed(None));
        self.link = Link::Down;
        self.failure = Some(Error::Reconnect {
            attempts: state.attempts,
            last: Box::new(last),
        });
    }

    /// The backoff is over: open a new stream.
    fn start_attempt(&mut self) {
        match self.dialer() {
            Ok(dialer) => self.link = Link::Opening(dialer.open()),
            Err(error) => self.attempt_failed(error),
        }
    }

    /// An attempt failed before the upgrade: wait and try again, as the policy says.
    fn attempt_failed(&mut self, error: ConnectError) {
        self.reconnect.last_failure = Some(error);
        let delay = match &self.reconnect.policy {
            Some(policy) => policy.delay(self.reconnect.attempts, jitter()),
            None => None,
        };
        self.wait_before_attempt(delay);
    }

    /// Keeps events that an operation driving the connection does not want.
    pub(crate) fn defer(&mut self, event: ClientEvent) {
        self.deferred.push_back(event);
    }

    /// Takes the error to report, if reconnecting gave up.
    pub(crate) fn take_failure(&mut self) -> Option<Error> {
        self.failure.take()
    }

    /// The client machine, for the tool loop's calls.
    pub(crate) fn client_mut(&mut self) -> &mut Client {
        &mut self.client
    }

    /// Writes what is queued (see [`create`](Self::create)).
    pub(crate) async fn write_out(&mut self) {
        self.flush().await
    }
}

/// A random number in `0.0..1.0` from the OS for the backoff's jitter (0.5 if the OS fails).
fn jitter() -> f64 {
    getrandom::u64().map_or(0.5, |bits| (bits >> 11) as f64 / (1u64 << 53) as f64)
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let link = match self.link {
            Link::Up(_) => "up",
            Link::Backoff(_) => "backoff",
            Link::Opening(_) => "opening",
            Link::Down => "down",
        };
        f.debug_struct("Connection")
            .field("client", &self.client)
            .field("link", &link)
            .field("runtime", &self.runtime)
            .field("reconnect_attempts", &self.reconnect.attempts)
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
