//! # responses-ws-futures
//!
//! The OpenAI Responses API **WebSocket mode** over the `futures-io` traits: any
//! `AsyncRead + AsyncWrite + Unpin` stream, TLS with `futures-rustls`, on any runtime. The
//! sans-IO core (`responses-ws-core`) makes every protocol decision; this crate reads, writes,
//! keeps one timer, connects and reconnects.
//!
//! - [`Config`] → [`Connection::connect`] (TCP + TLS + upgrade), or
//!   [`Connection::from_stream`] over a stream of your own.
//! - [`Connection::create`] a turn on a lane, [`Connection::next_event`] (or the
//!   [`Stream`](futures_core::Stream) of [`Connection::events`]) for its events,
//!   [`Connection::submit_tool_output`], [`Connection::steer`], [`Connection::close`].
//! - [`Connection::run_tool_loop`] drives a turn to its final answer with an async tool
//!   handler (the calls of one response run concurrently).
//!
//! Runtimes: the feature `async-std` brings `runtime::AsyncStd`, the feature `smol`
//! `runtime::Smol` (TCP connect with `TCP_NODELAY`, and the timer). Neither is on by
//! default; any other runtime plugs in through [`runtime::Runtime`]. With both on,
//! async-std is the default and [`Config::runtime`] picks the other.
//!
//! Nothing runs in the background: the connection moves only while one of its futures is
//! polled. A consumer that stops asking for events stops the reading of the socket, and TCP
//! tells the server (backpressure).
//!
//! ```no_run
//! use responses_ws_futures::{Config, Connection, ResponseCreate, RetryPolicy, ToolCall};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("wss://api.openai.com/v1/responses")?
//!     .api_key(&std::env::var("OPENAI_API_KEY")?)
//!     .retry(RetryPolicy::default());
//! let mut conn = Connection::connect(config).await?;
//! let answer = conn
//!     .run_tool_loop(
//!         ResponseCreate {
//!             model: Some("gpt-5.5".into()),
//!             input: Some("What time is it?".into()),
//!             ..Default::default()
//!         },
//!         |call: ToolCall| async move { format!("no tool named {}", call.name) },
//!     )
//!     .await?;
//! println!("{}", answer.all_output_text());
//! conn.close().await?;
//! # Ok(())
//! # }
//! ```

mod connection;
pub mod runtime;
mod socket;
mod timer;

mod transport;

pub use connection::{Connection, Events};

pub use responses_ws_adapter::common::*;

/// Where to connect and how: [`Config::new`] and the builder methods of the shared
/// [`responses_ws_adapter::Config`]; its `X` is [`runtime::RuntimeChoice`], the runtime set with
/// [`Config::runtime`].
pub type Config = responses_ws_adapter::Config<runtime::RuntimeChoice>;

#[cfg(test)]
mod tests {
    #[test]
    fn connections_can_move_between_threads() {
        fn send<T: Send + 'static>() {}
        send::<crate::Connection>();
        send::<crate::Config>();
    }
}
