//! Reconnecting: a dropped idle connection and a dropped running response, the session's
//! own requests for a new connection, the retry budget, a manual reconnect, and the
//! keepalive catching a silent server.

use std::net::TcpListener;
use std::time::Instant as StdInstant;

use responses_ws_futures::responses_ws_core::session::SessionConfig;
use responses_ws_futures::responses_ws_core::ws::{self, CloseCode};
use responses_ws_futures::Failure;
use serde_json::json;

use super::*;

on_every_runtime!(
    dropped_idle_connection_reconnects_and_replays_full_context,
    response_interrupted_by_a_drop_fails_and_is_not_replayed,
    connection_limit_reconnects_and_sends_the_waiting_turn,
    an_api_call_after_a_quiet_spell_tells_the_session_the_time_first,
    retries_follow_the_budget_on_refused_upgrades,
    retrying_gives_up_when_the_server_is_gone,
    a_manual_reconnect_after_the_events_ended_carries_the_conversation_on,
    a_silent_server_is_caught_by_the_keepalive_timer,
);

/// A request with `store: false`.
fn unstored(text: &str) -> ResponseCreate {
    ResponseCreate {
        store: Some(false),
        ..ask(text)
    }
}

/// A conversation across a dropped connection: connection 0 answers "First?" and drops
/// without a close frame; on connection 1, which knows nothing of resp_1, "Second?" comes
/// with the whole conversation and is answered. Each 101 names its connection in `X-Test`.
fn two_turns_across_a_drop(listener: TcpListener) {
    let (mut peer, _) = Peer::accept_request(&listener);
    peer.upgrade_with(&[("X-Test", "conn-0")]);
    assert_eq!(
        peer.recv(),
        json!({"type": "response.create", "model": "m", "store": false, "input": [user("First?")]})
    );
    peer.send_all(&[
        created(None, "resp_1"),
        completed(None, "resp_1", 1, vec![message("msg_1", "First.")]),
    ]);
    peer.drop_connection();

    let (mut peer, _) = Peer::accept_request(&listener);
    peer.upgrade_with(&[("X-Test", "conn-1")]);
    assert_eq!(
        replayed(peer.recv()),
        json!({
            "type": "response.create", "model": "m", "store": false,
            "input": [user("First?"), assistant("First."), user("Second?")]
        })
    );
    peer.send_all(&[
        created(None, "resp_2"),
        completed(None, "resp_2", 1, vec![message("msg_2", "Second.")]),
    ]);
    peer.expect_close();
}

async fn dropped_idle_connection_reconnects_and_replays_full_context(rt: Rt) {
    let server = Server::start(two_turns_across_a_drop);
    let config = rt.config(&server.url()).retry(quick_policy());
    let mut conn = Connection::connect(config).await.unwrap();
    assert_eq!(handshake_header(&conn, "x-test").as_deref(), Some("conn-0"));
    conn.create(unstored("First?")).await.unwrap();
    events_until(&mut conn, "(default lane): completed").await;

    let Some(ClientEvent::Disconnected { closed }) = conn.next_event().await.unwrap() else {
        panic!("expected the drop");
    };
    assert_eq!(closed.code, CloseCode::ABNORMAL);
    assert_eq!(closed.error, Some(ws::Error::ConnectionLost));
    let event = conn.next_event().await.unwrap().unwrap();
    assert_eq!(describe(&event), "reconnecting 2");
    let dropped = StdInstant::now();
    let event = conn.next_event().await.unwrap().unwrap();
    assert_eq!(describe(&event), "connected");
    let waited = dropped.elapsed();
    assert!(
        waited >= Duration::from_millis(5),
        "the first retry waits at least half the base delay, waited {waited:?}"
    );
    assert_eq!(handshake_header(&conn, "x-test").as_deref(), Some("conn-1"));

    conn.create(unstored("Second?")).await.unwrap();
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "(default lane): full context NewConnection",
            "(default lane): started resp_2",
            "(default lane): response.created",
            "(default lane): response.completed",
            "(default lane): completed resp_2 \"Second.\"",
        ]
    );
    conn.close().await.unwrap();
    server.join();
}

async fn response_interrupted_by_a_drop_fails_and_is_not_replayed(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "input": [user("Long task.")]})
        );
        peer.send_all(&[created(None, "resp_1"), delta(None, "msg_1", 1, "Work")]);
        peer.drop_connection();
        // On the new connection nothing is replayed: the next frame is the next turn, which
        // carries the interrupted input with the full context.
        let (mut peer, _) = Peer::accept(&listener);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "input": [user("Long task."), user("Try again.")]})
        );
        peer.send_all(&[
            created(None, "resp_2"),
            completed(None, "resp_2", 1, vec![message("msg_2", "Done.")]),
        ]);
        peer.expect_close();
    });
    let config = rt.config(&server.url()).retry(quick_policy());
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ask("Long task.")).await.unwrap();
    assert_eq!(
        events_until(&mut conn, "connected").await,
        [
            "(default lane): started resp_1",
            "(default lane): response.created",
            "(default lane): delta Work",
            "(default lane): failed the connection ended while the response was running",
            "disconnected 1006",
            "reconnecting 2",
            "connected",
        ]
    );
    conn.create(ask("Try again.")).await.unwrap();
    let seen = events_until(&mut conn, "(default lane): completed").await;
    assert_eq!(
        seen.last().unwrap(),
        "(default lane): completed resp_2 \"Done.\""
    );
    conn.close().await.unwrap();
    server.join();
}

// --- The session asks for a new connection ------------------------------------------------------

async fn connection_limit_reconnects_and_sends_the_waiting_turn(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.recv();
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![message("msg_1", "One.")]),
            json!({
                "type": "error", "status": 400,
                "error": {
                    "type": "invalid_request_error", "code": "websocket_connection_limit_reached",
                    "message": "Responses websocket connection limit reached (60 minutes)."
                }
            }),
        ]);
        // The client closes the spent connection itself, normally.
        let closed = peer.expect_close();
        assert_eq!((closed.code, closed.clean), (CloseCode::NORMAL, true));
        let (mut peer, _) = Peer::accept(&listener);
        assert_eq!(
            replayed(peer.recv()),
            json!({
                "type": "response.create", "model": "m",
                "input": [user("One?"), assistant("One."), user("Two?")]
            })
        );
        peer.send_all(&[
            created(None, "resp_2"),
            completed(None, "resp_2", 1, vec![message("msg_2", "Two.")]),
        ]);
        peer.expect_close();
    });
    let config = rt.config(&server.url()).retry(quick_policy());
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ask("One?")).await.unwrap();
    events_until(&mut conn, "(default lane): completed").await;
    assert_eq!(
        events_until(&mut conn, "reconnect").await,
        ["reconnect ConnectionLimit"]
    );
    // Asked while no connection can take it: it waits for the next one.
    conn.create(ask("Two?")).await.unwrap();
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "disconnected 1000",
            "reconnecting 2",
            "connected",
            "(default lane): full context NewConnection",
            "(default lane): started resp_2",
            "(default lane): response.created",
            "(default lane): response.completed",
            "(default lane): completed resp_2 \"Two.\"",
        ]
    );
    conn.close().await.unwrap();
    server.join();
}

async fn an_api_call_after_a_quiet_spell_tells_the_session_the_time_first(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        // Nothing arrives on the old connection: the session rotates before it sends.
        let closed = peer.expect_close();
        assert_eq!((closed.code, closed.clean), (CloseCode::NORMAL, true));
        let (mut peer, _) = Peer::accept(&listener);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "input": [user("Hi?")]})
        );
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![message("msg_1", "Fresh.")]),
        ]);
        peer.expect_close();
    });
    let mut session = SessionConfig::default();
    session.rotate_after = Duration::from_millis(300);
    let config = rt
        .config(&server.url())
        .retry(quick_policy())
        .session(session);
    let mut conn = Connection::connect(config).await.unwrap();
    // Nothing polls the connection meanwhile: the core last saw the time of the upgrade.
    rt.sleep(Duration::from_millis(400)).await;
    conn.create(ask("Hi?")).await.unwrap();
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "reconnect Rotation",
            "disconnected 1000",
            "reconnecting 1",
            "connected",
            "(default lane): started resp_1",
            "(default lane): response.created",
            "(default lane): response.completed",
            "(default lane): completed resp_1 \"Fresh.\"",
        ]
    );
    conn.close().await.unwrap();
    server.join();
}

// --- Reconnect failures -----------------------------------------------------------------------

async fn retries_follow_the_budget_on_refused_upgrades(rt: Rt) {
    let server = Server::start(|listener| {
        let (peer, _) = Peer::accept(&listener);
        peer.drop_connection();
        // A temporary refusal is retried, after the Retry-After it asks for …
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(429, &[("Retry-After", "1")], "busy");
        // … a refusal of the credentials is not.
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(401, &[], "no");
    });
    let config = rt.config(&server.url()).retry(quick_policy());
    let mut conn = Connection::connect(config).await.unwrap();
    let mut next = async || describe(&conn.next_event().await.unwrap().unwrap());
    assert_eq!(next().await, "disconnected 1006");
    assert_eq!(next().await, "reconnecting 2");
    let Some(ClientEvent::Disconnected { closed }) = conn.next_event().await.unwrap() else {
        panic!("expected the refused upgrade");
    };
    assert_eq!(
        closed.error.as_ref().unwrap().to_string(),
        "handshake failed: server answered 429 Too Many Requests"
    );
    let Some(ClientEvent::Reconnecting { attempt, delay, .. }) = conn.next_event().await.unwrap()
    else {
        panic!("expected another attempt");
    };
    assert_eq!(attempt, 3);
    assert!(delay >= Duration::from_secs(1), "Retry-After is honoured");
    let refused = StdInstant::now();
    let Some(ClientEvent::Disconnected { closed }) = conn.next_event().await.unwrap() else {
        panic!("expected the second refusal");
    };
    assert!(
        refused.elapsed() >= Duration::from_millis(900),
        "the delay is waited"
    );
    assert!(closed.error.is_some());
    let Some(ClientEvent::GaveUp(gave_up)) = conn.next_event().await.unwrap() else {
        panic!("expected the budget to give up at the 401");
    };
    assert_eq!((gave_up.attempts, gave_up.cause.status()), (3, Some(401)));
    let Failure::Refused(response) = &gave_up.cause else {
        panic!("expected the refusal as the cause, got {:?}", gave_up.cause);
    };
    assert_eq!(response.body.as_ref(), b"no");
    assert!(conn.next_event().await.unwrap().is_none());
    server.join();
}

async fn retrying_gives_up_when_the_server_is_gone(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        drop(listener);
        peer.recv();
        peer.drop_connection();
    });
    let port = server.port;
    let policy = quick_policy().with_max_attempts(3);
    let mut conn = Connection::connect(rt.config(&server.url()).retry(policy))
        .await
        .unwrap();
    // Sent, and gone with the connection before it started.
    conn.create(ask("Hi?")).await.unwrap();
    server.join();
    let mut seen = Vec::new();
    let gave_up = loop {
        match conn
            .next_event()
            .await
            .unwrap()
            .expect("GaveUp comes before the end")
        {
            ClientEvent::GaveUp(gave_up) => break gave_up,
            event => seen.push(describe(&event)),
        }
    };
    // The budget of three is spent: the waiting request fails with the last cause.
    let failed = format!(
        "(default lane): failed gave up after 3 attempt(s) (sent, not started): {}",
        gave_up.cause
    );
    assert_eq!(
        seen,
        [
            "(default lane): retrying 2 SentNotStarted",
            "disconnected 1006",
            "reconnecting 2",
            "reconnecting 3",
            &failed,
        ]
    );
    assert_eq!(gave_up.attempts, 3);
    let Failure::Transport {
        message,
        transient: true,
    } = &gave_up.cause
    else {
        panic!("expected a refused TCP connect, got {:?}", gave_up.cause);
    };
    assert!(message.contains(&format!("127.0.0.1:{port}")), "{message}");
    assert!(conn.next_event().await.unwrap().is_none());
}

// --- Without retries ----------------------------------------------------------------------------

async fn a_manual_reconnect_after_the_events_ended_carries_the_conversation_on(rt: Rt) {
    let server = Server::start(two_turns_across_a_drop);
    // No retries: the drop ends the events.
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    assert!(conn.is_open());
    conn.create(unstored("First?")).await.unwrap();
    let mut last = String::new();
    while let Some(event) = conn.next_event().await.unwrap() {
        last = describe(&event);
    }
    assert_eq!(last, "gave up 1");
    assert!(!conn.is_open());

    conn.reconnect().await.unwrap();
    assert!(conn.is_open());
    assert_eq!(handshake_header(&conn, "x-test").as_deref(), Some("conn-1"));
    conn.create(unstored("Second?")).await.unwrap();
    let seen = events_until(&mut conn, "(default lane): completed").await;
    assert_eq!(seen[0], "(default lane): full context NewConnection");
    assert_eq!(
        seen.last().unwrap(),
        "(default lane): completed resp_2 \"Second.\""
    );
    conn.close().await.unwrap();
    assert_eq!(
        describe(&conn.next_event().await.unwrap().unwrap()),
        "disconnected 1000"
    );
    assert!(conn.next_event().await.unwrap().is_none());
    server.join();
}

async fn a_silent_server_is_caught_by_the_keepalive_timer(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.recv();
        peer.play_dead();
    });
    let mut ws = ws::Config::default();
    ws.keepalive_interval = Some(Duration::from_millis(50));
    ws.pong_timeout = Duration::from_millis(50);
    let mut conn = Connection::connect(rt.config(&server.url()).ws(ws))
        .await
        .unwrap();
    conn.create(ask("Hi?")).await.unwrap();
    let started = StdInstant::now();
    let Some(ClientEvent::Disconnected { closed }) = conn.next_event().await.unwrap() else {
        panic!("expected the keepalive to fail");
    };
    assert_eq!(
        (closed.code, closed.error),
        (CloseCode::ABNORMAL, Some(ws::Error::PeerTimeout))
    );
    assert_eq!(
        describe(&conn.next_event().await.unwrap().unwrap()),
        "(default lane): failed gave up after 1 attempt(s) (sent, not started): the server stopped answering pings"
    );
    assert_eq!(
        describe(&conn.next_event().await.unwrap().unwrap()),
        "gave up 1"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timer fired, in {:?}",
        started.elapsed()
    );
    assert!(conn.next_event().await.unwrap().is_none());
    drop(conn);
    server.join();
}
