//! [`Member`]: one connection of the pool — its [`Client`], where it is in its life, and its
//! lanes.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;

use crate::client::Client;
use crate::retry::Failure;
use crate::time::Instant;

use super::config::PoolConfig;
use super::ids::ConnId;
use super::slots::LaneSlots;

/// The pool's connections by id. Boxed: a B-tree node has room for 11 entries and is often
/// half full, and a member (its client inline) is about 1.8 KiB, so inline members would
/// cost an idle connection nearly twice its size.
pub(crate) type Members = BTreeMap<ConnId, Box<Member>>;

/// Where a connection is in its life. Only `Opening` and `Open` connections take turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionPhase {
    /// Dialed; the upgrade has not finished. Turns placed here wait for it in the session.
    Opening,
    /// Upgraded.
    Open,
    /// Aged or idle: takes no turn, closes once its running turns have ended.
    Draining,
    /// Closing (by the pool, or by the session that gave it up).
    Closing,
}

/// One connection of the pool.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) client: Client,
    pub(crate) phase: ConnectionPhase,
    pub(crate) slots: LaneSlots,
    /// When the upgrade finished.
    pub(crate) opened_at: Option<Instant>,
    /// When its last running turn ended (meaningful while no turn runs).
    pub(crate) idle_since: Instant,
    /// The connection ended (reported by the client); the pool moves its conversations off.
    pub(crate) lost: Option<Failure>,
}

impl Member {
    pub(crate) fn new(client: Client, lanes: usize, now: Instant) -> Self {
        Member {
            client,
            phase: ConnectionPhase::Opening,
            slots: LaneSlots::new(lanes),
            opened_at: None,
            idle_since: now,
            lost: None,
        }
    }

    /// Takes the conversation off slot `slot`, whose lane was exported; a connection left
    /// with no conversation gives back what its client can rebuild.
    pub(crate) fn vacate(&mut self, slot: usize) {
        self.slots.vacate(slot);
        if self.slots.is_empty() {
            self.client.release_idle_memory();
        }
    }

    /// Whether one more turn may start here.
    pub(crate) fn takes_turns(&self, per_connection: usize) -> bool {
        matches!(self.phase, ConnectionPhase::Opening | ConnectionPhase::Open)
            && self.lost.is_none()
            && self.slots.busy() < per_connection
            && self.client.has_room()
    }

    /// When this open connection starts draining: at its rotation age, or once idle for the
    /// idle TTL.
    pub(crate) fn drain_at(&self, config: &PoolConfig) -> Option<Instant> {
        if self.phase != ConnectionPhase::Open {
            return None;
        }
        let rotate = self.opened_at.map(|at| at + config.rotate_after);
        let idle = (self.slots.busy() == 0).then(|| self.idle_since + config.idle_ttl);
        [rotate, idle].into_iter().flatten().min()
    }
}
