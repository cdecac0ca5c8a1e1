//! Durable conversations on the pool (issue 13), over real TCP against the mock server and a
//! real store (the SQLite file, and the in-memory store where only leases matter): several
//! journaled rollouts on one pool reach their final answers with every record stored; a pool
//! dropped mid-rollout is taken over by a second one that reruns only the calls whose
//! output was not durable; a pool whose lease was taken over gets a typed error and writes
//! nothing more; a store that fails ends the turn with a typed error before its request
//! leaves, and the next turn goes out with nothing lost.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::join_all;
use responses_ws_futures::pool::{Error, Pool, PoolError, Start, TurnError};
use responses_ws_futures::responses_ws_core::persist::{replay, Entry, Record};
use responses_ws_futures::responses_ws_store::testing::Instrumented;
use responses_ws_futures::{
    runtime, Config, FileStore, MemoryStore, ResponseCreate, SharedStore, Store, ToolCall,
};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};

const FINAL: &str = "All calls answered.";
/// Calls per tool-calling response: 6 in 4 responses, then the final answer.
const GROUPS: [usize; 4] = [1, 2, 1, 2];

fn script() -> Script {
    let mut script = Script::new();
    let mut n = 0;
    for size in GROUPS {
        let calls: Vec<ScriptedCall> = (0..size)
            .map(|_| {
                n += 1;
                ScriptedCall::new("add", format!(r#"{{"a":{n},"b":1}}"#)).with_deltas(2)
            })
            .collect();
        script = script.tool_calls(calls);
    }
    script.text(FINAL, 3)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

fn pool(url: &str, store: SharedStore, worker: &str, ttl: Duration) -> Pool {
    let config = Config::new(url)
        .unwrap()
        .runtime(runtime::Tokio)
        .store(store, worker)
        .lease_ttl(ttl);
    let (pool, driver) = Pool::builder(config).max_connections(2).build().unwrap();
    tokio::spawn(driver);
    pool
}

fn ask() -> ResponseCreate {
    ResponseCreate::new("gpt-test").input("Add them all.")
}

/// How often each call ran, by `call_id`.
#[derive(Clone, Default)]
struct Runs(Arc<Mutex<BTreeMap<String, usize>>>);

impl Runs {
    fn tool(&self) -> impl FnMut(ToolCall) -> std::future::Ready<String> + '_ {
        move |call: ToolCall| {
            *self
                .0
                .lock()
                .unwrap()
                .entry(call.call_id.clone())
                .or_default() += 1;
            std::future::ready(format!("sum for {}", call.call_id))
        }
    }

    fn get(&self) -> BTreeMap<String, usize> {
        self.0.lock().unwrap().clone()
    }
}

fn temp_store(name: &str) -> (Arc<FileStore>, std::path::PathBuf) {
    let path = std::env::temp_dir().join(format!(
        "responses-ws-pool-{name}-{}-{:?}.sqlite",
        std::process::id(),
        std::time::SystemTime::now()
    ));
    (Arc::new(FileStore::open(&path).unwrap()), path)
}

/// The tool outputs a conversation's records hold, by `call_id`.
fn stored_outputs(records: &[Record]) -> BTreeMap<String, usize> {
    let mut outputs = BTreeMap::new();
    for record in records {
        if let Entry::ToolOutputAccepted { call_id, .. } = &record.entry {
            *outputs.entry(call_id.clone()).or_default() += 1;
        }
    }
    outputs
}

#[test]
fn journaled_rollouts_on_one_pool_reach_their_answers_with_every_record_stored() {
    runtime().block_on(async {
        let server = MockServer::start(script()).await.unwrap();
        let (store, path) = temp_store("rollouts");
        let pool = pool(
            &server.url(),
            store.clone(),
            "worker-a",
            Duration::from_secs(30),
        );
        let runs = Runs::default();
        let ids: Vec<String> = (0..6).map(|i| format!("conv-{i}")).collect();
        let answers = join_all(ids.iter().map(|id| {
            let runs = runs.clone();
            let pool = pool.clone();
            async move { pool.run_durable(id, ask(), runs.tool()).await }
        }))
        .await;
        for answer in answers {
            assert_eq!(answer.unwrap().all_output_text(), FINAL);
        }
        // 6 calls per conversation, each run once.
        assert_eq!(runs.get().len(), 36);
        assert!(runs.get().values().all(|&n| n == 1));
        for id in &ids {
            let records = store.read(id).unwrap();
            let replayed = replay(&records).unwrap();
            assert!(replayed.is_finished(), "{id} is finished in the store");
            assert_eq!(stored_outputs(&records).len(), 6);
            assert!(stored_outputs(&records).values().all(|&n| n == 1));
        }
        // A finished conversation (its handle gone, its lease released) resumed sends
        // nothing and answers at once.
        let before = pool.stats().turns_completed_total;
        let again = pool
            .run_durable("conv-0", ask(), runs.tool())
            .await
            .unwrap();
        assert_eq!(again.all_output_text(), FINAL);
        assert_eq!(pool.stats().turns_completed_total, before);
        // An id the store has cannot be opened as a new conversation.
        let taken = pool.conversation_with_id("conv-1");
        assert!(matches!(taken, Err(Error::Pool(PoolError::AlreadyOpen(_)))));
        pool.close().await;
        let _ = std::fs::remove_file(path);
    });
}

#[test]
fn a_second_pool_takes_over_and_reruns_only_the_calls_not_durable() {
    runtime().block_on(async {
        let server = MockServer::start(script()).await.unwrap();
        server.record_requests();
        let (store, path) = temp_store("takeover");
        let ids: Vec<String> = (0..4).map(|i| format!("moving-{i}")).collect();
        let runs = Runs::default();
        // The first pool stops (its driver dropped with it) after 3 outputs in all.
        let stop = Arc::new(AtomicUsize::new(0));
        {
            let first = pool(&server.url(), store.clone(), "worker-a", Duration::from_millis(400));
            let started = ids.iter().map(|id| {
                let (first, runs, stop) = (first.clone(), runs.clone(), stop.clone());
                async move {
                    let mut tool = runs.tool();
                    let stop = &stop;
                    let run = first.run_durable(id, ask(), move |call: ToolCall| {
                        stop.fetch_add(1, Ordering::SeqCst);
                        tool(call)
                    });
                    tokio::select! {
                        _ = run => {}
                        _ = async { while stop.load(Ordering::SeqCst) < 3 { tokio::time::sleep(Duration::from_millis(1)).await } } => {}
                    }
                }
            });
            join_all(started).await;
        }
        let durable: BTreeMap<String, BTreeMap<String, usize>> = ids
            .iter()
            .map(|id| (id.clone(), stored_outputs(&store.read(id).unwrap())))
            .collect();
        // Another worker waits out the lease, then takes every conversation over.
        tokio::time::sleep(Duration::from_millis(450)).await;
        let second = pool(&server.url(), store.clone(), "worker-b", Duration::from_secs(30));
        let answers = join_all(ids.iter().map(|id| {
            let (second, runs) = (second.clone(), runs.clone());
            async move { second.run_durable(id, ask(), runs.tool()).await }
        }))
        .await;
        for answer in answers {
            assert_eq!(answer.unwrap().all_output_text(), FINAL);
        }
        let runs = runs.get();
        for (call, &n) in &runs {
            let was_durable = durable.values().any(|outputs| outputs.contains_key(call));
            assert!(n == 1 || !was_durable, "{call} ran {n} times with a durable output");
        }
        for id in &ids {
            let records = store.read(id).unwrap();
            assert!(replay(&records).unwrap().is_finished());
            assert!(stored_outputs(&records).values().all(|&n| n == 1));
        }
        // Each request carries each output at most once.
        for request in server.requests() {
            let mut seen = BTreeMap::new();
            let value: serde_json::Value = serde_json::from_str(&request).unwrap();
            for item in value["input"].as_array().into_iter().flatten() {
                if item["type"] == "function_call_output" {
                    let call = item["call_id"].as_str().unwrap().to_string();
                    *seen.entry(call).or_insert(0) += 1;
                }
            }
            assert!(seen.values().all(|&n| n == 1), "{request}");
        }
        let reruns = runs.values().filter(|&&n| n > 1).count();
        eprintln!("takeover: {} calls, {reruns} run again", runs.len());
        second.close().await;
        let _ = std::fs::remove_file(path);
    });
}

#[test]
fn a_pool_whose_lease_was_taken_over_is_fenced_and_writes_nothing_more() {
    runtime().block_on(async {
        let server = MockServer::start(Script::new().text("Hello!", 2))
            .await
            .unwrap();
        server.record_requests();
        let store: Arc<MemoryStore> = Arc::new(MemoryStore::default());
        let ttl = Duration::from_millis(200);
        let first = pool(&server.url(), store.clone(), "worker-a", ttl);
        let agent = first.conversation_with_id("contended").unwrap();
        agent.turn(ask()).await.unwrap().finish().await.unwrap();
        // The first worker stalls past its lease; another takes the conversation over.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let second = pool(
            &server.url(),
            store.clone(),
            "worker-b",
            Duration::from_secs(30),
        );
        let resumed = second.resume("contended").unwrap();
        assert!(matches!(resumed.start, Start::Resumed(_)));
        let stored = store.read("contended").unwrap().len();
        let sent = server.requests().len();
        let fenced = agent.turn(ask()).await.unwrap().finish().await;
        assert!(
            matches!(
                fenced,
                Err(Error::Turn(TurnError::NotDurable { fenced: true, .. }))
            ),
            "{fenced:?}"
        );
        assert_eq!(
            store.read("contended").unwrap().len(),
            stored,
            "nothing written"
        );
        assert_eq!(server.requests().len(), sent, "nothing sent");
        let refused = agent.turn(ask()).await;
        assert!(
            matches!(refused, Err(Error::Rejected(r)) if matches!(r.error(), PoolError::Fenced(_)))
        );
        // The new owner goes on.
        let answer = resumed
            .conversation
            .turn(ask())
            .await
            .unwrap()
            .finish()
            .await;
        assert_eq!(answer.unwrap().all_output_text(), "Hello!");
        first.close().await;
        second.close().await;
    });
}

#[test]
fn a_store_failure_ends_the_turn_before_its_request_leaves_and_loses_nothing() {
    runtime().block_on(async {
        let server = MockServer::start(Script::new().text("Noted.", 2))
            .await
            .unwrap();
        server.record_requests();
        let store = Arc::new(Instrumented::default());
        let pool = pool(
            &server.url(),
            store.clone(),
            "worker-a",
            Duration::from_secs(30),
        );
        let agent = pool.conversation_with_id("flaky").unwrap();
        agent.turn(ask()).await.unwrap().finish().await.unwrap();
        let sent = server.requests().len();
        store.set_down(true);
        let request = ResponseCreate::new("gpt-test").input("Remember the blue door.");
        let failed = agent.turn(request).await.unwrap().finish().await;
        assert!(
            matches!(
                failed,
                Err(Error::Turn(TurnError::NotDurable { fenced: false, .. }))
            ),
            "{failed:?}"
        );
        assert_eq!(server.requests().len(), sent, "nothing went out");
        store.set_down(false);
        let answer = agent.turn(ask()).await.unwrap().finish().await.unwrap();
        assert_eq!(answer.all_output_text(), "Noted.");
        // The input of the failed turn was kept and stored before the next turn's.
        let replayed = replay(&store.read("flaky").unwrap()).unwrap();
        let context = serde_json::to_string(replayed.ledger.items()).unwrap();
        assert!(context.contains("Remember the blue door."));
        assert!(server
            .requests()
            .last()
            .unwrap()
            .contains("Remember the blue door."));
        pool.close().await;
    });
}
