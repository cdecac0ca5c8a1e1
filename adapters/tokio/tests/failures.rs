//! What goes wrong, over real loopback TCP: refused upgrades (401, 429, 426), a connect
//! timeout, a dropped idle connection with reconnect on, a slow consumer (backpressure), and
//! a write cancelled half-way.

mod common;

use std::time::Duration;

use common::{describe, Reply, Server, SocketOptions, Turn};
use responses_ws_core::wire::EventKind;
use responses_ws_core::ws::{self, HandshakeError};
use responses_ws_tokio::HttpFallback;
use responses_ws_tokio::{
    ClientEvent, Config, ConnectError, Connection, ResponseCreate, RetryPolicy, SessionEvent,
    TlsConfig,
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

fn header(name: &str, value: &str) -> (String, String) {
    (name.into(), value.into())
}

#[tokio::test]
async fn refused_upgrades_surface_status_headers_and_body() {
    const BODY_401: &str = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let server = Server::builder(|_, _| Vec::new())
        .upgrade(|n| match n {
            0 => Some((
                401,
                vec![header("Content-Type", "application/json")],
                BODY_401.into(),
            )),
            1 => Some((429, vec![header("Retry-After", "7")], b"slow down".to_vec())),
            _ => Some((426, vec![header("Upgrade", "HTTP/1.1")], Vec::new())),
        })
        .start()
        .await;
    let config = once(&server.url()).api_key("sk-wrong");

    let error = Connection::connect(config.clone()).await.unwrap_err();
    let response = error.response().expect("the refusal");
    assert_eq!(
        (response.status, response.reason.as_str()),
        (401, "Unauthorized")
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(&response.body[..], BODY_401.as_bytes());
    assert!(!response.body_truncated);
    assert_eq!(
        error.to_string(),
        "gave up after 1 attempt(s): WebSocket upgrade failed: server answered 401 Unauthorized"
    );
    assert!(!format!("{error:?}").contains("sk-wrong"));

    let error = Connection::connect(config.clone()).await.unwrap_err();
    assert_eq!(error.status(), Some(429));
    assert_eq!(error.response().unwrap().header("Retry-After"), Some("7"));
    assert_eq!(&error.response().unwrap().body[..], b"slow down");

    // Refused rather than moved to HTTP + SSE (the default after a 426).
    let config = config.http_fallback(HttpFallback::Never);
    let error = Connection::connect(config).await.unwrap_err();
    assert!(
        matches!(error.last(), ConnectError::Handshake(HandshakeError::Rejected(r)) if r.status == 426)
    );
    assert_eq!(
        error.last().to_string(),
        "WebSocket upgrade failed: server answered 426 Upgrade Required (the server asks for plain HTTP instead of WebSocket)"
    );
    assert_eq!(server.heads().len(), 3);
    assert!(server.frames().is_empty());
}

#[tokio::test]
async fn the_connect_timeout_bounds_tcp_and_tls() {
    // Accepts TCP, never answers the TLS client hello.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let silent = tokio::spawn(async move {
        let (_tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let config = once(&format!("wss://localhost:{port}/v1/responses"))
        .tls(TlsConfig::default())
        .connect_timeout(Duration::from_millis(200));
    let error = Connection::connect(config).await.unwrap_err();
    match error.last() {
        ConnectError::Timeout { addr, after } => {
            assert_eq!(
                (addr.as_str(), *after),
                (
                    format!("localhost:{port}").as_str(),
                    Duration::from_millis(200)
                )
            );
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    silent.abort();

    // Nothing listens: the OS error comes with the address.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let error = Connection::connect(once(&format!("ws://127.0.0.1:{port}/")))
        .await
        .unwrap_err();
    match error.last() {
        ConnectError::Io { addr, source } => {
            assert_eq!(
                (addr.clone(), source.kind()),
                (
                    format!("127.0.0.1:{port}"),
                    std::io::ErrorKind::ConnectionRefused
                )
            );
        }
        other => panic!("expected an IO error, got {other:?}"),
    }
}

fn quick_reconnects() -> RetryPolicy {
    let mut policy = RetryPolicy::default().with_max_attempts(3);
    policy.base_delay = Duration::from_millis(20);
    policy.max_delay = Duration::from_millis(100);
    policy
}

/// A config without retries: one attempt, every failure final.
fn once(url: &str) -> Config {
    Config::new(url).unwrap().retry(RetryPolicy::never())
}

#[tokio::test]
async fn a_dropped_idle_connection_reconnects_and_the_next_turn_carries_full_context() {
    let server = Server::builder(|connection, _| match connection {
        0 => {
            let mut replies = Turn::text(None, "resp_1", &["Hello"]);
            replies.push(Reply::Drop);
            replies
        }
        _ => Turn::text(None, "resp_2", &["Again"]),
    })
    .start()
    .await;
    let config = Config::new(&server.url())
        .unwrap()
        .retry(quick_reconnects());
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(request(None, "Hi")).await.unwrap();
    let mut first = Vec::new();
    loop {
        let event = conn.next_event().await.unwrap().unwrap();
        let done = matches!(event, ClientEvent::Disconnected { .. });
        if let ClientEvent::Disconnected { closed } = &event {
            assert_eq!(closed.error, Some(ws::Error::ConnectionLost));
        }
        first.push(describe(&event));
        if done {
            break;
        }
    }
    assert_eq!(
        first,
        [
            "- started resp_1",
            "- response.created",
            "- delta Hello",
            "- response.completed",
            "- completed resp_1 \"Hello\"",
            "disconnected 1006",
        ]
    );

    // The next turn waits for the new connection and goes out with the whole conversation.
    conn.create(request(None, "Next")).await.unwrap();
    let mut second = Vec::new();
    loop {
        let event = conn.next_event().await.unwrap().unwrap();
        let done = matches!(event, ClientEvent::Session(SessionEvent::Completed { .. }));
        second.push(describe(&event));
        if done {
            break;
        }
    }
    assert_eq!(
        second,
        [
            "reconnecting 2",
            "connected",
            "- full context NewConnection",
            "- started resp_2",
            "- response.created",
            "- delta Again",
            "- response.completed",
            "- completed resp_2 \"Again\"",
        ]
    );
    let frames = server.frames();
    assert_eq!(frames.len(), 2);
    assert_eq!(frames[1].0, 1, "on the second connection");
    assert_eq!(
        frames[1].1,
        json!({"type": "response.create", "model": "m", "input": [
            {"type": "message", "role": "user", "content": "Hi"},
            // A plain answer is resent in the short form (the core's choice).
            {"type": "message", "role": "assistant", "content": "Hello"},
            {"type": "message", "role": "user", "content": "Next"},
        ]})
    );
    assert_eq!(
        conn.handshake_headers()
            .iter()
            .find(|h| h.name == "X-Test")
            .and_then(|h| h.value_str()),
        Some("conn-1")
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_manual_reconnect_after_the_events_ended_carries_the_conversation_on() {
    let server = Server::builder(|connection, _| match connection {
        0 => {
            let mut replies = Turn::text(None, "resp_1", &["Hello"]);
            replies.push(Reply::Drop);
            replies
        }
        _ => Turn::text(None, "resp_2", &["Again"]),
    })
    .start()
    .await;
    // No retries: the drop ends the events.
    let mut conn = Connection::connect(once(&server.url())).await.unwrap();
    assert!(conn.is_open());
    conn.create(request(None, "Hi")).await.unwrap();
    let mut last = String::new();
    while let Some(event) = conn.next_event().await.unwrap() {
        last = describe(&event);
    }
    assert_eq!(last, "gave up 1");
    assert!(!conn.is_open());

    conn.reconnect().await.unwrap();
    assert!(conn.is_open());
    assert_eq!(
        conn.handshake_headers()
            .iter()
            .find(|h| h.name == "X-Test")
            .and_then(|h| h.value_str()),
        Some("conn-1")
    );
    conn.create(request(None, "Next")).await.unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|e: &String| e.contains("completed resp_2")) {
        seen.push(describe(&conn.next_event().await.unwrap().unwrap()));
    }
    assert_eq!(seen[0], "- full context NewConnection");
    let frames = server.frames();
    assert_eq!(
        (frames.len(), frames[1].0),
        (2, 1),
        "on the second connection"
    );
    conn.close().await.unwrap();
    assert_eq!(
        describe(&conn.next_event().await.unwrap().unwrap()),
        "disconnected 1000"
    );
    assert!(conn.next_event().await.unwrap().is_none());
}

#[tokio::test]
async fn reconnecting_gives_up_after_the_policy_s_attempts() {
    let server = Server::builder(|_, _| vec![Reply::Drop])
        .upgrade(|n| (n > 0).then(|| (503, Vec::new(), Vec::new())))
        .start()
        .await;
    let config = Config::new(&server.url())
        .unwrap()
        .retry(quick_reconnects());
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(request(None, "Hi")).await.unwrap();
    let mut seen = Vec::new();
    while let Some(event) = conn.next_event().await.unwrap() {
        if let ClientEvent::Disconnected { closed } = &event {
            if let Some(ws::Error::Handshake(HandshakeError::Rejected(response))) = &closed.error {
                seen.push(format!("refused {}", response.status));
                continue;
            }
        }
        seen.push(describe(&event));
    }
    // The first connection dropped, two more attempts were refused: the budget of three is
    // spent, the waiting request fails with the last cause, and the events end.
    assert_eq!(
        seen,
        [
            "- retrying 2 SentNotStarted",
            "disconnected 1006",
            "reconnecting 2",
            "refused 503",
            "reconnecting 3",
            "refused 503",
            "- failed gave up after 3 attempt(s) (sent, not started): upgrade refused with 503 \
             Service Unavailable",
            "gave up 3",
        ]
    );
    assert_eq!(server.heads().len(), 3);
}

#[tokio::test]
async fn a_slow_consumer_stops_reading_and_the_server_is_held_back() {
    const DELTAS: usize = 4096;
    const DELTA: usize = 4096;
    let server = Server::builder(|_, _| {
        let mut turn = Turn::new(None, "resp_flood");
        let mut replies = vec![turn.created()];
        for i in 0..DELTAS {
            let c = char::from(b'a' + (i % 26) as u8);
            replies.push(turn.delta(&c.to_string().repeat(DELTA)));
        }
        replies.push(turn.completed_text("done"));
        replies
    })
    .options(SocketOptions {
        send_buffer: Some(64 << 10),
        recv_buffer: None,
    })
    .start()
    .await;
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    conn.create(request(None, "Flood me.")).await.unwrap();

    let mut deltas = 0;
    let mut bytes = 0;
    let count = |event: &ClientEvent| {
        if let ClientEvent::Session(SessionEvent::Stream { event, .. }) = event {
            if let EventKind::OutputTextDelta(delta) = &event.decoded().kind {
                assert_eq!(delta.delta.len(), DELTA);
                return Some(delta.delta.len());
            }
        }
        None
    };
    while deltas < 10 {
        if let Some(n) = count(&conn.next_event().await.unwrap().unwrap()) {
            deltas += 1;
            bytes += n;
        }
    }

    // The application stops consuming: the adapter stops reading, the server's writes stall.
    let received = conn.client().expect("WebSocket mode").byte_counts().1;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let written = server.bytes_written();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        conn.client().expect("WebSocket mode").byte_counts().1,
        received,
        "nothing read while nobody consumes"
    );
    assert!(
        received < 128 << 10,
        "only what ten events needed plus one read: {received}"
    );
    assert_eq!(server.bytes_written(), written, "the server is held back");
    assert!(
        written < DELTAS * DELTA / 2,
        "most of the flood is still at the server: {written}"
    );

    // Consuming again brings everything, in order and whole.
    let response = loop {
        match conn.next_event().await.unwrap().unwrap() {
            ClientEvent::Session(SessionEvent::Completed { response, .. }) => break response,
            event => {
                if let Some(n) = count(&event) {
                    deltas += 1;
                    bytes += n;
                }
            }
        }
    };
    assert_eq!((deltas, bytes), (DELTAS, DELTAS * DELTA));
    assert_eq!(response.id, "resp_flood");
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_write_cancelled_half_way_is_finished_by_the_next_call() {
    const BIG: usize = 12 << 20;
    let server = Server::builder(|_, frame| match frame["stream_id"].as_str() {
        // The server stops reading for a while after the first request.
        None => {
            let mut replies = vec![Reply::Pause(Duration::from_millis(600))];
            replies.extend(Turn::text(None, "resp_small", &["ok"]));
            replies
        }
        Some(_) => Turn::text(Some("big"), "resp_big", &["got it"]),
    })
    .options(SocketOptions {
        send_buffer: None,
        recv_buffer: Some(64 << 10),
    })
    .start()
    .await;
    let input: String = (0..BIG)
        .map(|i| char::from(b'0' + (i % 10) as u8))
        .collect();
    // Uncompressed: 12 MiB of digits must fill the socket, which permessage-deflate would
    // shrink to almost nothing.
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap().deflate(false))
        .await
        .unwrap();
    conn.create(request(None, "small")).await.unwrap();
    server
        .wait_for("the first request", |s| s.frames().len() == 1)
        .await;

    let create = conn.create(request(Some("big"), &input));
    let cancelled = tokio::time::timeout(Duration::from_millis(100), create).await;
    assert!(
        cancelled.is_err(),
        "the socket could not take 12 MiB while the server slept"
    );

    let mut completed = Vec::new();
    while completed.len() < 2 {
        if let ClientEvent::Session(SessionEvent::Completed { response, .. }) =
            conn.next_event().await.unwrap().unwrap()
        {
            completed.push(response.id);
        }
    }
    completed.sort();
    assert_eq!(completed, ["resp_big", "resp_small"]);
    let frames = server.frames();
    assert_eq!(frames.len(), 2);
    let big: &Value = &frames[1].1;
    assert_eq!(big["stream_id"], "big");
    assert_eq!(big["input"][0]["content"].as_str().map(str::len), Some(BIG));
    assert!(
        big["input"][0]["content"] == Value::String(input),
        "every byte arrived, in order"
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn the_session_s_request_for_a_new_connection_is_honoured() {
    const LIMIT: &str = r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"websocket_connection_limit_reached","message":"Responses websocket connection limit reached (60 minutes)."}}"#;
    let server = Server::builder(|connection, _| match connection {
        0 => {
            let mut replies = Turn::text(None, "resp_1", &["One"]);
            replies.push(Reply::Text(LIMIT.into()));
            replies
        }
        _ => Turn::text(None, "resp_2", &["Two"]),
    })
    .start()
    .await;
    let config = Config::new(&server.url())
        .unwrap()
        .retry(quick_reconnects());
    let mut conn = Connection::connect(config).await.unwrap();
    conn.create(request(None, "Hi")).await.unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|e: &String| e.starts_with("disconnected")) {
        seen.push(describe(&conn.next_event().await.unwrap().unwrap()));
    }
    assert_eq!(
        seen[4..],
        [
            "- completed resp_1 \"One\"",
            "reconnect ConnectionLimit",
            "disconnected 1000"
        ]
    );
    conn.create(request(None, "Again")).await.unwrap();
    let mut seen = Vec::new();
    while !seen.iter().any(|e: &String| e.contains("completed")) {
        seen.push(describe(&conn.next_event().await.unwrap().unwrap()));
    }
    assert_eq!(
        seen[..3],
        [
            "reconnecting 2",
            "connected",
            "- full context NewConnection",
        ]
    );
    let closes = server.closes();
    assert_eq!(
        (closes[0].0, closes[0].1.code.0, closes[0].1.clean),
        (0, 1000, true),
        "we closed the spent connection"
    );
    let frames = server.frames();
    assert_eq!((frames.len(), frames[1].0), (2, 1));
    assert_eq!(
        frames[1].1["input"].as_array().map(Vec::len),
        Some(3),
        "the whole conversation"
    );
    conn.close().await.unwrap();
}

#[tokio::test]
async fn a_silent_server_is_caught_by_the_keepalive_timer() {
    let server = Server::builder(|_, _| vec![Reply::Pause(Duration::from_secs(5))])
        .start()
        .await;
    let mut ws = ws::Config::default();
    ws.keepalive_interval = Some(Duration::from_millis(50));
    ws.pong_timeout = Duration::from_millis(50);
    let mut conn = Connection::connect(once(&server.url()).ws(ws))
        .await
        .unwrap();
    conn.create(request(None, "Hi")).await.unwrap();
    let started = std::time::Instant::now();
    match conn.next_event().await.unwrap() {
        Some(ClientEvent::Disconnected { closed }) => {
            assert_eq!(
                (closed.code.0, closed.error),
                (1006, Some(ws::Error::PeerTimeout))
            );
        }
        other => panic!("expected the keepalive to fail, got {other:?}"),
    }
    assert_eq!(
        describe(&conn.next_event().await.unwrap().unwrap()),
        "- failed gave up after 1 attempt(s) (sent, not started): the server stopped answering pings"
    );
    assert_eq!(
        describe(&conn.next_event().await.unwrap().unwrap()),
        "gave up 1"
    );
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the timer fired, not the server"
    );
    assert!(conn.next_event().await.unwrap().is_none());
}

#[tokio::test]
async fn a_401_fetches_fresh_credentials_and_retries_exactly_once() {
    let unauthorized = || {
        Some((
            401,
            Vec::new(),
            br#"{"error":{"code":"invalid_api_key"}}"#.to_vec(),
        ))
    };
    // Refused once, then accepted: the fresh key gets in.
    let server = Server::builder(|_, _| Turn::text(None, "resp_1", &["In"]))
        .upgrade(move |n| (n == 0).then(unauthorized).flatten())
        .start()
        .await;
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = fetched.clone();
    let config = Config::new(&server.url())
        .unwrap()
        .api_key("sk-stale")
        .credentials(move || {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Some("sk-fresh".into())
        });
    let mut conn = Connection::connect(config).await.unwrap();
    let heads = server.heads();
    let auth = |i: usize| heads[i].1.header("authorization").map(String::from);
    assert_eq!(heads.len(), 2);
    assert_eq!(auth(0).as_deref(), Some("Bearer sk-stale"));
    assert_eq!(auth(1).as_deref(), Some("Bearer sk-fresh"));
    assert_eq!(fetched.load(std::sync::atomic::Ordering::SeqCst), 1);
    conn.close().await.unwrap();

    // Refused every time: one fresh attempt, then the 401 is final.
    let server = Server::builder(|_, _| Vec::new())
        .upgrade(move |_| unauthorized())
        .start()
        .await;
    let config = Config::new(&server.url())
        .unwrap()
        .credentials(|| Some("sk-still-wrong".into()));
    let error = Connection::connect(config).await.unwrap_err();
    assert_eq!((error.attempts(), error.status()), (2, Some(401)));
    assert_eq!(server.heads().len(), 2, "exactly one retry");
}

#[tokio::test]
async fn a_flood_while_a_write_waits_is_read_no_further_than_the_set_aside_limit() {
    const DELTAS: usize = 20_000;
    let server = Server::builder(|index, _| {
        if index > 0 {
            return Vec::new();
        }
        // The first request gets a flood, then the server reads nothing more.
        let mut turn = Turn::new(Some("talk"), "resp_flood");
        let mut replies = vec![turn.created()];
        replies.extend((0..DELTAS).map(|_| turn.delta(&"w".repeat(64))));
        replies.push(Reply::Pause(Duration::from_secs(30)));
        replies
    })
    .options(SocketOptions {
        send_buffer: None,
        recv_buffer: Some(4 << 10),
    })
    .start()
    .await;
    let mut ws = ws::Config::default();
    ws.max_outbound_queue = 1 << 20;
    ws.keepalive_interval = Some(Duration::from_millis(200));
    ws.pong_timeout = Duration::from_millis(200);
    // Uncompressed: the flood and the filler must fill the sockets, which permessage-deflate
    // would shrink to almost nothing.
    ws.deflate = ws::DeflateConfig::disabled();
    let mut conn = Connection::connect(once(&server.url()).ws(ws))
        .await
        .unwrap();
    conn.create(request(Some("talk"), "Flood me."))
        .await
        .unwrap();
    // This write waits (the server reads nothing) while the flood arrives, and nobody takes
    // events meanwhile; it ends when the keepalive finds the server deaf.
    let filler = "x".repeat(8 << 20);
    tokio::time::timeout(
        Duration::from_secs(10),
        conn.create(request(Some("filler"), &filler)),
    )
    .await
    .expect("the wait ended by the keepalive")
    .unwrap();
    let mut deltas = 0;
    while let Ok(Some(event)) = conn.next_event().await {
        if let ClientEvent::Session(SessionEvent::Stream { event, .. }) = event {
            deltas += usize::from(matches!(
                event.decoded().kind,
                EventKind::OutputTextDelta(_)
            ));
        }
    }
    // What was set aside, plus what one read buffer held when reading stopped.
    assert!(
        (responses_ws_tokio::MAX_SET_ASIDE_EVENTS..3_000).contains(&deltas),
        "{deltas} events of {DELTAS} were read while nobody took events"
    );
}
