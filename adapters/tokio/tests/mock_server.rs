//! The mock server on a loopback port, seen from real sockets: WebSocket clients made of the
//! core's client-role `ws::Connection` and a tiny driver below, and HTTP clients made of the
//! core's `http` heads, body decoder and SSE parser. No third-party WebSocket or HTTP client
//! is involved.
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock {
    use std::time::Duration;

    use bytes::BytesMut;
    use responses_ws_core::http::{
        BodyDecoder, BodyPart, Limits, RequestHead, ResponseHead, SseParser,
    };
    use responses_ws_core::mock::{
        AgeLimit, DropFault, Refusal, ScriptedCall, StopReading, UpgradeFault,
    };
    use responses_ws_core::wire::{
        ClientEvent, EventKind, Input, Item, Response, ResponseCreate, ServerEvent,
    };
    use responses_ws_core::ws::{
        self, CloseCode, Closed, Connection, Error, Event, HandshakeError, Message, WsUrl,
    };
    use responses_ws_core::Instant;
    use responses_ws_tokio::mock::{MockServer, Script};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;
    use tokio::time::timeout;

    /// No test waits longer than this for the server.
    const PATIENCE: Duration = Duration::from_secs(10);

    // ------------------------------------------------------------ a WebSocket client

    /// A client-role `ws::Connection` over a tokio socket, recording what arrives.
    struct WsClient {
        tcp: TcpStream,
        conn: Connection,
        origin: tokio::time::Instant,
        /// Server events received, decoded.
        events: Vec<ServerEvent<'static>>,
        closed: Option<Closed>,
    }

    impl WsClient {
        async fn connect(server: &MockServer) -> WsClient {
            let tcp = TcpStream::connect(server.addr()).await.unwrap();
            tcp.set_nodelay(true).unwrap();
            let url = WsUrl::parse(&server.url()).unwrap();
            let mut config = ws::Config::default();
            config.keepalive_interval = None;
            let headers = [("Authorization".to_owned(), "Bearer sk-test".to_owned())];
            let conn = Connection::client(&url, &headers, config, [7; 32], Instant::ZERO).unwrap();
            let mut client = WsClient {
                tcp,
                conn,
                origin: tokio::time::Instant::now(),
                events: Vec::new(),
                closed: None,
            };
            client.flush().await;
            client
        }

        fn now(&self) -> Instant {
            Instant::from_elapsed(self.origin.elapsed())
        }

        async fn flush(&mut self) {
            while let Some(bytes) = self.conn.poll_transmit() {
                if self.tcp.write_all(&bytes).await.is_err() {
                    return;
                }
            }
        }

        /// Sends a create once the upgrade is done.
        async fn send(&mut self, request: ResponseCreate) {
            self.until(|client| client.conn.state() != ws::State::Handshake)
                .await;
            let frame = ClientEvent::from(request).to_json();
            self.conn.send_text(frame).unwrap();
            self.flush().await;
        }

        fn take_events(&mut self) {
            while let Some(event) = self.conn.poll_event() {
                match event {
                    Event::Message(Message::Text(text)) => {
                        let event = ServerEvent::from_str(text.as_str()).unwrap();
                        self.events.push(event.into_owned());
                    }
                    Event::Closed(closed) => self.closed = Some(closed),
                    _ => {}
                }
            }
        }

        /// Reads until `done` holds or the connection is closed.
        async fn until(&mut self, done: impl Fn(&WsClient) -> bool) {
            let run = async {
                loop {
                    self.take_events();
                    self.flush().await;
                    if done(self) || self.closed.is_some() {
                        return;
                    }
                    let read = self.tcp.read(self.conn.input_buffer()).await;
                    let now = self.now();
                    match read {
                        Ok(0) | Err(_) => self.conn.handle_eof(now),
                        Ok(n) => self.conn.commit_input(n, now),
                    }
                }
            };
            timeout(PATIENCE, run).await.expect("the server went quiet");
        }

        async fn until_closed(&mut self) -> Closed {
            self.until(|_| false).await;
            self.closed.take().expect("closed")
        }

        /// Reads until a terminal event; returns the events of the turn.
        async fn turn(&mut self) -> Vec<ServerEvent<'static>> {
            self.until(|client| client.events.iter().any(ServerEvent::is_terminal))
                .await;
            assert!(self.closed.is_none(), "closed mid-turn: {:?}", self.closed);
            std::mem::take(&mut self.events)
        }
    }

    fn create(input: &str) -> ResponseCreate {
        ResponseCreate {
            model: Some("gpt-5.5".into()),
            store: Some(false),
            input: Some(Input::Text(input.into())),
            ..ResponseCreate::default()
        }
    }

    fn types(events: &[ServerEvent<'_>]) -> Vec<String> {
        events.iter().map(|e| e.event_type().to_owned()).collect()
    }

    fn text(events: &[ServerEvent<'_>]) -> String {
        events
            .iter()
            .filter_map(|event| match &event.kind {
                EventKind::OutputTextDelta(delta) => Some(delta.delta.as_ref()),
                _ => None,
            })
            .collect()
    }

    fn terminal(events: &[ServerEvent<'_>]) -> Response {
        let last = events.last().expect("events");
        assert!(last.is_terminal(), "{:?}", last.event_type());
        last.response().expect("a response").clone()
    }

    // ------------------------------------------------------------ an HTTP client

    /// A keep-alive HTTP/1.1 connection, requests written by hand.
    struct HttpClient {
        tcp: TcpStream,
        /// Bytes read and not yet used.
        buf: BytesMut,
    }

    /// An HTTP answer: its head, its body, and whether the body ended by its own framing
    /// (rather than with the connection).
    struct Answer {
        head: ResponseHead,
        status: u16,
        body: String,
        complete: bool,
    }

    impl Answer {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.header(name)
        }

        /// The SSE events of the body: (`event:` field, `data:` JSON).
        fn sse(&self) -> Vec<(String, serde_json::Value)> {
            let mut parser = SseParser::new(&Limits::default());
            let mut body = self.body.as_bytes();
            let mut events = Vec::new();
            while let Some(event) = parser.next_event(&mut body).expect("an event stream") {
                let data = serde_json::from_str(&event.data).unwrap();
                events.push((event.event_type, data));
            }
            assert!(parser.is_idle(), "the stream ends between events");
            events
        }
    }

    impl HttpClient {
        async fn connect(server: &MockServer) -> HttpClient {
            let tcp = TcpStream::connect(server.addr()).await.unwrap();
            HttpClient {
                tcp,
                buf: BytesMut::new(),
            }
        }

        async fn post(&mut self, body: &str) -> Answer {
            let head = RequestHead::new("POST", "/v1/responses")
                .with_header("Host", "mock")
                .with_header("Authorization", "Bearer sk-test")
                .with_header("Content-Type", "application/json")
                .with_header("Content-Length", body.len().to_string());
            let mut request = Vec::new();
            head.write(&mut request).unwrap();
            request.extend_from_slice(body.as_bytes());
            self.tcp.write_all(&request).await.unwrap();
            timeout(PATIENCE, self.answer()).await.expect("no answer")
        }

        async fn read_more(&mut self) -> usize {
            self.buf.reserve(8192);
            self.tcp.read_buf(&mut self.buf).await.unwrap_or(0)
        }

        /// Reads one answer to a `POST` with the core's HTTP parsers.
        async fn answer(&mut self) -> Answer {
            let limits = Limits::default();
            let head = loop {
                if let Some((head, len)) = ResponseHead::parse(&self.buf, &limits).unwrap() {
                    let _ = self.buf.split_to(len);
                    break head;
                }
                assert!(self.read_more().await > 0, "no answer head");
            };
            let mut decoder = BodyDecoder::new(head.body_kind("POST").unwrap(), &limits).unwrap();
            let mut body = Vec::new();
            let complete = loop {
                match decoder.decode(&mut self.buf).unwrap() {
                    Some(BodyPart::Data(data)) => body.extend_from_slice(&data),
                    Some(_) => break true,
                    None if self.read_more().await == 0 => break false,
                    None => {}
                }
            };
            Answer {
                status: head.status,
                head,
                body: String::from_utf8(body).unwrap(),
                complete,
            }
        }
    }

    // ------------------------------------------------------------ tests

    #[tokio::test]
    async fn a_text_turn_over_websocket() {
        let script = Script::new()
            .text("Hello there!", 3)
            .with_delta_delay(Duration::from_millis(5));
        let server = MockServer::start(script).await.unwrap();
        assert_eq!(
            server.url(),
            format!("ws://127.0.0.1:{}/v1/responses", server.addr().port())
        );
        let mut client = WsClient::connect(&server).await;
        client.send(create("Hi")).await;
        let events = client.turn().await;

        assert_eq!(text(&events), "Hello there!");
        let types = types(&events);
        assert_eq!(types.first().map(String::as_str), Some("response.created"));
        assert_eq!(types.last().map(String::as_str), Some("response.completed"));
        assert_eq!(server.connections(), 1);
        let traffic = server.traffic();
        assert_eq!(traffic.frames_received, 1);
        assert_eq!(traffic.frames_sent, events.len() as u64);
        assert!(traffic.bytes_sent > traffic.bytes_received);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_tool_loop_of_three_steps() {
        let script = Script::new()
            .tool_calls([
                ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#).with_deltas(3),
                ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#).with_deltas(3),
            ])
            .tool_calls([ScriptedCall::new("compare", r#"{"a":14,"b":9}"#)])
            .text("Paris is warmer: 14 °C vs 9 °C in Tokyo.", 5)
            .with_delta_delay(Duration::from_millis(1));
        let server = MockServer::start(script).await.unwrap();
        let mut client = WsClient::connect(&server).await;
        let mut request = create("Warmer in Paris or Tokyo?");
        let mut calls_answered = 0;
        let mut responses = 0;
        let answer = loop {
            client.send(request.clone()).await;
            let response = terminal(&client.turn().await);
            responses += 1;
            let outputs: Vec<Item> = response
                .tool_calls()
                .filter_map(|item| match item {
                    Item::FunctionCall(call) => Some(Item::function_call_output(
                        &call.call_id,
                        format!("{} ok", call.name),
                    )),
                    _ => None,
                })
                .collect();
            if outputs.is_empty() {
                break response.all_output_text();
            }
            calls_answered += outputs.len();
            request = ResponseCreate {
                previous_response_id: Some(response.id.clone()),
                input: Some(Input::List(outputs)),
                ..request
            };
        };
        assert_eq!((responses, calls_answered), (3, 3));
        assert_eq!(answer, "Paris is warmer: 14 °C vs 9 °C in Tokyo.");
        assert_eq!(server.connections(), 1);
        assert_eq!(server.traffic().frames_received, 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_refused_upgrade_shows_its_status_and_retry_after() {
        let refusal = Refusal::RateLimited {
            retry_after_secs: 7,
        };
        let script = Script::new()
            .text("Welcome back.", 1)
            .with_upgrade_refusal(UpgradeFault::new(refusal).on_connection(0));
        let server = MockServer::start(script).await.unwrap();

        let mut refused = WsClient::connect(&server).await;
        let closed = refused.until_closed().await;
        let Some(Error::Handshake(HandshakeError::Rejected(answer))) = closed.error else {
            panic!("not refused: {closed:?}")
        };
        assert_eq!(answer.status, 429);
        assert_eq!(answer.header("retry-after"), Some("7"));
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let body = std::str::from_utf8(&answer.body).unwrap();
        assert!(body.contains(r#""code":"rate_limit_exceeded""#), "{body}");

        // The next connection (index 1) is accepted.
        let mut client = WsClient::connect(&server).await;
        client.send(create("Again")).await;
        assert_eq!(text(&client.turn().await), "Welcome back.");
        assert_eq!(server.connections(), 2);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn an_abrupt_drop_ends_the_connection_without_a_close_frame() {
        let script = Script::new()
            .text("one two three four five", 5)
            .with_delta_delay(Duration::from_millis(1))
            .with_drop(DropFault::after_events(4));
        let server = MockServer::start(script).await.unwrap();
        let mut client = WsClient::connect(&server).await;
        client.send(create("Count")).await;
        let closed = client.until_closed().await;

        assert_eq!(client.events.len(), 4, "{:?}", types(&client.events));
        assert_eq!(closed.error, Some(Error::ConnectionLost));
        assert_eq!(closed.code, CloseCode::ABNORMAL);
        assert!(!closed.clean);
        assert_eq!(server.traffic().frames_sent, 4);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn a_server_that_stops_reading_serves_what_it_read_and_no_more() {
        let script = Script::new()
            .text("Only once.", 2)
            .with_stop_reading(StopReading::after_frames(1));
        let server = MockServer::start(script).await.unwrap();
        let mut client = WsClient::connect(&server).await;
        client.send(create("First")).await;
        assert_eq!(text(&client.turn().await), "Only once.");

        client.send(create("Second")).await;
        let quiet = timeout(Duration::from_millis(100), client.turn()).await;
        assert!(quiet.is_err(), "the second request was read");
        assert_eq!(server.traffic().frames_received, 1);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn the_age_limit_closes_with_1001_after_the_error_event() {
        let limit = Duration::from_millis(100);
        let script = Script::new().with_age_limit(AgeLimit::after(limit));
        let server = MockServer::start(script).await.unwrap();
        let started = tokio::time::Instant::now();
        let mut client = WsClient::connect(&server).await;
        let closed = client.until_closed().await;

        assert!(started.elapsed() >= limit);
        let [event] = client.events.as_slice() else {
            panic!("{:?}", types(&client.events))
        };
        let EventKind::Error(error) = &event.kind else {
            panic!("{event:?}")
        };
        assert_eq!(
            error.code.as_deref(),
            Some("websocket_connection_limit_reached")
        );
        assert_eq!(closed.code, CloseCode::GOING_AWAY);
        assert!(closed.clean, "{closed:?}");
        server.shutdown().await;
    }

    #[tokio::test]
    async fn http_sse_yields_the_same_event_types_as_websocket() {
        let script = Script::new()
            .tool_calls([ScriptedCall::new("lookup", r#"{"q":"mock"}"#).with_deltas(2)])
            .text("Found it.", 3)
            .with_delta_delay(Duration::from_millis(2));
        let server = MockServer::start(script).await.unwrap();
        assert_eq!(
            server.http_base(),
            format!("http://127.0.0.1:{}/v1", server.addr().port())
        );
        let mut ws = WsClient::connect(&server).await;
        ws.send(create("Look it up")).await;
        let over_ws = types(&ws.turn().await);

        let mut http = HttpClient::connect(&server).await;
        let request = r#"{"model":"gpt-5.5","store":false,"stream":true,"input":"Look it up"}"#;
        let answer = http.post(request).await;
        assert_eq!(answer.status, 200);
        assert_eq!(
            answer.header("content-type"),
            Some("text/event-stream; charset=utf-8")
        );
        assert_eq!(answer.header("connection"), Some("keep-alive"));
        assert!(answer.complete);
        let events = answer.sse();
        for (event_type, data) in &events {
            assert_eq!(data["type"], event_type.as_str());
        }
        let over_http: Vec<String> = events.into_iter().map(|(t, _)| t).collect();
        assert_eq!(over_http, over_ws);

        // The same TCP connection serves the next request (JSON this time).
        let answer = http.post(r#"{"model":"gpt-5.5","input":"Again"}"#).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let response: serde_json::Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(response["status"], "completed");
        assert_eq!(server.connections(), 2);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn an_http_stream_cut_by_a_drop_ends_without_its_last_chunk() {
        let script = Script::new()
            .text("a b c d", 4)
            .with_drop(DropFault::after_events(3));
        let server = MockServer::start(script).await.unwrap();
        let mut http = HttpClient::connect(&server).await;
        let answer = http.post(r#"{"stream":true,"input":"Hi"}"#).await;
        assert_eq!(answer.header("connection"), Some("close"));
        assert!(!answer.complete);
        assert_eq!(answer.sse().len(), 3);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn unknown_paths_and_methods_get_json_errors() {
        let server = MockServer::start(Script::new()).await.unwrap();
        for (request, status) in [
            ("GET /v1/models HTTP/1.1\r\nHost: mock\r\n\r\n", 404),
            ("DELETE /v1/responses HTTP/1.1\r\nHost: mock\r\n\r\n", 405),
            ("GET /v1/responses HTTP/1.1\r\nHost: mock\r\n\r\n", 426),
        ] {
            let mut http = HttpClient::connect(&server).await;
            http.tcp.write_all(request.as_bytes()).await.unwrap();
            let answer = timeout(PATIENCE, http.answer()).await.unwrap();
            assert_eq!(answer.status, status, "{request}");
        }
        server.shutdown().await;
    }

    #[tokio::test]
    async fn two_websocket_connections_at_once() {
        let script = Script::new()
            .text("Side by side.", 4)
            .with_delta_delay(Duration::from_millis(3));
        let server = MockServer::start(script).await.unwrap();
        let mut first = WsClient::connect(&server).await;
        let mut second = WsClient::connect(&server).await;
        first.send(create("One")).await;
        second.send(create("Two")).await;
        let (a, b) = tokio::join!(first.turn(), second.turn());

        assert_eq!(
            (text(&a), text(&b)),
            ("Side by side.".into(), "Side by side.".into())
        );
        // Ids are scoped by connection index: the two never collide.
        assert_ne!(terminal(&a).id, terminal(&b).id);
        assert_eq!(server.connections(), 2);
        assert_eq!(server.traffic().frames_received, 2);
        server.shutdown().await;
    }

    #[tokio::test]
    async fn stored_responses_survive_a_reconnect() {
        let script = Script::new().text("First.", 1).text("Second.", 1);
        let server = MockServer::start(script).await.unwrap();
        let mut client = WsClient::connect(&server).await;
        let stored = ResponseCreate {
            store: Some(true),
            ..create("Hi")
        };
        client.send(stored.clone()).await;
        let first = terminal(&client.turn().await);
        assert_eq!(first.all_output_text(), "First.");
        let now = client.now();
        client.conn.close(CloseCode::NORMAL, "", now).unwrap();
        client.flush().await;
        assert!(client.until_closed().await.clean);

        let mut again = WsClient::connect(&server).await;
        again
            .send(ResponseCreate {
                previous_response_id: Some(first.id.clone()),
                ..stored
            })
            .await;
        let second = terminal(&again.turn().await);
        assert_eq!(second.all_output_text(), "Second.");

        // Over HTTP too.
        let mut http = HttpClient::connect(&server).await;
        let body = format!(
            r#"{{"previous_response_id":"{}","input":"And?"}}"#,
            first.id
        );
        let answer = http.post(&body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert!(answer.body.contains("Second."));
        server.shutdown().await;
    }

    #[tokio::test]
    async fn shutdown_ends_everything() {
        let server = MockServer::start(Script::new()).await.unwrap();
        let addr = server.addr();
        let mut ws = WsClient::connect(&server).await;
        ws.until(|client| client.conn.state() == ws::State::Open)
            .await;
        let mut http = HttpClient::connect(&server).await;
        assert_eq!(http.post(r#"{"input":"Hi"}"#).await.status, 200);

        timeout(PATIENCE, server.shutdown()).await.unwrap();
        let closed = ws.until_closed().await;
        assert_eq!(closed.error, Some(Error::ConnectionLost));
        assert_eq!(http.read_more().await, 0);
        let refused = TcpStream::connect(addr).await.unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }

    #[test]
    fn a_server_in_its_own_thread_serves_blocking_clients() {
        use std::io::{Read, Write};

        let server = MockServer::start_in_thread(Script::new().text("Blocking hi.", 2)).unwrap();
        let addr = server.addr();
        assert!(server.url().ends_with("/v1/responses"));
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(PATIENCE)).unwrap();
        let body = r#"{"stream":true,"input":"Hi"}"#;
        write!(
            tcp,
            "POST /v1/responses HTTP/1.0\r\nHost: mock\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        tcp.read_to_string(&mut answer).unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
        assert!(
            !answer.contains("transfer-encoding"),
            "HTTP/1.0 is close-delimited"
        );
        assert!(answer.contains("event: response.completed\n"));
        assert_eq!(server.connections(), 1);

        server.shutdown();
        let refused = std::net::TcpStream::connect(addr).unwrap_err();
        assert_eq!(refused.kind(), std::io::ErrorKind::ConnectionRefused);
    }
}
