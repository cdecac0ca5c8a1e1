//! What the crash tests (`crash.rs`: one conversation per process, `pool_crash.rs`: several
//! on a pool) share: the 20-call rollout the mock plays, the store a run writes to, the
//! points where the first process is killed, the tools' log, the checks on a finished
//! conversation and on every request the mock received, and the random kill points.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use responses_ws_core::mock::{Script, ScriptedCall};
use responses_ws_core::persist::{replay, Entry};
use responses_ws_core::wire::Item;
use responses_ws_tokio::mock::MockServer;
use responses_ws_tokio::{FileStore, SharedStore};
use serde_json::Value;

/// The rollout's final answer.
pub(crate) const FINAL: &str = "Triage done: twenty results checked.";
/// Calls per tool-calling response: 20 in 12 responses, then the final answer.
const GROUPS: [u32; 12] = [1, 2, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2];
/// Calls in the rollout.
pub(crate) const CALLS: usize = 20;

/// The 20-call rollout: `add` and `get_weather` calls, arguments streamed in pieces.
pub(crate) fn script() -> Script {
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

/// Where a run's conversations are stored: the `--store` argument, and the same store
/// opened by the test.
pub(crate) struct Backend {
    pub(crate) name: &'static str,
    pub(crate) spec: String,
    pub(crate) store: SharedStore,
}

impl Backend {
    /// The SQLite file at `path`.
    pub(crate) fn file(path: &Path) -> Backend {
        Backend {
            name: "file",
            spec: path.display().to_string(),
            store: Arc::new(FileStore::open(path).expect("the store file")),
        }
    }

    /// The Redis server at `url` (the test's own, `appendfsync always`).
    pub(crate) fn redis(url: String) -> Backend {
        Backend {
            name: "redis",
            store: responses_ws_store::open(&url).expect("the Redis store"),
            spec: url,
        }
    }

    /// The calls of conversation `id` whose output the store holds.
    pub(crate) fn stored_outputs(&self, id: &str) -> BTreeSet<String> {
        (self.store.read(id).unwrap_or_default().into_iter())
            .filter_map(|record| match record.entry {
                Entry::ToolOutputAccepted { call_id, .. } => Some(call_id),
                _ => None,
            })
            .collect()
    }

    /// Checks that conversation `id` finished with its 20 calls, one output each, and
    /// returns the calls.
    pub(crate) fn check_finished(&self, id: &str, run: u32) -> BTreeSet<String> {
        let finished = replay(&self.store.read(id).unwrap()).unwrap();
        assert!(finished.is_finished(), "run {run}: {id}");
        let (calls, outputs) = calls_and_outputs(finished.ledger.items());
        assert_eq!(calls.len(), CALLS, "run {run}: {id}");
        assert_eq!(outputs, calls, "run {run}: {id}: one output per call");
        calls
    }
}

/// Where the first process is killed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KillPoint {
    /// After the `n`-th tool run (its output handed back, maybe not stored yet).
    AfterToolRuns(usize),
    /// After `n` tool outputs are in the store.
    AfterOutputsStored(usize),
    /// After the server got `n` requests (between turns: awaiting the response).
    AfterRequests(usize),
    /// After a random delay: mid-stream, mid-send, anywhere.
    After(Duration),
}

/// How far into a run the kill points of [`KillPoint::nth`] are spread.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reach {
    /// Tool runs, and stored outputs.
    pub(crate) outputs: u64,
    /// Requests.
    pub(crate) requests: u64,
    /// The delays: at least the first, up to the first plus the second (milliseconds).
    pub(crate) delay_ms: (u64, u64),
}

impl KillPoint {
    /// The `i`-th run's point: the four kinds in turn, spread over `reach`.
    pub(crate) fn nth(i: u32, random: &mut Random, reach: Reach) -> KillPoint {
        match i % 4 {
            0 => KillPoint::AfterToolRuns(random.count(reach.outputs)),
            1 => KillPoint::AfterOutputsStored(random.count(reach.outputs)),
            2 => KillPoint::AfterRequests(random.count(reach.requests)),
            _ => {
                let (least, spread) = reach.delay_ms;
                KillPoint::After(Duration::from_millis(least + random.below(spread)))
            }
        }
    }

    /// Its kind, for a report.
    pub(crate) fn kind(self) -> &'static str {
        match self {
            KillPoint::AfterToolRuns(_) => "after a tool ran",
            KillPoint::AfterOutputsStored(_) => "after an output was stored",
            KillPoint::AfterRequests(_) => "after a request was sent",
            KillPoint::After(_) => "at a random moment",
        }
    }

    /// Waits for this point of a run of conversations `ids` (tool runs in `log`, outputs in
    /// `backend`, requests after the first `before` the mock got), then kills the child with
    /// SIGKILL: `true`; `false` if it ended first. Fails past 30 s.
    pub(crate) async fn kill(
        self,
        child: &mut tokio::process::Child,
        backend: &Backend,
        ids: &[String],
        log: &Path,
        (server, before): (&MockServer, usize),
    ) -> bool {
        let start = Instant::now();
        loop {
            if child.try_wait().unwrap().is_some() {
                return false;
            }
            let due = match self {
                KillPoint::AfterToolRuns(n) => tool_runs(log).values().sum::<usize>() >= n,
                KillPoint::AfterOutputsStored(n) => {
                    let stored = ids.iter().map(|id| backend.stored_outputs(id).len());
                    stored.sum::<usize>() >= n
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
                "the first process neither reached {self:?} nor ended"
            );
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
    }
}

/// How often each call ran, by conversation and call, from the tools' log.
pub(crate) fn tool_runs(log: &Path) -> BTreeMap<(String, String), usize> {
    let mut runs = BTreeMap::new();
    let text = std::fs::read_to_string(log).unwrap_or_default();
    for line in text.lines() {
        // A line cut by a kill is not a run that returned (the next process starts its
        // lines on a new one).
        let Ok(run) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        let key = (
            run["conversation"].as_str().unwrap().into(),
            run["call_id"].as_str().unwrap().into(),
        );
        *runs.entry(key).or_default() += 1;
    }
    runs
}

/// The `call_id`s of the function calls and of the outputs among `items`.
pub(crate) fn calls_and_outputs(items: &[Item]) -> (BTreeSet<String>, BTreeSet<String>) {
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

/// Checks every request the mock received (their JSON frames): each carries each tool
/// output at most once, and an output for every call it carries.
pub(crate) fn check_requests(requests: &[String], run: u32) {
    for (n, text) in requests.iter().enumerate() {
        let frame: Value = serde_json::from_str(text).unwrap();
        let items: Vec<Item> = serde_json::from_value(frame["input"].clone()).unwrap();
        let (calls, outputs) = calls_and_outputs(&items);
        let carried = (items.iter())
            .filter(|item| matches!(item, Item::FunctionCallOutput(_)))
            .count();
        assert_eq!(
            carried,
            outputs.len(),
            "run {run}, request {n}: an output twice"
        );
        assert!(
            calls.is_subset(&outputs),
            "run {run}, request {n}: a call without output"
        );
    }
}

/// A small xorshift generator: the kill points vary from run to run; the seed is printed.
pub(crate) struct Random(u64);

impl Random {
    /// Seeded from the clock; the seed, to print.
    pub(crate) fn from_clock() -> (Random, u64) {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        (Random(seed | 1), seed)
    }

    /// A number below `n`.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    /// A count from 1 to `max`.
    pub(crate) fn count(&mut self, max: u64) -> usize {
        usize::try_from(1 + self.below(max)).unwrap()
    }
}
