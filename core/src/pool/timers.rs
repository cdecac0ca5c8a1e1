//! [`Timers`]: each connection's next deadline (its client's timers, its rotation age, its
//! idle TTL) in a table ordered by time, so that the pool's `poll_timeout` and
//! `handle_timeout` cost a lookup instead of a walk over every connection. A connection the
//! pool touched is marked; its entry is recomputed before the table is read.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::vec::Vec;

use super::config::PoolConfig;
use super::ids::ConnId;
use super::member::Members;
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
    pub(crate) fn flush(&mut self, members: &Members, config: &PoolConfig) {
        for conn in core::mem::take(&mut self.marked) {
            if let Some(at) = self.of.remove(&conn) {
                self.by_time.remove(&(at, conn));
            }
            let Some(member) = members.get(&conn) else {
                continue;
            };
            let next = [member.link.poll_timeout(), member.drain_at(config)]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::{Client, ClientConfig};
    use crate::ws::WsUrl;
    use core::time::Duration;

    use crate::pool::link::Link;
    use crate::pool::member::Member;
    use alloc::boxed::Box;

    fn member(dialed_at: Instant) -> Member {
        let url = WsUrl::parse("ws://127.0.0.1/v1/responses").unwrap();
        let mut client = Client::new(ClientConfig::new(url));
        client.connect([1; 32], dialed_at).unwrap();
        Member::new(Link::Ws(client), 2, 2, dialed_at)
    }

    #[test]
    fn marked_connections_are_recomputed_and_the_earliest_comes_first() {
        let url = WsUrl::parse("ws://127.0.0.1/v1/responses").unwrap();
        let config = PoolConfig::new(ClientConfig::new(url));
        let at = |secs| Instant::from_elapsed(Duration::from_secs(secs));
        let mut members = BTreeMap::new();
        members.insert(ConnId(0), Box::new(member(at(5))));
        members.insert(ConnId(1), Box::new(member(at(1))));
        let mut timers = Timers::default();
        timers.flush(&members, &config);
        assert_eq!(timers.first(), None, "nothing marked yet");

        timers.mark(ConnId(0));
        timers.mark(ConnId(1));
        timers.flush(&members, &config);
        let handshake = config.client.ws.handshake_timeout.expect("a default");
        assert_eq!(timers.first(), Some(at(1) + handshake));
        assert_eq!(timers.due(at(1) + handshake), [ConnId(1)]);
        assert_eq!(timers.due(at(5) + handshake), [ConnId(1), ConnId(0)]);

        timers.forget(ConnId(1));
        assert_eq!(timers.first(), Some(at(5) + handshake));
        members.remove(&ConnId(0));
        timers.mark(ConnId(0));
        timers.flush(&members, &config);
        assert_eq!(timers.first(), None, "a connection gone has no deadline");
    }
}
