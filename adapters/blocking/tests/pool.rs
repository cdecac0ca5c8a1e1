//! The blocking face of the pool over real loopback TCP and TLS against the mock server: agent
//! threads running tool loops on a few connections (each call answered once; a response's calls
//! handed to the handler in call order, on the agent's own thread), every call of a
//! `Conversation` and its `Turn` (an `Iterator`) on one lane, and concurrent agents over
//! `wss://`. What the engine decides (limits, 429 storms, moves off a lost connection, HTTP +
//! SSE) is the async pool's and is tested there (`adapters/futures/tests/pool_*.rs`).

mod support;

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use responses_ws_blocking::pool::{Error, Pool, PoolBuilder, PoolError};
use responses_ws_blocking::responses_ws_core::ws::CloseCode;
use responses_ws_blocking::responses_ws_tls::rustls::{ServerConnection, StreamOwned};
use responses_ws_blocking::{Config, ResponseCreate, SessionEvent, TlsConfig, ToolCall};
use responses_ws_tls::test_pki;
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
use support::{accept_tcp, completed, created, message, Peer};

fn pool(url: &str) -> PoolBuilder {
    Pool::builder(Config::new(url).unwrap().api_key("sk-test"))
}

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-test").input(text).store(false)
}

fn lookup(q: &str) -> ScriptedCall {
    ScriptedCall::new("lookup", format!(r#"{{"q":"{q}"}}"#))
}

/// By (agent, turn): the arguments of the calls the handler saw, in the order it saw them.
type Seen = Arc<Mutex<HashMap<(usize, usize), Vec<String>>>>;

#[test]
fn agent_threads_run_tool_loops_on_a_few_connections_each_call_once_and_in_order() {
    let script = Script::new()
        .tool_calls([lookup("a"), lookup("b"), lookup("c")])
        .text("Found.", 2);
    let server = MockServer::start_in_thread(script).unwrap();
    let pool = pool(&server.url()).max_connections(4).build().unwrap();
    let seen = Seen::default();
    let agents: Vec<_> = (0..64)
        .map(|index| {
            let agent = pool.conversation().unwrap();
            let seen = Arc::clone(&seen);
            thread::spawn(move || {
                let me = thread::current().id();
                for turn in 0..2 {
                    let handler = |call: &ToolCall| {
                        assert_eq!(thread::current().id(), me, "on the agent's thread");
                        let mut seen = seen.lock().unwrap();
                        seen.entry((index, turn))
                            .or_default()
                            .push(call.arguments.clone());
                        format!("result of {}", call.call_id)
                    };
                    let answer = agent.run_tool_loop(ask("Look it up."), handler).unwrap();
                    assert_eq!(answer.all_output_text(), "Found.");
                }
            })
        })
        .collect();
    agents.into_iter().for_each(|agent| agent.join().unwrap());
    // The script's tool round is each conversation's first response; second turns answer
    // at once.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 64);
    for arguments in seen.values() {
        assert_eq!(arguments, &[r#"{"q":"a"}"#, r#"{"q":"b"}"#, r#"{"q":"c"}"#]);
    }
    let stats = pool.stats();
    assert_eq!(stats.turns_completed_total, 128, "{stats:?}");
    assert!(stats.connections_dialed_total <= 4, "{stats:?}");
    pool.close();
    server.shutdown();
}

/// One lane in all, so each step waits for the one before it to let go: `try_turn` refused,
/// a `Turn` read as an iterator and dropped with its calls open, the conversation refused a
/// new turn until they are answered, MCP approvals out of the tool loop, `continue_tool_loop`,
/// `fork`, and `close`.
#[test]
fn every_call_of_a_conversation_and_its_turn_on_one_lane() {
    let script = Script::new()
        .tool_calls([
            lookup("branch"),
            ScriptedCall::mcp_approval("git", "push", r#"{"branch":"main"}"#),
        ])
        .text("Pushed.", 1);
    let server = MockServer::start_in_thread(script).unwrap();
    let pool = pool(&server.url())
        .max_connections(1)
        .max_turns_per_connection(1)
        .build()
        .unwrap();
    let (a, b) = (pool.conversation().unwrap(), pool.conversation().unwrap());
    let mut turn = a.try_turn(ask("Push it.")).unwrap();
    let full = b.try_turn(ask("Push mine.")).unwrap_err();
    assert!(full.is_overloaded());
    assert_eq!(full.into_request().input, ask("Push mine.").input);

    let calls = turn
        .find_map(|event| match event.unwrap() {
            SessionEvent::ToolCalls { calls, .. } => Some(calls),
            _ => None,
        })
        .unwrap();
    drop(turn);
    assert_eq!(a.pending_tool_calls(), calls);
    let refused = a.turn(ask("And then?")).unwrap_err();
    assert!(
        matches!(&refused, Error::Rejected(r) if matches!(r.error(), PoolError::ToolCallsOpen(_))),
        "{refused:?}"
    );

    // b waited for the lane a's dropped turn let go of.
    let handler = |call: &ToolCall| format!("main ({})", call.name);
    let Error::ApprovalRequired(approvals) = b.run_tool_loop(ask("Push it."), handler).unwrap_err()
    else {
        panic!("the push needs an approval");
    };
    assert_eq!(approvals[0].name, "push");
    b.submit_approval(&approvals[0].call_id, true, None)
        .unwrap();
    assert_eq!(
        b.continue_tool_loop(handler).unwrap().all_output_text(),
        "Pushed."
    );

    a.submit_tool_output(&calls[0].call_id, "main").unwrap();
    a.submit_approval(&calls[1].call_id, false, Some("not today".into()))
        .unwrap();
    assert!(a.pending_tool_calls().is_empty());
    assert_eq!(
        a.continue_tool_loop(handler).unwrap().all_output_text(),
        "Pushed."
    );
    let fork = a.fork().unwrap();
    assert_eq!(fork.ledger(), a.ledger());
    assert_eq!(pool.stats().turns_failed_total, 0);
    pool.close();
    assert!(fork.turn(ask("late")).is_err());
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
