//! The adapter over real loopback TCP against a scripted Responses server, every test body
//! run under every runtime: async-std, smol and tokio.

mod support;

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;
use std::time::{Duration, Instant as StdInstant};

use futures_core::future::BoxFuture;
use futures_io::{AsyncRead, AsyncWrite};
use futures_util::StreamExt;
use responses_ws_futures::responses_ws_core::session::SessionConfig;
use responses_ws_futures::responses_ws_core::wire::EventKind;
use responses_ws_futures::responses_ws_core::ws::CloseCode;
use responses_ws_futures::runtime::{AsyncIo, Runtime};
use responses_ws_futures::HttpFallback;
use responses_ws_futures::{
    ClientEvent, ConnectError, Connection, Failure, Lane, ResponseCreate, RetryPolicy,
    SessionEvent, ToolCall,
};
use serde_json::{json, Value};
use support::*;

/// Instantiates each async test body once per runtime.
macro_rules! on_every_runtime {
    ($($name:ident),* $(,)?) => {
        mod async_std_runtime {
            $(#[test]
            fn $name() {
                async_std::task::block_on(super::$name(super::Rt::AsyncStd));
            })*
        }
        mod smol_runtime {
            $(#[test]
            fn $name() {
                smol::block_on(super::$name(super::Rt::Smol));
            })*
        }
        mod tokio_runtime {
            $(#[test]
            fn $name() {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                runtime.unwrap().block_on(super::$name(super::Rt::Tokio));
            })*
        }
    };
}

on_every_runtime!(
    plain_text_turn,
    tool_loop_runs_parallel_calls_concurrently_over_three_steps,
    two_lanes_run_in_parallel,
    split_halves_send_and_read_from_two_tasks,
    refused_upgrades_are_typed_errors,
    dropped_idle_connection_reconnects_and_replays_full_context,
    response_interrupted_by_a_drop_fails_and_is_not_replayed,
    slow_consumer_stops_reading_the_socket,
    tls_with_a_private_ca,
    connect_timeout_bounds_a_connect_that_never_finishes,
    next_event_is_cancel_safe,
    from_stream_runs_over_a_callers_stream,
    steer_reaches_the_running_response,
    connection_limit_reconnects_and_sends_the_waiting_turn,
    an_api_call_after_a_quiet_spell_tells_the_session_the_time_first,
    retries_follow_the_budget_on_refused_upgrades,
    retrying_gives_up_when_the_server_is_gone,
    cancelled_partial_writes_are_finished_and_go_out_vectored,
);

/// A request with model `m` and a text input.
fn ask(text: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("m".into()),
        input: Some(text.into()),
        ..Default::default()
    }
}

/// A request on a named lane.
fn ask_on(lane: &str, text: &str) -> ResponseCreate {
    ResponseCreate {
        stream_id: Some(lane.into()),
        ..ask(text)
    }
}

/// A short description of an event, for exact comparisons.
fn describe(event: &ClientEvent) -> String {
    match event {
        ClientEvent::Connected { .. } => "connected".into(),
        ClientEvent::Disconnected { closed } => format!("disconnected {}", closed.code),
        ClientEvent::Reconnecting { attempt, .. } => format!("reconnecting {attempt}"),
        ClientEvent::GaveUp(gave_up) => format!("gave up {}", gave_up.attempts),
        ClientEvent::Session(session) => describe_session(session),
        other => format!("{other:?}"),
    }
}

/// The session event, if the event is one.
fn session(event: ClientEvent) -> Option<SessionEvent> {
    match event {
        ClientEvent::Session(event) => Some(event),
        _ => None,
    }
}

fn describe_session(event: &SessionEvent) -> String {
    match event {
        SessionEvent::Started {
            lane, response_id, ..
        } => format!("{lane}: started {response_id}"),
        SessionEvent::Stream { lane, event, .. } => match &event.decoded().kind {
            EventKind::OutputTextDelta(delta) => {
                format!("{lane}: delta {}", delta.delta)
            }
            _ => format!("{lane}: {}", event.decoded().event_type()),
        },
        SessionEvent::Completed { lane, response, .. } => {
            format!(
                "{lane}: completed {} {:?}",
                response.id,
                response.all_output_text()
            )
        }
        SessionEvent::Failed { lane, error, .. } => format!("{lane}: failed {error}"),
        SessionEvent::FullContext { lane, reason, .. } => {
            format!("{lane}: full context {reason:?}")
        }
        SessionEvent::SteerAccepted { lane, steer_id } => {
            format!("{lane}: steer accepted {steer_id}")
        }
        SessionEvent::Reconnect { reason } => format!("reconnect {reason:?}"),
        SessionEvent::ToolCalls { lane, calls, .. } => {
            format!("{lane}: {} tool calls", calls.len())
        }
        other => format!("{other:?}"),
    }
}

/// Takes events until one whose description starts with `last`; returns their descriptions.
async fn events_until(conn: &mut Connection, last: &str) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = conn.next_event().await.unwrap().expect("events ended");
        let text = describe(&event);
        let done = text.starts_with(last);
        seen.push(text);
        if done {
            return seen;
        }
    }
}

// --- A plain turn -----------------------------------------------------------------------------

async fn plain_text_turn(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, request) = Peer::accept(&listener);
        assert_eq!(request.path, "/v1/responses");
        assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
        assert_eq!(
            request.header("openai-beta"),
            Some("responses_websockets=2026-02-06")
        );
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "input": [user("Say hello.")]})
        );
        peer.send_all(&[
            created(None, "resp_1"),
            delta(None, "msg_1", 1, "Hel"),
            delta(None, "msg_1", 2, "lo!"),
            completed(None, "resp_1", 3, vec![message("msg_1", "Hello!")]),
        ]);
        // The next turn chains from the first: only the new input goes out.
        assert_eq!(
            peer.recv(),
            json!({
                "type": "response.create", "model": "m", "previous_response_id": "resp_1",
                "input": [user("Again.")]
            })
        );
        peer.send_all(&[
            created(None, "resp_2"),
            completed(None, "resp_2", 1, vec![message("msg_2", "Hi.")]),
        ]);
        let closed = peer.expect_close();
        assert_eq!((closed.code, closed.clean), (CloseCode::NORMAL, true));
    });
    let config = rt
        .config(&server.url())
        .api_key("sk-test")
        .header("OpenAI-Beta", "responses_websockets=2026-02-06");
    let mut conn = Connection::connect(config).await.unwrap();
    assert!(conn.is_open());
    assert_eq!(
        conn.handshake_headers()
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("upgrade"))
            .and_then(|h| h.value_str()),
        Some("websocket")
    );

    conn.create(ask("Say hello.")).await.unwrap();
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "(default lane): started resp_1",
            "(default lane): response.created",
            "(default lane): delta Hel",
            "(default lane): delta lo!",
            "(default lane): response.completed",
            "(default lane): completed resp_1 \"Hello!\"",
        ]
    );
    conn.create(ask("Again.")).await.unwrap();
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "(default lane): started resp_2",
            "(default lane): response.created",
            "(default lane): response.completed",
            "(default lane): completed resp_2 \"Hi.\"",
        ]
    );

    conn.close().await.unwrap();
    assert!(!conn.is_open());
    let last = conn.next_event().await.unwrap().map(|e| describe(&e));
    assert_eq!(last.as_deref(), Some("disconnected 1000"));
    assert!(conn.next_event().await.unwrap().is_none());
    server.join();
}

// --- The tool loop ----------------------------------------------------------------------------

/// Returns `Pending` once, so that `join_all` polls the other handlers before this one ends.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            Poll::Ready(())
        } else {
            yielded = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    })
    .await
}

async fn tool_loop_runs_parallel_calls_concurrently_over_three_steps(rt: Rt) {
    let tools = json!([{"type": "function", "name": "add", "parameters": {"type": "object"}}]);
    let server_tools = tools.clone();
    let server = Server::start(move |listener| {
        let (mut peer, _) = Peer::accept(&listener);
        let call = |id: &str, a: i64, b: i64| function_call(id, "add", json!({"a": a, "b": b}));
        let first = peer.recv();
        assert_eq!(
            first,
            json!({"type": "response.create", "model": "m", "tools": server_tools, "input": [user("Add it all up.")]})
        );
        // Step 1: two parallel calls.
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![call("c1", 1, 2), call("c2", 3, 4)]),
        ]);
        let continuation = |previous: &str, outputs: Vec<Value>| {
            json!({
                "type": "response.create", "model": "m", "tools": server_tools,
                "previous_response_id": previous, "input": outputs
            })
        };
        assert_eq!(
            peer.recv(),
            continuation(
                "resp_1",
                vec![call_output("c1", "3"), call_output("c2", "7")]
            )
        );
        // Step 2: two more.
        peer.send_all(&[
            created(None, "resp_2"),
            completed(
                None,
                "resp_2",
                1,
                vec![call("c3", 3, 7), call("c4", 10, 11)],
            ),
        ]);
        assert_eq!(
            peer.recv(),
            continuation(
                "resp_2",
                vec![call_output("c3", "10"), call_output("c4", "21")]
            )
        );
        // Step 3: one.
        peer.send_all(&[
            created(None, "resp_3"),
            completed(None, "resp_3", 1, vec![call("c5", 21, 21)]),
        ]);
        assert_eq!(
            peer.recv(),
            continuation("resp_3", vec![call_output("c5", "42")])
        );
        // The final answer.
        peer.send_all(&[
            created(None, "resp_4"),
            delta(None, "msg_4", 1, "The answer is 42."),
            completed(
                None,
                "resp_4",
                2,
                vec![message("msg_4", "The answer is 42.")],
            ),
        ]);
        peer.expect_close();
    });
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();

    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let log = Arc::new(Mutex::new(Vec::new()));
    let handler = |call: ToolCall| {
        let (running, most, log) = (running.clone(), most.clone(), log.clone());
        async move {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            log.lock().unwrap().push(call.call_id.clone());
            yield_now().await;
            yield_now().await;
            running.fetch_sub(1, Ordering::SeqCst);
            let args: Value = call.parse_arguments().unwrap();
            (args["a"].as_i64().unwrap() + args["b"].as_i64().unwrap()).to_string()
        }
    };
    let request = ResponseCreate {
        tools: Some(serde_json::from_value(tools).unwrap()),
        ..ask("Add it all up.")
    };
    let response = conn.run_tool_loop(request, handler).await.unwrap();

    assert_eq!(response.id, "resp_4");
    assert_eq!(response.all_output_text(), "The answer is 42.");
    assert_eq!(*log.lock().unwrap(), ["c1", "c2", "c3", "c4", "c5"]);
    assert_eq!(
        most.load(Ordering::SeqCst),
        2,
        "the calls of one response run at once"
    );
    assert!(conn.session().pending_tool_calls(&Lane::Default).is_empty());
    conn.close().await.unwrap();
    // The loop consumed its lane's events: only the close is left.
    assert_eq!(
        conn.next_event()
            .await
            .unwrap()
            .map(|e| describe(&e))
            .as_deref(),
        Some("disconnected 1000")
    );
    server.join();
}

// --- Lanes ------------------------------------------------------------------------------------

async fn two_lanes_run_in_parallel(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        // Both requests arrive before either is answered.
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "stream_id": "a", "model": "m", "input": [user("A?")]})
        );
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "stream_id": "b", "model": "m", "input": [user("B?")]})
        );
        peer.send_all(&[
            created(Some("a"), "resp_a"),
            created(Some("b"), "resp_b"),
            delta(Some("b"), "msg_b", 1, "bee"),
            delta(Some("a"), "msg_a", 1, "ay"),
            completed(Some("b"), "resp_b", 2, vec![message("msg_b", "bee")]),
            completed(Some("a"), "resp_a", 2, vec![message("msg_a", "ay")]),
        ]);
        peer.expect_close();
    });
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    conn.create(ask_on("a", "A?")).await.unwrap();
    conn.create(ask_on("b", "B?")).await.unwrap();
    assert_eq!(conn.session().in_flight(), 2);

    assert_eq!(
        events_until(&mut conn, "a: completed").await,
        [
            "a: started resp_a",
            "a: response.created",
            "b: started resp_b",
            "b: response.created",
            "b: delta bee",
            "a: delta ay",
            "b: response.completed",
            "b: completed resp_b \"bee\"",
            "a: response.completed",
            "a: completed resp_a \"ay\"",
        ]
    );
    assert_eq!(conn.session().in_flight(), 0);
    conn.close().await.unwrap();
    server.join();
}

async fn split_halves_send_and_read_from_two_tasks(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        assert_eq!(peer.recv()["stream_id"], "a");
        peer.send_all(&[
            created(Some("a"), "resp_a"),
            delta(Some("a"), "msg_a", 1, "ay"),
        ]);
        // The second turn comes from the sender while the other task reads the first.
        assert_eq!(peer.recv()["stream_id"], "b");
        peer.send_all(&[
            created(Some("b"), "resp_b"),
            completed(Some("a"), "resp_a", 2, vec![message("msg_a", "ay")]),
            delta(Some("b"), "msg_b", 1, "bee"),
            completed(Some("b"), "resp_b", 2, vec![message("msg_b", "bee")]),
        ]);
        peer.expect_close();
    });
    let conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    let (sender, mut events) = conn.split();
    let reader = rt.spawn(async move {
        let mut done = Vec::new();
        while done.len() < 2 {
            let event = events.next().await.expect("events until both end").unwrap();
            if let Some(SessionEvent::Completed { lane, response, .. }) = session(event) {
                done.push((lane, response.all_output_text()));
            }
        }
        (events, done)
    });
    sender.create(ask_on("a", "A?")).await.unwrap();
    sender.create(ask_on("b", "B?")).await.unwrap();
    let (mut events, done) = reader.await;
    let lane = |name: &str| Lane::Named(name.into());
    assert_eq!(
        done,
        [
            (lane("a"), "ay".to_string()),
            (lane("b"), "bee".to_string())
        ]
    );
    // Closing through the sender ends the stream once its last events are out.
    sender.close().await.unwrap();
    while let Some(event) = events.next().await {
        event.unwrap();
    }
    server.join();
}

// --- Refused upgrades -------------------------------------------------------------------------

async fn refused_upgrades_are_typed_errors(rt: Rt) {
    const UNAUTHORIZED: &str = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let server = Server::start(|listener| {
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(401, &[("Content-Type", "application/json")], UNAUTHORIZED);
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(429, &[("Retry-After", "7")], "slow down");
        let (peer, _) = Peer::accept_request(&listener);
        peer.reject(426, &[], "");
    });

    let error = Connection::connect(rt.config(&server.url()).api_key("sk-wrong"))
        .await
        .unwrap_err();
    let ConnectError::Handshake(_) = error.last() else {
        panic!("expected a refused upgrade, got {error:?}");
    };
    let answer = error.response().unwrap();
    assert_eq!(
        (answer.status, answer.reason.as_str()),
        (401, "Unauthorized")
    );
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.body, UNAUTHORIZED.as_bytes());
    assert!(!answer.body_truncated);
    assert!(!error.wants_http());
    assert!(!format!("{error:?} {error}").contains("sk-wrong"));

    let error = Connection::connect(rt.config(&server.url()))
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.retry_after(), Some("7"));
    assert_eq!(error.response().unwrap().body, "slow down".as_bytes());

    // Refused rather than moved to HTTP + SSE (the default after a 426).
    let config = rt.config(&server.url()).http_fallback(HttpFallback::Never);
    let error = Connection::connect(config).await.unwrap_err();
    assert_eq!(error.status(), Some(426));
    assert!(error.wants_http());
    assert_eq!(
        error.last().to_string(),
        "WebSocket upgrade failed: server answered 426 Upgrade Required (the server asks for plain HTTP instead of WebSocket)"
    );
    server.join();
}

// --- Reconnecting -----------------------------------------------------------------------------

fn quick_policy() -> RetryPolicy {
    let mut policy = RetryPolicy::default();
    policy.base_delay = Duration::from_millis(10);
    policy.max_delay = Duration::from_millis(40);
    policy
}

async fn dropped_idle_connection_reconnects_and_replays_full_context(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "store": false, "input": [user("First?")]})
        );
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![message("msg_1", "First.")]),
        ]);
        // Idle, then gone without a close frame.
        peer.drop_connection();

        // The new connection knows nothing of resp_1: the whole conversation comes again.
        let (mut peer, _) = Peer::accept(&listener);
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
    });
    let config = rt.config(&server.url()).retry(quick_policy());
    let mut conn = Connection::connect(config).await.unwrap();
    let unstored = |text: &str| ResponseCreate {
        store: Some(false),
        ..ask(text)
    };
    conn.create(unstored("First?")).await.unwrap();
    events_until(&mut conn, "(default lane): completed").await;

    let event = conn.next_event().await.unwrap().unwrap();
    assert_eq!(describe(&event), "disconnected 1006");
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

// --- Backpressure -----------------------------------------------------------------------------

async fn slow_consumer_stops_reading_the_socket(rt: Rt) {
    const DELTAS: u64 = 4096;
    const CHUNK: usize = 8 << 10;
    let written = counter();
    let server_written = written.clone();
    let server = Server::start(move |listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.written = server_written;
        peer.recv();
        peer.send(&created(None, "resp_1"));
        let text = "x".repeat(CHUNK);
        for seq in 1..=DELTAS {
            peer.send(&delta(None, "msg_1", seq, &text));
        }
        peer.send(&completed(
            None,
            "resp_1",
            DELTAS + 1,
            vec![message("msg_1", "flood")],
        ));
        peer.expect_close();
    });
    // Uncompressed: the flood must fill TCP's buffers, which permessage-deflate would shrink
    // to almost nothing.
    let config = rt.config(&server.url()).deflate(false);
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ask("Flood me.")).await.unwrap();
    events_until(&mut conn, "(default lane): delta").await;

    // The application stops consuming: nothing more is read, however much the server sends.
    rt.sleep(Duration::from_millis(300)).await;
    let (_, received) = conn.client().expect("WebSocket mode").byte_counts();
    assert!(
        received < 1 << 20,
        "read {received} bytes while nobody consumed"
    );
    rt.sleep(Duration::from_millis(200)).await;
    assert_eq!(
        conn.client().expect("WebSocket mode").byte_counts().1,
        received,
        "no read without a consumer"
    );
    let total = (DELTAS as usize) * CHUNK;
    eprintln!(
        "DIAG received={received} written={} total={total}",
        written.load(Ordering::SeqCst)
    );
    assert!(
        written.load(Ordering::SeqCst) < total,
        "TCP held the server back: it wrote {} of {total} bytes",
        written.load(Ordering::SeqCst)
    );

    // Consuming again drains everything, in order.
    let mut deltas = 1;
    loop {
        match session(conn.next_event().await.unwrap().unwrap()) {
            Some(SessionEvent::Stream { event, .. })
                if event.decoded().event_type() == "response.output_text.delta" =>
            {
                deltas += 1;
            }
            Some(SessionEvent::Completed { response, .. }) => {
                assert_eq!(response.all_output_text(), "flood");
                break;
            }
            _ => {}
        }
    }
    assert_eq!(deltas, DELTAS);
    assert!(written.load(Ordering::SeqCst) > total);
    conn.close().await.unwrap();
    server.join();
}

// --- TLS --------------------------------------------------------------------------------------

async fn tls_with_a_private_ca(rt: Rt) {
    let responses_ws_tls::test_pki::TestPki {
        ca_pem,
        server_config,
    } = responses_ws_tls::test_pki::localhost();
    let server = Server::start(move |listener| {
        // First a client that does not trust the CA: its handshake fails.
        let tcp = accept_tcp(&listener);
        let mut tls = rustls::ServerConnection::new(server_config.clone()).unwrap();
        let mut plain = tcp.try_clone().unwrap();
        while tls.is_handshaking() {
            if tls.complete_io(&mut plain).is_err() {
                break;
            }
        }
        drop(plain);
        // Then one that does.
        let tcp = accept_tcp(&listener);
        let tls = rustls::ServerConnection::new(server_config).unwrap();
        let stream = rustls::StreamOwned::new(tls, tcp.try_clone().unwrap());
        let (mut peer, request) = Peer::over(Box::new(stream), tcp);
        let port = listener.local_addr().unwrap().port();
        assert_eq!(
            request.header("host"),
            Some(format!("localhost:{port}").as_str())
        );
        peer.upgrade();
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "input": [user("Secure?")]})
        );
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![message("msg_1", "Secure.")]),
        ]);
        let closed = peer.expect_close();
        assert_eq!(closed.code, CloseCode::NORMAL);
    });
    let url = format!("wss://localhost:{}/v1/responses", server.port);

    let error = Connection::connect(rt.config(&url)).await.unwrap_err();
    let ConnectError::TlsHandshake { addr, source } = error.last() else {
        panic!("expected a TLS failure, got {error:?}");
    };
    assert_eq!(addr, &format!("localhost:{}", server.port));
    let cause = source
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    assert_eq!(
        cause,
        Some(&rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer
        ))
    );

    let config = rt
        .config(&url)
        .tls(responses_ws_futures::TlsConfig::with_ca_pem(ca_pem));
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(ask("Secure?")).await.unwrap();
    let seen = events_until(&mut conn, "(default lane): completed").await;
    assert_eq!(
        seen.last().unwrap(),
        "(default lane): completed resp_1 \"Secure.\""
    );
    conn.close().await.unwrap();
    server.join();
}

// --- Connect timeout --------------------------------------------------------------------------

/// A runtime whose connects never finish (a black-holed address), with a real timer.
#[derive(Debug)]
struct BlackHole(Rt);

impl Runtime for BlackHole {
    fn connect(
        &self,
        _host: String,
        _port: u16,
    ) -> BoxFuture<'static, std::io::Result<Box<dyn AsyncIo>>> {
        Box::pin(std::future::pending())
    }

    fn sleep_until(&self, deadline: StdInstant) -> BoxFuture<'static, ()> {
        let rt = self.0;
        Box::pin(async move {
            rt.sleep(deadline.saturating_duration_since(StdInstant::now()))
                .await
        })
    }
}

async fn connect_timeout_bounds_a_connect_that_never_finishes(rt: Rt) {
    let config = rt
        .config("ws://192.0.2.1:8080/v1/responses")
        .runtime(BlackHole(rt))
        .connect_timeout(Duration::from_millis(50));
    let started = StdInstant::now();
    let error = Connection::connect(config).await.unwrap_err();
    assert!(started.elapsed() >= Duration::from_millis(50));
    let ConnectError::Timeout { addr, after } = error.last() else {
        panic!("expected a timeout, got {error:?}");
    };
    assert_eq!(
        (addr.as_str(), *after),
        ("192.0.2.1:8080", Duration::from_millis(50))
    );
    assert_eq!(
        error.last().to_string(),
        "connecting to 192.0.2.1:8080 timed out after 50ms"
    );
}

// --- Cancel safety ----------------------------------------------------------------------------

async fn next_event_is_cancel_safe(rt: Rt) {
    const DELTAS: u64 = 200;
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.recv();
        peer.send(&created(None, "resp_1"));
        for seq in 1..=DELTAS {
            peer.send(&delta(None, "msg_1", seq, &seq.to_string()));
            if seq % 20 == 0 {
                std::thread::sleep(Duration::from_millis(3));
            }
        }
        peer.send(&completed(
            None,
            "resp_1",
            DELTAS + 1,
            vec![message("msg_1", "end")],
        ));
        peer.expect_close();
    });
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    conn.create(ask("Count.")).await.unwrap();

    // Every wait for an event races a 1 ms timer, and loses often.
    let mut numbers = Vec::new();
    let mut cancelled = 0;
    loop {
        let next = conn.next_event();
        let tick = rt.sleep(Duration::from_millis(1));
        let event = match futures_util::future::select(Box::pin(next), Box::pin(tick)).await {
            futures_util::future::Either::Left((event, _)) => event.unwrap().unwrap(),
            futures_util::future::Either::Right(_) => {
                cancelled += 1;
                continue;
            }
        };
        match session(event) {
            Some(SessionEvent::Stream { event, .. }) => {
                if let EventKind::OutputTextDelta(delta) = &event.decoded().kind {
                    numbers.push(delta.delta.parse::<u64>().unwrap());
                }
            }
            Some(SessionEvent::Completed { .. }) => break,
            _ => {}
        }
    }
    assert_eq!(numbers, (1..=DELTAS).collect::<Vec<_>>());
    assert!(cancelled > 0, "the race never cancelled a wait");
    conn.close().await.unwrap();
    server.join();
}

// --- A stream of the caller's -----------------------------------------------------------------

async fn from_stream_runs_over_a_callers_stream(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, request) = Peer::accept(&listener);
        assert_eq!(request.path, "/custom/path?x=1");
        peer.recv();
        peer.send_all(&[
            created(None, "resp_1"),
            completed(None, "resp_1", 1, vec![message("msg_1", "Yours.")]),
        ]);
        peer.expect_close();
    });
    let url = format!("ws://127.0.0.1:{}/custom/path?x=1", server.port);
    let stream = rt.tcp(server.port).await;
    let mut conn = Connection::from_stream(stream, rt.config(&url))
        .await
        .unwrap();
    conn.create(ask("Mine?")).await.unwrap();
    let seen = events_until(&mut conn, "(default lane): completed").await;
    assert_eq!(
        seen.last().unwrap(),
        "(default lane): completed resp_1 \"Yours.\""
    );
    conn.close().await.unwrap();
    server.join();
}

// --- Steering ---------------------------------------------------------------------------------

async fn steer_reaches_the_running_response(rt: Rt) {
    let server = Server::start(|listener| {
        let (mut peer, _) = Peer::accept(&listener);
        peer.recv();
        peer.send(&created(None, "resp_1"));
        assert_eq!(
            peer.recv(),
            json!({"type": "response.steer", "previous_response_id": "resp_1", "input": "Shorter."})
        );
        peer.send_all(&[
            json!({
                "type": "response.steer.accepted", "sequence_number": 1,
                "steer": {"id": "steer_1", "previous_response_id": "resp_1"}
            }),
            completed(None, "resp_1", 2, vec![message("msg_1", "Short.")]),
        ]);
        peer.expect_close();
    });
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    conn.create(ask("Tell me everything.")).await.unwrap();
    events_until(&mut conn, "(default lane): started").await;
    conn.steer(&Lane::Default, "Shorter.").await.unwrap();
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "(default lane): response.created",
            "(default lane): steer accepted steer_1",
            "(default lane): response.completed",
            "(default lane): completed resp_1 \"Short.\"",
        ]
    );
    // Nothing runs any more: nothing to steer.
    let refused = conn.steer(&Lane::Default, "More.").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "lane (default lane) has no running response to steer"
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
        let (peer, _) = Peer::accept(&listener);
        drop(listener);
        peer.drop_connection();
    });
    let port = server.port;
    let policy = quick_policy().with_max_attempts(3);
    let mut conn = Connection::connect(rt.config(&server.url()).retry(policy))
        .await
        .unwrap();
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
    assert_eq!(
        seen,
        ["disconnected 1006", "reconnecting 2", "reconnecting 3"]
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

// --- Partial writes ---------------------------------------------------------------------------

/// A stream that takes at most 7 bytes per write, and answers every other write `Pending`;
/// it records the most slices a vectored write was handed.
struct Trickle {
    inner: Box<dyn AsyncIo>,
    pending_next: bool,
    most_slices: Arc<AtomicUsize>,
}

impl Trickle {
    fn poll_trickle(
        &mut self,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.pending_next = !self.pending_next;
        if !self.pending_next {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let n = buf.len().min(7);
        std::pin::Pin::new(&mut self.inner).poll_write(cx, &buf[..n])
    }
}

impl AsyncRead for Trickle {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> Poll<std::io::Result<usize>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Trickle {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.get_mut().poll_trickle(cx, buf)
    }

    fn poll_write_vectored(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let slices = bufs.iter().filter(|b| !b.is_empty()).count();
        this.most_slices.fetch_max(slices, Ordering::SeqCst);
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        this.poll_trickle(cx, first)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        std::pin::Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}

async fn cancelled_partial_writes_are_finished_and_go_out_vectored(rt: Rt) {
    let long = "a long question ".repeat(40);
    let expected = long.clone();
    let server = Server::start(move |listener| {
        let (mut peer, _) = Peer::accept(&listener);
        for lane in ["a", "b"] {
            assert_eq!(
                peer.recv(),
                json!({"type": "response.create", "stream_id": lane, "model": "m", "input": [user(&expected)]})
            );
        }
        for lane in ["a", "b"] {
            peer.send_all(&[
                created(Some(lane), &format!("resp_{lane}")),
                completed(
                    Some(lane),
                    &format!("resp_{lane}"),
                    1,
                    vec![message("msg", lane)],
                ),
            ]);
        }
        peer.expect_close();
    });
    let tcp = rt.tcp(server.port).await;
    let most_slices = Arc::new(AtomicUsize::new(0));
    let stream = Trickle {
        inner: tcp,
        pending_next: false,
        most_slices: most_slices.clone(),
    };
    let mut conn = Connection::from_stream(stream, rt.config(&server.url()))
        .await
        .unwrap();

    // Each create is abandoned after its first poll, its frame partly written at most.
    for lane in ["a", "b"] {
        let create = Box::pin(conn.create(ask_on(lane, &long)));
        let _ = futures_util::future::select(create, std::future::ready(())).await;
    }
    assert_eq!(conn.session().in_flight(), 2);
    // Driving on finishes both frames, byte for byte, in order.
    let mut done = Vec::new();
    while done.len() < 2 {
        if let Some(SessionEvent::Completed { lane, .. }) =
            session(conn.next_event().await.unwrap().unwrap())
        {
            done.push(lane.to_string());
        }
    }
    assert_eq!(done, ["a", "b"]);
    assert!(
        most_slices.load(Ordering::SeqCst) >= 2,
        "several queued chunks go out in one vectored write"
    );
    conn.close().await.unwrap();
    server.join();
}
