//! The server's connection log: one [`ConnectionRecord`] per TCP connection — when it was
//! accepted, how and when its WebSocket upgrade was answered, when it closed, how full it got
//! and how many error events it was sent — for tests that assert what a client did from the
//! server's side (connections at once, one probe at a time after a refusal, limits kept).
//! Bounded: past [`MAX_RECORDS`] connections, new ones are counted but not recorded.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use responses_ws_core::mock::Occupancy;

/// Connections recorded at most.
pub const MAX_RECORDS: usize = 1 << 16;

/// What the server saw of one TCP connection. Times are since the server started (on tokio's
/// clock, so paused test time applies).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionRecord {
    /// When the connection was accepted.
    pub accepted: Duration,
    /// When the WebSocket upgrade was answered, and the status sent (101 accepted, else the
    /// refusal's: 429, 503, 401, 426 …); `None` for plain HTTP or an upgrade left unanswered.
    pub upgrade: Option<(Duration, u16)>,
    /// When the socket was closed; `None` while it is open.
    pub closed: Option<Duration>,
    /// How full the WebSocket connection got (peak in flight, peak queued, named lanes).
    pub occupancy: Occupancy,
    /// `error` events sent on it (refused requests: a lane limit, a missing or stray tool
    /// output …).
    pub errors_sent: u64,
}

/// The log, behind a lock.
#[derive(Debug, Default)]
pub(super) struct Log {
    records: Mutex<Vec<ConnectionRecord>>,
}

/// A connection's place in the log (`None` once the log is full).
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry(Option<usize>);

impl Log {
    /// A new connection, accepted `at`.
    pub(super) fn open(&self, at: Duration) -> Entry {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= MAX_RECORDS {
            return Entry(None);
        }
        records.push(ConnectionRecord {
            accepted: at,
            ..ConnectionRecord::default()
        });
        Entry(Some(records.len() - 1))
    }

    /// Changes the record of `entry`.
    pub(super) fn update(&self, entry: Entry, change: impl FnOnce(&mut ConnectionRecord)) {
        let Entry(Some(index)) = entry else { return };
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(record) = records.get_mut(index) {
            change(record);
        }
    }

    /// Every record so far, in the order connections were accepted.
    pub(super) fn records(&self) -> Vec<ConnectionRecord> {
        self.records
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
