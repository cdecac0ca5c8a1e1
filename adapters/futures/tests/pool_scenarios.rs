//! The pool over real loopback TCP against the mock server (its own thread and tokio
//! runtime), every scenario under every runtime (async-std, smol, tokio): a thousand
//! conversations on at most eight connections, a 429 storm at upgrade, a connection killed
//! mid-turn, rotation before the server's age limit under load. What the pool did is asserted
//! from the mock's connection log (connections at once, upgrade answers with their times,
//! occupancy, error events sent) as well as from the pool's own stats.

mod pool_support;
mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use futures_util::future::join_all;
use pool_support::{ask, peak_open, pool, tool_round};
use responses_ws_futures::pool::{Pool, PoolBuilder};
use responses_ws_futures::{RetryPolicy, ToolCall};
use responses_ws_tokio::mock::{
    AgeLimit, ConnectionRecord, MockServer, MockServerThread, Refusal, UpgradeFault,
};
use support::{on_every_runtime, Rt};

on_every_runtime!(
    a_thousand_conversations_share_eight_connections,
    a_429_storm_at_upgrade_is_probed_one_connection_at_a_time,
    a_connection_killed_mid_turn_moves_its_conversations_with_each_output_once,
    connections_rotate_before_the_servers_age_limit_under_load,
);

/// Builds the pool and spawns its driver on `rt`.
fn start(rt: Rt, builder: PoolBuilder) -> Pool {
    let (pool, driver) = builder.build().unwrap();
    match rt {
        Rt::AsyncStd => drop(async_std::task::spawn(driver)),
        Rt::Smol => smol::spawn(driver).detach(),
        Rt::Tokio => drop(tokio::spawn(driver)),
    }
    pool
}

/// The server's limits were kept on every connection, and no request was refused.
fn assert_limits_kept(log: &[ConnectionRecord]) {
    for record in log {
        let occupancy = record.occupancy;
        assert!(occupancy.peak_in_flight <= 16, "{record:?}");
        assert!(occupancy.named_lanes <= 32, "{record:?}");
        assert_eq!(
            occupancy.peak_queued, 0,
            "never more than in flight: {record:?}"
        );
        assert_eq!(record.errors_sent, 0, "nothing refused: {record:?}");
    }
}

/// From the server's side: after a refusal and until an upgrade is accepted, never two
/// upgrades asked at once, and each asked at least `retry_after` after the refusal before it;
/// `refusals` in all.
fn assert_one_probe_at_a_time(log: &[ConnectionRecord], refusals: usize, retry_after: Duration) {
    // (time, 0 asked / 1 answered, status)
    let mut events: Vec<(Duration, u8, u16)> = Vec::new();
    for record in log {
        let (answered, status) = record.upgrade.expect("every upgrade answered");
        events.push((record.accepted, 0, 0));
        events.push((answered, 1, status));
    }
    events.sort();
    let (mut outstanding, mut last_refusal, mut refused) = (0, None, 0);
    for &(at, kind, status) in &events {
        if kind == 0 {
            outstanding += 1;
            if let Some(refused_at) = last_refusal {
                assert!(at >= refused_at + retry_after, "probe too early: {log:?}");
                assert_eq!(outstanding, 1, "one probe at a time: {log:?}");
            }
        } else {
            outstanding -= 1;
            if status == 429 || status == 503 {
                refused += 1;
                last_refusal = Some(at);
            } else {
                last_refusal = None;
            }
        }
    }
    assert_eq!(refused, refusals, "{log:?}");
}

/// Counts the tool calls each handler was given, by call id.
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<String, u32>>>);

impl Calls {
    fn seen(&self, call: &ToolCall) {
        *self
            .0
            .lock()
            .unwrap()
            .entry(call.call_id.clone())
            .or_default() += 1;
    }

    fn assert_each_once(&self, expected: usize) {
        let calls = self.0.lock().unwrap();
        assert_eq!(calls.len(), expected);
        assert!(calls.values().all(|&n| n == 1), "{calls:?}");
    }
}

async fn a_thousand_conversations_share_eight_connections(rt: Rt) {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let pool = start(rt, pool(rt, &server.url()).max_connections(8));
    let calls = Calls::default();
    let turns = (0..1000).map(|_| {
        let agent = pool.conversation().unwrap();
        let calls = calls.clone();
        rt.spawn(async move {
            agent
                .run_tool_loop(ask("What is the weather?"), move |call: ToolCall| {
                    calls.seen(&call);
                    async move { format!("sunny at {}", call.call_id) }
                })
                .await
                .map(|answer| answer.all_output_text())
        })
    });
    for answer in join_all(turns).await {
        assert_eq!(answer.unwrap(), "It is sunny.");
    }
    calls.assert_each_once(1000);
    let stats = pool.stats();
    assert_eq!(stats.turns_completed_total, 1000, "{stats:?}");
    assert_eq!((stats.turns_in_flight, stats.turns_waiting), (0, 0));
    assert!(stats.connections_dialed_total <= 8, "{stats:?}");

    let log = server.connection_log();
    assert!(peak_open(&log) <= 8, "{log:?}");
    assert!(log.iter().all(|r| r.upgrade.is_some_and(|(_, s)| s == 101)));
    assert_limits_kept(&log);
    pool.close().await;
    server.shutdown();
}

async fn a_429_storm_at_upgrade_is_probed_one_connection_at_a_time(rt: Rt) {
    let refusal = Refusal::RateLimited {
        retry_after_secs: 1,
    };
    let script = tool_round().with_upgrade_refusal(UpgradeFault::new(refusal).first(2));
    let server = MockServer::start_in_thread(script).unwrap();
    let mut backoff = RetryPolicy::default();
    backoff.base_delay = Duration::from_millis(20);
    backoff.max_delay = Duration::from_millis(100);
    let builder = pool(rt, &server.url())
        .max_connections(4)
        .upgrade_backoff(backoff);
    let pool = start(rt, builder);
    let turns = (0..100).map(|_| {
        let agent = pool.conversation().unwrap();
        rt.spawn(async move {
            let handler = |call: ToolCall| async move { call.call_id };
            agent.run_tool_loop(ask("Hi"), handler).await.is_ok()
        })
    });
    assert!(join_all(turns).await.into_iter().all(|ok| ok));

    let log = server.connection_log();
    assert_one_probe_at_a_time(&log, 2, Duration::from_secs(1));
    let stats = pool.stats();
    assert_eq!(stats.connections_failed_total, 2, "{stats:?}");
    assert!(!stats.throttled);
    assert_limits_kept(&log);
    pool.close().await;
    server.shutdown();
}

async fn a_connection_killed_mid_turn_moves_its_conversations_with_each_output_once(rt: Rt) {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let proxy = Proxy::start(&server);
    let pool = start(rt, pool(rt, &proxy.url()).max_connections(2));
    let calls = Calls::default();
    let entered = Arc::new(AtomicUsize::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let turns: Vec<_> = (0..24)
        .map(|_| {
            let agent = pool.conversation().unwrap();
            let (calls, entered, released) = (calls.clone(), entered.clone(), released.clone());
            rt.spawn(async move {
                let handler = move |call: ToolCall| {
                    calls.seen(&call);
                    entered.fetch_add(1, Ordering::SeqCst);
                    let released = released.clone();
                    async move {
                        while !released.load(Ordering::SeqCst) {
                            rt.sleep(Duration::from_millis(5)).await;
                        }
                        format!("result of {}", call.call_id)
                    }
                };
                agent.run_tool_loop(ask("Look it up."), handler).await
            })
        })
        .collect();
    // Every turn waits for its tool output: kill the first connection under them.
    while entered.load(Ordering::SeqCst) < 24 {
        rt.sleep(Duration::from_millis(5)).await;
    }
    let on_first = pool.connections()[0].turns_running;
    assert!(on_first > 1, "{:?}", pool.connections());
    proxy.kill(0);
    rt.sleep(Duration::from_millis(20)).await;
    released.store(true, Ordering::SeqCst);
    for answer in join_all(turns).await {
        assert_eq!(answer.unwrap().all_output_text(), "It is sunny.");
    }
    calls.assert_each_once(24);
    let stats = pool.stats();
    assert_eq!(stats.moves_total as usize, on_first, "{stats:?}");
    assert_eq!(stats.turns_completed_total, 24, "{stats:?}");
    // The server refused nothing: no output was missing, and none came twice or for a call
    // it did not make (the mock checks every request's context).
    let log = server.connection_log();
    assert!(
        log[0].closed.is_some(),
        "the first connection was killed: {log:?}"
    );
    assert_limits_kept(&log);
    pool.close().await;
    server.shutdown();
}

async fn connections_rotate_before_the_servers_age_limit_under_load(rt: Rt) {
    let age_limit = Duration::from_millis(1000);
    let script = tool_round()
        .with_delta_delay(Duration::from_millis(10))
        .with_age_limit(AgeLimit::after(age_limit));
    let server = MockServer::start_in_thread(script).unwrap();
    let builder = pool(rt, &server.url())
        .max_connections(3)
        .rotate_after(Duration::from_millis(250));
    let pool = start(rt, builder);
    let end = std::time::Instant::now() + Duration::from_millis(1200);
    let agents = (0..24).map(|_| {
        let agent = pool.conversation().unwrap();
        rt.spawn(async move {
            let mut done = 0u32;
            while std::time::Instant::now() < end {
                let handler = |call: ToolCall| async move { call.call_id };
                agent.run_tool_loop(ask("Go"), handler).await.unwrap();
                done += 1;
            }
            done
        })
    });
    let done: u32 = join_all(agents).await.into_iter().sum();
    let stats = pool.stats();
    assert_eq!(stats.turns_completed_total, u64::from(done), "{stats:?}");
    assert_eq!(stats.turns_failed_total, 0, "{stats:?}");
    assert!(stats.connections_dialed_total >= 4, "rotated: {stats:?}");
    let log = server.connection_log();
    // No connection reached the server's age limit (the mock would send an error, then
    // close), and the replacements never took the pool past its limit.
    assert_limits_kept(&log);
    assert!(peak_open(&log) <= 3, "{log:?}");
    for record in &log {
        let lived = record.closed.unwrap_or(Duration::MAX).min(end_of(&log)) - record.accepted;
        assert!(lived < age_limit, "{record:?}");
    }
    pool.close().await;
    server.shutdown();
}

/// The last moment the log knows of.
fn end_of(log: &[ConnectionRecord]) -> Duration {
    log.iter()
        .flat_map(|r| [Some(r.accepted), r.upgrade.map(|(at, _)| at), r.closed])
        .flatten()
        .max()
        .unwrap_or_default()
}

/// A TCP proxy in front of the mock whose connections can be killed, in the order they
/// were made (both sockets shut down: the pool and the mock see the end at once).
struct Proxy {
    port: u16,
    conns: Arc<Mutex<Vec<(TcpStream, TcpStream)>>>,
}

impl Proxy {
    fn start(server: &MockServerThread) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let upstream = server.addr();
        let conns: Arc<Mutex<Vec<(TcpStream, TcpStream)>>> = Arc::default();
        let kept = Arc::clone(&conns);
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = TcpStream::connect(upstream) else {
                    return;
                };
                let _ = (client.set_nodelay(true), server.set_nodelay(true));
                let pair = (client.try_clone().unwrap(), server.try_clone().unwrap());
                kept.lock().unwrap().push(pair);
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
        Proxy { port, conns }
    }

    fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/v1/responses", self.port)
    }

    /// Ends connection `index` without a close frame.
    fn kill(&self, index: usize) {
        let conns = self.conns.lock().unwrap();
        let (client, server) = &conns[index];
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    }
}

/// Copies `from` to `to` on a thread until either ends.
fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let mut buf = [0u8; 16 << 10];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
