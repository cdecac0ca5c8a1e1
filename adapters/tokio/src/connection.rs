//! [`Connection`]: one agent's connection to the Responses API over tokio — the core's
//! [`Client`] plus a socket, a small write batch and one timer. This file holds the public
//! calls; the driving loop is in `driver`, the tool loop in `tool_loop`.

mod driver;
mod tool_loop;

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use responses_ws_core::client::{Client, ClientEvent};
use responses_ws_core::session::{Lane, RequestId};
use responses_ws_core::wire::{Input, ResponseCreate, ToolOutput};
use responses_ws_core::ws::Header;

use crate::clock::{Clock, Timer};
use crate::outbound::Outbound;
use crate::transport::Dialer;
use crate::{Config, ConnectError, Error};
use responses_ws_adapter::Credentials;

use driver::Link;

/// A connection to the Responses API WebSocket endpoint, driven by the caller's awaits: no
/// background task, nothing happens between calls.
///
/// - [`next_event`](Self::next_event) (or the [`events`](Self::events) stream) reads the
///   socket, writes what the core queued, and fires the core's timers. It is cancel-safe: a
///   read lands in the core's buffer or not at all, and a write in progress is kept and
///   finished by the next call. The socket is read only when the core has no event to give,
///   so a consumer that stops calling stops the socket (TCP then slows the server down).
/// - [`create`](Self::create), [`submit_tool_output`](Self::submit_tool_output),
///   [`steer`](Self::steer) … tell the core the time, queue frames in the core and write what
///   they can before returning. `create`, `fork` and `steer` first wait (cancel-safe),
///   driving the connection, until the bytes waiting to be written are under
///   `ws.max_outbound_queue`: a sender faster than the socket is slowed down, never
///   buffered without a limit.
/// - Failures are retried within the core's retry budget ([`RetryPolicy`](crate::RetryPolicy),
///   set with [`Config::retry`](responses_ws_adapter::Config::retry)): the events report
///   [`ClientEvent::Reconnecting`] before each new attempt, and [`ClientEvent::GaveUp`] when
///   the budget is spent, after which the events end.
/// - [`run_tool_loop`](Self::run_tool_loop) answers tool calls with an async handler until a
///   final response.
///
/// ```no_run
/// use responses_ws_tokio::{ClientEvent, Config, Connection, ResponseCreate, SessionEvent};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::new("wss://api.openai.com/v1/responses")?.api_key("sk-…");
/// let mut conn = Connection::connect(config).await?;
/// let request = conn
///     .create(ResponseCreate {
///         model: Some("gpt-5.5".into()),
///         input: Some("Say hello.".into()),
///         ..Default::default()
///     })
///     .await?;
/// while let Some(event) = conn.next_event().await? {
///     if let ClientEvent::Session(SessionEvent::Completed { request: done, response, .. }) = event {
///         if done == request {
///             println!("{}", response.all_output_text());
///             break;
///         }
///     }
/// }
/// conn.close().await?;
/// # Ok(())
/// # }
/// ```
pub struct Connection {
    client: Client,
    dialer: Dialer,
    clock: Clock,
    timer: Timer,
    link: Link,
    outbound: Outbound,
    /// Where fresh credentials come from after a 401, if anywhere.
    credentials: Option<Credentials>,
    /// The error of the last failed attempt (a dial or an upgrade), for `connect`'s error.
    last_error: Option<ConnectError>,
    /// Events read while another call than `next_event` drove the connection (the tool loop,
    /// `close`), oldest first; `next_event` returns them first.
    deferred: VecDeque<ClientEvent>,
    /// The headers of the last `101 Switching Protocols`.
    headers: Vec<Header>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("client", &self.client)
            .field("dialer", &self.dialer)
            .field("link", &self.link)
            .field("outbound", &self.outbound)
            .field("last_error", &self.last_error)
            .field("deferred", &self.deferred.len())
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Connects: TCP (and TLS for `wss://`) and the WebSocket upgrade, within the connect
    /// timeout, retried within the retry budget. When the budget is spent (or a failure is
    /// final, such as a 401 without a [credentials source](responses_ws_adapter::Config::credentials)),
    /// fails with [`ConnectError::GaveUp`], which carries the attempts and the last
    /// attempt's error (a refused upgrade keeps the server's status, headers and body).
    pub async fn connect(config: Config) -> Result<Connection, ConnectError> {
        let config = config.into_parts();
        let dialer = Dialer::new(&config)?;
        let mut conn = Connection {
            client: Client::new(config.client),
            dialer,
            clock: Clock::new(),
            timer: Timer::new(),
            link: Link::Down,
            outbound: Outbound::default(),
            credentials: config.credentials,
            last_error: None,
            deferred: VecDeque::new(),
            headers: Vec::new(),
        };
        conn.dial_at(conn.clock.now());
        conn.establish().await?;
        Ok(conn)
    }

    /// Opens a new connection now, as [`connect`](Self::connect) does (with a fresh retry
    /// budget), and drops the current one, if any (its started requests fail as
    /// interrupted). The session carries every lane on: what was queued or never started
    /// goes out on the new connection, with full context where needed. For use after the
    /// events ended (the application closed, or retrying gave up).
    pub async fn reconnect(&mut self) -> Result<(), ConnectError> {
        // Bytes of the old connection have nowhere to go.
        self.outbound.clear();
        self.dial_at(self.clock.now());
        self.establish().await
    }

    /// Drives the connection until an upgrade succeeds or the retry budget is spent. Session
    /// events that arrive meanwhile are kept for `next_event`; the reports of failed
    /// attempts are summed up by the error.
    async fn establish(&mut self) -> Result<(), ConnectError> {
        self.last_error = None;
        loop {
            let event = poll_fn(|cx| self.poll_core(cx, false)).await.ok().flatten();
            match event {
                Some(ClientEvent::Connected { .. }) => return Ok(()),
                Some(ClientEvent::GaveUp(gave_up)) => {
                    let last = self.last_error.take().unwrap_or(ConnectError::Closed(
                        responses_ws_core::ws::Error::ConnectionLost,
                    ));
                    return Err(ConnectError::GaveUp {
                        attempts: gave_up.attempts,
                        last: Box::new(last),
                    });
                }
                Some(event @ ClientEvent::Session(_)) => self.deferred.push_back(event),
                Some(_) => {}
                None => {
                    let last = self.last_error.take();
                    return Err(last.unwrap_or(ConnectError::Closed(
                        responses_ws_core::ws::Error::ConnectionLost,
                    )));
                }
            }
        }
    }

    /// Queues a turn on the lane of `request.stream_id` (the default lane when `None`) and
    /// writes it out. `request.input` is the new input only: the session adds
    /// `previous_response_id` or the full context. Its events come from
    /// [`next_event`](Self::next_event) with the returned id.
    ///
    /// Waits first (cancel-safe) while the outbound queue is full. If the call is cancelled
    /// after the request was queued, it is still sent by the next calls.
    pub async fn create(&mut self, request: ResponseCreate) -> Result<RequestId, Error> {
        self.catch_up();
        self.room().await?;
        let id = self.client.create(request)?;
        self.flush().await?;
        Ok(id)
    }

    /// Starts lane `request.stream_id` (named and new) from the last response of lane `from`
    /// (see [`Session::fork`](responses_ws_core::session::Session::fork)).
    pub async fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<RequestId, Error> {
        self.catch_up();
        self.room().await?;
        let id = self.client.fork(from, request)?;
        self.flush().await?;
        Ok(id)
    }

    /// Answers the tool call `call_id` of the lane's last response; when every call of that
    /// response has its answer, the continuation goes out.
    pub async fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        self.catch_up();
        self.client.submit_tool_output(lane, call_id, output)?;
        self.flush().await?;
        Ok(())
    }

    /// Approves or refuses the MCP approval request `request_id` of the lane's last response.
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
        self.flush().await?;
        Ok(())
    }

    /// Steers the lane's running response with more user input (`response.steer`).
    pub async fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Error> {
        self.catch_up();
        self.room().await?;
        self.client.steer(lane, input)?;
        self.flush().await?;
        Ok(())
    }

    /// Tells the core what time it is before an API call: the session decides (connection
    /// age, rotation) on the time it last saw, and nothing may have polled the connection
    /// for a while.
    fn catch_up(&mut self) {
        self.client.handle_timeout(self.clock.now());
    }

    /// The next event: session events (stream deltas, completions, tool calls …),
    /// `Connected` after a reconnect, `Disconnected` when a connection ends. `None` once the
    /// connection is over (closed, or dropped without a reconnect) and every event was taken.
    ///
    /// Cancel-safe. Retrying is reported here: [`ClientEvent::Reconnecting`] before another
    /// attempt, [`ClientEvent::GaveUp`] (then `None`) when the retry budget is spent.
    pub async fn next_event(&mut self) -> Result<Option<ClientEvent>, Error> {
        poll_fn(|cx| self.poll_next_event(cx)).await
    }

    /// The events as a [`Stream`] (what [`next_event`](Self::next_event) returns, ending
    /// where it returns `None`). Cancel-safe in the same way.
    ///
    /// ```no_run
    /// use futures_util::StreamExt;
    /// # async fn demo(conn: &mut responses_ws_tokio::Connection) -> Result<(), responses_ws_tokio::Error> {
    /// let mut events = conn.events();
    /// while let Some(event) = events.next().await {
    ///     println!("{:?}", event?);
    /// }
    /// # Ok(())
    /// # }
    /// ```
    pub fn events(&mut self) -> Events<'_> {
        Events { conn: self }
    }

    /// Closes: the close handshake (code 1000) of the current connection, within the core's
    /// close timeout; no reconnect follows. Events that arrive meanwhile are kept for
    /// [`next_event`](Self::next_event).
    pub async fn close(&mut self) -> Result<(), Error> {
        let upgrading = !self.client.is_open() && !self.client.is_finished();
        self.client.close(self.clock.now());
        if upgrading {
            // Still upgrading (a reconnect): abandon the connection.
            self.lose_link();
        }
        if matches!(self.link, Link::Dialing { .. }) {
            self.link = Link::Down;
        }
        while let Some(event) = poll_fn(|cx| self.poll_core(cx, false)).await? {
            self.deferred.push_back(event);
        }
        Ok(())
    }

    /// The core's client: the session and its ledger (saveable with serde), pending tool
    /// calls, byte counts.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Whether the WebSocket is open (upgraded and not closing).
    pub fn is_open(&self) -> bool {
        matches!(self.link, Link::Open(_)) && self.client.is_open()
    }

    /// The headers of the server's last `101 Switching Protocols` answer.
    pub fn handshake_headers(&self) -> &[Header] {
        &self.headers
    }

    /// The poll form of [`next_event`](Self::next_event).
    pub fn poll_next_event(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<ClientEvent>, Error>> {
        match self.deferred.pop_front() {
            Some(event) => Poll::Ready(Ok(Some(event))),
            None => self.poll_core(cx, false),
        }
    }
}

/// The events of a [`Connection`] as a [`Stream`] (see [`Connection::events`]).
#[derive(Debug)]
pub struct Events<'a> {
    conn: &'a mut Connection,
}

impl Stream for Events<'_> {
    type Item = Result<ClientEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut()
            .conn
            .poll_next_event(cx)
            .map(Result::transpose)
    }
}
