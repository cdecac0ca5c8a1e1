//! The official OpenAI Python client against our mock server: `client.responses.connect()`
//! with `base_url` at the mock runs a two-step tool loop (two parallel calls, then one) to
//! its final answer. If the official client and our mock disagree, the mock is wrong.
//!
//! Needs `tests/interop/install.sh` (it puts `openai[realtime]` in `tests/.peers/openai-venv`);
//! a missing client fails the test, it is never skipped.

use std::path::Path;
use std::process::Command;

use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall, Turn};
use serde_json::Value;

fn python() -> std::path::PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".peers/openai-venv/bin/python");
    assert!(
        python.exists(),
        "{} is missing: run tests/interop/install.sh",
        python.display()
    );
    python
}

#[test]
fn the_official_python_client_runs_a_tool_loop_against_the_mock() {
    let script = Script::new()
        .turn(Turn::tool_calls([
            ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#).with_deltas(3),
            ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
        ]))
        .turn(Turn::tool_calls([ScriptedCall::new(
            "get_weather",
            r#"{"city":"Berlin"}"#,
        )]))
        .text("Paris is the warmest.", 4);
    let server = MockServer::start_in_thread(script).expect("mock server");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("interop/openai_client.py");
    let output = Command::new(python())
        .arg(&script)
        .arg(server.http_base())
        .output()
        .expect("the Python client runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the client failed: {stderr}");
    let summary: Value = serde_json::from_slice(&output.stdout).expect("one JSON line");
    assert_eq!(summary["final_text"], "Paris is the warmest.", "{stderr}");
    assert_eq!(summary["turns"], 3);
    assert_eq!(summary["tool_calls"], 3);
    let types: Vec<&str> = summary["event_types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for expected in [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.output_text.delta",
        "response.completed",
    ] {
        assert!(
            types.contains(&expected),
            "{expected} missing from {types:?}"
        );
    }
    assert_eq!(
        server.connections(),
        1,
        "one WebSocket connection for the whole loop"
    );
    server.shutdown();
}
