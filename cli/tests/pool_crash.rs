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
const RUNS: u32 = 12;
const AGENTS: u32 = 3;
/// Calls per tool-calling response: 20 in 12 responses, then the final answer.
const GROUPS: [u32; 12] = [1, 2, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2];

/// Where a run's conversations are stored: the `--store` argument and the same store.
struct Backend {
    name: &'static str,
    spec: String,
    store: SharedStore,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pools_resume_every_conversation_on_the_file_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pool-crash.sqlite");
    let backend = Backend {
        name: "file",
        spec: path.display().to_string(),
        store: Arc::new(FileStore::open(&path).unwrap()),
    };
    crash_and_resume(backend, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_pools_resume_every_conversation_on_redis() {
    let Some(server) = RedisServer::start_durable() else {
        return; // RESPONSES_WS_SKIP_REDIS=1 without redis-server: the helper says so
    };
    let dir = tempfile::tempdir().unwrap();
    let spec = server.url();
    let backend = Backend {
        name: "redis",
        store: responses_ws_store::open(&spec).unwrap(),
        spec,
    };
    crash_and_resume(backend, dir.path()).await;
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
    /// After the `n`-th tool run of any conversation.
    AfterToolRuns(usize),
    /// After `n` tool outputs are in the store, in all.
    AfterOutputsStored(usize),
    /// After the server got `n` requests.
    AfterRequests(usize),
    /// After a random delay.
    After(Duration),
}

impl KillPoint {
    fn nth(i: u32, random: &mut Random) -> KillPoint {
        let mut spread = |max: u64| usize::try_from(1 + random.below(max)).unwrap();
        match i % 4 {
            0 => KillPoint::AfterToolRuns(spread(50)),
            1 => KillPoint::AfterOutputsStored(spread(50)),
            2 => KillPoint::AfterRequests(spread(30)),
            _ => KillPoint::After(Duration::from_millis(20 + random.below(200))),
        }
    }
}

async fn crash_and_resume(backend: Backend, dir: &Path) {
    let server = MockServer::start(script()).await.unwrap();
    server.record_requests();
    let url = server.url();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut random = Random(seed | 1);
    let started = Instant::now();
    let (mut killed, mut durable_at_kill, mut reruns) = (0, 0, 0);
    for i in 0..RUNS {
        let group = format!("pool-{i}");
        let ids: Vec<String> = (0..AGENTS).map(|a| format!("{group}-{a}")).collect();
        let log = dir.join(format!("tools-{i}.jsonl"));
        let point = KillPoint::nth(i, &mut random);
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
        killed +=
            u32::from(kill_at(&mut child, point, &backend, &ids, &log, &server, before).await);
        child.wait().await.unwrap();

        // What the store holds between the two processes.
        let durable: BTreeMap<&str, BTreeSet<String>> = ids
            .iter()
            .map(|id| (id.as_str(), stored_outputs(&backend, id)))
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
            let finished = replay(&backend.store.read(id).unwrap()).unwrap();
            assert!(finished.is_finished(), "run {i}: {id}");
            let (calls, outputs) = calls_and_outputs(finished.ledger.items());
            assert_eq!(calls.len(), 20, "run {i}: {id}");
            assert_eq!(outputs, calls, "run {i}: {id}: one output per call");
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
        for (n, text) in server.requests()[before..].iter().enumerate() {
            let frame: Value = serde_json::from_str(text).unwrap();
            let items: Vec<Item> = serde_json::from_value(frame["input"].clone()).unwrap();
            let (calls, outputs) = calls_and_outputs(&items);
            let carried = items
                .iter()
                .filter(|item| matches!(item, Item::FunctionCallOutput(_)))
                .count();
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

/// Waits for `point`, then kills the child with SIGKILL; `false` if it ended first.
async fn kill_at(
    child: &mut tokio::process::Child,
    point: KillPoint,
    backend: &Backend,
    ids: &[String],
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
            KillPoint::AfterToolRuns(n) => tool_runs(log).values().sum::<usize>() >= n,
            KillPoint::AfterOutputsStored(n) => {
                ids.iter()
                    .map(|id| stored_outputs(backend, id).len())
                    .sum::<usize>()
                    >= n
            }
            KillPoint::AfterRequests(n) => server.requests().len() - before >= n,
            KillPoint::After(delay) => start.elapsed() >= delay,
        };
        if due {
            child.start_kill().unwrap();
            return true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "neither {point:?} nor the end"
        );
        tokio::time::sleep(Duration::from_micros(500)).await;
    }
}

/// The calls of `id` whose output the store holds.
fn stored_outputs(backend: &Backend, id: &str) -> BTreeSet<String> {
    (backend.store.read(id).unwrap_or_default().into_iter())
        .filter_map(|record| match record.entry {
            Entry::ToolOutputAccepted { call_id, .. } => Some(call_id),
            _ => None,
        })
        .collect()
}

/// How often each call ran, by conversation and call, from the tools' log.
fn tool_runs(log: &Path) -> BTreeMap<(String, String), usize> {
    let mut runs = BTreeMap::new();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    // A line cut by the kill is not a run that returned.
    for line in text.lines().filter(|line| line.ends_with('}')) {
        let run: Value = serde_json::from_str(line).unwrap();
        let key = (
            run["conversation"].as_str().unwrap().into(),
            run["call_id"].as_str().unwrap().into(),
        );
        *runs.entry(key).or_default() += 1;
    }
    runs
}

/// The `call_id`s of the function calls and of the outputs among `items`.
fn calls_and_outputs(items: &[Item]) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut calls = BTreeSet::new();
    let mut outputs = BTreeSet::new();
    for item in items {
        match item {
            Item::FunctionCall(call) => drop(calls.insert(call.call_id.clone())),
            Item::FunctionCallOutput(output) => drop(outputs.insert(output.call_id.clone())),
            _ => {}
        }
    }
    (calls, outputs)
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

/// Two worker processes on Redis contend for a conversation: the first is stopped
/// (SIGSTOP) mid-rollout past its lease, the second takes the conversation over and
/// finishes it; the first, continued (SIGCONT), is fenced — its turn fails with the typed
/// error and the store gets nothing more from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_worker_loses_its_conversation_and_cannot_write() {
    let Some(redis) = RedisServer::start_durable() else {
        return;
    };
    let store = responses_ws_store::open(&redis.url()).unwrap();
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
    while stored_len(&store) < 12 {
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
    let finished = stored_len(&store);

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
        stored_len(&store),
        finished,
        "the fenced worker wrote nothing"
    );
    let replayed = replay(&store.read("contend-0").unwrap()).unwrap();
    assert!(replayed.is_finished());
    let (calls, outputs) = calls_and_outputs(replayed.ledger.items());
    assert_eq!((calls.len(), outputs), (20, calls));
    server.shutdown().await;
}

/// How many records conversation `contend-0` has.
fn stored_len(store: &SharedStore) -> usize {
    store.read("contend-0").map(|r| r.len()).unwrap_or(0)
}
