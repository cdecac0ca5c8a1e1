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
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::binary;
use redis_support::RedisServer;
use responses_ws_core::mock::{Script, ScriptedCall};
use responses_ws_core::persist::{replay, Entry};
use responses_ws_core::wire::Item;
use responses_ws_tokio::mock::MockServer;
use responses_ws_tokio::{FileStore, SharedStore};
use serde_json::Value;

const FINAL: &str = "Triage done: twenty results checked.";
const RUNS: u32 = 36;
/// Calls per tool-calling response: 20 in 12 responses, then the final answer.
const GROUPS: [u32; 12] = [1, 2, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2];

/// Where a run's conversations are stored.
struct Backend {
    name: &'static str,
    /// The `--store` argument.
    spec: String,
    /// The same store, opened by the test.
    store: SharedStore,
}

impl Backend {
    fn file(dir: &Path) -> Backend {
        let path = dir.join("crash.sqlite");
        let spec = path.display().to_string();
        Backend {
            name: "file",
            store: Arc::new(FileStore::open(&path).expect("the store file")),
            spec,
        }
    }

    /// A Redis server of the test's own that fsyncs every write (`appendfsync always`).
    fn redis(server: &RedisServer) -> Backend {
        let spec = server.url();
        Backend {
            name: "redis",
            store: responses_ws_store::open(&spec).expect("the Redis store"),
            spec,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_to_the_final_answer_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    crash_and_resume(Backend::file(dir.path()), dir.path(), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_over_http_resume_to_the_final_answer_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let http = ["--transport", "http"];
    crash_and_resume(Backend::file(dir.path()), dir.path(), &http).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_runs_resume_to_the_final_answer_on_redis() {
    let Some(server) = RedisServer::start_durable() else {
        return; // RESPONSES_WS_SKIP_REDIS=1 without redis-server: the helper says so
    };
    let dir = tempfile::tempdir().unwrap();
    crash_and_resume(Backend::redis(&server), dir.path(), &[]).await;
}

/// The 20-call rollout: `add` and `get_weather` calls, arguments streamed in pieces.
fn script() -> Script {
    let mut script = Script::new();
    let mut n = 0;
    for size in GROUPS {
        let calls: Vec<ScriptedCall> = (0..size)
            .map(|_| {
                n += 1;
                let call = match n % 2 {
                    0 => ScriptedCall::new("add", format!(r#"{{"a":{n},"b":{}}}"#, n * 10)),
                    _ => ScriptedCall::new("get_weather", format!(r#"{{"city":"City{n}"}}"#)),
                };
                call.with_deltas(4)
            })
            .collect();
        script = script.tool_calls(calls);
    }
    script
        .text(FINAL, 6)
        .with_delta_delay(Duration::from_micros(300))
}

/// Where the first process is killed.
#[derive(Debug, Clone, Copy)]
enum KillPoint {
    /// Right after the `n`-th tool run (its output handed back, maybe not stored yet).
    AfterToolRun(usize),
    /// Right after the `n`-th tool output is in the store.
    AfterOutputStored(usize),
    /// Right after the server got the `n`-th request (between turns: awaiting the response).
    AfterRequest(usize),
    /// After a random delay: mid-stream, mid-send, anywhere.
    After(Duration),
}

impl KillPoint {
    /// The `i`-th run's point: the four kinds in turn, spread over the rollout.
    fn nth(i: u32, random: &mut Random) -> KillPoint {
        let mut spread = |max: u64| usize::try_from(1 + random.below(max)).unwrap();
        match i % 4 {
            0 => KillPoint::AfterToolRun(spread(20)),
            1 => KillPoint::AfterOutputStored(spread(20)),
            2 => KillPoint::AfterRequest(spread(13)),
            _ => KillPoint::After(Duration::from_millis(5 + random.below(100))),
        }
    }

    fn kind(self) -> &'static str {
        match self {
            KillPoint::AfterToolRun(_) => "after a tool ran",
            KillPoint::AfterOutputStored(_) => "after an output was stored",
            KillPoint::AfterRequest(_) => "after a request was sent",
            KillPoint::After(_) => "at a random moment",
        }
    }
}

/// What the runs showed, for the report.
#[derive(Debug, Default)]
struct Tally {
    killed: BTreeMap<&'static str, u32>,
    finished_before_kill: u32,
    durable_at_kill: usize,
    reruns: usize,
    requests: usize,
}

/// The crash runs of `backend`, each process started with `extra` arguments too.
async fn crash_and_resume(backend: Backend, dir: &Path, extra: &[&str]) {
    let server = MockServer::start(script()).await.unwrap();
    server.record_requests();
    let url = server.url();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = Random(seed | 1);
    let mut tally = Tally::default();
    let started = Instant::now();
    for i in 0..RUNS {
        let conversation = format!("crash-{i}");
        let log = dir.join(format!("tools-{i}.jsonl"));
        let point = KillPoint::nth(i, &mut random);
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
            args.extend(extra.iter().map(|arg| arg.to_string()));
            args.extend(match resume {
                true => ["--resume".to_string(), conversation.clone()],
                false => ["--conversation".to_string(), conversation.clone()],
            });
            args.push("Triage the repository.".into());
            args
        };
        let first: Vec<String> = args(false);
        let mut child = binary(&first.iter().map(String::as_str).collect::<Vec<_>>())
            .spawn()
            .unwrap();
        let killed = kill_at(
            &mut child,
            point,
            &backend,
            &conversation,
            &log,
            &server,
            before,
        )
        .await;
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
        let runs = tool_runs(&log);
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
        let finished = replay(&backend.store.read(&conversation).unwrap()).unwrap();
        assert!(finished.is_finished(), "run {i}");
        let (calls, outputs) = calls_and_outputs(finished.ledger.items());
        assert_eq!(calls.len(), 20, "run {i}");
        assert_eq!(outputs, calls, "run {i}: one output per call");
        // A tool runs only for calls of stored responses: every call that ran is in the
        // conversation, each of its calls ran, and a durable output's tool ran once.
        assert!(runs.keys().all(|id| calls.contains(id)), "run {i}");
        assert!(calls.iter().all(|id| runs.contains_key(id)), "run {i}");
        assert!(durable.iter().all(|id| runs.get(id) == Some(&1)), "run {i}");

        // Every request of both processes: each output once, and an output for every call.
        let requests = server.requests();
        for (n, text) in requests[before..].iter().enumerate() {
            let frame: Value = serde_json::from_str(text).unwrap();
            let items: Vec<Item> = serde_json::from_value(frame["input"].clone()).unwrap();
            let (calls, outputs) = calls_and_outputs(&items);
            let carried = items.iter().filter(|item| is_output(item)).count();
            assert_eq!(
                carried,
                outputs.len(),
                "run {i}, request {n}: an output twice"
            );
            assert!(
                calls.is_subset(&outputs),
                "run {i}, request {n}: a call without output"
            );
        }
        tally.requests += requests.len() - before;
    }
    server.shutdown().await;
    println!(
        "crash test, {} store {extra:?}, seed {seed}: {RUNS} runs in {:.1?}; killed {:?}; {} \
         finished before the kill; {} outputs were durable at the kills (never run again); {} \
         tool runs were repeated (their output was not durable yet); {} requests reached the \
         server",
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

/// Waits for `point`, then kills the child with SIGKILL; `false` if it ended first.
async fn kill_at(
    child: &mut tokio::process::Child,
    point: KillPoint,
    backend: &Backend,
    conversation: &str,
    log: &Path,
    server: &MockServer,
    before: usize,
) -> bool {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        let due = match point {
            KillPoint::AfterToolRun(n) => tool_runs(log).values().sum::<usize>() >= n,
            KillPoint::AfterOutputStored(n) => {
                let records = backend.store.read(conversation).unwrap_or_default();
                let stored = records
                    .iter()
                    .filter(|record| matches!(record.entry, Entry::ToolOutputAccepted { .. }))
                    .count();
                stored >= n
            }
            KillPoint::AfterRequest(n) => server.requests().len() - before >= n,
            KillPoint::After(delay) => start.elapsed() >= delay,
        };
        if due {
            child.start_kill().unwrap();
            return true;
        }
        if start.elapsed() > Duration::from_secs(30) {
            panic!("the first process neither reached {point:?} nor ended");
        }
        tokio::time::sleep(Duration::from_micros(200)).await;
    }
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

/// How often each call ran, from the tools' log.
fn tool_runs(log: &Path) -> BTreeMap<String, usize> {
    let mut runs = BTreeMap::new();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    // A line cut by the kill is not a run that returned.
    for line in text.lines().filter(|line| line.ends_with('}')) {
        let run: Value = serde_json::from_str(line).unwrap();
        let call_id = run["call_id"].as_str().unwrap().to_string();
        *runs.entry(call_id).or_default() += 1;
    }
    runs
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

/// The `call_id`s of the function calls and of the outputs among `items`.
fn calls_and_outputs(items: &[Item]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut calls = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    for item in items {
        match item {
            Item::FunctionCall(call) => {
                calls.insert(call.call_id.clone());
            }
            Item::FunctionCallOutput(output) => {
                outputs.insert(output.call_id.clone());
            }
            _ => {}
        }
    }
    (calls, outputs)
}

fn is_output(item: &Item) -> bool {
    matches!(item, Item::FunctionCallOutput(_))
}

/// A small xorshift generator: the kill points vary from run to run; the seed is printed.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
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
