//! [`Config`]: where to connect and how — the core's client configuration (URL, upgrade
//! headers, WebSocket and session limits) plus what only an adapter needs: TLS, the connect
//! timeout, the opt-in reconnect policy, and a slot for the adapter's own settings (the
//! futures adapter keeps its runtime there). Pure data: nothing here touches the network.

use std::time::Duration;

use responses_ws_core::client::ClientConfig;
use responses_ws_core::reconnect::ReconnectPolicy;
use responses_ws_core::session::SessionConfig;
use responses_ws_core::ws::{self, WsUrl};
use responses_ws_tls::TlsConfig;

use crate::ConnectError;

/// The default time allowed for DNS, the TCP connection and the TLS handshake together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// How to reach the server. Build it with [`Config::new`] and the builder methods.
///
/// Each adapter names its own `Config`: `Config<()>` for the tokio and blocking adapters, and
/// `Config<RuntimeChoice>` for the futures adapter, whose `X` holds the runtime (set with
/// [`Config::runtime`]). `Debug` never shows the API key or other credentials.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_adapter::{ReconnectPolicy, TlsConfig};
/// type Config = responses_ws_adapter::Config;
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?
///     .api_key("sk-secret")
///     .header("OpenAI-Beta", "responses_websockets=2026-02-06")
///     .connect_timeout(Duration::from_secs(5))
///     .tls(TlsConfig::default())
///     .reconnect(ReconnectPolicy::default());
/// assert_eq!(config.url().host(), "api.openai.com");
/// // The key never shows in Debug output.
/// assert!(!format!("{config:?}").contains("sk-secret"));
/// # Ok::<(), responses_ws_adapter::ConnectError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config<X = ()> {
    client: ClientConfig,
    connect_timeout: Duration,
    tls: TlsConfig,
    reconnect: Option<ReconnectPolicy>,
    extra: X,
}

/// A [`Config`] taken apart by the adapter that connects with it
/// ([`Config::into_parts`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigParts<X = ()> {
    /// The core's client configuration: URL, headers, WebSocket and session settings.
    pub client: ClientConfig,
    /// The time allowed for DNS, TCP connect and the TLS handshake together.
    pub connect_timeout: Duration,
    /// TLS settings for `wss://`.
    pub tls: TlsConfig,
    /// The reconnect policy, if reconnecting is on.
    pub reconnect: Option<ReconnectPolicy>,
    /// The adapter's own settings.
    pub extra: X,
}

/// What an adapter's own settings do with [`Config::runtime`]: only the futures adapter's
/// (`responses_ws_futures::runtime::RuntimeChoice`) take a runtime.
pub trait SetRuntime<R> {
    /// Makes `runtime` the one to connect and keep time with.
    fn set_runtime(&mut self, runtime: R);
}

impl<X: Default> Config<X> {
    /// A configuration for `url` (`ws://` or `wss://`) with the defaults: no headers, the
    /// core's limits, a 15 s connect timeout, webpki roots, no reconnect (and, in the futures
    /// adapter, the runtime of the enabled feature). A bad URL is [`ConnectError::Url`].
    pub fn new(url: &str) -> Result<Self, ConnectError> {
        Ok(Config::from_url(WsUrl::parse(url)?))
    }

    /// A configuration for a parsed URL, with the defaults of [`Config::new`]; the same as
    /// `Config::from(ClientConfig::new(url))`.
    pub fn from_url(url: WsUrl) -> Self {
        Config::from(ClientConfig::new(url))
    }
}

impl<X> Config<X> {
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

    /// Time allowed for DNS, the TCP connection and the TLS handshake of each connection
    /// (default [`DEFAULT_CONNECT_TIMEOUT`], 15 s). The WebSocket upgrade that follows has
    /// its own limit, [`ws::Config::handshake_timeout`].
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// TLS settings for `wss://` (default: webpki roots, the crypto provider of the enabled
    /// feature, `ring` by default).
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

    /// The runtime that connects and keeps time — futures adapter only (any
    /// `responses_ws_futures::runtime::Runtime`; default: the enabled runtime feature).
    pub fn runtime<R>(mut self, runtime: R) -> Self
    where
        X: SetRuntime<R>,
    {
        self.extra.set_runtime(runtime);
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

    /// Every setting, for the adapter that connects with them.
    pub fn into_parts(self) -> ConfigParts<X> {
        ConfigParts {
            client: self.client,
            connect_timeout: self.connect_timeout,
            tls: self.tls,
            reconnect: self.reconnect,
            extra: self.extra,
        }
    }
}

/// Adapter defaults around a core configuration.
impl<X: Default> From<ClientConfig> for Config<X> {
    fn from(client: ClientConfig) -> Self {
        Config {
            client,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            tls: TlsConfig::default(),
            reconnect: None,
            extra: X::default(),
        }
    }
}
