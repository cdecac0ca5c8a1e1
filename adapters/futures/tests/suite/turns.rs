//! Turns: a plain text turn and the close handshake, the tool loop with parallel calls, two
//! lanes at once, a split connection used from two tasks, cancelled `next_event` calls, a
//! stream of the caller's, and steering.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Poll;

use futures_util::StreamExt;
use responses_ws_futures::responses_ws_core::ws::CloseCode;
use responses_ws_futures::{Lane, ToolCall, ToolOutput};
use serde_json::{json, Value};

use super::*;

on_every_runtime!(
    plain_text_turn,
    tool_loop_runs_parallel_calls_concurrently_over_three_steps,
    two_lanes_run_in_parallel,
    split_halves_send_and_read_from_two_tasks,
    next_event_is_cancel_safe,
    from_stream_runs_over_a_callers_stream,
    steer_reaches_the_running_response,
);

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
    assert!(
        !format!("{conn:?}").contains("sk-test"),
        "the key never shows in Debug"
    );
    assert_eq!(
        conn.handshake_headers()
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("upgrade"))
            .and_then(|h| h.value_str()),
        Some("websocket")
    );

    let first = conn.create(ask("Say hello.")).await.unwrap();
    assert_eq!(first.0, 0);
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
    let second = conn.create(ask("Again.")).await.unwrap();
    assert_eq!(second.0, 1);
    assert_eq!(
        events_until(&mut conn, "(default lane): completed").await,
        [
            "(default lane): started resp_2",
            "(default lane): response.created",
            "(default lane): response.completed",
            "(default lane): completed resp_2 \"Hi.\"",
        ]
    );

    let (sent, received) = conn.client().expect("WebSocket mode").byte_counts();
    assert!(sent > 0 && received > 0);

    conn.close().await.unwrap();
    assert!(!conn.is_open());
    let Some(ClientEvent::Disconnected { closed }) = conn.next_event().await.unwrap() else {
        panic!("expected the close");
    };
    assert_eq!(
        (closed.code, closed.sent_code, closed.clean),
        (CloseCode::NORMAL, Some(CloseCode::NORMAL), true)
    );
    assert!(closed.error.is_none());
    assert!(conn.next_event().await.unwrap().is_none());
    assert!(conn.next_event().await.unwrap().is_none(), "stays over");
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
        // Step 2: three more.
        peer.send_all(&[
            created(None, "resp_2"),
            completed(
                None,
                "resp_2",
                1,
                vec![call("c3", 3, 7), call("c4", 10, 11), call("c5", 0, 0)],
            ),
        ]);
        assert_eq!(
            peer.recv(),
            continuation(
                "resp_2",
                vec![
                    call_output("c3", "10"),
                    call_output("c4", "21"),
                    call_output("c5", "0")
                ]
            )
        );
        // Step 3: one.
        peer.send_all(&[
            created(None, "resp_3"),
            completed(None, "resp_3", 1, vec![call("c6", 21, 21)]),
        ]);
        assert_eq!(
            peer.recv(),
            continuation("resp_3", vec![call_output("c6", "42")])
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
            ToolOutput::from(
                (args["a"].as_i64().unwrap() + args["b"].as_i64().unwrap()).to_string(),
            )
        }
    };
    let request = ResponseCreate {
        tools: Some(serde_json::from_value(tools).unwrap()),
        ..ask("Add it all up.")
    };
    let response = conn.run_tool_loop(request, handler).await.unwrap();

    assert_eq!(response.id, "resp_4");
    assert_eq!(response.all_output_text(), "The answer is 42.");
    assert_eq!(*log.lock().unwrap(), ["c1", "c2", "c3", "c4", "c5", "c6"]);
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "the three calls of step 2 run at once"
    );
    assert!(conn.session().pending_tool_calls(&Lane::Default).is_empty());
    assert!(conn.session().is_idle());
    conn.close().await.unwrap();
    // The loop consumed its lane's events: only the close is left.
    let rest: Vec<String> = conn
        .events()
        .map(|event| describe(&event.unwrap()))
        .collect()
        .await;
    assert_eq!(rest, ["disconnected 1000"]);
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
    let a = conn.create(ask_on("a", "A?")).await.unwrap();
    let b = conn.create(ask_on("b", "B?")).await.unwrap();
    assert_eq!((a.0, b.0), (0, 1));
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
    let (events, done) = reader.await;
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
    let rest: Vec<String> = events
        .map(|event| describe(&event.unwrap()))
        .collect()
        .await;
    assert_eq!(rest, ["disconnected 1000"]);
    server.join();
}

// --- Cancel safety ----------------------------------------------------------------------------

async fn next_event_is_cancel_safe(rt: Rt) {
    const DELTAS: u64 = 200;
    let whole = || (1..=DELTAS).map(|n| n.to_string()).collect::<String>();
    let server = Server::start(move |listener| {
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
            vec![message("msg_1", &whole())],
        ));
        peer.expect_close();
    });
    let mut conn = Connection::connect(rt.config(&server.url())).await.unwrap();
    conn.create(ask("Count.")).await.unwrap();

    // Every wait for an event races a 1 ms timer, and loses often.
    let mut numbers = Vec::new();
    let mut cancelled = 0;
    let response = loop {
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
            Some(SessionEvent::Completed { response, .. }) => break response,
            _ => {}
        }
    };
    assert_eq!(numbers, (1..=DELTAS).collect::<Vec<_>>());
    assert_eq!(response.all_output_text(), whole());
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
