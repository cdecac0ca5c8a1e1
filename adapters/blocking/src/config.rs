//! [`Config`]: everything a [`Connection`](crate::Connection) needs before it opens a socket —
//! the URL, upgrade headers (the API key among them), limits, the connect timeout, TLS and the
//! opt-in reconnect policy. Pure data: nothing here touches the network.

use std::time::Duration;

use responses_ws_core::client::ClientConfig;
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::session::SessionConfig;
use responses_ws_core::ws::{self, WsUrl};
use responses_ws_tls::TlsConfig;

use crate::ConnectError;

/// The connect timeout when none is set: 15 seconds.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where to connect and how.
///
/// The builder methods consume and return the configuration. `Debug` never prints the API
/// key (or any `Authorization` value).
///
/// ```
/// use std::time::Duration;
/// use responses_ws_blocking::{Config, ReconnectPolicy};
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?
///     .api_key("sk-secret")
///     .header("OpenAI-Beta", "responses_websockets=2026-02-06")
///     .connect_timeout(Duration::from_secs(5))
///     .reconnect(ReconnectPolicy::default());
/// assert_eq!(config.url().host(), "api.openai.com");
/// assert!(!format!("{config:?}").contains("sk-secret"));
/// # Ok::<(), responses_ws_blocking::ConnectError>(())
/// ```
#[derive(Clone, Debug)]
pub struct Config {
    pub(crate) client: ClientConfig,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: TlsConfig,
    pub(crate) reconnect: Option<ReconnectPolicy>,
}

impl Config {
    /// A configuration for `url` (`ws://` or `wss://`) with the defaults: no headers, the
    /// core's limits, a 15 s connect timeout, webpki roots, no reconnect. A bad URL is
    /// [`ConnectError::Url`].
    pub fn new(url: &str) -> Result<Config, ConnectError> {
        Ok(Config::from(ClientConfig::new(WsUrl::parse(url)?)))
    }

    /// Sends `Authorization: Bearer <key>` with the upgrade request.
    pub fn api_key(mut self, key: &str) -> Self {
        self.client = self.client.api_key(key);
        self
    }

    /// Sends an extra header with the upgrade request (`OpenAI-Beta`, `OpenAI-Organization` …).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.client = self.client.header(name, value);
        self
    }

    /// Time allowed to open the TCP connection and finish the TLS handshake, over every
    /// address the host resolves to (default 15 s). The WebSocket upgrade that follows has
    /// its own timer, [`ws::Config::handshake_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// TLS settings for `wss://` (default: webpki roots, the `ring` provider).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Reconnects by itself after a transient close or when the session asks for a new
    /// connection, waiting as `policy` says (off by default).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Limits and timers of the WebSocket layer (message size, outbound queue, keepalive …).
    pub fn ws(mut self, ws: ws::Config) -> Self {
        self.client.ws = ws;
        self
    }

    /// Limits and timings of the session (lanes, requests in flight, connection age …).
    pub fn session(mut self, session: SessionConfig) -> Self {
        self.client.session = session;
        self
    }

    /// The endpoint.
    pub fn url(&self) -> &WsUrl {
        &self.client.url
    }

    /// The core's client configuration (URL, headers, WebSocket and session settings).
    pub fn client_config(&self) -> &ClientConfig {
        &self.client
    }
}

/// Adapter defaults around a core configuration.
impl From<ClientConfig> for Config {
    fn from(client: ClientConfig) -> Self {
        Config {
            client,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: TlsConfig::default(),
            reconnect: None,
        }
    }
}
