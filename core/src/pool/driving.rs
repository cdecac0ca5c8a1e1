//! The driving half of [`Pool`]: bytes, end of file and dial failures per connection, time,
//! and the outputs (events, ready connections, transmits, the next deadline), as the
//! module's driving contract describes them. A driver's [`ConnId`] names a WebSocket
//! connection or one socket of an HTTP connection; each call goes to whichever it is.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::vec;

use bytes::Bytes;

use super::events::PoolEvent;
use super::ids::ConnId;
use super::link::{HttpLink, Link};
use super::machine::Pool;
use super::member::{ConnectionPhase, Member};
use crate::client::{Client, CodecRelease};
use crate::http_client::{HttpClient, SocketId, Transport};
use crate::retry::Failure;
use crate::time::Instant;

/// The shortest whole message a pool connection compresses
/// ([`DeflateConfig::min_compress_len`](crate::ws::DeflateConfig::min_compress_len)).
const POOL_MIN_COMPRESS_LEN: usize = 1024;

/// Room for events the pool keeps once a burst of them has been taken.
const EVENTS_KEPT: usize = 16;

/// What one read of an HTTP socket takes at most.
const HTTP_READ: usize = 16 * 1024;

/// What carries a driver's connection id: a WebSocket client, or a socket of the HTTP
/// connection's client.
enum Carrier<'a> {
    Ws(&'a mut Client),
    Http(&'a mut HttpClient, SocketId),
}

impl Pool {
    /// Free space to read `conn`'s socket bytes into; report them with
    /// [`commit_input`](Self::commit_input). Empty for a connection that is over.
    pub fn input_buffer(&mut self, conn: ConnId) -> &mut [u8] {
        if self.http_sockets.contains_key(&conn) {
            if self.http_input.is_empty() {
                self.http_input = vec![0; HTTP_READ];
            }
            return &mut self.http_input;
        }
        match self.members.get_mut(&conn).and_then(|m| m.link.ws_mut()) {
            Some(client) => client.input_buffer(),
            None => &mut [],
        }
    }

    /// A read of `conn`'s socket found nothing to read: an idle connection gives back its
    /// read buffer ([`Client::release_input_buffer`]) until the next
    /// [`input_buffer`](Self::input_buffer).
    pub fn release_input_buffer(&mut self, conn: ConnId) {
        if let Some(client) = self.members.get_mut(&conn).and_then(|m| m.link.ws_mut()) {
            client.release_input_buffer();
        }
    }

    /// `n` bytes were read into [`input_buffer`](Self::input_buffer).
    pub fn commit_input(&mut self, conn: ConnId, n: usize, now: Instant) {
        // Taken out for the call: the HTTP client reads it while the pool is borrowed.
        let buffer = core::mem::take(&mut self.http_input);
        self.feed(conn, now, |carrier| match carrier {
            Carrier::Ws(client) => client.commit_input(n, now),
            Carrier::Http(client, socket) => {
                client.handle_input(socket, &buffer[..n.min(buffer.len())], now)
            }
        });
        if !self.http_sockets.is_empty() {
            self.http_input = buffer;
        }
    }

    /// Bytes read from `conn`'s socket.
    pub fn handle_input(&mut self, conn: ConnId, data: &[u8], now: Instant) {
        self.feed(conn, now, |carrier| match carrier {
            Carrier::Ws(client) => client.handle_input(data, now),
            Carrier::Http(client, socket) => client.handle_input(socket, data, now),
        });
    }

    /// `conn`'s socket reached end of file (or failed).
    pub fn handle_eof(&mut self, conn: ConnId, now: Instant) {
        self.feed(conn, now, |carrier| match carrier {
            Carrier::Ws(client) => client.handle_eof(now),
            Carrier::Http(client, socket) => client.handle_eof(socket, now),
        });
    }

    /// Gives `input` whatever carries `conn` (a WebSocket client, or the HTTP client of the
    /// connection the socket belongs to), then runs that connection's events through the
    /// pool. Nothing happens for a connection or socket that is over.
    fn feed(&mut self, conn: ConnId, now: Instant, input: impl FnOnce(Carrier<'_>)) {
        let Some((member, carrier)) = self.carrier(conn) else {
            return;
        };
        input(carrier);
        self.after_input(member, now);
    }

    /// What carries `conn`, and the connection (member) it is or belongs to.
    fn carrier(&mut self, conn: ConnId) -> Option<(ConnId, Carrier<'_>)> {
        let (member, socket) = match self.http_sockets.get(&conn) {
            Some(&(member, socket)) => (member, Some(socket)),
            None => (conn, None),
        };
        let carrier = match (&mut self.members.get_mut(&member)?.link, socket) {
            (Link::Ws(client), None) => Carrier::Ws(client),
            (Link::Http(http), Some(socket)) => Carrier::Http(&mut http.client, socket),
            _ => return None,
        };
        Some((member, carrier))
    }

    /// The socket of `conn` (from [`PoolEvent::Dial`]) could not be opened: the pool backs
    /// off and its turns go to other connections. Over HTTP, the request it was to carry
    /// goes out again on another socket (or fails) as its retry budget says.
    pub fn dial_failed(&mut self, conn: ConnId, cause: Failure, now: Instant) {
        if let Some((member, socket)) = self.http_sockets.remove(&conn) {
            self.ready.remove(&conn);
            if let Some(http) = self
                .members
                .get_mut(&member)
                .and_then(|m| m.link.http_mut())
            {
                http.sockets.remove(&socket);
                http.client.dial_failed(socket, cause, now);
                self.after_input(member, now);
            }
            return;
        }
        if let Some(member) = self.members.get_mut(&conn) {
            if member.opened_at.is_none() && member.lost.is_none() {
                self.gate.failed(conn, cause.clone(), now);
                self.totals.connections_failed_total += 1;
                self.transport.failed(conn, now);
            }
            member.lost = Some(cause);
            self.after_input(conn, now);
        }
    }

    /// Time has reached `now`: connection and session timers, rotation, idle connections,
    /// turns that waited too long, and dials that were held back.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.timers.flush(&self.members, &self.config);
        for conn in self.timers.due(now) {
            self.timers.mark(conn);
            let Some(member) = self.members.get_mut(&conn) else {
                continue;
            };
            if member.link.poll_timeout().is_some_and(|at| at <= now) {
                member.link.handle_timeout(now);
                self.drain_client(conn, now);
            }
            let member = self.members.get(&conn);
            if member
                .and_then(|m| m.drain_at(&self.config))
                .is_some_and(|at| at <= now)
            {
                self.start_drain(conn, now);
            }
        }
        self.admit(now);
    }

    /// The next moment [`handle_timeout`](Self::handle_timeout) has something to do. Takes
    /// `&mut self` to bring the deadline table up to date (a lookup, not a walk over every
    /// connection).
    pub fn poll_timeout(&mut self) -> Option<Instant> {
        self.timers.flush(&self.members, &self.config);
        debug_assert_eq!(
            self.timers.first(),
            self.members
                .values()
                .flat_map(|m| [m.link.poll_timeout(), m.drain_at(&self.config)])
                .flatten()
                .min(),
            "a connection's deadline changed without being marked"
        );
        // Over HTTP a waiting turn waits for a request to end, not for a dial.
        let websocket = self.transport.current() == Transport::WebSocket;
        let dial = (websocket && !self.admission.is_empty() && self.may_add(Transport::WebSocket))
            .then(|| self.gate.next_dial(self.opening()))
            .flatten();
        [self.timers.first(), self.admission.next_deadline(), dial]
            .into_iter()
            .flatten()
            .min()
    }

    /// The next event. Non-empty after any call that takes `now` (and after `turn`,
    /// `try_turn`, `submit_tool_output`).
    pub fn poll_event(&mut self) -> Option<PoolEvent> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > EVENTS_KEPT {
            // A burst's events are out: the queue gives back what it grew to.
            self.events.shrink_to(EVENTS_KEPT);
        }
        event
    }

    /// A connection that may have bytes to write: drain [`poll_transmit`](Self::poll_transmit)
    /// for it. Non-empty after the same calls as [`poll_event`](Self::poll_event); each
    /// connection is given once until something new touches it.
    ///
    /// Empty while a write-ahead record waits in [`poll_record`](Self::poll_record).
    pub fn poll_ready(&mut self) -> Option<ConnId> {
        if self.holds_records() {
            return None;
        }
        self.ready.pop_first()
    }

    /// The next bytes to write to `conn`'s socket.
    ///
    /// Empty while a write-ahead record waits in [`poll_record`](Self::poll_record) (the
    /// connection is [ready](Self::poll_ready) again once they are taken).
    pub fn poll_transmit(&mut self, conn: ConnId) -> Option<Bytes> {
        let member = (self.http_sockets.get(&conn)).map_or(conn, |&(member, _)| member);
        self.gather(member);
        if self.holds_records() {
            self.ready.insert(conn);
            return None;
        }
        let bytes = match self.carrier(conn)?.1 {
            Carrier::Ws(client) => client.poll_transmit(),
            Carrier::Http(client, socket) => client.poll_transmit(socket),
        };
        // Writing can start the connection's timers (a close sent, a ping).
        self.timers.mark(member);
        bytes
    }

    /// A new connection, dialed now ([`PoolEvent::Dial`] tells the driver); `None` when
    /// not even its upgrade request can be made (the pool backs off as for a refusal).
    pub(super) fn dial(&mut self, now: Instant) -> Option<ConnId> {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.rng.next_u64().to_le_bytes());
        }
        self.gate.dialed(conn, &seed, now);
        self.totals.connections_dialed_total += 1;
        let mut config = self.config.client.clone();
        // The pool fires its members' timers all the time: a busy connection keeps its codec.
        config.codec_release = CodecRelease::OnTimer;
        // Chained requests are short: sent as they are, they need no compressor.
        let deflate = &mut config.ws.deflate;
        deflate.min_compress_len = deflate.min_compress_len.max(POOL_MIN_COMPRESS_LEN);
        let mut client = Client::new(config);
        if let Err(error) = client.connect(seed, now) {
            self.gate.failed(conn, Failure::BadUpgrade(error), now);
            self.totals.connections_failed_total += 1;
            return None;
        }
        let member = Member::new(Link::Ws(client), self.lanes, self.turns_per_connection, now);
        self.members.insert(conn, Box::new(member));
        self.events.push_back(PoolEvent::Dial { conn });
        self.touch(conn);
        Some(conn)
    }

    /// A new HTTP connection, open at once: its sockets are dialed as its requests need
    /// them. Its lanes and turns at once are those of a WebSocket connection.
    pub(super) fn open_http(&mut self, now: Instant) {
        let conn = ConnId(self.next_conn);
        self.next_conn += 1;
        let http = HttpLink {
            client: HttpClient::new(self.config.http_client(), now),
            sockets: BTreeMap::new(),
        };
        let member = Member::http(Link::Http(http), self.lanes, self.turns_per_connection, now);
        self.members.insert(conn, Box::new(member));
        self.timers.mark(conn);
    }

    /// Whether one more connection on `transport` fits within `max_connections` (each
    /// transport counts apart: while the pool moves, the other one's connections drain).
    pub(super) fn may_add(&self, transport: Transport) -> bool {
        let same = (self.members.values())
            .filter(|m| m.transport() == transport)
            .count();
        same < self.config.connections()
    }

    /// Connections whose upgrade has not finished.
    pub(super) fn opening(&self) -> usize {
        self.members
            .values()
            .filter(|m| m.phase == ConnectionPhase::Opening)
            .count()
    }
}
