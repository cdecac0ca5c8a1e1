//! A conversation's steps on the pool's locked state ([`Shared`]): start a turn, admit it,
//! hand out its events, let it go, close the conversation, open or take over a durable one;
//! and [`DurableStep`], how `run_durable` goes on. The handles keep only their waiting
//! (wakers).

use std::collections::VecDeque;
use std::task::Waker;

use responses_ws_adapter::pool::mailboxes::{Admission, Next};
use responses_ws_adapter::pool::{Error, PoolJournal};
use responses_ws_adapter::Start;
use responses_ws_core::pool::{ConvId, PoolError, Rejected, TurnId};
use responses_ws_core::session::{SessionEvent, ToolCall};
use responses_ws_core::wire::{Response, ResponseCreate};
use responses_ws_core::Instant;

use super::shared::Shared;

/// Where a turn's reader stands after [`Shared::next_events`].
#[derive(Debug)]
pub(crate) enum TurnStep {
    /// The batch has events to hand out.
    Events,
    /// Nothing yet: the waiter was kept, wait for it.
    Waiting,
    /// The turn is over; `Some` with why, if it failed (handed out as a last item).
    Ended(Option<Error>),
}

/// A conversation's calls on the locked state. Each is one step under the lock; the caller
/// runs it through [`Lock::with`](super::shared::Lock::with), which dispatches the core's
/// outputs after it as after any input.
impl Shared {
    /// Starts a turn of `conv` with `request`: queued for a lane if `may_wait`, else refused
    /// with [`PoolError::Overloaded`] unless a lane is free now. Refused with
    /// [`PoolError::Closed`] once the driver is gone.
    pub(crate) fn start_turn(
        &mut self,
        conv: ConvId,
        request: ResponseCreate,
        may_wait: bool,
        now: Instant,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        if self.driver_gone {
            return Err(Rejected::new(PoolError::Closed, request));
        }
        let turn = match may_wait {
            true => self.pool.turn(conv, request, now)?,
            false => self.pool.try_turn(conv, request, now)?,
        };
        self.mailboxes.start(conv, turn);
        Ok(turn)
    }

    /// Starts the turn that sends only what `conv` owes (the answers to the calls its last
    /// turn left open).
    pub(crate) fn continue_turn(&mut self, conv: ConvId, now: Instant) -> Result<TurnId, Error> {
        if self.driver_gone {
            return Err(Error::DriverGone);
        }
        let turn = self.pool.continue_turn(conv, now).map_err(Error::Pool)?;
        self.mailboxes.start(conv, turn);
        Ok(turn)
    }

    /// Whether `turn` has its lane: `None` while it waits (the waiter made by `waiter`
    /// kept), `Some(Ok(()))` once admitted, `Some(Err(..))` when it never will be.
    pub(crate) fn admission(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        waiter: impl FnOnce() -> Waker,
    ) -> Option<Result<(), Error>> {
        match self.mailboxes.admission(conv, turn, waiter) {
            Admission::Waiting if !self.driver_gone => None,
            Admission::Admitted => Some(Ok(())),
            Admission::Ended(Err(error)) => Some(Err(Error::Turn(error))),
            Admission::Ended(Ok(())) => Some(Err(Error::NoResponse)),
            _ => Some(Err(Error::DriverGone)),
        }
    }

    /// Moves `turn`'s waiting events into `batch`, or keeps a waiter (`keep` sets or
    /// refreshes it) when there are none yet.
    pub(crate) fn next_events(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        batch: &mut VecDeque<SessionEvent>,
        keep: impl FnOnce(&mut Option<Waker>),
    ) -> TurnStep {
        match self.mailboxes.take_events(conv, turn, batch, keep) {
            Next::Events => TurnStep::Events,
            Next::Waiting if !self.driver_gone => TurnStep::Waiting,
            Next::Ended(result) => TurnStep::Ended(result.err().map(Error::Turn)),
            _ => TurnStep::Ended(Some(Error::DriverGone)),
        }
    }

    /// Its reader let `turn` go before its end: it runs on unheard, and ends once nothing
    /// of it is in flight.
    pub(crate) fn detach_turn(&mut self, conv: ConvId, turn: TurnId, now: Instant) {
        self.mailboxes.detach(conv, turn);
        self.pool.detach_turn(conv, turn, now);
    }

    /// A turn's waiter gave up before it had its lane: still queued, it leaves the queue;
    /// admitted meanwhile, it is let go as by [`detach_turn`](Self::detach_turn).
    pub(crate) fn give_up_turn(&mut self, conv: ConvId, turn: TurnId, now: Instant) {
        if self.pool.cancel_turn(turn).is_some() {
            self.mailboxes.cancelled(conv, turn);
        } else {
            self.detach_turn(conv, turn, now);
        }
    }

    /// The last handle on `conv` is gone: the journal marks it closing, and the pool closes
    /// it (once its running turn, if any, has ended).
    pub(crate) fn close_conversation(&mut self, conv: ConvId, now: Instant) {
        if let Some(journal) = self.journal.as_mut() {
            journal.closing(&self.pool, conv);
        }
        self.mailboxes.release(&mut self.pool, conv, now);
    }

    /// Opens the new durable conversation `id` ([`PoolJournal::open`]); refused without a
    /// store.
    pub(crate) fn open_durable(&mut self, id: &str) -> Result<ConvId, Error> {
        PoolJournal::required(&mut self.journal)?.open(&mut self.pool, id)
    }

    /// Takes the durable conversation `id` over ([`PoolJournal::resume`]); the turn it
    /// resumed at once, if it owed work, gets its mailbox.
    pub(crate) fn resume_durable(
        &mut self,
        id: &str,
        now: Instant,
    ) -> Result<(ConvId, Option<TurnId>, Start), Error> {
        let journal = PoolJournal::required(&mut self.journal)?;
        let (conv, turn, start) = journal.resume(&mut self.pool, id, now)?;
        if let Some(turn) = turn {
            self.mailboxes.start(conv, turn);
        }
        Ok((conv, turn, start))
    }
}

/// How `run_durable` goes on once its conversation is taken over; `T` is the running turn.
#[derive(Debug)]
pub(crate) enum DurableStep<T> {
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
    /// The step after [`Shared::resume_durable`] gave `start` and `turn` (the turn made of
    /// its id). [`Error::NoResponse`] when it started, is not finished and has no turn to go
    /// on with.
    pub(crate) fn of(start: Start, turn: Option<T>) -> Result<DurableStep<T>, Error> {
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
