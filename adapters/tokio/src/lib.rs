//! # responses-ws-tokio
//!
//! The tokio face of [responses-ws](responses_ws_core): the OpenAI Responses API **WebSocket
//! mode** over `tokio::net::TcpStream` (TLS with rustls for `wss://`).
//!
//! There is one async driver, in `responses-ws-futures`: connection, reconnect, the waits for
//! room and for writes, the tool loop, written once over a small runtime trait. This crate is
//! that driver with its tokio runtime ([`runtime::Tokio`], picked by [`Config::new`] when the
//! connection is made inside a tokio runtime), re-exported under the names tokio users have
//! always written, plus the scripted mock server (feature `mock`). The sans-IO core
//! ([`responses_ws_core::client::Client`]) makes every protocol decision.
//!
//! ```no_run
//! use responses_ws_tokio::{Config, Connection, ResponseCreate, RetryPolicy, ToolOutput};
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let config = Config::new("wss://api.openai.com/v1/responses")?
//!     .api_key(&std::env::var("OPENAI_API_KEY")?)
//!     .retry(RetryPolicy::default());
//! let mut conn = Connection::connect(config).await?;
//! let request = ResponseCreate::new("gpt-5.5").input("What's the weather in Paris?");
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
//! Many agents on few connections: [`pool::Pool`] (`Pool::builder(config).spawn()` starts
//! its driver on the current tokio runtime).
//!
//! The connection needs a tokio runtime with IO and time enabled (`enable_all`).

#[cfg(feature = "mock")]
pub mod mock;

pub use responses_ws_futures::{
    pool, runtime, Config, Connection, EventStream, Events, ReuniteError, ReuniteRefusal, Sender,
};

pub use responses_ws_adapter::common::*;
