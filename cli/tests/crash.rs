//! The crash test of durable runs (issue 13): `responses-ws run --store` drives a 20-call
//! rollout against the mock and is killed with SIGKILL at chosen points (right after a tool
//! ran, right after a tool output was stored, right after a request reached the server, or
//! after a random delay: mid-stream, mid-send), at least 30 times per backend; a second
//! process resumes each run with `--resume`. Checked from the mock's record of the requests,
//! the tools' own log and the store:
//!
//! - every rollout reaches its final answer;
//! - every request carries each tool output at most once, and every call it carries has its
//!   output (so each response saw each output exactly once); the finished conversation holds
//!   20 calls with one output each;
//! - a tool runs twice only when its output was not durable when the first process died
//!   (checked against the store read between the kill and the resume); those cases are
//!   counted and printed.
//!
//! A backend is one [`Backend`] value and one `#[tokio::test]`: the SQLite file and Redis (a
//! `redis-server` of the test's own with `appendfsync always`, as `store/tests` start it).
//! The file store runs once more with `--transport http`: durable runs over HTTP + SSE keep
//! the same promises (full-context requests: each carries every output once).

mod common;
#[path = "../../store/tests/support/redis.rs"]
mod redis_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::binary;
use common::crash::{
    calls_and_outputs, check_requests, script, tool_runs, Backend, KillPoint, Random, Reach, FINAL,
};
use redis_support::RedisServer;
use responses_ws_core::persist::replay;
use responses_ws_tokio::mock::MockServer;
use serde_json::Value;

const RUNS: u32 = 36;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_to_the_final_answer_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::file(&dir.path().join("crash.sqlite"));
    crash_and_resume(backend, dir.path(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_over_http_resume_to_the_final_answer_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::file(&dir.path().join("crash.sqlite"));
    crash_and_resume(backend, dir.path(), &["--transport", "http"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_to_the_final_answer_on_redis() {
    let Some(server) = RedisServer::start_durable() else {
        return; // RESPONSES_WS_SKIP_REDIS=1 without redis-server: the helper says so
    };
    let dir = tempfile::tempdir().unwrap();
    crash_and_resume(Backend::redis(server.url()), dir.path(), &[]).await;
}

/// Where the kill points fall in a run.
const REACH: Reach = Reach {
    outputs: 20,
    requests: 13,
    delay_ms: (5, 100),
};

/// What the runs showed, for the report.
#[derive(Debug, Default)]
struct Tally {
    killed: BTreeMap<&'static str, u32>,
    finished_before_kill: u32,
    durable_at_kill: usize,
    reruns: usize,
    requests: usize,
}

/// `extra`: more arguments for both processes' `responses-ws run` (the transport).
async fn crash_and_resume(backend: Backend, dir: &Path, extra: &[&str]) {
    let server = MockServer::start(script()).await.unwrap();
    server.record_requests();
    let url = server.url();
    let (mut random, seed) = Random::from_clock();
    let mut tally = Tally::default();
    let started = Instant::now();
    for i in 0..RUNS {
        let conversation = format!("crash-{i}");
        let log = dir.join(format!("tools-{i}.jsonl"));
        let point = KillPoint::nth(i, &mut random, REACH);
        let before = server.requests().len();
        let args = |resume: bool| {
            let mut args = vec![
                "run".to_string(),
                "--url".into(),
                url.clone(),
                "--json".into(),
                "--store".into(),
                backend.spec.clone(),
                "--tool-log".into(),
                log.display().to_string(),
            ];
            args.extend(match resume {
                true => ["--resume".to_string(), conversation.clone()],
                false => ["--conversation".to_string(), conversation.clone()],
            });
            args.extend(extra.iter().map(|arg| arg.to_string()));
            args.push("Triage the repository.".into());
            args
        };
        let first: Vec<String> = args(false);
        let mut child = binary(&first.iter().map(String::as_str).collect::<Vec<_>>())
            .spawn()
            .unwrap();
        let ids = [conversation.clone()];
        let killed = (point.kill(&mut child, &backend, &ids, &log, (&server, before))).await;
        let status = child.wait().await.unwrap();
        match killed {
            true => *tally.killed.entry(point.kind()).or_default() += 1,
            false => {
                assert!(
                    status.success(),
                    "run {i}: the first process failed: {status}"
                );
                tally.finished_before_kill += 1;
            }
        }

        // What the store holds between the two processes.
        let records = backend.store.read(&conversation).unwrap();
        let durable = match records.is_empty() {
            true => BTreeSet::new(),
            false => durable_outputs(&replay(&records).unwrap()),
        };
        tally.durable_at_kill += durable.len();

        let second: Vec<String> = args(true);
        let resumed = match records.is_empty() {
            // Killed before the conversation was opened: it is started again from scratch.
            true => second_run(&first, &url).await,
            false => second_run(&second, &url).await,
        };
        let summary: Value = serde_json::from_str(resumed.lines().last().unwrap()).unwrap();
        assert_eq!(
            summary["summary"]["final_text"], FINAL,
            "run {i} ({point:?})"
        );

        // The tools' own log: a call ran again only if its output was not durable.
        let runs: BTreeMap<String, usize> = (tool_runs(&log).into_iter())
            .map(|((_, call_id), count)| (call_id, count))
            .collect();
        for (call_id, count) in &runs {
            if *count > 1 {
                assert!(
                    !durable.contains(call_id),
                    "run {i} ({point:?}): {call_id} ran again"
                );
                assert_eq!(*count, 2, "run {i}: {call_id} ran {count} times");
                tally.reruns += 1;
            }
        }
        // The finished conversation: 20 calls, one output each.
        let calls = backend.check_finished(&conversation, i);
        // A tool runs only for calls of stored responses: every call that ran is in the
        // conversation, each of its calls ran, and a durable output's tool ran once.
        assert!(runs.keys().all(|id| calls.contains(id)), "run {i}");
        assert!(calls.iter().all(|id| runs.contains_key(id)), "run {i}");
        assert!(durable.iter().all(|id| runs.get(id) == Some(&1)), "run {i}");

        // Every request of both processes: each output once, and an output for every call.
        let requests = server.requests();
        check_requests(&requests[before..], i);
        tally.requests += requests.len() - before;
    }
    server.shutdown().await;
    println!(
        "crash test, {} store {extra:?}, seed {seed}: {RUNS} runs in {:.1?}; killed {:?}; {} finished before \
         the kill; {} outputs were durable at the kills (never run again); {} tool runs were \
         repeated (their output was not durable yet); {} requests reached the server",
        backend.name,
        started.elapsed(),
        tally.killed,
        tally.finished_before_kill,
        tally.durable_at_kill,
        tally.reruns,
        tally.requests,
    );
    let killed: u32 = tally.killed.values().sum();
    assert!(killed >= 30, "only {killed} of {RUNS} runs were killed");
}

/// Runs the binary with `args` to its end and returns its stdout.
async fn second_run(args: &[String], url: &str) -> String {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let output = tokio::time::timeout(
        Duration::from_secs(30),
        binary(&args).spawn().unwrap().wait_with_output(),
    )
    .await
    .unwrap_or_else(|_| panic!("the resumed run against {url} did not finish"))
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{}", stderr);
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The calls whose outputs are in the records: acknowledged, or accepted and awaited.
fn durable_outputs(replayed: &responses_ws_core::persist::Replayed) -> BTreeSet<String> {
    let (_, mut outputs) = calls_and_outputs(replayed.ledger.items());
    outputs.extend(
        replayed
            .durable_outputs()
            .map(|(call, _)| call.call_id.clone()),
    );
    outputs
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_needs_a_stored_conversation_and_a_finished_one_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("s.sqlite").display().to_string();
    let server = MockServer::start(script()).await.unwrap();
    let url = server.url();
    let unknown = common::run(
        &["run", "--url", &url, "--store", &store, "--resume", "nope"],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(unknown.code, Some(2));
    assert!(common::one_error_line(&unknown).contains(r#"no conversation "nope""#));

    let args = [
        "run",
        "--url",
        &url,
        "--json",
        "--store",
        &store,
        "--conversation",
        "c1",
        "Go.",
    ];
    let first = common::run(&args, Duration::from_secs(30)).await;
    assert_eq!(first.code, Some(0), "{}", first.stderr);
    let frames = server.traffic().frames_received;
    let resume = [
        "run", "--url", &url, "--json", "--store", &store, "--resume", "c1",
    ];
    let again = common::run(&resume, Duration::from_secs(30)).await;
    assert_eq!(again.code, Some(0), "{}", again.stderr);
    let summary: Value = serde_json::from_str(again.stdout.trim()).unwrap();
    assert_eq!(summary["summary"]["final_text"], FINAL);
    assert_eq!(summary["summary"]["tool_runs"], 0);
    assert_eq!(
        server.traffic().frames_received,
        frames,
        "nothing was sent again"
    );

    let redis = common::run(
        &[
            "run",
            "--url",
            &url,
            "--store",
            "redis://127.0.0.1:1",
            "Go.",
        ],
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(redis.code, Some(2));
    server.shutdown().await;
}
