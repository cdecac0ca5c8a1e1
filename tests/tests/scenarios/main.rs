//! One scenario suite, run against every adapter and runtime — blocking, tokio, async-std and
//! smol — over real loopback TCP with the scripted mock server (`MockServer`): a plain answer,
//! a 20-call tool loop with parallel calls, lanes in parallel, a fork, a warm-up, every fault of
//! the mock (each ends in its documented outcome with no tool output lost: the mock refuses a
//! continuation that misses one), a slow consumer, the `wss://` variants through a TLS proxy
//! whose CA is made by rcgen at test time, and the retry budget and timeouts (`retries`).
//! The turn, tool-loop and fault cases run over HTTP + SSE as well (`OverHttp`, the same
//! functions), and `http` moves conversations between the transports (426, a spent budget,
//! the re-probe).

mod agents;
mod http;
mod retries;
mod tls_proxy;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agents::{Agent, OverHttp, Setup};
use responses_ws_core::client::{ClientEvent, HttpFallback};
use responses_ws_core::retry::RetryPolicy;
use responses_ws_core::session::{FullContextReason, Lane, SessionEvent};
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::ws;
use responses_ws_tokio::mock::{
    AgeLimit, DropFault, MockServer, Refusal, Script, ScriptedCall, StopReading, TurnFault,
    UpgradeFault,
};
use tls_proxy::TlsProxy;

/// A turn on `lane` (the default lane for `None`) with `input` (none when empty).
fn turn(lane: Option<&str>, input: &str) -> ResponseCreate {
    ResponseCreate {
        stream_id: lane.map(String::from),
        model: Some("mock-model".into()),
        store: Some(false),
        input: (!input.is_empty()).then(|| input.into()),
        ..ResponseCreate::default()
    }
}

fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Two parallel calls, then one, then the answer: three tool outputs in all.
fn three_calls() -> Script {
    Script::new()
        .tool_calls([
            ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#).with_deltas(3),
            ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
        ])
        .tool_calls([ScriptedCall::new("add", r#"{"a":14,"b":9}"#)])
        .text("Paris, by 5 degrees.", 4)
}

/// Session events (without stream events) until `count` requests have ended.
fn until_ended<A: Agent>(agent: &mut A, count: usize) -> Vec<SessionEvent> {
    let mut events = Vec::new();
    let mut ended = 0;
    while ended < count {
        match agent.next_event().expect("the connection ended early") {
            ClientEvent::Session(SessionEvent::Stream { .. }) => {}
            ClientEvent::Session(event) => {
                ended += usize::from(matches!(
                    event,
                    SessionEvent::Completed { .. } | SessionEvent::Failed { .. }
                ));
                events.push(event);
            }
            _ => {}
        }
    }
    events
}

fn texts(events: &[SessionEvent]) -> Vec<(Lane, String)> {
    let completed = events.iter().filter_map(|e| match e {
        SessionEvent::Completed { lane, response, .. } => {
            Some((lane.clone(), response.all_output_text()))
        }
        _ => None,
    });
    completed.collect()
}

fn full_contexts(events: &[SessionEvent]) -> Vec<FullContextReason> {
    let reasons = events.iter().filter_map(|e| match e {
        SessionEvent::FullContext { reason, .. } => Some(*reason),
        _ => None,
    });
    reasons.collect()
}

/// Retries with short delays: four attempts, 20 ms doubling.
fn fast_retries() -> RetryPolicy {
    let mut policy = RetryPolicy::default().with_max_attempts(4);
    policy.base_delay = Duration::from_millis(20);
    policy
}

fn reconnecting() -> Setup {
    Setup {
        retry: Some(fast_retries()),
        ..Setup::default()
    }
}

fn plain_answer<A: Agent>() {
    let server =
        MockServer::start_in_thread(Script::new().text("Hello from the mock.", 4)).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    let calls = counter();
    let response = agent.tool_loop(turn(None, "Hi"), calls.clone()).unwrap();
    assert_eq!(response.all_output_text(), "Hello from the mock.");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    agent.close();
    server.shutdown();
}

fn twenty_call_tool_loop<A: Agent>() {
    let mut script = Script::new();
    for step in 0..10 {
        script = script.tool_calls([
            ScriptedCall::new("get_weather", format!(r#"{{"city":"c{step}"}}"#)).with_deltas(2),
            ScriptedCall::new("add", format!(r#"{{"a":{step},"b":1}}"#)),
        ]);
    }
    let server = MockServer::start_in_thread(script.text("All twenty calls done.", 3)).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    let calls = counter();
    let response = agent
        .tool_loop(turn(None, "Plan it."), calls.clone())
        .unwrap();
    assert_eq!(response.all_output_text(), "All twenty calls done.");
    assert_eq!(calls.load(Ordering::SeqCst), 20);
    let ledger = agent.session().ledger().lane(&Lane::Default).unwrap();
    assert_eq!(
        ledger.items().len(),
        1 + 20 + 20 + 1,
        "input, calls, outputs, answer"
    );
    assert_eq!(server.connections(), 1);
    agent.close();
    server.shutdown();
}

fn lanes_in_parallel<A: Agent>() {
    let script = Script::new()
        .text("lane answer", 5)
        .with_delta_delay(Duration::from_millis(2));
    let server = MockServer::start_in_thread(script).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    for lane in ["planner", "research", "critic"] {
        agent.create(turn(Some(lane), "go"));
    }
    assert_eq!(
        agent.session().in_flight(),
        3,
        "the three lanes run at once"
    );
    let mut answers = texts(&until_ended(&mut agent, 3));
    answers.sort();
    let expected: Vec<(Lane, String)> = ["critic", "planner", "research"]
        .iter()
        .map(|name| (Lane::named(*name).unwrap(), "lane answer".to_owned()))
        .collect();
    assert_eq!(answers, expected);
    agent.close();
    server.shutdown();
}

fn fork<A: Agent>() {
    let server = MockServer::start_in_thread(Script::new().text("A plan.", 2)).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    agent.create(turn(Some("planner"), "Draft a plan."));
    let mut events = until_ended(&mut agent, 1);
    let planner = Lane::named("planner").unwrap();
    agent.fork(&planner, turn(Some("critic"), "Find gaps."));
    agent.create(turn(Some("planner"), "Add rollback steps."));
    events.extend(until_ended(&mut agent, 2));
    assert_eq!(texts(&events).len(), 3, "{events:?}");
    assert_eq!(
        full_contexts(&events),
        [],
        "the fork and the planner both chained"
    );
    let critic = agent
        .session()
        .ledger()
        .lane(&Lane::named("critic").unwrap())
        .unwrap();
    assert_eq!(
        critic.items().len(),
        4,
        "the plan's turn, then the critic's own"
    );
    agent.close();
    server.shutdown();
}

fn warm_up<A: Agent>() {
    let server = MockServer::start_in_thread(Script::new().text("Ready.", 2)).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    let warm = ResponseCreate {
        generate: Some(false),
        instructions: Some("Be brief.".into()),
        ..turn(None, "")
    };
    agent.create(warm);
    let mut events = until_ended(&mut agent, 1);
    agent.create(ResponseCreate {
        instructions: Some("Be brief.".into()),
        ..turn(None, "Hello?")
    });
    events.extend(until_ended(&mut agent, 1));
    assert_eq!(
        texts(&events).last().map(|(_, text)| text.as_str()),
        Some("Ready.")
    );
    assert_eq!(
        full_contexts(&events),
        [],
        "the first turn chained from the warm-up"
    );
    agent.close();
    server.shutdown();
}

/// Asks the three-call question over `agent`: the answer arrives and each call ran once.
fn asks_which_is_warmer<A: Agent>(agent: &mut A) {
    let calls = counter();
    let response = agent
        .tool_loop(turn(None, "Which is warmer?"), calls.clone())
        .unwrap();
    assert_eq!(response.all_output_text(), "Paris, by 5 degrees.");
    assert_eq!(calls.load(Ordering::SeqCst), 3, "each call answered once");
}

/// Runs the three-call rollout of `script` on a mock server of its own, connected with
/// `setup`; returns how many connections the server saw.
pub(crate) fn three_call_rollout<A: Agent>(script: Script, setup: Setup) -> u64 {
    let server = MockServer::start_in_thread(script).unwrap();
    let mut agent = A::connect(&server.url(), setup).unwrap();
    asks_which_is_warmer(&mut agent);
    let connections = server.connections();
    agent.close();
    server.shutdown();
    connections
}

/// A scripted failure of turn 1 ends the loop with an error; the retry (no new input) replays
/// the context and reaches the answer, with every tool output sent.
fn failed_turn_then_retry<A: Agent>(script: Script, setup: Setup, error_contains: &str) -> usize {
    let server = MockServer::start_in_thread(script).unwrap();
    let mut agent = A::connect(&server.url(), setup).unwrap();
    let calls = counter();
    let error = agent
        .tool_loop(turn(None, "Which is warmer?"), calls.clone())
        .unwrap_err();
    assert!(error.contains(error_contains), "{error}");
    let response = agent.tool_loop(turn(None, ""), calls.clone()).unwrap();
    assert_eq!(response.all_output_text(), "Paris, by 5 degrees.");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "no call answered twice, none missed"
    );
    let connections = server.connections();
    agent.close();
    server.shutdown();
    connections as usize
}

fn response_failed_at_turn_1<A: Agent>() {
    let script = three_calls().with_turn_fault(TurnFault::failed(1).times(1));
    assert_eq!(
        failed_turn_then_retry::<A>(script, Setup::default(), "failed"),
        1
    );
}

fn error_event_at_turn_1<A: Agent>() {
    let fault = TurnFault::error(1, 429, "rate_limit_exceeded", "Slow down.").times(1);
    let script = three_calls().with_turn_fault(fault);
    assert_eq!(
        failed_turn_then_retry::<A>(script, Setup::default(), "rate_limit_exceeded"),
        1
    );
}

fn abrupt_close_mid_response<A: Agent>() {
    let script = three_calls().with_drop(DropFault::after_events(12).on_connection(0));
    assert_eq!(
        failed_turn_then_retry::<A>(script, reconnecting(), "connection"),
        2
    );
}

fn age_limit_in_reply<A: Agent>() {
    let script = three_calls().with_age_limit(AgeLimit::after_responses(1).in_reply());
    assert!(
        three_call_rollout::<A>(script, reconnecting()) >= 2,
        "the refused continuation went out on a new connection"
    );
}

fn age_limit_unprompted<A: Agent>() {
    let script = Script::new()
        .text("Still here.", 2)
        .with_age_limit(AgeLimit::after(Duration::from_millis(300)));
    let server = MockServer::start_in_thread(script).unwrap();
    let mut agent = A::connect(&server.url(), reconnecting()).unwrap();
    let calls = counter();
    agent.tool_loop(turn(None, "One."), calls.clone()).unwrap();
    std::thread::sleep(Duration::from_millis(600));
    let response = agent.tool_loop(turn(None, "Two."), calls).unwrap();
    assert_eq!(response.all_output_text(), "Still here.");
    assert_eq!(server.connections(), 2);
    agent.close();
    server.shutdown();
}

fn refused_upgrades<A: Agent>() {
    // A 426 moves to HTTP by default (see `http`); refused, it is a failure like the others.
    let no_fallback = Setup {
        http_fallback: Some(HttpFallback::Never),
        ..Setup::default()
    };
    let cases = [
        (Refusal::Unauthorized, 401, None),
        (
            Refusal::RateLimited {
                retry_after_secs: 7,
            },
            429,
            Some("7"),
        ),
        (Refusal::UpgradeRequired, 426, None),
    ];
    for (refusal, status, retry_after) in cases {
        let script = Script::new().with_upgrade_refusal(UpgradeFault::new(refusal));
        let server = MockServer::start_in_thread(script).unwrap();
        let refused = A::connect(&server.url(), no_fallback.clone())
            .err()
            .expect("refused");
        assert_eq!(refused.status, Some(status), "{}", refused.message);
        assert_eq!(refused.retry_after.as_deref(), retry_after);
        assert_eq!(refused.attempts, 1, "no retries in this setup");
        server.shutdown();
    }
}

fn server_stops_reading<A: Agent>() {
    let script = three_calls().with_stop_reading(StopReading::after_frames(1).on_connection(0));
    let mut ws = ws::Config::default();
    ws.keepalive_interval = Some(Duration::from_millis(200));
    ws.pong_timeout = Duration::from_millis(200);
    let setup = Setup {
        ws: Some(ws),
        ..reconnecting()
    };
    assert_eq!(
        three_call_rollout::<A>(script, setup),
        2,
        "the deaf server was found dead and replaced"
    );
}

fn slow_consumer<A: Agent>() {
    let text = "0123456789".repeat(30_000);
    let server = MockServer::start_in_thread(Script::new().text(text.clone(), 3_000)).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    agent.create(turn(None, "Talk."));
    std::thread::sleep(Duration::from_millis(300));
    let (_, before) = agent.client().expect("WebSocket mode").byte_counts();
    std::thread::sleep(Duration::from_millis(300));
    let (_, after) = agent.client().expect("WebSocket mode").byte_counts();
    assert_eq!(before, after, "nothing is read while nobody consumes");
    assert!(after < 64 * 1024, "{after} bytes read before consuming");
    let answers = texts(&until_ended(&mut agent, 1));
    assert_eq!(answers[0].1.len(), text.len());
    agent.close();
    server.shutdown();
}

fn tls_tool_loop<A: Agent>() {
    let server = MockServer::start_in_thread(three_calls()).unwrap();
    let proxy = TlsProxy::start(server.addr());
    let untrusted = match A::connect(&proxy.url(), Setup::default()) {
        Err(refused) => refused.message,
        // Over HTTP nothing is opened ahead: the first request meets the certificate.
        Ok(mut agent) => agent.tool_loop(turn(None, "Hi"), counter()).unwrap_err(),
    };
    assert!(
        untrusted.to_lowercase().contains("certificate") || untrusted.contains("Issuer"),
        "{untrusted}"
    );
    let mut agent = A::connect(
        &proxy.url(),
        Setup {
            tls: Some(proxy.tls()),
            ..Setup::default()
        },
    )
    .unwrap();
    asks_which_is_warmer(&mut agent);
    agent.close();
    drop(proxy);
    server.shutdown();
}

macro_rules! suite {
    ($module:ident, $agent:ty) => {
        mod $module {
            use super::*;

            #[test]
            fn plain_answer() {
                super::plain_answer::<$agent>();
            }
            #[test]
            fn a_401_asks_for_fresh_credentials_once() {
                super::http::a_401_asks_for_fresh_credentials_once::<$agent>();
            }
            #[test]
            fn twenty_call_tool_loop() {
                super::twenty_call_tool_loop::<$agent>();
            }
            #[test]
            fn lanes_in_parallel() {
                super::lanes_in_parallel::<$agent>();
            }
            #[test]
            fn fork() {
                super::fork::<$agent>();
            }
            #[test]
            fn warm_up() {
                super::warm_up::<$agent>();
            }
            #[test]
            fn response_failed_at_turn_1() {
                super::response_failed_at_turn_1::<$agent>();
            }
            #[test]
            fn error_event_at_turn_1() {
                super::error_event_at_turn_1::<$agent>();
            }
            #[test]
            fn abrupt_close_mid_response() {
                super::abrupt_close_mid_response::<$agent>();
            }
            #[test]
            fn age_limit_in_reply() {
                super::age_limit_in_reply::<$agent>();
            }
            #[test]
            fn age_limit_unprompted() {
                super::age_limit_unprompted::<$agent>();
            }
            #[test]
            fn refused_upgrades() {
                super::refused_upgrades::<$agent>();
            }
            #[test]
            fn server_stops_reading() {
                super::server_stops_reading::<$agent>();
            }
            #[test]
            fn slow_consumer() {
                super::slow_consumer::<$agent>();
            }
            #[test]
            fn tls_tool_loop() {
                super::tls_tool_loop::<$agent>();
            }
            #[test]
            fn a_server_that_breaks_the_protocol_gets_one_more_try() {
                super::retries::a_server_that_breaks_the_protocol_gets_one_more_try::<$agent>();
            }
            #[test]
            fn an_unanswered_upgrade_is_given_up_at_the_connect_timeout() {
                super::retries::an_unanswered_upgrade_is_given_up_at_the_connect_timeout::<$agent>(
                );
            }
            #[test]
            fn a_server_that_only_answers_pings_is_caught_by_the_idle_timeout() {
                super::retries::a_server_that_only_answers_pings_is_caught_by_the_idle_timeout::<
                    $agent,
                >();
            }
            #[test]
            fn service_unavailable_on_every_upgrade_spends_the_budget() {
                super::retries::service_unavailable_on_every_upgrade_spends_the_budget::<$agent>();
            }
            #[test]
            fn a_close_1011_before_the_response_starts_is_retried_once() {
                super::retries::a_close_1011_before_the_response_starts_is_retried_once::<$agent>();
            }
            #[test]
            fn a_sender_faster_than_the_socket_stays_under_the_outbound_limit() {
                super::retries::a_sender_faster_than_the_socket_stays_under_the_outbound_limit::<
                    $agent,
                >();
            }
        }
    };
}

/// The cases that mean the same over HTTP + SSE: turns, the tool loop, lanes, the faults of
/// a response, TLS; and the moves between transports (`http`). What only WebSocket mode has
/// (warm-up, upgrades, keepalive, the outbound queue, the connection age) stays in `suite!`;
/// `fork` asserts chaining, which HTTP does only with `store: true`.
macro_rules! http_suite {
    ($module:ident, $agent:ty) => {
        mod $module {
            use super::*;

            type OverHttpAgent = OverHttp<$agent>;

            #[test]
            fn plain_answer() {
                super::plain_answer::<OverHttpAgent>();
            }
            #[test]
            fn twenty_call_tool_loop() {
                super::twenty_call_tool_loop::<OverHttpAgent>();
            }
            #[test]
            fn lanes_in_parallel() {
                super::lanes_in_parallel::<OverHttpAgent>();
            }
            #[test]
            fn response_failed_at_turn_1() {
                super::response_failed_at_turn_1::<OverHttpAgent>();
            }
            #[test]
            fn error_event_at_turn_1() {
                super::error_event_at_turn_1::<OverHttpAgent>();
            }
            #[test]
            fn abrupt_close_mid_response() {
                super::abrupt_close_mid_response::<OverHttpAgent>();
            }
            #[test]
            fn tls_tool_loop() {
                super::tls_tool_loop::<OverHttpAgent>();
            }
            #[test]
            fn steering_is_refused_with_the_input_handed_back() {
                super::http::steering_is_refused_with_the_input_handed_back::<OverHttpAgent>();
            }
            #[test]
            fn a_426_at_connect_moves_the_conversation_to_http() {
                super::http::a_426_at_connect_moves_the_conversation_to_http::<$agent>();
            }
            #[test]
            fn a_426_mid_conversation_moves_it_to_http_with_no_tool_output_lost() {
                super::http::a_426_mid_conversation_moves_it_to_http_with_no_tool_output_lost::<
                    $agent,
                >();
            }
            #[test]
            fn websocket_mode_is_probed_again_after_the_interval() {
                super::http::websocket_mode_is_probed_again_after_the_interval::<$agent>();
            }
            #[test]
            fn a_spent_budget_moves_to_http_when_asked() {
                super::http::a_spent_budget_moves_to_http_when_asked::<$agent>();
            }
            #[test]
            fn a_401_asks_for_fresh_credentials_once() {
                super::http::a_401_asks_for_fresh_credentials_once::<OverHttpAgent>();
            }
            #[test]
            fn a_second_401_fails_the_request() {
                super::http::a_second_401_over_http_fails_the_request::<OverHttpAgent>();
            }
        }
    };
}

suite!(blocking, agents::Blocking);
suite!(tokio, agents::Tokio);
suite!(async_std, agents::AsyncStd);
suite!(smol, agents::Smol);
http_suite!(blocking_http, agents::Blocking);
http_suite!(tokio_http, agents::Tokio);
http_suite!(async_std_http, agents::AsyncStd);
http_suite!(smol_http, agents::Smol);
