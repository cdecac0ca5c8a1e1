//! [`AsyncStd`]: TCP connect and timer from async-std (feature `async-std`).

use std::io;
use std::time::Instant as StdInstant;

use futures_core::future::BoxFuture;

use super::{AsyncIo, Runtime};

/// The async-std runtime: `async_std::net::TcpStream` and `async_std::task::sleep`.
///
/// ```no_run
/// use responses_ws_futures::{runtime::AsyncStd, Config, Connection};
///
/// async_std::task::block_on(async {
///     let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.runtime(AsyncStd);
///     let _conn = Connection::connect(config).await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStd;

impl Runtime for AsyncStd {
    tcp_connect!(async_std::net::TcpStream);

    fn sleep_until(&self, deadline: StdInstant) -> BoxFuture<'static, ()> {
        let wait = deadline.saturating_duration_since(StdInstant::now());
        Box::pin(async_std::task::sleep(wait))
    }
}
