//! What the pool tells its driver and its users ([`PoolEvent`]), and its errors: a call it
//! refused ([`Rejected`], with [`PoolError`]) and a turn that failed ([`TurnError`]).

use alloc::boxed::Box;
use core::fmt;

use super::ids::{ConnId, ConvId, TurnId};
use crate::retry::Failure;
use crate::session::{Refused, RequestError, SessionError, SessionEvent};
use crate::wire::ResponseCreate;

/// What the pool reports, in order.
#[derive(Debug)]
#[non_exhaustive]
// Nearly every event is a conversation's session event: boxing it would cost an allocation
// per event.
#[allow(clippy::large_enum_variant)]
pub enum PoolEvent {
    /// Open a socket for `conn` (TCP to the configured URL's host and port, TLS for
    /// `wss://`), then write what [`Pool::poll_transmit`](super::Pool::poll_transmit) gives
    /// for it: a WebSocket upgrade first, or over HTTP + SSE one request at a time (the
    /// driver need not know which). If the socket cannot be opened, call
    /// [`Pool::dial_failed`](super::Pool::dial_failed).
    Dial {
        /// The new connection.
        conn: ConnId,
    },
    /// `conn` is over: close its socket. Its id is never used again; input for it is
    /// ignored.
    Close {
        /// The connection.
        conn: ConnId,
    },
    /// A waiting turn got a lane on `conn`.
    TurnAdmitted {
        /// The conversation.
        conv: ConvId,
        /// The turn.
        turn: TurnId,
        /// The connection serving it (over HTTP an HTTP connection, whose id is none of its
        /// sockets').
        conn: ConnId,
    },
    /// What the session reports for a conversation's turn: started, streamed, completed,
    /// tool calls to answer (with [`Pool::submit_tool_output`](super::Pool::submit_tool_output)),
    /// retried, replayed with full context, failed. Its `lane` is the pool's, not the
    /// user's.
    Conversation {
        /// The conversation.
        conv: ConvId,
        /// The turn.
        turn: TurnId,
        /// The event.
        event: SessionEvent,
    },
    /// The turn is over: its last response made no tool call (`Ok`), or it failed. Exactly
    /// once per admitted turn, and for a waiting turn that timed out.
    TurnEnded {
        /// The conversation.
        conv: ConvId,
        /// The turn.
        turn: TurnId,
        /// How it ended.
        result: Result<(), TurnError>,
    },
}

/// Why a turn failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum TurnError {
    /// Its last request failed (the session's error; the input stays in the conversation).
    Request(RequestError),
    /// It waited [`PoolConfig::max_wait`](super::PoolConfig::max_wait) for a lane; the
    /// request is handed back. `last_failure` is the last failure to open a connection, if
    /// one is why.
    WaitTimeout {
        /// The request, unchanged.
        request: Box<ResponseCreate>,
        /// Why no connection had room, when opening one failed.
        last_failure: Option<Failure>,
    },
    /// No connection could be opened for it, for a reason no attempt fixes (an untrusted
    /// certificate, a `403`), and no other connection takes turns: it ended at once rather
    /// than wait for the next probe to fail the same way. The request is handed back.
    Unreachable {
        /// The request, unchanged.
        request: Box<ResponseCreate>,
        /// Why the connection could not be opened.
        failure: Failure,
    },
    /// The pool was closed while the turn waited; the request is handed back.
    Closed {
        /// The request, unchanged.
        request: Box<ResponseCreate>,
    },
    /// The connection's session refused the request (not expected: the pool only places a
    /// turn where it fits); the request is handed back.
    Refused(Box<Refused<ResponseCreate>>),
    /// The driver could not store the write-ahead records of this journaled conversation
    /// ([`Pool::journal_failed`](super::Pool::journal_failed)): nothing of them went out.
    /// `fenced`: another worker took the conversation over, which takes no more turns here;
    /// else (the store down, full) its records are kept and its next turn writes them first.
    NotDurable {
        /// Another worker holds the conversation's lease.
        fenced: bool,
        /// What the store said.
        reason: alloc::string::String,
    },
}

impl fmt::Display for TurnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TurnError::Request(error) => write!(f, "{error}"),
            TurnError::WaitTimeout { last_failure, .. } => {
                f.write_str("the turn waited too long for a lane")?;
                match last_failure {
                    Some(failure) => write!(f, " (last connection failure: {failure})"),
                    None => Ok(()),
                }
            }
            TurnError::Unreachable { failure, .. } => {
                write!(f, "no connection to the server could be opened: {failure}")
            }
            TurnError::Closed { .. } => f.write_str("the pool was closed while the turn waited"),
            TurnError::Refused(refused) => write!(f, "{refused}"),
            TurnError::NotDurable {
                fenced: true,
                reason,
            } => {
                write!(f, "another worker took the conversation over: {reason}")
            }
            TurnError::NotDurable { reason, .. } => {
                write!(f, "the turn's records could not be stored: {reason}")
            }
        }
    }
}

impl core::error::Error for TurnError {}

/// A pool call that was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PoolError {
    /// No lane is free now (`try_turn`), or `limit` turns wait already (`turn`): wait and
    /// try again.
    Overloaded {
        /// Turns waiting now.
        waiting: usize,
        /// The waiting limit.
        limit: usize,
    },
    /// The pool has [`PoolConfig::max_conversations`](super::PoolConfig::max_conversations).
    TooManyConversations {
        /// The limit.
        limit: usize,
    },
    /// The pool is closing ([`Pool::close`](super::Pool::close)): it takes no new turn.
    Closed,
    /// No such conversation (never opened, or closed).
    UnknownConversation(ConvId),
    /// The conversation has a turn already; wait for its
    /// [`TurnEnded`](PoolEvent::TurnEnded).
    Busy(ConvId),
    /// The request or the tool output is not valid for the session (a field the pool owns
    /// such as `stream_id` or `previous_response_id`, an unknown call id …).
    Session(SessionError),
    /// A conversation of the pool is journaled under this id already.
    AlreadyOpen(alloc::string::String),
    /// Another worker took this journaled conversation over (its lease): it takes no
    /// more turns here.
    Fenced(ConvId),
    /// Tool calls (or MCP approval requests) of the conversation's last response wait for
    /// answers ([`Pool::pending_tool_calls`](super::Pool::pending_tool_calls)): give them
    /// first; they go out with the next turn.
    ToolCallsOpen(ConvId),
}

impl fmt::Display for PoolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PoolError::Overloaded { waiting, limit } => write!(
                f,
                "the pool is overloaded ({waiting} turns wait, limit {limit}); try again later"
            ),
            PoolError::TooManyConversations { limit } => {
                write!(f, "the pool holds {limit} conversations already")
            }
            PoolError::Closed => f.write_str("the pool is closing"),
            PoolError::UnknownConversation(conv) => write!(f, "no conversation {conv}"),
            PoolError::Busy(conv) => write!(f, "{conv} has a turn running already"),
            PoolError::Session(error) => write!(f, "{error}"),
            PoolError::AlreadyOpen(id) => {
                write!(f, "conversation {id:?} is open in the pool already")
            }
            PoolError::Fenced(conv) => write!(f, "another worker took {conv} over"),
            PoolError::ToolCallsOpen(conv) => {
                write!(f, "tool calls of {conv} wait for their outputs")
            }
        }
    }
}

impl core::error::Error for PoolError {}

impl From<SessionError> for PoolError {
    fn from(error: SessionError) -> Self {
        PoolError::Session(error)
    }
}

/// A request the pool did not take, handed back whole with why.
///
/// ```
/// use responses_ws_core::pool::{PoolError, Rejected};
///
/// let rejected = Rejected::new(PoolError::Overloaded { waiting: 3, limit: 3 }, "request");
/// assert!(rejected.is_overloaded());
/// assert_eq!(rejected.into_request(), "request");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected<T> {
    error: PoolError,
    request: Box<T>,
}

impl<T> Rejected<T> {
    /// `request` refused for `error`.
    pub fn new(error: PoolError, request: T) -> Self {
        Rejected {
            error,
            request: Box::new(request),
        }
    }

    /// Why.
    pub fn error(&self) -> &PoolError {
        &self.error
    }

    /// Whether waiting and trying again can succeed.
    pub fn is_overloaded(&self) -> bool {
        matches!(self.error, PoolError::Overloaded { .. })
    }

    /// The request, unchanged.
    pub fn into_request(self) -> T {
        *self.request
    }
}

impl<T> fmt::Display for Rejected<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl<T: fmt::Debug> core::error::Error for Rejected<T> {}
