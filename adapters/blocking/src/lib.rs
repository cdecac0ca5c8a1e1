//! # responses-ws-blocking
//!
//! The blocking adapter of responses-ws: the OpenAI Responses API in WebSocket mode over a
//! `std::net::TcpStream` (inside `rustls` for `wss://`), driven by the calling thread. No async
//! runtime; a [`Connection`] runs no background thread (the [`pool`] runs one).
//!
//! The sans-IO core ([`responses_ws_core::client::Client`]) makes every protocol decision:
//! handshake, framing, lanes, the ledger that replays full context, tool-call sequencing, when
//! to reconnect and how long to wait. This crate only connects, reads, writes and waits:
//!
//! - [`Connection::connect`] opens TCP (TCP_NODELAY, a connect timeout over every resolved
//!   address), TLS with the [`TlsConfig`] of `responses-ws-tls`, and the WebSocket upgrade;
//!   failures are a typed [`ConnectError`] (a refused upgrade keeps status, headers, body).
//! - [`Connection::next_event`] / [`Connection::events`] hand out [`ClientEvent`]s, reading
//!   the socket only when the core has none left (backpressure reaches the server through
//!   TCP). The core's one deadline becomes the socket's read and write timeout.
//! - [`Connection::create`], [`submit_tool_output`](Connection::submit_tool_output),
//!   [`steer`](Connection::steer) … tell the core the time first (connection rotation), then
//!   write before they return (vectored writes when several chunks wait).
//! - [`Connection::run_tool_loop`] drives a lane to its final answer with a handler.
//! - Failures are retried within the core's retry budget ([`Config::retry`]; five attempts
//!   by default, backoff 0.5 s doubling to 8 s with jitter, `Retry-After` honoured); the
//!   events report [`ClientEvent::Reconnecting`] before each new attempt and
//!   [`ClientEvent::GaveUp`] when the budget is spent.
//!
//! ```no_run
//! use responses_ws_blocking::{Config, Connection, ResponseCreate, ToolOutput};
//!
//! let config = Config::new("wss://api.openai.com/v1/responses")?
//!     .api_key(&std::env::var("OPENAI_API_KEY")?);
//! let mut conn = Connection::connect(config)?;
//! let answer = conn.run_tool_loop(
//!     ResponseCreate {
//!         model: Some("gpt-5.5".into()),
//!         input: Some("What time is it?".into()),
//!         ..Default::default()
//!     },
//!     |_call| ToolOutput::Text("12:00".into()),
//! )?;
//! println!("{}", answer.all_output_text());
//! conn.close()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! HTTP + SSE: when an upgrade is refused with 426 (by default), or after a spent retry
//! budget ([`Config::http_fallback`](responses_ws_adapter::Config::http_fallback)), or from the
//! start ([`Config::transport`](responses_ws_adapter::Config::transport)), the same
//! `Connection` runs its conversations over `POST /v1/responses` with `stream: true`, a socket
//! per request in flight (read in turns when there are several); [`ClientEvent::UseHttp`]
//! reports the move.
//!
//! Many agents on few connections (feature `pool`, on by default): [`pool::Pool`], a
//! [`pool::Conversation`] per agent thread — the async pool of `responses-ws-futures`, driven
//! by one engine thread.
//!
//! Features: `ring` (default) or `aws-lc-rs` pick the rustls crypto provider; `native-roots`
//! trusts the platform's certificates (see `responses-ws-tls`); `tracing` gives a
//! [`Connection`] a `tracing` span, one per turn, and events for its connection's life (see
//! `responses_ws_adapter::ConnectionTrace`) and the pool those of `responses-ws-futures`.

mod connection;
mod durable;
mod events;
mod http;
mod outbound;
#[cfg(feature = "pool")]
pub mod pool;
mod random;
mod tool_loop;
mod transport;

pub use connection::Connection;
pub use events::Events;

pub use responses_ws_adapter::common::*;

/// Where to connect and how: [`Config::new`] and the builder methods of the shared
/// [`responses_ws_adapter::Config`].
pub type Config = responses_ws_adapter::Config;

// A connection and its configuration can move between threads (checked when compiling).
const _: () = {
    const fn send<T: Send + 'static>() {}
    send::<(Connection, Config)>();
};
