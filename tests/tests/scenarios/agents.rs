//! One synchronous face over every adapter and runtime, so that each scenario is written once:
//! blocking directly, tokio on a current-thread runtime, futures-io on async-std and on smol.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use responses_ws_core::client::{Client, ClientEvent, HttpFallback};
use responses_ws_core::http_client::Transport;
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::{Lane, RequestId, Session, SessionConfig, ToolCall};
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};
use responses_ws_core::ws;
use responses_ws_tls::TlsConfig;

/// How to connect.
#[derive(Clone, Default)]
pub(crate) struct Setup {
    pub(crate) tls: Option<TlsConfig>,
    /// The retry budget; `None`: no retries (one attempt, every failure final).
    pub(crate) retry: Option<RetryPolicy>,
    pub(crate) connect_timeout: Option<Duration>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) ws: Option<ws::Config>,
    pub(crate) session: Option<SessionConfig>,
    /// The transport to start on; `None`: WebSocket mode.
    pub(crate) transport: Option<Transport>,
    /// When to move to HTTP + SSE; `None`: the adapters' default (after a 426).
    pub(crate) http_fallback: Option<HttpFallback>,
    /// How long a fallback lasts before WebSocket mode is tried again.
    pub(crate) reprobe_after: Option<Duration>,
    /// The API key to start with.
    pub(crate) api_key: Option<String>,
    /// Where fresh credentials come from after a 401.
    pub(crate) credentials: Option<Credentials>,
}

/// A credentials source for [`Setup::credentials`].
pub(crate) type Credentials = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// A refused connection: the HTTP status of a refused upgrade, if any, and the error's text.
#[derive(Debug)]
pub(crate) struct Refused {
    pub(crate) status: Option<u16>,
    pub(crate) retry_after: Option<String>,
    /// Connection attempts made before giving up.
    pub(crate) attempts: u32,
    pub(crate) message: String,
}

/// What every scenario needs from an adapter.
pub(crate) trait Agent: Sized {
    /// Connects to `url`.
    fn connect(url: &str, setup: Setup) -> Result<Self, Refused>;
    /// Creates a turn.
    fn create(&mut self, request: ResponseCreate) -> RequestId;
    /// Forks lane `to` (in `request.stream_id`) from `from`.
    fn fork(&mut self, from: &Lane, request: ResponseCreate) -> RequestId;
    /// The next event (reading as needed); `None` when the connection is over.
    fn next_event(&mut self) -> Option<ClientEvent>;
    /// Runs the tool loop of the adapter with the deterministic handler of [`answer`].
    fn tool_loop(
        &mut self,
        request: ResponseCreate,
        calls: Arc<AtomicUsize>,
    ) -> Result<Response, String>;
    /// The core's WebSocket client (byte counts), while on WebSocket mode.
    fn client(&self) -> Option<&Client>;
    /// The session (ledger, requests in flight), on either transport.
    fn session(&self) -> &Session;
    /// The transport the conversation runs on.
    fn transport(&self) -> Transport;
    /// Steers the lane's running response.
    fn steer(&mut self, lane: &Lane, input: &str) -> Result<(), responses_ws_blocking::Error>;
    /// Closes the connection.
    fn close(&mut self);
}

/// The tool every scenario's calls go to: echoes its name and arguments.
pub(crate) fn answer(call: &ToolCall, calls: &AtomicUsize) -> ToolOutput {
    calls.fetch_add(1, Ordering::SeqCst);
    ToolOutput::Text(format!(
        "{{\"tool\":\"{}\",\"args\":{}}}",
        call.name, call.arguments
    ))
}

// --- blocking -----------------------------------------------------------------------------

pub(crate) struct Blocking(responses_ws_blocking::Connection);

macro_rules! configure {
    ($krate:ident, $url:expr, $setup:expr) => {{
        let setup: Setup = $setup;
        let mut config = $krate::Config::new($url).expect("a valid URL");
        if let Some(tls) = setup.tls {
            config = config.tls(tls);
        }
        config = config.retry(setup.retry.unwrap_or_else(RetryPolicy::never));
        if let Some(timeout) = setup.connect_timeout {
            config = config.connect_timeout(timeout);
        }
        if setup.idle_timeout.is_some() {
            config = config.idle_timeout(setup.idle_timeout);
        }
        if let Some(ws) = setup.ws {
            config = config.ws(ws);
        }
        if let Some(session) = setup.session {
            config = config.session(session);
        }
        if let Some(transport) = setup.transport {
            config = config.transport(transport);
        }
        if let Some(fallback) = setup.http_fallback {
            config = config.http_fallback(fallback);
        }
        if let Some(interval) = setup.reprobe_after {
            config = config.reprobe_after(interval);
        }
        if let Some(key) = &setup.api_key {
            config = config.api_key(key);
        }
        if let Some(source) = setup.credentials {
            config = config.credentials(move || source());
        }
        config
    }};
}

macro_rules! refused {
    ($error:expr) => {{
        let error = $error;
        Refused {
            status: error.status(),
            retry_after: error
                .response()
                .and_then(|r| r.header("retry-after"))
                .map(String::from),
            attempts: error.attempts(),
            message: error.to_string(),
        }
    }};
}

impl Agent for Blocking {
    fn connect(url: &str, setup: Setup) -> Result<Self, Refused> {
        let config = configure!(responses_ws_blocking, url, setup);
        responses_ws_blocking::Connection::connect(config)
            .map(Blocking)
            .map_err(|e| refused!(e))
    }
    fn create(&mut self, request: ResponseCreate) -> RequestId {
        self.0.create(request).expect("create")
    }
    fn fork(&mut self, from: &Lane, request: ResponseCreate) -> RequestId {
        self.0.fork(from, request).expect("fork")
    }
    fn next_event(&mut self) -> Option<ClientEvent> {
        self.0.next_event().expect("next_event")
    }
    fn tool_loop(
        &mut self,
        request: ResponseCreate,
        calls: Arc<AtomicUsize>,
    ) -> Result<Response, String> {
        self.0
            .run_tool_loop(request, |call| answer(call, &calls))
            .map_err(|e| e.to_string())
    }
    fn client(&self) -> Option<&Client> {
        self.0.client()
    }
    fn session(&self) -> &Session {
        self.0.session()
    }
    fn transport(&self) -> Transport {
        self.0.transport()
    }
    fn steer(&mut self, lane: &Lane, input: &str) -> Result<(), responses_ws_blocking::Error> {
        self.0.steer(lane, input)
    }
    fn close(&mut self) {
        let _ = self.0.close();
    }
}

// --- async adapters over a `block_on` ------------------------------------------------------

/// Runs futures to completion on one runtime.
pub(crate) trait Executor: Default {
    fn block_on<F: Future>(&mut self, future: F) -> F::Output;
}

#[derive(Default)]
pub(crate) struct AsyncStdExecutor;
impl Executor for AsyncStdExecutor {
    fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        async_std::task::block_on(future)
    }
}

#[derive(Default)]
pub(crate) struct SmolExecutor;
impl Executor for SmolExecutor {
    fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        smol::block_on(future)
    }
}

pub(crate) struct TokioExecutor(tokio::runtime::Runtime);
impl Default for TokioExecutor {
    fn default() -> Self {
        TokioExecutor(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        )
    }
}
impl Executor for TokioExecutor {
    fn block_on<F: Future>(&mut self, future: F) -> F::Output {
        self.0.block_on(future)
    }
}

/// An async adapter's connection with the runtime that drives it.
pub(crate) struct Async<C, E> {
    conn: C,
    executor: E,
}

pub(crate) type Tokio = Async<responses_ws_tokio::Connection, TokioExecutor>;
pub(crate) type AsyncStd = Async<responses_ws_futures::Connection, AsyncStdExecutor>;
pub(crate) type Smol = Async<responses_ws_futures::Connection, SmolExecutor>;

/// The async adapters share their method names; this writes the `Agent` impl once for each.
macro_rules! async_agent {
    ($agent:ty, $krate:ident, $executor:ty, $config:expr) => {
        impl Agent for $agent {
            fn connect(url: &str, setup: Setup) -> Result<Self, Refused> {
                let config = ($config)(configure!($krate, url, setup));
                let mut executor = <$executor>::default();
                let conn = executor
                    .block_on($krate::Connection::connect(config))
                    .map_err(|e| refused!(e))?;
                Ok(Async { conn, executor })
            }
            fn create(&mut self, request: ResponseCreate) -> RequestId {
                self.executor
                    .block_on(self.conn.create(request))
                    .expect("create")
            }
            fn fork(&mut self, from: &Lane, request: ResponseCreate) -> RequestId {
                self.executor
                    .block_on(self.conn.fork(from, request))
                    .expect("fork")
            }
            fn next_event(&mut self) -> Option<ClientEvent> {
                self.executor
                    .block_on(self.conn.next_event())
                    .expect("next_event")
            }
            fn tool_loop(
                &mut self,
                request: ResponseCreate,
                calls: Arc<AtomicUsize>,
            ) -> Result<Response, String> {
                let handler = |call: ToolCall| {
                    let calls = calls.clone();
                    async move { answer(&call, &calls) }
                };
                self.executor
                    .block_on(self.conn.run_tool_loop(request, handler))
                    .map_err(|e| e.to_string())
            }
            fn client(&self) -> Option<&Client> {
                self.conn.client()
            }
            fn session(&self) -> &Session {
                self.conn.session()
            }
            fn transport(&self) -> Transport {
                self.conn.transport()
            }
            fn steer(
                &mut self,
                lane: &Lane,
                input: &str,
            ) -> Result<(), responses_ws_blocking::Error> {
                self.executor.block_on(self.conn.steer(lane, input))
            }
            fn close(&mut self) {
                let _ = self.executor.block_on(self.conn.close());
            }
        }
    };
}

async_agent!(Tokio, responses_ws_tokio, TokioExecutor, |config| config);
async_agent!(
    AsyncStd,
    responses_ws_futures,
    AsyncStdExecutor,
    |config: responses_ws_futures::Config| config.runtime(responses_ws_futures::runtime::AsyncStd)
);
async_agent!(
    Smol,
    responses_ws_futures,
    SmolExecutor,
    |config: responses_ws_futures::Config| config.runtime(responses_ws_futures::runtime::Smol)
);

// --- any adapter over HTTP + SSE -----------------------------------------------------------

/// An adapter's connection that runs over HTTP + SSE from the start
/// (`Config::transport(Transport::Http)`): the same scenarios, the other transport.
pub(crate) struct OverHttp<A>(A);

impl<A: Agent> Agent for OverHttp<A> {
    fn connect(url: &str, setup: Setup) -> Result<Self, Refused> {
        let setup = Setup {
            transport: Some(Transport::Http),
            ..setup
        };
        let agent = A::connect(url, setup)?;
        assert_eq!(agent.transport(), Transport::Http);
        Ok(OverHttp(agent))
    }
    fn create(&mut self, request: ResponseCreate) -> RequestId {
        self.0.create(request)
    }
    fn fork(&mut self, from: &Lane, request: ResponseCreate) -> RequestId {
        self.0.fork(from, request)
    }
    fn next_event(&mut self) -> Option<ClientEvent> {
        self.0.next_event()
    }
    fn tool_loop(
        &mut self,
        request: ResponseCreate,
        calls: Arc<AtomicUsize>,
    ) -> Result<Response, String> {
        self.0.tool_loop(request, calls)
    }
    fn client(&self) -> Option<&Client> {
        self.0.client()
    }
    fn session(&self) -> &Session {
        self.0.session()
    }
    fn transport(&self) -> Transport {
        self.0.transport()
    }
    fn steer(&mut self, lane: &Lane, input: &str) -> Result<(), responses_ws_blocking::Error> {
        self.0.steer(lane, input)
    }
    fn close(&mut self) {
        self.0.close()
    }
}
