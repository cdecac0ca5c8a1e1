//! What the HTTP client is told (where to send, limits, the session's settings) and what it
//! tells its driver (sockets to open and close, the session's events).

use alloc::format;
use core::fmt;
use core::time::Duration;

use crate::client::ClientConfig;
use crate::http::{Header, Limits, Target};
use crate::session::{SessionConfig, SessionEvent};

/// The "connection age" of a transport without connections: far enough never to come, near
/// enough that a driver adding it to a clock does not overflow (a century).
const NO_AGE_LIMIT: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// Where requests go and with which limits.
///
/// ```
/// use responses_ws_core::http::Target;
/// use responses_ws_core::http_client::HttpClientConfig;
///
/// let config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses")).api_key("sk-test");
/// assert!(!format!("{config:?}").contains("sk-test"));
/// assert_eq!(config.max_idle_sockets, 4);
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct HttpClientConfig {
    /// The `Host`, the path (`/v1/responses`) and the headers of every request.
    pub target: Target,
    /// HTTP limits (heads, bodies, events).
    pub limits: Limits,
    /// The session's limits and timings, the retry policy among them. The client adjusts
    /// what has no meaning over HTTP: no connection-local cache, no connection age, no
    /// per-connection lane limit.
    pub session: SessionConfig,
    /// Sockets kept open between requests for reuse (keep-alive); more are closed (default 4).
    pub max_idle_sockets: usize,
    /// Whether fresh credentials can be had after a `401` (the driver has a credentials
    /// source): the client then asks for them once ([`HttpClientEvent::RefreshCredentials`])
    /// and sends the refused request again. Default `false`: a 401 fails the request.
    pub refreshable_credentials: bool,
}

impl HttpClientConfig {
    /// Defaults for `target`.
    pub fn new(target: Target) -> Self {
        HttpClientConfig {
            target,
            limits: Limits::default(),
            session: SessionConfig::default(),
            max_idle_sockets: 4,
            refreshable_credentials: false,
        }
    }

    /// The HTTP + SSE configuration of a WebSocket client's: the same host, port and path
    /// (`wss://` becomes `https://`), headers, session settings and credentials refresh.
    ///
    /// ```
    /// use responses_ws_core::client::ClientConfig;
    /// use responses_ws_core::http_client::HttpClientConfig;
    /// use responses_ws_core::ws::WsUrl;
    ///
    /// let ws = ClientConfig::new(WsUrl::parse("wss://api.openai.com:8443/v1/responses")?).api_key("sk-test");
    /// let http = HttpClientConfig::for_client(&ws);
    /// assert_eq!(http.target.host, "api.openai.com:8443");
    /// assert_eq!(http.target.path, "/v1/responses");
    /// assert_eq!(http.target.headers.len(), 1, "the key");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_client(config: &ClientConfig) -> Self {
        let url = &config.url;
        let mut target = Target::new(url.host_header(), url.resource());
        for (name, value) in &config.headers {
            target = target.with_header(Header::new(name.as_str(), value.as_str()));
        }
        let mut http = HttpClientConfig::new(target);
        http.session = config.session.clone();
        http.refreshable_credentials = config.refreshable_credentials;
        http
    }

    /// Adds `Authorization: Bearer <key>` to every request.
    pub fn api_key(mut self, key: &str) -> Self {
        self.set_api_key(key);
        self
    }

    /// Replaces the `Authorization` header of every request with `Bearer <key>`.
    ///
    /// ```
    /// use responses_ws_core::http::Target;
    /// use responses_ws_core::http_client::HttpClientConfig;
    ///
    /// let mut config = HttpClientConfig::new(Target::new("api.openai.com", "/v1/responses")).api_key("sk-old");
    /// config.set_api_key("sk-new");
    /// let auth: Vec<_> = config.target.headers.iter().filter_map(|h| h.value_str()).collect();
    /// assert_eq!(auth, ["Bearer sk-new"]);
    /// ```
    pub fn set_api_key(&mut self, key: &str) {
        let headers = &mut self.target.headers;
        headers.retain(|header| !header.name.eq_ignore_ascii_case("authorization"));
        headers.push(Header::new("Authorization", format!("Bearer {key}")));
    }

    /// The session's configuration as the HTTP transport runs it.
    pub(crate) fn session_config(&self) -> SessionConfig {
        let mut session = self.session.clone();
        session.connection_cache = false;
        session.max_named_lanes = usize::MAX;
        session.max_age = NO_AGE_LIMIT;
        session.rotate_after = NO_AGE_LIMIT;
        session
    }
}

/// One transport socket of the client, named by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SocketId(pub(crate) u64);

impl SocketId {
    /// The number behind the id (unique within a client).
    pub fn get(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SocketId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "socket {}", self.0)
    }
}

/// What the HTTP client reports.
#[derive(Debug)]
#[non_exhaustive]
// Nearly every event is a session event: boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum HttpClientEvent {
    /// Open a new connection (TCP, TLS) to the target under this id; write what
    /// [`poll_transmit`](super::HttpClient::poll_transmit) gives for it once it is open, or
    /// report [`dial_failed`](super::HttpClient::dial_failed).
    Dial {
        /// The new socket.
        socket: SocketId,
    },
    /// Close this socket once what was taken from `poll_transmit` is written; the id is not
    /// used again.
    Close {
        /// The socket.
        socket: SocketId,
    },
    /// What the session reports.
    Session(SessionEvent),
    /// A request was refused with `401` and
    /// [`refreshable_credentials`](HttpClientConfig::refreshable_credentials) is set: fetch
    /// fresh credentials and report them with
    /// [`credentials_refreshed`](super::HttpClient::credentials_refreshed). No request starts
    /// meanwhile; the refused one goes out again after it (once per streak: a second `401`
    /// fails the request with the server's error).
    RefreshCredentials,
}
