//! [`Instrumented`] (feature `testing`): a store for tests and benchmarks that passes every
//! call on to another store, counts the appends, and can be taken down to see what a driver
//! does when its store fails.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::{Lease, MemoryStore, Record, Store, StoreError};

/// A store around another: while [down](Self::set_down), every append fails with
/// [`StoreError::Unavailable`] and stores nothing (leases and reads go on); it counts the
/// calls that append (one [`append`](Store::append) or one
/// [`append_many`](Store::append_many) batch each) and the records they carried.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use responses_ws_core::persist::{Entry, Journal};
/// use responses_ws_core::session::Lane;
/// use responses_ws_store::testing::Instrumented;
/// use responses_ws_store::{Store, StoreError};
///
/// let store = Instrumented::default(); // around a MemoryStore
/// let lease = store.acquire("conv-1", "worker", 0, Duration::from_secs(30))?;
/// let record = Journal::new("conv-1").record(Entry::Opened { lane: Lane::Default });
/// store.set_down(true);
/// let refused = store.append(&lease, &[record.clone()]);
/// assert!(matches!(refused, Err(StoreError::Unavailable(_))));
/// assert!(store.read("conv-1")?.is_empty());
/// store.set_down(false);
/// store.append(&lease, &[record])?;
/// assert_eq!(store.read("conv-1")?.len(), 1);
/// assert_eq!((store.appends(), store.records()), (1, 1)); // the refused one is not counted
/// # Ok::<(), StoreError>(())
/// ```
pub struct Instrumented {
    inner: Arc<dyn Store + Send + Sync>,
    down: AtomicBool,
    appends: AtomicU64,
    records: AtomicU64,
}

impl Instrumented {
    /// Around `inner`, up, nothing counted yet.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use responses_ws_store::testing::Instrumented;
    /// use responses_ws_store::MemoryStore;
    ///
    /// let store = Instrumented::new(Arc::new(MemoryStore::default()));
    /// assert_eq!(store.appends(), 0);
    /// ```
    pub fn new(inner: Arc<dyn Store + Send + Sync>) -> Instrumented {
        Instrumented {
            inner,
            down: AtomicBool::new(false),
            appends: AtomicU64::new(0),
            records: AtomicU64::new(0),
        }
    }

    /// Takes the store down (`true`: appends fail) or brings it back up.
    ///
    /// ```
    /// use responses_ws_store::testing::Instrumented;
    /// use responses_ws_store::{Store, StoreError};
    ///
    /// let store = Instrumented::default();
    /// store.set_down(true);
    /// let lease = store.acquire("conv-1", "worker", 0, std::time::Duration::from_secs(30))?;
    /// assert!(matches!(store.append(&lease, &[]), Err(StoreError::Unavailable(_))));
    /// # Ok::<(), StoreError>(())
    /// ```
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// How many calls appended (a batch counts once).
    ///
    /// ```
    /// use responses_ws_store::testing::Instrumented;
    /// use responses_ws_store::Store;
    ///
    /// let store = Instrumented::default();
    /// let lease = store.acquire("conv-1", "worker", 0, std::time::Duration::from_secs(30))?;
    /// store.append_many(&[(&lease, &[][..])]);
    /// assert_eq!(store.appends(), 1);
    /// # Ok::<(), responses_ws_store::StoreError>(())
    /// ```
    pub fn appends(&self) -> u64 {
        self.appends.load(Ordering::Relaxed)
    }

    /// How many records those calls carried.
    ///
    /// ```
    /// use responses_ws_core::persist::{Entry, Journal};
    /// use responses_ws_core::session::Lane;
    /// use responses_ws_store::testing::Instrumented;
    /// use responses_ws_store::Store;
    ///
    /// let store = Instrumented::default();
    /// let lease = store.acquire("conv-1", "worker", 0, std::time::Duration::from_secs(30))?;
    /// let record = Journal::new("conv-1").record(Entry::Opened { lane: Lane::Default });
    /// store.append(&lease, &[record])?;
    /// assert_eq!(store.records(), 1);
    /// # Ok::<(), responses_ws_store::StoreError>(())
    /// ```
    pub fn records(&self) -> u64 {
        self.records.load(Ordering::Relaxed)
    }

    /// Refuses while down; else counts one call of `records` records.
    fn admit(&self, records: usize) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable("taken down by the test".into()));
        }
        self.appends.fetch_add(1, Ordering::Relaxed);
        let records = u64::try_from(records).unwrap_or(u64::MAX);
        self.records.fetch_add(records, Ordering::Relaxed);
        Ok(())
    }
}

impl Default for Instrumented {
    /// Around a new [`MemoryStore`].
    fn default() -> Instrumented {
        Instrumented::new(Arc::new(MemoryStore::default()))
    }
}

impl std::fmt::Debug for Instrumented {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instrumented")
            .field("down", &self.down)
            .field("appends", &self.appends)
            .field("records", &self.records)
            .finish_non_exhaustive()
    }
}

impl Store for Instrumented {
    fn acquire(&self, c: &str, h: &str, now: u64, ttl: Duration) -> Result<Lease, StoreError> {
        self.inner.acquire(c, h, now, ttl)
    }

    fn renew(&self, lease: &Lease, now: u64, ttl: Duration) -> Result<Lease, StoreError> {
        self.inner.renew(lease, now, ttl)
    }

    fn release(&self, lease: &Lease) -> Result<(), StoreError> {
        self.inner.release(lease)
    }

    fn append(&self, lease: &Lease, records: &[Record]) -> Result<(), StoreError> {
        self.admit(records.len())?;
        self.inner.append(lease, records)
    }

    fn append_many(&self, batch: &[(&Lease, &[Record])]) -> Vec<Result<(), StoreError>> {
        let records = batch.iter().map(|(_, records)| records.len()).sum();
        match self.admit(records) {
            Ok(()) => self.inner.append_many(batch),
            Err(error) => batch.iter().map(|_| Err(error.duplicate())).collect(),
        }
    }

    fn read(&self, conversation: &str) -> Result<Vec<Record>, StoreError> {
        self.inner.read(conversation)
    }
}
