//! # responses-ws-core
//!
//! The sans-IO core of the OpenAI Responses API **WebSocket mode**.
//!
//! The crate never touches sockets, clocks, threads or the OS random number generator: bytes,
//! time and randomness come in as arguments, and bytes, events and deadlines come out. Adapters
//! (tokio, futures-io, blocking `std::net`) drive it.
//!
//! Layers, from the bottom up:
//!
//! - [`ws`]: RFC 6455 — handshake (client and server role), frames, masking, incremental UTF-8
//!   validation, message assembly, control frames, the close handshake and keepalive timers.
//! - [`wire`]: the Responses vocabulary — client events, server events, the `Response` object.
//! - [`session`]: the conversation — lanes, response assembly, tool calls, the ledger.
//! - [`http`]: HTTP/1.1 framing and server-sent events, for the HTTP transport and the mock.
//! - [`client`]: [`ws`] and [`session`] as one machine, across reconnects: what adapters drive.
//! - [`persist`]: write-ahead records of a conversation and their replay, for durable stores.
//! - [`pool`]: many conversations on few connections — lanes, admission, dial rate,
//!   rotation, moving conversations off a failed connection.
//! - [`tool_loop`]: the tool loop's step — which request it follows, which calls to answer,
//!   what ends it — so that every adapter runs the same loop.
//! - [`retry`]: bounded retrying — which failures are worth another attempt, the backoff,
//!   the budget per request and per streak of connections, retry-safety classes.
//! - [`mock`]: a scripted mock Responses server, sans-IO, for tests and benchmarks.
//!
//! The crate is `no_std` + `alloc` when built without the default `std` feature. `std` turns on
//! the `deflate` feature (permessage-deflate, [`ws::DeflateConfig`]), which also builds alone
//! without `std`.
#![cfg_attr(not(feature = "std"), no_std)]
#![cfg_attr(docsrs, feature(doc_cfg))]

extern crate alloc;

pub mod client;
pub mod http;
pub mod http_client;
pub mod mock;
pub mod persist;
pub mod pool;
pub mod retry;
pub mod session;
pub mod time;
pub mod tool_loop;
pub mod wire;
pub mod ws;

pub use time::Instant;
