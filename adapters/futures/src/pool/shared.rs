//! [`Shared`]: what the pool's handles ([`Pool`](super::Pool), [`Conversation`](super::Conversation),
//! [`Turn`](super::Turn)) and its driver share behind one lock — the core's pool, each
//! conversation's mailbox, each connection's waker — and [`Shared::dispatch`], which runs
//! after every input: it drains the core's events into the mailboxes, and collects the
//! wakers to call (each waiting conversation and each connection with bytes to write once per
//! batch, however many events it got), to be woken after the lock is let go.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::time::Instant as StdInstant;

use responses_ws_core::pool::{ConnId, ConvId, Pool as CorePool, PoolEvent, TurnError, TurnId};
use responses_ws_core::session::SessionEvent;
use responses_ws_core::Instant;

#[cfg(feature = "tracing")]
use super::trace::Traces;

/// The lock over [`Shared`], and the one way to feed the core an input: [`with`](Self::with).
#[derive(Debug, Clone)]
pub(crate) struct Lock(Arc<Mutex<Shared>>);

impl Lock {
    pub(crate) fn new(shared: Shared) -> Lock {
        Lock(Arc::new(Mutex::new(shared)))
    }

    /// The state, for a look that feeds the core nothing.
    pub(crate) fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state with the time, dispatches what the core has to say, and wakes
    /// whoever that concerns once the lock is let go.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut Shared, Instant) -> R) -> R {
        let mut wakes = Vec::new();
        let result = {
            let mut shared = self.lock();
            let now = shared.now();
            let result = f(&mut shared, now);
            shared.dispatch(&mut wakes);
            result
        };
        wakes.into_iter().for_each(Waker::wake);
        result
    }
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) pool: CorePool,
    /// The origin of the core's clock.
    pub(crate) origin: StdInstant,
    pub(crate) convs: HashMap<ConvId, ConvSlot>,
    pub(crate) conns: HashMap<ConnId, ConnSlot>,
    /// Connections the core asked to dial, for the driver.
    pub(crate) dials: Vec<ConnId>,
    /// The driver's waker.
    pub(crate) driver: Option<Waker>,
    /// The deadline the driver's timer is armed for.
    pub(crate) armed: Option<Instant>,
    /// Callers of `Pool::close` waiting for the end.
    pub(crate) closers: Vec<Waker>,
    /// The driver was dropped: nothing moves any more.
    pub(crate) driver_gone: bool,
    #[cfg(feature = "tracing")]
    pub(crate) traces: Traces,
}

/// One conversation's mailbox.
#[derive(Debug, Default)]
pub(crate) struct ConvSlot {
    pub(crate) turn: Option<TurnSlot>,
    /// Every handle of the conversation was dropped during a turn: it is closed when the
    /// turn ends.
    pub(crate) orphan: bool,
}

/// The current turn of a conversation, as its waiter sees it.
///
/// Invariant: `events` only grows while somebody listens (`detached` is false); `ended` is set
/// once, by the core's `TurnEnded`.
#[derive(Debug)]
pub(crate) struct TurnSlot {
    pub(crate) id: TurnId,
    pub(crate) admitted: bool,
    pub(crate) events: VecDeque<SessionEvent>,
    pub(crate) ended: Option<Result<(), TurnError>>,
    pub(crate) waker: Option<Waker>,
    /// Nobody listens any more: events are dropped and the slot goes at the turn's end.
    pub(crate) detached: bool,
}

impl TurnSlot {
    pub(crate) fn new(id: TurnId) -> TurnSlot {
        TurnSlot {
            id,
            admitted: false,
            events: VecDeque::new(),
            ended: None,
            waker: None,
            detached: false,
        }
    }

    fn wake(&mut self, wakes: &mut Vec<Waker>) {
        wakes.extend(self.waker.take());
    }
}

/// One connection's task, as the core's outputs reach it.
#[derive(Debug, Default)]
pub(crate) struct ConnSlot {
    /// The task's waker, taken when it has something to do.
    pub(crate) waker: Option<Waker>,
    /// The core closed the connection: the task shuts its socket and ends.
    pub(crate) closed: bool,
}

impl Shared {
    pub(crate) fn new(pool: CorePool) -> Shared {
        Shared {
            pool,
            origin: StdInstant::now(),
            convs: HashMap::new(),
            conns: HashMap::new(),
            dials: Vec::new(),
            driver: None,
            armed: None,
            closers: Vec::new(),
            driver_gone: false,
            #[cfg(feature = "tracing")]
            traces: Traces::default(),
        }
    }

    /// The core's clock.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// The turn slot of `conv` if it is `turn`'s.
    pub(crate) fn turn_slot(&mut self, conv: ConvId, turn: TurnId) -> Option<&mut TurnSlot> {
        self.convs
            .get_mut(&conv)?
            .turn
            .as_mut()
            .filter(|slot| slot.id == turn)
    }

    /// Forgets `conv`'s turn slot if it is `turn`'s.
    pub(crate) fn drop_turn(&mut self, conv: ConvId, turn: TurnId) {
        if let Some(entry) = self.convs.get_mut(&conv) {
            if entry.turn.as_ref().is_some_and(|slot| slot.id == turn) {
                entry.turn = None;
            }
        }
    }

    /// The last handle of `conv` is gone: it closes now, or when its turn ends.
    pub(crate) fn release(&mut self, conv: ConvId) {
        match self.pool.close_conversation(conv) {
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

    /// Drains the core's outputs after an input: events to the mailboxes, dials to the
    /// driver, ready connections to their tasks, and a new earlier deadline to the driver's
    /// timer. Wakers to call are pushed to `wakes`, each at most once.
    pub(crate) fn dispatch(&mut self, wakes: &mut Vec<Waker>) {
        while let Some(event) = self.pool.poll_event() {
            #[cfg(feature = "tracing")]
            self.traces.on_event(&event, &self.pool);
            match event {
                PoolEvent::Dial { conn } => {
                    self.dials.push(conn);
                    self.conns.insert(conn, ConnSlot::default());
                    wakes.extend(self.driver.take());
                }
                PoolEvent::Close { conn } => {
                    if let Some(slot) = self.conns.get_mut(&conn) {
                        slot.closed = true;
                        wakes.extend(slot.waker.take());
                    }
                }
                PoolEvent::TurnAdmitted { conv, turn, .. } => {
                    if let Some(slot) = self.turn_slot(conv, turn) {
                        slot.admitted = true;
                        slot.wake(wakes);
                    }
                }
                PoolEvent::Conversation { conv, turn, event } => {
                    if let Some(slot) = self.turn_slot(conv, turn) {
                        if !slot.detached {
                            slot.events.push_back(event);
                            slot.wake(wakes);
                        }
                    }
                }
                PoolEvent::TurnEnded { conv, turn, result } => {
                    self.on_ended(conv, turn, result, wakes)
                }
                _ => {}
            }
        }
        while let Some(conn) = self.pool.poll_ready() {
            if let Some(slot) = self.conns.get_mut(&conn) {
                wakes.extend(slot.waker.take());
            }
        }
        let deadline = self.pool.poll_timeout();
        if deadline.is_some_and(|at| self.armed.is_none_or(|armed| at < armed)) {
            wakes.extend(self.driver.take());
        }
        if self.pool.is_closed() {
            wakes.append(&mut self.closers);
            wakes.extend(self.driver.take());
        }
    }

    fn on_ended(
        &mut self,
        conv: ConvId,
        turn: TurnId,
        result: Result<(), TurnError>,
        wakes: &mut Vec<Waker>,
    ) {
        let Some(entry) = self.convs.get_mut(&conv) else {
            return;
        };
        let orphan = entry.orphan;
        match &mut entry.turn {
            Some(slot) if slot.id == turn && !slot.detached => {
                slot.ended = Some(result);
                slot.wake(wakes);
            }
            Some(slot) if slot.id == turn => entry.turn = None,
            _ => {}
        }
        if orphan {
            self.convs.remove(&conv);
            // The turn is over: the conversation has none now.
            let _ = self.pool.close_conversation(conv);
        }
    }
}
