//! Test helpers for the mock server: a probe that feeds a `MockConnection` client frames and
//! collects its server frames as JSON values, with a simulated clock, and a tiny tool-loop
//! client.
#![allow(dead_code, unreachable_pub)]

use core::time::Duration;
use responses_ws_core::mock::{Action, MockConnection, Script};
use responses_ws_core::Instant;
use serde_json::{json, Value};

pub const T0: Instant = Instant::ZERO;

/// Deadlines further away than this are not streaming events (the age limit): `settle` stops.
const HORIZON: Duration = Duration::from_secs(10);

/// A mock connection with a simulated clock.
pub struct Probe {
    pub server: MockConnection,
    pub now: Instant,
}

impl Probe {
    pub fn new(script: Script) -> Probe {
        Probe::on_connection(script, 0)
    }

    pub fn on_connection(script: Script, index: u32) -> Probe {
        Probe {
            server: MockConnection::new(script, index, T0),
            now: T0,
        }
    }

    /// Sends one raw text frame.
    pub fn send_raw(&mut self, text: &str) {
        self.server.handle_text(text, self.now);
    }

    /// Sends a `response.create` with these fields.
    pub fn create(&mut self, fields: Value) {
        self.send_raw(&create(fields));
    }

    /// Every frame the server has ready now.
    pub fn drain(&mut self) -> Vec<Value> {
        std::iter::from_fn(|| self.server.poll_transmit())
            .map(|frame| serde_json::from_str(&frame).expect("server frames are JSON"))
            .collect()
    }

    /// Drains, then follows the streaming deadlines until the server is quiet.
    pub fn settle(&mut self) -> Vec<Value> {
        let mut frames = self.drain();
        while let Some(deadline) = self.server.poll_timeout() {
            if deadline > self.now + HORIZON {
                break;
            }
            self.advance_to(deadline);
            frames.extend(self.drain());
        }
        frames
    }

    /// Like [`settle`](Self::settle), with the time each frame came out.
    pub fn settle_timed(&mut self) -> Vec<(Instant, Value)> {
        let mut frames = Vec::new();
        loop {
            let now = self.now;
            frames.extend(self.drain().into_iter().map(|frame| (now, frame)));
            match self.server.poll_timeout() {
                Some(deadline) if deadline <= self.now + HORIZON => self.advance_to(deadline),
                _ => return frames,
            }
        }
    }

    /// Moves the clock to `at` and tells the server.
    pub fn advance_to(&mut self, at: Instant) {
        self.now = self.now.max(at);
        self.server.handle_timeout(self.now);
    }

    pub fn action(&mut self) -> Option<Action> {
        self.server.poll_action()
    }

    /// Sends a create and returns the frames of everything it caused.
    pub fn exchange(&mut self, fields: Value) -> Vec<Value> {
        self.create(fields);
        self.settle()
    }
}

/// A `response.create` frame with these fields.
pub fn create(mut fields: Value) -> String {
    fields["type"] = json!("response.create");
    fields.to_string()
}

/// The `type` of each frame.
pub fn types(frames: &[Value]) -> Vec<&str> {
    frames
        .iter()
        .map(|frame| frame["type"].as_str().unwrap())
        .collect()
}

/// The frames of one lane (`None`: frames without `stream_id`).
pub fn of_lane<'f>(frames: &'f [Value], lane: Option<&str>) -> Vec<&'f Value> {
    frames
        .iter()
        .filter(|frame| frame["stream_id"].as_str() == lane)
        .collect()
}

/// The response of the last terminal event.
pub fn terminal(frames: &[Value]) -> &Value {
    let frame = frames
        .iter()
        .rev()
        .find(|frame| {
            matches!(
                frame["type"].as_str(),
                Some("response.completed" | "response.failed" | "response.incomplete")
            )
        })
        .expect("a terminal event");
    &frame["response"]
}

/// The only frame, which must be an `error`; returns its `error` object.
pub fn single_error(frames: &[Value]) -> &Value {
    assert_eq!(types(frames), ["error"], "{frames:#?}");
    assert!(frames[0].get("sequence_number").is_none());
    &frames[0]["error"]
}

/// All `response.output_text.delta` text, in order.
pub fn streamed_text(frames: &[Value]) -> String {
    frames
        .iter()
        .filter(|frame| frame["type"] == "response.output_text.delta")
        .map(|frame| frame["delta"].as_str().unwrap())
        .collect()
}

/// The function calls of a response: `(call_id, name, arguments)`.
pub fn calls(response: &Value) -> Vec<(String, String, String)> {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|item| item["type"] == "function_call")
        .map(|item| {
            let text = |key: &str| item[key].as_str().unwrap().to_owned();
            (text("call_id"), text("name"), text("arguments"))
        })
        .collect()
}

/// The tool a tiny client runs: echoes the function name and arguments.
pub fn run_tools(calls: &[(String, String, String)]) -> Vec<Value> {
    calls
        .iter()
        .map(|(call_id, name, arguments)| {
            json!({"type":"function_call_output","call_id":call_id,"output":format!("{name} ran with {arguments}")})
        })
        .collect()
}

/// The final text of a completed response.
pub fn answer(response: &Value) -> &str {
    response["output"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["type"] == "message")
        .map(|message| message["content"][0]["text"].as_str().unwrap())
        .unwrap_or("")
}

/// The user's first message.
pub fn user(text: &str) -> Value {
    json!({"type":"message","role":"user","content":[{"type":"input_text","text":text}]})
}
