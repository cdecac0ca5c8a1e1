//! What durability costs per turn: the 20-call rollout (13 responses) run by the blocking
//! driver against the mock on loopback, with no store, the memory store, the file store
//! (SQLite, one fsync per append) and Redis (a `redis-server` of the bench's own on loopback,
//! `appendfsync always`: one fsync per write). Prints the median time per turn of each over
//! `RUNS` rollouts.
//!
//! Then the same under the blocking pool: `AGENTS` rollouts at once on one pool of two
//! connections (`Pool::run_durable`), whose driver stores the records of every conversation
//! an input touched in one store call (`Store::append_many`): the time per turn (wall time
//! over every turn of every agent) and how many records each store call carried.
//!
//! `cargo bench -p responses-ws-tests --bench durability`

#[path = "../../store/tests/support/redis.rs"]
mod redis_support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use responses_ws_blocking::pool::Pool;
use responses_ws_blocking::{Config, Connection, FileStore, MemoryStore, ResponseCreate, Store};
use responses_ws_core::mock::{Script, ScriptedCall};
use responses_ws_store::testing::Instrumented;
use responses_ws_store::RedisStore;
use responses_ws_tokio::mock::MockServer;

const RUNS: usize = 30;
const GROUPS: [u32; 12] = [1, 2, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2];
const TURNS: u32 = 13;
/// Rollouts at once on the pool, and pool runs per store.
const AGENTS: usize = 16;
const POOL_RUNS: usize = 5;

type Shared = Arc<dyn Store + Send + Sync>;

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
fn rollout(url: &str, store: Option<Shared>, id: usize) -> Duration {
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
    let file: Shared = Arc::new(FileStore::open(dir.path().join("bench.sqlite")).unwrap());
    let memory: Shared = Arc::new(MemoryStore::default());
    let redis_server = redis_support::RedisServer::start_durable().expect("redis-server");
    let redis: Shared = Arc::new(RedisStore::open(&redis_server.url()).unwrap());
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
    pool_section(&url, &stores);
    server.shutdown();
}

/// `AGENTS` rollouts at once on one pool: the time per turn.
fn pool_rollouts(url: &str, store: Option<Shared>, tag: usize) -> Duration {
    let mut config = Config::new(url).unwrap();
    if let Some(store) = &store {
        config = config.store(store.clone(), "bench-pool");
    }
    let pool = Pool::builder(config).max_connections(2).build().unwrap();
    let start = Instant::now();
    let agents: Vec<_> = (0..AGENTS)
        .map(|agent| {
            let (pool, durable) = (pool.clone(), store.is_some());
            std::thread::spawn(move || {
                let request = ResponseCreate::new("m").input("Add them all.");
                let id = format!("pool-{tag}-{agent}");
                let response = match durable {
                    true => pool.run_durable(&id, request, |c| c.call_id.clone()),
                    false => {
                        (pool.conversation().unwrap()).run_tool_loop(request, |c| c.call_id.clone())
                    }
                };
                assert_eq!(response.unwrap().all_output_text(), "Done.");
            })
        })
        .collect();
    agents.into_iter().for_each(|agent| agent.join().unwrap());
    let elapsed = start.elapsed();
    pool.close();
    elapsed / (AGENTS as u32 * TURNS)
}

fn pool_section(url: &str, stores: &[(&str, Option<Shared>)]) {
    println!(
        "under the pool ({AGENTS} rollouts at once on 2 connections; time per turn, median of \
         {POOL_RUNS} runs, two passes; records per store call):"
    );
    let counted: Vec<(&str, Option<Arc<Instrumented>>)> = (stores.iter())
        .map(|(name, store)| (*name, store.clone().map(Instrumented::new).map(Arc::new)))
        .collect();
    let mut results: Vec<(&str, Vec<Duration>)> = Vec::new();
    for pass in 0..2 {
        for (name, store) in &counted {
            let store = store.clone().map(|s| s as Shared);
            let tag = |i: usize| 1_000 + pass * (POOL_RUNS + 1) + i;
            pool_rollouts(url, store.clone(), tag(POOL_RUNS));
            let times = (0..POOL_RUNS)
                .map(|i| pool_rollouts(url, store.clone(), tag(i)))
                .collect();
            match results.iter_mut().find(|(n, _)| n == name) {
                Some((_, medians)) => medians.push(median(times)),
                None => results.push((name, vec![median(times)])),
            }
        }
    }
    for ((name, medians), (_, counting)) in results.into_iter().zip(&counted) {
        let batching = counting.as_ref().map_or(String::new(), |c| {
            let calls = c.appends().max(1);
            format!(
                "  {:.1} records per store call ({calls} calls)",
                c.records() as f64 / calls as f64
            )
        });
        println!(
            "  {name:<6} {:>10.1?} {:>10.1?}{batching}",
            medians[0], medians[1]
        );
    }
}
