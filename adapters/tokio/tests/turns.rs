//! Turns over real loopback TCP against a scripted server: a plain text turn (and the close
//! handshake), a tool loop with parallel calls, two lanes at once, the `Stream` view,
//! cancelled `next_event` calls losing nothing, a split connection used from two tasks, and a
//! tool output injected into a running response (`response.inject`).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::{describe, Reply, Server, Turn};
use futures_util::StreamExt;
use responses_ws_tokio::{
    ClientEvent, Config, Connection, ResponseCreate, SessionEvent, ToolOutput,
};
use serde_json::{json, Value};

fn request(lane: Option<&str>, input: &str) -> ResponseCreate {
    ResponseCreate {
        stream_id: lane.map(String::from),
        model: Some("m".into()),
        input: Some(input.into()),
        ..Default::default()
    }
}

/// Events until (and with) the completion or failure of every one of `requests` requests.
async fn events_until_done(conn: &mut Connection, mut requests: usize) -> Vec<String> {
    let mut seen = Vec::new();
    while requests > 0 {
        let event = conn.next_event().await.unwrap().expect("an event");
        if matches!(
            event,
            ClientEvent::Session(SessionEvent::Completed { .. } | SessionEvent::Failed { .. })
        ) {
            requests -= 1;
        }
        seen.push(describe(&event));
    }
    seen
}

#[tokio::test]
async fn a_text_turn_streams_and_closes_cleanly() {
    let server = Server::builder(|_, _| Turn::text(None, "resp_1", &["Hello", " there"]))
        .start()
        .await;
    let config = Config::new(&server.url())
        .unwrap()
        .api_key("sk-test")
        .header("OpenAI-Beta", "responses_websockets=v1");
    let mut conn = Connection::connect(config).await.unwrap();
    assert!(
        !format!("{conn:?}").contains("sk-test"),
        "the key never shows in Debug"
    );
    assert_eq!(
        conn.handshake_headers()
            .iter()
            .find(|h| h.name == "X-Test")
            .and_then(|h| h.value_str()),
        Some("conn-0")
    );

    let id = conn.create(request(None, "Hi")).await.unwrap();
    assert_eq!(id.0, 0);
    assert_eq!(
        events_until_done(&mut conn, 1).await,
        [
            "- started resp_1",
            "- response.created",
            "- delta Hello",
            "- delta  there",
            "- response.completed",
            "- completed resp_1 \"Hello there\"",
        ]
    );
    assert_eq!(
        server.frames(),
        [(
            0,
            json!({"type": "response.create", "model": "m", "input": [{"type": "message", "role": "user", "content": "Hi"}]})
        )]
    );
    let heads = server.heads();
    assert_eq!(heads.len(), 1);
    assert_eq!(heads[0].1.path, "/v1/responses");
    assert_eq!(heads[0].1.header("authorization"), Some("Bearer sk-test"));
    assert_eq!(
        heads[0].1.header("openai-beta"),
        Some("responses_websockets=v1")
    );

    conn.close().await.unwrap();
    match conn.next_event().await.unwrap() {
        Some(ClientEvent::Disconnected { closed }) => {
            assert_eq!(
                (closed.code.0, closed.sent_code.map(|c| c.0), closed.clean),
                (1000, Some(1000), true)
            );
            assert!(closed.error.is_none());
        }
        other => panic!("expected the close, got {other:?}"),
    }
    assert!(conn.next_event().await.unwrap().is_none());
    assert!(conn.next_event().await.unwrap().is_none(), "stays over");
    server
        .wait_for("the server's close", |s| !s.closes().is_empty())
        .await;
    let closes = server.closes();
    assert_eq!((closes[0].1.code.0, closes[0].1.clean), (1000, true));
    let (sent, received) = conn.client().expect("WebSocket mode").byte_counts();
    assert!(sent > 0 && received > 0);
}

/// The arguments of `add` calls and their sums.
fn add_call(call_id: &'static str, a: i64, b: i64) -> (&'static str, &'static str, String) {
    (call_id, "add", json!({"a": a, "b": b}).to_string())
}

#[tokio::test]
async fn run_tool_loop_answers_parallel_calls_concurrently_over_three_steps() {
    let server = Server::builder(|_, frame| {
        let step = frame["previous_response_id"].as_str().unwrap_or("none");
        let (id, calls) = match step {
            "none" => ("resp_1", vec![add_call("c1", 1, 2), add_call("c2", 3, 4)]),
            "resp_1" => (
                "resp_2",
                vec![
                    add_call("c3", 5, 6),
                    add_call("c4", 7, 8),
                    add_call("c5", 9, 10),
                ],
            ),
            "resp_2" => return Turn::text(None, "resp_3", &["sums: 3 7 11 15 19"]),
            other => panic!("unexpected continuation of {other}"),
        };
        let mut turn = Turn::new(None, id);
        vec![turn.created(), turn.completed_calls(&calls)]
    })
    .start()
    .await;
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    let active = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let calls = Arc::new(AtomicUsize::new(0));
    let response = conn
        .run_tool_loop(request(None, "Add."), |call| {
            let (active, most, calls) =
                (Arc::clone(&active), Arc::clone(&most), Arc::clone(&calls));
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let now = active.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(30)).await;
                active.fetch_sub(1, Ordering::SeqCst);
                let args: Value = call.parse_arguments().unwrap();
                ToolOutput::from(
                    (args["a"].as_i64().unwrap() + args["b"].as_i64().unwrap()).to_string(),
                )
            }
        })
        .await
        .unwrap();

    assert_eq!(response.id, "resp_3");
    assert_eq!(response.all_output_text(), "sums: 3 7 11 15 19");
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(
        most.load(Ordering::SeqCst),
        3,
        "the three calls of step 2 ran at once"
    );
    let output = |call_id: &str, sum: &str| json!({"type": "function_call_output", "call_id": call_id, "output": sum});
    let frames: Vec<Value> = server
        .frames()
        .into_iter()
        .map(|(_, frame)| frame)
        .collect();
    assert_eq!(
        frames,
        [
            json!({"type": "response.create", "model": "m", "input": [{"type": "message", "role": "user", "content": "Add."}]}),
            json!({"type": "response.create", "model": "m", "previous_response_id": "resp_1",
                "input": [output("c1", "3"), output("c2", "7")]}),
            json!({"type": "response.create", "model": "m", "previous_response_id": "resp_2",
                "input": [output("c3", "11"), output("c4", "15"), output("c5", "19")]}),
        ]
    );
    assert!(conn.session().is_idle());
    conn.close().await.unwrap();
    // The loop consumed its lane's events; only the ending is left.
    let rest: Vec<String> = conn
        .events()
        .map(|event| describe(&event.unwrap()))
        .collect()
        .await;
    assert_eq!(rest, ["disconnected 1000"]);
}

#[tokio::test]
async fn two_lanes_run_in_parallel() {
    let server = Server::builder(|_, frame| match frame["stream_id"].as_str() {
        Some("a") => vec![Turn::new(Some("a"), "resp_a").created()],
        Some("b") => {
            let (mut a, mut b) = (
                Turn::new(Some("a"), "resp_a"),
                Turn::new(Some("b"), "resp_b"),
            );
            a.created(); // numbering: the server sent it already
            vec![
                b.created(),
                a.delta("A1"),
                b.delta("B1"),
                a.delta("A2"),
                b.completed_text("B1"),
                a.completed_text("A1A2"),
            ]
        }
        other => panic!("unexpected lane {other:?}"),
    })
    .start()
    .await;
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    let a = conn.create(request(Some("a"), "first")).await.unwrap();
    let b = conn.create(request(Some("b"), "second")).await.unwrap();
    assert_eq!((a.0, b.0), (0, 1));
    let seen: Vec<String> = events_until_done(&mut conn, 2)
        .await
        .into_iter()
        .filter(|event| !event.contains("response."))
        .collect();
    assert_eq!(
        seen,
        [
            "a started resp_a",
            "b started resp_b",
            "a delta A1",
            "b delta B1",
            "a delta A2",
            "b completed resp_b \"B1\"",
            "a completed resp_a \"A1A2\"",
        ]
    );
    let lanes: Vec<Value> = server
        .frames()
        .into_iter()
        .map(|(_, frame)| frame["stream_id"].clone())
        .collect();
    assert_eq!(lanes, [json!("a"), json!("b")]);
}

#[tokio::test]
async fn cancelled_next_event_calls_lose_nothing() {
    let pieces: Vec<String> = (0..40).map(|i| format!("p{i} ")).collect();
    let script_pieces = pieces.clone();
    let server = Server::builder(move |_, _| {
        let mut turn = Turn::new(None, "resp_slow");
        let mut replies = vec![turn.created()];
        for piece in &script_pieces {
            replies.push(Reply::Pause(Duration::from_millis(2)));
            replies.push(turn.delta(piece));
        }
        replies.push(turn.completed_text(&script_pieces.concat()));
        replies
    })
    .start()
    .await;
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    conn.create(request(None, "Slowly.")).await.unwrap();

    let mut deltas = Vec::new();
    let mut cancelled = 0;
    let text = loop {
        tokio::select! {
            event = conn.next_event() => match event.unwrap().expect("an event") {
                ClientEvent::Session(SessionEvent::Stream { event, .. }) => {
                    if let responses_ws_core::wire::EventKind::OutputTextDelta(delta) = &event.decoded().kind {
                        deltas.push(delta.delta.to_string());
                    }
                }
                ClientEvent::Session(SessionEvent::Completed { response, .. }) => break response.all_output_text(),
                _ => {}
            },
            () = tokio::time::sleep(Duration::from_micros(500)) => cancelled += 1,
        }
    };
    assert!(cancelled > 0, "some calls were cancelled mid-wait");
    assert_eq!(deltas, pieces);
    assert_eq!(text, pieces.concat());
}

#[tokio::test]
async fn a_split_connection_sends_from_one_task_while_another_reads() {
    let server = Server::builder(|_, frame| match frame["stream_id"].as_str() {
        Some("a") => vec![Turn::new(Some("a"), "resp_a").created()],
        // Lane a ends only once lane b's turn came in from the sender.
        Some("b") => {
            let (mut a, mut b) = (
                Turn::new(Some("a"), "resp_a"),
                Turn::new(Some("b"), "resp_b"),
            );
            a.created(); // numbering: the server sent it already
            vec![b.created(), a.completed_text("A"), b.completed_text("B")]
        }
        other => panic!("unexpected lane {other:?}"),
    })
    .start()
    .await;
    let conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    let (sender, mut events) = conn.split();
    let reader = tokio::spawn(async move {
        let mut done = Vec::new();
        while done.len() < 2 {
            let event = events.next().await.expect("an event").unwrap();
            if let ClientEvent::Session(SessionEvent::Completed { response, .. }) = &event {
                done.push(response.all_output_text());
            }
        }
        (events, done)
    });
    sender.create(request(Some("a"), "first")).await.unwrap();
    tokio::task::yield_now().await;
    sender.create(request(Some("b"), "second")).await.unwrap();
    let (events, done) = reader.await.unwrap();
    assert_eq!(done, ["A", "B"]);
    sender.close().await.unwrap();
    let rest: Vec<String> = events
        .map(|event| describe(&event.unwrap()))
        .collect()
        .await;
    assert_eq!(rest, ["disconnected 1000"]);
}

#[tokio::test]
async fn an_injected_tool_output_is_committed_into_the_running_response() {
    let call = json!({"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "lookup",
        "arguments": "{}", "status": "completed"});
    let server = Server::builder(move |_, frame: &Value| {
        let text = |event: Value| Reply::Text(event.to_string());
        let response = |status: &str, output: Value| {
            json!({"id": "resp_ma", "object": "response", "created_at": 1, "status": status,
                "model": "m", "output": output})
        };
        match frame["type"].as_str() {
            // The response makes a call and waits for its output, running.
            Some("response.create") => vec![
                text(json!({"type": "response.created", "sequence_number": 0,
                    "response": response("in_progress", json!([]))})),
                text(
                    json!({"type": "response.output_item.done", "sequence_number": 1,
                    "output_index": 0, "item": call}),
                ),
            ],
            Some("response.inject") => {
                assert_eq!(frame["response_id"], "resp_ma");
                assert_eq!(frame["input"][0]["call_id"], "call_1");
                let message = json!({"type": "message", "id": "msg_1", "status": "completed",
                    "role": "assistant", "content": [{"type": "output_text", "text": "Found it.",
                    "annotations": []}]});
                vec![
                    text(
                        json!({"type": "response.inject.created", "sequence_number": 2,
                        "response_id": "resp_ma"}),
                    ),
                    text(json!({"type": "response.completed", "sequence_number": 3,
                        "response": response("completed", json!([call, message]))})),
                ]
            }
            _ => Vec::new(),
        }
    })
    .start()
    .await;
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    conn.create(request(None, "Look it up.")).await.unwrap();
    // The call arrives while the response runs.
    loop {
        if let ClientEvent::Session(SessionEvent::Stream { event, .. }) =
            conn.next_event().await.unwrap().unwrap()
        {
            if event.decoded().event_type() == "response.output_item.done" {
                break;
            }
        }
    }
    let output = responses_ws_core::wire::Item::function_call_output("call_1", "3 results");
    conn.inject(&responses_ws_tokio::Lane::Default, vec![output])
        .await
        .unwrap();
    let mut accepted = false;
    let response = loop {
        match conn.next_event().await.unwrap().unwrap() {
            ClientEvent::Session(SessionEvent::InjectAccepted { response_id, .. }) => {
                assert_eq!(response_id, "resp_ma");
                accepted = true;
            }
            ClientEvent::Session(SessionEvent::ToolCalls { .. }) => {
                panic!("the injected output answered the call")
            }
            ClientEvent::Session(SessionEvent::Completed { response, .. }) => break response,
            _ => {}
        }
    };
    assert!(accepted);
    assert_eq!(response.all_output_text(), "Found it.");
    let frames = server.frames();
    let types: Vec<&str> = (frames.iter())
        .map(|(_, frame)| frame["type"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        types,
        ["response.create", "response.inject"],
        "each sent once"
    );
    conn.close().await.unwrap();
}
