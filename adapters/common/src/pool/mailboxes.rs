//! [`Mailboxes`]: what a pool driver keeps per conversation between the core's pool and the
//! agents — the running turn's events, whether it got a lane, how it ended — and
//! [`Mailboxes::dispatch`], which drains the core's outputs after an input: session events to
//! their conversation, each waiting conversation's wake handle once per batch however many
//! events it got, dials, closes and connections with bytes to write to the driver. Written
//! once for the async driver (`W` a `Waker`) and the blocking one (`W` a condition variable).

use std::collections::{HashMap, VecDeque};

use responses_ws_core::pool::{ConnId, ConvId, Pool, PoolEvent, TurnError, TurnId};
use responses_ws_core::session::SessionEvent;

/// The conversations' mailboxes; `W` wakes a waiting agent.
#[derive(Debug)]
pub struct Mailboxes<W> {
    convs: HashMap<ConvId, Mailbox<W>>,
}

impl<W> Default for Mailboxes<W> {
    fn default() -> Self {
        Mailboxes {
            convs: HashMap::new(),
        }
    }
}

/// One conversation's mailbox.
#[derive(Debug)]
struct Mailbox<W> {
    turn: Option<TurnSlot<W>>,
    /// Every handle of the conversation was dropped during a turn: it is closed when the
    /// turn ends.
    orphan: bool,
}

impl<W> Default for Mailbox<W> {
    fn default() -> Self {
        Mailbox {
            turn: None,
            orphan: false,
        }
    }
}

/// The current turn of a conversation, as its waiter sees it.
///
/// Invariant: `events` only grows while somebody listens (`detached` is false); `ended` is set
/// once, by the core's `TurnEnded`.
#[derive(Debug)]
struct TurnSlot<W> {
    id: TurnId,
    admitted: bool,
    events: VecDeque<SessionEvent>,
    ended: Option<Result<(), TurnError>>,
    waker: Option<W>,
    /// Nobody listens any more: events are dropped and the slot goes at the turn's end.
    detached: bool,
}

/// What a dispatch asks of the driver, besides the agents it wakes.
#[derive(Debug)]
pub struct Dispatched<W> {
    /// Wake handles of the agents with news, each once.
    pub wake: Vec<W>,
    /// Connections to open (the core's `Dial`).
    pub dial: Vec<ConnId>,
    /// Connections to shut (the core's `Close`).
    pub close: Vec<ConnId>,
    /// Connections with bytes to write.
    pub ready: Vec<ConnId>,
}

impl<W> Default for Dispatched<W> {
    fn default() -> Self {
        Dispatched {
            wake: Vec::new(),
            dial: Vec::new(),
            close: Vec::new(),
            ready: Vec::new(),
        }
    }
}

/// Where a waiting turn stands ([`Mailboxes::admission`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Admission {
    /// It has a lane: its events follow.
    Admitted,
    /// It ended before it got one (waited too long, the pool closed).
    Ended(Result<(), TurnError>),
    /// Still waiting; the wake handle was kept.
    Waiting,
    /// The pool forgot it.
    Gone,
}

/// What a turn's listener gets next ([`Mailboxes::take_events`]).
#[derive(Debug)]
#[non_exhaustive]
pub enum Next {
    /// Events were moved to the listener's batch.
    Events,
    /// The turn is over; its slot is gone.
    Ended(Result<(), TurnError>),
    /// Nothing yet; the wake handle was kept.
    Waiting,
    /// The pool forgot it.
    Gone,
}

impl<W> Mailboxes<W> {
    /// `conv` starts `turn` (just taken by the core).
    pub fn start(&mut self, conv: ConvId, turn: TurnId) {
        self.convs.entry(conv).or_default().turn = Some(TurnSlot {
            id: turn,
            admitted: false,
            events: VecDeque::new(),
            ended: None,
            waker: None,
            detached: false,
        });
    }

    fn slot(&mut self, conv: ConvId, turn: TurnId) -> Option<&mut TurnSlot<W>> {
        self.convs
            .get_mut(&conv)?
            .turn
            .as_mut()
            .filter(|slot| slot.id == turn)
    }

    /// Forgets `conv`'s slot of `turn`.
    fn drop_turn(&mut self, conv: ConvId, turn: TurnId) {
        if let Some(entry) = self.convs.get_mut(&conv) {
            if entry.turn.as_ref().is_some_and(|slot| slot.id == turn) {
                entry.turn = None;
            }
        }
    }

    /// Whether `turn` of `conv` has its lane; keeps `waker` (made only when needed) while it
    /// waits.
    pub fn admission(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        waker: impl FnOnce() -> W,
    ) -> Admission {
        let Some(slot) = self.slot(conv, turn) else {
            return Admission::Gone;
        };
        if slot.admitted {
            return Admission::Admitted;
        }
        if let Some(result) = slot.ended.take() {
            self.drop_turn(conv, turn);
            return Admission::Ended(result);
        }
        slot.waker = Some(waker());
        Admission::Waiting
    }

    /// Moves `turn`'s events to `batch` (one swap, however many), or says it is over; keeps
    /// `waker` while nothing is there.
    pub fn take_events(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        batch: &mut VecDeque<SessionEvent>,
        waker: impl FnOnce(&mut Option<W>),
    ) -> Next {
        let Some(slot) = self.slot(conv, turn) else {
            return Next::Gone;
        };
        std::mem::swap(&mut slot.events, batch);
        if !batch.is_empty() {
            return Next::Events;
        }
        if let Some(result) = slot.ended.take() {
            self.drop_turn(conv, turn);
            return Next::Ended(result);
        }
        waker(&mut slot.waker);
        Next::Waiting
    }

    /// Nobody listens to `turn` any more (its waiter or listener was dropped): its events
    /// are dropped, its slot goes at its end.
    pub fn detach(&mut self, conv: ConvId, turn: TurnId) {
        let ended = match self.slot(conv, turn) {
            Some(slot) => {
                slot.detached = true;
                slot.events.clear();
                slot.waker = None;
                slot.ended.is_some()
            }
            None => false,
        };
        if ended {
            self.drop_turn(conv, turn);
        }
    }

    /// A waiting `turn` was taken out of the core's queue: its slot goes.
    pub fn cancelled(&mut self, conv: ConvId, turn: TurnId) {
        self.drop_turn(conv, turn);
    }

    /// The last handle of `conv` is gone: it closes now, or when its turn ends.
    pub fn release(&mut self, pool: &mut Pool, conv: ConvId) {
        match pool.close_conversation(conv) {
            Ok(()) => {
                self.convs.remove(&conv);
            }
            Err(_) => {
                let entry = self.convs.entry(conv).or_default();
                entry.orphan = true;
                if let Some(slot) = &mut entry.turn {
                    slot.detached = true;
                    slot.events.clear();
                }
            }
        }
    }

    /// Every wake handle kept (the driver is gone: the waiters must hear it).
    pub fn take_all_wakers(&mut self) -> Vec<W> {
        self.convs
            .values_mut()
            .filter_map(|entry| entry.turn.as_mut()?.waker.take())
            .collect()
    }

    /// Drains the core's events and ready connections after an input into the mailboxes and
    /// `out`; `observe` sees every event first (for tracing).
    pub fn dispatch(
        &mut self,
        pool: &mut Pool,
        out: &mut Dispatched<W>,
        mut observe: impl FnMut(&PoolEvent, &Pool),
    ) {
        while let Some(event) = pool.poll_event() {
            observe(&event, pool);
            match event {
                PoolEvent::Dial { conn } => out.dial.push(conn),
                PoolEvent::Close { conn } => out.close.push(conn),
                PoolEvent::TurnAdmitted { conv, turn, .. } => {
                    if let Some(slot) = self.slot(conv, turn) {
                        slot.admitted = true;
                        out.wake.extend(slot.waker.take());
                    }
                }
                PoolEvent::Conversation { conv, turn, event } => {
                    if let Some(slot) = self.slot(conv, turn).filter(|slot| !slot.detached) {
                        slot.events.push_back(event);
                        out.wake.extend(slot.waker.take());
                    }
                }
                PoolEvent::TurnEnded { conv, turn, result } => {
                    self.on_ended(pool, conv, turn, result, out)
                }
                _ => {}
            }
        }
        while let Some(conn) = pool.poll_ready() {
            out.ready.push(conn);
        }
    }

    fn on_ended(
        &mut self,
        pool: &mut Pool,
        conv: ConvId,
        turn: TurnId,
        result: Result<(), TurnError>,
        out: &mut Dispatched<W>,
    ) {
        let Some(entry) = self.convs.get_mut(&conv) else {
            return;
        };
        match &mut entry.turn {
            Some(slot) if slot.id == turn && !slot.detached => {
                slot.ended = Some(result);
                out.wake.extend(slot.waker.take());
            }
            Some(slot) if slot.id == turn => entry.turn = None,
            _ => {}
        }
        if entry.orphan {
            self.convs.remove(&conv);
            // The turn is over: the conversation has none now.
            let _ = pool.close_conversation(conv);
        }
    }
}
