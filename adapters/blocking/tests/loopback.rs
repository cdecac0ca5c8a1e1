//! The blocking adapter against a scripted Responses server over real loopback TCP: a plain
//! turn, a tool loop, parallel lanes, steering, refused upgrades, connect failures, reconnects
//! with full-context replay, and backpressure on a slow consumer.

mod support;

use std::net::TcpListener;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use responses_ws_blocking::responses_ws_core::session::SessionConfig;
use responses_ws_blocking::responses_ws_core::ws::{CloseCode, HandshakeError};
use responses_ws_blocking::HttpFallback;
use responses_ws_blocking::{
    ClientEvent, Config, ConnectError, Connection, Error, Failure, Lane, ResponseCreate,
    RetryPolicy, ToolOutput,
};
use serde_json::json;
use support::*;

fn turn(input: &str) -> ResponseCreate {
    ResponseCreate {
        model: Some("m".into()),
        store: Some(false),
        input: Some(input.into()),
        ..Default::default()
    }
}

fn on_lane_turn(lane: &str, input: &str) -> ResponseCreate {
    ResponseCreate {
        stream_id: Some(lane.into()),
        ..turn(input)
    }
}

/// A fast retry budget for tests: three attempts, 1–2 ms before the first retry.
fn fast_retry() -> RetryPolicy {
    let mut policy = RetryPolicy::default().with_max_attempts(3);
    policy.base_delay = Duration::from_millis(2);
    policy
}

/// Summaries of the events up to and including the first one that `stop` accepts.
fn events_until(conn: &mut Connection, stop: impl Fn(&str) -> bool) -> Vec<String> {
    let mut seen = Vec::new();
    loop {
        let event = conn
            .next_event()
            .unwrap()
            .expect("the connection ended early");
        let line = summary(&event);
        let done = stop(&line);
        seen.push(line);
        if done {
            return seen;
        }
    }
}

#[test]
fn a_plain_text_turn_streams_and_completes() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut peer, request) = Peer::accept(accept_tcp(&listener));
        assert_eq!(request.path, "/v1/responses");
        let auth = request
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case("authorization"))
            .and_then(|h| h.value_str().map(str::to_owned));
        assert_eq!(auth.as_deref(), Some("Bearer sk-test"));
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "store": false,
                   "input": [{"type": "message", "role": "user", "content": "Say hello."}]})
        );
        peer.send_all(&[
            created("resp_1"),
            delta("msg_1", "Hello"),
            delta("msg_1", " there"),
            completed("resp_1", &format!("[{}]", message("msg_1", "Hello there"))),
        ]);
        peer.expect_closed()
    });

    let config = Config::new(&url).unwrap().api_key("sk-test");
    let mut conn = Connection::connect(config).unwrap();
    assert!(conn.is_open());
    // The upgrade's `Connected` is the success of `connect`; its headers stay readable.
    assert!(conn
        .handshake_headers()
        .iter()
        .any(|h| h.name.eq_ignore_ascii_case("upgrade")));
    let request = conn.create(turn("Say hello.")).unwrap();
    assert_eq!(request.0, 0);
    let seen = events_until(&mut conn, |line| line.starts_with("completed"));
    assert_eq!(
        seen,
        [
            "started - #0 resp_1",
            "stream - #0 response.created",
            "stream - #0 response.output_text.delta",
            "stream - #0 response.output_text.delta",
            "stream - #0 response.completed",
            "completed - #0 resp_1 \"Hello there\"",
        ]
    );
    conn.close().unwrap();
    assert_eq!(
        conn.events()
            .map(|e| summary(&e.unwrap()))
            .collect::<Vec<_>>(),
        ["disconnected 1000"]
    );
    assert!(!conn.is_open());
    assert!(matches!(conn.next_event(), Ok(None)));

    let closed = server.join().unwrap();
    assert_eq!(closed.code, CloseCode::NORMAL);
    assert!(closed.clean);
}

#[test]
fn the_tool_loop_answers_parallel_calls_over_three_steps() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut peer, _) = Peer::accept(accept_tcp(&listener));
        assert_eq!(peer.recv()["stream_id"], "side");
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "store": false,
                   "input": [{"type": "message", "role": "user", "content": "Compute."}]})
        );
        let calls = [
            function_call("c1", "add", r#"{"a":1,"b":2}"#),
            function_call("c2", "add", r#"{"a":3,"b":4}"#),
        ];
        peer.send_all(&[
            on_lane(&created("resp_side"), "side"),
            on_lane(&completed("resp_side", "[]"), "side"),
            created("resp_1"),
            completed("resp_1", &format!("[{}]", calls.join(","))),
        ]);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "store": false,
                   "previous_response_id": "resp_1",
                   "input": [{"type": "function_call_output", "call_id": "c1", "output": "3"},
                             {"type": "function_call_output", "call_id": "c2", "output": "7"}]})
        );
        let calls = [
            function_call("c3", "add", r#"{"a":3,"b":7}"#),
            function_call("c4", "mul", r#"{"a":3,"b":7}"#),
        ];
        peer.send_all(&[
            created("resp_2"),
            completed("resp_2", &format!("[{}]", calls.join(","))),
        ]);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.create", "model": "m", "store": false,
                   "previous_response_id": "resp_2",
                   "input": [{"type": "function_call_output", "call_id": "c3", "output": "10"},
                             {"type": "function_call_output", "call_id": "c4", "output": "21"}]})
        );
        peer.send_all(&[
            created("resp_3"),
            completed("resp_3", &format!("[{}]", message("msg_3", "10 and 21"))),
        ]);
        peer.expect_closed().code
    });

    let mut conn = Connection::connect(Config::new(&url).unwrap()).unwrap();
    conn.create(on_lane_turn("side", "Aside.")).unwrap();
    let mut calls = Vec::new();
    let response = conn
        .run_tool_loop(turn("Compute."), |call| {
            calls.push(format!("{} {}", call.call_id, call.name));
            let args: serde_json::Value = call.parse_arguments().unwrap();
            let (a, b) = (args["a"].as_i64().unwrap(), args["b"].as_i64().unwrap());
            let result = if call.name == "mul" { a * b } else { a + b };
            ToolOutput::Text(result.to_string())
        })
        .unwrap();
    assert_eq!(response.id, "resp_3");
    assert_eq!(response.all_output_text(), "10 and 21");
    assert_eq!(calls, ["c1 add", "c2 add", "c3 add", "c4 mul"]);
    // The other lane's events were kept for the application.
    let kept: Vec<String> = (0..4)
        .map(|_| summary(&conn.next_event().unwrap().unwrap()))
        .collect();
    assert_eq!(
        kept,
        [
            "started side #0 resp_side",
            "stream side #0 response.created",
            "stream side #0 response.completed",
            "completed side #0 resp_side \"\"",
        ]
    );
    conn.close().unwrap();
    assert_eq!(server.join().unwrap(), CloseCode::NORMAL);
}

#[test]
fn two_lanes_run_in_parallel() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut peer, _) = Peer::accept(accept_tcp(&listener));
        let first = peer.recv();
        let second = peer.recv();
        assert_eq!(
            (first["stream_id"].as_str(), second["stream_id"].as_str()),
            (Some("a"), Some("b")),
            "both requests go out before either answer"
        );
        peer.send_all(&[
            on_lane(&created("resp_a"), "a"),
            on_lane(&created("resp_b"), "b"),
            on_lane(&delta("msg_b", "B"), "b"),
            on_lane(&delta("msg_a", "A"), "a"),
            on_lane(
                &completed("resp_b", &format!("[{}]", message("msg_b", "B!"))),
                "b",
            ),
            on_lane(
                &completed("resp_a", &format!("[{}]", message("msg_a", "A!"))),
                "a",
            ),
        ]);
        peer.expect_closed().code
    });

    let mut conn = Connection::connect(Config::new(&url).unwrap()).unwrap();
    assert_eq!(conn.create(on_lane_turn("a", "A?")).unwrap().0, 0);
    assert_eq!(conn.create(on_lane_turn("b", "B?")).unwrap().0, 1);
    assert_eq!(conn.session().in_flight(), 2);
    let seen = events_until(&mut conn, |line| line.starts_with("completed a"));
    assert_eq!(
        seen,
        [
            "started a #0 resp_a",
            "stream a #0 response.created",
            "started b #1 resp_b",
            "stream b #1 response.created",
            "stream b #1 response.output_text.delta",
            "stream a #0 response.output_text.delta",
            "stream b #1 response.completed",
            "completed b #1 resp_b \"B!\"",
            "stream a #0 response.completed",
            "completed a #0 resp_a \"A!\"",
        ]
    );
    assert_eq!(conn.session().in_flight(), 0);
    conn.close().unwrap();
    assert_eq!(server.join().unwrap(), CloseCode::NORMAL);
}

#[test]
fn steering_reaches_the_running_response() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut peer, _) = Peer::accept(accept_tcp(&listener));
        peer.recv();
        peer.send_all(&[created("resp_1"), delta("msg_1", "Once upon")]);
        assert_eq!(
            peer.recv(),
            json!({"type": "response.steer", "previous_response_id": "resp_1",
                   "input": "Shorter, please."})
        );
        peer.send_all(&[
            r#"{"type":"response.steer.accepted","steer":{"id":"steer_1","previous_response_id":"resp_1"}}"#.into(),
            completed("resp_1", &format!("[{}]", message("msg_1", "Once."))),
        ]);
        peer.expect_closed().code
    });

    let mut conn = Connection::connect(Config::new(&url).unwrap()).unwrap();
    let lane = Lane::Default;
    assert!(matches!(
        conn.steer(&lane, "too early"),
        Err(Error::Session(_))
    ));
    conn.create(turn("Tell a story.")).unwrap();
    events_until(&mut conn, |line| line.ends_with("output_text.delta"));
    conn.steer(&lane, "Shorter, please.").unwrap();
    let seen = events_until(&mut conn, |line| line.starts_with("completed"));
    assert!(
        seen.iter().any(|line| line.contains("SteerAccepted")),
        "{seen:?}"
    );
    assert_eq!(seen.last().unwrap(), "completed - #0 resp_1 \"Once.\"");
    conn.close().unwrap();
    assert_eq!(server.join().unwrap(), CloseCode::NORMAL);
}

#[test]
fn refused_upgrades_keep_status_headers_and_body() {
    let (listener, url) = listen();
    let body_401 = r#"{"error":{"message":"Incorrect API key provided.","type":"invalid_request_error","code":"invalid_api_key"}}"#;
    let server = thread::spawn(move || {
        type Answer<'a> = (u16, &'a [(&'a str, &'a str)], &'a str);
        let answers: [Answer<'_>; 3] = [
            (401, &[("Content-Type", "application/json")], body_401),
            (429, &[("Retry-After", "7")], "slow down"),
            (426, &[("Upgrade", "HTTP/1.1")], ""),
        ];
        for (status, headers, body) in answers {
            let mut peer = Peer::new(accept_tcp(&listener));
            peer.request();
            peer.reject(status, headers, body);
        }
    });

    let config = Config::new(&url)
        .unwrap()
        .api_key("sk-secret-key")
        .retry(RetryPolicy::never());
    let refusal = |config: &Config| {
        let error = Connection::connect(config.clone()).unwrap_err();
        assert_eq!(error.attempts(), 1);
        match error.last() {
            ConnectError::Handshake(HandshakeError::Rejected(_)) => error,
            other => panic!("expected a refused upgrade, got {other:?}"),
        }
    };

    let unauthorized = refusal(&config);
    let response = unauthorized.response().unwrap();
    assert_eq!(
        (response.status, response.reason.as_str()),
        (401, "Unauthorized")
    );
    assert_eq!(response.header("content-type"), Some("application/json"));
    assert_eq!(&response.body[..], body_401.as_bytes());
    assert!(!unauthorized.wants_http());
    for text in [format!("{unauthorized}"), format!("{unauthorized:?}")] {
        assert!(!text.contains("sk-secret-key"), "{text}");
    }

    let limited = refusal(&config);
    assert_eq!(limited.status(), Some(429));
    assert_eq!(limited.retry_after(), Some("7"));
    assert_eq!(&limited.response().unwrap().body[..], b"slow down");

    // Refused rather than moved to HTTP + SSE (the default after a 426).
    let wants_http = refusal(&config.clone().http_fallback(HttpFallback::Never));
    assert_eq!(wants_http.status(), Some(426));
    assert!(wants_http.wants_http());
    assert_eq!(
        wants_http.last().to_string(),
        "WebSocket upgrade failed: server answered 426 Upgrade Required \
         (the server asks for plain HTTP instead of WebSocket)"
    );
    server.join().unwrap();
}

#[test]
fn a_closed_port_reports_the_address_and_a_zero_budget_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let url = format!("ws://{addr}/v1/responses");
    let once = Config::new(&url).unwrap().retry(RetryPolicy::never());
    match Connection::connect(once.clone()).unwrap_err().last() {
        ConnectError::Io {
            addr: tried,
            source,
        } => {
            assert_eq!(tried, &addr.to_string());
            assert_eq!(source.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        other => panic!("expected a refused TCP connection, got {other:?}"),
    }
    let config = once.connect_timeout(Duration::ZERO);
    match Connection::connect(config).unwrap_err().last() {
        ConnectError::Timeout {
            addr: target,
            after,
        } => {
            assert_eq!((target, after), (&addr.to_string(), &Duration::ZERO));
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
}

#[test]
fn a_dropped_idle_connection_is_reconnected_and_the_next_turn_carries_full_context() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut first, _) = Peer::accept(accept_tcp(&listener));
        first.recv();
        first.send_all(&[
            created("resp_1"),
            completed("resp_1", &format!("[{}]", message("msg_1", "Paris."))),
        ]);
        drop(first); // No close frame: the connection just goes.

        let (mut second, _) = Peer::accept(accept_tcp(&listener));
        let replay = second.recv();
        second.send_all(&[
            created("resp_2"),
            completed("resp_2", &format!("[{}]", message("msg_2", "Berlin."))),
        ]);
        (replay, second.expect_closed().code)
    });

    let config = Config::new(&url).unwrap().retry(fast_retry());
    let mut conn = Connection::connect(config).unwrap();
    conn.create(turn("Warmer in Paris or Tokyo?")).unwrap();
    events_until(&mut conn, |line| line.starts_with("completed"));
    // Idle: the drop is noticed on the next read, and the reconnect follows by itself.
    let seen = events_until(&mut conn, |line| line == "connected");
    assert_eq!(seen, ["disconnected 1006", "reconnecting 2", "connected"]);

    conn.create(turn("And in Berlin?")).unwrap();
    let seen = events_until(&mut conn, |line| line.starts_with("completed"));
    assert_eq!(seen[0], "full - #1 NewConnection");
    assert_eq!(seen.last().unwrap(), "completed - #1 resp_2 \"Berlin.\"");
    conn.close().unwrap();

    let (replay, code) = server.join().unwrap();
    assert_eq!(
        replay,
        json!({"type": "response.create", "model": "m", "store": false, "input": [
            {"type": "message", "role": "user", "content": "Warmer in Paris or Tokyo?"},
            // A plain answer is resent in the short form (the core's choice).
            {"type": "message", "role": "assistant", "content": "Paris."},
            {"type": "message", "role": "user", "content": "And in Berlin?"}
        ]})
    );
    assert_eq!(code, CloseCode::NORMAL);
}

#[test]
fn the_connection_limit_makes_the_session_reconnect_and_retry_the_unstarted_request() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut first, _) = Peer::accept(accept_tcp(&listener));
        first.recv();
        first.send(r#"{"type":"error","status":400,"error":{"type":"invalid_request_error","code":"websocket_connection_limit_reached","message":"limit"}}"#);
        let closed = first.expect_closed();

        let (mut second, _) = Peer::accept(accept_tcp(&listener));
        let retried = second.recv();
        second.send_all(&[
            created("resp_1"),
            completed("resp_1", &format!("[{}]", message("msg_1", "Done."))),
        ]);
        (closed.code, retried, second.expect_closed().code)
    });

    let config = Config::new(&url).unwrap().retry(fast_retry());
    let mut conn = Connection::connect(config).unwrap();
    conn.create(turn("Hi.")).unwrap();
    let seen = events_until(&mut conn, |line| line.starts_with("completed"));
    assert_eq!(
        seen,
        [
            "Retrying { lane: Default, request: RequestId(0), attempt: 2, safety: SentNotStarted, \
             cause: ConnectionLimit }",
            "Reconnect { reason: ConnectionLimit }",
            "disconnected 1000",
            "reconnecting 2",
            "connected",
            "started - #0 resp_1",
            "stream - #0 response.created",
            "stream - #0 response.completed",
            "completed - #0 resp_1 \"Done.\"",
        ]
    );
    conn.close().unwrap();
    let (first_close, retried, last_close) = server.join().unwrap();
    assert_eq!(
        first_close,
        CloseCode::NORMAL,
        "the client closed the spent connection"
    );
    assert_eq!(
        retried,
        json!({"type": "response.create", "model": "m", "store": false,
               "input": [{"type": "message", "role": "user", "content": "Hi."}]})
    );
    assert_eq!(last_close, CloseCode::NORMAL);
}

#[test]
fn an_api_call_after_a_quiet_spell_tells_the_session_the_time_first() {
    let (listener, url) = listen();
    let server = thread::spawn(move || {
        let (mut first, _) = Peer::accept(accept_tcp(&listener));
        // Nothing arrives on the old connection: the session rotates before it sends.
        let first_close = first.expect_closed().code;
        let (mut second, _) = Peer::accept(accept_tcp(&listener));
        let create = second.recv();
        second.send_all(&[
            created("resp_1"),
            completed("resp_1", &format!("[{}]", message("msg_1", "Fresh."))),
        ]);
        (first_close, create, second.expect_closed().code)
    });

    let mut session = SessionConfig::default();
    session.rotate_after = Duration::from_millis(300);
    let config = Config::new(&url)
        .unwrap()
        .retry(fast_retry())
        .session(session);
    let mut conn = Connection::connect(config).unwrap();
    // Nothing drives the connection meanwhile: the core last saw the time of the upgrade.
    thread::sleep(Duration::from_millis(400));
    conn.create(turn("Hi.")).unwrap();
    let seen = events_until(&mut conn, |line| line.starts_with("completed"));
    assert_eq!(
        seen,
        [
            "Reconnect { reason: Rotation }",
            "disconnected 1000",
            "reconnecting 1",
            "connected",
            "started - #0 resp_1",
            "stream - #0 response.created",
            "stream - #0 response.completed",
            "completed - #0 resp_1 \"Fresh.\"",
        ]
    );
    conn.close().unwrap();
    let (first_close, create, last_close) = server.join().unwrap();
    assert_eq!(
        first_close,
        CloseCode::NORMAL,
        "the old connection was retired"
    );
    assert_eq!(
        create,
        json!({"type": "response.create", "model": "m", "store": false,
               "input": [{"type": "message", "role": "user", "content": "Hi."}]})
    );
    assert_eq!(last_close, CloseCode::NORMAL);
}

/// A server's flood written by hand, to see the moment the socket stops taking bytes.
#[derive(Default)]
struct Flood {
    pending: Vec<u8>,
    written: usize,
    blocked_once: bool,
}

impl Flood {
    fn queue<S: std::io::Read + std::io::Write>(&mut self, peer: &mut Peer<S>, text: &str) {
        peer.queue(text);
        while let Some(chunk) = peer.poll_transmit() {
            self.pending.extend_from_slice(&chunk);
        }
    }

    /// Writes what is pending; the first time the socket refuses more (its write timeout),
    /// returns the bytes written so far.
    fn write_until_blocked(&mut self, mut raw: &std::net::TcpStream) -> Option<usize> {
        use std::io::{ErrorKind, Write};
        while !self.pending.is_empty() {
            match raw.write(&self.pending) {
                Ok(n) => {
                    self.pending.drain(..n);
                    self.written += n;
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    assert!(
                        !self.blocked_once,
                        "the client stopped reading after resuming"
                    );
                    self.blocked_once = true;
                    return Some(self.written);
                }
                Err(e) => panic!("server: {e}"),
            }
        }
        None
    }
}

#[test]
fn a_slow_consumer_pushes_back_on_the_server() {
    const FRAMES: usize = 1024;
    const PAD: usize = 16 << 10;
    let (listener, url) = listen();
    let (blocked_tx, blocked_rx) = mpsc::channel();
    let (resume_tx, resume_rx) = mpsc::channel::<()>();
    let server = thread::spawn(move || {
        let tcp = accept_tcp(&listener);
        let raw = tcp.try_clone().unwrap();
        let (mut peer, _) = Peer::accept(tcp);
        peer.recv();
        peer.send(&created("resp_1"));
        let noise = format!(r#"{{"type":"response.noise","pad":"{}"}}"#, "x".repeat(PAD));
        // Flood without waiting: once the socket refuses more for a while, the client's
        // backpressure has reached us.
        raw.set_write_timeout(Some(Duration::from_millis(300)))
            .unwrap();
        let mut flood = Flood::default();
        for _ in 0..FRAMES {
            flood.queue(&mut peer, &noise);
            if let Some(written) = flood.write_until_blocked(&raw) {
                blocked_tx.send(written).unwrap();
                resume_rx.recv().unwrap();
                raw.set_write_timeout(Some(PATIENCE)).unwrap();
            }
        }
        flood.queue(&mut peer, &completed("resp_1", "[]"));
        assert_eq!(flood.write_until_blocked(&raw), None);
        peer.expect_closed().code
    });

    // Uncompressed: the flood must fill TCP's buffers, which permessage-deflate would shrink
    // to almost nothing.
    let mut conn = Connection::connect(Config::new(&url).unwrap().deflate(false)).unwrap();
    conn.create(turn("Flood me.")).unwrap();
    events_until(&mut conn, |line| line.starts_with("started"));
    // The application stops consuming; the server must soon be unable to write.
    let server_wrote: usize = blocked_rx.recv_timeout(PATIENCE).unwrap();
    let (_, received) = conn.client().expect("WebSocket mode").byte_counts();
    assert!(
        received < 64 << 10,
        "the client read {received} bytes while not consuming"
    );
    assert!(server_wrote < FRAMES * PAD, "the server was not held back");
    resume_tx.send(()).unwrap();

    let seen = events_until(&mut conn, |line| line.starts_with("completed"));
    let noise = seen
        .iter()
        .filter(|l| l.ends_with("response.noise"))
        .count();
    assert_eq!(noise, FRAMES);
    assert_eq!(seen.last().unwrap(), "completed - #0 resp_1 \"\"");
    conn.close().unwrap();
    assert_eq!(server.join().unwrap(), CloseCode::NORMAL);
}

#[test]
fn retrying_gives_up_after_the_budget_with_the_last_cause() {
    let (listener, url) = listen();
    let addr = listener.local_addr().unwrap();
    let server = thread::spawn(move || {
        let (peer, _) = Peer::accept(accept_tcp(&listener));
        drop(peer);
        // The listener goes too: every reconnect is refused.
    });

    let policy = fast_retry().with_max_attempts(2);
    let mut conn = Connection::connect(Config::new(&url).unwrap().retry(policy)).unwrap();
    server.join().unwrap();
    let mut seen = Vec::new();
    let gave_up = loop {
        match conn
            .next_event()
            .unwrap()
            .expect("the events end after GaveUp")
        {
            ClientEvent::GaveUp(gave_up) => break gave_up,
            event => seen.push(summary(&event)),
        }
    };
    assert_eq!(seen, ["disconnected 1006", "reconnecting 2"]);
    assert_eq!(gave_up.attempts, 2);
    match &gave_up.cause {
        Failure::Transport { message, transient } => {
            assert!(message.contains(&addr.to_string()), "{message}");
            assert!(*transient);
        }
        other => panic!("expected a refused connection, got {other:?}"),
    }
    assert!(matches!(conn.next_event(), Ok(None)));
    assert!(conn.client().expect("WebSocket mode").gave_up().is_some());
}
