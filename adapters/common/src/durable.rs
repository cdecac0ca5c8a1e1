//! [`Durable`]: what a driver needs to make its journaled conversations outlive the process —
//! a [`Store`], the worker's name, its leases — and the two things every driver does with
//! it: store the core's write-ahead records **before** the bytes they describe are written
//! ([`Durable::persist`]), and rebuild a conversation from its records
//! ([`Durable::resume`]). Written once here for the async and the blocking driver, for
//! either transport of a [`Machine`] (WebSocket mode's frames, HTTP's requests).
//!
//! The store's calls are synchronous (an append to the file store is one fsync, about a
//! millisecond): the drivers call them inline, in the step that would write the bytes.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use responses_ws_core::persist::{replay, Record, Replayed};
use responses_ws_core::session::{Lane, LaneTransfer, ToolCall};
use responses_ws_core::wire::Response;
use responses_ws_store::{Lease, Store, StoreError};

use crate::{Error, Machine};

/// How long a lease lasts unless renewed (default). A worker renews it as it writes; one
/// that died holds its conversations this long at most.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// A store shared by threads and tasks.
pub type SharedStore = Arc<dyn Store + Send + Sync>;

/// A driver's durable store: journaled conversations are written to `store` under leases
/// held by `worker`.
///
/// Records taken from the core and not yet stored stay here (a store error loses nothing):
/// the driver writes no byte while any waits.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use responses_ws_adapter::{Durable, Machine};
/// use responses_ws_adapter::responses_ws_core::client::ClientConfig;
/// use responses_ws_adapter::responses_ws_core::http_client::Transport;
/// use responses_ws_adapter::responses_ws_core::session::Lane;
/// use responses_ws_adapter::responses_ws_core::wire::ResponseCreate;
/// use responses_ws_adapter::responses_ws_core::ws::WsUrl;
/// use responses_ws_adapter::responses_ws_core::Instant;
/// use responses_ws_store::{MemoryStore, Store};
///
/// let store = Arc::new(MemoryStore::default());
/// let mut durable = Durable::new(store.clone(), "worker-a");
/// let config = ClientConfig::new(WsUrl::parse("ws://127.0.0.1:1/v1/responses")?);
/// let interval = Duration::from_secs(900);
/// for transport in [Transport::WebSocket, Transport::Http] {
///     let conversation = format!("conv-{transport:?}");
///     let mut machine = Machine::new(config.clone(), transport, interval, Instant::ZERO);
///     durable.open(&mut machine, &Lane::Default, &conversation)?;
///     assert_eq!(store.read(&conversation)?.len(), 1); // opened
///     machine.create(ResponseCreate::new("m").input("Hi"))?;
///     durable.persist(&mut machine)?; // what a driver does before it writes any byte
///     assert!(durable.is_clear());
/// }
/// // Over HTTP the request was dispatched at once: its input is stored.
/// assert_eq!(store.read("conv-Http")?.len(), 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Durable {
    leases: Leases,
    /// Records taken from the core, not stored yet, oldest first.
    unstored: Vec<Record>,
}

/// A worker's leases in a store: taken, renewed once half of one has run, released.
/// Written once for a connection's [`Durable`] and a pool's journal.
pub(crate) struct Leases {
    store: SharedStore,
    worker: String,
    ttl: Duration,
    /// The lease of each conversation this worker journals.
    held: BTreeMap<String, Lease>,
    /// No lease needs renewing before this (milliseconds of the wall clock).
    next_due: u64,
}

impl fmt::Debug for Leases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leases")
            .field("worker", &self.worker)
            .field("ttl", &self.ttl)
            .field("held", &self.held)
            .finish_non_exhaustive()
    }
}

impl Leases {
    /// No lease yet, in `store`, as `worker`, each lasting `ttl` unless renewed.
    pub(crate) fn new(store: SharedStore, worker: impl Into<String>, ttl: Duration) -> Leases {
        Leases {
            store,
            worker: worker.into(),
            ttl,
            held: BTreeMap::new(),
            next_due: u64::MAX,
        }
    }

    /// The store.
    pub(crate) fn store(&self) -> &SharedStore {
        &self.store
    }

    /// Takes `conversation`'s lease ([`StoreError::Held`] while another worker's runs).
    pub(crate) fn acquire(&mut self, conversation: &str) -> Result<(), StoreError> {
        let lease = self
            .store
            .acquire(conversation, &self.worker, now_ms(), self.ttl)?;
        self.next_due = self.next_due.min(self.due(&lease));
        self.held.insert(conversation.into(), lease);
        Ok(())
    }

    /// The lease to write `conversation` under, renewed once half of it has run;
    /// [`StoreError::Fenced`] when this worker holds none.
    pub(crate) fn current(&mut self, conversation: &str) -> Result<Lease, StoreError> {
        let Some(lease) = self.held.get(conversation) else {
            return Err(StoreError::Fenced {
                conversation: conversation.into(),
                token: 0,
                current: 0,
            });
        };
        let now = now_ms();
        let half = u64::try_from(self.ttl.as_millis() / 2).unwrap_or(u64::MAX);
        if now.saturating_add(half) < lease.expires_at {
            return Ok(lease.clone());
        }
        let renewed = self.store.renew(lease, now, self.ttl);
        if let Err(StoreError::Fenced { .. }) = renewed {
            self.held.remove(conversation);
        }
        let renewed = renewed?;
        self.next_due = self.next_due.min(self.due(&renewed));
        self.held.insert(conversation.into(), renewed.clone());
        Ok(renewed)
    }

    /// Ends the lease of `conversation` (another worker may take it at once).
    pub(crate) fn release(&mut self, conversation: &str) -> Result<(), StoreError> {
        match self.held.remove(conversation) {
            Some(lease) => self.store.release(&lease),
            None => Ok(()),
        }
    }

    /// Forgets `conversation`'s lease without a store call (it was taken over).
    pub(crate) fn forget(&mut self, conversation: &str) {
        self.held.remove(conversation);
    }

    /// Renews every lease of which half has run, so that conversations at rest stay this
    /// worker's; the ones taken over meanwhile are forgotten and returned.
    /// A walk over the leases only when one is due.
    pub(crate) fn renew_due(&mut self) -> Vec<(String, StoreError)> {
        let now = now_ms();
        if now < self.next_due {
            return Vec::new();
        }
        let due: Vec<String> = (self.held.iter())
            .filter(|(_, lease)| now >= self.due(lease))
            .map(|(id, _)| id.clone())
            .collect();
        let failures = due
            .into_iter()
            .filter_map(|id| self.current(&id).err().map(|error| (id, error)))
            .collect();
        self.next_due = (self.held.values().map(|lease| self.due(lease)).min()).unwrap_or(u64::MAX);
        failures
    }

    /// When `lease` is renewed: once half of it has run.
    fn due(&self, lease: &Lease) -> u64 {
        let half = u64::try_from(self.ttl.as_millis() / 2).unwrap_or(u64::MAX);
        lease.expires_at.saturating_sub(half)
    }
}

/// A conversation rebuilt from its records by [`Durable::resume`] and put on its lane.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Resumed {
    /// Calls whose output was not durable: hand them to the tool handler again (they may
    /// have run before: at-least-once, so tools should be idempotent by `call_id`).
    pub rerun: Vec<ToolCall>,
    /// Calls whose output was durable: they do not run again.
    pub skipped: Vec<ToolCall>,
    /// The final response, when the conversation had finished: nothing goes out.
    pub finished: Option<Box<Response>>,
    /// Whether its first input was stored. `false`: the worker died before, nothing of the
    /// conversation went out; send the first request again.
    pub started: bool,
}

impl Resumed {
    /// What the replay of a stored conversation says of it; `rerun` is left to fill once
    /// its context is in place.
    pub(crate) fn of(replayed: &Replayed) -> Resumed {
        Resumed {
            rerun: Vec::new(),
            skipped: (replayed.durable_outputs())
                .map(|(call, _)| call.clone())
                .collect(),
            finished: (replayed.is_finished())
                .then(|| replayed.last_response.clone().map(Box::new))
                .flatten(),
            started: !replayed.ledger.items().is_empty(),
        }
    }
}

/// How [`Durable::start`] found a conversation.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Start {
    /// The store had no record of it: it is new, journaled from now on.
    New,
    /// The store had it: resumed.
    Resumed(Resumed),
}

impl Durable {
    /// Journals to `store` as `worker` (the name its leases carry).
    pub fn new(store: SharedStore, worker: impl Into<String>) -> Durable {
        Durable {
            leases: Leases::new(store, worker, DEFAULT_LEASE_TTL),
            unstored: Vec::new(),
        }
    }

    /// The driver's store, or [`Error::Store`] saying none is configured.
    pub fn required(slot: &mut Option<Durable>) -> Result<&mut Durable, Error> {
        slot.as_mut().ok_or_else(|| {
            Error::Store(StoreError::Unavailable(
                "no store is configured (Config::store)".into(),
            ))
        })
    }

    /// Sets how long a lease lasts unless renewed.
    pub fn lease_ttl(mut self, ttl: Duration) -> Durable {
        self.leases.ttl = ttl;
        self
    }

    /// The store.
    pub fn store(&self) -> &SharedStore {
        self.leases.store()
    }

    /// Starts the conversation `conversation` on `lane` (which must be new): takes its lease
    /// and journals the lane. Fails with [`StoreError::Held`] while another worker holds it.
    pub fn open(
        &mut self,
        machine: &mut Machine,
        lane: &Lane,
        conversation: &str,
    ) -> Result<(), Error> {
        self.leases.acquire(conversation)?;
        machine.journal(lane, conversation)?;
        self.persist(machine)?;
        Ok(())
    }

    /// Takes conversation `conversation` over (its lease: [`StoreError::Held`] while another
    /// worker's runs), reads and replays its records and puts it on `lane` of `machine`: its
    /// next request goes out with the full context on the connection (the one it owed, or
    /// the continuation once the calls to [`rerun`](Resumed::rerun) are answered).
    pub fn resume(
        &mut self,
        machine: &mut Machine,
        lane: &Lane,
        conversation: &str,
    ) -> Result<Resumed, Error> {
        self.leases.acquire(conversation)?;
        let records = self.store().read(conversation).map_err(Error::Store)?;
        let replayed = replay(&records).map_err(Error::Replay)?;
        let mut resumed = Resumed::of(&replayed);
        machine.import_lane(lane, LaneTransfer::from(replayed))?;
        resumed.rerun = machine.session().pending_tool_calls(lane);
        Ok(resumed)
    }

    /// Opens conversation `conversation` on `lane`: a new one ([`open`](Self::open)) when
    /// the store has no record of it, else the stored one ([`resume`](Self::resume)).
    pub fn start(
        &mut self,
        machine: &mut Machine,
        lane: &Lane,
        conversation: &str,
    ) -> Result<Start, Error> {
        if self.store().read(conversation)?.is_empty() {
            self.open(machine, lane, conversation)?;
            return Ok(Start::New);
        }
        self.resume(machine, lane, conversation).map(Start::Resumed)
    }

    /// Stores every record the core has, in order, before the driver writes a byte: one
    /// append (one durable write) per conversation per call. On an error the records stay
    /// here and the next call tries again; the driver writes nothing meanwhile
    /// ([`is_clear`](Self::is_clear)).
    pub fn persist(&mut self, machine: &mut Machine) -> Result<(), StoreError> {
        self.unstored
            .extend(std::iter::from_fn(|| machine.poll_record()));
        while let Some(first) = self.unstored.first() {
            let conversation = first.conversation.clone();
            let run = self
                .unstored
                .iter()
                .take_while(|record| record.conversation == conversation)
                .count();
            let lease = self.leases.current(&conversation)?;
            self.leases.store.append(&lease, &self.unstored[..run])?;
            self.unstored.drain(..run);
        }
        Ok(())
    }

    /// Whether every record taken from the core is stored: bytes may be written.
    pub fn is_clear(&self) -> bool {
        self.unstored.is_empty()
    }

    /// Ends the lease of `conversation` (another worker may take it at once).
    pub fn release(&mut self, conversation: &str) -> Result<(), StoreError> {
        self.leases.release(conversation)
    }
}

/// Milliseconds of the wall clock, the clock every worker sharing a store passes.
fn now_ms() -> u64 {
    let since = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
}
