//! [`Config`]: where to connect and how — the core's client configuration (URL, upgrade
//! headers, WebSocket and session limits) plus what only an adapter needs: TLS, the connect
//! timeout and the opt-in reconnect policy.

use std::time::Duration;

use responses_ws_core::client::ClientConfig;
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::session::SessionConfig;
use responses_ws_core::ws::{self, WsUrl};
use responses_ws_tls::TlsConfig;

use crate::ConnectError;

/// The default time allowed for the TCP connection and the TLS handshake.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How to reach the server. Build it with [`Config::new`] and the builder methods.
///
/// `Debug` never shows the API key or other credentials.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_tokio::{Config, ReconnectPolicy, TlsConfig};
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?
///     .api_key("sk-secret")
///     .header("OpenAI-Beta", "responses_websockets=2026-02-06")
///     .connect_timeout(Duration::from_secs(5))
///     .tls(TlsConfig::default())
///     .reconnect(ReconnectPolicy::default());
/// assert_eq!(config.url().host(), "api.openai.com");
/// assert!(!format!("{config:?}").contains("sk-secret"));
/// # Ok::<(), responses_ws_tokio::ConnectError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) client: ClientConfig,
    pub(crate) tls: TlsConfig,
    pub(crate) connect_timeout: Duration,
    pub(crate) reconnect: Option<ReconnectPolicy>,
}

impl Config {
    /// Defaults for `url` (`ws://` or `wss://`): webpki roots, a 15 s connect timeout, no
    /// reconnecting, the core's default limits.
    pub fn new(url: &str) -> Result<Config, ConnectError> {
        Ok(Config::from(ClientConfig::new(WsUrl::parse(url)?)))
    }

    /// Adds `Authorization: Bearer <key>` to the upgrade request.
    pub fn api_key(mut self, key: &str) -> Self {
        self.client = self.client.api_key(key);
        self
    }

    /// Adds an upgrade header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.client = self.client.header(name, value);
        self
    }

    /// The time allowed for the TCP connection and the TLS handshake of each connection
    /// (default 15 s). The WebSocket upgrade that follows has the core's
    /// `ws::Config::handshake_timeout` (also 15 s by default).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// TLS settings for `wss://` (default: webpki roots, the default crypto provider).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Reconnects after a connection drops (close codes 1001, 1005, 1006, 1011, 1012, 1013,
    /// 1015) or when the session asks for a new connection, after the delays of `policy`.
    /// Off by default.
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// The WebSocket layer's limits and timers.
    pub fn ws(mut self, ws: ws::Config) -> Self {
        self.client.ws = ws;
        self
    }

    /// The session's limits and timings.
    pub fn session(mut self, session: SessionConfig) -> Self {
        self.client.session = session;
        self
    }

    /// The endpoint.
    pub fn url(&self) -> &WsUrl {
        &self.client.url
    }

    /// The core's client configuration.
    pub fn client_config(&self) -> &ClientConfig {
        &self.client
    }
}

/// Adapter defaults around a core configuration.
impl From<ClientConfig> for Config {
    fn from(client: ClientConfig) -> Self {
        Config {
            client,
            tls: TlsConfig::default(),
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            reconnect: None,
        }
    }
}
