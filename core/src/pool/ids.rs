//! The pool's handles: a connection ([`ConnId`]), a conversation ([`ConvId`]) and a turn
//! ([`TurnId`]). Each counts up from zero and is never reused within a pool.

use core::fmt;

macro_rules! handle {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub u64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!($prefix, "{}"), self.0)
            }
        }
    };
}

handle!(
    /// One connection of the pool: one socket, from its dial to its close.
    ConnId,
    "conn#"
);
handle!(
    /// One conversation (one agent): its context lives in the pool across turns and
    /// connections.
    ConvId,
    "conv#"
);
handle!(
    /// One turn of a conversation: a request and its tool loop, until a response makes no
    /// more tool calls or the turn fails.
    TurnId,
    "turn#"
);
