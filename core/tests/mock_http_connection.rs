//! The mock's HTTP/1.1 side of a transport ([`HttpConnection`]) driven sans-IO, its answers
//! read back with the core's own HTTP client-side parsers: SSE pacing and chunking, pipelined
//! and chunked requests, `100 Continue`, refusals, HTTP/1.0, drops and the WebSocket upgrade.
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock {
    use std::time::Duration;

    use bytes::BytesMut;
    use responses_ws_core::http::{
        BodyDecoder, BodyPart, HttpError, Limits, ResponseHead, SseEvent, SseParser,
    };
    use responses_ws_core::mock::{
        DropFault, HttpConnection, HttpEvent, HttpMock, HttpReply, Script, TurnFault,
    };
    use responses_ws_core::Instant;
    use serde_json::Value;

    const T0: Instant = Instant::ZERO;
    const STREAM: &str = r#"{"stream":true,"input":"Hi"}"#;

    fn post(body: &str, extra_headers: &str) -> String {
        format!(
            "POST /v1/responses HTTP/1.1\r\nHost: mock\r\n{extra_headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    fn transmitted(http: &mut HttpConnection, out: &mut BytesMut) {
        while let Some(bytes) = http.poll_transmit() {
            out.extend_from_slice(&bytes);
        }
    }

    /// The body of the one `Create` waiting.
    fn created(http: &mut HttpConnection) -> String {
        match http.poll_event() {
            Some(HttpEvent::Create { body }) => body,
            other => panic!("expected a request, got {other:?}"),
        }
    }

    /// One answer read from the front of `wire` as a client would.
    #[derive(Debug)]
    struct Answer {
        head: ResponseHead,
        body: Vec<u8>,
        /// The body ended by its own framing (not with the transport).
        ended: bool,
        events: Vec<SseEvent>,
    }

    impl Answer {
        fn read(wire: &mut BytesMut, transport_ended: bool) -> Result<Answer, HttpError> {
            let limits = Limits::default();
            let (head, len) = ResponseHead::parse(wire, &limits)?.expect("a whole head");
            let _ = wire.split_to(len);
            let mut decoder = BodyDecoder::new(head.body_kind("POST")?, &limits)?;
            let mut parser = SseParser::new(&limits);
            let (mut body, mut events) = (Vec::new(), Vec::new());
            let mut ended = false;
            while let Some(part) = decoder.decode(wire)? {
                match part {
                    BodyPart::Data(data) => {
                        body.extend_from_slice(&data);
                        let mut data = &data[..];
                        while let Some(event) = parser.next_event(&mut data)? {
                            events.push(event);
                        }
                    }
                    _ => ended = true,
                }
            }
            if transport_ended && !ended {
                // Only a close-delimited body may end with the transport.
                decoder.handle_eof()?;
            }
            Ok(Answer {
                head,
                body,
                ended,
                events,
            })
        }

        fn json(&self) -> Value {
            serde_json::from_slice(&self.body).unwrap()
        }
    }

    #[test]
    fn an_sse_answer_is_paced_chunked_and_ends_with_the_last_chunk() {
        let delay = Duration::from_millis(10);
        let script = Script::new()
            .text("Hello there!", 3)
            .with_delta_delay(delay);
        let mut mock = HttpMock::new(script, 0);
        let mut http = HttpConnection::new();
        http.handle_input(post(STREAM, "").as_bytes());
        assert_eq!(created(&mut http), STREAM);
        let reply = mock.respond(STREAM, T0);
        let HttpReply::Stream(expected) = reply.clone() else {
            panic!("not streamed")
        };
        http.answer(reply, T0);
        let mut wire = BytesMut::new();
        let mut writes = 0;
        transmitted(&mut http, &mut wire);
        let mut now = T0;
        while let Some(at) = http.poll_timeout() {
            assert!(at > now, "a deadline in the past: {at:?} <= {now:?}");
            now = at;
            http.handle_timeout(now);
            writes += 1;
            transmitted(&mut http, &mut wire);
        }
        let scheduled: Duration = expected.events.iter().map(|event| event.delay).sum();
        assert_eq!(now.elapsed(), scheduled);
        assert!(writes >= 3, "paced, not written at once: {writes}");
        let answer = Answer::read(&mut wire, false).unwrap();
        assert_eq!(answer.head.status, 200);
        assert_eq!(answer.head.header("transfer-encoding"), Some("chunked"));
        assert_eq!(answer.head.header("connection"), Some("keep-alive"));
        assert!(answer.ended && wire.is_empty());
        let got: Vec<(&str, &str)> = answer
            .events
            .iter()
            .map(|event| (event.event_type.as_str(), event.data.as_str()))
            .collect();
        let want: Vec<(&str, &str)> = expected
            .events
            .iter()
            .map(|event| (event.event_type.as_str(), event.data.as_str()))
            .collect();
        assert_eq!(got, want);
        assert!(http.is_reading() && !http.is_finished());
    }

    #[test]
    fn pipelined_requests_are_answered_in_order_one_at_a_time() {
        let mut mock = HttpMock::new(Script::new().text("One.", 1), 0);
        let mut http = HttpConnection::new();
        let first = r#"{"input":"first"}"#;
        let second = r#"{"input":"second"}"#;
        http.handle_input(format!("{}{}", post(first, ""), post(second, "")).as_bytes());
        assert_eq!(created(&mut http), first);
        assert!(
            http.poll_event().is_none(),
            "the second waits for the first answer"
        );
        assert!(!http.is_reading());
        http.answer(mock.respond(first, T0), T0);
        assert_eq!(created(&mut http), second);
        http.answer(mock.respond(second, T0), T0);
        let mut wire = BytesMut::new();
        transmitted(&mut http, &mut wire);
        for _ in 0..2 {
            let answer = Answer::read(&mut wire, false).unwrap();
            assert_eq!(answer.head.status, 200);
            assert_eq!(answer.json()["status"], "completed");
        }
        assert!(wire.is_empty());
    }

    #[test]
    fn a_request_cut_anywhere_reads_the_same() {
        let request = post(r#"{"input":"cut"}"#, "X-Pad: 1\r\n");
        for cut in 0..=request.len() {
            let mut http = HttpConnection::new();
            http.handle_input(&request.as_bytes()[..cut]);
            http.handle_input(&request.as_bytes()[cut..]);
            assert_eq!(created(&mut http), r#"{"input":"cut"}"#, "cut at {cut}");
        }
    }

    #[test]
    fn chunked_request_bodies_and_expect_continue() {
        let mut http = HttpConnection::new();
        http.handle_input(
            b"POST /v1/responses HTTP/1.1\r\nHost: mock\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n",
        );
        let mut wire = BytesMut::new();
        transmitted(&mut http, &mut wire);
        assert_eq!(&wire[..], b"HTTP/1.1 100 Continue\r\n\r\n");
        for piece in ["7\r\n{\"input", "\r\n7\r\n\":\"Hi\"}\r", "\n0\r\n\r\n"] {
            assert!(http.poll_event().is_none());
            http.handle_input(piece.as_bytes());
        }
        assert_eq!(created(&mut http), r#"{"input":"Hi"}"#);
        assert!(http.poll_transmit().is_none(), "100 Continue is sent once");
    }

    #[test]
    fn bad_requests_get_json_errors_and_the_connection_closes() {
        let huge_head = format!(
            "POST /v1/responses HTTP/1.1\r\nX: {}\r\n\r\n",
            "a".repeat(20 << 10)
        );
        let cases: Vec<(String, u16, &str)> = vec![
            (
                "GET /v1/models HTTP/1.1\r\n\r\n".into(),
                404,
                "Unknown path",
            ),
            (
                "DELETE /v1/responses HTTP/1.1\r\n\r\n".into(),
                405,
                "Use POST",
            ),
            (huge_head, 431, "head exceeds 16384 bytes"),
            (
                "POST /v1/responses HTTP/1.1\r\nContent-Length: 99999999999\r\n\r\n".into(),
                413,
                "body exceeds",
            ),
            (
                "POST /v1/responses HTTP/1.1\r\nContent-Length: x\r\n\r\n".into(),
                400,
                "Content-Length",
            ),
            (
                "POST /v1/responses HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n".into(),
                501,
                "Transfer-Encoding",
            ),
            (
                "POST /v1/responses HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".into(),
                400,
                "chunk size",
            ),
            (
                "\x16\x03\x01\x02\x00\x01\x00\x01\x03\x03\r\n\r\n".into(),
                400,
                "malformed HTTP head",
            ),
        ];
        for (request, status, message) in cases {
            let mut http = HttpConnection::new();
            http.handle_input(request.as_bytes());
            let mut wire = BytesMut::new();
            transmitted(&mut http, &mut wire);
            let answer = Answer::read(&mut wire, false).unwrap();
            assert_eq!(answer.head.status, status, "{request:.60}");
            assert_eq!(answer.head.header("connection"), Some("close"));
            let error = answer.json();
            let text = error["error"]["message"].as_str().unwrap();
            assert!(text.contains(message), "{status}: {text}");
            assert_eq!(error["error"]["type"], "invalid_request_error");
            if status == 405 {
                assert_eq!(answer.head.header("allow"), Some("GET, POST"));
            }
            assert!(http.is_finished() && http.poll_event().is_none());
        }
    }

    #[test]
    fn a_scripted_status_http_cannot_carry_is_a_500_and_the_end() {
        let script = Script::new().with_turn_fault(TurnFault::error(0, 42, "odd", "Odd.").times(1));
        let mut mock = HttpMock::new(script, 0);
        let mut http = HttpConnection::new();
        let request = r#"{"input":"x"}"#;
        http.handle_input(format!("{}{}", post(request, ""), post(request, "")).as_bytes());
        let body = created(&mut http);
        http.answer(mock.respond(&body, T0), T0);
        let mut wire = BytesMut::new();
        transmitted(&mut http, &mut wire);
        let answer = Answer::read(&mut wire, false).unwrap();
        assert_eq!(
            (answer.head.status, answer.head.header("connection")),
            (500, Some("close"))
        );
        assert!(
            http.is_finished() && http.poll_event().is_none(),
            "the pipelined one is not read"
        );
    }

    #[test]
    fn http_1_0_gets_a_close_delimited_stream() {
        let mut mock = HttpMock::new(Script::new().text("Old.", 2), 0);
        let mut http = HttpConnection::new();
        let request = post(STREAM, "").replace("HTTP/1.1", "HTTP/1.0");
        http.handle_input(request.as_bytes());
        let body = created(&mut http);
        http.answer(mock.respond(&body, T0), T0);
        let mut wire = BytesMut::new();
        transmitted(&mut http, &mut wire);
        assert!(http.is_finished());
        let answer = Answer::read(&mut wire, true).unwrap();
        assert_eq!(answer.head.header("transfer-encoding"), None);
        assert_eq!(answer.head.header("connection"), Some("close"));
        assert_eq!(
            answer.events.last().unwrap().event_type,
            "response.completed"
        );
    }

    #[test]
    fn a_dropped_stream_ends_without_its_last_chunk() {
        let script = Script::new().with_drop(DropFault::after_events(3));
        let mut mock = HttpMock::new(script, 0);
        let mut http = HttpConnection::new();
        http.handle_input(post(STREAM, "").as_bytes());
        let body = created(&mut http);
        http.answer(mock.respond(&body, T0), T0);
        let mut wire = BytesMut::new();
        transmitted(&mut http, &mut wire);
        assert!(http.is_finished());
        assert_eq!(
            Answer::read(&mut wire.clone(), true).unwrap_err(),
            HttpError::UnexpectedEof
        );
        let answer = Answer::read(&mut wire, false).unwrap();
        assert_eq!((answer.events.len(), answer.ended), (3, false));
        assert_eq!(answer.head.header("connection"), Some("close"));
    }

    #[test]
    fn a_get_hands_every_byte_to_the_websocket() {
        let mut http = HttpConnection::new();
        let upgrade =
            b"GET /v1/responses?x=1 HTTP/1.1\r\nHost: mock\r\nUpgrade: websocket\r\n\r\n\x81\x85";
        http.handle_input(&upgrade[..20]);
        assert!(http.poll_event().is_none());
        http.handle_input(&upgrade[20..]);
        assert_eq!(
            http.poll_event(),
            Some(HttpEvent::Upgrade {
                received: upgrade[..].to_vec().into()
            })
        );
        assert!(http.is_finished() && !http.is_reading() && http.poll_transmit().is_none());
    }

    #[test]
    fn the_end_of_the_transport_ends_the_connection_after_the_answer() {
        let mut http = HttpConnection::new();
        http.handle_input(b"POST /v1/responses HTTP/1.1\r\nContent-Length: 5\r\n\r\n{");
        http.handle_eof();
        assert!(
            http.is_finished() && http.poll_event().is_none() && http.poll_transmit().is_none()
        );

        let mut mock = HttpMock::new(Script::new(), 0);
        let mut http = HttpConnection::new();
        http.handle_input(post(r#"{"input":"x"}"#, "").as_bytes());
        let body = created(&mut http);
        http.handle_eof();
        http.answer(mock.respond(&body, T0), T0);
        let mut wire = BytesMut::new();
        transmitted(&mut http, &mut wire);
        let answer = Answer::read(&mut wire, false).unwrap();
        assert_eq!(
            (answer.head.status, answer.head.header("connection")),
            (200, Some("close"))
        );
        assert!(http.is_finished());
    }
}
