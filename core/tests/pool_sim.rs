//! Deterministic simulation of the pool against the mock server (in memory, simulated
//! clock): many conversations on few connections, a connection killed mid-turn, a 429
//! storm at upgrade, rotation at the age limit and idle connections closed, backpressure.

mod pool_support;

use std::time::Duration;

use pool_support::{check_limits, config, outputs_per_call, tool_round_script, Net, Upgraded};
use responses_ws_core::mock::AgeLimit;
use responses_ws_core::pool::{ConvId, PoolError};
use responses_ws_core::retry::Failure;
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::Instant;

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("gpt-test".into()),
        store: Some(false),
        input: Some(text.into()),
        ..ResponseCreate::default()
    }
}

fn open(net: &mut Net, n: usize) -> Vec<ConvId> {
    (0..n)
        .map(|_| net.pool.open_conversation().unwrap())
        .collect()
}

/// Every turn ended well, and every tool call of every conversation has exactly one output.
fn assert_all_well(net: &Net, convs: &[ConvId]) {
    for (turn, (conv, result)) in &net.ended {
        assert!(result.is_ok(), "{turn} of {conv}: {result:?}");
    }
    for &conv in convs {
        let ledger = net.pool.ledger(conv).expect("the conversation exists");
        for (call, outputs) in outputs_per_call(ledger.items()) {
            assert_eq!(outputs, 1, "{conv}: call {call}");
        }
    }
    for (call, outputs) in &net.outputs {
        assert_eq!(*outputs, 1, "call {call} answered once");
    }
}

#[test]
fn a_thousand_conversations_on_eight_connections_all_finish_in_arrival_order() {
    let config = config(8);
    let mut net = Net::new(config.clone(), tool_round_script());
    let convs = open(&mut net, 1000);
    for round in 0..2 {
        let first = net.ended.len();
        let mut turns = Vec::new();
        for &conv in &convs {
            turns.push(
                net.pool
                    .turn(conv, ask("What is the weather?"), net.now)
                    .unwrap(),
            );
        }
        let all = first + convs.len();
        net.run(
            Duration::from_secs(600),
            |net| net.ended.len() == all,
            |net| check_limits(net, &config),
        );
        assert_eq!(net.ended.len(), all, "round {round}: every turn ends");
        let admitted: Vec<_> = net.admitted[first..]
            .iter()
            .map(|(turn, _)| *turn)
            .collect();
        assert_eq!(admitted, turns, "round {round}: first come, first served");
    }
    assert_all_well(&net, &convs);
    assert!(net.peak_connections <= 8);
    let stats = net.pool.stats();
    assert_eq!(stats.turns_completed_total, 2000);
    assert_eq!((stats.turns_in_flight, stats.turns_waiting), (0, 0));
    assert!(stats.connections_dialed_total <= 8, "{stats:?}");
    // Most second turns found their lane still holding their conversation, or replayed it.
    assert!(stats.replays_total < 2000, "{stats:?}");
}

#[test]
fn a_connection_killed_mid_turn_moves_its_conversations_with_tool_outputs_exactly_once() {
    let config = config(2);
    let mut net = Net::new(config.clone(), tool_round_script());
    net.answer_tools = false;
    let convs = open(&mut net, 24);
    for &conv in &convs {
        net.pool.turn(conv, ask("Look it up."), net.now).unwrap();
    }
    net.run(
        Duration::from_secs(60),
        |net| net.unanswered.len() == 24,
        |net| check_limits(net, &config),
    );
    assert_eq!(
        net.unanswered.len(),
        24,
        "every turn waits for its tool output"
    );
    let victim = net.admitted[0].1;
    let on_victim = net.admitted.iter().filter(|(_, c)| *c == victim).count();
    assert!(on_victim > 1);
    // Half the outputs go in before the kill: their continuations are sent but never reach
    // the server. The other half go in while the conversations are between connections.
    let later = net.unanswered.split_off(12);
    net.answer_all();
    net.kill(victim);
    net.unanswered = later;
    net.answer_all();
    net.answer_tools = true;
    net.run(
        Duration::from_secs(120),
        |net| net.ended.len() == 24,
        |net| check_limits(net, &config),
    );
    assert_eq!(net.ended.len(), 24);
    assert_all_well(&net, &convs);
    let stats = net.pool.stats();
    assert_eq!(stats.moves_total as usize, on_victim, "{stats:?}");
    assert!(stats.replays_total as usize >= on_victim, "{stats:?}");
}

#[test]
fn a_429_storm_at_upgrade_is_probed_one_connection_at_a_time() {
    let config = config(8);
    let mut net = Net::new(config.clone(), tool_round_script());
    net.storm_until = Some(Instant::ZERO + Duration::from_secs(20));
    let convs = open(&mut net, 200);
    for &conv in &convs {
        net.pool.turn(conv, ask("Hello"), net.now).unwrap();
    }
    net.run(
        Duration::from_secs(300),
        |net| net.ended.len() == 200,
        |net| check_limits(net, &config),
    );
    assert_eq!(net.ended.len(), 200);
    assert_all_well(&net, &convs);

    // After the first refusal: never two upgrades asked at once, and each new one at least
    // Retry-After (2 s) after the refusal before it, until one is accepted.
    let mut outstanding = 0;
    let mut last_refusal = None;
    let mut refusals = 0;
    for &(at, _, what) in &net.upgrades {
        match what {
            Upgraded::Asked => {
                outstanding += 1;
                if let Some(refused_at) = last_refusal {
                    assert!(
                        at - refused_at >= Duration::from_secs(2),
                        "{:?}",
                        net.upgrades
                    );
                    assert_eq!(outstanding, 1, "one probe at a time: {:?}", net.upgrades);
                }
            }
            Upgraded::Refused => {
                refusals += 1;
                outstanding -= 1;
                last_refusal = Some(at);
            }
            Upgraded::Accepted => {
                outstanding -= 1;
                last_refusal = None;
            }
        }
    }
    assert!(refusals >= 5, "a 20 s storm with 2 s waits: {refusals}");
    let stats = net.pool.stats();
    assert!(!stats.throttled);
    assert_eq!(stats.connections_failed_total, refusals, "{stats:?}");
}

#[test]
fn connections_rotate_before_the_age_limit_under_load_and_close_when_idle() {
    let mut config = config(3);
    config.rotate_after = Duration::from_secs(120);
    let script = tool_round_script()
        .with_delta_delay(Duration::from_millis(400))
        .with_age_limit(AgeLimit::after(Duration::from_secs(180)));
    let mut net = Net::new(config.clone(), script);
    let convs = open(&mut net, 8);
    let mut started = 0;
    for &conv in &convs {
        net.pool.turn(conv, ask("Go"), net.now).unwrap();
        started += 1;
    }
    let end = net.now + Duration::from_secs(300);
    let mut seen = 0;
    while net.now < end {
        net.run(
            Duration::from_secs(1),
            |_| false,
            |net| check_limits(net, &config),
        );
        let ended = net.ended_order[seen..].to_vec();
        seen = net.ended_order.len();
        for conv in ended {
            net.pool.turn(conv, ask("Again"), net.now).unwrap();
            started += 1;
        }
    }
    net.run(
        Duration::from_secs(120),
        |net| net.ended.len() == started,
        |net| check_limits(net, &config),
    );
    assert_eq!(net.ended.len(), started);
    assert_all_well(&net, &convs);
    let stats = net.pool.stats();
    assert!(started > 250, "{started} turns");
    assert!(stats.connections_dialed_total >= 3, "rotated: {stats:?}");
    assert_eq!(
        stats.retries_total, 0,
        "no connection reached the server's cap: {stats:?}"
    );

    // Idle for the TTL: every connection closes; the next turn opens one and replays.
    net.run(Duration::from_secs(301), |_| false, |_| {});
    assert_eq!(net.pool.connections().count(), 0);
    assert!(net.server_conns().is_empty());
    let replays = net.pool.stats().replays_total;
    net.pool
        .turn(convs[0], ask("Still there?"), net.now)
        .unwrap();
    net.run(
        Duration::from_secs(60),
        |net| net.ended.len() == started + 1,
        |_| {},
    );
    assert_all_well(&net, &convs);
    assert_eq!(net.pool.stats().replays_total, replays + 1);
}

#[test]
fn a_full_pool_refuses_with_overloaded_and_hands_the_request_back() {
    let mut config = config(1);
    config.max_waiting = 2;
    let mut net = Net::new(config, tool_round_script());
    let convs = open(&mut net, 20);
    for &conv in &convs[..16] {
        net.pool.try_turn(conv, ask("Hi"), net.now).unwrap();
    }
    let refused = net
        .pool
        .try_turn(convs[16], ask("one more"), net.now)
        .unwrap_err();
    assert!(refused.is_overloaded(), "{refused}");
    assert_eq!(refused.into_request(), ask("one more"));

    let waiting = net.pool.turn(convs[16], ask("wait"), net.now).unwrap();
    net.pool.turn(convs[17], ask("wait too"), net.now).unwrap();
    let full = net
        .pool
        .turn(convs[18], ask("no room"), net.now)
        .unwrap_err();
    assert_eq!(
        full.error(),
        &PoolError::Overloaded {
            waiting: 2,
            limit: 2
        }
    );
    let busy = net.pool.turn(convs[17], ask("again"), net.now).unwrap_err();
    assert_eq!(busy.error(), &PoolError::Busy(convs[17]));
    assert_eq!(net.pool.cancel_turn(waiting), Some(ask("wait")));
    assert_eq!(net.pool.stats().turns_waiting, 1);

    net.run(Duration::from_secs(60), |net| net.ended.len() == 17, |_| {});
    assert_eq!(net.ended.len(), 17);
    assert_all_well(&net, &convs);
}

/// The texts of a conversation's context, in order (user and assistant messages).
fn texts(net: &Net, conv: ConvId) -> Vec<String> {
    let ledger = net.pool.ledger(conv).unwrap();
    let json = serde_json::to_value(ledger.items()).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "message")
        .map(|item| match &item["content"] {
            serde_json::Value::String(text) => text.clone(),
            parts => parts[0]["text"].as_str().unwrap_or_default().to_string(),
        })
        .collect()
}

#[test]
fn forked_and_restored_conversations_continue_from_their_context() {
    let config = config(2);
    let mut net = Net::new(config, tool_round_script());
    let first = net.pool.open_conversation().unwrap();
    net.pool
        .turn(first, ask("Plan the trip."), net.now)
        .unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 1, |_| {});
    let before = texts(&net, first);
    assert_eq!(before, ["Plan the trip.", "It is sunny."]);

    let fork = net.pool.fork_conversation(first).unwrap();
    net.pool.turn(fork, ask("And the hotel?"), net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 2, |_| {});
    assert_eq!(
        texts(&net, fork)[..3],
        ["Plan the trip.", "It is sunny.", "And the hotel?"]
    );
    assert_eq!(texts(&net, first), before, "the fork goes its own way");

    // A saved context comes back as a new conversation; its first turn replays it.
    let saved = serde_json::to_string(net.pool.ledger(first).unwrap()).unwrap();
    let restored = net
        .pool
        .restore_conversation(serde_json::from_str(&saved).unwrap())
        .unwrap();
    let replays = net.pool.stats().replays_total;
    net.pool.turn(restored, ask("Next?"), net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 3, |_| {});
    assert_all_well(&net, &[first, fork, restored]);
    assert_eq!(
        texts(&net, restored)[..3],
        ["Plan the trip.", "It is sunny.", "Next?"]
    );
    assert_eq!(net.pool.stats().replays_total, replays + 1);
    let busy = net.pool.fork_conversation(ConvId(99)).unwrap_err();
    assert_eq!(busy, PoolError::UnknownConversation(ConvId(99)));
}

#[test]
fn a_running_turn_is_steered_and_an_idle_conversation_hands_the_input_back() {
    let script = responses_ws_core::mock::Script::new()
        .text("A long answer.", 20)
        .text("A short one.", 1)
        .with_delta_delay(Duration::from_millis(10))
        .with_steering();
    let mut net = Net::new(config(1), script);
    let conv = net.pool.open_conversation().unwrap();
    let idle = net.pool.steer(conv, "Shorter.", net.now).unwrap_err();
    assert_eq!(idle.into_request(), "Shorter.".into());

    let mut request = ask("Explain.");
    request.model = Some("gpt-6-astra".into());
    net.pool.turn(conv, request, net.now).unwrap();
    net.run(Duration::from_millis(50), |_| false, |_| {});
    net.pool.steer(conv, "Shorter.", net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 1, |_| {});
    assert_all_well(&net, &[conv]);
    let texts = texts(&net, conv);
    assert!(texts.iter().any(|t| t == "Shorter."), "{texts:?}");
    assert_eq!(texts.last().map(String::as_str), Some("A short one."));
}

#[test]
fn stored_conversations_chain_on_their_new_connection_instead_of_replaying() {
    let config = config(1);
    let mut net = Net::new(config.clone(), tool_round_script());
    net.answer_tools = false;
    let convs = open(&mut net, 4);
    for &conv in &convs {
        let mut request = ask("Look it up.");
        request.store = Some(true);
        net.pool.turn(conv, request, net.now).unwrap();
    }
    net.run(
        Duration::from_secs(60),
        |net| net.unanswered.len() == 4,
        |_| {},
    );
    let conn = net.admitted[0].1;
    net.kill(conn);
    net.answer_all();
    net.answer_tools = true;
    net.run(
        Duration::from_secs(60),
        |net| net.ended.len() == 4,
        |net| check_limits(net, &config),
    );
    assert_eq!(net.ended.len(), 4);
    assert_all_well(&net, &convs);
    let stats = net.pool.stats();
    assert_eq!(stats.moves_total, 4, "{stats:?}");
    assert_eq!(
        stats.replays_total, 0,
        "chained from the stored responses: {stats:?}"
    );
    assert_eq!(stats.connections_dialed_total, 2, "{stats:?}");
}

#[test]
fn closing_the_pool_lets_running_turns_finish_and_hands_waiting_requests_back() {
    let config = config(1);
    let mut net = Net::new(config, tool_round_script());
    let convs = open(&mut net, 20);
    for &conv in &convs {
        net.pool.turn(conv, ask("Work"), net.now).unwrap();
    }
    net.pump();
    let stats = net.pool.stats();
    assert_eq!((stats.turns_in_flight, stats.turns_waiting), (16, 4));

    net.pool.close(net.now);
    let refused = net.pool.turn(convs[0], ask("More"), net.now).unwrap_err();
    assert_eq!(refused.error(), &PoolError::Closed);
    net.run(Duration::from_secs(60), |net| net.pool.is_closed(), |_| {});
    assert!(net.pool.is_closed());
    assert!(net.server_conns().is_empty(), "every socket closed");
    let (ok, closed): (Vec<_>, Vec<_>) = net.ended.values().partition(|(_, r)| r.is_ok());
    assert_eq!(ok.len(), 16, "running turns finished");
    assert_eq!(closed.len(), 4);
    assert!(closed
        .iter()
        .all(|(_, r)| r.as_ref().unwrap_err().contains("closed")));
}

/// One lane in all, so that a turn holding it would stall every other conversation.
fn one_lane() -> responses_ws_core::pool::PoolConfig {
    let mut config = config(1);
    config.max_turns_per_connection = 1;
    config
}

#[test]
fn a_detached_turn_with_unanswered_calls_frees_its_lane_and_the_outputs_go_with_the_next_turn() {
    let mut net = Net::new(one_lane(), tool_round_script());
    net.answer_tools = false;
    let (a, b) = (
        net.pool.open_conversation().unwrap(),
        net.pool.open_conversation().unwrap(),
    );
    let first = net.pool.turn(a, ask("Look it up."), net.now).unwrap();
    net.run(
        Duration::from_secs(10),
        |net| net.unanswered.len() == 1,
        |_| {},
    );
    let (_, call_id) = net.unanswered.pop().expect("the response asks for a call");
    // Nobody listens any more: the turn ends at once, its call left open.
    net.pool.detach_turn(a, first, net.now);
    net.pump();
    assert_eq!(net.ended.get(&first).map(|(_, r)| r.is_ok()), Some(true));
    let open: Vec<_> = net
        .pool
        .pending_tool_calls(a)
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(open, std::slice::from_ref(&call_id));

    // The one lane is free for another conversation.
    net.answer_tools = true;
    net.pool.turn(b, ask("Hello?"), net.now).unwrap();
    net.run(Duration::from_secs(10), |net| net.ended.len() == 2, |_| {});
    assert_eq!(net.ended.len(), 2, "b's turn got the lane");

    // a's next turn waits for the open call's output, then carries it.
    let refused = net.pool.turn(a, ask("And then?"), net.now).unwrap_err();
    assert_eq!(refused.error(), &PoolError::ToolCallsOpen(a));
    net.pool
        .submit_tool_output(a, &call_id, "sunny", net.now)
        .unwrap();
    *net.outputs.entry(call_id).or_default() += 1;
    net.pool.turn(a, ask("And then?"), net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 3, |_| {});
    assert_all_well(&net, &[a, b]);
    // The model answered the output first, then the new input.
    let texts = texts(&net, a);
    let at = |text: &str| texts.iter().position(|t| t == text);
    assert!(
        at("It is sunny.").unwrap() < at("And then?").unwrap(),
        "{texts:?}"
    );
    assert_eq!(texts.last().map(String::as_str), Some("Done."), "{texts:?}");
}

#[test]
fn a_turn_detached_while_streaming_runs_to_its_end_unheard_and_frees_its_lane() {
    let script = responses_ws_core::mock::Script::new()
        .text("A long answer.", 20)
        .with_delta_delay(Duration::from_millis(10));
    let mut net = Net::new(one_lane(), script);
    let (a, b) = (
        net.pool.open_conversation().unwrap(),
        net.pool.open_conversation().unwrap(),
    );
    let first = net.pool.turn(a, ask("Explain."), net.now).unwrap();
    net.run(Duration::from_millis(50), |_| false, |_| {});
    net.pool.detach_turn(a, first, net.now);
    net.pump();
    assert!(net.ended.is_empty(), "a sent request runs to its end");
    net.pool.turn(b, ask("Hello?"), net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 2, |_| {});
    assert_all_well(&net, &[a, b]);
    assert_eq!(
        texts(&net, a).last().map(String::as_str),
        Some("A long answer.")
    );
}

#[test]
fn answers_given_between_turns_go_out_with_a_continued_turn() {
    let mut net = Net::new(one_lane(), tool_round_script());
    net.answer_tools = false;
    let a = net.pool.open_conversation().unwrap();
    let first = net.pool.turn(a, ask("Look it up."), net.now).unwrap();
    net.run(
        Duration::from_secs(10),
        |net| net.unanswered.len() == 1,
        |_| {},
    );
    let (_, call_id) = net.unanswered.pop().unwrap();
    net.pool.detach_turn(a, first, net.now);
    net.pump();
    assert!(matches!(
        net.pool.continue_turn(a, net.now),
        Err(PoolError::ToolCallsOpen(_))
    ));
    net.pool
        .submit_tool_output(a, &call_id, "sunny", net.now)
        .unwrap();
    *net.outputs.entry(call_id).or_default() += 1;
    net.pool.continue_turn(a, net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 2, |_| {});
    assert_all_well(&net, &[a]);
    assert_eq!(
        texts(&net, a).last().map(String::as_str),
        Some("It is sunny.")
    );
    assert!(net.pool.continue_turn(a, net.now).is_err(), "nothing owed");
}

#[test]
fn a_conversation_fenced_while_its_response_streams_ends_as_fenced_not_interrupted() {
    let script = responses_ws_core::mock::Script::new()
        .text("A long answer.", 20)
        .with_delta_delay(Duration::from_millis(10));
    let mut net = Net::new(config(1), script);
    let a = net.pool.open_journaled("contended").unwrap();
    let b = net.pool.open_conversation().unwrap();
    net.pool.turn(a, ask("Explain."), net.now).unwrap();
    net.pool.turn(b, ask("And you?"), net.now).unwrap();
    net.run(Duration::from_millis(50), |_| false, |_| {});
    assert!(net.ended.is_empty(), "both responses are streaming");
    assert!(
        !net.records.is_empty(),
        "the journaled request was recorded"
    );

    // Another worker took the lease: the request on its way cannot leave its connection,
    // so that connection is dropped under it — yet the turn says why it ended.
    net.pool
        .journal_failed("contended", true, "lease taken".into(), net.now);
    net.run(Duration::from_secs(30), |net| net.ended.len() == 2, |_| {});
    let (conv, result) = net.ended.values().find(|(conv, _)| *conv == a).unwrap();
    assert_eq!(*conv, a);
    let error = result.as_ref().unwrap_err();
    assert!(
        error.starts_with("another worker took the conversation over"),
        "{error}"
    );
    let refused = net.pool.turn(a, ask("Again?"), net.now).unwrap_err();
    assert_eq!(refused.error(), &PoolError::Fenced(a));
}

#[test]
fn turns_waiting_behind_a_dial_that_fails_for_good_end_at_once_with_their_requests() {
    let forbidden = Failure::Transport {
        message: "invalid peer certificate: UnknownIssuer".into(),
        transient: false,
    };
    let mut config = config(1);
    config.max_turns_per_connection = 1;
    let mut net = Net::new(config, tool_round_script());
    net.dial_failure = Some(forbidden);
    let convs: Vec<_> = (0..3)
        .map(|_| net.pool.open_conversation().unwrap())
        .collect();
    for (n, &conv) in convs.iter().enumerate() {
        net.pool
            .turn(conv, ask(&format!("turn {n}")), net.now)
            .unwrap();
    }
    assert_eq!(
        net.pool.stats().turns_waiting,
        2,
        "one connection, one turn on it"
    );
    net.run(Duration::from_secs(120), |net| net.ended.len() == 3, |_| {});
    assert_eq!(net.now, Instant::ZERO, "nobody waited for the next probe");
    let errors: Vec<&String> = net
        .ended
        .values()
        .map(|(_, r)| r.as_ref().unwrap_err())
        .collect();
    assert!(
        errors.iter().all(|e| e.contains("UnknownIssuer")),
        "{errors:?}"
    );
    let handed_back = errors
        .iter()
        .filter(|e| e.starts_with("no connection to the server could be opened"))
        .count();
    assert_eq!(handed_back, 2, "the two waiting turns: {errors:?}");
    let stats = net.pool.stats();
    assert_eq!((stats.turns_waiting, stats.turns_in_flight), (0, 0));
}

#[test]
fn a_dial_that_fails_for_good_leaves_waiting_turns_to_the_connection_that_is_open() {
    let mut config = config(2);
    config.max_turns_per_connection = 1;
    let script = responses_ws_core::mock::Script::new()
        .text("A long answer.", 20)
        .with_delta_delay(Duration::from_millis(10));
    let mut net = Net::new(config, script);
    let a = net.pool.open_conversation().unwrap();
    net.pool.turn(a, ask("First"), net.now).unwrap();
    net.run(Duration::from_millis(50), |_| false, |_| {});
    assert!(
        net.ended.is_empty(),
        "the first turn streams on its open connection"
    );

    // The second turn waits (that connection is full) and a second connection is dialed,
    // which fails for good: the turn keeps waiting for the open one's lane.
    net.dial_failure = Some(Failure::Transport {
        message: "invalid peer certificate: UnknownIssuer".into(),
        transient: false,
    });
    let b = net.pool.open_conversation().unwrap();
    net.pool.turn(b, ask("Second"), net.now).unwrap();
    net.run(Duration::from_secs(30), |net| net.ended.len() == 2, |_| {});
    assert_all_well(&net, &[a, b]);
}

#[test]
fn a_dial_that_fails_for_good_ends_its_turn_at_once_and_a_transient_one_keeps_trying() {
    let untrusted = Failure::Transport {
        message: "invalid peer certificate: UnknownIssuer".into(),
        transient: false,
    };
    let mut net = Net::new(config(2), tool_round_script());
    net.dial_failure = Some(untrusted);
    let a = net.pool.open_conversation().unwrap();
    net.pool.turn(a, ask("Hi"), net.now).unwrap();
    net.run(
        Duration::from_secs(120),
        |net| !net.ended.is_empty(),
        |_| {},
    );
    let (_, result) = net.ended.values().next().unwrap();
    let error = result.as_ref().unwrap_err();
    assert!(error.contains("UnknownIssuer"), "{error}");
    assert_eq!(net.now, Instant::ZERO, "no backoff before giving up");

    // A refused TCP connection may succeed later: the turn waits (up to `max_wait`).
    let mut net = Net::new(config(2), tool_round_script());
    net.dial_failure = Some(Failure::Transport {
        message: "connection refused".into(),
        transient: true,
    });
    let a = net.pool.open_conversation().unwrap();
    net.pool.turn(a, ask("Hi"), net.now).unwrap();
    net.run(Duration::from_secs(5), |net| !net.ended.is_empty(), |_| {});
    assert!(net.ended.is_empty(), "still trying after 5 s");
    net.dial_failure = None;
    net.run(Duration::from_secs(60), |net| !net.ended.is_empty(), |_| {});
    assert_all_well(&net, &[a]);
}
