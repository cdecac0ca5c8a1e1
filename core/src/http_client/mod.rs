//! [`HttpClient`]: the HTTP + SSE transport of a [`Session`], sans-IO. Each request the
//! session sends becomes an [`Exchange`] (`POST /v1/responses` with `stream: true`) on a
//! socket of its own — an idle kept-alive one when there is one, a new one otherwise — so that
//! lanes run as concurrent requests, one exchange per lane at a time. It owns the transport's
//! decisions: which socket carries what, which lane an event belongs to (HTTP events name no
//! `stream_id`), and what a refusal or a cut exchange means for that lane's request under the
//! session's retry policy. The conversation itself (ledger, chaining, tool calls) stays the
//! session's: over HTTP it chains with `previous_response_id` only from stored responses.
//!
//! A session moves between transports whole: [`Client::into_session`](crate::client::Client::into_session)
//! then [`HttpClient::from_session`], and [`HttpClient::into_session`] then
//! [`Client::from_session`](crate::client::Client::from_session) to go back; a
//! [`TransportChoice`] says when (after a 426, sticky, re-probed after an interval).
//!
//! Invariants: a socket carries at most one exchange; a lane has at most one exchange (or one
//! request held for a retry delay) at a time, since the session sends a lane's next request
//! only after the last one ended; an idle socket is one whose last exchange ended by its own
//! framing on a kept-alive connection.

mod choice;
mod config;

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BTreeSet, VecDeque};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::fmt;

use bytes::Bytes;

pub use choice::{Transport, TransportChoice};
pub use config::{HttpClientConfig, HttpClientEvent, SocketId};

use crate::client::ToolHandler;
use crate::http::{Exchange, ExchangeError, ExchangeEvent, Header};
use crate::retry::{Budget, Failure, FailureClass, Verdict};
use crate::session::{
    Lane, LaneTransfer, Ledger, Refused, RequestId, Session, SessionError, SessionEvent, ToolCall,
};
use crate::time::Instant;
use crate::wire::{
    ApiError, ClientEvent, EventKind, Input, Item, ResponseCreate, ServerEvent, ToolOutput,
};
use crate::ws::{HttpResponse, Utf8Bytes};

/// The session over HTTP + SSE: create responses on lanes, answer tool calls; one socket per
/// request in flight.
///
/// Drive it as any machine of the core: after each call, drain
/// [`poll_event`](Self::poll_event) (open a socket on [`HttpClientEvent::Dial`], close one on
/// [`HttpClientEvent::Close`]), then [`poll_transmit`](Self::poll_transmit) for each open
/// socket; feed what a socket reads to [`handle_input`](Self::handle_input) and its end to
/// [`handle_eof`](Self::handle_eof); call [`handle_timeout`](Self::handle_timeout) at
/// [`poll_timeout`](Self::poll_timeout). Connect timeouts are the driver's
/// ([`dial_failed`](Self::dial_failed) with [`Failure::ConnectTimeout`]).
///
/// ```
/// use responses_ws_core::http::Target;
/// use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
/// use responses_ws_core::wire::ResponseCreate;
/// use responses_ws_core::Instant;
///
/// let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses")).api_key("sk-test");
/// let mut client = HttpClient::new(config, Instant::ZERO);
/// client.create(ResponseCreate { model: Some("gpt-5.5".into()), input: Some("Hi".into()), ..Default::default() })?;
/// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
/// let request = client.poll_transmit(socket).expect("the request");
/// assert!(request.starts_with(b"POST /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\n"));
/// // Steering exists only in WebSocket mode.
/// let lane = responses_ws_core::session::Lane::Default;
/// assert!(client.steer(&lane, "faster").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct HttpClient {
    config: HttpClientConfig,
    session: Session,
    /// Failed exchanges since the last completed response, judged by the retry policy.
    budget: Budget,
    tool_handler: Option<ToolHandler>,
    /// Every open socket: the exchange it carries, or `None` while idle.
    sockets: BTreeMap<SocketId, Option<Carried>>,
    /// Idle sockets, the most recently used last.
    idle: Vec<SocketId>,
    /// Sockets given a request to write since [`poll_ready`](HttpClient::poll_ready) last
    /// named them (open sockets only).
    ready: BTreeSet<SocketId>,
    /// Requests waiting out a retry delay before their exchange starts.
    held: Vec<Held>,
    /// Lanes whose next request waits until then (after a failure the budget judged).
    hold_until: BTreeMap<Lane, Instant>,
    /// Fresh credentials were asked for after a 401: no request starts until they come
    /// ([`credentials_refreshed`](Self::credentials_refreshed)).
    awaiting_credentials: bool,
    events: VecDeque<HttpClientEvent>,
    next_socket: u64,
    now: Instant,
}

/// An exchange and the lane it carries a request of.
#[derive(Debug)]
struct Carried {
    lane: Lane,
    exchange: Exchange,
    /// When it started or last delivered an event: its idle timeout counts from here.
    last_event: Instant,
}

/// How an exchange ended without its response.
enum Ending {
    /// The server refused the request.
    Refused(Box<ApiError>),
    /// The exchange broke.
    Broke(ExchangeError),
}

/// A request waiting for its retry delay.
#[derive(Debug)]
struct Held {
    lane: Lane,
    create: ResponseCreate,
    at: Instant,
}

impl fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpClient")
            .field("config", &self.config)
            .field("session", &self.session)
            .field("budget", &self.budget)
            .field("tool_handler", &self.tool_handler.as_ref().map(|_| "…"))
            .field("sockets", &self.sockets)
            .field("idle", &self.idle)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl HttpClient {
    /// A client with no conversation yet.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let client = HttpClient::new(config, Instant::ZERO);
    /// assert!(client.session().is_idle());
    /// assert_eq!(client.sockets().count(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: HttpClientConfig, now: Instant) -> Self {
        HttpClient::restore(config, Ledger::default(), now)
    }

    /// A client that continues the conversations of a saved ledger.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::mock::{HttpConnection, HttpEvent, HttpMock, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// # // The mock's HTTP side answers what the client wrote to `socket`.
    /// # fn serve(client: &mut HttpClient, socket: responses_ws_core::http_client::SocketId) -> Vec<u8> {
    /// #     let (mut http, mut mock) = (HttpConnection::new(), HttpMock::new(Script::new().text("Hello!", 2), 0));
    /// #     while let Some(bytes) = client.poll_transmit(socket) { http.handle_input(&bytes); }
    /// #     let Some(HttpEvent::Create { body }) = http.poll_event() else { panic!("no request") };
    /// #     http.answer(mock.respond(&body, Instant::ZERO), Instant::ZERO);
    /// #     while let Some(at) = http.poll_timeout() { http.handle_timeout(at); }
    /// #     std::iter::from_fn(|| http.poll_transmit()).flat_map(|bytes| bytes.to_vec()).collect()
    /// # }
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// let answer = serve(&mut client, socket);
    /// client.handle_input(socket, &answer, Instant::ZERO);
    /// let saved = client.session().ledger().clone();
    /// let restored = HttpClient::restore(client.config().clone(), saved, Instant::ZERO);
    /// assert_eq!(restored.session().ledger().lane(&Lane::Default).unwrap().items().len(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(config: HttpClientConfig, ledger: Ledger, now: Instant) -> Self {
        let session = Session::restore(config.session.clone(), ledger);
        HttpClient::from_session(config, session, now)
    }

    /// Continues `session` over HTTP: its lanes, ledger, queued requests and pending tool
    /// calls go on as they were; requests waiting for a connection go out now, each lane with
    /// its full context unless its last response was stored. Events the session had not
    /// reported yet come first from [`poll_event`](Self::poll_event).
    ///
    /// The session takes `config.session`, adjusted for HTTP.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// let mut ws = Client::new(ClientConfig::new(WsUrl::parse("wss://api.openai.com/v1/responses")?));
    /// ws.create(ResponseCreate::new("gpt-5.5").input("Hi"))?; // waits for a connection
    /// let (session, _) = ws.into_session(Instant::ZERO);
    /// // Over HTTP the waiting request goes out at once.
    /// let mut client = HttpClient::from_session(config, session, Instant::ZERO);
    /// assert!(matches!(client.poll_event(), Some(HttpClientEvent::Dial { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_session(config: HttpClientConfig, mut session: Session, now: Instant) -> Self {
        session.set_config(config.session_config());
        let mut budget = Budget::new(config.session.retry.clone());
        budget.set_refreshable(config.refreshable_credentials);
        let mut client = HttpClient {
            config,
            session,
            budget,
            tool_handler: None,
            sockets: BTreeMap::new(),
            idle: Vec::new(),
            ready: BTreeSet::new(),
            held: Vec::new(),
            hold_until: BTreeMap::new(),
            awaiting_credentials: false,
            events: VecDeque::new(),
            next_socket: 0,
            now,
        };
        client.session.connected(now);
        client.take_session_output();
        client
    }

    /// Ends the HTTP transport and hands the session on (to
    /// [`Client::from_session`](crate::client::Client::from_session), say). Exchanges in
    /// flight end as with a lost connection (unstarted requests go out again on the next
    /// transport, started ones fail as interrupted); close every socket. Returns the
    /// session and the events not yet taken with [`poll_event`](Self::poll_event); the tool
    /// handler stays behind.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// let (session, events) = client.into_session(Instant::ZERO);
    /// // The socket is to be closed; the request waits for the next transport.
    /// assert!(matches!(events.last(), Some(HttpClientEvent::Close { .. })));
    /// assert!(!session.is_idle());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_session(mut self, now: Instant) -> (Session, Vec<HttpClientEvent>) {
        // The session's own events stay in it, for the next transport to report.
        self.end_exchanges(now);
        (self.session, self.events.into())
    }

    /// Ends every exchange as a lost connection ends its requests (unstarted requests wait
    /// to go out again, started ones fail as interrupted; every lane is left at rest, so it
    /// can be [exported](Self::export_lane)) and closes every socket
    /// ([`HttpClientEvent::Close`]). Requests held for a retry delay wait in their lanes'
    /// queues. The session waits for a transport from then on: a client that is to carry
    /// requests again is made with [`from_session`](Self::from_session).
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// assert!(client.export_lane(&Lane::Default).is_err(), "a request is on its way");
    /// client.disconnect(Instant::ZERO);
    /// assert!(matches!(client.poll_event(), Some(HttpClientEvent::Close { socket: closed }) if closed == socket));
    /// // The request was not answered: it moves with its lane, to go out elsewhere.
    /// let transfer = client.export_lane(&Lane::Default)?;
    /// assert!(!transfer.is_idle());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn disconnect(&mut self, now: Instant) {
        self.end_exchanges(now);
        self.take_session_output();
    }

    /// Closes every socket and tells the session its transport is gone.
    fn end_exchanges(&mut self, now: Instant) {
        self.now = now;
        for socket in core::mem::take(&mut self.sockets).into_keys() {
            self.events.push_back(HttpClientEvent::Close { socket });
        }
        self.idle.clear();
        self.ready.clear();
        self.held.clear();
        self.hold_until.clear();
        self.session.disconnected(now);
    }

    /// The session: its ledger, pending tool calls, in-flight count.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// assert_eq!(client.session().in_flight(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The configuration.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let client = HttpClient::new(config.api_key("sk-test"), Instant::ZERO);
    /// assert!(!format!("{:?}", client.config()).contains("sk-test"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &HttpClientConfig {
        &self.config
    }

    /// Open sockets (idle ones included).
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// assert_eq!(client.sockets().collect::<Vec<_>>(), [socket]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn sockets(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.sockets.keys().copied()
    }

    /// See [`Session::create`]. A request with `generate` is refused with
    /// [`SessionError::WebSocketOnly`].
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// assert!(matches!(client.poll_event(), Some(HttpClientEvent::Dial { .. })));
    /// // `generate` exists only in WebSocket mode.
    /// assert!(client.create(ResponseCreate::new("gpt-5.5").generate(false)).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(
        &mut self,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        if request.generate.is_some() {
            return Err(Refused::new(
                SessionError::WebSocketOnly("generate"),
                request,
            ));
        }
        self.take(|session| session.create(request))
    }

    /// See [`Session::fork`].
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// // Like a warm-up, `generate` exists only in WebSocket mode.
    /// let fork = ResponseCreate::new("gpt-5.5").stream_id("b").generate(false);
    /// assert!(client.fork(&Lane::Default, fork).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fork(
        &mut self,
        from: &Lane,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        if request.generate.is_some() {
            return Err(Refused::new(
                SessionError::WebSocketOnly("generate"),
                request,
            ));
        }
        self.take(|session| session.fork(from, request))
    }

    /// Refused: a warm-up (`generate: false`) exists only in WebSocket mode.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// let refused = client.warm_up(ResponseCreate::new("gpt-5.5")).unwrap_err();
    /// assert_eq!(refused.into_request().model.as_deref(), Some("gpt-5.5"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn warm_up(
        &mut self,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        Err(Refused::new(
            SessionError::WebSocketOnly("generate"),
            request,
        ))
    }

    /// Refused: steering exists only in WebSocket mode; the input is handed back.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// let refused = client.steer(&Lane::Default, "faster").unwrap_err();
    /// assert!(matches!(refused.into_request(), responses_ws_core::wire::Input::Text(text) if text == "faster"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn steer(&mut self, _lane: &Lane, input: impl Into<Input>) -> Result<(), Refused<Input>> {
        Err(Refused::new(
            SessionError::WebSocketOnly("response.steer"),
            input.into(),
        ))
    }

    /// Refused: `response.inject` exists only in WebSocket mode; the items are handed back.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::Item;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// let refused = client.inject(&Lane::Default, vec![Item::function_call_output("call_1", "42")]).unwrap_err();
    /// assert_eq!(refused.into_request().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inject(&mut self, _lane: &Lane, input: Vec<Item>) -> Result<(), Refused<Vec<Item>>> {
        Err(Refused::new(
            SessionError::WebSocketOnly("response.inject"),
            input,
        ))
    }

    /// See [`Session::submit_tool_output`].
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// // Only a call the model made can be answered.
    /// assert!(client.submit_tool_output(&Lane::Default, "call_unknown", "42").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_tool_output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), SessionError> {
        self.take(|session| session.submit_tool_output(lane, call_id, output))
    }

    /// See [`Session::submit_approval`].
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// assert!(client.submit_approval(&Lane::Default, "mcpr_unknown", false, Some("not now".into())).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_approval(
        &mut self,
        lane: &Lane,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), SessionError> {
        self.take(|session| session.submit_approval(lane, request_id, approve, reason))
    }

    /// See [`Session::journal`]: the lane's conversation is journaled as `conversation`, its
    /// write-ahead records coming from [`poll_record`](Self::poll_record). Over HTTP as over
    /// WebSocket mode, no request of the lane starts before its records are taken.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.journal(&Lane::Default, "conv-1")?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Pay the bill"))?;
    /// // Nothing goes out before the records are taken (and stored by the driver) …
    /// assert!(client.poll_event().is_none());
    /// let records: Vec<_> = std::iter::from_fn(|| client.poll_record()).collect();
    /// assert_eq!(records.len(), 3); // opened, settings, input
    /// // … then the request starts on a socket of its own.
    /// assert!(matches!(client.poll_event(), Some(HttpClientEvent::Dial { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn journal(
        &mut self,
        lane: &Lane,
        conversation: impl Into<String>,
    ) -> Result<(), SessionError> {
        self.take(|session| session.journal(lane, conversation))
    }

    /// The next write-ahead record of a journaled lane ([`Session::poll_record`]): store each
    /// before writing any socket. Once they are all taken, the requests they held start.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.journal(&Lane::Default, "conv-1")?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let mut stored = Vec::new();
    /// while let Some(record) = client.poll_record() {
    ///     stored.push(record); // a real driver writes it to its store first
    /// }
    /// assert!(!stored.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_record(&mut self) -> Option<crate::persist::Record> {
        let record = self.session.poll_record();
        if record.is_none() {
            self.take_session_output();
        }
        record
    }

    /// See [`Session::import_lane`]: a conversation from elsewhere (a store's replay, another
    /// client) continues on `lane`, over HTTP: with its full context, or chained when its
    /// last response was stored.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut websocket = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # websocket.connect([1; 32], Instant::ZERO)?;
    /// // A conversation begun in WebSocket mode …
    /// websocket.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut websocket, Instant::ZERO);
    /// let transfer = websocket.export_lane(&Lane::Default)?;
    /// // … goes on over HTTP.
    /// let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut http = HttpClient::new(config, Instant::ZERO);
    /// http.import_lane(&Lane::Default, transfer)?;
    /// assert!(http.session().ledger().lane(&Lane::Default).is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_lane(
        &mut self,
        lane: &Lane,
        transfer: LaneTransfer,
    ) -> Result<(), Refused<LaneTransfer>> {
        self.take(|session| session.import_lane(lane, transfer))
    }

    /// See [`Session::export_lane`]: `lane`'s conversation leaves this client (to another
    /// client, on either transport). Refused while a request of the lane is on its way,
    /// held for a retry delay included.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::mock::{HttpConnection, HttpEvent, HttpMock, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// # // The mock's HTTP side answers what the client wrote to `socket`.
    /// # fn serve(client: &mut HttpClient, socket: responses_ws_core::http_client::SocketId) -> Vec<u8> {
    /// #     let (mut http, mut mock) = (HttpConnection::new(), HttpMock::new(Script::new().text("Hello!", 2), 0));
    /// #     while let Some(bytes) = client.poll_transmit(socket) { http.handle_input(&bytes); }
    /// #     let Some(HttpEvent::Create { body }) = http.poll_event() else { panic!("no request") };
    /// #     http.answer(mock.respond(&body, Instant::ZERO), Instant::ZERO);
    /// #     while let Some(at) = http.poll_timeout() { http.handle_timeout(at); }
    /// #     std::iter::from_fn(|| http.poll_transmit()).flat_map(|bytes| bytes.to_vec()).collect()
    /// # }
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// assert!(client.export_lane(&Lane::Default).is_err(), "its request is on its way");
    /// let answer = serve(&mut client, socket);
    /// client.handle_input(socket, &answer, Instant::ZERO);
    /// let transfer = client.export_lane(&Lane::Default)?;
    /// assert_eq!(transfer.ledger().items().len(), 2, "the input and the answer");
    /// assert!(client.session().ledger().lane(&Lane::Default).is_none(), "the lane left");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_lane(&mut self, lane: &Lane) -> Result<LaneTransfer, SessionError> {
        let transfer = self.take(|session| session.export_lane(lane))?;
        self.hold_until.remove(lane);
        Ok(transfer)
    }

    /// Answers every function and custom tool call with `handler`'s output as soon as a
    /// response asks for it, as [`Client::set_tool_handler`](crate::client::Client::set_tool_handler) does.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// # use responses_ws_core::wire::ToolOutput;
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.set_tool_handler(Box::new(|_lane, call| ToolOutput::Text(format!("no tool named {}", call.name))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_tool_handler(&mut self, handler: ToolHandler) {
        self.tool_handler = Some(handler);
    }

    // --- Driving ----------------------------------------------------------------------------

    /// The next event: sockets to open or close, and what the session reports.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::mock::{HttpConnection, HttpEvent, HttpMock, Script};
    /// # use responses_ws_core::session::SessionEvent;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// # // The mock's HTTP side answers what the client wrote to `socket`.
    /// # fn serve(client: &mut HttpClient, socket: responses_ws_core::http_client::SocketId) -> Vec<u8> {
    /// #     let (mut http, mut mock) = (HttpConnection::new(), HttpMock::new(Script::new().text("Hello!", 2), 0));
    /// #     while let Some(bytes) = client.poll_transmit(socket) { http.handle_input(&bytes); }
    /// #     let Some(HttpEvent::Create { body }) = http.poll_event() else { panic!("no request") };
    /// #     http.answer(mock.respond(&body, Instant::ZERO), Instant::ZERO);
    /// #     while let Some(at) = http.poll_timeout() { http.handle_timeout(at); }
    /// #     std::iter::from_fn(|| http.poll_transmit()).flat_map(|bytes| bytes.to_vec()).collect()
    /// # }
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// let answer = serve(&mut client, socket);
    /// client.handle_input(socket, &answer, Instant::ZERO);
    /// let completed = std::iter::from_fn(|| client.poll_event()).find_map(|event| match event {
    ///     HttpClientEvent::Session(SessionEvent::Completed { response, .. }) => Some(response.all_output_text()),
    ///     _ => None,
    /// });
    /// assert_eq!(completed.as_deref(), Some("Hello!"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_event(&mut self) -> Option<HttpClientEvent> {
        self.events.pop_front()
    }

    /// An open socket given a request to write since it was last named here: drain
    /// [`poll_transmit`](Self::poll_transmit) for it. A driver that polls every socket
    /// anyway may ignore it; one with a task per socket wakes only the sockets named. Each
    /// socket is named once per request; a socket dialed for a request is named too.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// assert_eq!(client.poll_ready(), Some(socket));
    /// assert_eq!(client.poll_ready(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_ready(&mut self) -> Option<SocketId> {
        self.ready.pop_first()
    }

    /// The next bytes to write to `socket` (the request of the exchange it carries).
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// let request = client.poll_transmit(socket).unwrap();
    /// assert!(request.starts_with(b"POST /v1/responses HTTP/1.1\r\n"));
    /// assert!(client.poll_transmit(socket).is_none());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_transmit(&mut self, socket: SocketId) -> Option<Bytes> {
        let carried = self.sockets.get_mut(&socket)?.as_mut()?;
        carried.exchange.poll_transmit()
    }

    /// `socket` read `bytes`.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::mock::{HttpConnection, HttpEvent, HttpMock, Script};
    /// # use responses_ws_core::session::SessionEvent;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// # // The mock's HTTP side answers what the client wrote to `socket`.
    /// # fn serve(client: &mut HttpClient, socket: responses_ws_core::http_client::SocketId) -> Vec<u8> {
    /// #     let (mut http, mut mock) = (HttpConnection::new(), HttpMock::new(Script::new().text("Hello!", 2), 0));
    /// #     while let Some(bytes) = client.poll_transmit(socket) { http.handle_input(&bytes); }
    /// #     let Some(HttpEvent::Create { body }) = http.poll_event() else { panic!("no request") };
    /// #     http.answer(mock.respond(&body, Instant::ZERO), Instant::ZERO);
    /// #     while let Some(at) = http.poll_timeout() { http.handle_timeout(at); }
    /// #     std::iter::from_fn(|| http.poll_transmit()).flat_map(|bytes| bytes.to_vec()).collect()
    /// # }
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// let answer = serve(&mut client, socket);
    /// // Bytes may arrive cut anywhere.
    /// let (head, tail) = answer.split_at(answer.len() / 2);
    /// client.handle_input(socket, head, Instant::ZERO);
    /// client.handle_input(socket, tail, Instant::ZERO);
    /// let completed = std::iter::from_fn(|| client.poll_event()).find_map(|event| match event {
    ///     HttpClientEvent::Session(SessionEvent::Completed { response, .. }) => Some(response.all_output_text()),
    ///     _ => None,
    /// });
    /// assert_eq!(completed.as_deref(), Some("Hello!"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_input(&mut self, socket: SocketId, bytes: &[u8], now: Instant) {
        self.now = now;
        match self.sockets.get_mut(&socket) {
            Some(Some(carried)) => {
                carried.exchange.handle_input(bytes);
                self.after_exchange_input(socket);
            }
            // An idle socket that speaks out of turn cannot be trusted with a request.
            Some(None) => self.close(socket),
            None => {}
        }
    }

    /// `socket` reached its end (the peer closed it, or it broke).
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// client.poll_transmit(socket);
    /// # use responses_ws_core::session::SessionEvent;
    /// client.handle_eof(socket, Instant::ZERO); // closed before any answer
    /// let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    /// // The request had not started: it is retried, after a delay, on a new socket.
    /// assert!(events.iter().any(|event| matches!(event,
    ///     HttpClientEvent::Session(SessionEvent::Retrying { attempt: 2, .. }))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_eof(&mut self, socket: SocketId, now: Instant) {
        self.now = now;
        match self.sockets.get_mut(&socket) {
            Some(Some(carried)) => {
                carried.exchange.handle_eof();
                self.after_exchange_input(socket);
            }
            Some(None) => self.close(socket),
            None => {}
        }
    }

    /// `socket` could not be opened (DNS, TCP, TLS, connect timeout): its request fails or
    /// goes out again, as for a cut exchange.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::retry::Failure;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// client.dial_failed(socket, Failure::Transport { message: "connection refused".into(), transient: true }, Instant::ZERO);
    /// // It goes out again after the retry delay.
    /// let retry_at = client.poll_timeout().unwrap();
    /// client.handle_timeout(retry_at);
    /// assert!(std::iter::from_fn(|| client.poll_event()).any(|event| matches!(event, HttpClientEvent::Dial { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dial_failed(&mut self, socket: SocketId, cause: Failure, now: Instant) {
        self.now = now;
        if let Some(Some(carried)) = self.sockets.remove(&socket) {
            self.idle.retain(|idle| *idle != socket);
            self.ready.remove(&socket);
            self.lost(&carried.lane, cause);
            self.take_session_output();
        }
    }

    /// The next moment [`handle_timeout`](Self::handle_timeout) has something to do.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// // An exchange in flight ends if no event arrives for the idle timeout.
    /// let idle = client.config().session.idle_timeout.unwrap();
    /// assert_eq!(client.poll_timeout(), Some(Instant::ZERO + idle));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        let held = (self.held.iter())
            .filter(|_| !self.awaiting_credentials)
            .map(|held| held.at)
            .min();
        let idle = self.config.session.idle_timeout.and_then(|idle| {
            self.carried()
                .map(|(_, carried)| carried.last_event + idle)
                .min()
        });
        [held, idle, self.session.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time has reached `now`: an exchange without an event for the idle timeout ends (its
    /// lane's request fails as [`RequestError::IdleTimeout`](crate::session::RequestError::IdleTimeout),
    /// or goes out again if it had not started; the other lanes go on), and held requests
    /// whose delay is over start.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// client.poll_transmit(socket); // sent, and the server stays silent
    /// let idle_deadline = client.poll_timeout().unwrap();
    /// client.handle_timeout(idle_deadline);
    /// let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    /// assert!(events.iter().any(|event| matches!(event, HttpClientEvent::Close { socket: closed } if *closed == socket)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(idle) = self.config.session.idle_timeout {
            let idle: Vec<(SocketId, Lane)> = self
                .carried()
                .filter(|(_, carried)| now >= carried.last_event + idle)
                .map(|(socket, carried)| (socket, carried.lane.clone()))
                .collect();
            for (socket, lane) in idle {
                self.close(socket);
                self.lost(&lane, Failure::IdleTimeout);
            }
        }
        self.start_due();
        self.session.handle_timeout(now);
        self.take_session_output();
    }

    /// Fresh credentials after [`HttpClientEvent::RefreshCredentials`]: `Some` key replaces
    /// the `Authorization` header of every request, `None` keeps the current one (the source
    /// had nothing new). The requests held meanwhile go out, the refused one among them.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
    /// # use responses_ws_core::session::{RequestError, SessionEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::Instant;
    /// let mut config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses")).api_key("sk-old");
    /// config.refreshable_credentials = true;
    /// let mut client = HttpClient::new(config, Instant::ZERO);
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let unauthorized = b"HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 57\r\n\r\n{\"error\":{\"message\":\"Bad key.\",\"code\":\"invalid_api_key\"}}";
    /// let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else { panic!("no dial") };
    /// client.poll_transmit(socket);
    /// client.handle_input(socket, unauthorized, Instant::ZERO);
    /// let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    /// assert!(events.iter().any(|event| matches!(event, HttpClientEvent::RefreshCredentials)));
    /// client.credentials_refreshed(Some("sk-new"));
    /// // The request goes out again, with the new key (on the kept-alive socket).
    /// assert!(client.poll_event().is_none());
    /// let request = client.poll_transmit(socket).unwrap();
    /// assert!(String::from_utf8_lossy(&request).contains("Bearer sk-new"));
    /// // A second 401 fails the request with the server's error.
    /// client.handle_input(socket, unauthorized, Instant::ZERO);
    /// let failed = std::iter::from_fn(|| client.poll_event()).find_map(|event| match event {
    ///     HttpClientEvent::Session(SessionEvent::Failed { error: RequestError::Api(error), .. }) => error.status,
    ///     _ => None,
    /// });
    /// assert_eq!(failed, Some(401));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credentials_refreshed(&mut self, key: Option<&str>) {
        if let Some(key) = key {
            self.config.set_api_key(key);
        }
        self.awaiting_credentials = false;
        self.start_due();
        self.take_session_output();
    }

    /// Replaces the `Authorization` header of the requests that start from now on.
    ///
    /// ```
    /// # use responses_ws_core::http::Target;
    /// # use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
    /// # use responses_ws_core::Instant;
    /// # let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses"));
    /// let mut client = HttpClient::new(config.api_key("sk-old"), Instant::ZERO);
    /// client.set_api_key("sk-rotated"); // the key a vault just handed out
    /// let auth: Vec<_> = client.config().target.headers.iter().filter_map(|h| h.value_str()).collect();
    /// assert_eq!(auth, ["Bearer sk-rotated"]);
    /// ```
    pub fn set_api_key(&mut self, key: &str) {
        self.config.set_api_key(key);
    }

    /// Starts the held requests whose delay is over (none while credentials are awaited).
    fn start_due(&mut self) {
        if self.awaiting_credentials {
            return;
        }
        let now = self.now;
        let (due, waiting): (Vec<Held>, Vec<Held>) = core::mem::take(&mut self.held)
            .into_iter()
            .partition(|held| held.at <= now);
        self.held = waiting;
        for held in due {
            self.hold_until.remove(&held.lane);
            self.start(held.lane, held.create);
        }
    }

    // --- Exchanges --------------------------------------------------------------------------

    /// Runs a session call, then takes what it produced.
    fn take<T, E>(&mut self, f: impl FnOnce(&mut Session) -> Result<T, E>) -> Result<T, E> {
        let result = f(&mut self.session);
        self.take_session_output();
        result
    }

    /// Starts the session's requests (or holds them for their lane's retry delay) and passes
    /// its events on, answering tool calls when a handler is set.
    fn take_session_output(&mut self) {
        loop {
            while let Some(frame) = self.session.poll_transmit() {
                self.send(&frame);
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            match &event {
                SessionEvent::ToolCalls { lane, calls, .. } => {
                    let (lane, calls) = (lane.clone(), calls.clone());
                    self.answer_automatically(&lane, &calls);
                }
                SessionEvent::Completed { .. } => self.budget.succeeded(),
                SessionEvent::Reconnect { .. } => self.replace_transport(),
                _ => {}
            }
            self.events.push_back(HttpClientEvent::Session(event));
        }
    }

    /// One frame of the session: over HTTP only `response.create` exists (`steer` and
    /// `inject` are refused before they reach the session).
    fn send(&mut self, frame: &str) {
        let Ok(ClientEvent::Create(create)) = ClientEvent::from_str(frame) else {
            return;
        };
        let lane = Lane::from_stream_id(create.stream_id.as_deref());
        let hold = self.hold_until.get(&lane).copied();
        match hold {
            Some(at) if at > self.now || self.awaiting_credentials => self.held.push(Held {
                lane,
                create: *create,
                at,
            }),
            None if self.awaiting_credentials => self.held.push(Held {
                lane,
                create: *create,
                at: self.now,
            }),
            _ => {
                self.hold_until.remove(&lane);
                self.start(lane, *create);
            }
        }
    }

    /// Starts the exchange of `lane`'s request on an idle socket, or on a new one.
    fn start(&mut self, lane: Lane, create: ResponseCreate) {
        let config = &self.config;
        let exchange = match Exchange::with_limits(&config.target, &create, config.limits) {
            Ok(exchange) => exchange,
            Err(error) => {
                // A request HTTP cannot carry (a header the target cannot send): final.
                let cause = Failure::Transport {
                    message: error.to_string(),
                    transient: false,
                };
                self.lost(&lane, cause);
                return;
            }
        };
        let socket = match self.idle.pop() {
            Some(socket) => socket,
            None => {
                let socket = SocketId(self.next_socket);
                self.next_socket += 1;
                self.events.push_back(HttpClientEvent::Dial { socket });
                socket
            }
        };
        let last_event = self.now;
        let carried = Carried {
            lane,
            exchange,
            last_event,
        };
        self.sockets.insert(socket, Some(carried));
        self.ready.insert(socket);
    }

    /// Hands the events of `socket`'s exchange to the session, then settles the socket once
    /// the exchange is over.
    fn after_exchange_input(&mut self, socket: SocketId) {
        let Some(Some(carried)) = self.sockets.get_mut(&socket) else {
            return;
        };
        let lane = carried.lane.clone();
        let mut ending = None;
        while let Some(event) = carried.exchange.poll_event() {
            match event {
                ExchangeEvent::Event(text) => {
                    carried.last_event = self.now;
                    // The session decodes the event once, as a WebSocket frame; the
                    // application's stream events share its text.
                    let frame = Utf8Bytes::from(text);
                    if let Err(error) = self.session.handle_frame_on(&lane, frame, self.now) {
                        ending = Some(Ending::Broke(ExchangeError::Decode(error)));
                        break;
                    }
                }
                ExchangeEvent::Rejected(error) => ending = Some(Ending::Refused(error)),
                ExchangeEvent::Failed(error) => ending = Some(Ending::Broke(error)),
            }
        }
        // An event that does not decode ends the exchange and its socket, as any break does.
        let undecodable = matches!(ending, Some(Ending::Broke(ExchangeError::Decode(_))));
        let finished = carried.exchange.is_finished() || undecodable;
        let reusable = carried.exchange.is_reusable() && !undecodable;
        if finished {
            self.sockets.remove(&socket);
            self.ready.remove(&socket);
            if reusable && self.idle.len() < self.config.max_idle_sockets {
                self.sockets.insert(socket, None);
                self.idle.push(socket);
            } else {
                self.events.push_back(HttpClientEvent::Close { socket });
            }
        }
        match ending {
            Some(Ending::Refused(error)) => self.refused(&lane, error),
            Some(Ending::Broke(error)) => self.lost(&lane, failure_of(&error)),
            None => {}
        }
        self.take_session_output();
    }

    /// The server refused `lane`'s request. A refusal worth another attempt (408, 429, 5xx)
    /// gets one after the budget's delay (`Retry-After` honoured) while the budget lasts; a
    /// 401, when credentials are refreshable, gets one after fresh credentials (once per
    /// streak, as a refused upgrade does); any other, or one past the budget, fails the
    /// request with the server's error as over WebSocket
    /// ([`RequestError::Api`](crate::session::RequestError::Api), with the status and
    /// headers; `previous_response_not_found` gets the session's full-context replay).
    fn refused(&mut self, lane: &Lane, error: Box<ApiError>) {
        let cause = Failure::Refused(Box::new(response_of(&error)));
        if matches!(
            cause.class(),
            FailureClass::Transient | FailureClass::Credentials
        ) {
            if let Verdict::Retry {
                delay,
                refresh_credentials,
                ..
            } = self.budget.failed(cause.clone(), self.now)
            {
                if refresh_credentials {
                    self.awaiting_credentials = true;
                    self.events.push_back(HttpClientEvent::RefreshCredentials);
                }
                self.hold_until.insert(lane.clone(), self.now + delay);
                self.session.exchange_lost(lane, &cause, true, self.now);
                return;
            }
        }
        let event = ServerEvent {
            stream_id: None,
            sequence_number: None,
            kind: EventKind::Error(error),
        };
        self.session.handle_event_on(lane, event, self.now);
    }

    /// `lane`'s exchange ended before its response did: another attempt after the budget's
    /// delay, or the request fails.
    fn lost(&mut self, lane: &Lane, cause: Failure) {
        let retry = match self.budget.failed(cause.clone(), self.now) {
            Verdict::Retry { delay, .. } => {
                self.hold_until.insert(lane.clone(), self.now + delay);
                true
            }
            _ => false,
        };
        self.session.exchange_lost(lane, &cause, retry, self.now);
    }

    /// The session gave up its "connection" (a response idle for too long, or too large):
    /// every exchange in flight ends with its socket, and the transport is up again at once
    /// (the session replans the requests).
    fn replace_transport(&mut self) {
        let carrying: Vec<SocketId> = self.carried().map(|(socket, _)| socket).collect();
        for socket in carrying {
            self.close(socket);
        }
        self.held.clear();
        self.session.connected(self.now);
    }

    /// The sockets carrying an exchange, with it.
    fn carried(&self) -> impl Iterator<Item = (SocketId, &Carried)> + '_ {
        self.sockets
            .iter()
            .filter_map(|(socket, carried)| Some((*socket, carried.as_ref()?)))
    }

    /// Forgets `socket` and tells the driver to close it.
    fn close(&mut self, socket: SocketId) {
        if self.sockets.remove(&socket).is_some() {
            self.idle.retain(|idle| *idle != socket);
            self.ready.remove(&socket);
            self.events.push_back(HttpClientEvent::Close { socket });
        }
    }

    /// Runs the tool handler, if any, on every function and custom tool call of `calls`.
    fn answer_automatically(&mut self, lane: &Lane, calls: &[ToolCall]) {
        if let Some(handler) = &mut self.tool_handler {
            crate::tool_loop::answer_with(&mut self.session, handler, lane, calls);
        }
    }
}

/// What a broken exchange means for retrying: a stream cut short is a dropped transport
/// (worth another attempt); bytes that break HTTP or the event stream are final.
fn failure_of(error: &ExchangeError) -> Failure {
    match error {
        ExchangeError::Truncated | ExchangeError::Http(crate::http::HttpError::UnexpectedEof) => {
            Failure::Dropped
        }
        other => Failure::Transport {
            message: other.to_string(),
            transient: false,
        },
    }
}

/// A refusal as the retry policy reads refusals: status and headers (`Retry-After`).
fn response_of(error: &ApiError) -> HttpResponse {
    let status = error.status.unwrap_or(500);
    HttpResponse {
        status,
        reason: crate::http::reason_phrase(status).into(),
        headers: error
            .headers
            .iter()
            .map(|(name, value)| Header::new(name.as_str(), value.as_str()))
            .collect(),
        body: Bytes::from(error.message.clone()),
        body_truncated: false,
    }
}
