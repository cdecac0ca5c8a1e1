//! The retry budget and the timeouts against a mock that misbehaves, over real TCP: a server
//! that breaks the protocol after every upgrade, one that never answers the upgrade, one that
//! takes a request and then only answers pings, 503 on every upgrade, a close 1011 before a
//! response starts, and a server that stops reading while the application keeps sending.
//! Every wait is a configured fraction of a second; connection counts are asserted.

use std::time::Duration;

use responses_ws_core::client::ClientEvent;
use responses_ws_core::retry::GaveUp;
use responses_ws_core::session::{RequestError, SessionEvent};
use responses_ws_core::ws::{self, CloseCode};
use responses_ws_tokio::mock::{
    BreakKind, FaultOutcome, MockServer, ProtocolBreak, Refusal, Script, StopReading, TurnFault,
    UpgradeFault,
};

use super::agents::{Agent, Setup};
use super::{
    counter, fast_retries, reconnecting, texts, three_call_rollout, three_calls, turn, until_ended,
};

/// What a connection's events said until they ended.
#[derive(Debug, Default)]
struct Ending {
    /// The close code we sent, for each connection that ended.
    sent_codes: Vec<Option<u16>>,
    /// How each request that failed failed.
    failures: Vec<RequestError>,
    gave_up: Option<Box<GaveUp>>,
}

/// Reads every event until the events end.
fn until_over<A: Agent>(agent: &mut A) -> Ending {
    let mut ending = Ending::default();
    while let Some(event) = agent.next_event() {
        match event {
            ClientEvent::Disconnected { closed } => {
                ending.sent_codes.push(closed.sent_code.map(|code| code.0));
            }
            ClientEvent::Session(SessionEvent::Failed { error, .. }) => {
                ending.failures.push(error);
            }
            ClientEvent::GaveUp(gave_up) => ending.gave_up = Some(gave_up),
            _ => {}
        }
    }
    ending
}

pub(crate) fn a_server_that_breaks_the_protocol_gets_one_more_try<A: Agent>() {
    for (kind, code) in [
        (BreakKind::MaskedFrame, 1002),
        (BreakKind::InvalidUtf8, 1007),
    ] {
        let script = Script::new()
            .text("Never sent.", 1)
            .with_protocol_break(ProtocolBreak::new(kind));
        let server = MockServer::start_in_thread(script).unwrap();
        // Four attempts allowed, but a broken server gets only one more.
        let mut agent = A::connect(&server.url(), reconnecting()).unwrap();
        agent.create(turn(None, "Hi"));
        let ending = until_over(&mut agent);
        assert_eq!(ending.sent_codes, [Some(code), Some(code)], "{kind:?}");
        assert_eq!(server.connections(), 2, "{kind:?}: one more try, no more");
        let gave_up = ending.gave_up.expect("the budget gave up");
        assert_eq!(gave_up.attempts, 2);
        assert_eq!(gave_up.cause.close_code(), Some(CloseCode(code)));
        match ending.failures.as_slice() {
            [RequestError::GaveUp(request)] => assert_eq!(request.attempts, 2),
            other => panic!("{kind:?}: expected the request to give up, got {other:?}"),
        }
        server.shutdown();
    }
}

pub(crate) fn an_unanswered_upgrade_is_given_up_at_the_connect_timeout<A: Agent>() {
    let script = Script::new().with_upgrade_refusal(UpgradeFault::new(Refusal::NoAnswer));
    let server = MockServer::start_in_thread(script).unwrap();
    let setup = Setup {
        retry: Some(fast_retries().with_max_attempts(2)),
        connect_timeout: Some(Duration::from_millis(200)),
        ..Setup::default()
    };
    let refused = A::connect(&server.url(), setup).err().expect("no upgrade");
    assert_eq!(refused.attempts, 2, "{}", refused.message);
    assert!(
        refused.message.contains("did not finish in time"),
        "{}",
        refused.message
    );
    assert_eq!(server.connections(), 2);
    server.shutdown();
}

pub(crate) fn a_server_that_only_answers_pings_is_caught_by_the_idle_timeout<A: Agent>() {
    let stall = TurnFault::new(0, FaultOutcome::Stall).on_connection(0);
    let script = Script::new().text("Back again.", 2).with_turn_fault(stall);
    let server = MockServer::start_in_thread(script).unwrap();
    let mut ws = ws::Config::default();
    // Pings go out and are answered while the response never comes.
    ws.keepalive_interval = Some(Duration::from_millis(50));
    let setup = Setup {
        ws: Some(ws),
        idle_timeout: Some(Duration::from_millis(300)),
        ..reconnecting()
    };
    let mut agent = A::connect(&server.url(), setup).unwrap();
    agent.create(turn(None, "Hi"));
    let events = until_ended(&mut agent, 1);
    let failed = events.iter().find_map(|event| match event {
        SessionEvent::Failed { error, .. } => Some(error),
        _ => None,
    });
    assert!(
        matches!(failed, Some(RequestError::IdleTimeout)),
        "{failed:?}"
    );
    let response = agent.tool_loop(turn(None, "Again?"), counter()).unwrap();
    assert_eq!(response.all_output_text(), "Back again.");
    assert_eq!(
        server.connections(),
        2,
        "the silent connection was replaced"
    );
    agent.close();
    server.shutdown();
}

pub(crate) fn service_unavailable_on_every_upgrade_spends_the_budget<A: Agent>() {
    let refusal = Refusal::ServiceUnavailable {
        retry_after_secs: 0,
    };
    let script = Script::new().with_upgrade_refusal(UpgradeFault::new(refusal));
    let server = MockServer::start_in_thread(script).unwrap();
    let refused = A::connect(&server.url(), reconnecting())
        .err()
        .expect("refused");
    assert_eq!(refused.status, Some(503), "{}", refused.message);
    assert_eq!(refused.retry_after.as_deref(), Some("0"));
    assert_eq!(refused.attempts, 4);
    assert_eq!(server.connections(), 4);
    server.shutdown();
}

pub(crate) fn a_close_1011_before_the_response_starts_is_retried_once<A: Agent>() {
    let close = FaultOutcome::Close {
        code: 1011,
        reason: "internal error".into(),
    };
    let script = three_calls().with_turn_fault(TurnFault::new(0, close).on_connection(0));
    assert_eq!(three_call_rollout::<A>(script, reconnecting()), 2);
}

pub(crate) fn a_sender_faster_than_the_socket_stays_under_the_outbound_limit<A: Agent>() {
    const LIMIT: usize = 1 << 20;
    const LANES: usize = 12;
    let input = "x".repeat(LIMIT);
    let script = Script::new()
        .text("Read.", 1)
        .with_stop_reading(StopReading::after_frames(1).on_connection(0));
    let server = MockServer::start_in_thread(script).unwrap();
    let mut ws = ws::Config::default();
    ws.max_outbound_queue = LIMIT;
    // The deaf server is found dead (no pong) and replaced. The pong deadline leaves room
    // for a healthy server that is busy taking 12 MiB on a loaded machine.
    ws.keepalive_interval = Some(Duration::from_millis(200));
    ws.pong_timeout = Duration::from_secs(2);
    let setup = Setup {
        ws: Some(ws),
        ..reconnecting()
    };
    let mut agent = A::connect(&server.url(), setup).unwrap();
    let mut most = 0;
    for lane in 0..LANES {
        agent.create(turn(Some(&format!("lane-{lane}")), &input));
        most = most.max(agent.client().expect("WebSocket mode").queued_bytes());
    }
    // One request may go over the limit (it is taken whole); none is taken beyond it.
    assert!(most < 2 * LIMIT + 4096, "{most} bytes were waiting");
    let answers = texts(&until_ended(&mut agent, LANES));
    assert_eq!(answers.len(), LANES, "every request was answered");
    assert!(
        server.connections() >= 2,
        "the deaf connection was replaced"
    );
    agent.close();
    server.shutdown();
}
