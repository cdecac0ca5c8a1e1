//! A pool against the scripted mock server, in memory, with a simulated clock: each
//! socket the pool dials gets its own server side (the mock's HTTP side, which answers
//! `POST`s with an `HttpMock` and hands a `GET` upgrade to a server-role WebSocket
//! connection and a `MockConnection`, as the mock server does on one port), bytes move both
//! ways until nothing moves, and the clock jumps to the next deadline of anyone. The harness plays the driver of the pool's contract and the
//! agents: it answers tool calls (now or later), kills connections, and refuses upgrades
//! during a storm. It records what the pool did, for the tests' assertions.

#![allow(dead_code, unreachable_pub)]

use std::collections::BTreeMap;
use std::time::Duration;

use responses_ws_core::client::ClientConfig;
use responses_ws_core::http_client::Transport;
use responses_ws_core::mock::{
    Action, HttpConnection, HttpEvent, HttpMock, MockConnection, Refusal, ResponseStore, Script,
    ScriptedCall, Upgrade, UpgradeFault,
};
use responses_ws_core::persist::Record;
use responses_ws_core::pool::{
    ConnId, ConnectionPhase, ConnectionStats, ConvId, Pool, PoolConfig, PoolEvent, TurnError,
    TurnId,
};
use responses_ws_core::retry::Failure;
use responses_ws_core::session::SessionEvent;
use responses_ws_core::wire::Item;
use responses_ws_core::ws::{self, Connection, WsUrl};
use responses_ws_core::Instant;

/// What happened to an upgrade, as the server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upgraded {
    /// The upgrade request arrived.
    Asked,
    Accepted,
    Refused,
}

/// What the pool reported, in order, for a reference model to check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Trace {
    /// A WebSocket connection.
    Dialed(ConnId),
    /// A socket of the HTTP connection.
    DialedHttp(ConnId),
    Closed(ConnId),
    Admitted {
        conv: ConvId,
        turn: TurnId,
        conn: ConnId,
    },
    Ended {
        conv: ConvId,
        turn: TurnId,
        ok: bool,
        timed_out: bool,
        /// Ended waiting because the pool closed.
        closed: bool,
    },
    /// The server answered `conn`'s upgrade.
    Upgrade {
        conn: ConnId,
        accepted: bool,
    },
}

/// The server side of one socket.
struct Server {
    side: Side,
    link_up: bool,
}

/// What a socket turned out to be.
// One per socket of a test: boxing would only add noise.
#[allow(clippy::large_enum_variant)]
enum Side {
    /// HTTP so far: `POST`s are answered; a `GET` makes it a WebSocket.
    Http {
        http: HttpConnection,
        mock: HttpMock,
        index: u32,
    },
    WebSocket {
        ws: Connection,
        mock: MockConnection,
    },
}

impl Side {
    fn handle_input(&mut self, bytes: &[u8], now: Instant) {
        match self {
            Side::Http { http, .. } => http.handle_input(bytes),
            Side::WebSocket { ws, .. } => ws.handle_input(bytes, now),
        }
    }

    fn store(&self) -> &ResponseStore {
        match self {
            Side::Http { mock, .. } => mock.store(),
            Side::WebSocket { mock, .. } => mock.store(),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Side::Http { http, .. } => http.poll_timeout(),
            Side::WebSocket { ws, mock } => [ws.poll_timeout(), mock.poll_timeout()]
                .into_iter()
                .flatten()
                .min(),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            Side::Http { http, .. } => http.handle_timeout(now),
            Side::WebSocket { ws, mock } => {
                ws.handle_timeout(now);
                mock.handle_timeout(now);
            }
        }
    }
}

/// The pool, its servers, and the record.
pub struct Net {
    pub pool: Pool,
    script: Script,
    store: ResponseStore,
    servers: BTreeMap<ConnId, Server>,
    pub now: Instant,
    next_index: u32,
    /// Upgrades refused until then, with a 429 (or a 503 with `storm_503`) and
    /// `Retry-After: 2`.
    pub storm_until: Option<Instant>,
    pub storm_503: bool,
    /// Upgrades refused with 426 (WebSocket mode not offered) while set.
    pub upgrade_required: bool,
    /// `POST`s answered over HTTP.
    pub http_requests: usize,
    /// Whether tool calls are answered as soon as they arrive.
    pub answer_tools: bool,
    /// Tool calls not answered yet: (conversation, call id).
    pub unanswered: Vec<(ConvId, String)>,
    /// Outputs submitted per call id.
    pub outputs: BTreeMap<String, u32>,
    /// Every upgrade event, in order: (time, connection, what).
    pub upgrades: Vec<(Instant, ConnId, Upgraded)>,
    /// Turns admitted, in order, with their connection.
    pub admitted: Vec<(TurnId, ConnId)>,
    /// Turn results, by turn (a turn ending twice panics).
    pub ended: BTreeMap<TurnId, (ConvId, Result<(), String>)>,
    /// Conversations whose turn ended, in the order the turns ended.
    pub ended_order: Vec<ConvId>,
    /// Everything the pool reported, with the time.
    pub trace: Vec<(Instant, Trace)>,
    /// The most connections the pool had at once.
    pub peak_connections: usize,
    /// Write-ahead records of journaled conversations, taken as the driver would.
    pub records: Vec<Record>,
    /// Whether every dial fails, and how (the socket cannot be opened: TCP, TLS).
    pub dial_failure: Option<Failure>,
}

pub const URL: &str = "ws://mock.test/v1/responses";

/// A pool config for the mock.
pub fn config(max_connections: usize) -> PoolConfig {
    let client = ClientConfig::new(WsUrl::parse(URL).unwrap()).api_key("sk-test");
    let mut config = PoolConfig::new(client);
    config.max_connections = max_connections;
    config
}

/// Every turn: one tool-call round, then a short text answer.
pub fn tool_round_script() -> Script {
    Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 3)
        .tool_calls([
            ScriptedCall::new("lookup", r#"{"q":"a"}"#),
            ScriptedCall::new("lookup", r#"{"q":"b"}"#),
        ])
        .text("Done.", 2)
        .with_delta_delay(Duration::from_millis(5))
}

impl Net {
    pub fn new(config: PoolConfig, script: Script) -> Net {
        Net {
            pool: Pool::new(config, [42; 32]),
            script,
            store: ResponseStore::new(4096),
            servers: BTreeMap::new(),
            now: Instant::ZERO,
            next_index: 0,
            storm_until: None,
            storm_503: false,
            upgrade_required: false,
            http_requests: 0,
            answer_tools: true,
            unanswered: Vec::new(),
            outputs: BTreeMap::new(),
            upgrades: Vec::new(),
            admitted: Vec::new(),
            ended: BTreeMap::new(),
            ended_order: Vec::new(),
            trace: Vec::new(),
            peak_connections: 0,
            records: Vec::new(),
            dial_failure: None,
        }
    }

    /// Answers every unanswered tool call now.
    pub fn answer_all(&mut self) {
        for (conv, call_id) in std::mem::take(&mut self.unanswered) {
            self.pool
                .submit_tool_output(conv, &call_id, format!("result of {call_id}"), self.now)
                .unwrap_or_else(|e| panic!("output for {call_id} of {conv} refused: {e}"));
            *self.outputs.entry(call_id).or_default() += 1;
        }
    }

    /// Moves events and bytes until nothing moves.
    pub fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(event) = self.pool.poll_event() {
                moved = true;
                self.on_event(event);
            }
            if self.answer_tools && !self.unanswered.is_empty() {
                self.answer_all();
                // The answers may have dialed sockets (HTTP): their events come first, as
                // a driver opens a socket before it writes to it.
                continue;
            }
            while let Some(record) = self.pool.poll_record() {
                moved = true;
                self.records.push(record);
            }
            while let Some(conn) = self.pool.poll_ready() {
                while let Some(bytes) = self.pool.poll_transmit(conn) {
                    moved = true;
                    if let Some(server) = self.servers.get_mut(&conn).filter(|s| s.link_up) {
                        server.side.handle_input(&bytes, self.now);
                    }
                }
            }
            let conns: Vec<ConnId> = self.servers.keys().copied().collect();
            for conn in conns {
                moved |= self.serve(conn);
            }
            self.peak_connections = self.peak_connections.max(self.pool.connections().count());
            if !moved {
                return;
            }
        }
    }

    fn on_event(&mut self, event: PoolEvent) {
        let traced = match &event {
            PoolEvent::Dial { conn } => match self.pool.connections().any(|c| c.conn == *conn) {
                true => Some(Trace::Dialed(*conn)),
                false => Some(Trace::DialedHttp(*conn)),
            },
            PoolEvent::Close { conn } => Some(Trace::Closed(*conn)),
            PoolEvent::TurnAdmitted { conv, turn, conn } => Some(Trace::Admitted {
                conv: *conv,
                turn: *turn,
                conn: *conn,
            }),
            PoolEvent::TurnEnded { conv, turn, result } => Some(Trace::Ended {
                conv: *conv,
                turn: *turn,
                ok: result.is_ok(),
                timed_out: matches!(result, Err(TurnError::WaitTimeout { .. })),
                closed: matches!(result, Err(TurnError::Closed { .. })),
            }),
            _ => None,
        };
        self.trace.extend(traced.map(|t| (self.now, t)));
        match event {
            PoolEvent::Dial { conn } => {
                if let Some(failure) = self.dial_failure.clone() {
                    self.pool.dial_failed(conn, failure, self.now);
                    return;
                }
                let index = self.next_index;
                self.next_index += 1;
                let mock = HttpMock::new(self.script.clone(), index).with_store(self.store.clone());
                let side = Side::Http {
                    http: HttpConnection::new(),
                    mock,
                    index,
                };
                let server = Server {
                    side,
                    link_up: true,
                };
                self.servers.insert(conn, server);
            }
            PoolEvent::Close { conn } => {
                if let Some(server) = self.servers.remove(&conn) {
                    self.store.merge(server.side.store());
                }
            }
            PoolEvent::TurnAdmitted { turn, conn, .. } => self.admitted.push((turn, conn)),
            PoolEvent::Conversation {
                conv,
                event: SessionEvent::ToolCalls { calls, .. },
                ..
            } => {
                self.unanswered
                    .extend(calls.into_iter().map(|call| (conv, call.call_id)));
            }
            PoolEvent::TurnEnded { conv, turn, result } => {
                let result = result.map_err(|e| e.to_string());
                self.ended_order.push(conv);
                assert!(
                    self.ended.insert(turn, (conv, result)).is_none(),
                    "{turn} ended twice"
                );
            }
            _ => {}
        }
    }

    /// One round of `conn`'s server side. True when anything moved.
    fn serve(&mut self, conn: ConnId) -> bool {
        let now = self.now;
        let Some(server) = self.servers.get_mut(&conn) else {
            return false;
        };
        let Side::Http { http, mock, index } = &mut server.side else {
            return self.serve_websocket(conn);
        };
        let mut moved = false;
        while let Some(event) = http.poll_event() {
            moved = true;
            match event {
                HttpEvent::Create { body } => {
                    self.http_requests += 1;
                    http.answer(mock.respond(&body, now), now);
                }
                HttpEvent::Upgrade { received } => {
                    let index = *index;
                    let mock = MockConnection::new(self.script.clone(), index, now)
                        .with_store(self.store.clone());
                    let mut ws = Connection::server(ws::Config::default(), [index as u8; 32], now);
                    ws.handle_input(&received, now);
                    server.side = Side::WebSocket { ws, mock };
                    return self.serve_websocket(conn) || moved;
                }
                _ => {}
            }
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = http.poll_transmit() {
            if server.link_up {
                bytes.push(chunk);
            }
        }
        let finished = server.link_up && http.is_finished();
        if finished {
            server.link_up = false;
        }
        for chunk in bytes {
            moved = true;
            self.pool.handle_input(conn, &chunk, now);
        }
        if finished {
            moved = true;
            self.pool.handle_eof(conn, now);
        }
        moved
    }

    /// One round of `conn`'s WebSocket server side.
    fn serve_websocket(&mut self, conn: ConnId) -> bool {
        let mut moved = false;
        let now = self.now;
        let storm = self.storm_until.is_some_and(|until| now < until);
        let Some(Server {
            side: Side::WebSocket { ws, mock },
            link_up,
        }) = self.servers.get_mut(&conn)
        else {
            return false;
        };
        while mock.is_reading() {
            let Some(event) = ws.poll_event() else {
                break;
            };
            moved = true;
            match event {
                ws::Event::Request(_) => {
                    self.upgrades.push((now, conn, Upgraded::Asked));
                    let answer = if self.upgrade_required {
                        Script::new()
                            .with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired))
                            .upgrade(0)
                    } else if storm {
                        let refusal = if self.storm_503 {
                            Refusal::ServiceUnavailable {
                                retry_after_secs: 2,
                            }
                        } else {
                            Refusal::RateLimited {
                                retry_after_secs: 2,
                            }
                        };
                        Script::new()
                            .with_upgrade_refusal(UpgradeFault::new(refusal))
                            .upgrade(0)
                    } else {
                        self.script.upgrade(mock.connection_index())
                    };
                    match answer {
                        Upgrade::Accept => {
                            self.upgrades.push((now, conn, Upgraded::Accepted));
                            let answer = Trace::Upgrade {
                                conn,
                                accepted: true,
                            };
                            self.trace.push((now, answer));
                            ws.accept(&[]).unwrap()
                        }
                        Upgrade::Refuse(answer) => {
                            self.upgrades.push((now, conn, Upgraded::Refused));
                            let refusal = Trace::Upgrade {
                                conn,
                                accepted: false,
                            };
                            self.trace.push((now, refusal));
                            ws.reject(answer.status, &answer.headers, answer.body.as_bytes())
                                .unwrap()
                        }
                        _ => {}
                    }
                }
                ws::Event::Message(ws::Message::Text(text)) => mock.handle_text(text.as_str(), now),
                _ => {}
            }
        }
        while let Some(frame) = mock.poll_transmit() {
            moved = true;
            let _ = ws.send_text(frame);
        }
        let mut dropped = false;
        match mock.poll_action() {
            Some(Action::Close { code, reason }) => {
                moved = true;
                let _ = ws.close(code, &reason, now);
            }
            Some(Action::Drop) => dropped = true,
            _ => {}
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = ws.poll_transmit() {
            if *link_up {
                bytes.push(chunk);
            }
        }
        let finished = *link_up && (dropped || ws.is_finished());
        if finished {
            *link_up = false;
        }
        for chunk in bytes {
            moved = true;
            self.pool.handle_input(conn, &chunk, now);
        }
        if finished {
            moved = true;
            self.pool.handle_eof(conn, now);
        }
        moved
    }

    /// The transport of `conn` breaks: the server hears nothing more, the pool gets EOF.
    pub fn kill(&mut self, conn: ConnId) {
        if let Some(server) = self.servers.get_mut(&conn) {
            server.link_up = false;
        }
        self.pool.handle_eof(conn, self.now);
        self.pump();
    }

    /// Runs the clock until `done` or `limit` of simulated time passed; `check` runs after
    /// every step.
    pub fn run(&mut self, limit: Duration, done: impl Fn(&Net) -> bool, check: impl Fn(&Net)) {
        let end = self.now + limit;
        loop {
            self.pump();
            check(self);
            if done(self) || self.now >= end {
                return;
            }
            let servers = self.servers.values();
            let next = servers
                .map(|s| s.side.poll_timeout())
                .chain([self.pool.poll_timeout()])
                .flatten()
                .min();
            let Some(next) = next else {
                return;
            };
            self.now = self.now.max(next).min(end);
            self.pool.handle_timeout(self.now);
            for server in self.servers.values_mut() {
                server.side.handle_timeout(self.now);
            }
        }
    }

    /// Moves the clock forward by `by` at once (a clock jump), then runs the timers.
    pub fn jump(&mut self, by: Duration) {
        self.now = self.now + by;
        self.pool.handle_timeout(self.now);
        for server in self.servers.values_mut() {
            server.side.handle_timeout(self.now);
        }
        self.pump();
    }

    /// The open server sides.
    pub fn server_conns(&self) -> Vec<ConnId> {
        self.servers.keys().copied().collect()
    }
}

/// For every function call in `items`, how many outputs answer it: each must be exactly 1.
pub fn outputs_per_call(items: &[Item]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items {
        match item {
            Item::FunctionCall(call) => {
                counts.entry(call.call_id.clone()).or_insert(0);
            }
            Item::FunctionCallOutput(output) => {
                *counts.entry(output.call_id.clone()).or_insert(0) += 1;
            }
            _ => {}
        }
    }
    counts
}

/// The pool's limits hold: connections (of each transport: while the pool moves between
/// them, the other's drain), turns and lanes per connection, waiting turns.
pub fn check_limits(net: &Net, config: &PoolConfig) {
    let connections: Vec<_> = net.pool.connections().collect();
    for transport in [Transport::WebSocket, Transport::Http] {
        let on = connections.iter().filter(|c| c.transport == transport);
        assert!(on.count() <= config.max_connections, "{connections:?}");
    }
    for c in &connections {
        assert!(c.turns_running <= config.max_turns_per_connection, "{c:?}");
        assert!(c.conversations <= config.lanes_per_connection, "{c:?}");
        assert!(c.turns_running <= c.conversations, "{c:?}");
    }
    let stats = net.pool.stats();
    assert!(stats.turns_waiting <= config.max_waiting, "{stats:?}");
    let running: usize = connections.iter().map(|c| c.turns_running).sum();
    assert!(running <= stats.turns_in_flight, "{stats:?}");
}

/// Whether `c` takes turns of the pool's current transport and has room for one more.
pub fn has_room(net: &Net, c: &ConnectionStats, config: &PoolConfig) -> bool {
    let transport = match net.pool.stats().over_http {
        true => Transport::Http,
        false => Transport::WebSocket,
    };
    c.transport == transport
        && matches!(c.phase, ConnectionPhase::Opening | ConnectionPhase::Open)
        && c.turns_running
            < config
                .max_turns_per_connection
                .min(config.lanes_per_connection)
}
