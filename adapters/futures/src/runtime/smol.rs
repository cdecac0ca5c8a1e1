//! [`Smol`]: TCP connect and timer from smol (feature `smol`).

use std::io;
use std::time::Instant as StdInstant;

use futures_core::future::BoxFuture;

use super::{AsyncIo, Runtime};

/// The smol runtime: `smol::net::TcpStream` and `async_io::Timer`.
///
/// ```no_run
/// use responses_ws_futures::{runtime::Smol, Config, Connection};
///
/// smol::block_on(async {
///     let config = Config::new("ws://127.0.0.1:8080/v1/responses")?.runtime(Smol);
///     let _conn = Connection::connect(config).await?;
///     Ok::<(), Box<dyn std::error::Error>>(())
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Smol;

impl Runtime for Smol {
    tcp_connect!(smol::net::TcpStream);

    fn sleep_until(&self, deadline: StdInstant) -> BoxFuture<'static, ()> {
        let timer = async_io::Timer::at(deadline);
        Box::pin(async move {
            timer.await;
        })
    }
}
