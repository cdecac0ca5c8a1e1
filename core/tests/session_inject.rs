//! `response.inject` (multi-agent beta) through the session, frame by frame: an output
//! committed into a running response joins the conversation after its call and leaves no
//! call pending; one refused because the response completed answers the pending call; one
//! whose connection ends is handed back. No tool output is lost or sent twice.

use responses_ws_core::session::{Lane, Session, SessionConfig, SessionError, SessionEvent};
use responses_ws_core::wire::{ClientEvent, Item, ResponseCreate};
use responses_ws_core::Instant;
use serde_json::{json, Value};

const CALL: &str = r#"{"type":"function_call","id":"fc_1","call_id":"call_1","name":"lookup","arguments":"{}","status":"completed"}"#;
const ANSWER: &str = r#"{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"Found it.","annotations":[]}]}"#;

fn turn(text: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("m".into()),
        store: Some(false),
        input: Some(text.into()),
        ..ResponseCreate::default()
    }
}

fn created() -> String {
    r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"m","output":[]}}"#.into()
}

fn call_done() -> String {
    format!(
        r#"{{"type":"response.output_item.done","sequence_number":1,"output_index":0,"item":{CALL}}}"#
    )
}

fn completed(sequence: u64, output: &[&str]) -> String {
    format!(
        r#"{{"type":"response.completed","sequence_number":{sequence},"response":{{"id":"resp_1","object":"response","created_at":1,"status":"completed","model":"m","output":[{}]}}}}"#,
        output.join(",")
    )
}

fn output() -> Item {
    Item::function_call_output("call_1", "42 results")
}

/// A session with a running response that made the call `call_1` and waits.
fn waiting() -> Session {
    let mut session = Session::new(SessionConfig::default());
    session.connected(Instant::ZERO);
    session.create(turn("Look it up.")).unwrap();
    for frame in [created(), call_done()] {
        session.handle_text(&frame, Instant::ZERO);
    }
    sent(&mut session);
    events(&mut session);
    session
}

fn sent(session: &mut Session) -> Vec<Value> {
    std::iter::from_fn(|| session.poll_transmit())
        .map(|frame| serde_json::from_str(&frame).unwrap())
        .collect()
}

fn events(session: &mut Session) -> Vec<SessionEvent> {
    std::iter::from_fn(|| session.poll_event())
        .filter(|event| !matches!(event, SessionEvent::Stream { .. }))
        .collect()
}

#[test]
fn a_committed_output_joins_the_conversation_after_its_call() {
    let mut session = waiting();
    session.inject(&Lane::Default, vec![output()]).unwrap();
    let frames = sent(&mut session);
    assert_eq!(frames.len(), 1);
    let inject: ClientEvent = serde_json::from_value(frames[0].clone()).unwrap();
    assert_eq!(frames[0]["type"], "response.inject");
    assert_eq!(frames[0]["response_id"], "resp_1");
    assert!(matches!(inject, ClientEvent::Inject(i) if i.input == [output()]));

    session.handle_text(
        r#"{"type":"response.inject.created","sequence_number":2,"response_id":"resp_1"}"#,
        Instant::ZERO,
    );
    session.handle_text(&completed(3, &[CALL, ANSWER]), Instant::ZERO);
    let events = events(&mut session);
    assert!(
        matches!(&events[0], SessionEvent::InjectAccepted { response_id, .. } if response_id == "resp_1"),
        "{events:?}"
    );
    assert!(matches!(events[1], SessionEvent::Completed { .. }));
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, SessionEvent::ToolCalls { .. })),
        "the call has its output: nothing is pending"
    );
    assert_eq!(
        sent(&mut session),
        Vec::<Value>::new(),
        "nothing sent again"
    );
    let kinds: Vec<&str> = session
        .ledger()
        .lane(&Lane::Default)
        .unwrap()
        .items()
        .iter()
        .map(|item| match item {
            Item::FunctionCall(_) => "call",
            Item::FunctionCallOutput(_) => "output",
            _ => "message",
        })
        .collect();
    assert_eq!(kinds, ["message", "call", "output", "message"]);

    // The next turn chains from the response and sends only its own input.
    session.create(turn("Thanks.")).unwrap();
    let next = sent(&mut session);
    assert_eq!(next[0]["previous_response_id"], "resp_1");
    assert_eq!(next[0]["input"].as_array().unwrap().len(), 1);
}

#[test]
fn an_output_refused_because_the_response_completed_answers_the_pending_call() {
    let mut session = waiting();
    session.inject(&Lane::Default, vec![output()]).unwrap();
    sent(&mut session);
    // The response completes before the server takes the injection.
    session.handle_text(&completed(2, &[CALL]), Instant::ZERO);
    assert!(events(&mut session)
        .iter()
        .any(|e| matches!(e, SessionEvent::ToolCalls { .. })));
    let refusal = json!({
        "type": "response.inject.failed",
        "sequence_number": 3,
        "response_id": "resp_1",
        "input": [output()],
        "error": {"type": "invalid_request_error", "code": "response_already_completed",
                  "message": "Response resp_1 has already completed."}
    });
    session.handle_text(&refusal.to_string(), Instant::ZERO);
    let events = events(&mut session);
    assert!(
        matches!(&events[0], SessionEvent::InjectFailed { kept: true, input, .. } if input == &[output()]),
        "{events:?}"
    );
    // Sent once more, as the server asks: a request continuing from the response.
    let frames = sent(&mut session);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(frames[0]["type"], "response.create");
    assert_eq!(frames[0]["previous_response_id"], "resp_1");
    assert_eq!(frames[0]["input"][0]["call_id"], "call_1");
    // The application's own answer to the call is refused: it has one.
    assert!(session
        .submit_tool_output(&Lane::Default, "call_1", "again")
        .is_err());
    assert_eq!(sent(&mut session), Vec::<Value>::new());
}

#[test]
fn injections_of_a_response_whose_connection_ended_are_handed_back() {
    let mut session = waiting();
    session.inject(&Lane::Default, vec![output()]).unwrap();
    session.handle_text(
        r#"{"type":"response.inject.created","sequence_number":2,"response_id":"resp_1"}"#,
        Instant::ZERO,
    );
    events(&mut session);
    session.disconnected(Instant::ZERO);
    let events = events(&mut session);
    assert!(
        events.iter().any(|e| matches!(e, SessionEvent::InjectFailed { error: None, kept: false, input, .. } if input == &[output()])),
        "{events:?}"
    );
}

#[test]
fn nothing_runs_nothing_is_injected() {
    let mut session = Session::new(SessionConfig::default());
    session.connected(Instant::ZERO);
    let refused = session.inject(&Lane::Default, vec![output()]).unwrap_err();
    assert_eq!(
        refused.error(),
        &SessionError::NothingToInject(Lane::Default)
    );
    assert_eq!(refused.into_request(), [output()]);
    assert_eq!(sent(&mut session), Vec::<Value>::new());
}
