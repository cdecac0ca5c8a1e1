//! [`Member`]: one connection of the pool — its [`Link`] (a WebSocket client, or an HTTP
//! client with a socket per request), where it is in its life, and its lanes.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;

use crate::http_client::Transport;
use crate::retry::Failure;
use crate::time::Instant;

use super::config::PoolConfig;
use super::ids::ConnId;
use super::link::Link;
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
    pub(crate) link: Link,
    pub(crate) phase: ConnectionPhase,
    pub(crate) slots: LaneSlots,
    /// Turns it runs at once (over HTTP: requests at once).
    turns: usize,
    /// When the upgrade finished.
    pub(crate) opened_at: Option<Instant>,
    /// When its last running turn ended (meaningful while no turn runs).
    pub(crate) idle_since: Instant,
    /// The connection ended (reported by the client); the pool moves its conversations off.
    pub(crate) lost: Option<Failure>,
}

impl Member {
    /// A WebSocket connection, dialed at `now`.
    pub(crate) fn new(link: Link, lanes: usize, turns: usize, now: Instant) -> Self {
        Member {
            link,
            phase: ConnectionPhase::Opening,
            slots: LaneSlots::new(lanes),
            turns,
            opened_at: None,
            idle_since: now,
            lost: None,
        }
    }

    /// An HTTP connection: open at once (each request opens its own socket).
    pub(crate) fn http(link: Link, lanes: usize, turns: usize, now: Instant) -> Self {
        Member {
            phase: ConnectionPhase::Open,
            opened_at: Some(now),
            ..Member::new(link, lanes, turns, now)
        }
    }

    /// Takes the conversation off slot `slot`, whose lane was exported; a connection left
    /// with no conversation gives back what its client can rebuild.
    pub(crate) fn vacate(&mut self, slot: usize) {
        self.slots.vacate(slot);
        if self.slots.is_empty() {
            self.link.release_idle_memory();
        }
    }

    /// Drops the transport under the conversations, as a lost connection: a WebSocket
    /// client hears an end of file (and reports its end); an HTTP connection closes every
    /// socket and is lost at once.
    pub(crate) fn drop_transport(&mut self, now: Instant) {
        self.link.drop_transport(now);
        if self.transport() == Transport::Http {
            self.lost.get_or_insert(Failure::Dropped);
        }
    }

    /// Whether one more turn may start here.
    pub(crate) fn takes_turns(&self) -> bool {
        matches!(self.phase, ConnectionPhase::Opening | ConnectionPhase::Open)
            && self.lost.is_none()
            && self.slots.busy() < self.turns
            && self.link.has_room()
    }

    /// Whether it takes a turn now on `transport`.
    pub(crate) fn serves(&self, transport: Transport) -> bool {
        self.transport() == transport && self.takes_turns()
    }

    /// Whether it is open or opening on `transport`, full or not: a turn waiting for a lane
    /// may get one here.
    pub(crate) fn is_up_on(&self, transport: Transport) -> bool {
        self.transport() == transport
            && matches!(self.phase, ConnectionPhase::Opening | ConnectionPhase::Open)
            && self.lost.is_none()
    }

    /// Its transport.
    pub(crate) fn transport(&self) -> Transport {
        self.link.transport()
    }

    /// When this open connection starts draining: at its rotation age (WebSocket mode: HTTP
    /// has no connection age), or once idle for the idle TTL.
    pub(crate) fn drain_at(&self, config: &PoolConfig) -> Option<Instant> {
        if self.phase != ConnectionPhase::Open {
            return None;
        }
        let rotate = (self.opened_at)
            .filter(|_| self.transport() == Transport::WebSocket)
            .map(|at| at + config.rotate_after);
        let idle = (self.slots.busy() == 0).then(|| self.idle_since + config.idle_ttl);
        [rotate, idle].into_iter().flatten().min()
    }
}
