//! End to end in memory: the mock behind a server-role `ws::Connection`, a client-role
//! `ws::Connection` in front of a tiny tool-loop client, bytes moved by hand and a simulated
//! clock. Proves the mock's frames survive real WebSocket framing and that a driver needs
//! nothing beyond the mock's public API (upgrade decision, frames, actions, timers).
//!
//! Tests live in `mod mock` so that `cargo test mock` selects them.

mod mock {
    use core::time::Duration;
    use responses_ws_core::mock::{
        Action, AgeLimit, DropFault, MockConnection, Refusal, Script, ScriptedCall, Upgrade,
        UpgradeFault,
    };
    use responses_ws_core::wire::{
        ClientEvent, EventKind, Input, Item, Response, ResponseCreate, ServerEvent,
    };
    use responses_ws_core::ws::{
        CloseCode, Config, Connection, Error, Event, HandshakeError, Message, WsUrl,
    };
    use responses_ws_core::Instant;

    const T0: Instant = Instant::ZERO;

    /// A WebSocket client and a mock server joined in memory: the driver an adapter will be.
    struct Wire {
        script: Script,
        client: Connection,
        server: Connection,
        mock: MockConnection,
        now: Instant,
        link_up: bool,
        /// Server events the client received, decoded.
        received: Vec<ServerEvent<'static>>,
        closed: Option<responses_ws_core::ws::Closed>,
    }

    impl Wire {
        fn connect(script: Script, index: u32) -> Wire {
            let url = WsUrl::parse("ws://127.0.0.1:8080/v1/responses").unwrap();
            let headers = [("Authorization".to_owned(), "Bearer sk-test".to_owned())];
            let mut config = Config::default();
            config.keepalive_interval = None;
            let client = Connection::client(&url, &headers, config.clone(), [1; 32], T0).unwrap();
            let mut wire = Wire {
                mock: MockConnection::new(script.clone(), index, T0),
                script,
                client,
                server: Connection::server(config, [2; 32], T0),
                now: T0,
                link_up: true,
                received: Vec::new(),
                closed: None,
            };
            wire.pump();
            wire
        }

        fn send(&mut self, create: ResponseCreate) {
            let frame = ClientEvent::from(create).to_json();
            self.client.send_text(frame).unwrap();
            self.pump();
        }

        /// Moves everything that can move, as a driver's loop would.
        fn pump(&mut self) {
            loop {
                let mut moved = false;
                while let Some(event) = self.client.poll_event() {
                    moved = true;
                    match event {
                        Event::Message(Message::Text(text)) => {
                            let event = ServerEvent::from_str(text.as_str()).unwrap();
                            self.received.push(event.into_owned());
                        }
                        Event::Closed(closed) => self.closed = Some(closed),
                        _ => {}
                    }
                }
                while self.mock.is_reading() {
                    let Some(event) = self.server.poll_event() else {
                        break;
                    };
                    moved = true;
                    match event {
                        Event::Request(_) => {
                            match self.script.upgrade(self.mock.connection_index()) {
                                Upgrade::Accept => self.server.accept(&[]).unwrap(),
                                Upgrade::Refuse(answer) => self
                                    .server
                                    .reject(answer.status, &answer.headers, answer.body.as_bytes())
                                    .unwrap(),
                                _ => unreachable!(),
                            }
                        }
                        Event::Message(Message::Text(text)) => {
                            self.mock.handle_text(text.as_str(), self.now)
                        }
                        Event::Message(Message::Binary(data)) => {
                            self.mock.handle_binary(&data, self.now)
                        }
                        _ => {}
                    }
                }
                while let Some(frame) = self.mock.poll_transmit() {
                    self.server.send_text(frame).unwrap();
                    moved = true;
                }
                match self.mock.poll_action() {
                    Some(Action::Close { code, reason }) => {
                        self.server.close(code, &reason, self.now).unwrap()
                    }
                    Some(Action::Drop) => {
                        // The frames polled before still go out; then the transport is cut.
                        while let Some(bytes) = self.server.poll_transmit() {
                            self.client.handle_input(&bytes, self.now);
                        }
                        self.link_up = false;
                        self.client.handle_eof(self.now);
                        moved = true;
                    }
                    _ => {}
                }
                while let Some(bytes) = self.client.poll_transmit() {
                    if self.link_up {
                        self.server.handle_input(&bytes, self.now);
                    }
                    moved = true;
                }
                while let Some(bytes) = self.server.poll_transmit() {
                    if self.link_up {
                        self.client.handle_input(&bytes, self.now);
                        moved = true;
                    }
                }
                if !moved {
                    return;
                }
            }
        }

        /// Jumps to the mock's next deadline and pumps; false when there is none.
        fn advance(&mut self) -> bool {
            let Some(deadline) = self.mock.poll_timeout() else {
                return false;
            };
            self.now = self.now.max(deadline);
            self.mock.handle_timeout(self.now);
            self.client.handle_timeout(self.now);
            self.server.handle_timeout(self.now);
            self.pump();
            true
        }

        /// Runs the clock until a terminal event arrives; returns its response.
        fn until_terminal(&mut self) -> Response {
            loop {
                if let Some(response) = self.received.iter().rev().find(|e| e.is_terminal()) {
                    let response = response.response().unwrap().clone();
                    self.received.clear();
                    return response;
                }
                assert!(self.advance(), "no terminal event: {:?}", self.received);
            }
        }
    }

    fn script() -> Script {
        Script::new()
            .tool_calls([
                ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#).with_deltas(3),
                ScriptedCall::new("get_weather", r#"{"city":"Tokyo"}"#).with_deltas(3),
            ])
            .tool_calls([ScriptedCall::new("compare", r#"{"a":14,"b":9}"#)])
            .text("Paris is warmer: 14 °C vs 9 °C in Tokyo.", 5)
            .with_delta_delay(Duration::from_millis(5))
            .with_age_limit(AgeLimit::after(Duration::from_secs(60)))
    }

    #[test]
    fn tool_loop_over_real_websocket_frames() {
        let mut wire = Wire::connect(script(), 0);
        let mut request = ResponseCreate {
            model: Some("gpt-5.5".into()),
            store: Some(false),
            input: Some(Input::Text("Warmer in Paris or Tokyo?".into())),
            ..ResponseCreate::default()
        };
        let mut responses = 0;
        let answer = loop {
            wire.send(request.clone());
            wire.pump();
            let events_before_end = wire.received.len();
            let response = wire.until_terminal();
            assert!(events_before_end < 12, "deltas wait for the clock");
            responses += 1;
            let outputs: Vec<Item> = response
                .tool_calls()
                .filter_map(|call| {
                    let Item::FunctionCall(call) = call else {
                        return None;
                    };
                    Some(Item::function_call_output(
                        &call.call_id,
                        format!("{} ok", call.name),
                    ))
                })
                .collect();
            if outputs.is_empty() {
                break response.all_output_text();
            }
            request = ResponseCreate {
                previous_response_id: Some(response.id.clone()),
                input: Some(Input::List(outputs)),
                ..request
            };
        };
        assert_eq!(responses, 3);
        assert_eq!(answer, "Paris is warmer: 14 °C vs 9 °C in Tokyo.");
        assert_eq!(wire.now, T0 + Duration::from_millis(5 * (6 + 1 + 5)));

        // The age limit: an error event, then a close handshake.
        while wire.closed.is_none() && wire.advance() {}
        let Some(EventKind::Error(error)) = wire.received.first().map(|e| &e.kind) else {
            panic!("no error: {:?}", wire.received)
        };
        assert_eq!(
            error.code.as_deref(),
            Some("websocket_connection_limit_reached")
        );
        let closed = wire.closed.take().expect("closed");
        assert_eq!(closed.code, CloseCode(1001));
        assert_eq!(wire.now, T0 + Duration::from_secs(60));
        let traffic = wire.mock.traffic();
        assert_eq!(traffic.frames_received, 3);
        assert!(traffic.frames_sent > 30);
    }

    #[test]
    fn refused_upgrade_reaches_the_client() {
        let script = Script::new()
            .with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired).on_connection(0));
        let mut wire = Wire::connect(script.clone(), 0);
        let closed = wire.closed.take().expect("refused");
        let Some(Error::Handshake(HandshakeError::Rejected(answer))) = closed.error else {
            panic!("{closed:?}")
        };
        assert_eq!(answer.status, 426);
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert!(std::str::from_utf8(&answer.body)
            .unwrap()
            .contains(r#""code":"upgrade_required""#));

        let mut second = Wire::connect(script, 1);
        second.send(ResponseCreate::default());
        assert_eq!(second.until_terminal().all_output_text(), "Done.");
    }

    #[test]
    fn dropped_connection_ends_without_close_frame() {
        let script = script().with_drop(DropFault::after_events(5));
        let mut wire = Wire::connect(script, 0);
        wire.send(ResponseCreate::default());
        while wire.closed.is_none() && wire.advance() {}
        assert_eq!(wire.received.len(), 5);
        let closed = wire.closed.take().expect("closed");
        assert_eq!(closed.error, Some(Error::ConnectionLost));
        assert!(!closed.clean);
    }
}
