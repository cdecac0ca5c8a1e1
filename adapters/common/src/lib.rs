//! # responses-ws-adapter
//!
//! What the responses-ws adapters (`responses-ws-tokio`, `responses-ws-futures`,
//! `responses-ws-blocking`) share, independent of their runtime: [`Config`] (where to connect
//! and how), the errors [`ConnectError`] and [`Error`], [`DEFAULT_CONNECT_TIMEOUT`],
//! [`MAX_SET_ASIDE_EVENTS`], and the
//! names every adapter re-exports ([`common`]). Each adapter re-exports these at its root, so
//! an application names them through its adapter (`responses_ws_tokio::Config` …) and never
//! needs this crate directly.
//!
//! Files: `attempts` ([`Attempts`]: what a driver remembers across connection attempts),
//! `config` ([`Config`], [`ConfigParts`], [`Credentials`], [`SetRuntime`]), `connection`
//! ([`ConnectionState`]: a plain connection's state apart from its sockets, and the calls
//! both drivers make on it; `connection_accessors!`: the read-only calls of both drivers'
//! `Connection`), `durable`
//! ([`Durable`]: the store a driver writes journaled conversations to before it sends),
//! `error` ([`ConnectError`], [`Error`]), `machine` ([`Machine`]: a connection's session on
//! WebSocket mode or HTTP + SSE, and the moves between them), `pool` (the pool's state apart from its IO: the
//! conversations' mailboxes, the pool's error and `Resumption`), `tool_run` ([`ToolRun`]: a
//! tool loop on a connection; [`DurableRun`]: how a durable run goes on), `trace` ([`ConnectionTrace`]: a
//! connection's `tracing` spans, feature `tracing`).

mod attempts;
mod config;
mod connection;
mod durable;
mod error;
mod machine;
pub mod pool;
mod tool_run;
mod trace;

pub use attempts::Attempts;
pub use config::{
    Config, ConfigParts, Credentials, SetRuntime, StoreConfig, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_REPROBE_AFTER, MAX_SET_ASIDE_EVENTS,
};
pub use connection::{ConnectionState, SocketParts};
pub use durable::{Durable, Resumed, SharedStore, Start, DEFAULT_LEASE_TTL};
pub use error::{ConnectError, Error, Returned};
pub use machine::{http_config, Machine, MachineEvent, SocketRequest};
pub use tool_run::{DurableRun, ToolRun, ToolStep};
pub use trace::ConnectionTrace;

pub use common::*;

/// The names every adapter re-exports at its root (`pub use responses_ws_adapter::common::*`):
/// the errors, the default connect timeout, the core's event, lane, request and wire types,
/// the TLS settings, and the core and TLS crates themselves. `Config` is not among them: each
/// adapter names its own (see [`Config`]).
pub mod common {
    pub use crate::{
        ConnectError, Durable, Error, Resumed, Returned, SharedStore, DEFAULT_CONNECT_TIMEOUT,
        DEFAULT_REPROBE_AFTER, MAX_SET_ASIDE_EVENTS,
    };

    pub use responses_ws_core;
    pub use responses_ws_core::client::{ClientEvent, HttpFallback};
    pub use responses_ws_core::http_client::Transport;
    pub use responses_ws_core::retry::{Failure, GaveUp, RetryPolicy, RetrySafety};
    pub use responses_ws_core::session::{Lane, RequestError, RequestId, SessionEvent, ToolCall};
    pub use responses_ws_core::wire::{Input, Response, ResponseCreate, ToolOutput};
    pub use responses_ws_store::{self, FileStore, MemoryStore, Store, StoreError};
    pub use responses_ws_tls::{self, TlsConfig};
}

#[cfg(test)]
mod tests {
    #[test]
    fn configs_and_errors_can_move_between_threads() {
        fn send<T: Send + 'static>() {}
        send::<crate::Config>();
        send::<crate::Error>();
        send::<crate::ConnectError>();
    }
}
