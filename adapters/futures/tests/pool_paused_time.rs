//! The pool under tokio's paused time, the server's real limits in virtual time: the mock runs
//! on the same runtime (its clock is tokio's), and the pool's clock is the runtime's
//! (`Runtime::now`), so a 60-minute age limit and the pool's 50-minute rotation play out in a
//! second of real time. Paused time is tokio's: the other runtimes run the same rotation in
//! real time with short limits (`pool_scenarios.rs`).

mod pool_support;
mod support;

use std::time::Duration;

use futures_util::future::join_all;
use responses_ws_futures::ToolCall;
use responses_ws_tokio::mock::{AgeLimit, MockServer, Script};
use tokio::time::Instant;

use pool_support::{ask, peak_open, pool, tool_round};
use support::Rt;

/// The server's age limit (the API's: 60 minutes).
const AGE_LIMIT: Duration = Duration::from_secs(60 * 60);

/// Every turn: one tool-call round, then a short text answer, a delta every minute (virtual:
/// keepalive pings go both ways meanwhile).
fn script() -> Script {
    tool_round()
        .with_delta_delay(Duration::from_secs(60))
        .with_age_limit(AgeLimit::after(AGE_LIMIT))
}

#[test]
fn connections_rotate_before_the_60_minute_limit_under_load_in_paused_time() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(rotation());
}

async fn rotation() {
    let server = MockServer::start(script()).await.unwrap();
    // The default rotation age (50 minutes), under the server's 60; 12 agents at 4 turns a
    // connection keep 3 connections busy.
    let pool = pool(Rt::Tokio, &server.url())
        .max_connections(3)
        .max_turns_per_connection(4)
        .spawn()
        .unwrap();
    let started = Instant::now();
    let end = started + Duration::from_secs(2 * 60 * 60);
    let agents = (0..12).map(|_| {
        let agent = pool.conversation().unwrap();
        tokio::spawn(async move {
            let mut done = 0u32;
            while Instant::now() < end {
                let handler = |call: ToolCall| async move { call.call_id };
                let answer = agent.run_tool_loop(ask("Go"), handler).await.unwrap();
                assert_eq!(answer.all_output_text(), "It is sunny.");
                done += 1;
            }
            done
        })
    });
    let done: u32 = join_all(agents).await.into_iter().map(Result::unwrap).sum();
    let lasted = started.elapsed();
    assert!(lasted >= Duration::from_secs(2 * 60 * 60), "{lasted:?}");
    let stats = pool.stats();
    assert_eq!(stats.turns_completed_total, u64::from(done), "{stats:?}");
    assert_eq!(stats.turns_failed_total, 0, "{stats:?}");
    // Two hours of load on three connections rotated at 50 minutes: every connection was
    // replaced at least once.
    assert!(done >= 12 * 20, "{done} turns in {lasted:?}");
    assert!(stats.connections_dialed_total >= 6, "rotated: {stats:?}");
    let log = server.connection_log();
    assert!(log.len() >= 6, "{log:?}");
    let end_of_log = log
        .iter()
        .flat_map(|r| [Some(r.accepted), r.closed])
        .flatten()
        .max()
        .unwrap_or_default();
    for record in &log {
        // No connection reached the server's limit (the mock would have sent its error and
        // closed it), and the server refused nothing: no turn lost or repeated.
        let lived = record.closed.unwrap_or(end_of_log) - record.accepted;
        assert!(lived < AGE_LIMIT, "{record:?}");
        assert_eq!(record.errors_sent, 0, "{record:?}");
        assert!(record.occupancy.peak_in_flight <= 16, "{record:?}");
    }
    assert!(peak_open(&log) <= 3, "{log:?}");
    pool.close().await;
}
