//! What durability costs per turn: the 20-call rollout (13 responses) run by the blocking
//! driver against the mock on loopback, with no store, the memory store, the file store
//! (SQLite, one fsync per append) and Redis (a `redis-server` of the bench's own on loopback,
//! `appendfsync always`: one fsync per write). Prints the median time per turn of each over
//! `RUNS` rollouts.
//!
//! `cargo bench -p responses-ws-tests --bench durability`

#[path = "../../store/tests/support/redis.rs"]
mod redis_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use responses_ws_blocking::{Config, Connection, FileStore, MemoryStore, ResponseCreate};
use responses_ws_core::mock::{Script, ScriptedCall};
use responses_ws_store::RedisStore;
use responses_ws_tokio::mock::MockServer;

const RUNS: usize = 30;
const GROUPS: [u32; 12] = [1, 2, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2];
const TURNS: u32 = 13;

fn script() -> Script {
    let mut script = Script::new();
    for size in GROUPS {
        let calls: Vec<ScriptedCall> = (0..size)
            .map(|n| ScriptedCall::new("add", format!(r#"{{"a":{n},"b":1}}"#)))
            .collect();
        script = script.tool_calls(calls);
    }
    script.text("Done.", 4)
}

/// One rollout's time per turn.
fn rollout(
    url: &str,
    store: Option<Arc<dyn responses_ws_blocking::Store + Send + Sync>>,
    id: usize,
) -> Duration {
    let mut config = Config::new(url).unwrap();
    if let Some(store) = &store {
        config = config.store(store.clone(), "bench");
    }
    let mut conn = Connection::connect(config).unwrap();
    let request = ResponseCreate::new("m").input("Add them all.");
    let start = Instant::now();
    let response = match store {
        Some(_) => conn.run_durable(&format!("bench-{id}"), request, |c| c.call_id.clone()),
        None => conn.run_tool_loop(request, |c| c.call_id.clone()),
    }
    .unwrap();
    let elapsed = start.elapsed();
    assert_eq!(response.all_output_text(), "Done.");
    conn.close().unwrap();
    elapsed / TURNS
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn main() {
    let server = MockServer::start_in_thread(script()).unwrap();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let file: Arc<dyn responses_ws_blocking::Store + Send + Sync> =
        Arc::new(FileStore::open(dir.path().join("bench.sqlite")).unwrap());
    let memory: Arc<dyn responses_ws_blocking::Store + Send + Sync> =
        Arc::new(MemoryStore::default());
    let redis_server = redis_support::RedisServer::start_durable().expect("redis-server");
    let redis: Arc<dyn responses_ws_blocking::Store + Send + Sync> =
        Arc::new(RedisStore::open(&redis_server.url()).unwrap());
    // Each store twice, interleaved, so that a change of load shows as a difference between
    // the two passes of one store rather than as a cost.
    let stores = [
        ("none", None),
        ("memory", Some(memory)),
        ("file", Some(file)),
        ("redis", Some(redis)),
    ];
    let mut results: Vec<(&str, Vec<Duration>)> = Vec::new();
    for pass in 0..2 {
        for (name, store) in &stores {
            // One warm-up rollout, then the measured ones (each its own conversation).
            let id = |i: usize| pass * (RUNS + 1) + i;
            rollout(&url, store.clone(), id(RUNS));
            let times = (0..RUNS)
                .map(|i| rollout(&url, store.clone(), id(i)))
                .collect();
            match results.iter_mut().find(|(n, _)| n == name) {
                Some((_, medians)) => medians.push(median(times)),
                None => results.push((name, vec![median(times)])),
            }
        }
    }
    println!(
        "time per turn (20-call rollout, {TURNS} turns; median of {RUNS} rollouts, two passes):"
    );
    for (name, medians) in results {
        println!("  {name:<6} {:>10.1?} {:>10.1?}", medians[0], medians[1]);
    }
    server.shutdown();
}
