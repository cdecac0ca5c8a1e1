//! Which lane serves a turn, and when to dial: the admission loop of the [`Pool`].
//!
//! A turn goes to the lane its conversation used last when that connection takes turns
//! (the server still caches its last response there), else to the connection with the
//! fewest running turns, on an empty lane or the least recently used idle one. Resuming
//! conversations go before waiting turns, and waiting turns in arrival order: when the
//! oldest cannot be placed, none can, because every placement needs the same thing (a
//! connection below its turn limit). A connection is dialed only when no lane is free, the
//! pool is below `max_connections`, and the dial gate allows it.
//!
//! Turns go only to connections of the pool's transport ([`PoolTransport`](super::transport)):
//! over HTTP to HTTP connections, placed and opened as WebSocket ones are (with the same
//! limits, but at once: no upgrade, no dial gate; each request dials its own socket); a
//! WebSocket probe dialed after the re-probe interval takes no turn until its upgrade is
//! accepted.

use alloc::boxed::Box;
use core::mem;

use super::admission::Waiting;
use super::conversation::{Home, TurnPhase};
use super::events::{PoolEvent, TurnError};
use super::ids::{ConnId, ConvId};
use super::machine::Pool;
use super::slots::LaneSlots;
use crate::http_client::Transport;
use crate::session::{LaneTransfer, Refused, RequestError, SessionError};
use crate::time::Instant;
use crate::wire::ResponseCreate;

impl Pool {
    /// Gives free lanes to resuming conversations, then to waiting turns, oldest first,
    /// dialing as needed and allowed; fails waiting turns past their deadline.
    pub(super) fn admit(&mut self, now: Instant) {
        loop {
            while let Some(expired) = self.admission.pop_expired(now) {
                self.expire(expired);
            }
            let Some(next) = self.admission.front() else {
                self.admission.release_idle_memory();
                return;
            };
            let conv = next.conv();
            let Some((conn, slot)) = self.find_or_dial(conv, now) else {
                return;
            };
            let waiting = self.admission.pop();
            self.place(conv, conn, slot, waiting.map(|w| w.request), now);
        }
    }

    /// A lane for `conv`'s turn, on a new connection if none is free and one may be dialed.
    pub(super) fn find_or_dial(&mut self, conv: ConvId, now: Instant) -> Option<(ConnId, usize)> {
        self.reprobe(now);
        if let Some(place) = self.find_place(conv) {
            return Some(place);
        }
        match self.transport.current() {
            // An HTTP connection opens at once: no upgrade to wait for or to be refused.
            Transport::Http if self.may_add(Transport::Http) => {
                self.open_http(now);
                self.find_place(conv)
            }
            Transport::Http => None,
            _ => {
                if self.may_add(Transport::WebSocket) && self.gate.may_dial(now, self.opening()) {
                    self.dial(now)?;
                    return self.find_place(conv);
                }
                None
            }
        }
    }

    /// Over HTTP after a fallback, once the interval is over: one WebSocket connection is
    /// dialed (through the gate) to see whether upgrades are accepted again. It takes no
    /// turn until then.
    fn reprobe(&mut self, now: Instant) {
        let due = self.transport.probe_due(now)
            && self.may_add(Transport::WebSocket)
            && self.gate.may_dial(now, self.opening());
        if due {
            if let Some(conn) = self.dial(now) {
                self.transport.probing(conn);
            }
        }
    }

    /// A lane for `conv` on a connection of the pool's transport that takes a turn now.
    fn find_place(&self, conv: ConvId) -> Option<(ConnId, usize)> {
        let transport = self.transport.current();
        if let Some(Home::Placed { conn, slot }) = self.convs.get(&conv).map(|c| &c.home) {
            if self.members.get(conn).is_some_and(|m| m.serves(transport)) {
                return Some((*conn, *slot));
            }
        }
        let (conn, member) = self
            .members
            .iter()
            .filter(|(_, member)| member.serves(transport))
            .min_by_key(|(conn, member)| (member.slots.busy(), **conn))?;
        Some((*conn, member.slots.vacancy()?))
    }

    /// Runs `conv`'s turn on lane `slot` of `conn`: its context moves there if it is
    /// elsewhere, then `request` goes out (none when the conversation resumes a turn whose
    /// requests moved with it).
    pub(super) fn place(
        &mut self,
        conv: ConvId,
        conn: ConnId,
        slot: usize,
        request: Option<ResponseCreate>,
        now: Instant,
    ) {
        if let Err(error) = self.seat(conv, conn, slot, now) {
            self.fail_placement(conv, error, request);
            return;
        }
        let member = self.members.get_mut(&conn).expect("found by find_place");
        member.slots.set_busy(slot, true, now);
        let entry = self
            .convs
            .get_mut(&conv)
            .expect("a conversation with a turn");
        let Some(turn) = &mut entry.turn else {
            return;
        };
        if turn.phase == TurnPhase::Waiting {
            self.totals.turns_in_flight += 1;
        }
        turn.phase = TurnPhase::Running;
        let turn = turn.id;
        self.events
            .push_back(PoolEvent::TurnAdmitted { conv, turn, conn });
        if let Some(request) = request {
            let lane = LaneSlots::lane(slot);
            let request = ResponseCreate {
                stream_id: lane.stream_id().map(Into::into),
                ..request
            };
            if let Err(refused) = member.link.create(request) {
                let (error, mut request) = refused.into_parts();
                request.stream_id = None;
                member.slots.set_busy(slot, false, now);
                self.fail_placement(conv, error, Some(request));
            }
        }
        self.drain_client(conn, now);
    }

    /// A turn that could not be placed after all (not expected: the pool only places a turn
    /// where it fits) ends, its request handed back.
    fn fail_placement(
        &mut self,
        conv: ConvId,
        error: SessionError,
        request: Option<ResponseCreate>,
    ) {
        let error = match request {
            Some(request) => TurnError::Refused(Box::new(Refused::new(error, request))),
            None => TurnError::Request(RequestError::Interrupted),
        };
        self.end_turn(conv, Some(error));
    }

    /// Moves `conv`'s context to lane `slot` of `conn`; the lane's idle conversation, if
    /// any, is parked first.
    fn seat(
        &mut self,
        conv: ConvId,
        conn: ConnId,
        slot: usize,
        now: Instant,
    ) -> Result<(), SessionError> {
        let home = &self.convs.get(&conv).expect("known").home;
        if matches!(home, Home::Placed { conn: c, slot: s } if *c == conn && *s == slot) {
            return Ok(());
        }
        let member = self.members.get(&conn).expect("found by find_place");
        if let Some(other) = member.slots.conv(slot) {
            self.park(other)?;
        }
        self.park(conv)?;
        let entry = self.convs.get_mut(&conv).expect("known");
        let Home::Parked(transfer) = &mut entry.home else {
            unreachable!("parked just now")
        };
        let transfer = mem::take(&mut **transfer);
        let member = self.members.get_mut(&conn).expect("found by find_place");
        match member.link.import_lane(&LaneSlots::lane(slot), transfer) {
            Ok(()) => {
                member.slots.seat(slot, conv, now);
                entry.home = Home::Placed { conn, slot };
                Ok(())
            }
            Err(refused) => {
                let (error, transfer) = refused.into_parts();
                entry.home = Home::Parked(Box::new(transfer));
                Err(error)
            }
        }
    }

    /// Takes `conv`'s context off its lane (which must be at rest) into the pool.
    pub(super) fn park(&mut self, conv: ConvId) -> Result<(), SessionError> {
        let Home::Placed { conn, slot } = self.convs.get(&conv).expect("known").home else {
            return Ok(());
        };
        // The conversation's records so far come out before any it makes elsewhere.
        self.gather(conn);
        let entry = self.convs.get_mut(&conv).expect("known");
        let member = self
            .members
            .get_mut(&conn)
            .expect("a placed conversation's");
        let transfer: LaneTransfer = member.link.export_lane(&LaneSlots::lane(slot))?;
        member.vacate(slot);
        self.timers.mark(conn);
        entry.home = Home::Parked(Box::new(transfer));
        Ok(())
    }

    /// A waiting turn reached its deadline: it fails, its request handed back.
    fn expire(&mut self, waiting: Waiting) {
        let error = TurnError::WaitTimeout {
            request: Box::new(waiting.request),
            last_failure: self.gate.last_failure().cloned(),
        };
        self.end_turn(waiting.conv, Some(error));
    }
}
