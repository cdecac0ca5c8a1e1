//! Transcript tests of the session machine: every file in `tests/transcripts/` is a scenario,
//! one line per step (see `tests/transcripts/README.md` for the format). The harness plays the
//! application (`!` lines) and the server (`<<` lines) and checks every frame the session sends
//! (`>>`) and every event it reports (`?`), strictly: nothing may be left unchecked.
//!
//! Each transcript runs twice over: against the bare [`Session`] (text frames), and against the
//! whole [`Client`] behind a WebSocket server connection in memory, with the server's bytes
//! chopped into pieces of 1, 3, 64 bytes and unchopped.

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::time::Duration;

use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
use responses_ws_core::retry::Failure;
use responses_ws_core::session::{
    Lane, ReconnectReason, RequestError, Session, SessionConfig, SessionError, SessionEvent,
};
use responses_ws_core::wire::{ApiError, Input, Item, ResponseCreate, ToolOutput};
use responses_ws_core::ws::{self, Connection, WsUrl};
use responses_ws_core::Instant;
use serde_json::Value;

/// What a transcript drives: the session alone, or the client over WebSocket bytes.
enum Machine {
    Session(Box<Session>),
    Wired(Box<Wired>),
}

/// A client and an in-memory WebSocket server connection; the server's bytes reach the client
/// in pieces of `chop` bytes.
struct Wired {
    client: Client,
    server: Option<Connection>,
    chop: usize,
    connections: u8,
}

/// A session played against a transcript.
struct Harness {
    machine: Machine,
    now: Instant,
    sent: VecDeque<String>,
    events: VecDeque<String>,
    /// Stream events seen, per request (routing is checked as they arrive).
    streamed: usize,
}

impl Harness {
    fn new(config: SessionConfig, chop: Option<usize>) -> Harness {
        let machine = match chop {
            None => Machine::Session(Box::new(Session::new(config))),
            Some(chop) => {
                let mut client_config =
                    ClientConfig::new(WsUrl::parse("ws://mock.test/v1/responses").unwrap());
                client_config.session = config;
                let client = Client::new(client_config);
                Machine::Wired(Box::new(Wired {
                    client,
                    server: None,
                    chop,
                    connections: 0,
                }))
            }
        };
        Harness {
            machine,
            now: Instant::ZERO,
            sent: VecDeque::new(),
            events: VecDeque::new(),
            streamed: 0,
        }
    }

    /// Takes everything the machine produced.
    fn collect(&mut self) {
        let now = self.now;
        match &mut self.machine {
            Machine::Session(session) => {
                while let Some(frame) = session.poll_transmit() {
                    self.sent.push_back(frame);
                }
                while let Some(event) = session.poll_event() {
                    note(&mut self.events, &mut self.streamed, event);
                }
            }
            Machine::Wired(wired) => {
                wired.pump(now, &mut self.sent, &mut self.events, &mut self.streamed)
            }
        }
    }

    /// Feeds one server frame.
    fn serve(&mut self, frame: &str) {
        match &mut self.machine {
            Machine::Session(session) => session.handle_text(frame, self.now),
            Machine::Wired(wired) => {
                let server = wired
                    .server
                    .as_mut()
                    .expect("a server frame without a connection");
                server.send_text(frame.to_owned()).unwrap();
            }
        }
    }

    fn run(&mut self, name: &str, text: &str) {
        for (number, line) in text.lines().enumerate() {
            let at = format!("{name}:{}", number + 1);
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
            match tag {
                ">>" => {
                    let frame = self
                        .sent
                        .pop_front()
                        .unwrap_or_else(|| panic!("{at}: the session sent nothing"));
                    assert_eq!(
                        json(&frame, &at),
                        json(rest, &at),
                        "{at}: sent frame differs\n  sent: {frame}"
                    );
                }
                "?" => {
                    let event = self
                        .events
                        .pop_front()
                        .unwrap_or_else(|| panic!("{at}: no event, expected `{rest}`"));
                    assert_eq!(event, rest, "{at}: event differs");
                }
                "<<" | "!" | "!!" => {
                    assert!(
                        self.sent.is_empty(),
                        "{at}: unchecked frames: {:?}",
                        self.sent
                    );
                    assert!(
                        self.events.is_empty(),
                        "{at}: unchecked events: {:?}",
                        self.events
                    );
                    match tag {
                        "<<" => self.serve(rest),
                        "!" => self
                            .act(rest, &at)
                            .unwrap_or_else(|e| panic!("{at}: refused: {e}")),
                        _ => {
                            let error = self
                                .act(rest, &at)
                                .err()
                                .unwrap_or_else(|| panic!("{at}: accepted"));
                            self.events.push_back(format!("error {error}"));
                        }
                    }
                    self.collect();
                }
                _ => panic!("{at}: unknown line `{line}`"),
            }
        }
        assert!(
            self.sent.is_empty(),
            "{name}: unchecked frames at the end: {:?}",
            self.sent
        );
        assert!(
            self.events.is_empty(),
            "{name}: unchecked events at the end: {:?}",
            self.events
        );
    }

    /// One application action.
    fn act(&mut self, action: &str, at: &str) -> Result<(), String> {
        let (verb, args) = action.split_once(' ').unwrap_or((action, ""));
        let now = self.now;
        match verb {
            "connect" => match &mut self.machine {
                Machine::Session(session) => session.connected(now),
                Machine::Wired(wired) => wired.connect(now),
            },
            "disconnect" => match &mut self.machine {
                Machine::Session(session) => session.disconnected(now),
                Machine::Wired(wired) => {
                    wired.server = None;
                    wired.client.handle_eof(now);
                }
            },
            "advance" => {
                self.now = self.now + Duration::from_secs(args.parse().expect("seconds"));
                match &mut self.machine {
                    Machine::Session(session) => session.handle_timeout(self.now),
                    Machine::Wired(wired) => wired.client.handle_timeout(self.now),
                }
            }
            _ => self.api(verb, args, at).map_err(|e| e.to_string())?,
        }
        Ok(())
    }

    /// A call of the session's API, made on the session or on the client.
    fn api(&mut self, verb: &str, args: &str, at: &str) -> Result<(), SessionError> {
        let api: &mut dyn Api = match &mut self.machine {
            Machine::Session(session) => &mut **session,
            Machine::Wired(wired) => &mut wired.client,
        };
        match verb {
            "create" => api.create(request(args, at)),
            "warm_up" => api.warm_up(request(args, at)),
            "fork" => {
                let (from, body) = args.split_once(' ').expect("fork LANE BODY");
                api.fork(&lane(from), request(body, at))
            }
            "output" => {
                let mut parts = args.splitn(3, ' ');
                let (on, call, output) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap_or(""),
                );
                api.output(&lane(on), call, output.into())
            }
            "approve" | "deny" => {
                let (on, id) = args.split_once(' ').expect("approve LANE ID");
                api.approve(&lane(on), id, verb == "approve")
            }
            "steer" => {
                let (on, text) = args.split_once(' ').expect("steer LANE TEXT");
                api.steer(&lane(on), text.into())
            }
            _ => panic!("{at}: unknown action `{verb}`"),
        }
    }
}

/// The calls transcripts make, on a session or a client.
trait Api {
    fn create(&mut self, request: ResponseCreate) -> Result<(), SessionError>;
    fn warm_up(&mut self, request: ResponseCreate) -> Result<(), SessionError>;
    fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<(), SessionError>;
    fn output(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: ToolOutput,
    ) -> Result<(), SessionError>;
    fn approve(&mut self, lane: &Lane, id: &str, approve: bool) -> Result<(), SessionError>;
    fn steer(&mut self, lane: &Lane, input: Input) -> Result<(), SessionError>;
}

macro_rules! impl_api {
    ($machine:ty) => {
        impl Api for $machine {
            fn create(&mut self, request: ResponseCreate) -> Result<(), SessionError> {
                <$machine>::create(self, request)
                    .map(drop)
                    .map_err(SessionError::from)
            }
            fn warm_up(&mut self, request: ResponseCreate) -> Result<(), SessionError> {
                <$machine>::warm_up(self, request)
                    .map(drop)
                    .map_err(SessionError::from)
            }
            fn fork(&mut self, from: &Lane, request: ResponseCreate) -> Result<(), SessionError> {
                <$machine>::fork(self, from, request)
                    .map(drop)
                    .map_err(SessionError::from)
            }
            fn output(
                &mut self,
                lane: &Lane,
                call_id: &str,
                output: ToolOutput,
            ) -> Result<(), SessionError> {
                self.submit_tool_output(lane, call_id, output)
            }
            fn approve(
                &mut self,
                lane: &Lane,
                id: &str,
                approve: bool,
            ) -> Result<(), SessionError> {
                self.submit_approval(lane, id, approve, None)
            }
            fn steer(&mut self, lane: &Lane, input: Input) -> Result<(), SessionError> {
                <$machine>::steer(self, lane, input).map_err(SessionError::from)
            }
        }
    };
}

impl_api!(Session);
impl_api!(Client);

impl Wired {
    /// A new connection: the client's upgrade, answered by a fresh server connection.
    fn connect(&mut self, now: Instant) {
        self.connections += 1;
        self.client.connect([self.connections; 32], now).unwrap();
        self.server = Some(Connection::server(ws::Config::default(), [0; 32], now));
    }

    /// Moves bytes both ways until nothing moves, recording the client's frames (as the server
    /// reads them) and the client's session events.
    fn pump(
        &mut self,
        now: Instant,
        sent: &mut VecDeque<String>,
        events: &mut VecDeque<String>,
        streamed: &mut usize,
    ) {
        loop {
            let mut moved = false;
            while let Some(event) = self.client.poll_event() {
                moved = true;
                match event {
                    ClientEvent::Session(event) => note(events, streamed, event),
                    ClientEvent::Connected { .. }
                    | ClientEvent::Disconnected { .. }
                    | ClientEvent::Reconnecting { .. }
                    | ClientEvent::GaveUp(_) => {}
                    other => panic!("unexpected client event {other:?}"),
                }
            }
            while let Some(bytes) = self.client.poll_transmit() {
                moved = true;
                if let Some(server) = &mut self.server {
                    server.handle_input(&bytes, now);
                }
            }
            let Some(server) = &mut self.server else {
                if moved {
                    continue;
                } else {
                    return;
                }
            };
            while let Some(event) = server.poll_event() {
                moved = true;
                match event {
                    ws::Event::Request(_) => server.accept(&[]).unwrap(),
                    ws::Event::Message(ws::Message::Text(text)) => {
                        sent.push_back(text.as_str().to_owned())
                    }
                    ws::Event::Closed(_)
                    | ws::Event::Open { .. }
                    | ws::Event::Ping(_)
                    | ws::Event::Pong(_) => {}
                    other => panic!("unexpected server event {other:?}"),
                }
            }
            let mut wire = Vec::new();
            while let Some(bytes) = server.poll_transmit() {
                wire.extend_from_slice(&bytes);
            }
            if server.is_finished() {
                self.server = None;
            }
            for piece in wire.chunks(self.chop) {
                moved = true;
                self.client.handle_input(piece, now);
            }
            if !moved {
                return;
            }
        }
    }
}

/// Records one session event: stream events are counted (after checking their lane), the
/// others summarised for `?` lines.
fn note(events: &mut VecDeque<String>, streamed: &mut usize, event: SessionEvent) {
    if let SessionEvent::Stream { lane, event, .. } = &event {
        assert_eq!(
            *lane,
            Lane::from_stream_id(event.decoded().stream_id.as_deref()),
            "stream event on the wrong lane"
        );
        *streamed += 1;
        return;
    }
    events.push_back(summarize(&event));
}

fn json(text: &str, at: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{at}: not JSON ({e}): {text}"))
}

fn request(body: &str, at: &str) -> ResponseCreate {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("{at}: not a request ({e}): {body}"))
}

/// `-` is the default lane.
fn lane(name: &str) -> Lane {
    match name {
        "-" => Lane::Default,
        name => Lane::Named(name.into()),
    }
}

fn lane_name(lane: &Lane) -> &str {
    lane.stream_id().unwrap_or("-")
}

fn input_text(input: &Input) -> String {
    match input {
        Input::Text(text) => text.clone(),
        Input::List(items) => serde_json::to_string(items).unwrap(),
    }
}

fn api_code(error: &ApiError) -> &str {
    error.code.as_deref().unwrap_or("?")
}

/// A failure as transcripts write it.
fn failure_name(failure: &Failure) -> String {
    match failure {
        Failure::ConnectionLimit => "connection-limit".into(),
        Failure::IdleTimeout => "idle-timeout".into(),
        Failure::Dropped => "dropped".into(),
        Failure::ServerError(error) => format!("server-error:{}", api_code(error)),
        other => format!("{other:?}"),
    }
}

/// One line per event, as transcripts write them.
fn summarize(event: &SessionEvent) -> String {
    match event {
        SessionEvent::FullContext {
            lane,
            request,
            reason,
        } => {
            format!("full {} #{} {reason:?}", lane_name(lane), request.0)
        }
        SessionEvent::Started {
            lane,
            request,
            response_id,
        } => {
            format!("started {} #{} {response_id}", lane_name(lane), request.0)
        }
        SessionEvent::Completed {
            lane,
            request,
            response,
            anomalies,
        } => {
            let status = response
                .status
                .as_ref()
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_default();
            let mut line = format!(
                "completed {} #{} {} {status} {:?}",
                lane_name(lane),
                request.0,
                response.id,
                response.all_output_text()
            );
            if !anomalies.is_empty() {
                let list: Vec<String> = anomalies.iter().map(ToString::to_string).collect();
                line += &format!(" anomalies={list:?}");
            }
            line
        }
        SessionEvent::ToolCalls {
            lane,
            response_id,
            calls,
        } => {
            let ids: Vec<&str> = calls.iter().map(|c| c.call_id.as_str()).collect();
            format!("tools {} {response_id} {}", lane_name(lane), ids.join(","))
        }
        SessionEvent::Failed {
            lane,
            request,
            error,
        } => {
            let why = match error {
                RequestError::Api(error) => format!("api:{}", api_code(error)),
                RequestError::ResponseFailed(response) => {
                    format!("response-failed:{}", response.id)
                }
                RequestError::Interrupted => "interrupted".into(),
                other => format!("{other:?}"),
            };
            format!("failed {} #{} {why}", lane_name(lane), request.0)
        }
        SessionEvent::SteerAccepted { lane, steer_id } => {
            format!("steer-accepted {} {steer_id}", lane_name(lane))
        }
        SessionEvent::SteerPending { lane, call_ids } => {
            format!("steer-pending {} {}", lane_name(lane), call_ids.join(","))
        }
        SessionEvent::SteerFailed { lane, input, error } => {
            let code = error.as_ref().map_or("unknown", api_code);
            format!(
                "steer-failed {} {code} {:?}",
                lane_name(lane),
                input_text(input)
            )
        }
        SessionEvent::Retrying {
            lane,
            request,
            attempt,
            safety,
            cause,
        } => format!(
            "retrying {} #{} attempt={attempt} {safety:?} {}",
            lane_name(lane),
            request.0,
            failure_name(cause)
        ),
        SessionEvent::Reconnect { reason } => match reason {
            ReconnectReason::ConnectionLimit => "reconnect connection-limit".into(),
            ReconnectReason::Rotation => "reconnect rotation".into(),
            ReconnectReason::ServerError(error) => {
                format!("reconnect server-error:{}", api_code(error))
            }
            other => format!("reconnect {other:?}"),
        },
        SessionEvent::Unrouted { event } => format!("unrouted {}", event.event_type()),
        SessionEvent::BadFrame { .. } => "bad-frame".into(),
        SessionEvent::Stream { .. } => unreachable!("stream events are counted, not listed"),
        other => format!("{other:?}"),
    }
}

/// `# config key=value …` on the first line sets the session's limits.
fn config_of(text: &str) -> SessionConfig {
    let mut config = SessionConfig::default();
    if let Some(settings) = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# config "))
    {
        for setting in settings.split_whitespace() {
            let (key, value) = setting.split_once('=').expect("key=value");
            match key {
                "max_in_flight" => config.max_in_flight = value.parse().unwrap(),
                "max_named_lanes" => config.max_named_lanes = value.parse().unwrap(),
                "rotate_after" => config.rotate_after = Duration::from_secs(value.parse().unwrap()),
                "max_age" => config.max_age = Duration::from_secs(value.parse().unwrap()),
                _ => panic!("unknown setting {key}"),
            }
        }
    }
    config
}

fn transcripts() -> Vec<(String, String)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/transcripts");
    let mut files: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            (
                path.file_name().unwrap().to_string_lossy().into_owned(),
                fs::read_to_string(&path).unwrap(),
            )
        })
        .collect()
}

#[test]
fn every_session_transcript_plays_as_written() {
    let all = transcripts();
    assert!(all.len() >= 8, "transcripts missing: {}", all.len());
    for (name, text) in all {
        let mut harness = Harness::new(config_of(&text), None);
        harness.run(&name, &text);
    }
}

#[test]
fn every_session_transcript_plays_the_same_over_chopped_websocket_bytes() {
    for (name, text) in transcripts() {
        for chop in [1, 3, 64, usize::MAX] {
            let mut harness = Harness::new(config_of(&text), Some(chop));
            harness.run(&format!("{name} (chops of {chop})"), &text);
            let Machine::Wired(wired) = &harness.machine else {
                unreachable!()
            };
            let (sent, received) = wired.client.byte_counts();
            assert!(
                sent > 200 && received > 200,
                "{name}: {sent} bytes sent, {received} received"
            );
        }
    }
}

#[test]
fn items_helper_is_the_wire_shape() {
    // Guards the transcripts' assumption about how a text input is sent.
    let sent = serde_json::to_value(Item::user_message("hi")).unwrap();
    assert_eq!(
        sent,
        serde_json::json!({"type": "message", "role": "user", "content": "hi"})
    );
}
