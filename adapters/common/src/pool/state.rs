//! [`PoolState`]: what both pool drivers do the same way to the state behind their lock for
//! a conversation's calls — start a turn, admit it, hand out its events, let it go, close the
//! conversation, open or take over a durable one — and [`DurableStep`], how `run_durable`
//! goes on. The driver gives the [`Parts`] of its state; it keeps only its waiting (wakers)
//! and its IO.

use std::collections::VecDeque;

use responses_ws_core::pool::{ConvId, Pool, PoolError, Rejected, TurnId};
use responses_ws_core::session::{SessionEvent, ToolCall};
use responses_ws_core::wire::{Response, ResponseCreate};
use responses_ws_core::Instant;

use crate::Start;

use super::mailboxes::{Admission, Mailboxes, Next};
use super::{Error, PoolJournal};

/// The pieces of a driver's locked state that a conversation's calls touch.
#[derive(Debug)]
pub struct Parts<'a, W> {
    /// The core's pool.
    pub pool: &'a mut Pool,
    /// The conversations' mailboxes, with the driver's waiter type.
    pub mailboxes: &'a mut Mailboxes<W>,
    /// The store of journaled conversations, if any.
    pub journal: &'a mut Option<PoolJournal>,
    /// The driver is gone: nothing moves any more, so nobody may wait.
    pub driver_gone: bool,
}

/// Where a turn's reader stands after [`PoolState::next_events`].
#[derive(Debug)]
pub enum TurnStep {
    /// The batch has events to hand out.
    Events,
    /// Nothing yet: the waiter was kept, wait for it.
    Waiting,
    /// The turn is over; `Some` with why, if it failed (handed out as a last item).
    Ended(Option<Error>),
}

/// A pool driver's locked state, as a conversation's calls use it. Every method is one step
/// under the lock; the driver dispatches the core's outputs after it as after any input.
pub trait PoolState {
    /// What a waiting caller leaves behind to be woken (a `Waker`, an `Arc<Condvar>`).
    type Waiter;

    /// The pieces of the state, borrowed together.
    fn parts(&mut self) -> Parts<'_, Self::Waiter>;

    /// Starts a turn of `conv` with `request`: queued for a lane if `may_wait`, else refused
    /// with [`PoolError::Overloaded`] unless a lane is free now. Refused with
    /// [`PoolError::Closed`] once the driver is gone.
    fn start_turn(
        &mut self,
        conv: ConvId,
        request: ResponseCreate,
        may_wait: bool,
        now: Instant,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        let parts = self.parts();
        if parts.driver_gone {
            return Err(Rejected::new(PoolError::Closed, request));
        }
        let turn = match may_wait {
            true => parts.pool.turn(conv, request, now)?,
            false => parts.pool.try_turn(conv, request, now)?,
        };
        parts.mailboxes.start(conv, turn);
        Ok(turn)
    }

    /// Starts the turn that sends only what `conv` owes (the answers to the calls its last
    /// turn left open).
    fn continue_turn(&mut self, conv: ConvId, now: Instant) -> Result<TurnId, Error> {
        let parts = self.parts();
        if parts.driver_gone {
            return Err(Error::DriverGone);
        }
        let turn = parts.pool.continue_turn(conv, now).map_err(Error::Pool)?;
        parts.mailboxes.start(conv, turn);
        Ok(turn)
    }

    /// Whether `turn` has its lane: `None` while it waits (the waiter made by `waiter`
    /// kept), `Some(Ok(()))` once admitted, `Some(Err(..))` when it never will be.
    fn admission(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        waiter: impl FnOnce() -> Self::Waiter,
    ) -> Option<Result<(), Error>> {
        let parts = self.parts();
        match parts.mailboxes.admission(conv, turn, waiter) {
            Admission::Waiting if !parts.driver_gone => None,
            Admission::Admitted => Some(Ok(())),
            Admission::Ended(Err(error)) => Some(Err(Error::Turn(error))),
            Admission::Ended(Ok(())) => Some(Err(Error::NoResponse)),
            _ => Some(Err(Error::DriverGone)),
        }
    }

    /// Moves `turn`'s waiting events into `batch`, or keeps a waiter (`keep` sets or
    /// refreshes it) when there are none yet.
    fn next_events(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        batch: &mut VecDeque<SessionEvent>,
        keep: impl FnOnce(&mut Option<Self::Waiter>),
    ) -> TurnStep {
        let parts = self.parts();
        match parts.mailboxes.take_events(conv, turn, batch, keep) {
            Next::Events => TurnStep::Events,
            Next::Waiting if !parts.driver_gone => TurnStep::Waiting,
            Next::Ended(result) => TurnStep::Ended(result.err().map(Error::Turn)),
            _ => TurnStep::Ended(Some(Error::DriverGone)),
        }
    }

    /// Its reader let `turn` go before its end: it runs on unheard, and ends once nothing
    /// of it is in flight.
    fn detach_turn(&mut self, conv: ConvId, turn: TurnId, now: Instant) {
        let parts = self.parts();
        parts.mailboxes.detach(conv, turn);
        parts.pool.detach_turn(conv, turn, now);
    }

    /// A turn's waiter gave up before it had its lane: still queued, it leaves the queue;
    /// admitted meanwhile, it is let go as by [`detach_turn`](Self::detach_turn).
    fn give_up_turn(&mut self, conv: ConvId, turn: TurnId, now: Instant) {
        let parts = self.parts();
        if parts.pool.cancel_turn(turn).is_some() {
            parts.mailboxes.cancelled(conv, turn);
        } else {
            self.detach_turn(conv, turn, now);
        }
    }

    /// The last handle on `conv` is gone: the journal marks it closing, and the pool closes
    /// it (once its running turn, if any, has ended).
    fn close_conversation(&mut self, conv: ConvId, now: Instant) {
        let parts = self.parts();
        if let Some(journal) = parts.journal.as_mut() {
            journal.closing(parts.pool, conv);
        }
        parts.mailboxes.release(parts.pool, conv, now);
    }

    /// Opens the new durable conversation `id` ([`PoolJournal::open`]); refused without a
    /// store.
    fn open_durable(&mut self, id: &str) -> Result<ConvId, Error> {
        let parts = self.parts();
        PoolJournal::required(parts.journal)?.open(parts.pool, id)
    }

    /// Takes the durable conversation `id` over ([`PoolJournal::resume`]); the turn it
    /// resumed at once, if it owed work, gets its mailbox.
    fn resume_durable(
        &mut self,
        id: &str,
        now: Instant,
    ) -> Result<(ConvId, Option<TurnId>, Start), Error> {
        let parts = self.parts();
        let journal = PoolJournal::required(parts.journal)?;
        let (conv, turn, start) = journal.resume(parts.pool, id, now)?;
        if let Some(turn) = turn {
            parts.mailboxes.start(conv, turn);
        }
        Ok((conv, turn, start))
    }
}

/// How a pool's `run_durable` goes on once its conversation is taken over; `T` is the
/// driver's running turn.
#[derive(Debug)]
pub enum DurableStep<T> {
    /// Nothing was sent yet: run the request's tool loop from the start.
    Fresh,
    /// It finished: its final response, and nothing runs or is sent.
    Finished(Box<Response>),
    /// It stopped midway: run `calls` (their outputs were not durable) through the handler
    /// again, answer them, then drive `turn`'s tool loop.
    Rerun {
        /// The calls to run again, at least once.
        calls: Vec<ToolCall>,
        /// The turn it resumed with.
        turn: T,
    },
}

impl<T> DurableStep<T> {
    /// The step after [`PoolState::resume_durable`] gave `start` and `turn` (the driver's
    /// turn made of its id). [`Error::NoResponse`] when it started, is not finished and has
    /// no turn to go on with.
    ///
    /// ```
    /// use responses_ws_adapter::pool::DurableStep;
    /// use responses_ws_adapter::Start;
    ///
    /// // A conversation the store never saw runs its request from the start.
    /// let step = DurableStep::of(Start::New, None::<u32>)?;
    /// assert!(matches!(step, DurableStep::Fresh));
    /// # Ok::<(), responses_ws_adapter::pool::Error>(())
    /// ```
    pub fn of(start: Start, turn: Option<T>) -> Result<DurableStep<T>, Error> {
        let resumed = match start {
            Start::Resumed(resumed) if resumed.started => resumed,
            _ => return Ok(DurableStep::Fresh),
        };
        if let Some(response) = resumed.finished {
            return Ok(DurableStep::Finished(response));
        }
        let turn = turn.ok_or(Error::NoResponse)?;
        Ok(DurableStep::Rerun {
            calls: resumed.rerun,
            turn,
        })
    }
}
