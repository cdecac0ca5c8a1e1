//! Transcript tests of the session machine: every file in `tests/transcripts/` is a scenario,
//! one line per step (see `tests/transcripts/README.md` for the format). The harness plays the
//! application (`!` lines) and the server (`<<` lines) and checks every frame the session sends
//! (`>>`) and every event it reports (`?`), strictly: nothing may be left unchecked.

use std::collections::VecDeque;
use std::fs;
use std::path::Path;
use std::time::Duration;

use responses_ws_core::session::{
    Lane, ReconnectReason, RequestError, Session, SessionConfig, SessionEvent,
};
use responses_ws_core::wire::{ApiError, Input, Item, ResponseCreate};
use responses_ws_core::Instant;
use serde_json::Value;

/// A session played against a transcript.
struct Harness {
    session: Session,
    now: Instant,
    sent: VecDeque<String>,
    events: VecDeque<String>,
    /// Stream events seen, per request (routing is checked as they arrive).
    streamed: usize,
}

impl Harness {
    fn new(config: SessionConfig) -> Harness {
        Harness {
            session: Session::new(config),
            now: Instant::ZERO,
            sent: VecDeque::new(),
            events: VecDeque::new(),
            streamed: 0,
        }
    }

    /// Takes everything the session produced.
    fn collect(&mut self) {
        while let Some(frame) = self.session.poll_transmit() {
            self.sent.push_back(frame);
        }
        while let Some(event) = self.session.poll_event() {
            if let SessionEvent::Stream { lane, event, .. } = &event {
                assert_eq!(
                    *lane,
                    Lane::from_stream_id(event.stream_id.as_deref()),
                    "stream event on the wrong lane"
                );
                self.streamed += 1;
                continue;
            }
            self.events.push_back(summarize(&event));
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
                        "<<" => self.session.handle_text(rest, self.now),
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
        let err = |e: responses_ws_core::session::SessionError| e.to_string();
        match verb {
            "connect" => self.session.connected(self.now),
            "disconnect" => self.session.disconnected(self.now),
            "advance" => {
                self.now = self.now + Duration::from_secs(args.parse().expect("seconds"));
                self.session.handle_timeout(self.now);
            }
            "create" => {
                self.session.create(request(args, at)).map_err(err)?;
            }
            "fork" => {
                let (from, body) = args.split_once(' ').expect("fork LANE BODY");
                self.session
                    .fork(&lane(from), request(body, at))
                    .map_err(err)?;
            }
            "output" => {
                let mut parts = args.splitn(3, ' ');
                let (on, call, output) = (
                    parts.next().unwrap(),
                    parts.next().unwrap(),
                    parts.next().unwrap_or(""),
                );
                self.session
                    .submit_tool_output(&lane(on), call, output)
                    .map_err(err)?;
            }
            "approve" | "deny" => {
                let (on, id) = args.split_once(' ').expect("approve LANE ID");
                self.session
                    .submit_approval(&lane(on), id, verb == "approve", None)
                    .map_err(err)?;
            }
            "steer" => {
                let (on, text) = args.split_once(' ').expect("steer LANE TEXT");
                self.session.steer(&lane(on), text).map_err(err)?;
            }
            _ => panic!("{at}: unknown action `{verb}`"),
        }
        Ok(())
    }
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
        let mut harness = Harness::new(config_of(&text));
        harness.run(&name, &text);
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
