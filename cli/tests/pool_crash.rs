//! The crash test of durable conversations on the pool (issue 13): `responses-ws run --store
//! SPEC --agents 3` runs three 20-call rollouts at once on one pool of connections and is
//! killed with SIGKILL at chosen points (after a number of tool runs, of stored outputs, of
//! requests the server got, or after a random delay), on the SQLite file and on Redis; a
//! second process with the same command resumes every conversation. Checked from the mock's
//! record of the requests, the tools' own log and the store:
//!
//! - every conversation reaches its final answer, with 20 calls and one output each;
//! - every request carries each tool output at most once, and an output for every call it
//!   carries;
//! - a tool runs twice only when its output was not durable when the first process died
//!   (read from the store between the kill and the resume); those cases are counted and
//!   printed.

mod common;
#[path = "../../store/tests/support/redis.rs"]
mod redis_support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::{Duration, Instant};

use common::binary;
use common::crash::{check_requests, script, tool_runs, Backend, KillPoint, Random, Reach, FINAL};
use redis_support::RedisServer;
use responses_ws_tokio::mock::MockServer;
use responses_ws_tokio::SharedStore;
use serde_json::Value;

const RUNS: u32 = 12;
const AGENTS: u32 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pools_resume_every_conversation_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Backend::file(&dir.path().join("pool-crash.sqlite"));
    crash_and_resume(backend, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pools_resume_every_conversation_on_redis() {
    let Some(server) = RedisServer::start_durable() else {
        return; // RESPONSES_WS_SKIP_REDIS=1 without redis-server: the helper says so
    };
    let dir = tempfile::tempdir().unwrap();
    crash_and_resume(Backend::redis(server.url()), dir.path()).await;
}

/// Where the kill points fall in a run: well inside it (a pool's run of 3 conversations
/// takes ~100–300 ms, 60 outputs and 39 requests), so that a fast machine still kills.
const REACH: Reach = Reach {
    outputs: 40,
    requests: 26,
    delay_ms: (10, 80),
};

async fn crash_and_resume(backend: Backend, dir: &Path) {
    let server = MockServer::start(script()).await.unwrap();
    server.record_requests();
    let url = server.url();
    let (mut random, seed) = Random::from_clock();
    let started = Instant::now();
    let (mut killed, mut durable_at_kill, mut reruns) = (0, 0, 0);
    for i in 0..RUNS {
        let group = format!("pool-{i}");
        let ids: Vec<String> = (0..AGENTS).map(|a| format!("{group}-{a}")).collect();
        let log = dir.join(format!("tools-{i}.jsonl"));
        let point = KillPoint::nth(i, &mut random, REACH);
        let before = server.requests().len();
        let args: Vec<String> = [
            "run",
            "--url",
            &url,
            "--json",
            "--store",
            &backend.spec,
            "--tool-log",
            &log.display().to_string(),
            "--agents",
            &AGENTS.to_string(),
            "--resume",
            &group,
            "Triage the repository.",
        ]
        .map(String::from)
        .into();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut child = binary(&args).spawn().unwrap();
        killed += u32::from(
            point
                .kill(&mut child, &backend, &ids, &log, (&server, before))
                .await,
        );
        child.wait().await.unwrap();

        // What the store holds between the two processes.
        let durable: BTreeMap<&str, BTreeSet<String>> = ids
            .iter()
            .map(|id| (id.as_str(), backend.stored_outputs(id)))
            .collect();
        durable_at_kill += durable.values().map(BTreeSet::len).sum::<usize>();

        let output = tokio::time::timeout(
            Duration::from_secs(60),
            binary(&args).spawn().unwrap().wait_with_output(),
        )
        .await
        .expect("the resumed pool finishes")
        .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "run {i}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let answers: BTreeMap<String, String> = stdout
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|v| {
                Some((
                    v["conversation"].as_str()?.into(),
                    v["final_text"].as_str()?.into(),
                ))
            })
            .collect();
        for id in &ids {
            assert_eq!(
                answers.get(id).map(String::as_str),
                Some(FINAL),
                "run {i} ({point:?}): {id}"
            );
        }

        // The tools' own log: a call ran again only if its output was not durable.
        let runs = tool_runs(&log);
        for ((id, call), count) in &runs {
            if *count > 1 {
                assert!(
                    !durable[id.as_str()].contains(call),
                    "run {i} ({point:?}): {id} {call} ran again"
                );
                assert_eq!(*count, 2, "run {i}: {id} {call} ran {count} times");
                reruns += 1;
            }
        }
        for id in &ids {
            let calls = backend.check_finished(id, i);
            let ran: BTreeSet<&String> = runs
                .keys()
                .filter(|(c, _)| c == id)
                .map(|(_, call)| call)
                .collect();
            assert_eq!(
                ran,
                calls.iter().collect(),
                "run {i}: {id}: every call ran, no other"
            );
        }

        // Every request of both processes: each output once, an output for every call.
        check_requests(&server.requests()[before..], i);
    }
    server.shutdown().await;
    println!(
        "pool crash test, {} store, seed {seed}: {RUNS} runs of {AGENTS} conversations in {:.1?}; \
         {killed} killed; {durable_at_kill} outputs were durable at the kills (never run again); \
         {reruns} tool runs were repeated (their output was not durable yet)",
        backend.name,
        started.elapsed(),
    );
    assert!(
        killed >= RUNS - 1,
        "only {killed} of {RUNS} runs were killed"
    );
}

/// Two worker processes on Redis contend for a conversation: the first is stopped
/// (SIGSTOP) mid-rollout past its lease, the second takes the conversation over and
/// finishes it; the first, continued (SIGCONT), is fenced — its turn fails with the typed
/// error and the store gets nothing more from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_worker_loses_its_conversation_and_cannot_write() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    let backend = Backend::redis(redis.url());
    let store = &backend.store;
    let server = MockServer::start(script()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("tools.jsonl");
    let (url, spec, log) = (server.url(), redis.url(), log.display().to_string());
    let args = |worker: &str| -> Vec<String> {
        [
            "run",
            "--url",
            &url,
            "--json",
            "--store",
            &spec,
            "--tool-log",
            &log,
            "--agents",
            "1",
            "--resume",
            "contend",
            "--worker",
            worker,
            "--lease-ttl",
            "400",
            "Triage the repository.",
        ]
        .map(String::from)
        .into()
    };
    let first_args = args("worker-a");
    let first_args: Vec<&str> = first_args.iter().map(String::as_str).collect();
    let first = binary(&first_args).spawn().unwrap();
    let start = Instant::now();
    while stored_len(store) < 12 {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the first worker stalled early"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let pid = first.id().unwrap().to_string();
    let signal = |name: &str| {
        let status = std::process::Command::new("kill")
            .args(["-s", name, &pid])
            .status();
        assert!(status.unwrap().success(), "kill -s {name}");
    };
    signal("STOP");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let second_args = args("worker-b");
    let second_args: Vec<&str> = second_args.iter().map(String::as_str).collect();
    let second = tokio::time::timeout(
        Duration::from_secs(60),
        binary(&second_args).spawn().unwrap().wait_with_output(),
    )
    .await
    .unwrap()
    .unwrap();
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    assert!(String::from_utf8_lossy(&second.stdout).contains(FINAL));
    let finished = stored_len(store);

    signal("CONT");
    let first = tokio::time::timeout(Duration::from_secs(30), first.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    assert!(!first.status.success(), "the fenced worker failed");
    assert!(
        stderr.contains("another worker took the conversation over"),
        "{stderr}"
    );
    assert_eq!(
        stored_len(store),
        finished,
        "the fenced worker wrote nothing"
    );
    backend.check_finished("contend-0", 0);
    server.shutdown().await;
}

/// How many records conversation `contend-0` has.
fn stored_len(store: &SharedStore) -> usize {
    store.read("contend-0").map(|r| r.len()).unwrap_or(0)
}
