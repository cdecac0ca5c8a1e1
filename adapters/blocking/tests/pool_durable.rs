//! Durable conversations on the blocking pool (issue 13), over loopback TCP against the mock
//! server and the SQLite file store: journaled rollouts on agent threads reach their final
//! answers with every record stored; a second pool takes them over after the first was
//! dropped mid-rollout, running again only calls whose output was not durable.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use responses_ws_blocking::pool::Pool;
use responses_ws_blocking::responses_ws_core::persist::{replay, Entry};
use responses_ws_blocking::{Config, FileStore, ResponseCreate, Store, ToolCall};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};

const FINAL: &str = "All calls answered.";

fn script() -> Script {
    let mut script = Script::new();
    for (n, size) in [1, 2, 1, 2].into_iter().enumerate() {
        let calls: Vec<ScriptedCall> = (0..size)
            .map(|i| ScriptedCall::new("add", format!(r#"{{"a":{n},"b":{i}}}"#)).with_deltas(2))
            .collect();
        script = script.tool_calls(calls);
    }
    script.text(FINAL, 3)
}

fn pool(url: &str, store: Arc<FileStore>, worker: &str) -> Pool {
    let config = Config::new(url)
        .unwrap()
        .store(store, worker)
        .lease_ttl(Duration::from_millis(300));
    Pool::builder(config).max_connections(2).build().unwrap()
}

fn ask() -> ResponseCreate {
    ResponseCreate::new("gpt-test").input("Add them all.")
}

/// How often each call ran, by conversation and `call_id`.
type Runs = Arc<Mutex<BTreeMap<(String, String), usize>>>;

#[test]
fn blocking_pool_rollouts_survive_a_dropped_pool_and_resume_elsewhere() {
    let server = MockServer::start_in_thread(script()).unwrap();
    let path = std::env::temp_dir().join(format!(
        "responses-ws-blocking-pool-{}.sqlite",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    let store = Arc::new(FileStore::open(&path).unwrap());
    let ids: Vec<String> = (0..4).map(|i| format!("agent-{i}")).collect();
    let runs: Runs = Arc::default();
    let outputs = Arc::new(AtomicUsize::new(0));
    // The first pool: each agent stops (its thread gives up the rollout) after 2 outputs.
    {
        let first = pool(&server.url(), store.clone(), "worker-a");
        let agents: Vec<_> = ids
            .iter()
            .map(|id| {
                let (first, runs, outputs, id) =
                    (first.clone(), runs.clone(), outputs.clone(), id.clone());
                thread::spawn(move || {
                    let mut mine = 0;
                    let Ok(agent) = first.conversation_with_id(&id) else {
                        return;
                    };
                    let Ok(turn) = agent.turn(ask()) else { return };
                    for event in turn {
                        let Ok(responses_ws_blocking::SessionEvent::ToolCalls { calls, .. }) =
                            event
                        else {
                            continue;
                        };
                        for call in calls {
                            *runs
                                .lock()
                                .unwrap()
                                .entry((id.clone(), call.call_id.clone()))
                                .or_default() += 1;
                            outputs.fetch_add(1, Ordering::SeqCst);
                            mine += 1;
                            agent
                                .submit_tool_output(&call.call_id, format!("sum {}", call.call_id))
                                .unwrap();
                        }
                        if mine >= 2 {
                            return;
                        }
                    }
                })
            })
            .collect();
        agents.into_iter().for_each(|a| a.join().unwrap());
    }
    let durable: usize = ids
        .iter()
        .map(|id| {
            (store.read(id).unwrap().iter())
                .filter(|r| matches!(r.entry, Entry::ToolOutputAccepted { .. }))
                .count()
        })
        .sum();
    assert_eq!(
        durable,
        outputs.load(Ordering::SeqCst),
        "each output taken is durable"
    );
    thread::sleep(Duration::from_millis(350));
    let second = pool(&server.url(), store.clone(), "worker-b");
    let agents: Vec<_> = ids
        .iter()
        .map(|id| {
            let (second, runs, id) = (second.clone(), runs.clone(), id.clone());
            thread::spawn(move || {
                second.run_durable(&id, ask(), |call: &ToolCall| {
                    *runs
                        .lock()
                        .unwrap()
                        .entry((id.clone(), call.call_id.clone()))
                        .or_default() += 1;
                    format!("sum {}", call.call_id)
                })
            })
        })
        .collect();
    for agent in agents {
        assert_eq!(agent.join().unwrap().unwrap().all_output_text(), FINAL);
    }
    // Every output taken by the first pool was durable: no call ran twice.
    let runs = runs.lock().unwrap();
    assert_eq!(runs.len(), 4 * 6);
    assert!(runs.values().all(|&n| n == 1), "{runs:?}");
    for id in &ids {
        assert!(replay(&store.read(id).unwrap()).unwrap().is_finished());
    }
    second.close();
    let _ = std::fs::remove_file(path);
}
