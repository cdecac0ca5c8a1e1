//! Deterministic simulation of the HTTP + SSE transport: the whole `HttpClient` (session,
//! exchanges, sockets) against the mock's HTTP side (`HttpConnection` + `HttpMock`, one per
//! socket as a server behind a load balancer would be), in memory, with a simulated clock.
//! Scenarios: a tool-call rollout, two lanes at once, `store: false` (full context) against
//! `store: true` (chaining), a cut exchange retried, refusals (429 retried, 500 past the
//! budget, 400 at once, `Retry-After` honoured), WebSocket-only calls refused, and a
//! conversation carried from the WebSocket `Client` to the `HttpClient` mid-rollout with no
//! tool output lost or repeated — asserted from what the mock received.

use std::collections::BTreeMap;
use std::time::Duration;

use responses_ws_core::client::{Client, ClientConfig, ClientEvent, HttpFallback};
use responses_ws_core::http::Target;
use responses_ws_core::http_client::{
    HttpClient, HttpClientConfig, HttpClientEvent, SocketId, Transport, TransportChoice,
};
use responses_ws_core::mock::{
    Action, DropFault, HttpConnection, HttpEvent, HttpMock, MockConnection, Refusal, ResponseStore,
    Script, ScriptedCall, Turn, TurnFault, Upgrade, UpgradeFault,
};
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::{Lane, RequestError, SessionError, SessionEvent};
use responses_ws_core::wire::{Item, ResponseCreate, ToolOutput};
use responses_ws_core::ws::{self, Connection, WsUrl};
use responses_ws_core::Instant;
use serde_json::Value;

/// The server side of one socket: its own HTTP connection and responder.
struct ServerSocket {
    http: HttpConnection,
    mock: HttpMock,
}

/// An `HttpClient`, the mock behind every socket it opens, and what both saw.
struct Sim {
    script: Script,
    store: ResponseStore,
    client: HttpClient,
    sockets: BTreeMap<SocketId, ServerSocket>,
    now: Instant,
    dials: u32,
    /// Every request body the mock received, in order.
    bodies: Vec<Value>,
    events: Vec<SessionEvent>,
}

impl Sim {
    fn new(script: Script) -> Sim {
        Sim::with_config(script, config())
    }

    fn with_config(script: Script, config: HttpClientConfig) -> Sim {
        let mut client = HttpClient::new(config, Instant::ZERO);
        client.set_tool_handler(Box::new(|_, call| {
            ToolOutput::Text(format!("result of {} {}", call.name, call.arguments))
        }));
        Sim::around(script, client)
    }

    fn around(script: Script, client: HttpClient) -> Sim {
        Sim {
            script,
            store: ResponseStore::new(1024),
            client,
            sockets: BTreeMap::new(),
            now: Instant::ZERO,
            dials: 0,
            bodies: Vec::new(),
            events: Vec::new(),
        }
    }

    fn create(&mut self, request: ResponseCreate) {
        self.client.create(request).unwrap();
        self.pump();
    }

    /// Moves events and bytes until nothing moves.
    fn pump(&mut self) {
        while self.step() {}
    }

    fn step(&mut self) -> bool {
        let mut moved = false;
        while let Some(event) = self.client.poll_event() {
            moved = true;
            match event {
                HttpClientEvent::Dial { socket } => {
                    let mock = HttpMock::new(self.script.clone(), self.dials)
                        .with_store(self.store.clone());
                    self.dials += 1;
                    let http = HttpConnection::new();
                    self.sockets.insert(socket, ServerSocket { http, mock });
                }
                HttpClientEvent::Close { socket } => self.server_gone(socket),
                HttpClientEvent::Session(SessionEvent::Stream { .. }) => {}
                HttpClientEvent::Session(event) => self.events.push(event),
                _ => {}
            }
        }
        let ids: Vec<SocketId> = self.sockets.keys().copied().collect();
        for socket in ids {
            while let Some(bytes) = self.client.poll_transmit(socket) {
                moved = true;
                self.sockets
                    .get_mut(&socket)
                    .unwrap()
                    .http
                    .handle_input(&bytes);
            }
            let server = self.sockets.get_mut(&socket).unwrap();
            while let Some(event) = server.http.poll_event() {
                moved = true;
                let HttpEvent::Create { body } = event else {
                    panic!("not a create request: {event:?}");
                };
                self.bodies.push(serde_json::from_str(&body).unwrap());
                let reply = server.mock.respond(&body, self.now);
                server.http.answer(reply, self.now);
            }
            let mut answer = Vec::new();
            while let Some(bytes) = server.http.poll_transmit() {
                answer.extend_from_slice(&bytes);
            }
            let finished = server.http.is_finished();
            if !answer.is_empty() {
                moved = true;
                self.client.handle_input(socket, &answer, self.now);
            }
            if finished {
                moved = true;
                self.server_gone(socket);
                self.client.handle_eof(socket, self.now);
            }
        }
        moved
    }

    fn server_gone(&mut self, socket: SocketId) {
        if let Some(server) = self.sockets.remove(&socket) {
            self.store.merge(server.mock.store());
        }
    }

    /// Runs the clock until the session is idle or `limit` of simulated time has passed.
    fn run(&mut self, limit: Duration) {
        let end = self.now + limit;
        loop {
            self.pump();
            if self.client.session().is_idle() || self.now >= end {
                return;
            }
            let servers = self.sockets.values().filter_map(|s| s.http.poll_timeout());
            let Some(next) = servers.chain(self.client.poll_timeout()).min() else {
                return;
            };
            self.now = self.now.max(next).min(end);
            self.client.handle_timeout(self.now);
            for server in self.sockets.values_mut() {
                server.http.handle_timeout(self.now);
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

    fn failures(&self) -> Vec<&RequestError> {
        self.events
            .iter()
            .filter_map(|e| match e {
                SessionEvent::Failed { error, .. } => Some(error),
                _ => None,
            })
            .collect()
    }
}

fn config() -> HttpClientConfig {
    HttpClientConfig::new(Target::new("mock.test", "/v1/responses")).api_key("sk-test")
}

fn turn(lane: Option<&str>, text: &str, store: bool) -> ResponseCreate {
    ResponseCreate {
        stream_id: lane.map(String::from),
        model: Some("mock-model".into()),
        store: Some(store),
        input: Some(vec![Item::user_message(text)].into()),
        ..ResponseCreate::default()
    }
}

/// Three turns of two parallel calls each, then the final answer.
fn six_calls() -> Script {
    let mut script = Script::new();
    for step in 0..3 {
        script = script.turn(Turn::tool_calls([
            ScriptedCall::new("get_weather", format!(r#"{{"city":"c{step}"}}"#)).with_deltas(3),
            ScriptedCall::new("add", format!(r#"{{"a":{step},"b":1}}"#)),
        ]));
    }
    script
        .text("All six calls done.", 5)
        .with_delta_delay(Duration::from_millis(10))
}

/// The `call_id`s of the `function_call_output` items of a request body.
fn outputs_in(body: &Value) -> Vec<String> {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| item["call_id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `call_id`s of the `function_call` items of a request body.
fn calls_in(body: &Value) -> Vec<String> {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "function_call")
        .map(|item| item["call_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn a_tool_call_rollout_over_http_sends_full_context_on_one_kept_alive_socket() {
    let mut sim = Sim::new(six_calls());
    sim.create(turn(None, "Go.", false));
    sim.run(Duration::from_secs(60));

    assert_eq!(sim.completed_texts(), ["All six calls done."]);
    assert!(sim.failures().is_empty(), "{:?}", sim.events);
    assert_eq!(sim.bodies.len(), 4);
    for body in &sim.bodies {
        assert_eq!(body["stream"], true, "every request streams");
        assert!(body.get("stream_id").is_none(), "no lane over HTTP: {body}");
        assert!(
            body.get("previous_response_id").is_none(),
            "store:false never chains"
        );
    }
    // Full context: every request repeats every call and every output so far, once each.
    for (n, body) in sim.bodies.iter().enumerate() {
        let (calls, outputs) = (calls_in(body), outputs_in(body));
        assert_eq!(calls.len(), 2 * n, "request {n}");
        assert_eq!(outputs, calls, "request {n}: one output per call, in order");
    }
    // The requests followed each other on one socket kept alive.
    assert_eq!(sim.dials, 1);
    assert_eq!(sim.client.sockets().count(), 1);
}

#[test]
fn store_true_chains_with_previous_response_id_and_only_the_new_items() {
    let mut sim = Sim::new(six_calls());
    sim.create(turn(None, "Go.", true));
    sim.run(Duration::from_secs(60));

    assert_eq!(sim.completed_texts(), ["All six calls done."]);
    assert_eq!(sim.bodies.len(), 4);
    assert!(sim.bodies[0].get("previous_response_id").is_none());
    for body in &sim.bodies[1..] {
        assert!(body["previous_response_id"].is_string(), "{body}");
        assert!(
            calls_in(body).is_empty(),
            "the stored response holds the calls"
        );
        assert_eq!(outputs_in(body).len(), 2, "only the new outputs: {body}");
    }
}

#[test]
fn two_lanes_run_as_two_concurrent_requests_on_two_sockets() {
    let script = Script::new()
        .text("Hello from a lane.", 4)
        .with_delta_delay(Duration::from_millis(20));
    let mut sim = Sim::new(script);
    sim.client.create(turn(Some("a"), "One.", false)).unwrap();
    sim.client.create(turn(Some("b"), "Two.", false)).unwrap();
    assert_eq!(
        sim.client.session().in_flight(),
        2,
        "both lanes in flight at once"
    );
    sim.pump();
    assert_eq!(sim.dials, 2, "one socket per request in flight");
    assert_eq!(sim.bodies.len(), 2);
    sim.run(Duration::from_secs(60));

    let lanes: Vec<&Lane> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Completed { lane, .. } => Some(lane),
            _ => None,
        })
        .collect();
    assert_eq!(lanes.len(), 2);
    assert!(lanes.contains(&&Lane::named("a").unwrap()));
    assert!(lanes.contains(&&Lane::named("b").unwrap()));
    assert!(sim
        .bodies
        .iter()
        .all(|body| body.get("stream_id").is_none()));
    // Both sockets went back to the idle set; the next turn of a lane reuses one.
    assert_eq!(sim.client.sockets().count(), 2);
    sim.create(turn(Some("a"), "Again.", false));
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.dials, 2);
    assert_eq!(sim.completed_texts().len(), 3);
}

#[test]
fn a_cut_exchange_is_retried_on_a_new_socket_with_nothing_lost() {
    // The first socket's stream is cut after three events, in the middle of the response.
    let script = six_calls().with_drop(DropFault::after_events(3).on_connection(0));
    let mut config = config();
    config.session.retry.retry_started = true;
    let mut sim = Sim::with_config(script, config);
    sim.create(turn(None, "Go.", false));
    sim.run(Duration::from_secs(120));

    assert_eq!(sim.completed_texts(), ["All six calls done."]);
    assert_eq!(
        sim.count(|e| matches!(e, SessionEvent::Retrying { .. })),
        1,
        "{:?}",
        sim.events
    );
    assert_eq!(sim.dials, 2, "the cut socket was not reused");
    // The retried request is the same request, sent again whole.
    assert_eq!(sim.bodies[0], sim.bodies[1]);
    let last = sim.bodies.last().unwrap();
    assert_eq!(outputs_in(last), calls_in(last));
    assert_eq!(calls_in(last).len(), 6);
}

#[test]
fn a_cut_exchange_fails_only_its_own_lane_when_started_requests_are_not_retried() {
    let script = Script::new()
        .text("Hello from a lane.", 6)
        .with_delta_delay(Duration::from_millis(20))
        .with_drop(DropFault::after_events(3).on_connection(0));
    let mut sim = Sim::new(script);
    sim.client.create(turn(Some("a"), "One.", false)).unwrap();
    sim.client.create(turn(Some("b"), "Two.", false)).unwrap();
    sim.run(Duration::from_secs(60));

    let failed: Vec<(&Lane, &RequestError)> = sim
        .events
        .iter()
        .filter_map(|e| match e {
            SessionEvent::Failed { lane, error, .. } => Some((lane, error)),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", sim.events);
    assert_eq!(failed[0].0, &Lane::named("a").unwrap());
    assert!(matches!(failed[0].1, RequestError::Interrupted));
    assert_eq!(
        sim.completed_texts(),
        ["Hello from a lane."],
        "lane b went on"
    );
}

#[test]
fn a_429_is_retried_after_the_backoff_on_the_kept_alive_socket() {
    let script = Script::new()
        .text("Done.", 1)
        .with_turn_fault(TurnFault::error(0, 429, "rate_limit_exceeded", "Slow down.").times(1));
    let mut sim = Sim::new(script);
    sim.create(turn(None, "Hi.", false));
    assert_eq!(sim.bodies.len(), 1);
    assert!(
        sim.client.poll_timeout().unwrap() > sim.now,
        "the retry waits"
    );
    sim.run(Duration::from_secs(60));

    assert_eq!(sim.completed_texts(), ["Done."]);
    assert_eq!(sim.count(|e| matches!(e, SessionEvent::Retrying { .. })), 1);
    assert_eq!(sim.bodies.len(), 2);
    assert!(
        sim.now > Instant::ZERO,
        "the second attempt came after a delay"
    );
    assert_eq!(
        sim.dials, 1,
        "a refusal with a framed body keeps the socket"
    );
}

#[test]
fn a_500_past_the_retry_budget_fails_the_request_with_the_status() {
    let script = Script::new()
        .text("Never.", 1)
        .with_turn_fault(TurnFault::error(0, 500, "server_error", "Broken."));
    let mut config = config();
    config.session.retry = RetryPolicy::default().with_max_attempts(2);
    let mut sim = Sim::with_config(script, config);
    sim.create(turn(None, "Hi.", false));
    sim.run(Duration::from_secs(60));

    assert_eq!(sim.bodies.len(), 2, "one retry, then the budget is spent");
    let failures = sim.failures();
    assert_eq!(failures.len(), 1);
    let RequestError::Api(error) = failures[0] else {
        panic!("not an API error: {:?}", failures[0]);
    };
    assert_eq!(error.status, Some(500));
    assert_eq!(error.code.as_deref(), Some("server_error"));
    assert!(sim.client.session().is_idle());
}

#[test]
fn a_400_fails_at_once_and_leaves_the_input_in_the_ledger() {
    let script = Script::new()
        .text("Never.", 1)
        .with_turn_fault(TurnFault::error(0, 400, "invalid_value", "No."));
    let mut sim = Sim::new(script);
    sim.create(turn(None, "Hi.", false));
    sim.run(Duration::from_secs(60));

    assert_eq!(sim.bodies.len(), 1);
    let failures = sim.failures();
    assert!(
        matches!(failures[..], [RequestError::Api(ref e)] if e.status == Some(400)),
        "{failures:?}"
    );
    let ledger = sim.client.session().ledger().lane(&Lane::Default).unwrap();
    assert_eq!(ledger.unsent(), [Item::user_message("Hi.")]);
}

#[test]
fn retry_after_sets_the_delay_of_the_next_attempt() {
    let mut client = HttpClient::new(config(), Instant::ZERO);
    client.create(turn(None, "Hi.", false)).unwrap();
    let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else {
        panic!("no dial");
    };
    assert!(client.poll_transmit(socket).is_some());
    let body =
        r#"{"error":{"type":"rate_limit_error","code":"rate_limit_exceeded","message":"Later."}}"#;
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\nretry-after: 7\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    client.handle_input(socket, answer.as_bytes(), Instant::ZERO);
    let events: Vec<HttpClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HttpClientEvent::Session(SessionEvent::Retrying { .. }))),
        "{events:?}"
    );
    let at = Instant::ZERO + Duration::from_secs(7);
    assert_eq!(
        client.poll_timeout(),
        Some(at),
        "Retry-After: 7 is the delay"
    );
    client.handle_timeout(Instant::ZERO + Duration::from_millis(6_999));
    assert!(
        client.poll_transmit(socket).is_none(),
        "not before the delay"
    );
    client.handle_timeout(at);
    let again = client
        .poll_transmit(socket)
        .expect("the second attempt, same socket");
    assert!(again.starts_with(b"POST /v1/responses HTTP/1.1\r\n"));
}

#[test]
fn websocket_only_calls_are_refused_with_a_typed_error_and_handed_back() {
    let mut client = HttpClient::new(config(), Instant::ZERO);
    let lane = Lane::Default;
    let (error, _) = client.steer(&lane, "faster").unwrap_err().into_parts();
    assert_eq!(error, SessionError::WebSocketOnly("response.steer"));
    let items = vec![Item::function_call_output("call_1", "42")];
    let (error, handed_back) = client
        .inject(&lane, items.clone())
        .unwrap_err()
        .into_parts();
    assert_eq!(error, SessionError::WebSocketOnly("response.inject"));
    assert_eq!(handed_back, items);
    let (error, _) = client
        .warm_up(turn(None, "Prepare.", false))
        .unwrap_err()
        .into_parts();
    assert_eq!(error, SessionError::WebSocketOnly("generate"));
    assert!(client.poll_event().is_none(), "nothing was sent");
}

/// The WebSocket side: a `Client`, one server connection with the WebSocket mock behind it,
/// and what the mock received.
struct WsSim {
    script: Script,
    client: Client,
    server: Connection,
    mock: MockConnection,
    now: Instant,
    /// Every `response.create` the mock received.
    bodies: Vec<Value>,
    events: Vec<ClientEvent>,
}

impl WsSim {
    /// `client` dials connection `index` of the mock at `now`.
    fn connect(script: &Script, mut client: Client, index: u32, now: Instant) -> WsSim {
        client.connect([index as u8; 32], now).unwrap();
        WsSim {
            script: script.clone(),
            client,
            server: Connection::server(ws::Config::default(), [0; 32], now),
            mock: MockConnection::new(script.clone(), index, now),
            now,
            bodies: Vec::new(),
            events: Vec::new(),
        }
    }

    /// Runs until no request is in flight, the clock jumping to the mock's next deadline
    /// (its streaming pace).
    fn run(&mut self) {
        loop {
            self.pump();
            if self.client.session().in_flight() == 0 {
                return;
            }
            let Some(next) = self.mock.poll_timeout() else {
                return;
            };
            self.now = self.now.max(next);
            self.mock.handle_timeout(self.now);
        }
    }

    /// Moves bytes and frames until nothing moves.
    fn pump(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(event) = self.client.poll_event() {
                moved = true;
                if let ClientEvent::Session(SessionEvent::Failed { error, .. }) = &event {
                    panic!("failed over WebSocket: {error}");
                }
                self.events.push(event);
            }
            while let Some(bytes) = self.client.poll_transmit() {
                moved = true;
                self.server.handle_input(&bytes, now);
            }
            while let Some(event) = self.server.poll_event() {
                moved = true;
                match event {
                    ws::Event::Request(_) => {
                        match self.script.upgrade(self.mock.connection_index()) {
                            Upgrade::Accept => self.server.accept(&[]).unwrap(),
                            Upgrade::Refuse(answer) => self
                                .server
                                .reject(answer.status, &answer.headers, answer.body.as_bytes())
                                .unwrap(),
                            other => panic!("{other:?}"),
                        }
                    }
                    ws::Event::Message(ws::Message::Text(text)) => {
                        self.bodies
                            .push(serde_json::from_str(text.as_str()).unwrap());
                        self.mock.handle_text(text.as_str(), now)
                    }
                    _ => {}
                }
            }
            while let Some(frame) = self.mock.poll_transmit() {
                moved = true;
                self.server.send_text(frame).unwrap();
            }
            assert!(self
                .mock
                .poll_action()
                .is_none_or(|a| !matches!(a, Action::Drop)));
            while let Some(bytes) = self.server.poll_transmit() {
                moved = true;
                self.client.handle_input(&bytes, now);
            }
            if !moved {
                return;
            }
        }
    }
}

fn ws_config() -> ClientConfig {
    ClientConfig::new(WsUrl::parse("ws://mock.test/v1/responses").unwrap())
}

fn answering(client: &mut HttpClient) {
    client.set_tool_handler(Box::new(|_, call| {
        ToolOutput::Text(format!("result of {} {}", call.name, call.arguments))
    }));
}

/// Checks a request body from the mock's view: every call in its context has exactly one
/// output, in order.
fn no_output_lost_or_repeated(body: &Value) {
    assert_eq!(outputs_in(body), calls_in(body), "{body}");
}

/// The `output` of each `function_call_output` of a request body.
fn output_texts(body: &Value) -> Vec<&str> {
    body["input"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| item["output"].as_str().unwrap())
        .collect()
}

#[test]
fn a_conversation_moves_from_websocket_to_http_mid_rollout_with_no_tool_output_lost_or_repeated() {
    // Over WebSocket: the first response asks for two calls; one is answered there.
    let script = six_calls();
    let mut ws = WsSim::connect(&script, Client::new(ws_config()), 0, Instant::ZERO);
    ws.client.create(turn(None, "Go.", false)).unwrap();
    ws.run();
    let pending = ws.client.session().pending_tool_calls(&Lane::Default);
    assert_eq!(pending.len(), 2);
    let lane = Lane::Default;
    ws.client
        .submit_tool_output(&lane, &pending[0].call_id, "answered over ws")
        .unwrap();
    ws.run();
    assert_eq!(ws.bodies.len(), 1, "one call still open: nothing sent");

    // The transport changes: the session moves, with its half-answered calls.
    let (session, left) = ws.client.into_session(ws.now);
    assert!(left.is_empty());
    let mut client = HttpClient::from_session(config(), session, ws.now);
    answering(&mut client);
    let mut sim = Sim::around(script, client);
    sim.now = ws.now;
    sim.client
        .submit_tool_output(&lane, &pending[1].call_id, "answered over http")
        .unwrap();
    sim.run(Duration::from_secs(60));

    assert_eq!(sim.completed_texts(), ["All six calls done."]);
    assert!(sim.failures().is_empty(), "{:?}", sim.events);
    // From the HTTP mock's view: its first request carries the conversation from the
    // WebSocket side with both outputs once each; no later request loses or repeats one.
    let first = &sim.bodies[0];
    assert_eq!(
        outputs_in(first),
        [pending[0].call_id.clone(), pending[1].call_id.clone()]
    );
    assert_eq!(
        output_texts(first),
        ["answered over ws", "answered over http"]
    );
    sim.bodies.iter().for_each(no_output_lost_or_repeated);
    assert_eq!(sim.bodies.len(), 3);
}

#[test]
fn a_426_moves_the_conversation_to_http_and_a_later_probe_brings_it_back_with_nothing_lost() {
    let script = six_calls()
        .with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired).on_connection(0));
    let mut ws_config = ws_config();
    ws_config.http_fallback = HttpFallback::OnUpgradeRequired;
    let mut choice = TransportChoice::new(Duration::from_secs(600));
    let lane = Lane::Default;

    // The upgrade is refused with 426: nothing fails, the client hands over.
    let mut client = Client::new(ws_config.clone());
    client.create(turn(None, "Go.", false)).unwrap();
    let mut ws = WsSim::connect(&script, client, 0, Instant::ZERO);
    ws.pump();
    let cause = ws.events.iter().find_map(|event| match event {
        ClientEvent::UseHttp { cause } => Some(cause.clone()),
        _ => None,
    });
    assert_eq!(
        cause.and_then(|cause| cause.status()),
        Some(426),
        "{:?}",
        ws.events
    );
    assert!(ws.client.next_dial().is_none());
    choice.fell_back(ws.now);
    assert_eq!(choice.transport(), Transport::Http);

    // Over HTTP: the request goes out; its response asks for two calls, one answered here.
    let (session, _) = ws.client.into_session(ws.now);
    let mut sim = Sim::around(
        script.clone(),
        HttpClient::from_session(config(), session, ws.now),
    );
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.bodies.len(), 1);
    let pending = sim.client.session().pending_tool_calls(&lane);
    assert_eq!(pending.len(), 2);
    sim.client
        .submit_tool_output(&lane, &pending[0].call_id, "answered over http")
        .unwrap();
    assert_eq!(
        choice.switch(sim.now, sim.client.session().in_flight()),
        None,
        "too soon"
    );

    // The interval is over and nothing is in flight: WebSocket mode again, on a connection
    // that accepts the upgrade.
    let later = choice.poll_timeout().unwrap();
    assert_eq!(
        choice.switch(later, sim.client.session().in_flight()),
        Some(Transport::WebSocket)
    );
    let Sim { client, .. } = sim;
    let (session, _) = client.into_session(later);
    let mut client = Client::from_session(ws_config, session);
    client.set_tool_handler(Box::new(|_, call| {
        ToolOutput::Text(format!("result of {} {}", call.name, call.arguments))
    }));
    client
        .submit_tool_output(&lane, &pending[1].call_id, "answered over ws")
        .unwrap();
    let mut ws = WsSim::connect(&script, client, 1, later);
    ws.run();

    assert!(ws.client.session().is_idle());
    let texts: Vec<String> = ws
        .events
        .iter()
        .filter_map(|event| match event {
            ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
                Some(response.all_output_text())
            }
            _ => None,
        })
        .filter(|text| !text.is_empty())
        .collect();
    assert_eq!(texts, ["All six calls done."]);
    // From the WebSocket mock's view: the conversation arrives whole (no cache holds it on a
    // new connection), both outputs once each; the later turns chain on the connection's
    // cache, each with the outputs of its own calls: six outputs in all, none twice.
    let first = &ws.bodies[0];
    assert!(first.get("previous_response_id").is_none());
    assert_eq!(
        output_texts(first),
        ["answered over http", "answered over ws"]
    );
    no_output_lost_or_repeated(first);
    assert_eq!(ws.bodies.len(), 3);
    assert!(ws.bodies[1..]
        .iter()
        .all(|body| body["previous_response_id"].is_string()));
    let mut sent: Vec<String> = ws.bodies.iter().flat_map(outputs_in).collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 6);
}

/// One SSE event as a chunk of a chunked body.
fn sse_chunk(data: &str) -> String {
    let event = format!("data: {data}\n\n");
    format!("{:x}\r\n{event}\r\n", event.len())
}

#[test]
fn an_idle_exchange_fails_its_own_lane_and_the_others_go_on() {
    let mut config = config();
    config.session.idle_timeout = Some(Duration::from_secs(5));
    let mut client = HttpClient::new(config, Instant::ZERO);
    client.create(turn(Some("a"), "One.", false)).unwrap();
    client.create(turn(Some("b"), "Two.", false)).unwrap();
    let sockets: Vec<SocketId> = std::iter::from_fn(|| client.poll_event())
        .filter_map(|event| match event {
            HttpClientEvent::Dial { socket } => Some(socket),
            _ => None,
        })
        .collect();
    assert_eq!(sockets.len(), 2);
    let request = |client: &mut HttpClient, socket| {
        String::from_utf8(client.poll_transmit(socket).unwrap().to_vec()).unwrap()
    };
    let (a, b) = match request(&mut client, sockets[0]).contains("One.") {
        true => (sockets[0], sockets[1]),
        false => (sockets[1], sockets[0]),
    };
    let _ = request(&mut client, if a == sockets[0] { b } else { a });
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    let created = |id: &str| {
        sse_chunk(&format!(
            r#"{{"type":"response.created","sequence_number":0,"response":{{"id":"{id}","object":"response","status":"in_progress","output":[]}}}}"#
        ))
    };
    let completed = sse_chunk(
        r#"{"type":"response.completed","sequence_number":1,"response":{"id":"resp_b","object":"response","status":"completed","output":[]}}"#,
    );
    // Lane a starts and then goes silent; lane b completes.
    client.handle_input(
        a,
        format!("{head}{}", created("resp_a")).as_bytes(),
        Instant::ZERO,
    );
    let at = Instant::ZERO + Duration::from_secs(1);
    client.handle_input(
        b,
        format!("{head}{}{completed}0\r\n\r\n", created("resp_b")).as_bytes(),
        at,
    );
    let events: Vec<HttpClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(events.iter().any(|e| matches!(
        e,
        HttpClientEvent::Session(SessionEvent::Completed { lane, .. }) if *lane == Lane::named("b").unwrap()
    )));

    let deadline = Instant::ZERO + Duration::from_secs(5);
    assert_eq!(client.poll_timeout(), Some(deadline));
    client.handle_timeout(deadline);
    let events: Vec<HttpClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HttpClientEvent::Close { socket } if *socket == a)),
        "{events:?}"
    );
    let failed: Vec<(&Lane, &RequestError)> = events
        .iter()
        .filter_map(|e| match e {
            HttpClientEvent::Session(SessionEvent::Failed { lane, error, .. }) => {
                Some((lane, error))
            }
            _ => None,
        })
        .collect();
    assert!(
        matches!(failed[..], [(lane, RequestError::IdleTimeout)] if *lane == Lane::named("a").unwrap()),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, HttpClientEvent::Session(SessionEvent::Reconnect { .. }))),
        "only the idle exchange ended"
    );
    // Lane b's socket is idle and kept; lane a goes on there, after the retry policy's
    // backoff for the failure (as a WebSocket client redials after one).
    assert_eq!(client.sockets().collect::<Vec<_>>(), [b]);
    client.create(turn(Some("a"), "Again.", false)).unwrap();
    assert!(client.poll_transmit(b).is_none(), "not before the backoff");
    let backoff = client.poll_timeout().unwrap();
    assert!(backoff > deadline && backoff <= deadline + Duration::from_secs(1));
    client.handle_timeout(backoff);
    assert!(client.poll_event().is_none(), "no new socket");
    assert!(client.poll_transmit(b).is_some());
}

#[test]
fn a_spent_budget_hands_over_to_http_only_when_asked() {
    let run = |fallback: HttpFallback| {
        let mut config = ws_config();
        config.session.retry = RetryPolicy::default().with_max_attempts(1);
        config.http_fallback = fallback;
        let mut client = Client::new(config);
        client.create(turn(None, "Hi.", false)).unwrap();
        client.connect([3; 32], Instant::ZERO).unwrap();
        client.dial_failed(
            responses_ws_core::retry::Failure::ConnectTimeout,
            Instant::ZERO,
        );
        let events: Vec<ClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
        (client, events)
    };
    let (_, events) = run(HttpFallback::Never);
    assert!(events.iter().any(|e| matches!(e, ClientEvent::GaveUp(_))));
    assert!(events
        .iter()
        .any(|e| matches!(e, ClientEvent::Session(SessionEvent::Failed { .. }))));

    // 426 only: a connect timeout is not a reason to leave WebSocket mode.
    let (_, events) = run(HttpFallback::OnUpgradeRequired);
    assert!(events.iter().any(|e| matches!(e, ClientEvent::GaveUp(_))));

    let (client, events) = run(HttpFallback::AlsoAfterGivingUp);
    assert!(
        matches!(events[..], [ClientEvent::UseHttp { .. }]),
        "nothing failed: {events:?}"
    );
    // The request waits in the session and goes out on the HTTP transport.
    let (session, _) = client.into_session(Instant::ZERO);
    let mut sim = Sim::around(
        Script::new().text("Over HTTP.", 2),
        HttpClient::from_session(config(), session, Instant::ZERO),
    );
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts(), ["Over HTTP."]);
}

#[test]
fn an_idle_http_client_asks_for_no_timer_a_clock_cannot_hold() {
    let client = HttpClient::new(config(), Instant::ZERO);
    let far = Instant::ZERO + Duration::from_secs(200 * 365 * 24 * 3600);
    assert!(client.poll_timeout().is_none_or(|at| at < far));
    // A driver adds the deadline to its own clock without overflow.
    if let Some(at) = client.poll_timeout() {
        let _ = std::time::Instant::now() + (at - Instant::ZERO);
    }
}

#[test]
fn a_kept_alive_socket_the_server_closed_costs_a_retry_not_the_request() {
    let mut client = HttpClient::new(config(), Instant::ZERO);
    client.create(turn(None, "One.", false)).unwrap();
    let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else {
        panic!("no dial");
    };
    assert!(client.poll_transmit(socket).is_some());
    let completed = sse_chunk(
        r#"{"type":"response.completed","sequence_number":0,"response":{"id":"resp_1","object":"response","status":"completed","output":[]}}"#,
    );
    let answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n{completed}0\r\n\r\n"
    );
    client.handle_input(socket, answer.as_bytes(), Instant::ZERO);
    while client.poll_event().is_some() {}

    // The next turn goes on the idle socket, which the server had closed meanwhile.
    client.create(turn(None, "Two.", false)).unwrap();
    let events: Vec<HttpClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, HttpClientEvent::Dial { .. })),
        "the kept-alive socket is reused: {events:?}"
    );
    assert!(client.poll_transmit(socket).is_some());
    client.handle_eof(socket, Instant::ZERO);
    let events: Vec<HttpClientEvent> = std::iter::from_fn(|| client.poll_event()).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, HttpClientEvent::Close { socket: s } if *s == socket)),
        "{events:?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, HttpClientEvent::Session(SessionEvent::Retrying { .. }))));
    assert!(!events
        .iter()
        .any(|e| matches!(e, HttpClientEvent::Session(SessionEvent::Failed { .. }))));
    let at = client.poll_timeout().unwrap();
    client.handle_timeout(at);
    let Some(HttpClientEvent::Dial { socket: fresh }) = client.poll_event() else {
        panic!("no new socket");
    };
    assert_ne!(fresh, socket);
    let again = client.poll_transmit(fresh).unwrap();
    assert!(String::from_utf8_lossy(&again).contains("Two."));
}

#[test]
fn idle_sockets_past_the_limit_are_closed() {
    let mut config = config();
    config.max_idle_sockets = 1;
    let script = Script::new()
        .text("Hello from a lane.", 4)
        .with_delta_delay(Duration::from_millis(20));
    let mut sim = Sim::with_config(script, config);
    sim.client.create(turn(Some("a"), "One.", false)).unwrap();
    sim.client.create(turn(Some("b"), "Two.", false)).unwrap();
    sim.run(Duration::from_secs(60));
    assert_eq!(sim.completed_texts().len(), 2);
    assert_eq!(sim.dials, 2);
    assert_eq!(sim.client.sockets().count(), 1, "one kept, one closed");
    assert_eq!(sim.sockets.len(), 1, "the mock saw the other one close");
}
