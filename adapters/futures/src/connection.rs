//! [`Connection`]: the core's [`Client`](responses_ws_core::client::Client) driven by the caller's awaits over one byte stream at a
//! time. It reads, writes, keeps one timer and dials again when the core's retry budget says
//! so (`Client::next_dial`); every protocol decision is the core's. This file holds the public
//! calls; the driving loop and the waits are in `driver`, the tool loop in `tool_loop`.
//!
//! The driving step ([`Connection::poll_next_event`]) is a poll function whose whole state
//! lives in the connection, which is what makes [`Connection::next_event`] cancel-safe:
//!
//! 1. hand out an event the core already has (and write whatever output it queued);
//! 2. only when it has none, read the stream into the core's buffer (backpressure: a
//!    consumer that stops asking stops the reading);
//! 3. else wait for the core's deadline, or for the time of the next dial.

mod driver;
mod durable;
mod tool_loop;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use futures_rustls::TlsConnector;
use responses_ws_core::client::ClientEvent;
use responses_ws_core::http_client::Transport;
use responses_ws_core::session::{Lane, RequestId};

use responses_ws_core::wire::{Input, Item, ResponseCreate, ToolOutput};
use responses_ws_core::ws::WsUrl;
use responses_ws_core::Instant;
use responses_ws_tls::TlsConfig;

use crate::http::HttpSockets;
use crate::runtime::{AsyncIo, Clock, Runtime};
use crate::timer::Timer;
use crate::transport::Dialer;
use crate::Config;
use crate::{ConnectError, Error};
use responses_ws_adapter::ConnectionState;

use driver::Link;

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
    /// The session, the attempts' memory, the store, the trace, the events set aside
    /// (events taken while an operation drove the connection for its own purpose: the tool
    /// loop, the upgrade, close, waits for room).
    state: ConnectionState,
    /// The WebSocket byte stream's state (down while on HTTP).
    link: Link,
    /// The HTTP sockets, while on HTTP.
    http: HttpSockets,
    timer: Timer,
    runtime: Arc<dyn Runtime>,
    dialing: Dialing,
    /// The core's clock, on the runtime's.
    clock: Clock,
}

/// What opening a stream needs beyond the core's configuration.
pub(crate) struct Dialing {
    connect_timeout: Duration,
    tls: TlsConfig,
    /// Built from `tls` on the first `wss://` connect.
    connector: Option<TlsConnector>,
}

impl Dialing {
    /// A dialer to `url` on `runtime` (for `wss://`, the TLS connector built once).
    pub(crate) fn dialer(
        &mut self,
        runtime: &Arc<dyn Runtime>,
        url: &WsUrl,
    ) -> Result<Dialer, ConnectError> {
        Dialer::new(
            Arc::clone(runtime),
            url,
            &self.tls,
            &mut self.connector,
            self.connect_timeout,
        )
    }
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
        // An upgrade over the caller's stream is WebSocket mode by definition.
        let mut connection = Connection::new(config.transport(Transport::WebSocket))?;
        let now = connection.now();
        connection.attach(Box::new(stream), now)?;
        connection.establish().await?;
        Ok(connection)
    }

    fn new(config: Config) -> Result<Connection, ConnectError> {
        let (state, sockets) = ConnectionState::new(config.into_parts());
        let runtime = sockets.extra.resolve().ok_or(ConnectError::NoRuntime)?;
        Ok(Connection {
            state,
            link: Link::Down,
            http: HttpSockets::default(),
            timer: Timer::default(),
            clock: Clock::new(Arc::clone(&runtime)),
            runtime,
            dialing: Dialing {
                connect_timeout: sockets.connect_timeout,
                tls: sockets.tls,
                connector: None,
            },
        })
    }

    /// Opens a new connection now, as [`connect`](Self::connect) does (with a fresh retry
    /// budget), and drops the current one, if any (its started requests fail as
    /// interrupted). The session carries every lane on: what was queued or never started
    /// goes out on the new connection, with full context where needed. For use after the
    /// events ended (the application closed, or retrying gave up). Over HTTP + SSE there is
    /// nothing to open ahead: requests go out again on sockets of their own.
    pub async fn reconnect(&mut self) -> Result<(), ConnectError> {
        if self.state.machine.transport() == Transport::Http {
            self.state.machine.reopen(self.now());
            return Ok(());
        }
        self.dial_now()?;
        self.establish().await
    }

    /// Drives the connection until an upgrade succeeds or the retry budget is spent. Session
    /// events that arrive meanwhile are kept for `next_event`; the reports of failed
    /// attempts are summed up by the error.
    async fn establish(&mut self) -> Result<(), ConnectError> {
        self.state.restart_attempts();
        loop {
            let event = poll_fn(|cx| self.poll_drive(cx, false)).await;
            if let Some(result) = self.state.establishing(event) {
                return result;
            }
        }
    }

    /// The core's clock: time since this connection was made.
    fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Tells the core what time it is before an API call: the session decides (connection
    /// age, rotation) on the time it last saw, and nothing may have polled the connection
    /// for a while.
    fn catch_up(&mut self) {
        let now = self.now();
        self.state.machine.handle_timeout(now);
    }

    /// A call of the API that makes the session send: the time first, room in the outbound
    /// queue if `needs_room` (the calls that add a request), then `call`, and what it queued
    /// written before it returns (the store's failure, if any, is its error).
    async fn send<T>(
        &mut self,
        needs_room: bool,
        call: impl FnOnce(&mut ConnectionState) -> Result<T, Error>,
    ) -> Result<T, Error> {
        self.catch_up();
        if needs_room {
            self.room().await;
        }
        let value = call(&mut self.state)?;
        self.flush().await;
        self.state.store_result()?;
        Ok(value)
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
        self.send(true, |state| state.create(request)).await
    }

    /// Starts the new named lane of `request.stream_id` from the last response of `from`.
    pub async fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        self.send(true, |state| state.fork(from, request)).await
    }

    /// Answers tool call `call_id` of the lane's last response; the last answer sends the
    /// continuation by itself.
    pub async fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        self.send(false, |state| {
            Ok(state.machine.submit_tool_output(lane, call_id, output)?)
        })
        .await
    }

    /// Approves or refuses an MCP approval request of the lane's last response.
    pub async fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        self.send(false, |state| {
            Ok((state.machine).submit_approval(lane, request_id, approve, reason)?)
        })
        .await
    }

    /// Steers the lane's running response with more input (`response.steer`). WebSocket
    /// mode only: over HTTP + SSE it fails with [`Error::WebSocketOnly`], the input handed
    /// back.
    pub async fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        self.send(true, |state| state.machine.steer(lane, input))
            .await
    }

    /// Commits `input` (outputs of client-owned tool calls) into the lane's running response
    /// (`response.inject`, multi-agent beta: the upgrade needs the header
    /// `OpenAI-Beta: responses_multi_agent=v1`). The verdict arrives as
    /// `SessionEvent::InjectAccepted` or `SessionEvent::InjectFailed`; see
    /// [`Session::inject`](responses_ws_core::session::Session::inject). WebSocket mode
    /// only, as [`steer`](Self::steer).
    pub async fn inject(&mut self, lane: &Lane, input: Vec<Item>) -> Result<(), Error> {
        self.send(false, |state| state.machine.inject(lane, input))
            .await
    }

    /// Closes the connection (code 1000) and waits for the close handshake (or the close
    /// timeout). No reconnect follows. Events that arrive meanwhile stay available to
    /// [`next_event`](Self::next_event), which then ends.
    pub async fn close(&mut self) -> Result<(), Error> {
        let now = self.now();
        match self.state.machine.client_mut() {
            Some(client) => {
                let upgrading = !client.is_open() && !client.is_finished();
                client.close(now);
                if upgrading {
                    // Still upgrading: there is nothing to close politely.
                    client.handle_eof(now);
                }
            }
            // HTTP + SSE: every socket closes; requests in flight end as interrupted.
            None => self.state.machine.close(now),
        }
        if !matches!(self.link, Link::Up(_)) {
            self.link = Link::Down;
        }
        while let Some(event) = poll_fn(|cx| self.poll_drive(cx, false)).await {
            self.state.set_aside(event);
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
        if let Some(event) = self.state.take_set_aside()? {
            return Poll::Ready(Ok(Some(event)));
        }
        match self.poll_drive(cx, false) {
            Poll::Ready(event) => Poll::Ready(self.state.unless_store_failed(event)),
            Poll::Pending => {
                self.state.store_result()?;
                Poll::Pending
            }
        }
    }

    responses_ws_adapter::connection_accessors!(state);

    /// Whether the conversation can send: the WebSocket upgrade done and the connection
    /// open, or HTTP + SSE and not closed.
    pub fn is_open(&self) -> bool {
        self.state.is_open(matches!(self.link, Link::Up(_)))
    }
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state)
            .field("link", &self.link.state())
            .field("http", &self.http)
            .field("runtime", &self.runtime)
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
