//! The blocking `Connection::inject` against the mock server's multi-agent beta: the output
//! of the call a running response waits for is committed into it, and the same response goes
//! on to its answer. (The late and refused injections are the session's decisions, which both
//! drivers share: the async suite covers them on every runtime.)

use responses_ws_blocking::responses_ws_core::mock::MultiAgentScript;
use responses_ws_blocking::responses_ws_core::wire::{EventKind, Item};
use responses_ws_blocking::{ClientEvent, Config, Connection, Lane, ResponseCreate, SessionEvent};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
use serde_json::{json, Value};

#[test]
fn an_injected_output_is_committed_and_the_response_goes_on() {
    let script = Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 2)
        .with_multi_agent(MultiAgentScript::default());
    let server = MockServer::start_in_thread(script).unwrap();
    server.record_requests();
    let config = Config::new(&server.url())
        .unwrap()
        .header("OpenAI-Beta", "responses_multi_agent=v1");
    let mut conn = Connection::connect(config).unwrap();
    let mut request = ResponseCreate::new("gpt-5.5").input("Weather?");
    request.multi_agent = Some(serde_json::from_value(json!({"enabled": true})).unwrap());
    conn.create(request).unwrap();

    // The response makes its call and waits for the output, running.
    let call_id = loop {
        if let ClientEvent::Session(SessionEvent::Stream { event, .. }) =
            conn.next_event().unwrap().expect("an event")
        {
            if let EventKind::OutputItemDone(done) = &event.decoded().kind {
                if let Item::FunctionCall(call) = &done.item {
                    break call.call_id.clone();
                }
            }
        }
    };
    let output = Item::function_call_output(&call_id, "sunny, 24 °C");
    conn.inject(&Lane::Default, vec![output]).unwrap();
    let mut accepted = false;
    let response = loop {
        match conn.next_event().unwrap().expect("an event") {
            ClientEvent::Session(SessionEvent::InjectAccepted { .. }) => accepted = true,
            ClientEvent::Session(SessionEvent::Completed { response, .. }) => break response,
            ClientEvent::Session(SessionEvent::ToolCalls { .. }) => panic!("the call is answered"),
            ClientEvent::Session(SessionEvent::Failed { error, .. }) => panic!("{error}"),
            _ => {}
        }
    };
    assert!(accepted);
    assert_eq!(response.all_output_text(), "It is sunny.");

    // Each frame once: the request, then the output into the running response.
    let frames: Vec<Value> = (server.requests().iter())
        .map(|text| serde_json::from_str(text).unwrap())
        .collect();
    assert_eq!(frames.len(), 2);
    assert_eq!(
        (&frames[1]["type"], &frames[1]["response_id"]),
        (&json!("response.inject"), &json!(response.id))
    );
    assert_eq!(frames[1]["input"][0]["call_id"], json!(call_id));
    conn.close().unwrap();
    server.shutdown();
}
