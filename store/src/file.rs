//! [`FileStore`]: the embedded default, one SQLite file (WAL journal, `synchronous=FULL`:
//! an append has reached the disk when it returns). Several processes may open the same
//! file; each check-then-write runs in one immediate transaction, so leases and fencing hold
//! between them.

use std::io;
use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use responses_ws_core::persist::Record;
use rusqlite::{params, Connection, ErrorCode, OptionalExtension, TransactionBehavior};

use crate::lease::{self, LeaseCell};
use crate::{records, Lease, Store, StoreError};

/// How long a write waits for another process's transaction on the file before it reports
/// [`StoreError::Unavailable`].
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS records (
        conversation TEXT NOT NULL,
        seq INTEGER NOT NULL,
        body BLOB NOT NULL,
        PRIMARY KEY (conversation, seq)
    ) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS leases (
        conversation TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        token INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;
";

/// A store in one SQLite file.
///
/// ```
/// use std::time::Duration;
/// use responses_ws_core::persist::{Entry, Journal};
/// use responses_ws_core::session::Lane;
/// use responses_ws_store::{FileStore, Store};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("conversations.sqlite");
/// let store = FileStore::open(&path)?;
/// let lease = store.acquire("conv-1", "worker-a", 0, Duration::from_secs(30))?;
/// store.append(&lease, &[Journal::new("conv-1").record(Entry::Opened { lane: Lane::Default })])?;
/// drop(store);
/// assert_eq!(FileStore::open(&path)?.read("conv-1")?.len(), 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct FileStore {
    connection: Mutex<Connection>,
}

impl FileStore {
    /// Opens (or creates) the store at `path`. A file marked read-only is refused with
    /// [`StoreError::ReadOnly`] (even for a user the OS would let write it).
    pub fn open(path: impl AsRef<Path>) -> Result<FileStore, StoreError> {
        let path = path.as_ref();
        match std::fs::metadata(path) {
            Ok(meta) if meta.permissions().readonly() => {
                return Err(StoreError::ReadOnly(path.display().to_string()))
            }
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(error.into()),
        }
        let connection = Connection::open(path).map_err(sql_error)?;
        connection.busy_timeout(BUSY_TIMEOUT).map_err(sql_error)?;
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_error)?;
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(sql_error)?;
        connection.execute_batch(SCHEMA).map_err(sql_error)?;
        Ok(FileStore {
            connection: Mutex::new(connection),
        })
    }

    /// A connection's transactions roll back when dropped, so a panicking holder leaves
    /// nothing half-written: a poisoned lock is safe to take.
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

impl LeaseCell for FileStore {
    /// Runs `change` on the conversation's current lease in one immediate transaction
    /// (taken before reading, so no other process writes in between) and stores the lease
    /// it returns.
    fn change_lease(
        &self,
        conversation: &str,
        change: &dyn Fn(Option<&Lease>) -> Result<Lease, StoreError>,
    ) -> Result<Lease, StoreError> {
        let mut connection = self.lock();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        let next = change(load_lease(&tx, conversation)?.as_ref())?;
        tx.execute(
            "INSERT OR REPLACE INTO leases VALUES (?1, ?2, ?3, ?4)",
            params![
                conversation,
                next.holder,
                to_sql(next.token),
                to_sql(next.expires_at)
            ],
        )
        .map_err(sql_error)?;
        tx.commit().map_err(sql_error)?;
        Ok(next)
    }
}

impl Store for FileStore {
    lease::lease_methods!();

    fn append(&self, presented: &Lease, new: &[Record]) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let tx = connection
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sql_error)?;
        insert(&tx, presented, new)?;
        tx.commit().map_err(sql_error)
    }

    /// One immediate transaction for the whole batch (one fsync); each conversation's part
    /// in a savepoint, so one refused leaves the others.
    fn append_many(&self, batch: &[(&Lease, &[Record])]) -> Vec<Result<(), StoreError>> {
        let mut connection = self.lock();
        let mut tx = match connection.transaction_with_behavior(TransactionBehavior::Immediate) {
            Ok(tx) => tx,
            Err(error) => return failed(batch, &sql_error(error)),
        };
        let mut results = Vec::with_capacity(batch.len());
        for (presented, new) in batch {
            let result = tx.savepoint().map_err(sql_error).and_then(|part| {
                insert(&part, presented, new)?;
                part.commit().map_err(sql_error)
            });
            results.push(result);
        }
        match tx.commit() {
            Ok(()) => results,
            Err(error) => failed(batch, &sql_error(error)),
        }
    }

    fn read(&self, conversation: &str) -> Result<Vec<Record>, StoreError> {
        let connection = self.lock();
        let mut query = connection
            .prepare_cached("SELECT body FROM records WHERE conversation = ?1 ORDER BY seq")
            .map_err(sql_error)?;
        let bodies = query
            .query_map([conversation], |row| row.get::<_, Vec<u8>>(0))
            .map_err(sql_error)?;
        bodies
            .map(|body| records::decode(conversation, &body.map_err(sql_error)?))
            .collect()
    }
}

/// Checks `presented` and appends `new` in the transaction `tx`.
fn insert(tx: &Connection, presented: &Lease, new: &[Record]) -> Result<(), StoreError> {
    let conversation = presented.conversation.as_str();
    lease::check(load_lease(tx, conversation)?.as_ref(), presented)?;
    let last: Option<i64> = tx
        .query_row(
            "SELECT MAX(seq) FROM records WHERE conversation = ?1",
            [conversation],
            |row| row.get(0),
        )
        .map_err(sql_error)?;
    records::continues(conversation, last.map_or(0, |seq| from_sql(seq) + 1), new)?;
    for record in new {
        tx.prepare_cached("INSERT INTO records VALUES (?1, ?2, ?3)")
            .and_then(|mut insert| {
                insert.execute(params![
                    conversation,
                    to_sql(record.seq),
                    records::encode(record)
                ])
            })
            .map_err(sql_error)?;
    }
    Ok(())
}

/// The batch failed as a whole with `error`: every entry says so.
fn failed(batch: &[(&Lease, &[Record])], error: &StoreError) -> Vec<Result<(), StoreError>> {
    batch.iter().map(|_| Err(error.duplicate())).collect()
}

fn load_lease(connection: &Connection, conversation: &str) -> Result<Option<Lease>, StoreError> {
    connection
        .query_row(
            "SELECT holder, token, expires_at FROM leases WHERE conversation = ?1",
            [conversation],
            |row| {
                Ok(Lease {
                    conversation: conversation.into(),
                    holder: row.get(0)?,
                    token: from_sql(row.get(1)?),
                    expires_at: from_sql(row.get(2)?),
                })
            },
        )
        .optional()
        .map_err(sql_error)
}

/// SQLite integers are signed 64-bit: a `u64` is stored as the `i64` of the same bits (and
/// read back exactly). Only equality is asked of SQLite on them, never order beyond `i64::MAX`.
fn to_sql(value: u64) -> i64 {
    value as i64
}

fn from_sql(value: i64) -> u64 {
    value as u64
}

/// SQLite's errors, sorted into the store's: what the caller can act on gets its own variant.
fn sql_error(error: rusqlite::Error) -> StoreError {
    let code = error.sqlite_error_code();
    match code {
        Some(ErrorCode::ReadOnly) => StoreError::ReadOnly(error.to_string()),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Unavailable(error.to_string())
        }
        Some(ErrorCode::DiskFull) => {
            StoreError::Io(io::Error::new(io::ErrorKind::StorageFull, error))
        }
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
            StoreError::Io(io::Error::new(io::ErrorKind::InvalidData, error))
        }
        _ => StoreError::Io(io::Error::other(error)),
    }
}

#[cfg(test)]
impl FileStore {
    /// Caps the database at its current size, as a full disk would: SQLite then refuses
    /// whatever needs a new page with the error a full disk gives (`SQLITE_FULL`).
    pub(crate) fn fill_up(&self) {
        let connection = self.lock();
        let pages: i64 = connection
            .query_row("PRAGMA page_count", [], |row| row.get(0))
            .expect("the page count");
        connection
            .pragma_update(None, "max_page_count", pages)
            .expect("a page limit");
    }

    /// Lifts the cap of [`fill_up`](FileStore::fill_up).
    pub(crate) fn make_room(&self) {
        self.lock()
            .pragma_update(None, "max_page_count", i64::from(u32::MAX))
            .expect("a page limit");
    }
}
