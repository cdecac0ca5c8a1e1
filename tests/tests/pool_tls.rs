//! The pool over `wss://` (tokio): conversations on a few TLS connections, through the
//! scenario suite's TLS-terminating proxy whose CA is made at test time, rotated before the
//! server's age limit under load. Every turn is done, each tool call answered once, within the
//! pool's limits; a pool that does not trust the CA fails its turn with the certificate error.

#[path = "scenarios/tls_proxy.rs"]
mod tls_proxy;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use responses_ws_tokio::mock::{AgeLimit, MockServer, Script, ScriptedCall};
use responses_ws_tokio::pool::Pool;
use responses_ws_tokio::{Config, ResponseCreate, ToolCall};
use tls_proxy::TlsProxy;

/// The server's age limit, short so that the pool rotates within the test.
const AGE_LIMIT: Duration = Duration::from_millis(1500);

/// (agent, turn, call id): the mock's call ids are unique within a turn only.
type CallKey = (usize, u32, String);

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-test").input(text).store(false)
}

#[test]
fn conversations_share_rotated_wss_connections_and_every_turn_is_done() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(rotation_over_tls());
}

async fn rotation_over_tls() {
    let script = Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 3)
        .with_delta_delay(Duration::from_millis(5))
        .with_age_limit(AgeLimit::after(AGE_LIMIT));
    let server = MockServer::start_in_thread(script).unwrap();
    let proxy = TlsProxy::start(server.addr());

    // The default roots do not know the test CA: the turn fails with the certificate error.
    let untrusted = Config::new(&proxy.url()).unwrap().api_key("sk-test");
    let pool = Pool::builder(untrusted)
        .max_wait(Duration::from_millis(500))
        .spawn()
        .unwrap();
    let error = pool
        .conversation()
        .unwrap()
        .run_tool_loop(ask("Hi"), |call: ToolCall| async move { call.call_id })
        .await;
    let message = format!("{:?}", error.unwrap_err());
    assert!(message.contains("UnknownIssuer"), "{message}");
    pool.close().await;

    let config = Config::new(&proxy.url())
        .unwrap()
        .api_key("sk-test")
        .tls(proxy.tls());
    let pool = Pool::builder(config)
        .max_connections(3)
        .max_turns_per_connection(4)
        .rotate_after(Duration::from_millis(400))
        .spawn()
        .unwrap();
    let calls: Arc<Mutex<HashMap<CallKey, u32>>> = Arc::default();
    let end = Instant::now() + Duration::from_millis(1500);
    let agents: Vec<_> = (0..12)
        .map(|index| {
            let agent = pool.conversation().unwrap();
            let calls = Arc::clone(&calls);
            tokio::spawn(async move {
                let mut done = 0u32;
                while Instant::now() < end {
                    let calls = Arc::clone(&calls);
                    let handler = move |call: ToolCall| {
                        let key = (index, done, call.call_id.clone());
                        *calls.lock().unwrap().entry(key).or_default() += 1;
                        async move { format!("sunny at {}", call.call_id) }
                    };
                    let answer = agent.run_tool_loop(ask("Weather?"), handler).await.unwrap();
                    assert_eq!(answer.all_output_text(), "It is sunny.");
                    done += 1;
                }
                done
            })
        })
        .collect();
    let mut done = 0;
    for agent in agents {
        done += agent.await.unwrap();
    }
    let stats = pool.stats();
    assert_eq!(stats.turns_completed_total, u64::from(done), "{stats:?}");
    assert_eq!(stats.turns_failed_total, 0, "{stats:?}");
    assert!(done >= 12, "{done}");
    let calls = std::mem::take(&mut *calls.lock().unwrap());
    // The script's tool round is each conversation's first turn; its later turns answer in
    // text (the mock's last scripted turn repeats).
    assert_eq!(calls.len(), 12, "one call per conversation: {calls:?}");
    assert!(calls.values().all(|&n| n == 1), "each call answered once");
    assert!(stats.connections_dialed_total >= 4, "rotated: {stats:?}");
    pool.close().await;

    // From the server's side: every connection came through TLS, none reached the age limit
    // (the mock would have sent an error), nothing was refused, the limits were kept.
    let log = server.connection_log();
    assert!(log.len() >= 4, "{log:?}");
    for record in &log {
        assert_eq!(record.errors_sent, 0, "{record:?}");
        assert!(record.occupancy.peak_in_flight <= 4, "{record:?}");
        if let Some(closed) = record.closed {
            assert!(closed - record.accepted < AGE_LIMIT, "{record:?}");
        }
    }
    server.shutdown();
}
