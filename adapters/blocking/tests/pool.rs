//! The blocking pool over real loopback TCP against the mock server: many agent threads on
//! few connections (limits asserted from the mock's connection log), a 429 storm at upgrade
//! probed one connection at a time, a connection killed under waiting tool calls (its
//! conversations move, each output once), the pool's refusals, a turn dropped with its tool
//! calls open (its lane freed, the outputs sent with the next turn), and concurrent agents
//! over `wss://` (the TLS session shared by a connection's reader and writers).

mod support;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use responses_ws_blocking::pool::{Error, Pool, PoolBuilder, PoolError};
use responses_ws_blocking::responses_ws_core::ws::CloseCode;
use responses_ws_blocking::responses_ws_tls::rustls::{ServerConnection, StreamOwned};
use responses_ws_blocking::{
    Config, ResponseCreate, RetryPolicy, SessionEvent, TlsConfig, ToolCall,
};
use responses_ws_tls::test_pki;
use responses_ws_tokio::mock::{
    ConnectionRecord, MockServer, MockServerThread, Refusal, Script, ScriptedCall, UpgradeFault,
};
use support::{accept_tcp, completed, created, message, Peer};

fn tool_round() -> Script {
    Script::new()
        .tool_calls([ScriptedCall::new("lookup", r#"{"q":"weather"}"#)])
        .text("It is sunny.", 3)
}

fn pool(url: &str) -> PoolBuilder {
    Pool::builder(Config::new(url).unwrap().api_key("sk-test"))
}

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-test").input(text).store(false)
}

/// Tool calls seen by the handlers, by agent, turn and call id (the mock's call ids are only
/// unique within a conversation's turn).
#[derive(Clone, Default)]
struct Calls(Arc<Mutex<HashMap<CallKey, u32>>>);

/// (agent, turn, call id).
type CallKey = (usize, usize, String);

impl Calls {
    fn seen(&self, agent: usize, turn: usize, call: &ToolCall) {
        let key = (agent, turn, call.call_id.clone());
        *self.0.lock().unwrap().entry(key).or_default() += 1;
    }

    fn assert_each_once(&self, expected: usize) {
        let calls = self.0.lock().unwrap();
        assert_eq!(calls.len(), expected);
        assert!(calls.values().all(|&n| n == 1), "{calls:?}");
    }
}

/// The most connections open at once, from the log.
fn peak_open(log: &[ConnectionRecord]) -> usize {
    let mut changes: Vec<(Duration, i32)> = Vec::new();
    for record in log {
        changes.push((record.accepted, 1));
        changes.push((record.closed.unwrap_or(Duration::MAX), -1));
    }
    changes.sort();
    let (mut open, mut peak) = (0i32, 0i32);
    for (_, change) in changes {
        open += change;
        peak = peak.max(open);
    }
    peak as usize
}

fn assert_limits_kept(log: &[ConnectionRecord]) {
    for record in log {
        assert!(record.occupancy.peak_in_flight <= 16, "{record:?}");
        assert!(record.occupancy.named_lanes <= 32, "{record:?}");
        assert_eq!(record.occupancy.peak_queued, 0, "{record:?}");
        assert_eq!(record.errors_sent, 0, "nothing refused: {record:?}");
    }
}

#[test]
fn agent_threads_share_four_connections() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let pool = pool(&server.url()).max_connections(4).build().unwrap();
    let calls = Calls::default();
    let agents: Vec<_> = (0..200)
        .map(|index| {
            let agent = pool.conversation().unwrap();
            let calls = calls.clone();
            thread::spawn(move || {
                (0..2)
                    .map(|turn| {
                        agent
                            .run_tool_loop(ask("Weather?"), |call| {
                                calls.seen(index, turn, call);
                                format!("sunny at {}", call.call_id)
                            })
                            .map(|answer| answer.all_output_text())
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    for agent in agents {
        for answer in agent.join().unwrap() {
            assert_eq!(answer.unwrap(), "It is sunny.");
        }
    }
    // The script's tool round is the conversation's first response: second turns answer at
    // once (the mock plays the conversation's n-th scripted response).
    calls.assert_each_once(200);
    let stats = pool.stats();
    assert_eq!(stats.turns_completed_total, 400, "{stats:?}");
    assert!(stats.connections_dialed_total <= 4, "{stats:?}");
    let log = server.connection_log();
    assert!(peak_open(&log) <= 4, "{log:?}");
    assert_limits_kept(&log);
    pool.close();
    server.shutdown();
}

#[test]
fn a_429_storm_at_upgrade_is_probed_one_connection_at_a_time() {
    let refusal = Refusal::RateLimited {
        retry_after_secs: 1,
    };
    let server = MockServer::start_in_thread(
        tool_round().with_upgrade_refusal(UpgradeFault::new(refusal).first(2)),
    )
    .unwrap();
    let mut backoff = RetryPolicy::default();
    backoff.base_delay = Duration::from_millis(20);
    backoff.max_delay = Duration::from_millis(100);
    let pool = pool(&server.url())
        .max_connections(4)
        .upgrade_backoff(backoff)
        .build()
        .unwrap();
    let agents: Vec<_> = (0..40)
        .map(|_| {
            let agent = pool.conversation().unwrap();
            thread::spawn(move || agent.run_tool_loop(ask("Hi"), |call| call.call_id.clone()))
        })
        .collect();
    for agent in agents {
        agent.join().unwrap().unwrap();
    }
    // From the server's side: after a refusal and until an acceptance, one upgrade at a
    // time, each at least Retry-After after the refusal before it.
    let log = server.connection_log();
    let mut events: Vec<(Duration, u8, u16)> = Vec::new();
    for record in &log {
        let (answered, status) = record.upgrade.expect("answered");
        events.push((record.accepted, 0, 0));
        events.push((answered, 1, status));
    }
    events.sort();
    let (mut outstanding, mut last_refusal, mut refused) = (0, None, 0);
    for &(at, kind, status) in &events {
        if kind == 0 {
            outstanding += 1;
            if let Some(refused_at) = last_refusal {
                assert!(at >= refused_at + Duration::from_secs(1), "{log:?}");
                assert_eq!(outstanding, 1, "{log:?}");
            }
        } else {
            outstanding -= 1;
            last_refusal = (status == 429).then_some(at);
            refused += usize::from(status == 429);
        }
    }
    assert_eq!(refused, 2, "{log:?}");
    assert_eq!(pool.stats().connections_failed_total, 2);
    pool.close();
    server.shutdown();
}

#[test]
fn a_connection_killed_mid_turn_moves_its_conversations_with_each_output_once() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let proxy = Proxy::start(&server);
    let pool = pool(&proxy.url()).max_connections(2).build().unwrap();
    let calls = Calls::default();
    let entered = Arc::new(AtomicUsize::new(0));
    let released = Arc::new(AtomicBool::new(false));
    let agents: Vec<_> = (0..24)
        .map(|index| {
            let agent = pool.conversation().unwrap();
            let (calls, entered, released) = (calls.clone(), entered.clone(), released.clone());
            thread::spawn(move || {
                agent.run_tool_loop(ask("Look it up."), |call| {
                    calls.seen(index, 0, call);
                    entered.fetch_add(1, Ordering::SeqCst);
                    while !released.load(Ordering::SeqCst) {
                        thread::sleep(Duration::from_millis(5));
                    }
                    format!("result of {}", call.call_id)
                })
            })
        })
        .collect();
    while entered.load(Ordering::SeqCst) < 24 {
        thread::sleep(Duration::from_millis(5));
    }
    let on_first = pool.connections()[0].turns_running;
    assert!(on_first > 1);
    proxy.kill(0);
    thread::sleep(Duration::from_millis(20));
    released.store(true, Ordering::SeqCst);
    for agent in agents {
        assert_eq!(
            agent.join().unwrap().unwrap().all_output_text(),
            "It is sunny."
        );
    }
    calls.assert_each_once(24);
    let stats = pool.stats();
    assert_eq!(stats.moves_total as usize, on_first, "{stats:?}");
    assert_limits_kept(&server.connection_log());
    pool.close();
    server.shutdown();
}

#[test]
fn a_turn_dropped_with_its_calls_open_frees_the_lane_and_the_outputs_go_next() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    // One lane in all: a turn that kept it would stall every other conversation.
    let pool = pool(&server.url())
        .max_connections(1)
        .max_turns_per_connection(1)
        .build()
        .unwrap();
    let (a, b) = (pool.conversation().unwrap(), pool.conversation().unwrap());
    let mut turn = a.turn(ask("Weather?")).unwrap();
    let call = turn
        .find_map(|event| match event.unwrap() {
            SessionEvent::ToolCalls { calls, .. } => Some(calls[0].clone()),
            _ => None,
        })
        .unwrap();
    drop(turn);
    assert_eq!(a.pending_tool_calls(), std::slice::from_ref(&call));

    let handler = |call: &ToolCall| call.call_id.clone();
    let answer = b.run_tool_loop(ask("Weather?"), handler).unwrap();
    assert_eq!(answer.all_output_text(), "It is sunny.", "b got the lane");

    let refused = a.turn(ask("And tomorrow?")).unwrap_err();
    assert!(
        matches!(&refused, Error::Rejected(r) if matches!(r.error(), PoolError::ToolCallsOpen(_))),
        "{refused:?}"
    );
    a.submit_tool_output(&call.call_id, "sunny").unwrap();
    let answer = a.continue_tool_loop(handler).unwrap();
    assert_eq!(answer.all_output_text(), "It is sunny.");
    assert_eq!(pool.stats().turns_failed_total, 0);
    pool.close();
    server.shutdown();
}

#[test]
fn mcp_approvals_stop_the_tool_loop_and_continue_once_given() {
    let script = Script::new()
        .tool_calls([
            ScriptedCall::new("lookup", r#"{"q":"branch"}"#),
            ScriptedCall::mcp_approval("git", "push", r#"{"branch":"main"}"#),
        ])
        .text("Pushed.", 1);
    let server = MockServer::start_in_thread(script).unwrap();
    let pool = pool(&server.url()).build().unwrap();
    let agent = pool.conversation().unwrap();
    let handler = |call: &ToolCall| format!("main ({})", call.name);
    let error = agent.run_tool_loop(ask("Push it."), handler).unwrap_err();
    let Error::ApprovalRequired(approvals) = error else {
        panic!("expected approvals, got {error:?}");
    };
    assert_eq!(approvals[0].name, "push");
    agent
        .submit_approval(&approvals[0].call_id, false, Some("not today".into()))
        .unwrap();
    let answer = agent.continue_tool_loop(handler).unwrap();
    assert_eq!(answer.all_output_text(), "Pushed.");
    assert_eq!(pool.stats().turns_failed_total, 0);
    pool.close();
    server.shutdown();
}

#[test]
fn a_full_pool_hands_the_request_back_and_a_closed_pool_takes_no_turn() {
    let script = Script::new()
        .text("Slow", 5)
        .with_delta_delay(Duration::from_millis(40));
    let server = MockServer::start_in_thread(script).unwrap();
    let pool = pool(&server.url())
        .max_connections(1)
        .max_turns_per_connection(1)
        .build()
        .unwrap();
    let (first, second) = (pool.conversation().unwrap(), pool.conversation().unwrap());
    let running = first.try_turn(ask("one")).unwrap();
    let refused = second.try_turn(ask("two")).unwrap_err();
    assert!(refused.is_overloaded());
    assert_eq!(refused.into_request().input, ask("two").input);
    assert_eq!(running.finish().unwrap().all_output_text(), "Slow");
    let fork = first.fork().unwrap();
    assert_eq!(fork.ledger(), first.ledger());
    pool.close();
    assert!(second.turn(ask("late")).is_err());
    server.shutdown();
}

#[test]
fn concurrent_agents_share_one_wss_connection() {
    let test_pki::TestPki {
        ca_pem,
        server_config,
    } = test_pki::localhost();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener);
        let tls = ServerConnection::new(server_config).unwrap();
        let (mut peer, _) = Peer::accept(StreamOwned::new(tls, tcp));
        let mut inputs = Vec::new();
        for i in 0..8 {
            let create = peer.recv();
            let lane = create["stream_id"].as_str().expect("the pool names lanes");
            let on_lane =
                |event: String| event.replacen('{', &format!(r#"{{"stream_id":"{lane}","#), 1);
            let id = format!("resp_{i}");
            let answer = format!(
                "[{}]",
                message(&format!("msg_{i}"), &format!("Answer {i}."))
            );
            peer.send_all(&[on_lane(created(&id)), on_lane(completed(&id, &answer))]);
            inputs.push(create["input"].to_string());
        }
        (inputs, peer.expect_closed().code)
    });
    let config = Config::new(&format!("wss://localhost:{port}/v1/responses"))
        .unwrap()
        .tls(TlsConfig::with_ca_pem(ca_pem));
    let pool = Pool::builder(config).max_connections(1).build().unwrap();
    let agents: Vec<_> = (0..8)
        .map(|i| {
            let agent = pool.conversation().unwrap();
            thread::spawn(move || agent.turn(ask(&format!("Agent {i}"))).unwrap().finish())
        })
        .collect();
    let mut answers: Vec<String> = agents
        .into_iter()
        .map(|agent| agent.join().unwrap().unwrap().all_output_text())
        .collect();
    answers.sort();
    assert_eq!(answers.len(), 8);
    assert!(
        answers.iter().all(|a| a.starts_with("Answer ")),
        "{answers:?}"
    );
    pool.close();
    let (inputs, code) = server.join().unwrap();
    assert_eq!(inputs.len(), 8);
    assert_eq!(code, CloseCode::NORMAL);
}

#[test]
fn an_unreachable_server_fails_the_turn_with_the_cause_instead_of_hanging() {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let pool = pool(&format!("ws://127.0.0.1:{port}/v1/responses"))
        .max_wait(Duration::from_millis(300))
        .build()
        .unwrap();
    let agent = pool.conversation().unwrap();
    let error = match agent.turn(ask("Hello?")) {
        Ok(turn) => turn.finish().unwrap_err(),
        Err(error) => error,
    };
    assert!(error.to_string().contains("127.0.0.1"), "{error}");
    assert!(pool.stats().connections_failed_total >= 1);
    pool.close();
}

/// A TCP proxy in front of the mock whose connections can be killed.
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

    fn kill(&self, index: usize) {
        let conns = self.conns.lock().unwrap();
        let (client, server) = &conns[index];
        let _ = client.shutdown(Shutdown::Both);
        let _ = server.shutdown(Shutdown::Both);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    thread::spawn(move || {
        let mut buf = [0u8; 16 << 10];
        while let Ok(n @ 1..) = from.read(&mut buf) {
            if to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
