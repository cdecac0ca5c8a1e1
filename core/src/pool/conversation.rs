//! [`Conversation`]: where one conversation lives (on a lane of a connection, or parked in
//! the pool between connections) and its turn, if one is waiting or running.

use alloc::boxed::Box;

use super::ids::{ConnId, TurnId};
use crate::session::{LaneTransfer, RequestError};
use crate::time::Instant;

/// Where a conversation's context is.
#[derive(Debug)]
pub(crate) enum Home {
    /// On lane `slot` of `conn`, in its client's session.
    Placed { conn: ConnId, slot: usize },
    /// In the pool, between connections (a new conversation starts here).
    Parked(Box<LaneTransfer>),
}

/// Where a turn is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TurnPhase {
    /// In the admission queue.
    Waiting,
    /// On a lane.
    Running,
    /// Its connection ended under it; it waits for a lane on another one.
    Resuming,
}

/// A conversation's current turn.
#[derive(Debug)]
pub(crate) struct Turn {
    pub(crate) id: TurnId,
    pub(crate) phase: TurnPhase,
    /// The error of its last failed request, cleared by a completed response: the turn's
    /// result when its lane comes to rest.
    pub(crate) error: Option<RequestError>,
    /// Moves off a lost connection that had opened, since a response of the turn last
    /// started: at the client's `retry.max_attempts` the turn gives up.
    pub(crate) moves: u32,
    /// Since when the turn moves without a response starting: moved off connections that
    /// never opened (refused, unreachable) for `max_wait`, it gives up.
    pub(crate) moving_since: Option<Instant>,
    /// Nobody listens to it any more ([`Pool::detach_turn`](super::Pool::detach_turn)): it
    /// ends as soon as nothing of it is in flight, also while its tool calls wait for
    /// outputs (they stay open in the conversation, for its next turn).
    pub(crate) unheard: bool,
}

impl Turn {
    pub(crate) fn new(id: TurnId, phase: TurnPhase) -> Self {
        Turn {
            id,
            phase,
            error: None,
            moves: 0,
            moving_since: None,
            unheard: false,
        }
    }
}

/// One conversation.
#[derive(Debug)]
pub(crate) struct Conversation {
    pub(crate) home: Home,
    pub(crate) turn: Option<Turn>,
}

impl Conversation {
    pub(crate) fn new() -> Self {
        Conversation {
            home: Home::Parked(Box::default()),
            turn: None,
        }
    }
}
