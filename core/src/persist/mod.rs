//! Write-ahead persistence of a conversation, sans-IO: the [`Record`]s a worker writes to a
//! durable store **before** the bytes they describe go out, and [`replay`], which rebuilds a
//! conversation from them in another process.
//!
//! The core only shapes and numbers the records ([`Journal`]) and reads them back; storing
//! them (a file, Redis) is the `responses-ws-store` crate's job. A tool output is durable once
//! its [`Entry::ToolOutputAccepted`] record is stored: a resumed worker hands only the calls
//! without such a record to the tool handler again (at-least-once for those, never twice for
//! a durable one).

mod record;
mod replay;

pub use record::{Entry, Journal, Record};
pub use replay::{replay, AwaitedCall, ReplayError, Replayed};
