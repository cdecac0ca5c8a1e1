//! The cost of making one record durable before the bytes it describes go out: one append of
//! a tool output per iteration, in memory, in the SQLite file (fsync per append) and in a
//! Redis server on loopback (with `appendfsync always`, an fsync per append; and without
//! persistence, the round trip and the script alone). The Redis server is the tests' own
//! (`tests/support/redis.rs`): `redis-server` must be installed (`tests/redis/install.sh`).
//!
//! Run with `cargo bench -p responses-ws-store --bench append`.
#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use responses_ws_core::persist::{Entry, Journal};
use responses_ws_core::session::Lane;
use responses_ws_core::wire::Item;
use responses_ws_store::{FileStore, MemoryStore, RedisStore, Store};

#[path = "../tests/support/redis.rs"]
mod redis_server;

/// Appends one tool-output record per iteration to a fresh conversation in `store`.
fn append_one_output(c: &mut Criterion, name: &str, store: &impl Store) {
    let lease = store
        .acquire("bench", "worker", 0, Duration::from_secs(3_600))
        .expect("a fresh store grants the lease");
    let mut journal = Journal::new("bench");
    let opened = journal.record(Entry::Opened {
        lane: Lane::Default,
    });
    store.append(&lease, &[opened]).expect("the first append");
    let output = Item::function_call_output("call_1", "x".repeat(512));
    c.bench_function(name, |b| {
        b.iter(|| {
            let record = journal.record(Entry::ToolOutputAccepted {
                call_id: "call_1".into(),
                output: output.clone(),
            });
            store.append(&lease, &[record]).expect("append");
        })
    });
}

fn appends(c: &mut Criterion) {
    append_one_output(c, "append/memory", &MemoryStore::default());
    let dir = tempfile::tempdir().expect("a temporary directory");
    let file = FileStore::open(dir.path().join("bench.sqlite")).expect("open the store");
    append_one_output(c, "append/sqlite_fsync", &file);
    for (name, server) in [
        (
            "append/redis_aof_always",
            redis_server::RedisServer::start_durable(),
        ),
        (
            "append/redis_no_persistence",
            redis_server::RedisServer::start(),
        ),
    ] {
        let Some(server) = server else { continue };
        let store = RedisStore::open(&server.url()).expect("open the Redis store");
        append_one_output(c, name, &store);
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = appends
}
criterion_main!(benches);
