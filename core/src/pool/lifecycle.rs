//! What happens to connections and turns over time: the client's events routed to
//! conversations, turns ending when their lane comes to rest, connections draining (aged or
//! idle) and closing, and the conversations of a connection that ended moved off it through
//! their ledger ([`LaneTransfer`](crate::session::LaneTransfer)): a turn whose requests or
//! tool calls were still open resumes on another connection, before any waiting turn. Also
//! the moves between transports: a `426` sends the pool to HTTP (its WebSocket connections
//! drain), an accepted probe brings it back (the HTTP connections drain); and the sockets of
//! the HTTP connections, named for the driver as they come and go.

use alloc::boxed::Box;
use alloc::vec::Vec;

use super::conversation::{Home, TurnPhase};
use super::events::{PoolEvent, TurnError};
use super::ids::{ConnId, ConvId};
use super::link::{Link, LinkEvent};
use super::machine::Pool;
use super::member::ConnectionPhase;
use super::slots::LaneSlots;
use crate::client::ClientEvent;
use crate::http_client::{HttpClientEvent, Transport};
use crate::retry::{Failure, FailureClass, GaveUp, RetrySafety};
use crate::session::{Lane, RequestError, SessionEvent};
use crate::time::Instant;

impl Pool {
    /// After input for `conn`: its events, then admission.
    pub(super) fn after_input(&mut self, conn: ConnId, now: Instant) {
        self.drain_client(conn, now);
        self.admit(now);
    }

    /// Runs `conn`'s client events through the pool, ends the turns whose lane came to rest,
    /// and moves the conversations off the connection if it ended.
    pub(super) fn drain_client(&mut self, conn: ConnId, now: Instant) {
        self.touch(conn);
        self.take_link_events(conn, now);
        if !self.members.contains_key(&conn) {
            return;
        }
        // Reading the events made the session's records (a response started, completed).
        self.gather(conn);
        let lost = self.members.get(&conn).is_some_and(|m| m.lost.is_some());
        if lost {
            self.remove_member(conn, now);
        } else {
            self.end_resting_turns(conn, now);
        }
    }

    /// Runs `conn`'s link events through the pool; over HTTP, then names the sockets that
    /// have a request to write.
    fn take_link_events(&mut self, conn: ConnId, now: Instant) {
        loop {
            let Some(member) = self.members.get_mut(&conn) else {
                return;
            };
            match member.link.poll_event() {
                Some(LinkEvent::Ws(event)) => self.on_client_event(conn, event, now),
                Some(LinkEvent::Http(event)) => self.on_http_event(conn, event),
                None => break,
            }
        }
        if let Some(http) = self.members.get_mut(&conn).and_then(|m| m.link.http_mut()) {
            while let Some(socket) = http.client.poll_ready() {
                self.ready.extend(http.sockets.get(&socket));
            }
        }
    }

    /// An event of the HTTP connection `conn`: its sockets come and go under ids of their
    /// own for the driver; its session's events go to the conversations.
    fn on_http_event(&mut self, conn: ConnId, event: HttpClientEvent) {
        let http = (self.members.get_mut(&conn))
            .and_then(|m| m.link.http_mut())
            .expect("an HTTP member's event");
        match event {
            HttpClientEvent::Dial { socket } => {
                let id = ConnId(self.next_conn);
                self.next_conn += 1;
                http.sockets.insert(socket, id);
                self.http_sockets.insert(id, (conn, socket));
                self.events.push_back(PoolEvent::Dial { conn: id });
            }
            HttpClientEvent::Close { socket } => {
                if let Some(id) = http.sockets.remove(&socket) {
                    self.http_sockets.remove(&id);
                    self.ready.remove(&id);
                    self.events.push_back(PoolEvent::Close { conn: id });
                }
                if self.http_sockets.is_empty() {
                    // No HTTP socket left to read: the read buffer goes too.
                    self.http_input = Vec::new();
                }
            }
            // The pool has no credentials source: the refused request goes out once more
            // with the same key (a second 401 fails it).
            HttpClientEvent::RefreshCredentials => http.client.credentials_refreshed(None),
            // The HTTP client replaces its own exchanges; nothing of the member changes.
            HttpClientEvent::Session(SessionEvent::Reconnect { .. }) => {}
            HttpClientEvent::Session(event) => self.route(conn, event),
        }
    }

    fn on_client_event(&mut self, conn: ConnId, event: ClientEvent, now: Instant) {
        let member = self.members.get_mut(&conn).expect("drained");
        match event {
            ClientEvent::Connected { .. } => {
                // A connection drained before its upgrade finished (the pool closes) stays
                // draining.
                if member.phase == ConnectionPhase::Opening {
                    member.phase = ConnectionPhase::Open;
                }
                member.opened_at = Some(now);
                member.idle_since = now;
                self.gate.accepted(conn);
                if self.transport.accepted(conn, now) {
                    // The probe got through: WebSocket mode again, the HTTP connections drain.
                    self.drain_every(Transport::Http, now);
                }
            }
            // The session gave the connection up (age, idle stream, server error): the client
            // closes it, and its conversations move when it has ended.
            ClientEvent::Session(SessionEvent::Reconnect { .. }) => {
                member.phase = ConnectionPhase::Closing
            }
            ClientEvent::Session(event) => self.route(conn, event),
            ClientEvent::Disconnected { closed } => {
                let cause = Failure::from_closed(&closed);
                if member.opened_at.is_none() && member.lost.is_none() {
                    self.gate.failed(conn, cause.clone(), now);
                    self.totals.connections_failed_total += 1;
                    self.transport.failed(conn, now);
                }
                member.lost.get_or_insert(cause);
            }
            // The upgrade was refused in a way the client falls back on (a 426): the whole
            // pool moves to HTTP; its session keeps every request, for the move.
            ClientEvent::UseHttp { .. } => {
                let was = self.transport.current();
                self.transport.fell_back(now);
                if was == Transport::WebSocket {
                    self.drain_every(Transport::WebSocket, now);
                }
            }
            // The client's own reconnect plan is not followed: the pool dials new connections.
            _ => {}
        }
    }

    /// A session event of `conn`, to the conversation on its lane.
    fn route(&mut self, conn: ConnId, event: SessionEvent) {
        let member = &self.members[&conn];
        let Some(conv) = lane_of(&event)
            .and_then(LaneSlots::index_of)
            .and_then(|slot| member.slots.conv(slot))
        else {
            return;
        };
        let Some(turn) = self.convs.get_mut(&conv).and_then(|c| c.turn.as_mut()) else {
            return;
        };
        match &event {
            SessionEvent::Started { .. } => {
                turn.moves = 0;
                turn.moving_since = None;
            }
            SessionEvent::Retrying { .. } => self.totals.retries_total += 1,
            SessionEvent::FullContext { .. } => self.totals.replays_total += 1,
            SessionEvent::Completed { .. } => turn.error = None,
            SessionEvent::Failed { error, .. } => turn.error = Some(error.clone()),
            _ => {}
        }
        let turn = turn.id;
        self.events
            .push_back(PoolEvent::Conversation { conv, turn, event });
    }

    /// Ends the turns of `conn` whose lane is at rest, and those nobody listens to whose
    /// lane waits for tool outputs only; a draining connection parks their conversations
    /// and closes once none runs. A conversation whose calls stay open is parked too: its
    /// answers, given between turns, wait in the pool for its next turn (on its lane they
    /// would send the continuation at once, with no turn to hear it).
    fn end_resting_turns(&mut self, conn: ConnId, now: Instant) {
        let member = &self.members[&conn];
        let session = member.link.session();
        let resting: Vec<(usize, ConvId, bool)> = member
            .slots
            .occupied()
            .filter(|&(_, _, busy)| busy)
            .filter_map(|(slot, conv, _)| {
                let lane = LaneSlots::lane(slot);
                if session.lane_is_idle(&lane) {
                    return Some((slot, conv, false));
                }
                let unheard = self.convs[&conv].turn.as_ref().is_some_and(|t| t.unheard);
                (unheard && session.lane_awaits_tools(&lane)).then_some((slot, conv, true))
            })
            .collect();
        // A pool that closes drains every connection, also one opened for a moving turn.
        let draining = member.phase == ConnectionPhase::Draining || self.closing;
        for &(slot, conv, calls_open) in &resting {
            let member = self.members.get_mut(&conn).expect("drained");
            member.slots.set_busy(slot, false, now);
            self.end_turn(conv, None);
            if draining || calls_open {
                // At rest, or waiting for tool outputs only: the export cannot be refused.
                let _ = self.park(conv);
            }
        }
        let member = self.members.get_mut(&conn).expect("drained");
        if !resting.is_empty() && member.slots.busy() == 0 {
            member.idle_since = now;
            if draining {
                self.close_member(conn, now);
            }
        }
    }

    /// Ends `conv`'s turn: with `error`, else with the error of its last failed request,
    /// else well.
    pub(super) fn end_turn(&mut self, conv: ConvId, error: Option<TurnError>) {
        let Some(turn) = self.convs.get_mut(&conv).and_then(|c| c.turn.take()) else {
            return;
        };
        if turn.phase != TurnPhase::Waiting {
            self.totals.turns_in_flight -= 1;
        }
        let result = match error.or(turn.error.map(TurnError::Request)) {
            Some(error) => {
                self.totals.turns_failed_total += 1;
                Err(error)
            }
            None => {
                self.totals.turns_completed_total += 1;
                Ok(())
            }
        };
        self.events.push_back(PoolEvent::TurnEnded {
            conv,
            turn: turn.id,
            result,
        });
    }

    /// `conn` ended: every conversation on it is parked with its context; a running turn
    /// with requests or tool calls still open resumes elsewhere, one at rest ends.
    fn remove_member(&mut self, conn: ConnId, now: Instant) {
        if let Some(http) = self.members.get_mut(&conn).and_then(|m| m.link.http_mut()) {
            // Every socket closes; every lane comes to rest, to be exported below.
            http.client.disconnect(now);
            self.take_link_events(conn, now);
        }
        self.gather(conn);
        let Some(mut member) = self.members.remove(&conn) else {
            return;
        };
        self.ready.remove(&conn);
        self.timers.forget(conn);
        let occupied: Vec<(usize, ConvId)> = member
            .slots
            .occupied()
            .map(|(slot, conv, _)| (slot, conv))
            .collect();
        let cause = member.lost.clone().unwrap_or(Failure::Dropped);
        let opened = member.opened_at.is_some();
        // A connection that never opened for a reason no attempt can fix (an untrusted
        // certificate, a 403) ends the turns moving off it now, and the turns waiting for a
        // lane, when no connection of the pool's transport is left open or opening: the next
        // probe would fail the same way, only later. (Over HTTP now, while this was a
        // WebSocket connection, its turns have a way on.)
        let transport = self.transport.current();
        let moved_on = transport == Transport::Http && member.transport() == Transport::WebSocket;
        let hopeless = !opened
            && cause.class() == FailureClass::Final
            && !moved_on
            && !self.members.values().any(|m| m.is_up_on(transport));
        let (budget, max_wait) = (
            self.config.client.session.retry.max_attempts,
            self.config.max_wait,
        );
        for (slot, conv) in occupied {
            let exported = member.link.export_lane(&LaneSlots::lane(slot));
            let Some(entry) = self.convs.get_mut(&conv) else {
                continue;
            };
            // A lost connection leaves every lane at rest, so the export is not refused; if
            // it were, the running turn ends as interrupted rather than hang.
            let (transfer, stuck) = match exported {
                Ok(transfer) => (transfer, false),
                Err(_) => (Default::default(), true),
            };
            let idle = transfer.is_idle();
            let calls_open = transfer.awaits_tools();
            entry.home = Home::Parked(Box::new(transfer));
            let Some(turn) = &mut entry.turn else {
                continue;
            };
            if turn.phase != TurnPhase::Running {
                continue;
            }
            // Nobody listens and only tool outputs are awaited: over, the calls open.
            let idle = idle || (turn.unheard && calls_open);
            // A turn's requests are retried on other connections within the request's retry
            // budget (connections that had opened), or for `max_wait` (connections that never
            // opened: a refused or unreachable server, while the pool backs off).
            turn.moves += u32::from(opened);
            let since = *turn.moving_since.get_or_insert(now);
            let spent = hopeless || turn.moves >= budget || (!opened && now - since >= max_wait);
            if stuck {
                self.end_turn(conv, Some(TurnError::Request(RequestError::Interrupted)));
            } else if idle {
                self.end_turn(conv, None);
            } else if spent {
                // Connection after connection ended before a response of the turn started
                // (or one failed for good): the request's retry budget is spent. Its unsent requests are dropped; a tool
                // call still open can be answered.
                if let Home::Parked(transfer) = &mut entry.home {
                    transfer.drop_queued();
                }
                let gave_up = GaveUp::new(cause.clone(), turn.moves, RetrySafety::SentNotStarted);
                let error = RequestError::GaveUp(Box::new(gave_up));
                self.end_turn(conv, Some(TurnError::Request(error)));
            } else {
                turn.phase = TurnPhase::Resuming;
                self.admission.resume(conv);
                self.totals.moves_total += 1;
            }
        }
        if member.transport() == Transport::WebSocket {
            // An HTTP connection's sockets were closed one by one above.
            self.events.push_back(PoolEvent::Close { conn });
        }
        if hopeless {
            self.end_waiting_turns(&cause);
        }
    }

    /// A dial failed for good and no connection is left to take turns: the turns waiting
    /// for a lane end now, their requests handed back. Each would be admitted to the next
    /// probe only to fail the same way, a backoff later.
    fn end_waiting_turns(&mut self, cause: &Failure) {
        while let Some(waiting) = self.admission.pop_waiting() {
            let error = TurnError::Unreachable {
                request: Box::new(waiting.request),
                failure: cause.clone(),
            };
            self.end_turn(waiting.conv, Some(error));
        }
    }

    /// Every connection on `transport` that still takes turns starts draining (the pool
    /// moved to the other transport).
    fn drain_every(&mut self, transport: Transport, now: Instant) {
        let serving: Vec<ConnId> = (self.members.iter())
            .filter(|(_, m)| m.transport() == transport && m.lost.is_none())
            .filter(|(_, m)| matches!(m.phase, ConnectionPhase::Opening | ConnectionPhase::Open))
            .map(|(&conn, _)| conn)
            .collect();
        for conn in serving {
            self.start_drain(conn, now);
        }
    }

    /// `conn` takes no more turns: its idle conversations are parked, and it closes once
    /// its running turns have ended.
    pub(super) fn start_drain(&mut self, conn: ConnId, now: Instant) {
        let member = self.members.get_mut(&conn).expect("due");
        if member.phase == ConnectionPhase::Closing {
            return;
        }
        member.phase = ConnectionPhase::Draining;
        self.timers.mark(conn);
        let idle: Vec<ConvId> = member
            .slots
            .occupied()
            .filter(|&(_, _, busy)| !busy)
            .map(|(_, conv, _)| conv)
            .collect();
        for conv in idle {
            // At rest: the export cannot be refused.
            let _ = self.park(conv);
        }
        if self.members[&conn].slots.busy() == 0 {
            self.close_member(conn, now);
        }
    }

    fn close_member(&mut self, conn: ConnId, now: Instant) {
        let member = self.members.get_mut(&conn).expect("known");
        member.phase = ConnectionPhase::Closing;
        match &mut member.link {
            Link::Ws(client) => {
                client.close(now);
                self.touch(conn);
            }
            // No close handshake: its sockets just close.
            Link::Http(_) => self.remove_member(conn, now),
        }
    }

    /// `conn`'s client was touched: it may have bytes to write and a new deadline. (An HTTP
    /// connection's sockets with bytes to write are named as its events are taken.)
    pub(super) fn touch(&mut self, conn: ConnId) {
        self.gather(conn);
        if self
            .members
            .get(&conn)
            .is_some_and(|m| m.transport() == Transport::WebSocket)
        {
            self.ready.insert(conn);
        }
        self.timers.mark(conn);
    }
}

/// The lane a session event concerns, if any.
fn lane_of(event: &SessionEvent) -> Option<&Lane> {
    match event {
        SessionEvent::FullContext { lane, .. }
        | SessionEvent::Started { lane, .. }
        | SessionEvent::Stream { lane, .. }
        | SessionEvent::Completed { lane, .. }
        | SessionEvent::ToolCalls { lane, .. }
        | SessionEvent::Failed { lane, .. }
        | SessionEvent::SteerAccepted { lane, .. }
        | SessionEvent::SteerPending { lane, .. }
        | SessionEvent::Retrying { lane, .. }
        | SessionEvent::SteerFailed { lane, .. } => Some(lane),
        _ => None,
    }
}
