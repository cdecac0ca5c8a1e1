//! # responses-ws-futures
//!
//! The one async driver of the OpenAI Responses API **WebSocket mode**, for every runtime:
//! tokio, async-std, smol, or yours. Connection, reconnect and retry, the waits for room and
//! for writes, and the tool loop are written once over the `futures-io` traits and a small
//! [`runtime::Runtime`] (a TCP connect and a timer); TLS with `futures-rustls`. The sans-IO
//! core (`responses-ws-core`) makes every protocol decision; this crate reads, writes, keeps
//! one timer, connects and reconnects.
//!
//! - [`Config`] → [`Connection::connect`] (TCP + TLS + upgrade), or
//!   [`Connection::from_stream`] over a stream of your own.
//! - [`Connection::create`] a turn on a lane, [`Connection::next_event`] (or the
//!   [`Stream`](futures_core::Stream) of [`Connection::events`]) for its events,
//!   [`Connection::submit_tool_output`], [`Connection::steer`], [`Connection::close`].
//! - [`Connection::run_tool_loop`] drives a turn to its final answer with an async tool
//!   handler (the calls of one response run concurrently).
//!
//! Runtimes: the features `tokio`, `async-std` and `smol` bring `runtime::Tokio`,
//! `runtime::AsyncStd` and `runtime::Smol` (TCP connect with `TCP_NODELAY`, and the timer).
//! None is on by default; any other runtime plugs in through [`runtime::Runtime`]. Unset,
//! the runtime is tokio when the connection is made inside a tokio runtime, else async-std,
//! else smol (by feature); [`Config::runtime`] picks one explicitly.
//! (`responses-ws-tokio` is this driver with tokio, under tokio names.)
//!
//! Feature `tracing`: a [`Connection`] has a `tracing` span, one per turn, and events for its
//! connection's life (see `responses_ws_adapter::ConnectionTrace`); the pool has its own.
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
//!
//! Many agents: [`pool::Pool`] multiplexes thousands of conversations on a few connections
//! (lanes, admission under spikes, rotation, moves off failed connections), driven by one
//! [`pool::PoolDriver`] future spawned on any runtime.
//!
//! HTTP + SSE: when an upgrade is refused with 426 (by default), or after a spent retry
//! budget ([`Config::http_fallback`](responses_ws_adapter::Config::http_fallback)), or from the
//! start ([`Config::transport`](responses_ws_adapter::Config::transport)), the same
//! `Connection` runs its conversations over `POST /v1/responses` with `stream: true`, a socket
//! per request in flight; [`ClientEvent::UseHttp`] reports the move, and WebSocket mode is
//! tried again after [`Config::reprobe_after`](responses_ws_adapter::Config::reprobe_after).
//!
//! Files: `connection` (the public calls; `connection/driver` the read → core → write loop
//! and the waits, `connection/tool_loop` the tool loop), `runtime` (the trait and one file per
//! runtime), `transport` (TCP, TLS, connect timeout), `socket` (a stream and its write
//! batch), `http` (the sockets of HTTP + SSE), `split` (a connection as a sender and an event
//! stream), `timer` (the one timer), `pool` (the pool's driver and handles).

mod connection;
mod http;
pub mod pool;
pub mod runtime;
mod socket;
mod split;
mod timer;
mod transport;

pub use connection::{Connection, Events};
pub use split::{EventStream, ReuniteError, ReuniteRefusal, Sender};

pub use responses_ws_adapter::common::*;

/// Where to connect and how: [`Config::new`] and the builder methods of the shared
/// [`responses_ws_adapter::Config`]; its `X` is [`runtime::RuntimeChoice`], the runtime set with
/// [`Config::runtime`].
pub type Config = responses_ws_adapter::Config<runtime::RuntimeChoice>;

// A connection and its configuration can move between threads (checked when compiling).
const _: () = {
    const fn send<T: Send + 'static>() {}
    send::<(Connection, Config)>();
};
