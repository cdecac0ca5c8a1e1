//! # responses-ws-tokio
//!
//! The tokio adapter of [responses-ws](responses_ws_core): the OpenAI Responses API
//! **WebSocket mode** over `tokio::net::TcpStream`, with `tokio-rustls` for `wss://`.
//!
//! The sans-IO core ([`responses_ws_core::client::Client`]) makes every protocol decision —
//! handshake, framing, lanes, the ledger that replays full context, tool-call sequencing,
//! when to reconnect and how long to wait. This crate only connects (TCP + TLS), reads,
//! writes, waits on one timer, and seeds randomness from the OS. Everything runs inside the
//! caller's awaits: there is no background task.
//!
//! ```no_run
//! use responses_ws_tokio::{Config, Connection, ResponseCreate, RetryPolicy, ToolOutput};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("wss://api.openai.com/v1/responses")?
//!     .api_key(&std::env::var("OPENAI_API_KEY")?)
//!     .retry(RetryPolicy::default());
//! let mut conn = Connection::connect(config).await?;
//! let request = ResponseCreate {
//!     model: Some("gpt-5.5".into()),
//!     input: Some("What's the weather in Paris?".into()),
//!     ..Default::default()
//! };
//! let response = conn
//!     .run_tool_loop(request, |call| async move {
//!         ToolOutput::from(format!("sunny ({})", call.arguments))
//!     })
//!     .await?;
//! println!("{}", response.all_output_text());
//! conn.close().await?;
//! # Ok(())
//! # }
//! ```
//!
//! Files: `connection` (the public
//! calls; `connection/driver` the read → core → write loop, `connection/tool_loop` the tool
//! loop), `transport` (TCP, TLS, connect timeout), `outbound` (the write batch), `clock`
//! (time and the timer), `entropy` (OS randomness).
//!
//! The timer needs a tokio runtime with time enabled (`enable_time` or `enable_all`).

mod clock;
mod connection;
mod entropy;
#[cfg(feature = "mock")]
pub mod mock;
mod outbound;
mod transport;

pub use connection::{Connection, Events};

pub use responses_ws_adapter::common::*;

/// Where to connect and how: [`Config::new`] and the builder methods of the shared
/// [`responses_ws_adapter::Config`].
pub type Config = responses_ws_adapter::Config;

#[cfg(test)]
mod tests {
    #[test]
    fn connections_can_move_between_threads() {
        fn send<T: Send + 'static>() {}
        send::<crate::Connection>();
        send::<crate::Config>();
    }
}
