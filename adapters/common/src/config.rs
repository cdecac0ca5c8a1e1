//! [`Config`]: where to connect and how — the core's client configuration (URL, upgrade
//! headers, WebSocket and session limits, the retry policy) plus what only an adapter needs:
//! TLS, the connect timeout, a source of fresh credentials, and a slot for the adapter's own
//! settings (the futures adapter keeps its runtime there). Pure data: nothing here touches
//! the network.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use responses_ws_core::client::{ClientConfig, HttpFallback};
use responses_ws_core::http_client::Transport;
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::SessionConfig;
use responses_ws_core::ws::{self, WsUrl};
use responses_ws_tls::TlsConfig;

use crate::{ConnectError, Durable, SharedStore, DEFAULT_LEASE_TTL};

/// The default time allowed for DNS, the TCP connection, the TLS handshake and the WebSocket
/// upgrade together.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Events an adapter keeps for the application while a call waits (for room in the outbound
/// queue, for a write, for a tool loop's outputs) before it stops reading the socket. A call
/// that waits cannot hand events on; past this many, the adapter only writes and keeps time
/// (the core's keepalive and close deadlines still end a wait on a peer that takes nothing),
/// and the server feels the pause through TCP, as when the application is slow to consume.
pub const MAX_SET_ASIDE_EVENTS: usize = 1024;

/// How long a connection that fell back to HTTP + SSE stays there before WebSocket mode is
/// tried again ([`Config::reprobe_after`]): 15 minutes.
pub const DEFAULT_REPROBE_AFTER: Duration = Duration::from_secs(15 * 60);

/// How to reach the server. Build it with [`Config::new`] and the builder methods.
///
/// Each adapter names its own `Config`: `Config<()>` for the tokio and blocking adapters, and
/// `Config<RuntimeChoice>` for the futures adapter, whose `X` holds the runtime (set with
/// [`Config::runtime`]). `Debug` never shows the API key or other credentials.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_adapter::{RetryPolicy, TlsConfig};
/// type Config = responses_ws_adapter::Config;
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?
///     .api_key("sk-secret")
///     .header("OpenAI-Beta", "responses_websockets=2026-02-06")
///     .connect_timeout(Duration::from_secs(5))
///     .tls(TlsConfig::default())
///     .retry(RetryPolicy::default().with_max_attempts(3))
///     .idle_timeout(Some(Duration::from_secs(120)))
///     .credentials(|| std::env::var("OPENAI_API_KEY").ok());
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
    credentials: Option<Credentials>,
    store: Option<StoreConfig>,
    transport: Transport,
    http_fallback: HttpFallback,
    reprobe_after: Duration,
    extra: X,
}

/// Where a connection writes its journaled conversations ([`Config::store`]): the store and
/// the worker's name in its leases.
#[derive(Clone)]
pub struct StoreConfig {
    /// The store.
    pub store: SharedStore,
    /// The worker's name in its leases.
    pub worker: String,
    /// How long a lease lasts unless renewed.
    pub lease_ttl: Duration,
}

impl StoreConfig {
    /// The driver's [`Durable`] for it.
    pub fn into_durable(self) -> Durable {
        Durable::new(self.store, self.worker).lease_ttl(self.lease_ttl)
    }
}

impl fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreConfig")
            .field("worker", &self.worker)
            .field("lease_ttl", &self.lease_ttl)
            .finish_non_exhaustive()
    }
}

/// Where fresh credentials come from after a `401` ([`Config::credentials`]): a function that
/// returns the new API key, or `None` to keep the current one.
#[derive(Clone)]
pub struct Credentials(Arc<dyn Fn() -> Option<String> + Send + Sync>);

impl Credentials {
    /// A fresh API key, if the source has one.
    pub fn fetch(&self) -> Option<String> {
        (self.0)()
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Credentials(…)")
    }
}

/// A [`Config`] taken apart by the adapter that connects with it
/// ([`Config::into_parts`]).
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ConfigParts<X = ()> {
    /// The core's client configuration: URL, headers, WebSocket and session settings.
    pub client: ClientConfig,
    /// The time allowed for DNS, TCP connect and the TLS handshake together; the upgrade
    /// must also be done within it of the dial's start (`client.ws.handshake_timeout` is at
    /// most this).
    pub connect_timeout: Duration,
    /// TLS settings for `wss://`.
    pub tls: TlsConfig,
    /// Where fresh credentials come from after a `401`, if anywhere.
    pub credentials: Option<Credentials>,
    /// Where journaled conversations are written, if anywhere.
    pub store: Option<StoreConfig>,
    /// The transport a connection (or a pool) starts on.
    pub transport: Transport,
    /// When a connection's WebSocket client hands its session to HTTP + SSE, or a pool
    /// moves to it (set into `client.http_fallback` by the connection and the pool).
    pub http_fallback: HttpFallback,
    /// How long a connection (or a pool) that fell back stays on HTTP before WebSocket
    /// mode is tried again.
    pub reprobe_after: Duration,
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
    /// core's limits, a 15 s connect timeout, webpki roots, the default [`RetryPolicy`] (5
    /// attempts, backoff from 0.5 s to 8 s), a 300 s stream idle timeout (and, in the futures
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

    /// Time allowed for each connection to open: DNS, TCP, TLS and the WebSocket upgrade
    /// together (default [`DEFAULT_CONNECT_TIMEOUT`], 15 s). A server that takes the TCP
    /// connection and never answers the upgrade is given up on after it (the attempt fails
    /// with [`Failure::ConnectTimeout`](responses_ws_core::retry::Failure::ConnectTimeout)
    /// and spends the retry budget). A shorter [`ws::Config::handshake_timeout`] still
    /// applies.
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

    /// How failures are retried: the first connection and every reconnect (see
    /// [`RetryPolicy`]; default: 5 attempts, backoff from 0.5 s doubling to 8 s with jitter,
    /// `Retry-After` honoured up to 60 s). [`RetryPolicy::never`] turns retrying off: the
    /// first failure is final. Sets the session's `retry` field.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.client.session.retry = policy;
        self
    }

    /// How long a response in flight may go without an event (default 300 s; `None`: no
    /// limit). When it passes, the request fails with
    /// [`RequestError::IdleTimeout`](responses_ws_core::session::RequestError::IdleTimeout)
    /// and the connection is replaced. Sets the session's `idle_timeout` field.
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.client.session.idle_timeout = timeout;
        self
    }

    /// Where a fresh API key comes from when the server refuses the upgrade (or, over HTTP +
    /// SSE, a request) with `401`: `source` is called once and the upgrade (the request)
    /// tried exactly once more with what it returns (`None` keeps the current key). Without
    /// it, a 401 is final.
    pub fn credentials(
        mut self,
        source: impl Fn() -> Option<String> + Send + Sync + 'static,
    ) -> Self {
        self.credentials = Some(Credentials(Arc::new(source)));
        self.client.refreshable_credentials = true;
        self
    }

    /// permessage-deflate (RFC 7692): offered by default (as codex does; Python `websockets`
    /// and Node `ws` offer it too); `false` leaves it out of the upgrade request. The server
    /// decides whether messages are compressed; finer settings are in
    /// [`ws::DeflateConfig`], through [`ws`](Self::ws).
    ///
    /// ```
    /// type Config = responses_ws_adapter::Config;
    ///
    /// let config = Config::new("wss://api.openai.com/v1/responses")?.deflate(false);
    /// assert!(!config.client_config().ws.deflate.enabled);
    /// # Ok::<(), responses_ws_adapter::ConnectError>(())
    /// ```
    pub fn deflate(mut self, enabled: bool) -> Self {
        self.client.ws.deflate = if enabled {
            ws::DeflateConfig::default()
        } else {
            ws::DeflateConfig::disabled()
        };
        self
    }

    /// Limits and timers of the WebSocket layer (message size, outbound queue, keepalive,
    /// permessage-deflate …).
    pub fn ws(mut self, ws: ws::Config) -> Self {
        self.client.ws = ws;
        self
    }

    /// Limits and timings of the session (lanes, requests in flight, connection age, the
    /// retry policy and the idle timeout …).
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

    /// Makes conversations durable: the connection writes the write-ahead records of the
    /// conversations it journals (`Connection::run_durable`, `journal`, `resume`) to
    /// `store`, under leases held as `worker` (a name unique among the processes sharing the
    /// store), **before** the bytes they describe are sent. Without it nothing is journaled.
    pub fn store(mut self, store: SharedStore, worker: &str) -> Self {
        self.store = Some(StoreConfig {
            store,
            worker: worker.into(),
            lease_ttl: DEFAULT_LEASE_TTL,
        });
        self
    }

    /// How long the store's leases last unless renewed (default 30 s): a worker that dies
    /// holds its conversations this long. No effect without [`store`](Self::store).
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        if let Some(store) = &mut self.store {
            store.lease_ttl = ttl;
        }
        self
    }

    /// The transport to start on (default [`Transport::WebSocket`]). [`Transport::Http`]
    /// runs the same conversations over HTTP + SSE (`POST` to the URL's host and path,
    /// `https` for `wss://`) from the start and stays there: no upgrade is tried, each
    /// request has a socket of its own (idle ones are kept for reuse), lanes run as
    /// concurrent requests, and a turn chains with `previous_response_id` only when the last
    /// response was stored (`store: true`); else it sends the full context. `steer`,
    /// `inject` and warm-ups are WebSocket mode's alone ([`Error::WebSocketOnly`](crate::Error::WebSocketOnly),
    /// the input handed back). Durable conversations ([`store`](Self::store)) are journaled
    /// alike on both transports. A pool takes it too, within the same limits: each of its
    /// connections runs its turns' requests on sockets of their own.
    ///
    /// ```
    /// use responses_ws_adapter::Transport;
    /// type Config = responses_ws_adapter::Config;
    ///
    /// let config = Config::new("wss://api.openai.com/v1/responses")?.transport(Transport::Http);
    /// assert_eq!(config.into_parts().transport, Transport::Http);
    /// # Ok::<(), responses_ws_adapter::ConnectError>(())
    /// ```
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }

    /// When a connection on WebSocket mode moves its conversations to HTTP + SSE instead of
    /// failing them (default [`HttpFallback::OnUpgradeRequired`], as codex does: an upgrade
    /// refused with `426` means WebSocket mode is not offered to this key or endpoint).
    /// [`HttpFallback::AlsoAfterGivingUp`] also moves when the retry budget is spent;
    /// [`HttpFallback::Never`] fails the requests instead. The move is reported as
    /// [`ClientEvent::UseHttp`](responses_ws_core::client::ClientEvent::UseHttp) and is
    /// sticky until [`reprobe_after`](Self::reprobe_after). A pool falls back as a whole on a
    /// `426` (unless [`HttpFallback::Never`]): its turns go over HTTP + SSE until a probe
    /// after `reprobe_after` is accepted.
    pub fn http_fallback(mut self, fallback: HttpFallback) -> Self {
        self.http_fallback = fallback;
        self
    }

    /// How long a connection that fell back stays on HTTP + SSE before WebSocket mode is
    /// tried again (default [`DEFAULT_REPROBE_AFTER`], 15 minutes; the move waits until no
    /// request is in flight).
    pub fn reprobe_after(mut self, interval: Duration) -> Self {
        self.reprobe_after = interval;
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

    /// The same settings with the adapter's own ones replaced by `extra`: how an adapter
    /// hands a configuration to another one's driver (the blocking pool runs the futures
    /// adapter's).
    ///
    /// ```
    /// type Config = responses_ws_adapter::Config;
    ///
    /// let config = Config::new("wss://api.openai.com/v1/responses")?.api_key("sk-…");
    /// let other: responses_ws_adapter::Config<u8> = config.with_extra(7);
    /// assert_eq!(other.url().host(), "api.openai.com");
    /// assert_eq!(other.into_parts().extra, 7);
    /// # Ok::<(), responses_ws_adapter::ConnectError>(())
    /// ```
    pub fn with_extra<Y>(self, extra: Y) -> Config<Y> {
        Config {
            client: self.client,
            connect_timeout: self.connect_timeout,
            tls: self.tls,
            credentials: self.credentials,
            store: self.store,
            transport: self.transport,
            http_fallback: self.http_fallback,
            reprobe_after: self.reprobe_after,
            extra,
        }
    }

    /// Every setting, for the adapter that connects with them.
    pub fn into_parts(self) -> ConfigParts<X> {
        let mut client = self.client;
        let upgrade = client.ws.handshake_timeout.unwrap_or(self.connect_timeout);
        client.ws.handshake_timeout = Some(upgrade.min(self.connect_timeout));
        ConfigParts {
            client,
            connect_timeout: self.connect_timeout,
            tls: self.tls,
            credentials: self.credentials,
            store: self.store,
            transport: self.transport,
            http_fallback: self.http_fallback,
            reprobe_after: self.reprobe_after,
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
            credentials: None,
            store: None,
            transport: Transport::WebSocket,
            http_fallback: HttpFallback::OnUpgradeRequired,
            reprobe_after: DEFAULT_REPROBE_AFTER,
            extra: X::default(),
        }
    }
}
