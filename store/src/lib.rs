//! # responses-ws-store
//!
//! Where a conversation's write-ahead [`Record`]s live so that it outlives its process, and
//! the [`Lease`]s that let one worker at a time drive it.
//!
//! - [`Store`]: append records under a lease, read them back, acquire, renew and release
//!   leases. Errors are typed ([`StoreError`]): a worker whose lease was taken over is
//!   [`Fenced`](StoreError::Fenced) and must stop; nothing is written when an error returns.
//! - [`MemoryStore`]: in memory, for tests.
//! - [`FileStore`]: the embedded default, one SQLite file; nothing to run besides the worker.
//! - `RedisStore` (feature `redis`, on by default): a Redis server, for workers on several
//!   machines. Each check-then-write is one Lua script, atomic on the server.
//! - [`open`]: the store a string names (a Redis URL or a file path), as a command line
//!   gives it.
//! - `testing::Instrumented` (feature `testing`): a wrapper for tests and benchmarks that
//!   counts appends and can be taken down.
//!
//! Time is an argument (milliseconds of the caller's clock, the same for every worker that
//! shares a store): the store keeps no clock of its own.
//!
//! ## Which store
//!
//! - One process, or several on one machine (or sharing a local disk): [`FileStore`]. It
//!   needs nothing else, survives power loss (WAL, fsync per append), and its processes
//!   fence each other through the file.
//! - Workers on several machines: `RedisStore`. A conversation moves to whichever worker
//!   acquires it; durability is the server's, so run Redis with `appendonly yes` and
//!   `appendfsync always` (an fsync before each acknowledgement; `everysec` risks the last
//!   second of appends), or with replicas. Do not put a SQLite file on a network file
//!   system instead: its locks are not reliable there.
//! - Tests, or a conversation that needs leases between tasks but not durability:
//!   [`MemoryStore`].
//!
//! Cost of one durable append (600-byte tool output), `cargo bench -p responses-ws-store`
//! on a loaded 2-core virtual machine: about 2.5 µs in memory; 3.6–4.9 ms to the SQLite
//! file and 3.6–5.3 ms to Redis with `appendfsync always` on the same disk (the fsync
//! dominates both); 130–150 µs to Redis without persistence (the loopback round trip and the
//! script). BENCHMARKS.md has the table.
//!
//! A Redis write whose connection fails on the way is checked against the stored list when
//! the server answers again (one retry on a new connection); only when it cannot be checked
//! is it [`StoreError::InDoubt`], the one error after which the records may hold the write.
//!
//! ## Why SQLite for the embedded store
//!
//! Measured against redb 2 on this machine (one record of 600 bytes appended per write
//! transaction, each made durable with fsync before it returns; 300 appends):
//!
//! | backend (fsync per append)           | p50    | p90    | p99         |
//! |---------------------------------------|--------|--------|-------------|
//! | redb, `Durability::Immediate`         | 4.0 ms | 7.5–8.0 ms | 9–11 ms |
//! | SQLite, WAL, `synchronous=FULL`       | 4.0 ms | 8.0 ms | 12–24 ms    |
//! | SQLite, rollback journal, `FULL`      | 17–20 ms | 24–26 ms | 31–39 ms |
//!
//! (a throwaway program, two runs side by side on 2 cores shared with other builds and a
//! virtual disk: the fsync dominates and the engines tie at the median; SQLite's rollback
//! journal costs two extra fsyncs and is not used.) The absolute cost moves with the disk's
//! load: `cargo bench -p responses-ws-store` (one 600-byte tool-output record per append)
//! measured 0.6–0.9 ms per durable append to [`FileStore`] on a quieter moment, against
//! 2–3 µs for [`MemoryStore`].
//!
//! Crash safety: both are designed to survive power loss at any point (SQLite's WAL with
//! `synchronous=FULL`; redb's copy-on-write commits). What decides is sharing: redb locks
//! its file for one process, while several worker processes can open one SQLite file
//! together — a lease then moves a conversation between them without a server, which is
//! the point of the lease. The cost is a C library compiled from the `rusqlite` crate.

mod error;
mod file;
mod lease;
mod memory;
mod open;
mod records;
#[cfg(feature = "redis")]
mod redis;
#[cfg(feature = "testing")]
pub mod testing;

use std::time::Duration;

pub use error::StoreError;
pub use file::FileStore;
pub use lease::Lease;
pub use memory::MemoryStore;
pub use open::open;
#[cfg(feature = "redis")]
pub use redis::{RedisOptions, RedisStore};
pub use responses_ws_core::persist::Record;

/// A durable home for conversations' records and leases.
///
/// Every write is checked against the conversation's current lease: only its holder writes,
/// and its records continue the conversation one `seq` at a time from 0.
///
/// ```
/// # use std::time::Duration;
/// # use responses_ws_core::session::{Lane, Session, SessionConfig};
/// # use responses_ws_store::{MemoryStore, Store};
/// # let store = MemoryStore::default();
/// # let ttl = Duration::from_secs(30);
/// # let mut session = Session::new(SessionConfig::default());
/// # session.journal(&Lane::Default, "conv-1")?;
/// # let records: Vec<_> = std::iter::from_fn(|| session.poll_record()).collect();
/// // A worker takes the conversation, writes, and lets go.
/// let lease = store.acquire("conv-1", "worker-a", 0, ttl)?;
/// store.append(&lease, &records)?;
/// store.release(&lease)?;
/// // Another worker continues it from the stored records.
/// let lease = store.acquire("conv-1", "worker-b", 1_000, ttl)?;
/// assert_eq!(store.read("conv-1")?.len(), records.len());
/// # store.release(&lease)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub trait Store {
    /// Grants `holder` the conversation at `now` until `now + ttl`, with a fencing token
    /// greater than any before. Refused with [`StoreError::Held`] while another worker's
    /// lease has not expired.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use responses_ws_store::{MemoryStore, Store, StoreError};
    /// # let store = MemoryStore::default();
    /// # let ttl = Duration::from_secs(30);
    /// let a = store.acquire("conv-1", "worker-a", 0, ttl)?;
    /// // Held: another worker must wait for the lease to expire.
    /// assert!(matches!(store.acquire("conv-1", "worker-b", 1_000, ttl), Err(StoreError::Held { .. })));
    /// let b = store.acquire("conv-1", "worker-b", 31_000, ttl)?;
    /// assert!(b.token > a.token);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn acquire(
        &self,
        conversation: &str,
        holder: &str,
        now: u64,
        ttl: Duration,
    ) -> Result<Lease, StoreError>;

    /// Extends `lease` to `now + ttl`; [`StoreError::Fenced`] if it is no longer current.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use responses_ws_store::{MemoryStore, Store};
    /// # let store = MemoryStore::default();
    /// # let ttl = Duration::from_secs(30);
    /// let lease = store.acquire("conv-1", "worker-a", 0, ttl)?;
    /// let renewed = store.renew(&lease, 20_000, ttl)?;
    /// // Still held at 40 s: the renewal moved the expiry to 50 s.
    /// assert!(store.acquire("conv-1", "worker-b", 40_000, ttl).is_err());
    /// # let _ = renewed;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn renew(&self, lease: &Lease, now: u64, ttl: Duration) -> Result<Lease, StoreError>;

    /// Ends `lease` now (any worker may acquire next); [`StoreError::Fenced`] if it is no
    /// longer current.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use responses_ws_store::{MemoryStore, Store, StoreError};
    /// # let store = MemoryStore::default();
    /// # let ttl = Duration::from_secs(30);
    /// let lease = store.acquire("conv-1", "worker-a", 0, ttl)?;
    /// store.release(&lease)?;
    /// store.acquire("conv-1", "worker-b", 1, ttl)?; // free at once
    /// assert!(matches!(store.release(&lease), Err(StoreError::Fenced { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn release(&self, lease: &Lease) -> Result<(), StoreError>;

    /// Appends `records` (all of `lease`'s conversation, numbered on from the last stored
    /// one) durably, all or none. [`StoreError::Fenced`] if `lease` is no longer current,
    /// [`StoreError::Conflict`] if the records do not continue the conversation.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use responses_ws_core::session::{Lane, Session, SessionConfig};
    /// # use responses_ws_store::{MemoryStore, Store, StoreError};
    /// # let store = MemoryStore::default();
    /// # let ttl = Duration::from_secs(30);
    /// # let mut session = Session::new(SessionConfig::default());
    /// # session.journal(&Lane::Default, "conv-1")?;
    /// # let records: Vec<_> = std::iter::from_fn(|| session.poll_record()).collect();
    /// let lease = store.acquire("conv-1", "worker-a", 0, ttl)?;
    /// store.append(&lease, &records)?;
    /// // The same records again do not continue the conversation.
    /// assert!(matches!(store.append(&lease, &records), Err(StoreError::Conflict { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn append(&self, lease: &Lease, records: &[Record]) -> Result<(), StoreError>;

    /// Appends the records of several conversations, each under its lease and each as
    /// [`append`](Self::append) would (all or none, fenced, numbered on): one result per
    /// entry, in order; one conversation refused does not stop the others. A pool stores
    /// what all its conversations did in one step with one call.
    ///
    /// The default appends them one by one; [`FileStore`] writes them all in one
    /// transaction (one fsync for the batch).
    ///
    /// ```
    /// use std::time::Duration;
    /// use responses_ws_store::{MemoryStore, Record, Store};
    /// use responses_ws_core::persist::{Entry, Journal};
    /// use responses_ws_core::session::Lane;
    ///
    /// let store = MemoryStore::default();
    /// let a = store.acquire("a", "worker", 0, Duration::from_secs(30))?;
    /// let b = store.acquire("b", "worker", 0, Duration::from_secs(30))?;
    /// let record = |id: &str| Journal::new(id).record(Entry::Opened { lane: Lane::Default });
    /// let results = store.append_many(&[(&a, &[record("a")][..]), (&b, &[record("b")][..])]);
    /// assert!(results.iter().all(Result::is_ok));
    /// assert_eq!(store.read("b")?.len(), 1);
    /// # Ok::<(), responses_ws_store::StoreError>(())
    /// ```
    fn append_many(&self, batch: &[(&Lease, &[Record])]) -> Vec<Result<(), StoreError>> {
        batch
            .iter()
            .map(|(lease, records)| self.append(lease, records))
            .collect()
    }

    /// The conversation's records, oldest first (none for an unknown conversation).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use responses_ws_core::session::{Lane, Session, SessionConfig};
    /// # use responses_ws_store::{MemoryStore, Store};
    /// # let store = MemoryStore::default();
    /// # let ttl = Duration::from_secs(30);
    /// # let mut session = Session::new(SessionConfig::default());
    /// # session.journal(&Lane::Default, "conv-1")?;
    /// # let records: Vec<_> = std::iter::from_fn(|| session.poll_record()).collect();
    /// assert!(store.read("conv-1")?.is_empty());
    /// let lease = store.acquire("conv-1", "worker-a", 0, ttl)?;
    /// store.append(&lease, &records)?;
    /// assert_eq!(store.read("conv-1")?, records);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn read(&self, conversation: &str) -> Result<Vec<Record>, StoreError>;
}

#[cfg(test)]
mod tests;
