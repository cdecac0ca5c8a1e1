//! What can go wrong with a store, typed: a caller decides from the variant whether to stop
//! (fenced), wait (held, unavailable) or give up on the store (I/O, corrupt data).

use std::fmt;
use std::io;

/// Why a store refused or failed an operation. Nothing was written when it returns one,
/// except [`InDoubt`](StoreError::InDoubt), which says that it cannot tell.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// The lease used is no longer the conversation's current one: another worker took the
    /// conversation over (or the lease was released). The worker must stop writing.
    Fenced {
        /// The conversation.
        conversation: String,
        /// The token presented.
        token: u64,
        /// The conversation's current token.
        current: u64,
    },
    /// Another worker holds an unexpired lease on the conversation.
    Held {
        /// The conversation.
        conversation: String,
        /// The worker holding it.
        holder: String,
        /// When its lease expires (milliseconds, the clock the caller passes).
        expires_at: u64,
    },
    /// A record that does not continue the conversation: another conversation's, or a `seq`
    /// other than the next one.
    Conflict {
        /// The conversation.
        conversation: String,
        /// The `seq` the store expected next.
        expected_seq: u64,
        /// The record offered.
        found_seq: u64,
    },
    /// A stored record that does not decode.
    Corrupt {
        /// The conversation.
        conversation: String,
        /// What failed to decode.
        reason: String,
    },
    /// The store cannot be written: a file marked read-only.
    ReadOnly(String),
    /// The store cannot be reached or is in use elsewhere (another process has the file).
    Unavailable(String),
    /// The connection to the store was lost while a write was on its way, and the store
    /// could not be reached again to see whether the write landed. Read the conversation
    /// back once the store answers: its records say.
    InDoubt(String),
    /// An I/O error of the backend.
    Io(io::Error),
}

impl StoreError {
    /// The same error again, for each entry of a batch that failed as a whole (an I/O
    /// error keeps its kind and message).
    pub(crate) fn duplicate(&self) -> StoreError {
        match self {
            StoreError::Fenced {
                conversation,
                token,
                current,
            } => StoreError::Fenced {
                conversation: conversation.clone(),
                token: *token,
                current: *current,
            },
            StoreError::Held {
                conversation,
                holder,
                expires_at,
            } => StoreError::Held {
                conversation: conversation.clone(),
                holder: holder.clone(),
                expires_at: *expires_at,
            },
            StoreError::Conflict {
                conversation,
                expected_seq,
                found_seq,
            } => StoreError::Conflict {
                conversation: conversation.clone(),
                expected_seq: *expected_seq,
                found_seq: *found_seq,
            },
            StoreError::Corrupt {
                conversation,
                reason,
            } => StoreError::Corrupt {
                conversation: conversation.clone(),
                reason: reason.clone(),
            },
            StoreError::ReadOnly(what) => StoreError::ReadOnly(what.clone()),
            StoreError::Unavailable(what) => StoreError::Unavailable(what.clone()),
            StoreError::InDoubt(what) => StoreError::InDoubt(what.clone()),
            StoreError::Io(error) => {
                StoreError::Io(io::Error::new(error.kind(), error.to_string()))
            }
        }
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Fenced {
                conversation,
                token,
                current,
            } => write!(
                f,
                "conversation {conversation:?}: lease {token} was superseded by lease {current}"
            ),
            StoreError::Held {
                conversation,
                holder,
                expires_at,
            } => write!(
                f,
                "conversation {conversation:?} is held by {holder:?} until {expires_at} ms"
            ),
            StoreError::Conflict {
                conversation,
                expected_seq,
                found_seq,
            } => write!(
                f,
                "conversation {conversation:?}: record {found_seq} offered where {expected_seq} comes next"
            ),
            StoreError::Corrupt {
                conversation,
                reason,
            } => write!(f, "conversation {conversation:?}: stored data is corrupt: {reason}"),
            StoreError::ReadOnly(what) => write!(f, "the store is read-only: {what}"),
            StoreError::Unavailable(why) => write!(f, "the store is unavailable: {why}"),
            StoreError::InDoubt(why) => {
                write!(f, "a write may or may not have been stored: {why}")
            }
            StoreError::Io(error) => write!(f, "store I/O error: {error}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io(error) => Some(error),
            _ => None,
        }
    }
}

impl From<io::Error> for StoreError {
    fn from(error: io::Error) -> Self {
        StoreError::Io(error)
    }
}
