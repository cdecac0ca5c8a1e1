//! The pool over HTTP + SSE, over real loopback TCP against the mock server (which serves
//! `POST /v1/responses` with SSE beside WebSocket upgrades on one port), on every runtime:
//! configured for HTTP from the start, and moved there by upgrades refused with 426. Every
//! conversation runs its tool round to the final answer; each request the server received
//! carries each tool output at most once, and each call's output is in its conversation's
//! context exactly once. Durable conversations are journaled over HTTP as over WebSocket
//! mode.

mod pool_support;
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;

use futures_util::future::join_all;
use pool_support::{ask, pool_with, tool_round};
use responses_ws_futures::pool::Pool;
use responses_ws_futures::responses_ws_core::persist::{replay, Entry};
use responses_ws_futures::{Config, MemoryStore, Store, ToolCall, Transport};
use responses_ws_tokio::mock::{MockServer, MockServerThread, Refusal, UpgradeFault};
use serde_json::Value;
use support::{on_every_runtime, Rt};

on_every_runtime!(
    a_pool_configured_for_http_runs_every_conversation_over_http,
    a_426_moves_the_pool_to_http_and_every_conversation_finishes,
    durable_conversations_are_journaled_over_http,
);

/// Builds the pool and spawns its driver on `rt`.
fn start(rt: Rt, pool: (Pool, responses_ws_futures::pool::PoolDriver)) -> Pool {
    let (pool, driver) = pool;
    match rt {
        Rt::AsyncStd => drop(async_std::task::spawn(driver)),
        Rt::Smol => smol::spawn(driver).detach(),
        Rt::Tokio => drop(tokio::spawn(driver)),
    }
    pool
}

/// Runs one tool round on each of `n` conversations at once; every one ends with the answer.
async fn run_conversations(pool: &Pool, n: usize) {
    let agents: Vec<_> = (0..n).map(|_| pool.conversation().unwrap()).collect();
    let answers = join_all(agents.iter().enumerate().map(|(i, agent)| async move {
        let tool = |call: ToolCall| async move { format!("weather for {}", call.call_id) };
        let answer = agent.run_tool_loop(ask(&format!("Task {i}")), tool).await;
        (answer, agent.ledger())
    }))
    .await;
    for (answer, ledger) in answers {
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

/// The `POST` bodies the server received (WebSocket frames have a `type`).
fn http_bodies(server: &MockServerThread) -> Vec<Value> {
    let requests = server.requests().into_iter();
    let bodies = requests.map(|text| serde_json::from_str::<Value>(&text).unwrap());
    bodies.filter(|body| body.get("type").is_none()).collect()
}

/// Each body carries a tool output at most once, and answers only calls it carries.
fn assert_each_output_sent_once_per_request(bodies: &[Value]) {
    for body in bodies {
        let Some(input) = body.get("input").filter(|input| input.is_array()) else {
            continue;
        };
        for (call, outputs) in outputs_per_call(input) {
            assert!(outputs <= 1, "call {call} answered twice in one request");
        }
    }
}

async fn a_pool_configured_for_http_runs_every_conversation_over_http(rt: Rt) {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    server.record_requests();
    let builder = pool_with(rt, &server.url(), |config| {
        config.transport(Transport::Http)
    });
    let pool = start(rt, builder.max_connections(2).build().unwrap());
    run_conversations(&pool, 40).await;

    let stats = pool.stats();
    assert!(stats.over_http, "{stats:?}");
    assert_eq!(stats.turns_completed_total, 40);
    let bodies = http_bodies(&server);
    assert_eq!(
        bodies.len(),
        80,
        "a request for the call, one for the answer"
    );
    assert!(bodies.iter().all(|body| body["stream"] == true));
    assert_each_output_sent_once_per_request(&bodies);
    let log = server.connection_log();
    assert!(
        log.iter().all(|record| record.upgrade.is_none()),
        "no upgrade tried"
    );
    // 2 × 16 requests at once at most, each on a socket of its own; idle ones reused.
    assert!(log.len() <= 32, "{} sockets", log.len());
    assert!(
        stats.http_sockets > 0 && stats.http_sockets <= 32,
        "{stats:?}"
    );
    let connections = pool.connections();
    assert!(connections.len() <= 2, "{connections:?}");
    assert!(connections.iter().all(|c| c.transport == Transport::Http));
    pool.close().await;
    assert_eq!(pool.stats().http_sockets, 0, "every socket closed");
}

async fn a_426_moves_the_pool_to_http_and_every_conversation_finishes(rt: Rt) {
    let refusing = tool_round().with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired));
    let server = MockServer::start_in_thread(refusing).unwrap();
    server.record_requests();
    let pool = start(rt, pool_with(rt, &server.url(), |c| c).build().unwrap());
    run_conversations(&pool, 20).await;

    let stats = pool.stats();
    assert!(stats.over_http, "{stats:?}");
    assert!(stats.connections_failed_total >= 1, "{stats:?}");
    let log = server.connection_log();
    let refused = log.iter().filter(|r| matches!(r.upgrade, Some((_, 426))));
    // The dials in flight when the first refusal came, at most; none after.
    assert!(refused.count() <= 4);
    let bodies = http_bodies(&server);
    assert_eq!(bodies.len(), 40, "every request went over HTTP, once");
    assert_each_output_sent_once_per_request(&bodies);
    // More turns, over HTTP at once.
    run_conversations(&pool, 5).await;
    let refused_after = server.connection_log();
    let refused_after = refused_after
        .iter()
        .filter(|r| matches!(r.upgrade, Some((_, 426))));
    assert!(
        refused_after.count() <= 4,
        "no upgrade within the re-probe interval"
    );
    pool.close().await;
}

async fn durable_conversations_are_journaled_over_http(rt: Rt) {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let store = Arc::new(MemoryStore::default());
    let http = |config: Config| config.transport(Transport::Http).store(store.clone(), "w");
    let pool = start(rt, pool_with(rt, &server.url(), http).build().unwrap());
    let ids: Vec<String> = (0..4).map(|i| format!("http-conv-{i}")).collect();
    let answers = join_all(ids.iter().map(|id| {
        let pool = pool.clone();
        let tool = |call: ToolCall| async move { format!("weather for {}", call.call_id) };
        async move { pool.run_durable(id, ask("Look it up"), tool).await }
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.unwrap().all_output_text(), "It is sunny.");
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
    pool.close().await;
}
