//! [`Hub`]: the blocking pool's shared state — the core's pool and the conversations'
//! mailboxes behind one lock, each connection's [`Link`] — and its threads: one driver thread
//! (the core's deadline, and a thread started per dial) and one thread per connection, which
//! opens the socket and then reads it. Writes are made by whichever thread made the core
//! queue them (an agent's call, a read, a timer), after the lock is let go.
//!
//! Lock order: a link's write turn, then the state; the state is never held while waiting for
//! a socket.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant as StdInstant};

use responses_ws_adapter::pool::mailboxes::{Dispatched, Mailboxes};
use responses_ws_adapter::pool::{Parts, PoolJournal, PoolState};
use responses_ws_core::pool::{ConnId, Pool as CorePool};
use responses_ws_core::ws::WsUrl;
use responses_ws_core::Instant;
use responses_ws_tls::rustls::ClientConfig;

use super::link::Link;
use crate::transport::Transport;

/// How a connection's socket is opened.
#[derive(Debug)]
pub(crate) struct Dialing {
    pub(crate) url: WsUrl,
    pub(crate) tls: Option<Arc<ClientConfig>>,
    pub(crate) timeout: Duration,
}

/// What every handle and thread of a pool shares.
#[derive(Debug)]
pub(crate) struct Hub {
    state: Mutex<State>,
    /// Wakes the driver thread: a dial, an earlier deadline, the end.
    driver: Condvar,
    /// Wakes `Pool::close` callers when the driver thread has ended.
    closed: Condvar,
    dialing: Dialing,
}

/// Everything behind the lock.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) pool: CorePool,
    pub(crate) mailboxes: Mailboxes<Arc<Condvar>>,
    /// The store of journaled conversations ([`Config::store`](crate::Config::store)).
    pub(crate) journal: Option<PoolJournal>,
    origin: StdInstant,
    /// Every connection the core has, with its link once the socket is open.
    links: HashMap<ConnId, Option<Arc<Link>>>,
    /// Connections to dial, for the driver thread.
    dials: Vec<ConnId>,
    /// The driver thread ended (the pool is closed, or it panicked): nothing moves any more.
    pub(crate) driver_gone: bool,
    out: Dispatched<Arc<Condvar>>,
}

/// What a dispatch leaves to do once the lock is let go.
#[derive(Default)]
struct Effects {
    wake: Vec<Arc<Condvar>>,
    write: Vec<Arc<Link>>,
    shut: Vec<Arc<Link>>,
    driver: bool,
}

impl PoolState for State {
    type Waiter = Arc<Condvar>;

    fn parts(&mut self) -> Parts<'_, Arc<Condvar>> {
        Parts {
            pool: &mut self.pool,
            mailboxes: &mut self.mailboxes,
            journal: &mut self.journal,
            driver_gone: self.driver_gone,
        }
    }
}

impl Hub {
    pub(crate) fn new(pool: CorePool, dialing: Dialing, journal: Option<PoolJournal>) -> Arc<Hub> {
        let state = State {
            pool,
            mailboxes: Mailboxes::default(),
            journal,
            origin: StdInstant::now(),
            links: HashMap::new(),
            dials: Vec::new(),
            driver_gone: false,
            out: Dispatched::default(),
        };
        Arc::new(Hub {
            state: Mutex::new(state),
            driver: Condvar::new(),
            closed: Condvar::new(),
            dialing,
        })
    }

    /// The state, for a look that feeds the core nothing (or a wait on a condition).
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the state with the time, dispatches what the core has to say, then (the
    /// lock let go) wakes the agents concerned, writes what the core queued and shuts the
    /// connections it closed.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut State, Instant) -> R) -> R {
        let (result, effects) = {
            let mut state = self.lock();
            let now = state.now();
            let result = f(&mut state, now);
            (result, state.dispatch())
        };
        self.apply(effects);
        result
    }

    fn apply(&self, effects: Effects) {
        effects.wake.iter().for_each(|cv| cv.notify_all());
        if effects.driver {
            self.driver.notify_one();
        }
        for link in &effects.write {
            self.write(link);
        }
        for link in effects.shut {
            self.write(&link);
            link.shut();
        }
    }

    /// Writes everything the core queued for `link`'s connection.
    fn write(&self, link: &Link) {
        let mut turn = link.write_turn();
        let conn = link.conn;
        let chunks: Vec<_> = {
            let mut state = self.lock();
            std::iter::from_fn(|| state.pool.poll_transmit(conn)).collect()
        };
        if chunks.is_empty() {
            return;
        }
        if turn.write(&chunks).is_err() {
            drop(turn);
            self.with(|state, now| state.pool.handle_eof(conn, now));
        }
    }

    /// Blocks until the driver thread has ended (the pool closed and every connection gone).
    pub(crate) fn wait_closed(&self) {
        let mut state = self.lock();
        while !state.driver_gone {
            state = self
                .closed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Starts the driver thread.
    pub(crate) fn start(self: &Arc<Hub>) -> std::io::Result<()> {
        let hub = Arc::clone(self);
        thread::Builder::new()
            .name("responses-ws-pool".into())
            .spawn(move || {
                let guard = DriverGuard(&hub);
                hub.drive();
                drop(guard);
            })?;
        Ok(())
    }

    /// The driver thread: dials, and the core's deadline, until the pool is closed and every
    /// connection is gone.
    fn drive(self: &Arc<Hub>) {
        let mut state = self.lock();
        loop {
            for conn in std::mem::take(&mut state.dials) {
                let hub = Arc::clone(self);
                let spawned = thread::Builder::new()
                    .name("responses-ws-pool-conn".into())
                    .spawn(move || hub.connection(conn));
                if let Err(error) = spawned {
                    let now = state.now();
                    let cause = crate::ConnectError::Io {
                        addr: self.dialing.url.host().into(),
                        source: error,
                    };
                    state.pool.dial_failed(conn, cause.failure(), now);
                }
            }
            if state.pool.is_closed() && state.links.is_empty() {
                return;
            }
            let now = state.now();
            match state.pool.poll_timeout() {
                Some(at) if at <= now => {
                    state.pool.handle_timeout(now);
                    let effects = state.dispatch();
                    drop(state);
                    self.apply(effects);
                    state = self.lock();
                }
                Some(at) => {
                    let wait = at.elapsed().saturating_sub(now.elapsed());
                    state = self
                        .driver
                        .wait_timeout(state, wait)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
                None => {
                    state = self
                        .driver
                        .wait(state)
                        .unwrap_or_else(PoisonError::into_inner)
                }
            }
        }
    }

    /// A connection's thread: opens the socket, then reads it until the core closes the
    /// connection or the stream ends.
    fn connection(self: Arc<Hub>, conn: ConnId) {
        let opened = Transport::open(
            &self.dialing.url,
            self.dialing.tls.as_ref(),
            self.dialing.timeout,
        )
        .and_then(|transport| {
            let (tcp, tls) = transport.into_parts();
            Link::new(conn, tcp, tls).map_err(|source| crate::ConnectError::Io {
                addr: self.dialing.url.host().into(),
                source,
            })
        });
        let (link, mut reader) = match opened {
            Ok(opened) => opened,
            Err(error) => {
                self.with(|state, now| {
                    state.links.remove(&conn);
                    state.pool.dial_failed(conn, error.failure(), now);
                });
                return;
            }
        };
        let link = Arc::new(link);
        {
            let mut state = self.lock();
            match state.links.get_mut(&conn) {
                Some(slot) => *slot = Some(Arc::clone(&link)),
                // Closed while it was being opened.
                None => return link.shut(),
            }
        }
        self.write(&link);
        loop {
            let read = reader.read(&link, |bytes| {
                self.with(|state, now| state.pool.handle_input(conn, bytes, now))
            });
            if !matches!(read, Ok(true)) {
                self.with(|state, now| state.pool.handle_eof(conn, now));
                break;
            }
        }
        let mut state = self.lock();
        state.links.remove(&conn);
        if state.pool.is_closed() {
            self.driver.notify_one();
        }
    }
}

/// Marks the driver gone when its thread ends, however it ends, and wakes every waiter.
struct DriverGuard<'a>(&'a Hub);

impl Drop for DriverGuard<'_> {
    fn drop(&mut self) {
        let wake = {
            let mut state = self.0.lock();
            state.driver_gone = true;
            state.mailboxes.take_all_wakers()
        };
        wake.iter().for_each(|cv| cv.notify_all());
        self.0.closed.notify_all();
    }
}

impl State {
    /// The core's clock.
    pub(crate) fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// Drains the core's outputs: write-ahead records to the store first (no connection
    /// writes before), then the mailboxes and the effects to apply.
    fn dispatch(&mut self) -> Effects {
        let now = self.now();
        if let Some(journal) = &mut self.journal {
            journal.persist(&mut self.pool, now);
        }
        let mut out = std::mem::take(&mut self.out);
        self.mailboxes.dispatch(&mut self.pool, &mut out, |_, _| {});
        let mut effects = Effects {
            wake: std::mem::take(&mut out.wake),
            ..Effects::default()
        };
        for conn in out.dial.drain(..) {
            self.links.insert(conn, None);
            self.dials.push(conn);
            effects.driver = true;
        }
        for conn in out.ready.drain(..) {
            if let Some(Some(link)) = self.links.get(&conn) {
                effects.write.push(Arc::clone(link));
            }
        }
        for conn in out.close.drain(..) {
            if let Some(Some(link)) = self.links.get(&conn) {
                effects.shut.push(Arc::clone(link));
            }
        }
        self.out = out;
        // The deadline may have come earlier, or the pool closed: the driver looks again.
        effects.driver = true;
        effects
    }
}
