//! Model-based property test of the session: random creates on four lanes, tool outputs in any
//! order, server answers (text, parallel tool calls, failures, errors before the start,
//! `previous_response_not_found`), disconnects, connections lost for every class of failure
//! (drops, 1011, protocol breaks, idle and peer timeouts), the client giving up, reconnects and
//! the connection age limit, played against a reference server that keeps the
//! connection-local cache as OpenAI describes it.
//!
//! Invariants, checked after every step:
//! - the inputs of every conversation the server sees are exactly a prefix of what the
//!   application gave for that lane, in order: nothing lost, nothing sent twice;
//! - at most one request per lane and never more than `max_in_flight` across lanes are in flight;
//! - every request ends at most once, and stream events are on their own lane;
//! - no request is sent more often than the retry budget allows: its retries count up from 2
//!   to at most `max_attempts`, and a request that gives up reports at most that many;
//! - at the end, once the server has answered everything, every input and every tool output the
//!   application gave is in its lane's conversation.

use std::collections::{BTreeMap, BTreeSet};

use proptest::prelude::*;
use responses_ws_core::retry::{Failure, RetryPolicy};
use responses_ws_core::session::{
    Lane, RequestError, RequestId, Session, SessionConfig, SessionEvent,
};
use responses_ws_core::wire::{ResponseCreate, ToolOutput};
use responses_ws_core::ws::{CloseCode, ProtocolError};
use responses_ws_core::Instant;
use serde_json::{json, Value};

const LANES: [&str; 4] = ["-", "a", "b", "c"];
const MAX_IN_FLIGHT: usize = 2;
const MAX_ATTEMPTS: u32 = 3;

/// How a connection can end, one of each class of failure.
fn failure(kind: u8) -> Failure {
    match kind % 5 {
        0 => Failure::Dropped,
        1 => Failure::Closed {
            code: CloseCode::INTERNAL_ERROR,
            reason: "internal".into(),
        },
        2 => Failure::Protocol {
            code: CloseCode::PROTOCOL_ERROR,
            error: ProtocolError::ReservedBits,
        },
        3 => Failure::IdleTimeout,
        _ => Failure::PeerTimeout,
    }
}

fn lane(index: usize) -> Lane {
    match LANES[index % LANES.len()] {
        "-" => Lane::Default,
        name => Lane::Named(name.into()),
    }
}

#[derive(Debug, Clone)]
enum Outcome {
    Text,
    Tools(u8),
    Failed,
    ErrorBeforeStart,
    /// The server lost the cached parent (as after a backend restart).
    ForgetCache,
}

#[derive(Debug, Clone)]
enum Op {
    Create(usize),
    Respond(usize, Outcome),
    Output(usize, usize),
    Disconnect,
    /// The connection ended with this kind of failure (see [`failure`]).
    Lost(u8),
    /// The client's budget is spent: no further connection for now.
    GiveUp(u8),
    Connect,
    AgeLimit,
}

fn op() -> impl Strategy<Value = Op> {
    let outcome = prop_oneof![
        4 => Just(Outcome::Text),
        3 => (1u8..=3).prop_map(Outcome::Tools),
        1 => Just(Outcome::Failed),
        1 => Just(Outcome::ErrorBeforeStart),
        1 => Just(Outcome::ForgetCache),
    ];
    prop_oneof![
        4 => (0..4usize).prop_map(Op::Create),
        6 => (0..4usize, outcome).prop_map(|(l, o)| Op::Respond(l, o)),
        4 => (0..4usize, 0..3usize).prop_map(|(l, p)| Op::Output(l, p)),
        1 => Just(Op::Disconnect),
        1 => any::<u8>().prop_map(Op::Lost),
        1 => any::<u8>().prop_map(Op::GiveUp),
        2 => Just(Op::Connect),
        1 => Just(Op::AgeLimit),
    ]
}

/// The reference server: one request in flight per lane, the latest response of each lane
/// cached for the connection, and the committed conversation of each lane.
#[derive(Default)]
struct Server {
    connected: bool,
    in_flight: BTreeMap<Lane, Value>,
    cache: BTreeMap<Lane, (String, Vec<String>)>,
    next_id: u32,
}

/// The test's world: the session, the server, and what the application gave.
struct World {
    session: Session,
    server: Server,
    /// Inputs (user texts and tool outputs) the application gave per lane, in order.
    given: BTreeMap<Lane, Vec<String>>,
    /// The conversation of each lane's last completed response, as the server saw it.
    committed: BTreeMap<Lane, Vec<String>>,
    ended: BTreeSet<RequestId>,
    /// The last attempt reported for each request that was retried.
    attempts: BTreeMap<RequestId, u32>,
    counter: u32,
    now: Instant,
}

/// The fingerprint of an item: what the invariants compare.
fn fingerprint(item: &Value) -> String {
    match item["type"].as_str() {
        Some("function_call_output") => format!("out:{}", item["output"].as_str().unwrap()),
        Some("function_call") => format!("call:{}", item["call_id"].as_str().unwrap()),
        _ if item["role"] == "user" => format!("in:{}", item["content"].as_str().unwrap()),
        _ if item["role"] == "assistant" => {
            // Plain answers are resent in the short form.
            let text = item["content"]
                .as_str()
                .or(item["content"][0]["text"].as_str());
            format!("ans:{}", text.unwrap())
        }
        _ => panic!("unexpected item {item}"),
    }
}

fn is_input(fingerprint: &str) -> bool {
    fingerprint.starts_with("in:") || fingerprint.starts_with("out:")
}

impl World {
    fn new() -> World {
        let mut config = SessionConfig::default();
        config.max_in_flight = MAX_IN_FLIGHT;
        config.retry = RetryPolicy::default().with_max_attempts(MAX_ATTEMPTS);
        let mut session = Session::new(config);
        session.connected(Instant::ZERO);
        let mut world = World {
            session,
            server: Server {
                connected: true,
                ..Server::default()
            },
            given: BTreeMap::new(),
            committed: BTreeMap::new(),
            ended: BTreeSet::new(),
            attempts: BTreeMap::new(),
            counter: 0,
            now: Instant::ZERO,
        };
        world.settle();
        world
    }

    fn unique(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("{prefix}{}", self.counter)
    }

    fn apply(&mut self, op: &Op) {
        match op {
            Op::Create(index) => {
                let text = self.unique("u");
                let request = ResponseCreate {
                    stream_id: lane(*index).stream_id().map(String::from),
                    model: Some("m".into()),
                    store: Some(false),
                    input: Some(text.as_str().into()),
                    ..ResponseCreate::default()
                };
                if self.session.create(request).is_ok() {
                    self.given
                        .entry(lane(*index))
                        .or_default()
                        .push(format!("in:{text}"));
                }
            }
            Op::Output(index, pick) => {
                let calls = self.session.pending_tool_calls(&lane(*index));
                if let Some(call) = calls.get(pick % calls.len().max(1)) {
                    let output = self.unique("o");
                    self.session
                        .submit_tool_output(
                            &lane(*index),
                            &call.call_id,
                            ToolOutput::Text(output.clone()),
                        )
                        .expect("a pending call takes its output");
                    self.given
                        .entry(lane(*index))
                        .or_default()
                        .push(format!("out:{output}"));
                }
            }
            Op::Respond(index, outcome) => self.respond(&lane(*index), outcome),
            Op::Disconnect => {
                self.forget_connection();
                self.session.disconnected(self.now);
            }
            Op::Lost(kind) => {
                self.forget_connection();
                self.session.connection_lost(&failure(*kind), self.now);
            }
            Op::GiveUp(kind) => {
                self.forget_connection();
                self.session.give_up(&failure(*kind), MAX_ATTEMPTS);
            }
            Op::Connect => {
                if !self.server.connected {
                    self.server.connected = true;
                    self.session.connected(self.now);
                }
            }
            Op::AgeLimit => {
                if self.server.connected {
                    let error = json!({"type":"error","status":400,"error":{"code":"websocket_connection_limit_reached","message":"limit"}});
                    self.session.handle_text(&error.to_string(), self.now);
                    self.forget_connection();
                }
            }
        }
        self.settle();
    }

    /// Moves the session's frames to the server and checks the session's events.
    fn settle(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            assert!(self.server.connected, "sent without a connection: {frame}");
            let request: Value = serde_json::from_str(&frame).unwrap();
            let lane = Lane::from_stream_id(request["stream_id"].as_str());
            assert!(
                !self.server.in_flight.contains_key(&lane),
                "two requests in flight on {lane}"
            );
            self.server.in_flight.insert(lane, request);
            assert!(
                self.server.in_flight.len() <= MAX_IN_FLIGHT,
                "in-flight cap exceeded"
            );
        }
        while let Some(event) = self.session.poll_event() {
            if let SessionEvent::Failed {
                request,
                error: RequestError::GaveUp(gave_up),
                ..
            } = &event
            {
                assert!(
                    gave_up.attempts <= MAX_ATTEMPTS,
                    "{request} gave up after {} attempts",
                    gave_up.attempts
                );
            }
            match event {
                SessionEvent::Completed { request, .. } | SessionEvent::Failed { request, .. } => {
                    assert!(self.ended.insert(request), "{request} ended twice");
                }
                SessionEvent::Stream { lane, event, .. } => {
                    assert_eq!(
                        lane,
                        Lane::from_stream_id(event.decoded().stream_id.as_deref())
                    );
                }
                SessionEvent::Retrying {
                    request, attempt, ..
                } => {
                    let last = self.attempts.insert(request, attempt).unwrap_or(1);
                    assert!(
                        attempt > last && attempt <= MAX_ATTEMPTS,
                        "{request}: attempt {attempt} after {last}"
                    );
                }
                _ => {}
            }
        }
    }

    /// The server's view of the connection is gone with it.
    fn forget_connection(&mut self) {
        self.server = Server {
            next_id: self.server.next_id,
            ..Server::default()
        };
    }

    /// The server answers the request in flight on `lane`, if any.
    fn respond(&mut self, lane: &Lane, outcome: &Outcome) {
        let Some(request) = self.server.in_flight.remove(lane) else {
            return;
        };
        let echo = lane.stream_id();
        let event = |kind: &str, body: Value| {
            let mut event = json!({"type": kind});
            if let Some(name) = echo {
                event["stream_id"] = json!(name);
            }
            event
                .as_object_mut()
                .unwrap()
                .extend(body.as_object().unwrap().clone());
            event.to_string()
        };
        let previous = request["previous_response_id"].as_str();
        let cached = self.server.cache.get(lane).cloned();
        let chained_ok = match (previous, &cached) {
            (None, _) => true,
            (Some(id), Some((cached_id, _))) => id == cached_id,
            (Some(_), None) => false,
        };
        let not_found =
            !chained_ok || (previous.is_some() && matches!(outcome, Outcome::ForgetCache));
        if not_found || matches!(outcome, Outcome::ErrorBeforeStart) {
            let code = if not_found {
                "previous_response_not_found"
            } else {
                "server_error"
            };
            if previous.is_some() {
                self.server.cache.remove(lane);
            }
            let error = event(
                "error",
                json!({"status": 400, "error": {"code": code, "message": "no"}}),
            );
            self.session.handle_text(&error, self.now);
            return;
        }
        let mut conversation = match previous {
            Some(_) => cached.map(|(_, items)| items).unwrap_or_default(),
            None => Vec::new(),
        };
        conversation.extend(request["input"].as_array().unwrap().iter().map(fingerprint));
        self.check_conversation(lane, &conversation);

        self.server.next_id += 1;
        let id = format!("resp_{}", self.server.next_id);
        let response = |status: &str, output: &Value| json!({"id": id, "object": "response", "created_at": 1, "model": "m", "status": status, "output": output});
        self.session.handle_text(
            &event(
                "response.created",
                json!({"response": response("in_progress", &json!([]))}),
            ),
            self.now,
        );
        if matches!(outcome, Outcome::Failed) {
            if previous.is_some() {
                self.server.cache.remove(lane);
            }
            let failed = event(
                "response.failed",
                json!({"response": response("failed", &json!([]))}),
            );
            self.session.handle_text(&failed, self.now);
            return;
        }
        let output: Vec<Value> = match outcome {
            Outcome::Tools(n) => (0..*n)
                .map(|_| {
                    let call = format!("c{}", {
                        self.counter += 1;
                        self.counter
                    });
                    json!({"type": "function_call", "call_id": call, "name": "f", "arguments": "{}"})
                })
                .collect(),
            _ => vec![json!({"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": format!("a{}", self.server.next_id), "annotations": []}]})],
        };
        for (index, item) in output.iter().enumerate() {
            let done = event(
                "response.output_item.done",
                json!({"output_index": index, "item": item}),
            );
            self.session.handle_text(&done, self.now);
        }
        conversation.extend(output.iter().map(fingerprint));
        self.committed.insert(lane.clone(), conversation.clone());
        self.server
            .cache
            .insert(lane.clone(), (id.clone(), conversation));
        let completed = event(
            "response.completed",
            json!({"response": response("completed", &json!(output))}),
        );
        self.session.handle_text(&completed, self.now);
    }

    /// A conversation the server is asked to continue: it extends the lane's last committed
    /// conversation (nothing forgotten), holds each given input at most once (nothing
    /// duplicated) and nothing that was not given, and keeps user inputs in the order given.
    fn check_conversation(&self, lane: &Lane, conversation: &[String]) {
        let previous = self
            .committed
            .get(lane)
            .map(Vec::as_slice)
            .unwrap_or_default();
        assert!(
            conversation.starts_with(previous),
            "{lane}: forgot committed items: {conversation:?} vs {previous:?}"
        );
        let given = self.given.get(lane).map(Vec::as_slice).unwrap_or_default();
        let inputs: Vec<&String> = conversation.iter().filter(|f| is_input(f)).collect();
        let unique: BTreeSet<&String> = inputs.iter().copied().collect();
        assert_eq!(
            unique.len(),
            inputs.len(),
            "{lane}: an input was sent twice: {conversation:?}"
        );
        assert!(
            inputs.iter().all(|i| given.contains(i)),
            "{lane}: unknown input in {conversation:?}"
        );
        let user = |list: &mut dyn Iterator<Item = &String>| -> Vec<String> {
            list.filter(|f| f.starts_with("in:")).cloned().collect()
        };
        let sent_user = user(&mut inputs.iter().copied());
        let given_user = user(&mut given.iter());
        assert_eq!(
            sent_user[..],
            given_user[..sent_user.len()],
            "{lane}: user inputs out of order"
        );
    }

    /// Connects, then answers everything with text until every lane is idle; lanes whose last
    /// request failed get one more (empty) request so their inputs go out.
    fn drain(&mut self) {
        self.apply(&Op::Connect);
        for _ in 0..200 {
            for index in 0..LANES.len() {
                let calls = self.session.pending_tool_calls(&lane(index));
                if !calls.is_empty() {
                    self.apply(&Op::Output(index, 0));
                }
                self.apply(&Op::Respond(index, Outcome::Text));
                let unsent = self
                    .session
                    .ledger()
                    .lane(&lane(index))
                    .is_some_and(|l| !l.unsent().is_empty());
                if unsent && self.session.is_idle() {
                    let request = ResponseCreate {
                        stream_id: lane(index).stream_id().map(String::from),
                        model: Some("m".into()),
                        store: Some(false),
                        ..ResponseCreate::default()
                    };
                    self.session.create(request).unwrap();
                    self.settle();
                }
            }
            let unsent = LANES.iter().enumerate().any(|(i, _)| {
                self.session
                    .ledger()
                    .lane(&lane(i))
                    .is_some_and(|l| !l.unsent().is_empty())
            });
            if self.session.is_idle() && !unsent {
                break;
            }
        }
        for (lane, given) in &self.given {
            let committed: BTreeSet<&String> = self.committed[lane]
                .iter()
                .filter(|f| is_input(f))
                .collect();
            assert_eq!(
                committed,
                given.iter().collect(),
                "{lane}: not everything reached the server"
            );
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_input_or_tool_output_is_lost_or_sent_twice(ops in proptest::collection::vec(op(), 1..60)) {
        let mut world = World::new();
        for op in &ops {
            world.apply(op);
        }
        world.drain();
    }
}
