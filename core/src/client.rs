//! [`Client`]: the whole client as one sans-IO machine — the WebSocket layer in client role
//! under the [`Session`], across as many connections as the session needs, with the retry
//! [`Budget`] that decides whether and when the next one is opened. An adapter moves bytes
//! and time in and out, opens a socket when [`Client::next_dial`] says so, and makes no
//! protocol decision of its own.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::time::Duration;

use bytes::Bytes;

use crate::retry::{Budget, Failure, GaveUp, RetrySafety, Verdict};
use crate::session::{
    Lane, LaneTransfer, Ledger, Refused, RequestId, Session, SessionConfig, SessionError,
    SessionEvent, ToolCall,
};
use crate::time::Instant;
use crate::wire::{Input, Item, ResponseCreate, ToolOutput};
use crate::ws::{self, CloseCode, Closed, Connection, HandshakeError, Header, SendError, WsUrl};

/// Where to connect and with which limits.
///
/// ```
/// # use responses_ws_core::client::ClientConfig;
/// # use responses_ws_core::ws::WsUrl;
/// let config = ClientConfig::new(WsUrl::parse("wss://api.openai.com/v1/responses")?)
///     .api_key("sk-test")
///     .header("OpenAI-Beta", "responses_websockets=2026-02-06");
/// assert_eq!(config.headers.len(), 2);
/// // Debug output never shows the key.
/// assert!(!format!("{config:?}").contains("sk-test"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub struct ClientConfig {
    /// The endpoint, e.g. `wss://api.openai.com/v1/responses`.
    pub url: WsUrl,
    /// Extra upgrade headers (`Authorization`, `OpenAI-Beta`, …).
    pub headers: Vec<(String, String)>,
    /// WebSocket limits and timers.
    pub ws: ws::Config,
    /// Session limits and timings, the retry policy among them.
    pub session: SessionConfig,
    /// Whether fresh credentials can be fetched after a 401 (the adapter has a credentials
    /// callback): the client then tries once more after asking for them
    /// ([`ClientEvent::Reconnecting`] with `refresh_credentials`). Default `false`: a 401 is
    /// final.
    pub refreshable_credentials: bool,
    /// When the client hands its session to the HTTP + SSE transport instead of failing its
    /// requests ([`ClientEvent::UseHttp`]; default [`HttpFallback::Never`]).
    pub http_fallback: HttpFallback,
    /// When the connection's permessage-deflate state is given back (default
    /// [`CodecRelease::WhenIdle`]).
    pub codec_release: CodecRelease,
}

/// When a [`Client`] gives back its connection's permessage-deflate state (the compressor,
/// about 270 KiB, and the inflater's, about 40 KiB; the inflater's history of the server's
/// window stays): a choice that depends on whether the driver fires the client's timers while
/// the application is away.
///
/// ```
/// # use responses_ws_core::client::{ClientConfig, CodecRelease};
/// # use responses_ws_core::ws::WsUrl;
/// let mut config = ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?);
/// assert_eq!(config.codec_release, CodecRelease::WhenIdle);
/// // A driver that runs the client's timers all the time, as the pool does:
/// config.codec_release = CodecRelease::OnTimer;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecRelease {
    /// As soon as the session is idle (a response ended; nothing queued, in flight or
    /// awaiting tool outputs), and only then: the connection's own timer
    /// ([`DeflateConfig::release_after`](crate::ws::DeflateConfig::release_after)) is not
    /// used. For a driver that stops driving when the application stops calling it, as the
    /// adapters' connections do: no timer would free the state later, so an agent's
    /// connection between turns holds none of it. Each turn after that builds it again.
    #[default]
    WhenIdle,
    /// By the connection's own timer, once no message has moved for
    /// [`DeflateConfig::release_after`](crate::ws::DeflateConfig::release_after). For a
    /// driver that fires [`Client::handle_timeout`] at [`Client::poll_timeout`] while the
    /// application is away, as the pool's does: a busy connection keeps its codec from turn
    /// to turn instead of freeing and building it at every idle moment, which fragments the
    /// allocator's heap under load (BENCHMARKS.md, quiet run 2).
    OnTimer,
}

/// When a [`Client`] gives WebSocket mode up for HTTP + SSE ([`ClientEvent::UseHttp`]).
///
/// ```
/// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent, HttpFallback};
/// # use responses_ws_core::mock::{MockPeer, Script};
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
/// # use responses_ws_core::mock::{Refusal, UpgradeFault};
/// let mut config = ClientConfig::new(url);
/// config.http_fallback = HttpFallback::OnUpgradeRequired;
/// let mut client = Client::new(config);
/// let refusing = Script::new().with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired));
/// let mut server = MockPeer::new(refusing, 0, Instant::ZERO);
/// client.connect([1; 32], Instant::ZERO)?;
/// let events = server.exchange(&mut client, Instant::ZERO);
/// assert!(events.iter().any(|event| matches!(event, ClientEvent::UseHttp { .. })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpFallback {
    /// Never: a refused upgrade and a spent retry budget fail the waiting requests
    /// ([`ClientEvent::GaveUp`]).
    #[default]
    Never,
    /// When the server refuses the upgrade with `426 Upgrade Required` (WebSocket mode is
    /// not offered to this key or endpoint).
    OnUpgradeRequired,
    /// After a 426, and also whenever the retry budget is spent.
    AlsoAfterGivingUp,
}

impl ClientConfig {
    /// Defaults for `url`, with an inbound message limit large enough for whole responses.
    ///
    /// ```
    /// # use responses_ws_core::client::{ClientConfig, HttpFallback};
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let config = ClientConfig::new(WsUrl::parse("wss://api.openai.com/v1/responses")?);
    /// assert_eq!(config.url.host(), "api.openai.com");
    /// assert!(config.headers.is_empty());
    /// assert_eq!(config.http_fallback, HttpFallback::Never);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(url: WsUrl) -> Self {
        ClientConfig {
            url,
            headers: Vec::new(),
            ws: ws::Config::default(),
            session: SessionConfig::default(),
            refreshable_credentials: false,
            http_fallback: HttpFallback::Never,
            codec_release: CodecRelease::WhenIdle,
        }
    }

    /// Adds `Authorization: Bearer <key>`.
    ///
    /// ```
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let config = ClientConfig::new(url).api_key("sk-test");
    /// assert_eq!(config.headers, [("Authorization".to_string(), "Bearer sk-test".to_string())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn api_key(mut self, key: &str) -> Self {
        self.headers
            .push(("Authorization".into(), alloc::format!("Bearer {key}")));
        self
    }

    /// Adds an upgrade header.
    ///
    /// ```
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let config = ClientConfig::new(url).header("OpenAI-Beta", "responses_multi_agent=v1");
    /// assert_eq!(config.headers[0].0, "OpenAI-Beta");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Replaces the `Authorization` header with `Bearer <key>` (fresh credentials).
    ///
    /// ```
    /// # use responses_ws_core::client::ClientConfig;
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut config = ClientConfig::new(url).api_key("sk-old");
    /// config.set_api_key("sk-new");
    /// assert_eq!(config.headers, [("Authorization".to_string(), "Bearer sk-new".to_string())]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_api_key(&mut self, key: &str) {
        self.headers
            .retain(|(name, _)| !name.eq_ignore_ascii_case("authorization"));
        self.headers
            .push(("Authorization".into(), alloc::format!("Bearer {key}")));
    }
}

/// Header values that carry secrets are not printed.
impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(name, value)| {
                let secret = ["authorization", "api-key", "openai-api-key"]
                    .iter()
                    .any(|s| name.eq_ignore_ascii_case(s));
                (
                    name.as_str(),
                    if secret { "<redacted>" } else { value.as_str() },
                )
            })
            .collect();
        f.debug_struct("ClientConfig")
            .field("url", &self.url)
            .field("headers", &headers)
            .field("ws", &self.ws)
            .field("session", &self.session)
            .field("refreshable_credentials", &self.refreshable_credentials)
            .field("http_fallback", &self.http_fallback)
            .field("codec_release", &self.codec_release)
            .finish()
    }
}

/// What the client reports.
///
/// ```
/// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
/// # use responses_ws_core::mock::{MockPeer, Script};
/// # use responses_ws_core::session::SessionEvent;
/// # use responses_ws_core::wire::ResponseCreate;
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
/// # let mut client = Client::new(ClientConfig::new(url.clone()));
/// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
/// # client.connect([1; 32], Instant::ZERO)?;
/// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
/// for event in server.exchange(&mut client, Instant::ZERO) {
///     match event {
///         ClientEvent::Connected { .. } => println!("connected"),
///         ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
///             assert_eq!(response.all_output_text(), "Hello!");
///         }
///         ClientEvent::Disconnected { closed } => println!("disconnected: {closed:?}"),
///         _ => {}
///     }
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
// Nearly every event is a session event: boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum ClientEvent {
    /// The upgrade succeeded; the headers of the `101` answer.
    Connected {
        /// The server's headers.
        headers: Vec<Header>,
    },
    /// What the session reports.
    Session(SessionEvent),
    /// The server sent a binary message, which the protocol does not use; it was ignored.
    UnexpectedBinary {
        /// Its size.
        len: usize,
    },
    /// The connection ended (a refused upgrade included: `closed.error` says why). What
    /// follows says what happens next: [`Reconnecting`](Self::Reconnecting),
    /// [`GaveUp`](Self::GaveUp), or nothing after the application's own close. The session
    /// keeps every lane's conversation either way.
    Disconnected {
        /// How it ended.
        closed: Closed,
    },
    /// A connection or an attempt to open one failed and another is due after `delay`
    /// ([`Client::next_dial`] says when).
    Reconnecting {
        /// The attempt it will be within the streak of failures (2 for the first retry;
        /// 1 for a planned rotation, which spends nothing).
        attempt: u32,
        /// The wait before it.
        delay: Duration,
        /// Why the last one ended; `None` for a planned rotation.
        cause: Option<Failure>,
        /// Fetch fresh credentials first (after a 401), then dial.
        refresh_credentials: bool,
    },
    /// Retrying is over: no connection will be opened any more. Every request that waited
    /// has failed with [`RequestError::GaveUp`](crate::session::RequestError::GaveUp)
    /// (reported just before). [`Client::connect`] starts a new streak by hand.
    GaveUp(Box<GaveUp>),
    /// WebSocket mode is given up for HTTP + SSE, as [`ClientConfig::http_fallback`] asks,
    /// instead of [`GaveUp`](Self::GaveUp): no request failed and no connection will be
    /// opened. Move the session over with [`Client::into_session`] and
    /// [`HttpClient::from_session`](crate::http_client::HttpClient::from_session) (sticky: a
    /// [`TransportChoice`](crate::http_client::TransportChoice) says when to try WebSocket
    /// mode again).
    UseHttp {
        /// Why: a 426, or the last failure of a spent budget.
        cause: Failure,
    },
}

/// Answers tool calls for [`Client::set_tool_handler`]: the lane, the call, and the output.
pub type ToolHandler = Box<dyn FnMut(&Lane, &ToolCall) -> ToolOutput + Send>;

/// The client machine: connect, create responses on lanes, answer tool calls, steer.
///
/// Drive it as any machine of the core: after each input, drain
/// [`poll_event`](Self::poll_event), then [`poll_transmit`](Self::poll_transmit), and call
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout). When
/// [`is_finished`](Self::is_finished) says so, close the socket; after
/// [`ClientEvent::Disconnected`], open a new one and call [`connect`](Self::connect) again.
///
/// ```
/// use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
/// use responses_ws_core::wire::ResponseCreate;
/// use responses_ws_core::ws::WsUrl;
/// use responses_ws_core::Instant;
///
/// let url = WsUrl::parse("wss://api.openai.com/v1/responses").unwrap();
/// let mut client = Client::new(ClientConfig::new(url).api_key("sk-test"));
/// client.connect([7; 32], Instant::ZERO)?;
/// let upgrade = client.poll_transmit().unwrap();
/// assert!(upgrade.starts_with(b"GET /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\n"));
///
/// // Requests made before the upgrade completes wait for it.
/// client.create(ResponseCreate { model: Some("gpt-5.5".into()), input: Some("Hi".into()), ..Default::default() })?;
/// assert!(client.poll_transmit().is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Client {
    config: ClientConfig,
    session: Session,
    /// Answers every tool call as it arrives, when set.
    tool_handler: Option<ToolHandler>,
    /// The current connection, if any; the session outlives it.
    connection: Option<Connection>,
    /// Session frames the connection's outbound queue had no room for yet, in order.
    outbox: VecDeque<String>,
    events: VecDeque<ClientEvent>,
    /// Failed connections since the last completed response, judged by the retry policy.
    budget: Budget,
    /// When the adapter should open the next socket, if one is due.
    next_dial: Option<Instant>,
    /// Why we are closing the current connection ourselves, if we are.
    closing: Option<OwnClose>,
    /// How retrying ended, once it has.
    gave_up: Option<GaveUp>,
    now: Instant,
    bytes_sent: u64,
    bytes_received: u64,
}

/// Why the client closes a connection itself.
#[derive(Debug)]
enum OwnClose {
    /// The application asked: nothing follows.
    Application,
    /// The session asked for a new connection: a failure (idle timeout, age limit, server
    /// error), or a planned rotation when `None`.
    Session(Option<Failure>),
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.config)
            .field("session", &self.session)
            .field("tool_handler", &self.tool_handler.as_ref().map(|_| "…"))
            .field("connection", &self.connection)
            .field("outbox", &self.outbox.len())
            .field("budget", &self.budget)
            .field("next_dial", &self.next_dial)
            .field("gave_up", &self.gave_up)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// A client with no conversation yet.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let client = Client::new(ClientConfig::new(url));
    /// assert!(client.session().is_idle());
    /// assert!(!client.is_open());
    /// assert_eq!(client.next_dial(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(config: ClientConfig) -> Self {
        Client::restore(config, Ledger::default())
    }

    /// A client that continues the conversations of a saved ledger.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// let saved = client.session().ledger().clone();
    ///
    /// // Later, in another process: the conversation goes on from the saved ledger.
    /// let restored = Client::restore(ClientConfig::new(url), saved);
    /// assert!(restored.session().ledger().lane(&Lane::Default).is_some_and(|lane| lane.last_response_id().is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn restore(config: ClientConfig, ledger: Ledger) -> Self {
        let session = Session::restore(config.session.clone(), ledger);
        Client::from_session(config, session)
    }

    /// Continues `session` (from [`HttpClient::into_session`](crate::http_client::HttpClient::into_session),
    /// say) over WebSocket: its lanes, ledger, queued requests and pending tool calls go on
    /// as they were once [`connect`](Self::connect) opens a connection. The session takes
    /// `config.session`.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// let (session, _events) = client.into_session(Instant::ZERO);
    /// let moved = Client::from_session(ClientConfig::new(url), session);
    /// assert!(moved.session().ledger().lane(&Lane::Default).is_some_and(|lane| lane.last_response_id().is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_session(config: ClientConfig, mut session: Session) -> Self {
        session.set_config(config.session.clone());
        let mut budget = Budget::new(config.session.retry.clone());
        budget.set_refreshable(config.refreshable_credentials);
        Client {
            config,
            session,
            tool_handler: None,
            connection: None,
            outbox: VecDeque::new(),
            events: VecDeque::new(),
            budget,
            next_dial: None,
            closing: None,
            gave_up: None,
            now: Instant::ZERO,
            bytes_sent: 0,
            bytes_received: 0,
        }
    }

    /// Starts a new connection (the upgrade request is queued for `poll_transmit`). `seed` is
    /// 32 random bytes for the key, the masks and the retry jitter. A connection still open
    /// is dropped first. Pass as `now` the moment the socket's dial began: the upgrade must
    /// finish within `ws.handshake_timeout` of it (the connect timeout covers TCP, TLS and
    /// the upgrade together).
    ///
    /// Called by hand (not because [`next_dial`](Self::next_dial) said so), it also ends a
    /// give-up: retrying starts again.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url).api_key("sk-test"));
    /// client.connect([7; 32], Instant::ZERO)?;
    /// let upgrade = client.poll_transmit().unwrap();
    /// assert!(upgrade.starts_with(b"GET /v1/responses HTTP/1.1\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connect(&mut self, seed: [u8; 32], now: Instant) -> Result<(), HandshakeError> {
        self.now = now;
        if self.connection.take().is_some() {
            self.session.disconnected(now);
            self.take_session_output();
        }
        self.budget.mix_randomness(&seed);
        let config = &self.config;
        let mut ws = config.ws.clone();
        if config.codec_release == CodecRelease::WhenIdle {
            // Freed when the session goes idle; no timer of the connection's own.
            ws.deflate.release_after = None;
        }
        let connection = Connection::client(&config.url, &config.headers, ws, seed, now)?;
        self.connection = Some(connection);
        self.next_dial = None;
        self.closing = None;
        self.gave_up = None;
        Ok(())
    }

    /// Ends the WebSocket transport and hands the session on (to
    /// [`HttpClient::from_session`](crate::http_client::HttpClient::from_session), say, after an
    /// upgrade refused with 426). A connection still open ends as if dropped (unstarted
    /// requests go out again on the next transport, started ones fail as interrupted): close
    /// its socket. Returns the session and the events not yet taken with
    /// [`poll_event`](Self::poll_event); the tool handler stays behind.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// let (session, events) = client.into_session(Instant::ZERO);
    /// assert!(session.is_idle());
    /// assert!(events.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn into_session(mut self, now: Instant) -> (Session, Vec<ClientEvent>) {
        if self.connection.take().is_some() {
            self.session.disconnected(now);
        }
        (self.session, self.events.into())
    }

    /// When the adapter should open the next socket (then call [`connect`](Self::connect)):
    /// after a failure the retry budget allows another attempt for, or right away for a
    /// planned rotation. `None` while a connection is current, after the application closed,
    /// and once retrying gave up.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::retry::Failure;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// let refused = Failure::Transport { message: "connection refused".into(), transient: true };
    /// client.dial_failed(refused, Instant::ZERO);
    /// let due = client.next_dial().expect("a retry is due");
    /// assert!(due > Instant::ZERO);
    /// client.connect([2; 32], due)?; // the adapter dials again at `due`
    /// assert_eq!(client.next_dial(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_dial(&self) -> Option<Instant> {
        self.next_dial
    }

    /// The socket for the next connection could not be opened (DNS, TCP, TLS, or the connect
    /// timeout): the budget decides whether another attempt follows
    /// ([`ClientEvent::Reconnecting`]) or retrying is over ([`ClientEvent::GaveUp`]).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::retry::Failure;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// let untrusted = Failure::Transport { message: "untrusted certificate".into(), transient: false };
    /// client.dial_failed(untrusted, Instant::ZERO);
    /// assert!(matches!(client.poll_event(), Some(ClientEvent::GaveUp(_))));
    /// assert_eq!(client.next_dial(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn dial_failed(&mut self, cause: Failure, now: Instant) {
        self.now = now;
        self.next_dial = None;
        let verdict = self.budget.failed(cause.clone(), now);
        self.apply(Some(cause), verdict);
    }

    /// How retrying ended, if it did (also reported as [`ClientEvent::GaveUp`]).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::retry::Failure;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// assert!(client.gave_up().is_none());
    /// client.dial_failed(Failure::Transport { message: "bad certificate".into(), transient: false }, Instant::ZERO);
    /// assert_eq!(client.gave_up().unwrap().attempts, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn gave_up(&self) -> Option<&GaveUp> {
        self.gave_up.as_ref()
    }

    /// Replaces the API key sent with the next upgrade (after
    /// [`ClientEvent::Reconnecting`] asked for fresh credentials).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url).api_key("sk-old"));
    /// client.set_api_key("sk-new");
    /// assert!(client.config().headers.iter().any(|(_, value)| value == "Bearer sk-new"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_api_key(&mut self, key: &str) {
        self.config.set_api_key(key);
    }

    /// Failed connections in the current streak (reset by a completed response).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::retry::Failure;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.dial_failed(Failure::ConnectTimeout, Instant::ZERO);
    /// assert_eq!(client.failures(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failures(&self) -> u32 {
        self.budget.failures()
    }

    /// The session: its ledger, pending tool calls, in-flight count.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// assert!(!client.session().is_idle()); // waits for the upgrade
    /// server.exchange(&mut client, Instant::ZERO);
    /// assert!(client.session().is_idle());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// The configuration.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let client = Client::new(ClientConfig::new(url));
    /// assert_eq!(client.config().url.host(), "127.0.0.1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// See [`Session::create`]. Refused with [`SessionError::Backpressure`] while
    /// [`has_room`](Self::has_room) is false; a refused request is handed back whole.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::SessionEvent;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// let request = client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// assert!(events.iter().any(|event| matches!(event,
    ///     ClientEvent::Session(SessionEvent::Completed { request: done, .. }) if *done == request)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn create(
        &mut self,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        let request = self.with_room(request)?;
        self.take(|session| session.create(request))
    }

    /// See [`Session::warm_up`]. Refused like [`create`](Self::create) when full.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::SessionEvent;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// // Prepares the conversation (instructions, tools) without generating anything.
    /// client.warm_up(ResponseCreate::new("gpt-5.5").instructions("Be brief."))?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// assert!(events.iter().any(|event| matches!(event, ClientEvent::Session(SessionEvent::Completed { .. }))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn warm_up(
        &mut self,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        let request = self.with_room(request)?;
        self.take(|session| session.warm_up(request))
    }

    /// See [`Session::fork`]. Refused like [`create`](Self::create) when full.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::{Lane, SessionEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Plan a trip"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// // A new lane continues from the default lane's last response.
    /// let fork = ResponseCreate::new("gpt-5.5").stream_id("alternative").input("Cheaper, please");
    /// client.fork(&Lane::Default, fork)?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// let alternative = Lane::named("alternative")?;
    /// assert!(events.iter().any(|event| matches!(event,
    ///     ClientEvent::Session(SessionEvent::Completed { lane, .. }) if *lane == alternative)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn fork(
        &mut self,
        from: &Lane,
        request: ResponseCreate,
    ) -> Result<RequestId, Refused<ResponseCreate>> {
        let request = self.with_room(request)?;
        self.take(|session| session.fork(from, request))
    }

    /// See [`Session::submit_tool_output`]. Never refused for lack of room: the outputs are
    /// bounded by the calls the server made, and refusing one could lose it.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script, ScriptedCall};
    /// # use responses_ws_core::session::{Lane, SessionEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url));
    /// let script = Script::new().tool_calls([ScriptedCall::new("add", r#"{"a":1,"b":2}"#)]).text("It is 3.", 1);
    /// let mut server = MockPeer::new(script, 0, Instant::ZERO);
    /// client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("What is 1 + 2?"))?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// let calls = events.into_iter().find_map(|event| match event {
    ///     ClientEvent::Session(SessionEvent::ToolCalls { calls, .. }) => Some(calls),
    ///     _ => None,
    /// }).unwrap();
    /// let answer: serde_json::Value = calls[0].parse_arguments()?;
    /// let sum = answer["a"].as_i64().unwrap() + answer["b"].as_i64().unwrap();
    /// client.submit_tool_output(&Lane::Default, &calls[0].call_id, sum.to_string())?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// assert!(events.iter().any(|event| matches!(event,
    ///     ClientEvent::Session(SessionEvent::Completed { response, .. }) if response.all_output_text() == "It is 3.")));
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

    /// See [`Session::journal`]: the conversation of `lane` is journaled as `conversation`;
    /// its write-ahead records come out of [`poll_record`](Self::poll_record).
    ///
    /// With a journaled lane, answer its tool calls from the events (or an adapter's tool
    /// loop), not with [`set_tool_handler`](Self::set_tool_handler): that handler runs
    /// before the driver has stored the records of the calls.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.journal(&Lane::Default, "conv-1")?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Pay the bill"))?;
    /// let mut stored = Vec::new();
    /// while let Some(record) = client.poll_record() {
    ///     stored.push(record); // a real driver writes it to its store first
    /// }
    /// assert!(!stored.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn journal(
        &mut self,
        lane: &Lane,
        conversation: impl Into<String>,
    ) -> Result<(), SessionError> {
        self.take(|session| session.journal(lane, conversation))
    }

    /// The next write-ahead record of a journaled lane ([`Session::poll_record`]). Drain it
    /// before [`poll_transmit`](Self::poll_transmit) and store what it gives first: the
    /// frames that a record describes are held until it was taken.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.journal(&Lane::Default, "conv-1")?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// # client.poll_transmit(); // the upgrade
    /// // The request waits until its records are taken (and stored).
    /// assert!(client.poll_transmit().is_none());
    /// let records: Vec<_> = std::iter::from_fn(|| client.poll_record()).collect();
    /// assert!(!records.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_record(&mut self) -> Option<crate::persist::Record> {
        self.session.poll_record()
    }

    /// See [`Session::export_lane`]: the lane's conversation leaves this client.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// let transfer = client.export_lane(&Lane::Default)?;
    /// assert!(client.session().ledger().lane(&Lane::Default).is_none());
    /// let mut other = Client::new(ClientConfig::new(url));
    /// other.import_lane(&Lane::Default, transfer)?;
    /// assert!(other.session().ledger().lane(&Lane::Default).is_some_and(|lane| lane.last_response_id().is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn export_lane(&mut self, lane: &Lane) -> Result<LaneTransfer, SessionError> {
        self.take(|session| session.export_lane(lane))
    }

    /// See [`Session::import_lane`]: a conversation from another client continues on `lane`.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// let transfer = client.export_lane(&Lane::Default)?;
    /// let mut other = Client::new(ClientConfig::new(url));
    /// let planner = Lane::named("planner")?;
    /// other.import_lane(&planner, transfer)?;
    /// assert!(other.session().ledger().lane(&planner).is_some_and(|lane| lane.last_response_id().is_some()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_lane(
        &mut self,
        lane: &Lane,
        transfer: LaneTransfer,
    ) -> Result<(), Refused<LaneTransfer>> {
        self.take(|session| session.import_lane(lane, transfer))
    }

    /// Answers every pending call of `lane` with `handler` (a synchronous tool loop step).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script, ScriptedCall};
    /// # use responses_ws_core::session::{Lane, SessionEvent};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url));
    /// let script = Script::new().tool_calls([ScriptedCall::new("add", r#"{"a":1,"b":2}"#)]).text("It is 3.", 1);
    /// let mut server = MockPeer::new(script, 0, Instant::ZERO);
    /// client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("What is 1 + 2?"))?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// let calls = events.into_iter().find_map(|event| match event {
    ///     ClientEvent::Session(SessionEvent::ToolCalls { calls, .. }) => Some(calls),
    ///     _ => None,
    /// }).unwrap();
    /// assert_eq!(calls[0].name, "add");
    /// client.answer_tool_calls(&Lane::Default, |call| call.arguments.len().to_string().into())?;
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// assert!(events.iter().any(|event| matches!(event, ClientEvent::Session(SessionEvent::Completed { .. }))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn answer_tool_calls(
        &mut self,
        lane: &Lane,
        mut handler: impl FnMut(&ToolCall) -> ToolOutput,
    ) -> Result<(), SessionError> {
        self.take(|session| {
            for call in session.pending_tool_calls(lane) {
                session.submit_tool_output(lane, &call.call_id, handler(&call))?;
            }
            Ok(())
        })
    }

    /// Makes the client answer every function and custom tool call itself, as soon as a
    /// response asks for it, with `handler`'s output: the turns then chain until a response
    /// makes no call (the automatic tool loop). [`SessionEvent::ToolCalls`] is still reported.
    /// MCP approval requests are left to [`submit_approval`](Self::submit_approval).
    ///
    /// ```
    /// use responses_ws_core::client::{Client, ClientConfig};
    /// use responses_ws_core::wire::ToolOutput;
    /// use responses_ws_core::ws::WsUrl;
    ///
    /// let mut client = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1:8080/v1/responses").unwrap()));
    /// client.set_tool_handler(Box::new(|_lane, call| match call.name.as_str() {
    ///     "add" => {
    ///         let args: serde_json::Value = call.parse_arguments().unwrap_or_default();
    ///         ToolOutput::Text((args["a"].as_f64().unwrap_or(0.0) + args["b"].as_f64().unwrap_or(0.0)).to_string())
    ///     }
    ///     other => ToolOutput::Text(format!("unknown tool {other}")),
    /// }));
    /// ```
    pub fn set_tool_handler(&mut self, handler: ToolHandler) {
        self.tool_handler = Some(handler);
    }

    /// See [`Session::submit_approval`].
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// // Only an approval the server asked for can be answered.
    /// let unknown = client.submit_approval(&Lane::Default, "mcpr_unknown", true, None);
    /// assert!(unknown.is_err());
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

    /// See [`Session::steer`]. Refused like [`create`](Self::create) when full; the input
    /// is handed back.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # use std::time::Duration;
    /// # let mut client = Client::new(ClientConfig::new(url));
    /// let script = Script::new().text("A long answer", 5).with_delta_delay(Duration::from_millis(50)).with_steering();
    /// let mut server = MockPeer::new(script, 0, Instant::ZERO);
    /// client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Tell me a story"))?;
    /// server.exchange(&mut client, Instant::ZERO); // started, still streaming
    /// client.steer(&Lane::Default, "Make it short")?;
    /// // Without a running response the input is handed back.
    /// let idle = Lane::named("idle")?;
    /// let refused = client.steer(&idle, "Hello?").unwrap_err();
    /// assert!(matches!(refused.into_request(), responses_ws_core::wire::Input::Text(text) if text == "Hello?"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn steer(&mut self, lane: &Lane, input: impl Into<Input>) -> Result<(), Refused<Input>> {
        let input = self.with_room(input.into())?;
        self.take(|session| session.steer(lane, input))
    }

    /// See [`Session::inject`]. Never refused for lack of room: like tool outputs, injected
    /// outputs answer calls the server waits on.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::ws::WsUrl;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # use responses_ws_core::wire::Item;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// let output = vec![Item::function_call_output("call_1", "42")];
    /// // Nothing runs on the lane: the items are handed back, not lost.
    /// let refused = client.inject(&Lane::Default, output).unwrap_err();
    /// assert_eq!(refused.into_request().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn inject(&mut self, lane: &Lane, input: Vec<Item>) -> Result<(), Refused<Vec<Item>>> {
        self.take(|session| session.inject(lane, input))
    }

    /// Whether calls that queue new frames (`create`, `fork`, `warm_up`, `steer`) are taken:
    /// the bytes waiting to be written are under `ws.max_outbound_queue`. Adapters wait for
    /// room (by writing) before such a call.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut config = ClientConfig::new(url);
    /// config.ws.max_outbound_queue = 16;
    /// let mut client = Client::new(config);
    /// client.connect([1; 32], Instant::ZERO)?; // the upgrade request is queued
    /// assert!(!client.has_room());
    /// let refused = client.create(ResponseCreate::new("gpt-5.5").input("Hi")).unwrap_err();
    /// assert!(refused.is_backpressure());
    /// client.poll_transmit(); // written to the socket
    /// assert!(client.has_room());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn has_room(&self) -> bool {
        self.queued_bytes() < self.config.ws.max_outbound_queue
    }

    /// `request` back if there is room for it, else refused with [`SessionError::Backpressure`].
    fn with_room<T>(&self, request: T) -> Result<T, Refused<T>> {
        if self.has_room() {
            Ok(request)
        } else {
            let error = SessionError::Backpressure {
                queued: self.queued_bytes(),
                limit: self.config.ws.max_outbound_queue,
            };
            Err(Refused::new(error, request))
        }
    }

    /// Starts the close handshake of the current connection (code 1000). No reconnect
    /// follows; requests that were waiting stay queued for a later [`connect`](Self::connect).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// client.close(Instant::ZERO);
    /// let events = server.exchange(&mut client, Instant::ZERO);
    /// assert!(matches!(events.last(), Some(ClientEvent::Disconnected { .. })));
    /// assert!(client.is_finished());
    /// assert_eq!(client.next_dial(), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close(&mut self, now: Instant) {
        self.now = now;
        self.next_dial = None;
        if let Some(connection) = &mut self.connection {
            self.closing = Some(OwnClose::Application);
            // Already closing or closed: nothing more to do.
            let _ = connection.close(CloseCode::NORMAL, "", now);
        }
    }

    // --- Driving ----------------------------------------------------------------------------

    /// Free space to read socket bytes into; report them with [`commit_input`](Self::commit_input).
    /// Empty without a connection.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # use responses_ws_core::ws::{self, Connection};
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let mut server = Connection::server(ws::Config::default(), [2; 32], Instant::ZERO);
    /// server.handle_input(&client.poll_transmit().unwrap(), Instant::ZERO);
    /// # assert!(matches!(server.poll_event(), Some(ws::Event::Request(_))));
    /// server.accept(&[])?;
    /// let answer = server.poll_transmit().unwrap();
    /// // Read from the socket straight into the client's buffer.
    /// let buffer = client.input_buffer();
    /// buffer[..answer.len()].copy_from_slice(&answer);
    /// client.commit_input(answer.len(), Instant::ZERO);
    /// assert!(matches!(client.poll_event(), Some(ClientEvent::Connected { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn input_buffer(&mut self) -> &mut [u8] {
        match &mut self.connection {
            Some(connection) => connection.input_buffer(),
            None => &mut [],
        }
    }

    /// `n` bytes were read into [`input_buffer`](Self::input_buffer).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # use responses_ws_core::ws::{self, Connection};
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let mut server = Connection::server(ws::Config::default(), [2; 32], Instant::ZERO);
    /// server.handle_input(&client.poll_transmit().unwrap(), Instant::ZERO);
    /// # assert!(matches!(server.poll_event(), Some(ws::Event::Request(_))));
    /// server.accept(&[])?;
    /// let answer = server.poll_transmit().unwrap();
    /// let n = answer.len();
    /// client.input_buffer()[..n].copy_from_slice(&answer);
    /// client.commit_input(n, Instant::ZERO);
    /// assert!(client.is_open() || matches!(client.poll_event(), Some(ClientEvent::Connected { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn commit_input(&mut self, n: usize, now: Instant) {
        self.now = now;
        self.bytes_received += n as u64;
        if let Some(connection) = &mut self.connection {
            connection.commit_input(n, now);
        }
    }

    /// Copies socket bytes in.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # use responses_ws_core::ws::{self, Connection};
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let mut server = Connection::server(ws::Config::default(), [2; 32], Instant::ZERO);
    /// server.handle_input(&client.poll_transmit().unwrap(), Instant::ZERO);
    /// # assert!(matches!(server.poll_event(), Some(ws::Event::Request(_))));
    /// server.accept(&[])?;
    /// let answer = server.poll_transmit().unwrap();
    /// client.handle_input(&answer, Instant::ZERO);
    /// assert!(matches!(client.poll_event(), Some(ClientEvent::Connected { .. })));
    /// assert!(client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        self.now = now;
        self.bytes_received += data.len() as u64;
        if let Some(connection) = &mut self.connection {
            connection.handle_input(data, now);
        }
    }

    /// The socket reached end of file.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::retry::Failure;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// client.handle_eof(Instant::ZERO); // the peer went away without a close frame
    /// let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    /// assert!(matches!(events[0], ClientEvent::Disconnected { .. }));
    /// assert!(matches!(events[1], ClientEvent::Reconnecting { cause: Some(Failure::Dropped), .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        if let Some(connection) = &mut self.connection {
            connection.handle_eof(now);
        }
    }

    /// Time has reached `now`.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// client.poll_transmit(); // the upgrade goes out, and no answer comes
    /// let deadline = client.poll_timeout().unwrap();
    /// client.handle_timeout(deadline);
    /// let events: Vec<_> = std::iter::from_fn(|| client.poll_event()).collect();
    /// assert!(events.iter().any(|event| matches!(event, ClientEvent::Reconnecting { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        if let Some(connection) = &mut self.connection {
            connection.handle_timeout(now);
        }
        self.session.handle_timeout(now);
        self.take_session_output();
    }

    /// The next deadline of the connection or the session.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// assert_eq!(client.poll_timeout(), None);
    /// client.connect([1; 32], Instant::ZERO)?;
    /// // The upgrade must finish within the handshake timeout.
    /// let timeout = client.config().ws.handshake_timeout.unwrap();
    /// assert_eq!(client.poll_timeout(), Some(Instant::ZERO + timeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_timeout(&self) -> Option<Instant> {
        let connection = self.connection.as_ref().and_then(Connection::poll_timeout);
        [connection, self.session.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event. Reads the connection's frames (one message at a time) and runs them
    /// through the session; may queue output, so drain `poll_transmit` after it.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # use responses_ws_core::ws::{self, Connection};
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let mut server = Connection::server(ws::Config::default(), [2; 32], Instant::ZERO);
    /// server.handle_input(&client.poll_transmit().unwrap(), Instant::ZERO);
    /// # assert!(matches!(server.poll_event(), Some(ws::Event::Request(_))));
    /// server.accept(&[])?;
    /// let answer = server.poll_transmit().unwrap();
    /// client.handle_input(&answer, Instant::ZERO);
    /// while let Some(event) = client.poll_event() {
    ///     println!("{event:?}");
    ///     while let Some(bytes) = client.poll_transmit() {
    ///         server.handle_input(&bytes, Instant::ZERO);
    ///     }
    /// }
    /// assert!(client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_event(&mut self) -> Option<ClientEvent> {
        loop {
            if let Some(event) = self.events.pop_front() {
                if self.events.is_empty() && self.is_idle() {
                    // The last event of an idle client taken: the queue's room goes with the
                    // rest of what it gave back when the response ended (it held this event).
                    self.events = VecDeque::new();
                }
                return Some(event);
            }
            let event = self.connection.as_mut()?.poll_event()?;
            self.on_connection_event(event);
        }
    }

    /// A read found nothing to read: while the session has nothing in flight, queued or
    /// awaiting tool outputs, the connection gives back its empty read buffer (16 KiB), so
    /// that an idle connection holds none; the next [`input_buffer`](Self::input_buffer)
    /// allocates it again. While a turn runs the buffer is kept for the reads to come.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// // Idle, and the socket has nothing to read: the buffer goes until the next read.
    /// client.release_input_buffer();
    /// assert!(!client.input_buffer().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_input_buffer(&mut self) {
        if let Some(connection) = &mut self.connection {
            if self.session.is_idle() {
                connection.release_input_buffer();
            }
        }
    }

    /// Gives back what an idle client can rebuild, as it does by itself when a response
    /// ends and the session is idle: for a driver whose connection went quiet otherwise (a
    /// pool whose last conversation left the connection). Nothing changes while a request is
    /// queued, in flight or waits for tool outputs. The connection's compression state goes
    /// too unless [`ClientConfig::codec_release`] leaves it to the connection's timer.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// let mut client = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// client.release_idle_memory();
    /// assert!(client.poll_transmit().is_some(), "the upgrade request is kept");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_idle_memory(&mut self) {
        self.release_when_idle();
    }

    /// Nothing in flight, queued or awaiting tool outputs, and nothing waiting to be sent.
    fn is_idle(&self) -> bool {
        self.outbox.is_empty() && self.session.is_idle()
    }

    /// A response ended: once the session is idle (nothing in flight, queued or awaiting tool
    /// outputs), gives back what the next turn can rebuild — the connection's buffers, its
    /// compression state as [`ClientConfig::codec_release`] says (now, or later by the
    /// connection's timer) and the spare capacity of the empty queues. A driver that stops
    /// reading here (the application took its answer and waits) leaves the connection
    /// holding none of it.
    fn release_when_idle(&mut self) {
        if !self.is_idle() {
            return;
        }
        if let Some(connection) = &mut self.connection {
            match self.config.codec_release {
                CodecRelease::WhenIdle => connection.release_idle_memory(),
                CodecRelease::OnTimer => connection.release_buffers(),
            }
        }
        if self.events.is_empty() {
            self.events.shrink_to_fit();
        }
        self.outbox.shrink_to_fit();
        self.session.release_idle_memory();
    }

    /// The next bytes to write to the socket. Nothing of a frame whose write-ahead records
    /// wait in [`poll_record`](Self::poll_record).
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// assert!(client.poll_transmit().is_none());
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let upgrade = client.poll_transmit().unwrap();
    /// assert!(upgrade.ends_with(b"\r\n\r\n"));
    /// assert_eq!(client.byte_counts().0, upgrade.len() as u64);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.take_session_frames();
        self.flush_outbox();
        let bytes = self.connection.as_mut()?.poll_transmit()?;
        self.bytes_sent += bytes.len() as u64;
        Some(bytes)
    }

    /// Whether the current connection is over and its last bytes are written: close the
    /// socket. True without a connection.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// assert!(client.is_finished());
    /// client.connect([1; 32], Instant::ZERO)?;
    /// assert!(!client.is_finished());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.connection.as_ref().is_none_or(Connection::is_finished)
    }

    /// Whether the upgrade is done and the connection open.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// assert!(!client.is_open());
    /// server.exchange(&mut client, Instant::ZERO);
    /// assert!(client.is_open());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_open(&self) -> bool {
        self.connection
            .as_ref()
            .is_some_and(|c| c.state() == ws::State::Open)
    }

    /// Bytes waiting to be written: the connection's outbound queue plus session frames that
    /// did not fit in it yet.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// let mut client = Client::new(ClientConfig::new(url));
    /// client.connect([1; 32], Instant::ZERO)?;
    /// assert!(client.queued_bytes() > 0);
    /// client.poll_transmit();
    /// assert_eq!(client.queued_bytes(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn queued_bytes(&self) -> usize {
        let connection = self.connection.as_ref().map_or(0, Connection::queued_bytes);
        connection + self.outbox.iter().map(String::len).sum::<usize>()
    }

    /// Bytes written to and read from sockets, over every connection.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let url = WsUrl::parse("ws://127.0.0.1/v1/responses")?;
    /// # let mut client = Client::new(ClientConfig::new(url.clone()));
    /// # let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
    /// # client.connect([1; 32], Instant::ZERO)?;
    /// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
    /// server.exchange(&mut client, Instant::ZERO);
    /// let (sent, received) = client.byte_counts();
    /// assert!(sent > 0 && received > sent);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn byte_counts(&self) -> (u64, u64) {
        (self.bytes_sent, self.bytes_received)
    }

    /// Runs one call of the session's API, then takes what it produced (frames, events),
    /// whether the call succeeded or not.
    /// Runs a session call, then moves what it queued to the connection.
    fn take<T, E>(&mut self, f: impl FnOnce(&mut Session) -> Result<T, E>) -> Result<T, E> {
        let result = f(&mut self.session);
        self.take_session_output();
        result
    }

    fn on_connection_event(&mut self, event: ws::Event) {
        match event {
            ws::Event::Open { headers } => {
                self.events.push_back(ClientEvent::Connected { headers });
                self.session.connected(self.now);
            }
            ws::Event::Message(ws::Message::Text(text)) => {
                self.session.handle_frame(text, self.now)
            }
            ws::Event::Message(ws::Message::Binary(bytes)) => {
                self.events
                    .push_back(ClientEvent::UnexpectedBinary { len: bytes.len() });
            }
            ws::Event::Closed(closed) => self.on_closed(closed),
            // Pings are answered by the connection; pongs reset its keepalive.
            ws::Event::Ping(_) | ws::Event::Pong(_) | ws::Event::Request(_) => {}
        }
        self.take_session_output();
    }

    /// The connection ended: the budget judges why, the session hears it, and the next
    /// connection is planned (or retrying is over).
    fn on_closed(&mut self, closed: Closed) {
        self.outbox.clear(); // Frames of a dead connection; the session replans them.
        let now = self.now;
        let judged = match self.closing.take() {
            Some(OwnClose::Application) => None,
            Some(OwnClose::Session(None)) => Some((None, Verdict::planned())),
            Some(OwnClose::Session(Some(cause))) => {
                Some((Some(cause.clone()), self.budget.failed(cause, now)))
            }
            None => {
                let cause = Failure::from_closed(&closed);
                Some((Some(cause.clone()), self.budget.failed(cause, now)))
            }
        };
        let gives_up = matches!(judged, Some((_, Verdict::GiveUp { .. })));
        if !gives_up {
            let cause = match &judged {
                Some((Some(cause), _)) => cause.clone(),
                _ => Failure::from_closed(&closed),
            };
            self.session.connection_lost(&cause, now);
            self.take_session_output();
        }
        self.events.push_back(ClientEvent::Disconnected { closed });
        if let Some((cause, verdict)) = judged {
            self.apply(cause, verdict);
        }
    }

    /// Carries out the budget's verdict on `cause` (`None`: a planned rotation): plan the
    /// next dial, or give up on every request.
    fn apply(&mut self, cause: Option<Failure>, verdict: Verdict) {
        match verdict {
            Verdict::Retry {
                attempt,
                delay,
                refresh_credentials,
            } => {
                self.next_dial = Some(self.now + delay);
                self.events.push_back(ClientEvent::Reconnecting {
                    attempt,
                    delay,
                    cause,
                    refresh_credentials,
                });
            }
            Verdict::GiveUp { cause, .. } if self.falls_back(&cause) => {
                self.next_dial = None;
                // Nothing fails: the session keeps every request for the HTTP transport.
                self.session.connection_lost(&cause, self.now);
                self.take_session_output();
                self.events.push_back(ClientEvent::UseHttp { cause });
            }
            Verdict::GiveUp { cause, attempts } => {
                self.next_dial = None;
                self.session.give_up(&cause, attempts);
                self.take_session_output();
                let gave_up = GaveUp::new(cause, attempts, RetrySafety::NeverSent);
                self.gave_up = Some(gave_up.clone());
                self.events
                    .push_back(ClientEvent::GaveUp(Box::new(gave_up)));
            }
        }
    }

    /// Whether giving up after `cause` hands the session to HTTP instead.
    fn falls_back(&self, cause: &Failure) -> bool {
        match self.config.http_fallback {
            HttpFallback::Never => false,
            HttpFallback::OnUpgradeRequired => cause.status() == Some(426),
            HttpFallback::AlsoAfterGivingUp => true,
        }
    }

    /// Moves the session's frames to the outbox and its events to the client's queue; a
    /// session that gave up on the connection gets it closed.
    fn take_session_output(&mut self) {
        let mut ended = false;
        loop {
            self.take_session_frames();
            let Some(event) = self.session.poll_event() else {
                break;
            };
            ended |= matches!(
                event,
                SessionEvent::Completed { .. } | SessionEvent::Failed { .. }
            );
            if let SessionEvent::ToolCalls { lane, calls, .. } = &event {
                self.answer_automatically(lane, calls);
            }
            if let SessionEvent::Completed { .. } = &event {
                self.budget.succeeded();
            }
            if let SessionEvent::Reconnect { reason } = &event {
                // What the outbox holds was sent on a connection the session gave up: it
                // replans those requests for the next one.
                self.outbox.clear();
                if let Some(connection) = &mut self.connection {
                    self.closing = Some(OwnClose::Session(reason.failure()));
                    let _ = connection.close(CloseCode::NORMAL, "", self.now);
                }
            }
            self.events.push_back(ClientEvent::Session(event));
        }
        self.flush_outbox();
        if ended {
            self.release_when_idle();
        }
    }

    /// Moves the session's frames to the outbox (none while its records wait to be taken).
    fn take_session_frames(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.outbox.push_back(frame);
        }
    }

    /// Runs the tool handler, if any, on every function and custom tool call of `calls`.
    fn answer_automatically(&mut self, lane: &Lane, calls: &[ToolCall]) {
        if let Some(handler) = &mut self.tool_handler {
            crate::tool_loop::answer_with(&mut self.session, handler, lane, calls);
        }
    }

    /// Hands outbox frames to the connection while its queue has room. A frame stays in the
    /// outbox (never dropped) until the connection takes it.
    fn flush_outbox(&mut self) {
        let Some(connection) = &mut self.connection else {
            return;
        };
        while let Some(frame) = self.outbox.front() {
            match connection.send_text(frame.clone()) {
                Ok(()) => {
                    self.outbox.pop_front();
                }
                Err(SendError::QueueFull { .. }) => return,
                // Not open yet, or closing: the session replans what it sent on the next
                // connection, so the outbox waits (or is cleared on `Closed`).
                Err(_) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{MockPeer, Script};

    #[test]
    fn an_idle_client_whose_events_were_taken_keeps_no_room_for_more() {
        let url = WsUrl::parse("ws://127.0.0.1/v1/responses").unwrap();
        let mut client = Client::new(ClientConfig::new(url));
        let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, Instant::ZERO);
        client.connect([1; 32], Instant::ZERO).unwrap();
        for _ in 0..2 {
            client
                .create(ResponseCreate::new("gpt-5.5").input("Hi"))
                .unwrap();
            // The turn's events, the last of them taken once the session is idle.
            let events = server.exchange(&mut client, Instant::ZERO);
            assert!(events.len() > 4, "{events:?}");
            assert!(client.session().is_idle());
            assert_eq!(client.events.capacity(), 0);
        }
    }
}
