//! [`Admission`]: the turns that wait for a lane, first come first served, and the
//! conversations that must get a lane again because their connection ended under a running
//! turn (served before any new turn). Bounded: at most `limit` waiting turns; resuming
//! conversations are bounded by the turns that were running.

use alloc::collections::VecDeque;

use super::ids::{ConvId, TurnId};
use crate::time::Instant;
use crate::wire::ResponseCreate;

/// Room the queues keep once a burst has been admitted.
const KEPT: usize = 16;

/// A turn waiting for a lane.
#[derive(Debug)]
pub(crate) struct Waiting {
    pub(crate) turn: TurnId,
    pub(crate) conv: ConvId,
    pub(crate) request: ResponseCreate,
    /// It fails if it has no lane by then.
    pub(crate) deadline: Instant,
}

/// Who gets the next free lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// A conversation whose running turn lost its connection.
    Resume(ConvId),
    /// The oldest waiting turn.
    Turn(ConvId),
}

impl Next {
    pub(crate) fn conv(self) -> ConvId {
        match self {
            Next::Resume(conv) | Next::Turn(conv) => conv,
        }
    }
}

/// The admission queue.
///
/// Invariant: `waiting.len() <= limit`; deadlines grow from front to back (every turn waits
/// the same `max_wait`), so the front expires first.
#[derive(Debug)]
pub(crate) struct Admission {
    resuming: VecDeque<ConvId>,
    waiting: VecDeque<Waiting>,
    limit: usize,
}

impl Admission {
    pub(crate) fn new(limit: usize) -> Self {
        Admission {
            resuming: VecDeque::new(),
            waiting: VecDeque::new(),
            limit,
        }
    }

    pub(crate) fn waiting(&self) -> usize {
        self.waiting.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.resuming.is_empty() && self.waiting.is_empty()
    }

    pub(crate) fn has_room(&self) -> bool {
        self.waiting.len() < self.limit
    }

    /// Queues a turn; the caller checked [`has_room`](Self::has_room).
    pub(crate) fn push(&mut self, waiting: Waiting) {
        debug_assert!(self.has_room());
        self.waiting.push_back(waiting);
    }

    /// Queues a conversation to resume, ahead of every waiting turn.
    pub(crate) fn resume(&mut self, conv: ConvId) {
        self.resuming.push_back(conv);
    }

    /// Takes a resuming conversation out (its turn ended while it moved).
    pub(crate) fn withdraw(&mut self, conv: ConvId) {
        self.resuming.retain(|&c| c != conv);
    }

    pub(crate) fn front(&self) -> Option<Next> {
        match self.resuming.front() {
            Some(&conv) => Some(Next::Resume(conv)),
            None => self.waiting.front().map(|w| Next::Turn(w.conv)),
        }
    }

    /// Removes the front entry: the waiting turn, if it was one.
    pub(crate) fn pop(&mut self) -> Option<Waiting> {
        match self.resuming.pop_front() {
            Some(_) => None,
            None => self.waiting.pop_front(),
        }
    }

    /// Takes a waiting turn out (its waiter gave up).
    pub(crate) fn cancel(&mut self, turn: TurnId) -> Option<Waiting> {
        let index = self.waiting.iter().position(|w| w.turn == turn)?;
        self.waiting.remove(index)
    }

    /// Takes the oldest waiting turn out (the pool closes).
    pub(crate) fn pop_waiting(&mut self) -> Option<Waiting> {
        self.waiting.pop_front()
    }

    /// The oldest waiting turn, if its deadline has passed at `now`.
    pub(crate) fn pop_expired(&mut self, now: Instant) -> Option<Waiting> {
        if self.waiting.front()?.deadline <= now {
            self.waiting.pop_front()
        } else {
            None
        }
    }

    /// Gives back what the queues grew to in a burst, once they are empty again.
    pub(crate) fn release_idle_memory(&mut self) {
        if self.waiting.is_empty() && self.waiting.capacity() > KEPT {
            self.waiting.shrink_to(KEPT);
        }
        if self.resuming.is_empty() && self.resuming.capacity() > KEPT {
            self.resuming.shrink_to(KEPT);
        }
    }

    /// When the oldest waiting turn expires.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.waiting.front().map(|w| w.deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    fn waiting(turn: u64, deadline: u64) -> Waiting {
        Waiting {
            turn: TurnId(turn),
            conv: ConvId(turn),
            request: ResponseCreate::default(),
            deadline: Instant::from_elapsed(Duration::from_secs(deadline)),
        }
    }

    #[test]
    fn resumes_go_first_then_turns_in_arrival_order_within_the_limit() {
        let mut admission = Admission::new(2);
        admission.push(waiting(1, 10));
        admission.push(waiting(2, 11));
        assert!(!admission.has_room());
        admission.resume(ConvId(9));
        assert_eq!(admission.front(), Some(Next::Resume(ConvId(9))));
        assert!(admission.pop().is_none());
        assert_eq!(admission.front(), Some(Next::Turn(ConvId(1))));
        assert_eq!(admission.cancel(TurnId(2)).map(|w| w.turn), Some(TurnId(2)));
        let at = |s| Instant::from_elapsed(Duration::from_secs(s));
        assert!(admission.pop_expired(at(9)).is_none());
        assert_eq!(
            admission.pop_expired(at(10)).map(|w| w.turn),
            Some(TurnId(1))
        );
        assert!(admission.is_empty());
    }
}
