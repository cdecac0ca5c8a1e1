//! What the adapter needs from an async runtime, and nothing more: open a TCP connection, tell
//! the time and wait until a moment. [`Runtime`] is that seam; `Tokio` (feature `tokio`), `AsyncStd`
//! (feature `async-std`) and `Smol` (feature `smol`) implement it, and any other runtime can. The driving loop of
//! [`Connection`](crate::Connection) never names a runtime.

/// `Runtime::connect` of a runtime whose TCP stream type is `$tcp`: connect, TCP_NODELAY
/// on, the stream boxed (seen through its `$view` first, if given: tokio's futures-io view).
#[cfg(any(feature = "async-std", feature = "smol", feature = "tokio"))]
macro_rules! tcp_connect {
    ($tcp:path $(, $view:ident)?) => {
        fn connect(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Box<dyn AsyncIo>>> {
            Box::pin(async move {
                let stream = <$tcp>::connect((host.as_str(), port)).await?;
                stream.set_nodelay(true)?;
                Ok(Box::new(stream $(.$view())?) as Box<dyn AsyncIo>)
            })
        }
    };
}

#[cfg(feature = "async-std")]
mod async_std;
#[cfg(feature = "smol")]
mod smol;
#[cfg(feature = "tokio")]
mod tokio;

use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Instant as StdInstant;

use futures_core::future::BoxFuture;
use futures_io::{AsyncRead, AsyncWrite};
use responses_ws_core::Instant;

#[cfg(feature = "async-std")]
pub use self::async_std::AsyncStd;
#[cfg(feature = "smol")]
pub use self::smol::Smol;
#[cfg(feature = "tokio")]
pub use self::tokio::Tokio;

/// A byte stream the connection runs over: TCP, TLS over TCP, or anything a user brings.
///
/// Implemented for every `AsyncRead + AsyncWrite + Send + Unpin` type.
///
/// ```
/// use responses_ws_futures::{Config, Connection, ResponseCreate};
/// use responses_ws_tokio::mock::{MockServer, Script};
///
/// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
/// smol::block_on(async {
///     // Any AsyncRead + AsyncWrite stream will do: here a TCP stream opened by hand.
///     let tcp = smol::net::TcpStream::connect(server.addr()).await?;
///     let mut conn = Connection::from_stream(tcp, Config::new(&server.url())?).await?;
///     let response = conn.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hello"), |_| async { String::new() }).await?;
///     assert_eq!(response.all_output_text(), "Hi!");
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait AsyncIo: AsyncRead + AsyncWrite + Send + Unpin {}

impl<T: AsyncRead + AsyncWrite + Send + Unpin + ?Sized> AsyncIo for T {}

/// The services a runtime provides to the adapter: a TCP connect, a clock and a timer.
///
/// Implement it to run on a runtime this crate does not know (or to connect through
/// something other than TCP: a proxy, a Unix socket). The connect timeout and TLS are applied
/// around [`connect`](Self::connect) by the adapter.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Instant;
/// use futures_core::future::BoxFuture;
/// use responses_ws_futures::runtime::{AsyncIo, Runtime};
///
/// /// A runtime that cannot connect (a test double): its timer never fires either.
/// #[derive(Debug)]
/// struct Nowhere;
///
/// impl Runtime for Nowhere {
///     fn connect(&self, host: String, port: u16) -> BoxFuture<'static, std::io::Result<Box<dyn AsyncIo>>> {
///         Box::pin(async move {
///             Err(std::io::Error::new(std::io::ErrorKind::ConnectionRefused, format!("{host}:{port}")))
///         })
///     }
///     fn sleep_until(&self, _deadline: Instant) -> BoxFuture<'static, ()> {
///         Box::pin(std::future::pending())
///     }
/// }
///
/// let config = responses_ws_futures::Config::new("ws://127.0.0.1:9/v1/responses")?.runtime(Nowhere);
/// # let _ = config;
/// # Ok::<(), responses_ws_futures::ConnectError>(())
/// ```
pub trait Runtime: Send + Sync + fmt::Debug + 'static {
    /// Opens a TCP connection to `host:port` (a name to resolve or an IP literal), with
    /// `TCP_NODELAY` set.
    ///
    /// ```
    /// use responses_ws_futures::runtime::{Runtime, Smol};
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    /// let port = listener.local_addr()?.port();
    /// smol::block_on(async {
    ///     let stream = Smol.connect("127.0.0.1".into(), port).await?;
    ///     # let _ = stream;
    ///     // A port nobody listens on is refused, as an error.
    ///     drop(listener);
    ///     assert!(Smol.connect("127.0.0.1".into(), port).await.is_err());
    ///     Ok::<(), std::io::Error>(())
    /// })?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn connect(&self, host: String, port: u16) -> BoxFuture<'static, io::Result<Box<dyn AsyncIo>>>;

    /// A future that completes at `deadline` (at once if it has passed), on the clock of
    /// [`now`](Self::now).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use responses_ws_futures::runtime::{Runtime, Smol};
    ///
    /// let deadline = Instant::now() + Duration::from_millis(20);
    /// smol::block_on(Smol.sleep_until(deadline));
    /// assert!(Instant::now() >= deadline);
    /// smol::block_on(Smol.sleep_until(deadline)); // passed: completes at once
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn sleep_until(&self, deadline: StdInstant) -> BoxFuture<'static, ()>;

    /// The current moment. Every time the adapter gives the protocol core (keepalive, idle
    /// and age limits, rotation, backoff) is read here, and every deadline it sleeps until is
    /// on this clock. The default is the system's monotonic clock; a runtime with a clock of
    /// its own returns it (`Tokio` returns tokio's, so that a test with paused time moves
    /// the connections' and the pool's clock too).
    ///
    /// ```
    /// use responses_ws_futures::runtime::{Runtime, Smol};
    ///
    /// let before = std::time::Instant::now();
    /// assert!(Smol.now() >= before);
    /// ```
    fn now(&self) -> StdInstant {
        StdInstant::now()
    }
}

/// The core's clock of one connection or pool: the time since it was made, on its runtime's
/// clock.
#[derive(Clone, Debug)]
pub(crate) struct Clock {
    runtime: Arc<dyn Runtime>,
    origin: StdInstant,
}

impl Clock {
    /// A clock that starts now.
    pub(crate) fn new(runtime: Arc<dyn Runtime>) -> Clock {
        let origin = runtime.now();
        Clock { runtime, origin }
    }

    /// The core's `now`.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_elapsed(self.runtime.now().saturating_duration_since(self.origin))
    }

    /// The runtime's moment for the core's `at`, to sleep until.
    pub(crate) fn at(&self, at: Instant) -> StdInstant {
        self.origin + at.elapsed()
    }
}

/// The runtime a [`Config`](crate::Config) connects and keeps time with: its own settings
/// (the `X` of the shared `responses_ws_adapter::Config`), set with
/// [`Config::runtime`](crate::Config::runtime).
///
/// Unset, the connection picks when it connects: `Tokio` when the `tokio` feature is on and
/// the call runs inside a tokio runtime, else `AsyncStd` when the `async-std` feature is on,
/// else `Smol` when `smol` is; with none of them,
/// [`Connection::connect`](crate::Connection::connect) fails with
/// [`ConnectError::NoRuntime`](crate::ConnectError::NoRuntime).
///
/// ```
/// use responses_ws_futures::runtime::{AsyncStd, Smol};
/// use responses_ws_futures::Config;
///
/// // Pick the runtime by hand; unset, the connection picks one of the enabled features'.
/// let on_smol = Config::new("ws://127.0.0.1:8080/v1/responses")?.runtime(Smol);
/// let on_async_std = Config::new("ws://127.0.0.1:8080/v1/responses")?.runtime(AsyncStd);
/// # let _ = (on_smol, on_async_std);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct RuntimeChoice(Option<Arc<dyn Runtime>>);

impl RuntimeChoice {
    /// The runtime set, or the one of the enabled features that fits the caller.
    pub(crate) fn resolve(self) -> Option<Arc<dyn Runtime>> {
        self.0.or_else(default_runtime)
    }
}

impl<R: Runtime> responses_ws_adapter::SetRuntime<R> for RuntimeChoice {
    fn set_runtime(&mut self, runtime: R) {
        self.0 = Some(Arc::new(runtime));
    }
}

/// The runtime of the enabled features that fits the caller, if any.
fn default_runtime() -> Option<Arc<dyn Runtime>> {
    #[cfg(feature = "tokio")]
    if ::tokio::runtime::Handle::try_current().is_ok() {
        return Some(Arc::new(Tokio));
    }
    #[cfg(feature = "async-std")]
    return Some(Arc::new(AsyncStd));
    #[cfg(all(not(feature = "async-std"), feature = "smol"))]
    return Some(Arc::new(Smol));
    #[cfg(not(any(feature = "async-std", feature = "smol")))]
    return None;
}

#[cfg(all(test, feature = "tokio", feature = "async-std", feature = "smol"))]
mod tests {
    use super::RuntimeChoice;

    fn chosen() -> String {
        format!("{:?}", RuntimeChoice::default().resolve().unwrap())
    }

    #[test]
    fn unset_the_runtime_is_tokio_inside_a_tokio_runtime_and_else_the_next_feature() {
        assert_eq!(chosen(), "AsyncStd");
        let tokio = ::tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(tokio.block_on(async { chosen() }), "Tokio");
    }

    #[test]
    fn a_runtime_set_by_hand_wins() {
        let mut choice = RuntimeChoice::default();
        responses_ws_adapter::SetRuntime::set_runtime(&mut choice, super::Smol);
        let tokio = ::tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let chosen = tokio.block_on(async { format!("{:?}", choice.resolve().unwrap()) });
        assert_eq!(chosen, "Smol");
    }
}
