//! [`Error`]: why a pool call or a turn did not succeed.

use std::fmt;

use responses_ws_core::persist::ReplayError;
use responses_ws_core::pool::{PoolError, Rejected, TurnError};
use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::ResponseCreate;
use responses_ws_store::StoreError;

/// Why a pool conversation's call or turn did not succeed (the same in the async and the
/// blocking pool).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The pool did not take the turn; the request is handed back
    /// ([`Rejected::into_request`]). [`Rejected::is_overloaded`] says whether waiting and
    /// trying again can succeed.
    Rejected(Rejected<ResponseCreate>),
    /// The pool refused a call (an unknown tool call id, a conversation with a turn running,
    /// too many conversations …).
    Pool(PoolError),
    /// The turn failed: its last request failed, or it waited too long for a lane or the
    /// pool closed while it waited (the request is handed back in the [`TurnError`]).
    Turn(TurnError),
    /// `run_tool_loop`: the response asks for MCP approvals, which a tool handler cannot
    /// give. Its other calls were answered and the turn ended with these open: answer them
    /// with `Conversation::submit_approval`, then `Conversation::continue_tool_loop`.
    ApprovalRequired(Vec<ToolCall>),
    /// The turn ended without a response (it did not get a lane).
    NoResponse,
    /// The pool's driver was dropped (or its runtime shut down, or its thread ended):
    /// nothing moves any more.
    DriverGone,
    /// The store refused or failed a call of a journaled conversation (taking its lease,
    /// reading it back).
    Store(StoreError),
    /// A stored conversation whose records do not replay.
    Replay(ReplayError),
}

impl Error {
    /// The request, when the pool handed it back (refused, waited too long, server
    /// unreachable, closed).
    pub fn into_request(self) -> Option<ResponseCreate> {
        match self {
            Error::Rejected(rejected) => Some(rejected.into_request()),
            Error::Turn(
                TurnError::WaitTimeout { request, .. }
                | TurnError::Unreachable { request, .. }
                | TurnError::Closed { request },
            ) => Some(*request),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Rejected(rejected) => write!(f, "the pool did not take the turn: {rejected}"),
            Error::Pool(error) => write!(f, "{error}"),
            Error::Turn(error) => write!(f, "the turn failed: {error}"),
            Error::ApprovalRequired(calls) => write!(
                f,
                "the response waits for {} MCP approval(s), which a tool handler cannot give",
                calls.len()
            ),
            Error::NoResponse => f.write_str("the turn ended without a response"),
            Error::DriverGone => f.write_str("the pool's driver is gone"),
            Error::Store(error) => write!(f, "durable store: {error}"),
            Error::Replay(error) => write!(f, "the stored conversation does not replay: {error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Rejected(rejected) => Some(rejected),
            Error::Pool(error) => Some(error),
            Error::Turn(error) => Some(error),
            Error::Store(error) => Some(error),
            Error::Replay(error) => Some(error),
            _ => None,
        }
    }
}

impl From<Rejected<ResponseCreate>> for Error {
    fn from(rejected: Rejected<ResponseCreate>) -> Self {
        Error::Rejected(rejected)
    }
}
