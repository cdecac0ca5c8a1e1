//! `responses-ws demo` against the embedded mock: the live stream and the summary.

mod common;

use std::time::Duration;

use common::{one_error_line, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_against_the_embedded_mock_makes_twenty_tool_calls_and_answers() {
    let output = run(&["demo", "--pace-ms", "0"], Duration::from_secs(60)).await;
    assert_eq!(output.code, Some(0), "{}\n{}", output.stdout, output.stderr);
    let out = &output.stdout;
    assert!(
        out.contains("embedded mock server at ws://127.0.0.1:"),
        "{out}"
    );
    // One line per tool call: name, streamed arguments, the local tool's result.
    let calls: Vec<&str> = out.lines().filter(|l| l.starts_with("  ▸ ")).collect();
    assert_eq!(calls.len(), 20, "{out}");
    assert!(calls
        .iter()
        .all(|line| line.contains(" {\"") && line.contains(" → {")));
    assert!(out.contains("Here is your Lisbon plan"), "{out}");
    // Commentary messages stream before the calls of their response.
    assert!(
        out.contains("\n  Let me check the flights both ways and the weather for your dates.\n  ▸ search_flights "),
        "{out}"
    );
    assert!(out.contains("\n  turns                10\n"), "{out}");
    assert!(
        out.contains("\n  tool calls           20 (6 responses with parallel calls)\n"),
        "{out}"
    );
    assert!(out.contains("\n  time to first token  min "), "{out}");
    assert!(out.contains("\n  final answer         yes ("), "{out}");
    assert!(output.stderr.is_empty(), "{}", output.stderr);
}

#[tokio::test]
async fn demo_is_the_default_command() {
    let output = run(&["--help"], Duration::from_secs(30)).await;
    assert_eq!(output.code, Some(0));
    for command in ["demo", "bench", "mock", "run"] {
        assert!(output.stdout.contains(command), "{}", output.stdout);
    }
}

#[tokio::test]
async fn live_demo_without_a_key_fails_with_one_line() {
    let output = run(&["demo", "--live"], Duration::from_secs(30)).await;
    assert_eq!(output.code, Some(2));
    assert_eq!(
        one_error_line(&output),
        "error: --live needs an API key: set OPENAI_API_KEY (the mock demo needs none)"
    );
    assert!(output.stdout.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_subcommand_runs_the_demo_at_its_default_pace() {
    let output = run(&[], Duration::from_secs(60)).await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert!(
        output
            .stdout
            .contains("\n  tool calls           20 (6 responses with parallel calls)\n"),
        "{}",
        output.stdout
    );
    assert!(output.stdout.contains("\n  final answer         yes ("));
}
