//! The client side of the HTTP + SSE transport ([`Exchange`]) against the mock's HTTP side
//! ([`HttpConnection`] with an [`HttpMock`] behind it), both sans-IO, wired in memory with a
//! clock that jumps to the next SSE deadline: the same server events as the mock planned, a
//! full-context tool loop, answers cut anywhere, refusals, drops, and the framings a server may
//! choose.

mod mock_support;

use bytes::Bytes;
use mock_support::{answer, calls, run_tools, user};
use responses_ws_core::http::{Exchange, ExchangeError, ExchangeEvent, Header, HttpError, Target};
use responses_ws_core::mock::{
    DropFault, HttpConnection, HttpEvent, HttpMock, HttpReply, Script, ScriptedCall, TurnFault,
};
use responses_ws_core::wire::{ApiError, ResponseCreate, ServerEvent};
use responses_ws_core::Instant;
use serde_json::{json, Value};

fn target() -> Target {
    Target::new("mock", "/v1/responses").with_header(Header::new("Authorization", "Bearer sk-test"))
}

fn create(body: Value) -> ResponseCreate {
    serde_json::from_value(body).unwrap()
}

/// The mock's whole answer to the exchange's request, and whether it then closed.
fn serve(exchange: &mut Exchange, mock: &mut HttpMock) -> (Vec<u8>, bool) {
    let mut server = HttpConnection::new();
    let mut now = Instant::ZERO;
    while let Some(bytes) = exchange.poll_transmit() {
        server.handle_input(&bytes);
    }
    let mut wire = Vec::new();
    loop {
        while let Some(event) = server.poll_event() {
            match event {
                HttpEvent::Create { body } => {
                    let reply = mock.respond(&body, now);
                    server.answer(reply, now);
                }
                other => panic!("unexpected {other:?}"),
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            wire.extend_from_slice(&bytes);
        }
        match server.poll_timeout() {
            Some(at) => {
                now = at;
                server.handle_timeout(now);
            }
            None => return (wire, server.is_finished()),
        }
    }
}

/// Feeds `wire` to the exchange in pieces of `piece` bytes (then the end of the transport if
/// the server closed); every event.
fn read(exchange: &mut Exchange, wire: &[u8], closed: bool, piece: usize) -> Vec<ExchangeEvent> {
    let mut events = Vec::new();
    for chunk in wire.chunks(piece.max(1)) {
        exchange.handle_input(chunk);
        events.extend(std::iter::from_fn(|| exchange.poll_event()));
    }
    if closed {
        exchange.handle_eof();
        events.extend(std::iter::from_fn(|| exchange.poll_event()));
    }
    events
}

fn server_events(events: &[ExchangeEvent]) -> Vec<ServerEvent<'_>> {
    events
        .iter()
        .map(|event| match event {
            ExchangeEvent::Event(text) => ServerEvent::from_str(text).expect("a server event"),
            other => panic!("not an event: {other:?}"),
        })
        .collect()
}

#[test]
fn a_streamed_answer_gives_the_events_the_mock_planned() {
    let script = Script::new().text("Hello over HTTP.", 4);
    let body = json!({"model":"gpt-5.5","store":false,"input":"Hi"});
    let HttpReply::Stream(planned) = HttpMock::new(script.clone(), 0).respond(
        &json!({"model":"gpt-5.5","store":false,"stream":true,"input":"Hi"}).to_string(),
        Instant::ZERO,
    ) else {
        panic!("not streamed")
    };
    let mut exchange = Exchange::new(&target(), &create(body)).unwrap();
    let (wire, closed) = serve(&mut exchange, &mut HttpMock::new(script, 0));
    assert!(!closed, "the connection stays for the next request");
    let events = read(&mut exchange, &wire, closed, usize::MAX);
    let got: Vec<String> = server_events(&events).iter().map(|e| e.to_json()).collect();
    let want: Vec<String> = planned.events.iter().map(|e| e.data.clone()).collect();
    assert_eq!(got, want);
    let last = server_events(&events).pop().unwrap();
    assert_eq!(
        last.response().unwrap().all_output_text(),
        "Hello over HTTP."
    );
    assert!(exchange.is_finished() && exchange.is_reusable());
}

#[test]
fn an_answer_cut_anywhere_reads_the_same() {
    let script = Script::new().tool_calls([ScriptedCall::new("f", r#"{"a":1}"#).with_deltas(3)]);
    let request = create(json!({"input":"Hi","store":false}));
    let mut first = Exchange::new(&target(), &request).unwrap();
    let (wire, closed) = serve(&mut first, &mut HttpMock::new(script, 0));
    let whole: Vec<String> = server_events(&read(&mut first, &wire, closed, usize::MAX))
        .iter()
        .map(|event| event.to_json())
        .collect();
    for piece in [1, 2, 3, 7, 64] {
        let mut exchange = Exchange::new(&target(), &request).unwrap();
        let _ = exchange.poll_transmit();
        let events = read(&mut exchange, &wire, closed, piece);
        let cut: Vec<String> = server_events(&events).iter().map(|e| e.to_json()).collect();
        assert_eq!(cut, whole, "pieces of {piece}");
        assert!(exchange.is_reusable());
    }
}

#[test]
fn a_full_context_tool_loop_over_http() {
    let script = Script::new()
        .tool_calls([
            ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#),
            ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#),
        ])
        .text("Paris is warmer.", 2);
    let mut mock = HttpMock::new(script, 0);
    let mut history = vec![user("Warmer in Paris or Tokyo?")];
    let mut turns = 0;
    let final_answer = loop {
        turns += 1;
        let request = create(json!({"model":"gpt-5.5","store":false,"input":history}));
        let mut exchange = Exchange::new(&target(), &request).unwrap();
        let (wire, closed) = serve(&mut exchange, &mut mock);
        let events = read(&mut exchange, &wire, closed, 5);
        let terminal = server_events(&events).pop().unwrap();
        assert!(terminal.is_terminal());
        let response = serde_json::to_value(terminal.response().unwrap()).unwrap();
        history.extend(response["output"].as_array().unwrap().iter().cloned());
        let calls = calls(&response);
        if calls.is_empty() {
            break answer(&response).to_owned();
        }
        history.extend(run_tools(&calls));
    };
    assert_eq!((turns, final_answer.as_str()), (2, "Paris is warmer."));
}

#[test]
fn a_refusal_is_an_api_error_with_status_and_headers() {
    let script = Script::new()
        .with_turn_fault(TurnFault::error(0, 503, "server_is_overloaded", "Busy.").times(1));
    let mut exchange = Exchange::new(&target(), &create(json!({"input":"x"}))).unwrap();
    let (wire, closed) = serve(&mut exchange, &mut HttpMock::new(script, 0));
    let mut events = read(&mut exchange, &wire, closed, 3);
    let Some(ExchangeEvent::Rejected(error)) = events.pop() else {
        panic!("not refused: {events:?}")
    };
    assert!(events.is_empty());
    let ApiError {
        status,
        code,
        message,
        headers,
        ..
    } = *error;
    assert_eq!(
        (status, code.as_deref(), message.as_str()),
        (Some(503), Some("server_is_overloaded"), "Busy.")
    );
    assert_eq!(headers["content-type"], "application/json");
    assert!(
        exchange.is_reusable(),
        "a refusal with a length leaves the connection usable"
    );
}

#[test]
fn a_dropped_stream_is_truncated_and_the_connection_not_reused() {
    let script = Script::new().with_drop(DropFault::after_events(2));
    let mut exchange = Exchange::new(&target(), &create(json!({"input":"x"}))).unwrap();
    let (wire, closed) = serve(&mut exchange, &mut HttpMock::new(script, 0));
    assert!(closed);
    let events = read(&mut exchange, &wire, closed, 16);
    assert_eq!(events.len(), 3);
    assert!(matches!(
        events[2],
        ExchangeEvent::Failed(ExchangeError::Truncated)
    ));
    assert!(exchange.is_finished() && !exchange.is_reusable());
}

/// A whole answer in one `data:` line per event, with `head` before it.
fn answer_with(head: &str, body: &str) -> Vec<u8> {
    let mut wire = head.as_bytes().to_vec();
    wire.extend_from_slice(body.as_bytes());
    wire
}

const COMPLETED: &str = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":1,\"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}}\n\n";

fn exchange() -> Exchange {
    let mut exchange = Exchange::new(&target(), &ResponseCreate::default()).unwrap();
    let _ = exchange.poll_transmit();
    exchange
}

#[test]
fn servers_may_frame_the_stream_their_way() {
    // Close-delimited, after a 100 Continue: ends with the transport, not reusable.
    let wire = answer_with(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n",
        COMPLETED,
    );
    let mut close_delimited = exchange();
    let events = read(&mut close_delimited, &wire, true, 9);
    assert!(server_events(&events)[0].is_terminal());
    assert!(close_delimited.is_finished() && !close_delimited.is_reusable());

    // With a length.
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
        COMPLETED.len()
    );
    let mut with_length = exchange();
    let events = read(&mut with_length, &answer_with(&head, COMPLETED), false, 4);
    assert_eq!(server_events(&events).len(), 1);
    assert!(with_length.is_reusable());

    // Chunked, with the connection cut after the terminal event: nothing was lost.
    let chunked = format!("{:x}\r\n{COMPLETED}\r\n", COMPLETED.len());
    let head =
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n";
    let mut cut_after = exchange();
    let events = read(&mut cut_after, &answer_with(head, &chunked), true, 11);
    assert_eq!(server_events(&events).len(), 1);
    assert!(cut_after.is_finished() && !cut_after.is_reusable());
}

/// Whether an error is the expected one.
type ErrorCheck = fn(&ExchangeError) -> bool;

#[test]
fn what_is_not_an_event_stream_fails_with_a_typed_error() {
    let cases: [(&[u8], ErrorCheck); 4] = [
        (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}", |e| {
            matches!(e, ExchangeError::NotAnEventStream)
        }),
        (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n\r\ndata: not json\n\n", |e| {
            matches!(e, ExchangeError::Decode(_))
        }),
        (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: 0\r\n\r\n", |e| {
            matches!(e, ExchangeError::Truncated)
        }),
        (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", |e| {
            matches!(e, ExchangeError::Http(HttpError::InvalidChunk(_)))
        }),
    ];
    for (wire, expected) in cases {
        let mut exchange = exchange();
        let events = read(&mut exchange, wire, false, 5);
        match events.last() {
            Some(ExchangeEvent::Failed(error)) => assert!(expected(error), "{error:?}"),
            other => panic!("{other:?} for {:?}", String::from_utf8_lossy(wire)),
        }
        assert!(exchange.is_finished() && !exchange.is_reusable());
    }
    let mut silent = exchange();
    silent.handle_eof();
    assert!(matches!(
        silent.poll_event(),
        Some(ExchangeEvent::Failed(ExchangeError::Http(
            HttpError::UnexpectedEof
        )))
    ));
}

#[test]
fn the_request_is_a_streamed_post_without_websocket_fields() {
    let request = create(json!({"model":"gpt-5.5","stream_id":"lane-1","input":"Hi"}));
    let mut exchange = Exchange::new(&target(), &request).unwrap();
    let bytes: Bytes = exchange.poll_transmit().unwrap();
    assert!(
        exchange.poll_transmit().is_none(),
        "the request goes out once"
    );
    let text = std::str::from_utf8(&bytes).unwrap();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("POST /v1/responses HTTP/1.1\r\nHost: mock\r\n"));
    assert!(head.contains("\r\nAccept: text/event-stream\r\n"));
    assert!(head.contains("\r\nAuthorization: Bearer sk-test"));
    assert!(head.contains(&format!("\r\nContent-Length: {}", body.len())));
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body, json!({"model":"gpt-5.5","input":"Hi","stream":true}));

    let warm_up = create(json!({"generate":false}));
    assert!(matches!(
        Exchange::new(&target(), &warm_up),
        Err(ExchangeError::WebSocketOnly("generate"))
    ));
}
