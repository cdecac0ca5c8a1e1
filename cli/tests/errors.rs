//! Mistakes and failures a user can cause give one `error: …` line on stderr and exit status
//! 1 or 2, never a panic.

mod common;

use std::time::Duration;

use common::{one_error_line, run};
use responses_ws_core::mock::{Refusal, Script, UpgradeFault};
use responses_ws_tokio::mock::MockServer;

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test]
async fn a_bad_url_is_a_usage_error() {
    let output = run(
        &["run", "--url", "http://127.0.0.1:9/v1/responses", "hi"],
        DEADLINE,
    )
    .await;
    assert_eq!(output.code, Some(2));
    assert_eq!(
        one_error_line(&output),
        r#"error: bad URL "http://127.0.0.1:9/v1/responses": unsupported scheme "http" (expected ws or wss)"#
    );
    let output = run(&["run", "--url", "not a url", "hi"], DEADLINE).await;
    assert_eq!(output.code, Some(2));
    assert!(one_error_line(&output).starts_with(r#"error: bad URL "not a url": "#));
}

#[tokio::test]
async fn an_unreachable_port_is_one_line() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = format!("ws://127.0.0.1:{port}/v1/responses");
    let output = run(
        &["run", "--url", &url, "--max-retries", "1", "hi"],
        DEADLINE,
    )
    .await;
    assert_eq!(output.code, Some(1));
    let line = one_error_line(&output);
    assert!(
        line.starts_with(&format!(
            "error: gave up after 2 attempt(s): cannot connect to 127.0.0.1:{port}: "
        )),
        "{line}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_upgrade_shows_status_and_message() {
    let script = Script::new().with_upgrade_refusal(UpgradeFault::new(Refusal::Unauthorized));
    let server = MockServer::start(script).await.unwrap();
    let output = run(
        &["run", "--url", &server.url(), "--api-key", "sk-wrong", "hi"],
        DEADLINE,
    )
    .await;
    server.shutdown().await;
    assert_eq!(output.code, Some(1));
    assert_eq!(
        one_error_line(&output),
        "error: the server refused the upgrade: 401 Unauthorized: Incorrect API key provided."
    );
    assert!(!output.stderr.contains("sk-wrong"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_required_moves_to_http_and_rate_limits_say_what_to_do() {
    // A 426 is no error: the run goes on over HTTP + SSE.
    let script = Script::new()
        .text("Over HTTP.", 2)
        .with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired));
    let server = MockServer::start(script).await.unwrap();
    let output = run(&["run", "--url", &server.url(), "hi"], DEADLINE).await;
    server.shutdown().await;
    assert_eq!(output.code, Some(0), "{}", output.stderr);
    assert!(output.stdout.contains("Over HTTP."), "{}", output.stdout);

    let script = Script::new().with_upgrade_refusal(UpgradeFault::new(Refusal::RateLimited {
        retry_after_secs: 7,
    }));
    let server = MockServer::start(script).await.unwrap();
    let output = run(
        &["run", "--url", &server.url(), "--max-retries", "0", "hi"],
        DEADLINE,
    )
    .await;
    server.shutdown().await;
    assert_eq!(output.code, Some(1));
    let line = one_error_line(&output);
    assert!(
        line.starts_with("error: the server refused the upgrade: 429 ")
            && line.ends_with("(retry after 7 s)"),
        "{line}"
    );
}

#[tokio::test]
async fn bad_inputs_are_usage_errors() {
    let output = run(
        &[
            "mock",
            "--port",
            "0",
            "--script",
            "/nonexistent/script.json",
        ],
        DEADLINE,
    )
    .await;
    assert_eq!(output.code, Some(2));
    assert!(one_error_line(&output).starts_with("error: /nonexistent/script.json: "));

    let output = run(
        &[
            "run",
            "--url",
            "ws://127.0.0.1:9/v1/responses",
            "--lane",
            "bad lane!",
            "hi",
        ],
        DEADLINE,
    )
    .await;
    assert_eq!(output.code, Some(2));
    assert!(one_error_line(&output).starts_with(r#"error: --lane "bad lane!": "#));

    // clap's own errors keep clap's format and exit status 2.
    let output = run(&["bench", "--reps", "0"], DEADLINE).await;
    assert_eq!(output.code, Some(2));
    assert!(!output.stderr.contains("panicked"));
    let output = run(&["bench", "--stored-lookup-ms=-5"], DEADLINE).await;
    assert_eq!(output.code, Some(2));
    assert!(
        output.stderr.contains("--stored-lookup-ms"),
        "{}",
        output.stderr
    );
    assert!(!output.stderr.contains("panicked"));
}
