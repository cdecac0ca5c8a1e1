//! [`Shared`]: what the pool's handles ([`Pool`](super::Pool), [`Conversation`](super::Conversation),
//! [`Turn`](super::Turn)) and its driver share behind one lock — the core's pool, the
//! conversations' mailboxes, each connection's waker — and [`Shared::dispatch`], which runs
//! after every input: the mailboxes take the core's events, and the wakers to call (each
//! waiting conversation and each connection with bytes to write once per batch, however many
//! events it got) are collected, to be woken after the lock is let go.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;

use responses_ws_adapter::pool::mailboxes::{Dispatched, Mailboxes};
use responses_ws_adapter::pool::PoolJournal;
use responses_ws_core::pool::{ConnId, Pool as CorePool};
use responses_ws_core::Instant;

use crate::runtime::Clock;

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
    pub(crate) mailboxes: Mailboxes<Waker>,
    /// The core's clock, on the runtime's.
    pub(crate) clock: Clock,
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
    /// The store of journaled conversations ([`Config::store`](crate::Config::store)).
    pub(crate) journal: Option<PoolJournal>,
    /// A dispatch's outputs, kept to reuse their memory.
    out: Dispatched<Waker>,
    #[cfg(feature = "tracing")]
    pub(crate) traces: Traces,
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
    pub(crate) fn new(pool: CorePool, clock: Clock, journal: Option<PoolJournal>) -> Shared {
        Shared {
            pool,
            journal,
            mailboxes: Mailboxes::default(),
            clock,
            conns: HashMap::new(),
            dials: Vec::new(),
            driver: None,
            armed: None,
            closers: Vec::new(),
            driver_gone: false,
            out: Dispatched::default(),
            #[cfg(feature = "tracing")]
            traces: Traces::default(),
        }
    }

    /// The core's clock.
    pub(crate) fn now(&self) -> Instant {
        self.clock.now()
    }

    /// Drains the core's outputs after an input: write-ahead records to the store (first:
    /// no connection writes before), events to the mailboxes, dials to the driver, ready
    /// and closed connections to their tasks, and a new earlier deadline to the driver's
    /// timer. Wakers to call are pushed to `wakes`, each at most once.
    pub(crate) fn dispatch(&mut self, wakes: &mut Vec<Waker>) {
        if let Some(journal) = &mut self.journal {
            journal.persist(&mut self.pool, self.clock.now());
        }
        let mut out = std::mem::take(&mut self.out);
        #[cfg(feature = "tracing")]
        let traces = &mut self.traces;
        self.mailboxes
            .dispatch(&mut self.pool, &mut out, |_event, _pool| {
                #[cfg(feature = "tracing")]
                traces.on_event(_event, _pool);
            });
        wakes.append(&mut out.wake);
        if !out.dial.is_empty() {
            for &conn in &out.dial {
                self.conns.insert(conn, ConnSlot::default());
            }
            self.dials.append(&mut out.dial);
            wakes.extend(self.driver.take());
        }
        for conn in out.close.drain(..) {
            if let Some(slot) = self.conns.get_mut(&conn) {
                slot.closed = true;
                wakes.extend(slot.waker.take());
            }
        }
        for conn in out.ready.drain(..) {
            if let Some(slot) = self.conns.get_mut(&conn) {
                wakes.extend(slot.waker.take());
            }
        }
        self.out = out;
        let deadline = self.pool.poll_timeout();
        if deadline.is_some_and(|at| self.armed.is_none_or(|armed| at < armed)) {
            wakes.extend(self.driver.take());
        }
        if self.pool.is_closed() {
            wakes.append(&mut self.closers);
            wakes.extend(self.driver.take());
        }
    }
}
