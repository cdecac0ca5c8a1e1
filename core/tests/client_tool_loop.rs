//! The client's automatic tool loop over an in-memory WebSocket connection: a response asks
//! for two calls, the handler answers both, and the continuation goes out by itself.

use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
use responses_ws_core::session::SessionEvent;
use responses_ws_core::wire::{ResponseCreate, ToolOutput};
use responses_ws_core::ws::{self, Connection, WsUrl};
use responses_ws_core::Instant;
use serde_json::Value;

const NOW: Instant = Instant::ZERO;

/// Moves bytes until both sides are quiet; returns the client's session events and the text
/// frames the server received.
fn pump(client: &mut Client, server: &mut Connection) -> (Vec<SessionEvent>, Vec<Value>) {
    let (mut events, mut frames) = (Vec::new(), Vec::new());
    loop {
        let mut moved = false;
        while let Some(event) = client.poll_event() {
            moved = true;
            if let ClientEvent::Session(event) = event {
                events.push(event);
            }
        }
        while let Some(bytes) = client.poll_transmit() {
            moved = true;
            server.handle_input(&bytes, NOW);
        }
        while let Some(event) = server.poll_event() {
            moved = true;
            match event {
                ws::Event::Request(_) => server.accept(&[]).unwrap(),
                ws::Event::Message(ws::Message::Text(text)) => {
                    frames.push(serde_json::from_str(text.as_str()).unwrap())
                }
                _ => {}
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            moved = true;
            client.handle_input(&bytes, NOW);
        }
        if !moved {
            return (events, frames);
        }
    }
}

#[test]
fn the_tool_handler_answers_every_call_and_the_turn_continues() {
    let url = WsUrl::parse("ws://127.0.0.1:1/v1/responses").unwrap();
    let mut client = Client::new(ClientConfig::new(url));
    client.set_tool_handler(Box::new(|_, call| {
        let args: Value = call.parse_arguments().unwrap();
        ToolOutput::Text((args["a"].as_i64().unwrap() + args["b"].as_i64().unwrap()).to_string())
    }));
    let mut server = Connection::server(ws::Config::default(), [0; 32], NOW);
    client.connect([1; 32], NOW).unwrap();
    client
        .create(ResponseCreate {
            model: Some("m".into()),
            input: Some("Add twice.".into()),
            ..Default::default()
        })
        .unwrap();
    let (_, frames) = pump(&mut client, &mut server);
    assert_eq!(frames.len(), 1);

    let output = r#"[{"type":"function_call","call_id":"c1","name":"add","arguments":"{\"a\":1,\"b\":2}"},{"type":"function_call","call_id":"c2","name":"add","arguments":"{\"a\":3,\"b\":4}"}]"#;
    let response = format!(
        r#"{{"id":"resp_1","object":"response","created_at":1,"model":"m","status":"completed","output":{output}}}"#
    );
    server
        .send_text(format!(
            r#"{{"type":"response.created","response":{response}}}"#
        ))
        .unwrap();
    server
        .send_text(format!(
            r#"{{"type":"response.completed","response":{response}}}"#
        ))
        .unwrap();
    let (events, frames) = pump(&mut client, &mut server);

    assert!(events
        .iter()
        .any(|e| matches!(e, SessionEvent::ToolCalls { calls, .. } if calls.len() == 2)));
    assert_eq!(frames.len(), 1, "one continuation: {frames:?}");
    assert_eq!(frames[0]["previous_response_id"], "resp_1");
    assert_eq!(
        frames[0]["input"],
        serde_json::json!([
            {"type": "function_call_output", "call_id": "c1", "output": "3"},
            {"type": "function_call_output", "call_id": "c2", "output": "7"}
        ])
    );
    assert!(client
        .session()
        .pending_tool_calls(&Default::default())
        .is_empty());
}
