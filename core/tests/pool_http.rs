//! The pool over HTTP + SSE, against the mock in memory (its HTTP side answers `POST`s; a
//! `GET` upgrade goes to its WebSocket side, accepted or refused with 426): configured for
//! HTTP from the start, moved there by a 426 before or during a run, and back on WebSocket
//! mode after the re-probe interval. Every turn runs its tool rounds; no tool output is lost
//! or sent twice, and no turn runs twice.

mod pool_support;

use std::time::Duration;

use pool_support::{check_limits, config, outputs_per_call, tool_round_script, Net, Trace};
use responses_ws_core::client::HttpFallback;
use responses_ws_core::http_client::Transport;
use responses_ws_core::pool::{ConvId, PoolConfig};
use responses_ws_core::wire::ResponseCreate;

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("gpt-test".into()),
        store: Some(false),
        input: Some(text.into()),
        ..ResponseCreate::default()
    }
}

fn falling_back(max_connections: usize) -> PoolConfig {
    let mut config = config(max_connections);
    config.client.http_fallback = HttpFallback::OnUpgradeRequired;
    config.reprobe_after = Duration::from_secs(60);
    config
}

/// Starts a turn of every conversation and runs until all have ended.
fn run_turns(net: &mut Net, convs: &[ConvId], config: &PoolConfig) {
    for &conv in convs {
        net.pool.turn(conv, ask("Look it up"), net.now).unwrap();
    }
    let check = |net: &Net| check_limits(net, config);
    net.run(Duration::from_secs(120), settled, check);
    assert!(settled(net), "{:?}", net.pool.stats());
}

fn settled(net: &Net) -> bool {
    let stats = net.pool.stats();
    stats.turns_in_flight + stats.turns_waiting == 0
}

/// Every turn ended well and once, and every call has exactly one output in its context.
fn check_conversations(net: &Net, convs: &[ConvId], turns_each: usize) {
    for (turn, (conv, result)) in &net.ended {
        assert!(result.is_ok(), "{turn} of {conv}: {result:?}");
    }
    for &conv in convs {
        let ended = net.ended_order.iter().filter(|c| **c == conv).count();
        assert_eq!(ended, turns_each, "{conv}");
        let ledger = net.pool.ledger(conv).unwrap();
        let calls = outputs_per_call(ledger.items());
        assert!(!calls.is_empty(), "{conv} made no call");
        for (call, outputs) in calls {
            assert_eq!(outputs, 1, "{conv}: call {call}");
        }
    }
    for (call, outputs) in &net.outputs {
        assert_eq!(*outputs, 1, "call {call} answered once");
    }
}

#[test]
fn a_pool_configured_for_http_runs_every_turn_and_tool_round_over_http() {
    let mut config = config(2);
    config.transport = Transport::Http;
    config.max_turns_per_connection = 4;
    let mut net = Net::new(config.clone(), tool_round_script());
    let convs: Vec<ConvId> = (0..12)
        .map(|_| net.pool.open_conversation().unwrap())
        .collect();
    run_turns(&mut net, &convs, &config);
    run_turns(&mut net, &convs, &config);
    check_conversations(&net, &convs, 2);

    assert!(net.upgrades.is_empty(), "no upgrade is tried");
    let stats = net.pool.stats();
    assert!(stats.over_http);
    assert_eq!(stats.turns_completed_total, 24);
    // Two tool rounds and two answers per conversation: a request each, at least.
    assert!(net.http_requests >= 12 * 4, "{}", net.http_requests);
    let connections: Vec<_> = net.pool.connections().collect();
    assert_eq!(connections.len(), 2, "{connections:?}");
    assert!(connections.iter().all(|c| c.transport == Transport::Http));
    // At most 2 × 4 requests at once, each on a socket of its own; idle ones are kept for
    // the next requests.
    let dialed = net.trace.iter();
    let dialed = dialed.filter(|(_, t)| matches!(t, Trace::DialedHttp(_)));
    assert_eq!(dialed.count(), 8, "sockets are reused");
    assert_eq!(stats.http_sockets, 8, "{stats:?}");

    // Idle for the TTL: the HTTP connections close with their sockets, and one opens for
    // the next turn.
    net.jump(config.idle_ttl + Duration::from_secs(1));
    let stats = net.pool.stats();
    assert_eq!((stats.http_sockets, net.pool.connections().count()), (0, 0));
    assert!(net.server_conns().is_empty(), "every socket closed");
    run_turns(&mut net, &convs[..1], &config);
    assert!(net.ended.values().all(|(_, result)| result.is_ok()));
}

#[test]
fn a_426_at_the_first_upgrade_moves_the_pool_to_http_with_nothing_lost() {
    let config = falling_back(2);
    let mut net = Net::new(config.clone(), tool_round_script());
    net.upgrade_required = true;
    let convs: Vec<ConvId> = (0..6)
        .map(|_| net.pool.open_conversation().unwrap())
        .collect();
    run_turns(&mut net, &convs, &config);
    check_conversations(&net, &convs, 1);
    let stats = net.pool.stats();
    assert!(stats.over_http, "{stats:?}");
    assert!(net.http_requests > 0);
    let refused = net.trace.iter().filter(|(_, t)| {
        matches!(
            t,
            Trace::Upgrade {
                accepted: false,
                ..
            }
        )
    });
    assert!(refused.count() <= 2, "no more upgrades after the fallback");
}

#[test]
fn a_426_after_a_connection_drops_mid_rollout_moves_its_turns_to_http_with_no_output_lost_or_repeated(
) {
    let config = falling_back(2);
    let mut net = Net::new(config.clone(), tool_round_script());
    net.answer_tools = false;
    let convs: Vec<ConvId> = (0..4)
        .map(|_| net.pool.open_conversation().unwrap())
        .collect();
    for &conv in &convs {
        net.pool.turn(conv, ask("Look it up"), net.now).unwrap();
    }
    // Each turn's first tool calls arrive over WebSocket mode.
    net.run(
        Duration::from_secs(5),
        |net| net.unanswered.len() >= 4,
        |net| check_limits(net, &config),
    );
    assert!(net.unanswered.len() >= 4, "{:?}", net.unanswered);
    assert!(!net.pool.stats().over_http);
    // WebSocket mode is withdrawn; the connections drop with the calls open, and their
    // outputs are given while the conversations move.
    net.upgrade_required = true;
    for conn in net.server_conns() {
        net.kill(conn);
    }
    net.answer_all();
    net.answer_tools = true;
    net.run(Duration::from_secs(120), settled, |net| {
        check_limits(net, &config)
    });
    assert!(settled(&net));
    check_conversations(&net, &convs, 1);
    let stats = net.pool.stats();
    assert!(stats.over_http && stats.moves_total >= 4, "{stats:?}");
    let requests = net.http_requests;
    assert!(
        requests >= 4,
        "continuations over HTTP: {requests} {:?}",
        net.trace
    );
}

#[test]
fn after_the_reprobe_interval_one_websocket_probe_brings_the_pool_back() {
    let config = falling_back(2);
    let mut net = Net::new(config.clone(), tool_round_script());
    net.upgrade_required = true;
    let convs: Vec<ConvId> = (0..3)
        .map(|_| net.pool.open_conversation().unwrap())
        .collect();
    run_turns(&mut net, &convs, &config);
    assert!(net.pool.stats().over_http);

    // Within the interval nothing is probed.
    let asked = net.upgrades.len();
    net.jump(Duration::from_secs(30));
    run_turns(&mut net, &convs, &config);
    assert_eq!(net.upgrades.len(), asked, "no upgrade before the interval");

    // Past it, still refused: one probe, and the pool stays on HTTP for another interval.
    net.jump(Duration::from_secs(31));
    run_turns(&mut net, &convs, &config);
    assert_eq!(net.upgrades.len(), asked + 2, "one probe (asked, refused)");
    assert!(net.pool.stats().over_http);
    run_turns(&mut net, &convs, &config);
    assert_eq!(
        net.upgrades.len(),
        asked + 2,
        "no second probe in the interval"
    );

    // Offered again: the next probe is accepted, the HTTP connection drains and closes,
    // and turns run over WebSocket mode.
    net.upgrade_required = false;
    net.jump(Duration::from_secs(61));
    run_turns(&mut net, &convs, &config);
    let stats = net.pool.stats();
    assert!(!stats.over_http, "{stats:?}");
    assert_eq!(stats.http_sockets, 0, "{stats:?}");
    let transports: Vec<Transport> = net.pool.connections().map(|c| c.transport).collect();
    assert!(!transports.is_empty());
    assert!(
        transports.iter().all(|t| *t == Transport::WebSocket),
        "{transports:?}"
    );
    run_turns(&mut net, &convs, &config);
    check_conversations(&net, &convs, 6);
}
