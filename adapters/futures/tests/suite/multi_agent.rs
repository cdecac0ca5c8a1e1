//! The multi-agent beta against the core's mock server: tool outputs injected into a response
//! that waits for them, one committed into it and one too late (handed back, kept by the
//! session and sent with the next request), each output reaching the server exactly once;
//! `response.inject` without the beta header refused, the injection handed back; and a key
//! without the feature (the server closes with 1008 before any event) failing with the typed
//! policy error.

use responses_ws_futures::responses_ws_core::mock::MultiAgentScript;
use responses_ws_futures::responses_ws_core::wire::Item;
use responses_ws_futures::{Failure, Lane, RequestError};
use responses_ws_tokio::mock::{FaultOutcome, MockServer, Script, ScriptedCall, TurnFault};
use serde_json::{json, Value};

use super::*;

on_every_runtime!(
    outputs_injected_into_a_waiting_response_reach_it_once_and_a_late_one_is_kept,
    without_the_beta_header_an_injection_is_refused_and_handed_back,
    a_key_without_the_feature_gets_the_typed_policy_error,
);

/// The beta header of the multi-agent API.
const BETA: (&str, &str) = ("OpenAI-Beta", "responses_multi_agent=v1");

/// A multi-agent request (`multi_agent.enabled`).
fn multi_agent(input: &str) -> ResponseCreate {
    let mut request = ResponseCreate::new("gpt-5.5").input(input);
    request.multi_agent = Some(serde_json::from_value(json!({"enabled": true})).unwrap());
    request
}

/// The `call_id` of a function call the stream completed, if `event` is one.
fn completed_call(event: &ClientEvent) -> Option<String> {
    let ClientEvent::Session(SessionEvent::Stream { event, .. }) = event else {
        return None;
    };
    match &event.decoded().kind {
        EventKind::OutputItemDone(done) => match &done.item {
            Item::FunctionCall(call) => Some(call.call_id.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// The `call_id`s of the outputs in a recorded request's `input`.
fn outputs_in(frame: &Value) -> Vec<String> {
    (frame["input"].as_array().into_iter().flatten())
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| item["call_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn outputs_injected_into_a_waiting_response_reach_it_once_and_a_late_one_is_kept(rt: Rt) {
    // Two calls; the response waits 300 ms for their outputs, then completes without.
    let wait = Duration::from_millis(300);
    let script = Script::new()
        .tool_calls([
            ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#),
            ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
        ])
        .text("Paris is warmer.", 2)
        .with_multi_agent(MultiAgentScript::default().wait(wait));
    let server = MockServer::start_in_thread(script).unwrap();
    server.record_requests();
    let config = rt.config(&server.url()).header(BETA.0, BETA.1);
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(multi_agent("Paris or Tokyo?")).await.unwrap();

    // The calls arrive while the response runs.
    let (mut running, mut calls) = (None, Vec::new());
    while calls.len() < 2 {
        let event = conn.next_event().await.unwrap().expect("an event");
        calls.extend(completed_call(&event));
        if let ClientEvent::Session(SessionEvent::Started { response_id, .. }) = event {
            running = Some(response_id);
        }
    }
    let running = running.expect("the response started");
    let paris = Item::function_call_output(&calls[0], "14 °C");
    conn.inject(&Lane::Default, vec![paris]).await.unwrap();
    loop {
        match conn.next_event().await.unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::InjectAccepted { response_id, .. }) => {
                assert_eq!(response_id, running);
                break;
            }
            ClientEvent::Session(SessionEvent::Completed { .. }) => panic!("still waiting"),
            _ => {}
        }
    }

    // The other output comes too late: the connection is not read meanwhile, so the session
    // still sees the response running and sends it; the server has completed the response.
    rt.sleep(wait * 2).await;
    let tokyo = Item::function_call_output(&calls[1], "9 °C");
    conn.inject(&Lane::Default, vec![tokyo.clone()])
        .await
        .unwrap();
    let (mut kept, mut answers) = (None, Vec::new());
    while answers.len() < 2 {
        match conn.next_event().await.unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::InjectFailed {
                input,
                error,
                kept: k,
                ..
            }) => {
                let code = error.and_then(|error| error.code);
                assert_eq!(code.as_deref(), Some("response_already_completed"));
                assert_eq!(input, std::slice::from_ref(&tokyo), "handed back");
                kept = Some(k);
            }
            ClientEvent::Session(SessionEvent::ToolCalls { calls: asked, .. }) => {
                let committed = asked.iter().any(|call| call.call_id == calls[0]);
                assert!(!committed, "the injected output answered its call");
            }
            ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
                answers.push(response.all_output_text())
            }
            ClientEvent::Session(SessionEvent::Failed { error, .. }) => panic!("{error}"),
            _ => {}
        }
    }
    assert_eq!(kept, Some(true), "the session kept it for the next request");
    assert_eq!(answers, ["", "Paris is warmer."]);

    // What reached the server: each output once, the late one with the next request.
    let frames: Vec<Value> = (server.requests().iter())
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    let types: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "response.create",
            "response.inject",
            "response.inject",
            "response.create"
        ]
    );
    assert_eq!(frames[1]["response_id"], running.as_str());
    assert_eq!(outputs_in(&frames[1]), [calls[0].clone()]);
    assert_eq!(
        outputs_in(&frames[3]),
        [calls[1].clone()],
        "only the late one"
    );
    // The conversation holds both outputs, each after its call.
    let ledger = conn.session().ledger().lane(&Lane::Default).unwrap();
    let ids: Vec<Option<&str>> = ledger.items().iter().map(Item::call_id).collect();
    let (a, b) = (Some(calls[0].as_str()), Some(calls[1].as_str()));
    assert_eq!(ids.iter().filter(|id| **id == a).count(), 2, "{ids:?}");
    assert_eq!(ids.iter().filter(|id| **id == b).count(), 2, "{ids:?}");
    conn.close().await.unwrap();
    server.shutdown();
}

async fn without_the_beta_header_an_injection_is_refused_and_handed_back(rt: Rt) {
    let script = Script::new()
        .text("A long answer, streamed slowly.", 30)
        .with_delta_delay(Duration::from_millis(20));
    let server = MockServer::start_in_thread(script).unwrap();
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    conn.create(multi_agent("Write.")).await.unwrap();
    loop {
        if let ClientEvent::Session(SessionEvent::Started { .. }) =
            conn.next_event().await.unwrap().expect("an event")
        {
            break;
        }
    }
    let output = Item::function_call_output("call_1", "42");
    conn.inject(&Lane::Default, vec![output.clone()])
        .await
        .unwrap();
    let (mut failed, mut handed_back) = (None, None);
    while failed.is_none() || handed_back.is_none() {
        match conn.next_event().await.unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::Failed {
                error: RequestError::Api(error),
                ..
            }) => failed = error.code,
            ClientEvent::Session(SessionEvent::InjectFailed { input, .. }) => {
                handed_back = Some(input)
            }
            _ => {}
        }
    }
    assert_eq!(failed.as_deref(), Some("unsupported_event_type"));
    assert_eq!(handed_back, Some(vec![output]));
    conn.close().await.unwrap();
    server.shutdown();
}

async fn a_key_without_the_feature_gets_the_typed_policy_error(rt: Rt) {
    // The upgrade succeeds; the server closes with 1008 before any event.
    let close = TurnFault::new(
        0,
        FaultOutcome::Close {
            code: 1008,
            reason: "multi-agent is not enabled for this organization".into(),
        },
    );
    let server = MockServer::start_in_thread(Script::new().with_turn_fault(close)).unwrap();
    let config = (rt.config(&server.url()))
        .retry(RetryPolicy::default())
        .header(BETA.0, BETA.1);
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(multi_agent("Hi")).await.unwrap();
    let gave_up = loop {
        match conn.next_event().await.unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::Failed {
                error: RequestError::GaveUp(gave_up),
                ..
            }) => break gave_up,
            ClientEvent::Session(SessionEvent::Completed { .. }) => panic!("served"),
            _ => {}
        }
    };
    let Failure::PolicyClose { reason } = &gave_up.cause else {
        panic!("{:?}", gave_up.cause);
    };
    assert_eq!(reason, "multi-agent is not enabled for this organization");
    assert_eq!(gave_up.attempts, 1, "final: not retried");
    assert!(gave_up
        .cause
        .to_string()
        .contains("is WebSocket mode enabled for this API key and organization?"));
    server.shutdown();
}
