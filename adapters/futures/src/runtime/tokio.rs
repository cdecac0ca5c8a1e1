//! [`Tokio`]: TCP connect and timer from tokio (feature `tokio`); the stream is seen through
//! `tokio-util`'s futures-io view.

use std::io;
use std::time::Instant as StdInstant;

use futures_core::future::BoxFuture;
use tokio_util::compat::TokioAsyncReadCompatExt;

use super::{AsyncIo, Runtime};

/// The tokio runtime: `tokio::net::TcpStream`, `tokio::time::Instant::now` and
/// `tokio::time::sleep_until`. Needs a tokio
/// runtime with IO and time enabled (`enable_all`); it is also what
/// [`Config::new`](crate::Config::new) picks when called inside one.
///
/// ```no_run
/// use responses_ws_futures::{runtime::Tokio, Config, Connection};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.runtime(Tokio);
/// let _conn = Connection::connect(config).await?;
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

impl Runtime for Tokio {
    tcp_connect!(tokio::net::TcpStream, compat);

    fn sleep_until(&self, deadline: StdInstant) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep_until(deadline.into()))
    }

    /// tokio's clock: paused and advanced with tokio's test utilities.
    fn now(&self) -> StdInstant {
        tokio::time::Instant::now().into_std()
    }
}
