//! [`Timers`]: each connection's next deadline (its client's timers, its rotation age, its
//! idle TTL) in a table ordered by time, so that the pool's `poll_timeout` and
//! `handle_timeout` cost a lookup instead of a walk over every connection. A connection the
//! pool touched is marked; its entry is recomputed before the table is read.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use super::config::PoolConfig;
use super::ids::ConnId;
use super::member::Member;
use crate::time::Instant;

/// The deadline table.
///
/// Invariant: after [`flush`](Self::flush), `by_time` holds exactly one entry for each
/// connection with a deadline, equal to `of[conn]`; a connection whose deadline may have
/// changed since is in `marked`.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    by_time: BTreeSet<(Instant, ConnId)>,
    of: BTreeMap<ConnId, Instant>,
    marked: BTreeSet<ConnId>,
}

impl Timers {
    /// `conn`'s deadline may have changed.
    pub(crate) fn mark(&mut self, conn: ConnId) {
        self.marked.insert(conn);
    }

    /// `conn` is gone.
    pub(crate) fn forget(&mut self, conn: ConnId) {
        self.marked.remove(&conn);
        if let Some(at) = self.of.remove(&conn) {
            self.by_time.remove(&(at, conn));
        }
    }

    /// Recomputes the entries of the marked connections.
    pub(crate) fn flush(&mut self, members: &BTreeMap<ConnId, Member>, config: &PoolConfig) {
        for conn in core::mem::take(&mut self.marked) {
            if let Some(at) = self.of.remove(&conn) {
                self.by_time.remove(&(at, conn));
            }
            let Some(member) = members.get(&conn) else {
                continue;
            };
            let next = [member.client.poll_timeout(), member.drain_at(config)]
                .into_iter()
                .flatten()
                .min();
            if let Some(at) = next {
                self.of.insert(conn, at);
                self.by_time.insert((at, conn));
            }
        }
    }

    /// The earliest deadline (call [`flush`](Self::flush) first).
    pub(crate) fn first(&self) -> Option<Instant> {
        self.by_time.first().map(|&(at, _)| at)
    }

    /// The connections whose deadline is at or before `now` (call [`flush`](Self::flush)
    /// first).
    pub(crate) fn due(&self, now: Instant) -> Vec<ConnId> {
        self.by_time
            .iter()
            .take_while(|&&(at, _)| at <= now)
            .map(|&(_, conn)| conn)
            .collect()
    }
}
