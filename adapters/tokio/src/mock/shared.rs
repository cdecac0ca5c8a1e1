//! What every task of one mock server shares: the script, the clock origin, the connection
//! count, the traffic counters and the store of `store: true` responses, with the links that
//! keep each connection's own copy of the store in step.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use responses_ws_core::mock::{HttpMock, MockConnection, ResponseStore, Script, Traffic};
use responses_ws_core::Instant;
use tokio::time::Instant as TokioInstant;

/// What every task of a server shares.
#[derive(Debug)]
pub(super) struct Shared {
    pub(super) script: Script,
    /// Where the core's time starts.
    origin: TokioInstant,
    /// TCP connections accepted.
    pub(super) connections: AtomicU64,
    /// The next connection index for the script.
    next_index: AtomicU32,
    pub(super) traffic: Counters,
    store: Mutex<SharedStore>,
    /// Every connection, as the server saw it.
    pub(super) log: super::log::Log,
    /// The client frames received, when recording (`MockServer::record_requests`).
    requests: Mutex<Option<Vec<String>>>,
}

impl Shared {
    pub(super) fn new(script: Script) -> Self {
        let store = SharedStore {
            store: ResponseStore::new(script.limits.max_stored),
            generation: 0,
        };
        Shared {
            script,
            origin: TokioInstant::now(),
            connections: AtomicU64::new(0),
            next_index: AtomicU32::new(0),
            traffic: Counters::default(),
            store: Mutex::new(store),
            log: Default::default(),
            requests: Mutex::new(None),
        }
    }

    /// Starts keeping every client frame received from now on.
    pub(super) fn record_requests(&self) {
        self.requests().get_or_insert_with(Vec::new);
    }

    /// Keeps `text`, a client frame, if recording.
    pub(super) fn received(&self, text: &str) {
        if let Some(requests) = self.requests().as_mut() {
            requests.push(text.into());
        }
    }

    /// The client frames kept so far.
    pub(super) fn recorded(&self) -> Vec<String> {
        self.requests().clone().unwrap_or_default()
    }

    fn requests(&self) -> MutexGuard<'_, Option<Vec<String>>> {
        self.requests.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The core's time now.
    pub(super) fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// The core's instant `at` as a tokio deadline.
    pub(super) fn deadline(&self, at: Instant) -> TokioInstant {
        self.origin + at.elapsed()
    }

    /// The index of a new connection.
    pub(super) fn next_index(&self) -> u32 {
        self.next_index.fetch_add(1, Ordering::Relaxed)
    }

    fn store(&self) -> MutexGuard<'_, SharedStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server's [`Traffic`], summed over connections as they publish.
#[derive(Debug, Default)]
pub(super) struct Counters {
    frames_received: AtomicU64,
    bytes_received: AtomicU64,
    frames_sent: AtomicU64,
    bytes_sent: AtomicU64,
}

impl Counters {
    /// Adds what happened between `before` and `now` (one machine's counts).
    fn add(&self, now: Traffic, before: Traffic) {
        let pairs = [
            (
                &self.frames_received,
                now.frames_received,
                before.frames_received,
            ),
            (
                &self.bytes_received,
                now.bytes_received,
                before.bytes_received,
            ),
            (&self.frames_sent, now.frames_sent, before.frames_sent),
            (&self.bytes_sent, now.bytes_sent, before.bytes_sent),
        ];
        for (counter, now, before) in pairs {
            counter.fetch_add(now.saturating_sub(before), Ordering::Relaxed);
        }
    }

    pub(super) fn total(&self) -> Traffic {
        let mut traffic = Traffic::default();
        traffic.frames_received = self.frames_received.load(Ordering::Relaxed);
        traffic.bytes_received = self.bytes_received.load(Ordering::Relaxed);
        traffic.frames_sent = self.frames_sent.load(Ordering::Relaxed);
        traffic.bytes_sent = self.bytes_sent.load(Ordering::Relaxed);
        traffic
    }
}

/// One machine's share of the server's [`Counters`]: what it has published so far.
#[derive(Debug, Default)]
pub(super) struct TrafficMeter {
    published: Traffic,
}

impl TrafficMeter {
    pub(super) fn publish(&mut self, traffic: Traffic, counters: &Counters) {
        if traffic != self.published {
            counters.add(traffic, self.published);
            self.published = traffic;
        }
    }
}

/// The server's store of `store: true` responses, with a generation that counts changes.
#[derive(Debug)]
struct SharedStore {
    store: ResponseStore,
    generation: u64,
}

impl SharedStore {
    fn fold(&mut self, other: &ResponseStore) {
        self.store.merge(other);
        self.generation += 1;
    }
}

/// How one machine's own store stands against the server's: the generation it last took and
/// its size since, so that only a stored response costs a fold.
///
/// A machine's own store is a copy of the server's with twice its capacity, so that nothing
/// is evicted from it between two folds and its size grows exactly when it stores a response.
/// Once it holds one and a half times the server's capacity it is replaced by a fresh copy.
#[derive(Debug)]
pub(super) struct StoreLink {
    synced: Option<u64>,
    len: usize,
    /// Capacity of the machine's copies.
    capacity: usize,
    /// Size at which the machine's copy is replaced.
    rebase_at: usize,
}

impl StoreLink {
    pub(super) fn new(shared: &Shared) -> Self {
        let max_stored = shared.script.limits.max_stored;
        StoreLink {
            synced: None,
            len: 0,
            capacity: max_stored.saturating_mul(2),
            rebase_at: max_stored.saturating_add(max_stored / 2),
        }
    }

    /// A fresh copy of the server's store for the machine (always, the first time: the
    /// machine's own store has the server's capacity, too small for exact change counts).
    pub(super) fn pull(&mut self, shared: &Shared, local: &ResponseStore) -> Option<ResponseStore> {
        let mut server = shared.store();
        if self.synced == Some(server.generation) {
            return None;
        }
        if local.len() != self.len {
            server.fold(local);
        }
        Some(self.copy(&server))
    }

    /// Folds `local` into the server's store if it stored a response since the last fold (or
    /// always, with `force`). Returns a fresh copy to install when `local` is getting full.
    pub(super) fn push(
        &mut self,
        shared: &Shared,
        local: &ResponseStore,
        force: bool,
    ) -> Option<ResponseStore> {
        if !force && local.len() == self.len {
            return None;
        }
        let mut server = shared.store();
        let in_sync = self.synced == Some(server.generation);
        server.fold(local);
        self.len = local.len();
        if in_sync {
            self.synced = Some(server.generation);
        }
        (local.len() >= self.rebase_at).then(|| self.copy(&server))
    }

    fn copy(&mut self, server: &SharedStore) -> ResponseStore {
        let mut copy = ResponseStore::new(self.capacity);
        copy.merge(&server.store);
        self.synced = Some(server.generation);
        self.len = copy.len();
        copy
    }
}

/// Puts `store` into `mock` (whose `with_store` takes it by value).
pub(super) fn install_store(mock: &mut MockConnection, store: ResponseStore) {
    // A script-less connection allocates nothing: it only holds the place.
    let placeholder = MockConnection::new(Script::new(), 0, Instant::ZERO);
    let current = std::mem::replace(mock, placeholder);
    *mock = current.with_store(store);
}

/// Puts `store` into `mock` (whose `with_store` takes it by value).
pub(super) fn install_http_store(mock: &mut HttpMock, store: ResponseStore) {
    let current = std::mem::replace(mock, HttpMock::new(Script::new(), 0));
    *mock = current.with_store(store);
}
