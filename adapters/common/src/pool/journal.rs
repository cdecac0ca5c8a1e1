//! [`PoolJournal`]: what a pool driver does with a store ([`Config::store`](crate::Config::store)):
//! opens and resumes journaled conversations under leases, and after every input stores the
//! write-ahead records of every conversation of the pool **before** any byte is written —
//! all of them in one store call ([`Store::append_many`]: one transaction, one fsync for
//! the file store), whichever connections carry them.
//!
//! The call is inline, in the driver's dispatch after an input (under the async pool's
//! lock): the pool's connections write nothing during it, which is the point — none may
//! write what is not stored — and each input costs at most one store call however many
//! conversations it touched. When the store refuses a conversation's records, the pool is
//! told ([`Pool::journal_failed`](responses_ws_core::pool::Pool::journal_failed)): that
//! conversation's turn ends with [`TurnError::NotDurable`](responses_ws_core::pool::TurnError::NotDurable)
//! and nothing of it goes out; the others go on.

use std::collections::BTreeMap;
use std::fmt;

use responses_ws_core::persist::{replay, Record};
use responses_ws_core::pool::{ConvId, Pool, PoolError, TurnId};
use responses_ws_core::session::LaneTransfer;
use responses_ws_core::Instant;
use responses_ws_store::{Lease, StoreError};

use super::Error;
use crate::durable::Leases;
use crate::{Resumed, Start, StoreConfig};

/// A pool's journaled conversations in a store: leases, records not yet stored.
pub struct PoolJournal {
    leases: Leases,
    /// Records taken from the pool, not stored yet, by conversation, each oldest first.
    unstored: BTreeMap<String, Vec<Record>>,
    /// Records the store refused (down, full): written before the conversation's next ones.
    kept: BTreeMap<String, Vec<Record>>,
    /// Conversations the pool closed: their leases are released once their records are in.
    closed: Vec<String>,
    /// Store calls made and records written (for measurements).
    calls: u64,
    written: u64,
}

impl fmt::Debug for PoolJournal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolJournal")
            .field("leases", &self.leases)
            .field("unstored", &self.unstored.len())
            .field("kept", &self.kept.len())
            .field("calls", &self.calls)
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl PoolJournal {
    /// Journals to `config`'s store under its worker's leases.
    pub fn new(config: StoreConfig) -> PoolJournal {
        PoolJournal {
            leases: Leases::new(config.store, config.worker, config.lease_ttl),
            unstored: BTreeMap::new(),
            kept: BTreeMap::new(),
            closed: Vec::new(),
            calls: 0,
            written: 0,
        }
    }

    /// The driver's journal, or [`Error::Store`] saying no store is configured.
    pub fn required(slot: &mut Option<PoolJournal>) -> Result<&mut PoolJournal, Error> {
        slot.as_mut().ok_or_else(|| {
            Error::Store(StoreError::Unavailable(
                "no store is configured (Config::store)".into(),
            ))
        })
    }

    /// A new conversation of `pool` journaled as `id`: takes its lease
    /// ([`StoreError::Held`] while another worker holds it). Refused with
    /// [`PoolError::AlreadyOpen`] when the store has records of it already (resume it).
    pub fn open(&mut self, pool: &mut Pool, id: &str) -> Result<ConvId, Error> {
        self.leases.acquire(id).map_err(Error::Store)?;
        let opened = match self.leases.store().read(id) {
            Ok(records) if records.is_empty() => pool.open_journaled(id).map_err(Error::Pool),
            Ok(_) => Err(Error::Pool(PoolError::AlreadyOpen(id.into()))),
            Err(error) => Err(Error::Store(error)),
        };
        if opened.is_err() {
            // Not ours after all; a failed release only lets the lease run out.
            let _ = self.leases.release(id);
        }
        opened
    }

    /// Takes conversation `id` over in `pool` (its lease) and rebuilds it from its records:
    /// [`Start::New`] when the store has none (it is journaled from now on), else
    /// [`Start::Resumed`] — its calls without a durable output are to be run again, and
    /// when it owes work its turn resumes at once (the [`TurnId`]).
    pub fn resume(
        &mut self,
        pool: &mut Pool,
        id: &str,
        now: Instant,
    ) -> Result<(ConvId, Option<TurnId>, Start), Error> {
        self.leases.acquire(id).map_err(Error::Store)?;
        let resumed = self.rebuild(pool, id, now);
        if resumed.is_err() {
            let _ = self.leases.release(id);
        }
        resumed
    }

    fn rebuild(
        &mut self,
        pool: &mut Pool,
        id: &str,
        now: Instant,
    ) -> Result<(ConvId, Option<TurnId>, Start), Error> {
        let records = self.leases.store().read(id).map_err(Error::Store)?;
        if records.is_empty() {
            let conv = pool.open_journaled(id).map_err(Error::Pool)?;
            return Ok((conv, None, Start::New));
        }
        let replayed = replay(&records).map_err(Error::Replay)?;
        let mut resumed = Resumed::of(&replayed);
        let transfer = LaneTransfer::from(replayed);
        resumed.rerun = transfer.pending_tool_calls();
        let (conv, turn) = pool
            .resume_conversation(transfer, now)
            .map_err(Error::Pool)?;
        Ok((conv, turn, Start::Resumed(resumed)))
    }

    /// `conv` of `pool` is about to close: its lease is released once its last records are
    /// stored (the next [`persist`](Self::persist)).
    pub fn closing(&mut self, pool: &Pool, conv: ConvId) {
        if let Some(id) = pool.journaled_as(conv) {
            self.closed.push(id.into());
        }
    }

    /// Stores every record `pool` has, in one store call, before the driver writes a byte;
    /// renews the leases of which half has run. A conversation whose records the store
    /// refused is reported to the pool (its turn ends, nothing of it goes out): fenced ones
    /// lose their lease and their records; for the others the records are kept and written
    /// before their next ones. Then releases the leases of closed conversations.
    pub fn persist(&mut self, pool: &mut Pool, now: Instant) {
        while let Some(record) = pool.poll_record() {
            (self.unstored.entry(record.conversation.clone()))
                .or_default()
                .push(record);
        }
        let mut failures = self.leases.renew_due();
        if !self.unstored.is_empty() {
            failures.extend(self.store_unstored());
        }
        for (id, error) in failures {
            let fenced = matches!(error, StoreError::Fenced { .. });
            if fenced {
                self.kept.remove(&id);
                self.leases.forget(&id);
            }
            pool.journal_failed(&id, fenced, error.to_string(), now);
        }
        // A conversation closed with its turn still running closes when the turn ends.
        let (gone, open): (Vec<String>, Vec<String>) = std::mem::take(&mut self.closed)
            .into_iter()
            .partition(|id| pool.journaled(id).is_none());
        self.closed = open;
        for id in gone {
            if !self.kept.contains_key(&id) {
                // A failed release only lets the lease run out.
                let _ = self.leases.release(&id);
            }
        }
    }

    /// Appends every unstored record (after each conversation's kept ones) in one call.
    fn store_unstored(&mut self) -> Vec<(String, StoreError)> {
        let mut failures = Vec::new();
        let mut batch: Vec<(String, Lease, Vec<Record>)> = Vec::new();
        for (id, records) in std::mem::take(&mut self.unstored) {
            let mut records = records;
            if let Some(mut kept) = self.kept.remove(&id) {
                kept.append(&mut records);
                records = kept;
            }
            match self.leases.current(&id) {
                Ok(lease) => batch.push((id, lease, records)),
                Err(error) => {
                    self.keep(&id, records, &error);
                    failures.push((id, error));
                }
            }
        }
        let entries: Vec<(&Lease, &[Record])> = (batch.iter())
            .map(|(_, lease, records)| (lease, records.as_slice()))
            .collect();
        let results = self.leases.store().append_many(&entries);
        self.calls += 1;
        for ((id, _, records), result) in batch.into_iter().zip(results) {
            match result {
                Ok(()) => self.written += records.len() as u64,
                Err(error) => {
                    self.keep(&id, records, &error);
                    failures.push((id, error));
                }
            }
        }
        failures
    }

    /// Keeps `records` the store refused with `error`, unless they can never be written
    /// (fenced).
    fn keep(&mut self, id: &str, records: Vec<Record>, error: &StoreError) {
        if !matches!(error, StoreError::Fenced { .. }) {
            self.kept.insert(id.into(), records);
        }
    }

    /// Store calls made and records written so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.calls, self.written)
    }
}
