//! `responses-ws run` against mock servers started by the test (and by `responses-ws mock`):
//! the JSON event lines, the exact summary line, reconnects, the same run over HTTP + SSE.

mod common;

use std::time::Duration;

use common::{binary, run};
use responses_ws_core::mock::{DropFault, Script, ScriptedCall};
use responses_ws_tokio::mock::MockServer;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The model asks for the weather and a sum, in parallel, then answers.
fn weather_script() -> Script {
    Script::new()
        .tool_calls([
            ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#).with_deltas(3),
            ScriptedCall::new("add", r#"{"a":2,"b":40}"#),
        ])
        .text("Paris is 15 °C and clear; 2 + 40 = 42.", 5)
}

const SUMMARY: &str = r#"{"summary":{"final_text":"Paris is 15 °C and clear; 2 + 40 = 42.","turns":2,"tool_calls":2,"reconnects":0,"full_context_replays":0}}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_json_prints_every_event_and_the_summary_line() {
    let server = MockServer::start(weather_script()).await.unwrap();
    let url = server.url();
    let output = run(
        &[
            "run",
            "--url",
            &url,
            "--json",
            "Weather in Paris, and 2 + 40?",
        ],
        Duration::from_secs(60),
    )
    .await;
    let traffic = server.traffic();
    server.shutdown().await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let lines: Vec<&str> = output.stdout.lines().collect();
    assert_eq!(lines.last().copied(), Some(SUMMARY));
    let events: Vec<serde_json::Value> = lines[..lines.len() - 1]
        .iter()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types.first(), Some(&"response.created"));
    assert_eq!(types.last(), Some(&"response.completed"));
    assert_eq!(
        types.iter().filter(|t| **t == "response.completed").count(),
        2
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "response.function_call_arguments.delta")
            .count(),
        4
    );
    // Two requests went up: the prompt and one continuation with both outputs.
    assert_eq!(traffic.frames_received, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_over_http_gives_the_same_answer_and_events() {
    let server = MockServer::start(weather_script()).await.unwrap();
    let url = server.url();
    let output = run(
        &[
            "run",
            "--url",
            &url,
            "--json",
            "--transport",
            "http",
            "Weather in Paris, and 2 + 40?",
        ],
        Duration::from_secs(60),
    )
    .await;
    let connections = server.connections();
    server.shutdown().await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let lines: Vec<&str> = output.stdout.lines().collect();
    // The continuation sends the whole conversation (`store: false` over HTTP).
    let summary = SUMMARY.replace(r#""full_context_replays":0"#, r#""full_context_replays":1"#);
    assert_eq!(lines.last().copied(), Some(summary.as_str()));
    let types: Vec<String> = lines[..lines.len() - 1]
        .iter()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["type"].to_string())
        .collect();
    assert_eq!(
        types.first().map(String::as_str),
        Some(r#""response.created""#)
    );
    assert_eq!(
        types.last().map(String::as_str),
        Some(r#""response.completed""#)
    );
    assert_eq!(connections, 1, "both requests on one kept-alive socket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_reconnects_after_a_drop_and_replays_the_context() {
    // The first connection drops in the middle of the second response.
    let script = weather_script().with_drop(DropFault::after_events(20).on_connection(0));
    let server = MockServer::start(script).await.unwrap();
    let url = server.url();
    let output = run(
        &[
            "run", "--url", &url, "--json", "--lane", "agent-1", "Weather?",
        ],
        Duration::from_secs(60),
    )
    .await;
    server.shutdown().await;
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    let summary: serde_json::Value =
        serde_json::from_str(output.stdout.lines().last().unwrap()).unwrap();
    let summary = &summary["summary"];
    assert_eq!(
        summary["final_text"],
        "Paris is 15 °C and clear; 2 + 40 = 42."
    );
    assert_eq!(summary["tool_calls"], 2);
    assert_eq!(summary["reconnects"], 1);
    assert!(
        summary["full_context_replays"].as_u64().unwrap() >= 1,
        "{summary}"
    );
    // Every event line carries the lane.
    for line in output
        .stdout
        .lines()
        .filter(|l| l.contains("\"type\":\"response."))
    {
        assert!(line.contains(r#""stream_id":"agent-1""#), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_against_the_standalone_mock_command() {
    let dir = std::env::temp_dir().join(format!("responses-ws-cli-run-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script_path = dir.join("script.json");
    std::fs::write(&script_path, weather_script().to_json()).unwrap();
    let script_arg = script_path.to_string_lossy().into_owned();
    let mut mock = binary(&["mock", "--port", "0", "--script", &script_arg])
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(mock.stdout.take().unwrap()).lines();
    let url = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(url) = line.trim().strip_prefix("WebSocket: ") {
                return url.to_owned();
            }
        }
        panic!("the mock printed no URL");
    })
    .await
    .unwrap();
    assert!(
        url.starts_with("ws://127.0.0.1:") && url.ends_with("/v1/responses"),
        "{url}"
    );
    let output = run(
        &["run", "--url", &url, "--json", "Hi"],
        Duration::from_secs(60),
    )
    .await;
    mock.kill().await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert_eq!(output.stdout.lines().last(), Some(SUMMARY));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_prints_text_without_json() {
    let server = MockServer::start(weather_script()).await.unwrap();
    let url = server.url();
    let output = run(&["run", "--url", &url, "Weather?"], Duration::from_secs(60)).await;
    server.shutdown().await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    let out = &output.stdout;
    assert!(
        out.contains(
            r#"  ▸ get_weather {"city":"Paris"} → {"city":"Paris","temp_c":15,"sky":"clear"}"#
        ),
        "{out}"
    );
    assert!(out.contains(r#"  ▸ add {"a":2,"b":40} → 42"#), "{out}");
    assert!(
        out.contains("Paris is 15 °C and clear; 2 + 40 = 42."),
        "{out}"
    );
    assert!(out.contains("2 turns, 2 tool calls, 0 reconnects"), "{out}");
}
