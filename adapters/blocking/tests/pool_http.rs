//! The blocking pool over HTTP + SSE, over real loopback TCP against the mock server (which
//! serves `POST /v1/responses` with SSE beside WebSocket upgrades on one port): agent threads
//! on a pool configured for HTTP, and on one moved there by upgrades refused with 426. Every
//! conversation runs its tool round to the final answer; each request the server received
//! carries each tool output at most once, and each call's output is in its conversation's
//! context exactly once. Durable conversations are journaled over HTTP too.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::thread;

use responses_ws_blocking::pool::{Pool, PoolBuilder};
use responses_ws_blocking::responses_ws_core::persist::{replay, Entry};
use responses_ws_blocking::{Config, MemoryStore, ResponseCreate, Store, ToolCall, Transport};
use responses_ws_tokio::mock::{
    MockServer, MockServerThread, Refusal, Script, ScriptedCall, UpgradeFault,
};
use serde_json::Value;

fn tool_round() -> Script {
    Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 3)
}

fn pool(url: &str, change: impl FnOnce(Config) -> Config) -> PoolBuilder {
    Pool::builder(change(Config::new(url).unwrap().api_key("sk-test")))
}

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-test").input(text).store(false)
}

fn weather(call: &ToolCall) -> String {
    format!("weather for {}", call.call_id)
}

/// Runs one tool round on each of `n` conversations, an agent thread each; every one ends
/// with the answer and each call's output once in its context.
fn run_conversations(pool: &Pool, n: usize) {
    let agents: Vec<_> = (0..n)
        .map(|i| {
            let agent = pool.conversation().unwrap();
            thread::spawn(move || {
                let answer = agent.run_tool_loop(ask(&format!("Task {i}")), weather);
                (answer, agent.ledger())
            })
        })
        .collect();
    for agent in agents {
        let (answer, ledger) = agent.join().unwrap();
        assert_eq!(answer.unwrap().all_output_text(), "It is sunny.");
        let ledger = serde_json::to_value(ledger.unwrap().items()).unwrap();
        for (call, outputs) in outputs_per_call(&ledger) {
            assert_eq!(outputs, 1, "call {call} has one output in its context");
        }
    }
}

/// For every function call in a list of items, how many outputs answer it.
fn outputs_per_call(items: &Value) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for item in items.as_array().unwrap() {
        let call_id = item["call_id"].as_str().unwrap_or_default().to_owned();
        match item["type"].as_str() {
            Some("function_call") => {
                counts.entry(call_id).or_insert(0);
            }
            Some("function_call_output") => *counts.entry(call_id).or_insert(0) += 1,
            _ => {}
        }
    }
    counts
}

/// The `POST` bodies the server received (WebSocket frames have a `type`); each carries a
/// tool output at most once.
fn http_bodies(server: &MockServerThread) -> Vec<Value> {
    let requests = server.requests().into_iter();
    let bodies = requests.map(|text| serde_json::from_str::<Value>(&text).unwrap());
    let bodies: Vec<Value> = bodies.filter(|body| body.get("type").is_none()).collect();
    for body in &bodies {
        if let Some(input) = body.get("input").filter(|input| input.is_array()) {
            for (call, outputs) in outputs_per_call(input) {
                assert!(outputs <= 1, "call {call} answered twice in one request");
            }
        }
    }
    bodies
}

#[test]
fn agent_threads_on_a_pool_configured_for_http_run_over_http() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    server.record_requests();
    let http = |config: Config| config.transport(Transport::Http);
    let pool = pool(&server.url(), http)
        .max_connections(1)
        .build()
        .unwrap();
    run_conversations(&pool, 24);

    let stats = pool.stats();
    assert!(stats.over_http, "{stats:?}");
    assert_eq!(stats.turns_completed_total, 24);
    let bodies = http_bodies(&server);
    assert_eq!(
        bodies.len(),
        48,
        "a request for the call, one for the answer"
    );
    let log = server.connection_log();
    assert!(
        log.iter().all(|record| record.upgrade.is_none()),
        "no upgrade tried"
    );
    assert!(
        log.len() <= 16,
        "16 requests at once at most: {} sockets",
        log.len()
    );
    pool.close();
    assert_eq!(pool.stats().http_sockets, 0, "every socket closed");
}

#[test]
fn a_426_moves_the_blocking_pool_to_http_and_every_conversation_finishes() {
    let refusing = tool_round().with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired));
    let server = MockServer::start_in_thread(refusing).unwrap();
    server.record_requests();
    let pool = pool(&server.url(), |config| config).build().unwrap();
    run_conversations(&pool, 12);

    let stats = pool.stats();
    assert!(stats.over_http, "{stats:?}");
    let log = server.connection_log();
    let refused = log.iter().filter(|r| matches!(r.upgrade, Some((_, 426))));
    assert!(
        refused.count() <= 4,
        "the dials in flight at the refusal, at most"
    );
    assert_eq!(
        http_bodies(&server).len(),
        24,
        "every request over HTTP, once"
    );
    pool.close();
}

#[test]
fn durable_conversations_of_the_blocking_pool_are_journaled_over_http() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let store = Arc::new(MemoryStore::default());
    let http = |config: Config| config.transport(Transport::Http).store(store.clone(), "w");
    let pool = pool(&server.url(), http).build().unwrap();
    let ids: Vec<String> = (0..4).map(|i| format!("http-conv-{i}")).collect();
    let agents: Vec<_> = (ids.iter().cloned())
        .map(|id| {
            let pool = pool.clone();
            thread::spawn(move || pool.run_durable(&id, ask("Look it up"), weather))
        })
        .collect();
    for agent in agents {
        assert_eq!(
            agent.join().unwrap().unwrap().all_output_text(),
            "It is sunny."
        );
    }
    assert!(pool.stats().over_http);
    for id in &ids {
        let records = store.read(id).unwrap();
        assert!(
            replay(&records).unwrap().is_finished(),
            "{id} finished in the store"
        );
        let outputs = records
            .iter()
            .filter(|r| matches!(r.entry, Entry::ToolOutputAccepted { .. }));
        assert_eq!(outputs.count(), 1, "{id}: its one output, stored once");
    }
    pool.close();
}
