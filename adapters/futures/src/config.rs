//! [`Config`]: everything a [`Connection`](crate::Connection) needs before it connects — the
//! core's client configuration (URL, upgrade headers, WebSocket and session limits) plus what
//! only an adapter knows: the connect timeout, TLS, the reconnect policy and the runtime.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use responses_ws_core::client::ClientConfig;
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::session::SessionConfig;
use responses_ws_core::ws::{self, WsUrl};
use responses_ws_tls::TlsConfig;

use crate::runtime::{default_runtime, Runtime};
use crate::ConnectError;

/// The default time allowed for DNS, TCP connect and the TLS handshake together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where and how to connect. Built with chained calls; nothing is checked until
/// [`Connection::connect`](crate::Connection::connect) but the URL.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_futures::{Config, ReconnectPolicy, TlsConfig};
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?
///     .api_key("sk-secret")
///     .header("OpenAI-Beta", "responses_websockets=2026-02-06")
///     .connect_timeout(Duration::from_secs(10))
///     .tls(TlsConfig::default())
///     .reconnect(ReconnectPolicy::default());
/// assert_eq!(config.url().host(), "api.openai.com");
/// // The key never shows in Debug output.
/// assert!(!format!("{config:?}").contains("sk-secret"));
/// # Ok::<(), responses_ws_futures::ConnectError>(())
/// ```
#[derive(Clone)]
pub struct Config {
    pub(crate) client: ClientConfig,
    pub(crate) connect_timeout: Duration,
    pub(crate) tls: TlsConfig,
    pub(crate) reconnect: Option<ReconnectPolicy>,
    pub(crate) runtime: Option<Arc<dyn Runtime>>,
}

impl Config {
    /// A configuration for `url` (`ws://` or `wss://`) with every default: 15 s connect
    /// timeout, webpki roots, no reconnect, the runtime of the enabled feature. A bad URL is
    /// [`ConnectError::Url`].
    pub fn new(url: &str) -> Result<Config, ConnectError> {
        Ok(Config::from_url(WsUrl::parse(url)?))
    }

    /// A configuration for a parsed URL (specific to this adapter; the others write
    /// `Config::from(ClientConfig::new(url))`, which works here too).
    pub fn from_url(url: WsUrl) -> Self {
        Config::from(ClientConfig::new(url))
    }

    /// Sends `Authorization: Bearer <key>` with the upgrade.
    pub fn api_key(mut self, key: &str) -> Self {
        self.client = self.client.api_key(key);
        self
    }

    /// Sends an extra upgrade header (`OpenAI-Beta`, `OpenAI-Organization` …).
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.client = self.client.header(name, value);
        self
    }

    /// Time allowed for DNS, TCP connect and the TLS handshake together (default 15 s). The
    /// WebSocket upgrade that follows has its own limit, [`ws::Config::handshake_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// TLS settings for `wss://` (default: webpki roots, the `ring` provider).
    pub fn tls(mut self, tls: TlsConfig) -> Self {
        self.tls = tls;
        self
    }

    /// Reconnects by itself, as `policy` says, when the connection drops with a retried close
    /// code or the session asks for a new connection (off by default).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// The WebSocket limits and timers (message sizes, outbound queue, keepalive …).
    pub fn ws(mut self, ws: ws::Config) -> Self {
        self.client.ws = ws;
        self
    }

    /// The session limits and timings (in-flight cap, lanes, connection age …).
    pub fn session(mut self, session: SessionConfig) -> Self {
        self.client.session = session;
        self
    }

    /// The runtime that connects and keeps time (default: the enabled runtime feature).
    pub fn runtime(mut self, runtime: impl Runtime) -> Self {
        self.runtime = Some(Arc::new(runtime));
        self
    }

    /// The URL.
    pub fn url(&self) -> &WsUrl {
        &self.client.url
    }

    /// The core's part: URL, headers, WebSocket and session limits.
    pub fn client_config(&self) -> &ClientConfig {
        &self.client
    }
}

/// The API key and other secret headers are redacted (by the core's `ClientConfig`).
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("client", &self.client)
            .field("connect_timeout", &self.connect_timeout)
            .field("tls", &self.tls)
            .field("reconnect", &self.reconnect)
            .field("runtime", &self.runtime)
            .finish()
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
            runtime: default_runtime(),
        }
    }
}
