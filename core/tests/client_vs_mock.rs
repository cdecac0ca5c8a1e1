//! Deterministic simulation: the whole client (`Client`: WebSocket layer and session) against
//! the scripted mock server behind a server-role WebSocket connection, in memory, with a
//! simulated clock that jumps to the next deadline. The simulation reconnects the way an
//! adapter with a reconnect policy does. Scenarios: a 20-call tool loop with parallel calls,
//! parallel lanes, warm-up, and every fault of the mock — each ends in the documented outcome
//! with no tool output lost (the mock refuses a continuation that misses one).

use std::time::Duration;

use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
use responses_ws_core::mock::{
    Action, AgeLimit, DropFault, MockConnection, ResponseStore, Script, ScriptedCall, Turn,
    TurnFault, Upgrade,
};
use responses_ws_core::session::{FullContextReason, Lane, RequestError, SessionEvent};
use responses_ws_core::wire::{Includable, ResponseCreate, ToolOutput};
use responses_ws_core::ws::{self, Connection, WsUrl};
use responses_ws_core::Instant;

/// The server side of one connection.
struct ServerSide {
    ws: Connection,
    mock: MockConnection,
    link_up: bool,
}

/// A client, the mock, and everything the client reported.
struct Sim {
    script: Script,
    store: ResponseStore,
    client: Client,
    server: Option<ServerSide>,
    now: Instant,
    connections: u32,
    events: Vec<SessionEvent>,
    /// Tool calls the handler answered.
    calls_answered: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl Sim {
    fn new(script: Script) -> Sim {
        Sim::with_config(script, config())
    }

    fn with_config(script: Script, config: ClientConfig) -> Sim {
        let mut client = Client::new(config);
        let calls_answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = calls_answered.clone();
        client.set_tool_handler(Box::new(move |_, call| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            ToolOutput::Text(format!("result of {} {}", call.name, call.arguments))
        }));
        let mut sim = Sim {
            script,
            store: ResponseStore::new(1024),
            client,
            server: None,
            now: Instant::ZERO,
            connections: 0,
            events: Vec::new(),
            calls_answered,
        };
        sim.connect();
        sim
    }

    fn connect(&mut self) {
        let index = self.connections;
        self.connections += 1;
        self.client.connect([index as u8; 32], self.now).unwrap();
        let mock = MockConnection::new(self.script.clone(), index, self.now)
            .with_store(self.store.clone());
        let ws = Connection::server(ws::Config::default(), [0; 32], self.now);
        self.server = Some(ServerSide {
            ws,
            mock,
            link_up: true,
        });
        self.pump();
    }

    fn create(&mut self, request: ResponseCreate) {
        self.client.create(request).unwrap();
        self.pump();
    }

    /// Moves bytes and events until nothing moves; reconnects when the client's connection
    /// ended (as an adapter's reconnect policy would, without waiting).
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            let mut reconnect = false;
            while let Some(event) = self.client.poll_event() {
                moved = true;
                match event {
                    ClientEvent::Session(SessionEvent::Stream { .. }) => {}
                    ClientEvent::Session(event) => self.events.push(event),
                    ClientEvent::Disconnected { .. } => reconnect = true,
                    _ => {}
                }
            }
            moved |= self.move_bytes();
            if reconnect {
                if let Some(server) = self.server.take() {
                    self.store.merge(server.mock.store());
                }
                self.connect();
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// One round of the server side: frames in, the mock's frames and actions out, bytes both
    /// ways. True when anything moved.
    fn move_bytes(&mut self) -> bool {
        let mut moved = false;
        while let Some(bytes) = self.client.poll_transmit() {
            moved = true;
            if let Some(server) = self.server.as_mut().filter(|s| s.link_up) {
                server.ws.handle_input(&bytes, self.now);
            }
        }
        let Some(server) = &mut self.server else {
            return moved;
        };
        while server.mock.is_reading() {
            let Some(event) = server.ws.poll_event() else {
                break;
            };
            moved = true;
            match event {
                ws::Event::Request(_) => {
                    match self.script.upgrade(server.mock.connection_index()) {
                        Upgrade::Accept => server.ws.accept(&[]).unwrap(),
                        Upgrade::Refuse(answer) => server
                            .ws
                            .reject(answer.status, &answer.headers, answer.body.as_bytes())
                            .unwrap(),
                        _ => unreachable!(),
                    }
                }
                ws::Event::Message(ws::Message::Text(text)) => {
                    server.mock.handle_text(text.as_str(), self.now)
                }
                _ => {}
            }
        }
        while let Some(frame) = server.mock.poll_transmit() {
            moved = true;
            let _ = server.ws.send_text(frame);
        }
        match server.mock.poll_action() {
            Some(Action::Close { code, reason }) => {
                moved = true;
                let _ = server.ws.close(code, &reason, self.now);
            }
            Some(Action::Drop) => {
                moved = true;
                while let Some(bytes) = server.ws.poll_transmit() {
                    self.client.handle_input(&bytes, self.now);
                }
                server.link_up = false;
                self.client.handle_eof(self.now);
            }
            _ => {}
        }
        while let Some(bytes) = server.ws.poll_transmit() {
            if server.link_up {
                moved = true;
                self.client.handle_input(&bytes, self.now);
            }
        }
        if server.link_up && server.ws.is_finished() && self.client.is_finished() {
            server.link_up = false;
        }
        moved
    }

    /// Runs the clock until the session is idle (nothing queued, in flight or waiting for
    /// tools) or `limit` of simulated time has passed.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.pump();
            if self.client.session().is_idle() || self.now >= end {
                return;
            }
            let server = self.server.as_ref();
            let deadlines = [
                self.client.poll_timeout(),
                server.and_then(|s| s.ws.poll_timeout()),
                server.and_then(|s| s.mock.poll_timeout()),
            ];
            let Some(next) = deadlines.into_iter().flatten().min() else {
                return;
            };
            self.now = self.now.max(next).min(end);
            self.client.handle_timeout(self.now);
            if let Some(server) = &mut self.server {
                server.ws.handle_timeout(self.now);
                server.mock.handle_timeout(self.now);
            }
        }
    }

    fn completed_texts(&self) -> Vec<String> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Completed { response, .. } => Some(response.all_output_text()),
                _ => None,
            })
            .filter(|text| !text.is_empty())
            .collect()
    }

    fn count(&self, pick: impl Fn(&SessionEvent) -> bool) -> usize {
        self.events.iter().filter(|e| pick(e)).count()
    }

    fn full_context(&self) -> Vec<FullContextReason> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::FullContext { reason, .. } => Some(*reason),
                _ => None,
            })
            .collect()
    }
}

fn config() -> ClientConfig {
    ClientConfig::new(WsUrl::parse("ws://mock.test/v1/responses").unwrap()).api_key("sk-test")
}

/// Ten turns of two parallel calls each, then the final answer.
fn twenty_calls() -> Script {
    let mut script = Script::new();
    for step in 0..10 {
        script = script.turn(
            Turn::tool_calls([
                ScriptedCall::new("get_weather", format!(r#"{{"city":"c{step}"}}"#)).with_deltas(3),
                ScriptedCall::new("add", format!(r#"{{"a":{step},"b":1}}"#)),
            ])
            .with_reasoning(format!("enc-{step}")),
        );
    }
    script
        .text("All twenty calls done.", 5)
        .with_delta_delay(Duration::from_millis(10))
}

fn turn(lane: Option<&str>, text: &str) -> ResponseCreate {
    ResponseCreate {
        stream_id: lane.map(String::from),
        model: Some("mock-model".into()),
        store: Some(false),
        include: Some(vec![Includable::ReasoningEncryptedContent]),
        input: Some(text.into()),
        ..ResponseCreate::default()
    }
}

#[test]
fn a_twenty_call_tool_loop_chains_every_turn_incrementally() {
    let mut sim = Sim::new(twenty_calls());
    sim.create(turn(None, "Plan the trip."));
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts(), ["All twenty calls done."]);
    assert_eq!(
        sim.calls_answered.load(std::sync::atomic::Ordering::SeqCst),
        20
    );
    assert_eq!(
        sim.count(|e| matches!(e, SessionEvent::ToolCalls { calls, .. } if calls.len() == 2)),
        10
    );
    assert_eq!(sim.full_context(), [], "every continuation chained");
    assert_eq!(sim.count(|e| matches!(e, SessionEvent::Failed { .. })), 0);
    assert_eq!(sim.connections, 1);
    let (sent, received) = sim.client.byte_counts();
    assert!(
        sent > 500 && received > sent,
        "{sent} bytes up, {received} down"
    );

    // The same loop without permessage-deflate (on by default, and the mock accepts it) moves
    // more than twice the bytes each way.
    let mut plain = config();
    plain.ws.deflate = ws::DeflateConfig::disabled();
    let mut sim = Sim::with_config(twenty_calls(), plain);
    sim.create(turn(None, "Plan the trip."));
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts(), ["All twenty calls done."]);
    let (plain_sent, plain_received) = sim.client.byte_counts();
    assert!(
        plain_sent > 2 * sent && plain_received > 2 * received,
        "plain {plain_sent} up, {plain_received} down; deflate {sent} up, {received} down"
    );
}

#[test]
fn the_age_limit_in_reply_costs_one_full_context_replay_and_nothing_else() {
    let mut sim = Sim::new(twenty_calls().with_age_limit(AgeLimit::after_responses(4).in_reply()));
    sim.create(turn(None, "Plan the trip."));
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts(), ["All twenty calls done."]);
    assert_eq!(
        sim.calls_answered.load(std::sync::atomic::Ordering::SeqCst),
        20
    );
    let reconnects = sim.count(|e| matches!(e, SessionEvent::Reconnect { .. }));
    assert!(
        reconnects >= 2,
        "the limit came back on every connection: {reconnects}"
    );
    assert_eq!(
        sim.full_context(),
        vec![FullContextReason::NewConnection; reconnects]
    );
    assert_eq!(
        sim.count(|e| matches!(e, SessionEvent::Failed { .. })),
        0,
        "the refused request never started"
    );
}

#[test]
fn a_drop_mid_response_fails_that_request_and_the_retry_replays_the_context() {
    let script = twenty_calls().with_drop(DropFault::after_events(40).on_connection(0));
    let mut sim = Sim::new(script);
    sim.create(turn(None, "Plan the trip."));
    sim.run(Duration::from_secs(60));
    assert_eq!(
        sim.count(|e| matches!(
            e,
            SessionEvent::Failed {
                error: RequestError::Interrupted,
                ..
            }
        )),
        1
    );
    assert!(sim.client.session().is_idle());
    assert_eq!(sim.connections, 2);
    // The application decides to go on: the lane's ledger holds everything, outputs included.
    sim.create(ResponseCreate {
        input: None,
        ..turn(None, "")
    });
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.full_context(), [FullContextReason::NewConnection]);
    assert_eq!(sim.completed_texts(), ["All twenty calls done."]);
}

#[test]
fn a_failed_turn_evicts_its_parent_and_the_retry_sends_the_full_context() {
    let script = twenty_calls().with_turn_fault(TurnFault::failed(3).times(1));
    let mut sim = Sim::new(script);
    sim.create(turn(None, "Plan the trip."));
    sim.run(Duration::from_secs(60));
    assert_eq!(
        sim.count(|e| matches!(
            e,
            SessionEvent::Failed {
                error: RequestError::ResponseFailed(_),
                ..
            }
        )),
        1
    );
    sim.create(ResponseCreate {
        input: None,
        ..turn(None, "")
    });
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.full_context(), [FullContextReason::Evicted]);
    assert_eq!(sim.completed_texts(), ["All twenty calls done."]);
    assert_eq!(
        sim.calls_answered.load(std::sync::atomic::Ordering::SeqCst),
        20
    );
}

#[test]
fn three_lanes_run_their_tool_loops_side_by_side() {
    let script = Script::new()
        .turn(Turn::tool_calls([ScriptedCall::new("lookup", "{}")]))
        .turn(Turn::tool_calls([
            ScriptedCall::new("lookup", "{}"),
            ScriptedCall::new("lookup", "{}"),
        ]))
        .text("lane done", 3)
        .with_delta_delay(Duration::from_millis(5));
    let mut sim = Sim::new(script);
    for lane in ["planner", "research", "critic"] {
        let id = sim.client.create(turn(Some(lane), "go")).unwrap();
        assert_eq!(
            sim.client.session().lane_of(id),
            Some(&Lane::named(lane).unwrap())
        );
    }
    sim.pump();
    assert_eq!(sim.client.session().in_flight(), 3, "the lanes run at once");
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts(), ["lane done"; 3]);
    for lane in ["planner", "research", "critic"] {
        let lane = Lane::named(lane).unwrap();
        let ledger = sim.client.session().ledger().lane(&lane).unwrap();
        assert_eq!(
            ledger.items().len(),
            1 + 1 + 1 + 2 + 2 + 1,
            "{lane}: input, calls, outputs, answer"
        );
    }
    assert_eq!(sim.full_context(), []);
}

#[test]
fn a_warm_up_lets_the_first_turn_chain() {
    let mut sim = Sim::new(Script::new().text("Ready.", 2));
    sim.client
        .warm_up(ResponseCreate {
            instructions: Some("Be brief.".into()),
            ..turn(None, "")
        })
        .unwrap();
    sim.run(Duration::from_secs(10));
    sim.create(ResponseCreate {
        instructions: Some("Be brief.".into()),
        ..turn(None, "Hello?")
    });
    sim.run(Duration::from_secs(10));
    assert_eq!(sim.completed_texts(), ["Ready."]);
    assert_eq!(sim.full_context(), []);
    assert_eq!(
        sim.count(|e| matches!(e, SessionEvent::Completed { .. })),
        2
    );
}

#[test]
fn a_full_outbound_queue_hands_the_request_back_and_takes_it_once_written() {
    let mut config = config();
    config.ws.max_outbound_queue = 64;
    let mut sim = Sim::with_config(Script::default(), config);
    // A first turn fills the queue: it is not written out until the next pump.
    sim.client.create(turn(Some("a"), "first")).unwrap();
    assert!(!sim.client.has_room());
    let second = turn(Some("b"), "second");
    let refused = sim.client.create(second.clone()).unwrap_err();
    assert!(refused.is_backpressure(), "{refused}");
    assert_eq!(refused.clone().into_request(), second);
    let refused = sim.client.fork(&Lane::named("a").unwrap(), second.clone());
    assert_eq!(refused.unwrap_err().into_request(), second);
    // Nothing of the refused calls went anywhere: once the bytes are written, the same
    // request is taken and both turns complete.
    sim.pump();
    assert!(sim.client.has_room());
    sim.create(second);
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts().len(), 2);
    assert_eq!(sim.connections, 1);
}

#[test]
fn a_response_past_max_response_bytes_fails_and_its_connection_is_replaced() {
    let script = || Script::new().text("many words ".repeat(400), 40);
    let with_limit = |limit| {
        let mut config = config();
        config.session.max_response_bytes = limit;
        let mut sim = Sim::with_config(script(), config);
        sim.create(turn(None, "Talk at length."));
        sim.run(Duration::from_secs(60));
        sim
    };
    let flooded = with_limit(4_000);
    let failures: Vec<&RequestError> = flooded
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Failed { error, .. } => Some(error),
            _ => None,
        })
        .collect();
    assert_eq!(
        failures,
        [&RequestError::ResponseTooLarge { limit: 4_000 }],
        "{:?}",
        flooded.events
    );
    assert_eq!(flooded.completed_texts(), Vec::<String>::new());
    assert_eq!(
        flooded.connections, 2,
        "the flooded connection was given up"
    );
    // The same response under a limit it fits completes whole.
    let fits = with_limit(100_000);
    assert_eq!(fits.completed_texts(), ["many words ".repeat(400)]);
    assert_eq!(fits.connections, 1);
}
