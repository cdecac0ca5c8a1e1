//! The multi-agent beta over loopback TCP against the mock server, with the blocking driver:
//! tool outputs injected into a response that waits for them, one committed and one too late
//! (handed back, kept by the session and sent with the next request), each output reaching
//! the server exactly once.

use std::time::Duration;

use responses_ws_blocking::responses_ws_core::mock::MultiAgentScript;
use responses_ws_blocking::responses_ws_core::wire::{EventKind, Item};
use responses_ws_blocking::{ClientEvent, Config, Connection, Lane, ResponseCreate, SessionEvent};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
use serde_json::{json, Value};

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

fn outputs_in(frame: &Value) -> Vec<String> {
    (frame["input"].as_array().into_iter().flatten())
        .filter(|item| item["type"] == "function_call_output")
        .map(|item| item["call_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn outputs_injected_into_a_waiting_response_reach_it_once_and_a_late_one_is_kept() {
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
    let config = Config::new(&server.url())
        .unwrap()
        .header("OpenAI-Beta", "responses_multi_agent=v1");
    let mut conn = Connection::connect(config).unwrap();
    let mut request = ResponseCreate::new("gpt-5.5").input("Paris or Tokyo?");
    request.multi_agent = Some(serde_json::from_value(json!({"enabled": true})).unwrap());
    conn.create(request).unwrap();

    let mut calls = Vec::new();
    while calls.len() < 2 {
        let event = conn.next_event().unwrap().expect("an event");
        calls.extend(completed_call(&event));
    }
    conn.inject(
        &Lane::Default,
        vec![Item::function_call_output(&calls[0], "14 °C")],
    )
    .unwrap();
    loop {
        match conn.next_event().unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::InjectAccepted { .. }) => break,
            ClientEvent::Session(SessionEvent::Completed { .. }) => panic!("still waiting"),
            _ => {}
        }
    }

    // Too late: the connection is not read meanwhile, so the session still sees the response
    // running; the server has completed it and hands the output back.
    std::thread::sleep(wait * 2);
    let tokyo = Item::function_call_output(&calls[1], "9 °C");
    conn.inject(&Lane::Default, vec![tokyo.clone()]).unwrap();
    let (mut kept, mut answers) = (None, Vec::new());
    while answers.len() < 2 {
        match conn.next_event().unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::InjectFailed {
                input,
                error,
                kept: k,
                ..
            }) => {
                let code = error.and_then(|error| error.code);
                assert_eq!(code.as_deref(), Some("response_already_completed"));
                assert_eq!(input, std::slice::from_ref(&tokyo));
                kept = Some(k);
            }
            ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
                answers.push(response.all_output_text())
            }
            ClientEvent::Session(SessionEvent::Failed { error, .. }) => panic!("{error}"),
            _ => {}
        }
    }
    assert_eq!(kept, Some(true));
    assert_eq!(answers, ["", "Paris is warmer."]);
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
    assert_eq!(outputs_in(&frames[1]), [calls[0].clone()]);
    assert_eq!(
        outputs_in(&frames[3]),
        [calls[1].clone()],
        "only the late one"
    );
    conn.close().unwrap();
    server.shutdown();
}
