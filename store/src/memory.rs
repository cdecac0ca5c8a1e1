//! [`MemoryStore`]: records and leases in the process's memory, for tests and for a single
//! process that only needs leases between its own tasks.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use responses_ws_core::persist::Record;

use crate::lease::{self, LeaseCell};
use crate::{records, Lease, Store, StoreError};

/// A store that keeps everything in memory: nothing survives the process.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_core::persist::{Entry, Journal};
/// use responses_ws_core::session::Lane;
/// use responses_ws_store::{MemoryStore, Store};
///
/// let store = MemoryStore::default();
/// let lease = store.acquire("conv-1", "worker-a", 0, Duration::from_secs(30))?;
/// let mut journal = Journal::new("conv-1");
/// store.append(&lease, &[journal.record(Entry::Opened { lane: Lane::Default })])?;
/// assert_eq!(store.read("conv-1")?.len(), 1);
/// # Ok::<(), responses_ws_store::StoreError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemoryStore {
    conversations: Mutex<HashMap<String, Conversation>>,
}

#[derive(Debug, Default)]
struct Conversation {
    lease: Option<Lease>,
    records: Vec<Record>,
}

impl MemoryStore {
    /// Every method holds the lock for its whole check-then-write: a panicking holder cannot
    /// leave a half-made change, so a poisoned lock is safe to take.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Conversation>> {
        self.conversations
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl LeaseCell for MemoryStore {
    fn change_lease(
        &self,
        conversation: &str,
        change: &dyn Fn(Option<&Lease>) -> Result<Lease, StoreError>,
    ) -> Result<Lease, StoreError> {
        let mut all = self.lock();
        let state = all.entry(conversation.into()).or_default();
        let next = change(state.lease.as_ref())?;
        state.lease = Some(next.clone());
        Ok(next)
    }
}

impl Store for MemoryStore {
    lease::lease_methods!();

    fn append(&self, presented: &Lease, new: &[Record]) -> Result<(), StoreError> {
        let mut all = self.lock();
        let state = all.entry(presented.conversation.clone()).or_default();
        lease::check(state.lease.as_ref(), presented)?;
        records::continues(&presented.conversation, next_seq(&state.records), new)?;
        state.records.extend_from_slice(new);
        Ok(())
    }

    fn read(&self, conversation: &str) -> Result<Vec<Record>, StoreError> {
        Ok(self
            .lock()
            .get(conversation)
            .map(|state| state.records.clone())
            .unwrap_or_default())
    }
}

fn next_seq(records: &[Record]) -> u64 {
    records.last().map_or(0, |record| record.seq + 1)
}
