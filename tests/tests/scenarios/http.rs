//! Conversations moved between WebSocket mode and HTTP + SSE by the adapters, over real TCP
//! against the mock (which serves both on one port): a 426 at connect, a 426 on a
//! reconnection mid-rollout (no tool output lost or repeated, from the mock's records), the
//! re-probe of WebSocket mode after the interval, the move after a spent budget when asked;
//! the calls only WebSocket mode has, refused over HTTP with their input handed back; and
//! fresh credentials after a 401 (a revoked key), on either transport.

use std::collections::BTreeMap;
use std::time::Duration;

use responses_ws_blocking::{Error, Returned};
use responses_ws_core::client::{ClientEvent, HttpFallback};
use responses_ws_core::http_client::Transport;
use responses_ws_core::session::{Lane, RequestError, SessionEvent};
use responses_ws_core::wire::Input;
use responses_ws_tokio::mock::{AgeLimit, MockServer, Refusal, Script, UpgradeFault};
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::agents::{Agent, Setup};
use super::{asks_which_is_warmer, counter, fast_retries, three_calls, turn, until_ended};

pub(crate) fn steering_is_refused_with_the_input_handed_back<A: Agent>() {
    let server = MockServer::start_in_thread(Script::new().text("Hi.", 2)).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).unwrap();
    let refused = agent.steer(&Lane::Default, "faster").unwrap_err();
    let Error::WebSocketOnly { error, returned } = refused else {
        panic!("{refused:?}");
    };
    assert!(error.to_string().contains("WebSocket"), "{error}");
    let Returned::Input(Input::Text(text)) = returned else {
        panic!("{returned:?}");
    };
    assert_eq!(text, "faster");
    agent.close();
    server.shutdown();
}

/// Every event up to the first `UseHttp`, which must come.
fn use_http_cause<A: Agent>(agent: &mut A) -> Option<u16> {
    loop {
        match agent.next_event().expect("the conversation goes on") {
            ClientEvent::UseHttp { cause } => return cause.status(),
            ClientEvent::Session(_) => panic!("a session event before the move"),
            _ => {}
        }
    }
}

pub(crate) fn a_426_at_connect_moves_the_conversation_to_http<A: Agent>() {
    let script = three_calls().with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired));
    let server = MockServer::start_in_thread(script).unwrap();
    let mut agent = A::connect(&server.url(), Setup::default()).expect("no error: HTTP instead");
    assert_eq!(agent.transport(), Transport::Http);
    assert_eq!(use_http_cause(&mut agent), Some(426));
    asks_which_is_warmer(&mut agent);
    assert_eq!(agent.transport(), Transport::Http, "sticky");
    agent.close();
    server.shutdown();
}

/// The `call_id`s of the items of `kind` in a request's input.
fn call_ids(request: &Value, kind: &str) -> Vec<String> {
    let items = request["input"].as_array().into_iter().flatten();
    items
        .filter(|item| item["type"] == kind)
        .map(|item| item["call_id"].as_str().unwrap().to_owned())
        .collect()
}

pub(crate) fn a_426_mid_conversation_moves_it_to_http_with_no_tool_output_lost<A: Agent>() {
    // Connection 0 (WebSocket) answers the first turn with two calls, then refuses their
    // continuation as too old; connection 1's upgrade is refused with 426: the continuation
    // goes out over HTTP, with the whole conversation.
    let script = three_calls()
        .with_age_limit(AgeLimit::after_responses(1).in_reply())
        .with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired).on_connection(1));
    let server = MockServer::start_in_thread(script).unwrap();
    server.record_requests();
    let setup = Setup {
        retry: Some(fast_retries()),
        ..Setup::default()
    };
    let mut agent = A::connect(&server.url(), setup).unwrap();
    assert_eq!(agent.transport(), Transport::WebSocket);
    asks_which_is_warmer(&mut agent);
    assert_eq!(agent.transport(), Transport::Http);

    // From the mock's records: one frame per request over WebSocket (a `response.create`
    // event), one body per request over HTTP (the request itself).
    let requests: Vec<Value> = server
        .requests()
        .iter()
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    let (ws, http): (Vec<&Value>, Vec<&Value>) = requests
        .iter()
        .partition(|request| request["type"] == "response.create");
    assert_eq!(
        ws.len(),
        2,
        "the first turn, and the continuation refused as too old"
    );
    assert_eq!(http.len(), 2, "the continuation, then the last one");
    // Over HTTP each request carries the whole conversation: every call once, with its
    // output once, and the refused continuation's outputs arrived unchanged.
    for request in &http {
        assert_eq!(
            call_ids(request, "function_call_output"),
            call_ids(request, "function_call"),
            "{request}"
        );
    }
    let outputs = |request: &Value| -> BTreeMap<String, String> {
        let items = request["input"].as_array().into_iter().flatten();
        items
            .filter(|item| item["type"] == "function_call_output")
            .map(|item| {
                let id = item["call_id"].as_str().unwrap().to_owned();
                (id, item["output"].as_str().unwrap().to_owned())
            })
            .collect()
    };
    let refused = outputs(ws[1]);
    assert_eq!(refused.len(), 2);
    assert_eq!(outputs(http[0]), refused);
    assert_eq!(outputs(http[1]).len(), 3);
    agent.close();
    server.shutdown();
}

pub(crate) fn websocket_mode_is_probed_again_after_the_interval<A: Agent>() {
    let script = Script::new()
        .text("Still here.", 2)
        .with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired).on_connection(0));
    let server = MockServer::start_in_thread(script).unwrap();
    server.record_requests();
    let setup = Setup {
        reprobe_after: Some(Duration::from_millis(200)),
        ..Setup::default()
    };
    let mut agent = A::connect(&server.url(), setup).unwrap();
    assert_eq!(agent.transport(), Transport::Http);
    let calls = counter();
    agent.tool_loop(turn(None, "One."), calls.clone()).unwrap();
    assert_eq!(
        agent.transport(),
        Transport::Http,
        "sticky within the interval"
    );
    std::thread::sleep(Duration::from_millis(300));
    // The next call sees the interval over, with nothing in flight: WebSocket mode again,
    // the conversation going on there.
    let response = agent.tool_loop(turn(None, "Two."), calls).unwrap();
    assert_eq!(response.all_output_text(), "Still here.");
    assert_eq!(agent.transport(), Transport::WebSocket);
    assert!(agent.client().is_some_and(|client| client.is_open()));
    let requests = server.requests();
    let last: Value = serde_json::from_str(requests.last().unwrap()).unwrap();
    assert_eq!(
        last["type"], "response.create",
        "the last turn went over WebSocket"
    );
    assert_eq!(requests.len(), 2);
    agent.close();
    server.shutdown();
}

pub(crate) fn a_spent_budget_moves_to_http_when_asked<A: Agent>() {
    let refusal = Refusal::ServiceUnavailable {
        retry_after_secs: 0,
    };
    let script = three_calls().with_upgrade_refusal(UpgradeFault::new(refusal));
    let server = MockServer::start_in_thread(script).unwrap();
    let setup = Setup {
        retry: Some(fast_retries()),
        http_fallback: Some(HttpFallback::AlsoAfterGivingUp),
        ..Setup::default()
    };
    let mut agent = A::connect(&server.url(), setup).expect("HTTP instead of giving up");
    assert_eq!(use_http_cause(&mut agent), Some(503));
    asks_which_is_warmer(&mut agent);
    assert_eq!(agent.transport(), Transport::Http);
    agent.close();
    server.shutdown();
}

/// A connection whose key (`sk-old`) the mock has revoked, with a credentials source that
/// gives `fresh` (counting its calls).
fn with_revoked_key<A: Agent>(
    fresh: Option<&'static str>,
) -> (
    responses_ws_tokio::mock::MockServerThread,
    A,
    Arc<AtomicUsize>,
) {
    let script = three_calls().with_revoked_api_key("sk-old");
    let server = MockServer::start_in_thread(script).unwrap();
    let fetched = counter();
    let count = Arc::clone(&fetched);
    let setup = Setup {
        retry: Some(fast_retries()),
        api_key: Some("sk-old".into()),
        credentials: Some(Arc::new(move || {
            count.fetch_add(1, Ordering::SeqCst);
            fresh.map(String::from)
        })),
        ..Setup::default()
    };
    let agent = A::connect(&server.url(), setup).expect("connected");
    (server, agent, fetched)
}

/// A 401 (at the upgrade in WebSocket mode, on a `POST` over HTTP) asks the credentials
/// source once; the refused step is tried again with the fresh key and the rollout ends with
/// every tool output.
pub(crate) fn a_401_asks_for_fresh_credentials_once<A: Agent>() {
    let (server, mut agent, fetched) = with_revoked_key::<A>(Some("sk-new"));
    asks_which_is_warmer(&mut agent);
    assert_eq!(fetched.load(Ordering::SeqCst), 1, "asked once");
    agent.close();
    server.shutdown();
}

/// Over HTTP, a second 401 (the source had nothing new) fails the request with the server's
/// error: status 401, `invalid_api_key`.
pub(crate) fn a_second_401_over_http_fails_the_request<A: Agent>() {
    let (server, mut agent, fetched) = with_revoked_key::<A>(None);
    agent.create(turn(None, "Which is warmer?"));
    let events = until_ended(&mut agent, 1);
    let Some(SessionEvent::Failed {
        error: RequestError::Api(error),
        ..
    }) = events.last()
    else {
        panic!("{events:?}");
    };
    assert_eq!(error.status, Some(401));
    assert_eq!(error.code.as_deref(), Some("invalid_api_key"));
    assert_eq!(fetched.load(Ordering::SeqCst), 1, "asked once");
    agent.close();
    server.shutdown();
}
