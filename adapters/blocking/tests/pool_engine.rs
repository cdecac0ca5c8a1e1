//! The blocking pool's engine thread, counted by name among the process's threads (Linux's
//! `/proc`; a test binary of its own, so that no other test's pool is counted): one per pool
//! however many connections it has, joined by `close`, and gone once every handle of a pool
//! that was never closed is dropped.

#![cfg(target_os = "linux")]

use std::thread;
use std::time::{Duration, Instant};

use responses_ws_blocking::pool::Pool;
use responses_ws_blocking::{Config, ResponseCreate};
use responses_ws_tokio::mock::{MockServer, Script};

/// The threads of this process named `responses-ws-pool` (the kernel keeps 15 bytes of a name).
fn engine_threads() -> usize {
    let tasks = std::fs::read_dir("/proc/self/task").unwrap();
    tasks
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "responses-ws-po")
        .count()
}

/// Runs `agents` conversations of `pool` at once, each on a thread of its own.
fn run_agents(pool: &Pool, agents: usize) {
    let threads: Vec<_> = (0..agents)
        .map(|i| {
            let agent = pool.conversation().unwrap();
            thread::spawn(move || {
                let request = ResponseCreate::new("gpt-test").input(format!("Task {i}"));
                agent.turn(request).unwrap().finish().unwrap()
            })
        })
        .collect();
    for thread in threads {
        assert_eq!(thread.join().unwrap().all_output_text(), "Slow answer");
    }
}

#[test]
fn one_engine_thread_per_pool_joined_by_close_and_ended_by_the_last_handle() {
    let script = Script::new()
        .text("Slow answer", 4)
        .with_delta_delay(Duration::from_millis(20));
    let server = MockServer::start_in_thread(script).unwrap();
    let config = Config::new(&server.url()).unwrap();
    assert_eq!(engine_threads(), 0);

    let pool = Pool::builder(config.clone())
        .max_connections(4)
        .max_turns_per_connection(2)
        .build()
        .unwrap();
    run_agents(&pool, 8);
    assert!(
        pool.stats().connections_dialed_total > 1,
        "{:?}",
        pool.stats()
    );
    assert_eq!(engine_threads(), 1, "one thread, not one per connection");
    pool.close();
    assert_eq!(engine_threads(), 0, "close joined it");

    let pool = Pool::new(config).unwrap();
    let agent = pool.conversation().unwrap();
    run_agents(&pool, 2);
    drop(pool);
    assert_eq!(engine_threads(), 1, "a conversation keeps the pool open");
    drop(agent);
    let deadline = Instant::now() + Duration::from_secs(10);
    while engine_threads() > 0 {
        assert!(
            Instant::now() < deadline,
            "the engine thread outlived its pool"
        );
        thread::sleep(Duration::from_millis(5));
    }
    server.shutdown();
}
