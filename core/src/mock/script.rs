//! The script: what the mock model answers, response after response, plus the streaming pace,
//! the server's limits and the faults to inject. Plain data, (de)serialisable from JSON, with
//! builders for Rust callers.
//!
//! A script is played for every conversation: the n-th model response of a conversation plays
//! the n-th scripted response, whatever the transport or the lane.

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::time::Duration;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::cost::ServerCost;
use super::duration_ms;
use super::faults::{
    AgeLimit, DropFault, Faults, ProtocolBreak, StopReading, TurnFault, UpgradeFault,
};
use super::inject::MultiAgentScript;

/// The answer played after the last scripted turn when the script has no text turn.
pub const DEFAULT_FINAL_TEXT: &str = "Done.";

/// The model reported when a request names none.
pub const DEFAULT_MODEL: &str = "mock-model";

/// What the mock model does, turn by turn.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::mock::{Script, ScriptedCall};
///
/// let script = Script::new()
///     .tool_calls([ScriptedCall::new("get_weather", r#"{"city":"Paris"}"#)])
///     .text("Paris is mild today.", 4)
///     .with_delta_delay(Duration::from_millis(10));
///
/// let json = script.to_json();
/// assert!(json.contains(r#""delta_delay_ms":10"#));
/// assert_eq!(Script::from_json(&json).unwrap(), script);
///
/// // Arguments may be written as JSON values in a script file.
/// let from_file = Script::from_json(
///     r#"{"turns":[{"type":"tool_calls","calls":[{"name":"get_weather","arguments":{"city":"Paris"}}]},
///                  {"type":"text","text":"Paris is mild today.","deltas":4}],
///         "delta_delay_ms":10}"#,
/// ).unwrap();
/// assert_eq!(from_file, script);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Script {
    /// The turns, in order. After the last one the model keeps answering with the last
    /// [`Turn::Text`] of the script (or [`DEFAULT_FINAL_TEXT`]).
    pub turns: Vec<Turn>,
    /// Time before each streamed delta (`response.output_text.delta`,
    /// `response.function_call_arguments.delta`); other events follow without delay.
    /// JSON: `delta_delay_ms`. Default zero.
    #[serde(rename = "delta_delay_ms", with = "duration_ms")]
    pub delta_delay: Duration,
    /// Whether `response.steer` is accepted. When false (default) every steer is answered with
    /// `response.steer.failed`, code `steering_not_supported`.
    pub steering: bool,
    /// How the multi-agent beta is played (see [`MultiAgentScript`]). JSON: `multi_agent`,
    /// omitted when it is the default.
    #[serde(skip_serializing_if = "MultiAgentScript::is_default")]
    pub multi_agent: MultiAgentScript,
    /// Per-connection limits.
    pub limits: Limits,
    /// Faults to inject.
    pub faults: Faults,
    /// Server-side time charged before responses stream (input processing, stored lookups);
    /// zero (default) charges nothing. JSON: `server_cost`, omitted when zero.
    #[serde(skip_serializing_if = "ServerCost::is_zero")]
    pub server_cost: ServerCost,
}

/// One scripted turn: what one model response contains (a tool-call turn with
/// `parallel: false` spans one response per call).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Turn {
    /// An assistant message whose text streams as `deltas` `response.output_text.delta`
    /// events (at least one, at most one per character).
    Text {
        /// The answer.
        text: String,
        /// How many delta events carry it. Default 1.
        #[serde(default = "one")]
        deltas: u32,
        /// A reasoning item before the message.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning: Option<ScriptedReasoning>,
    },
    /// Function calls; the next turn needs a `function_call_output` for every `call_id`.
    ToolCalls {
        /// The calls, in output order.
        calls: Vec<ScriptedCall>,
        /// `true` (default): all calls in one response. `false`: one call per response, each
        /// waiting for its output before the next.
        #[serde(default = "yes")]
        parallel: bool,
        /// A reasoning item before the calls (before each call when not parallel).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reasoning: Option<ScriptedReasoning>,
        /// A short assistant message with `phase: "commentary"` (a preamble such as "Let me
        /// check the flights."), after the reasoning and before the calls, in the same
        /// response; only in the first response of the turn when not parallel.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        commentary: Option<ScriptedCommentary>,
    },
}

/// A function call the model makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptedCall {
    /// Function name.
    pub name: String,
    /// Arguments as JSON text. A script file may give any JSON value instead of a string; it is
    /// stored as its JSON text.
    #[serde(deserialize_with = "json_text")]
    pub arguments: String,
    /// How many `response.function_call_arguments.delta` events carry the arguments (at least
    /// one, at most one per character). Default 1.
    #[serde(default = "one")]
    pub deltas: u32,
    /// The MCP server of an `mcp_approval_request` made in place of the function call: the
    /// next turn needs an `mcp_approval_response` for it. Default none (a function call).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mcp_server: Option<String>,
}

/// A reasoning item the model emits before its output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScriptedReasoning {
    /// Opaque reasoning state, sent only when the request's `include` has
    /// `reasoning.encrypted_content` (as the real server does).
    pub encrypted_content: String,
}

/// An assistant commentary message (`phase: "commentary"`) streamed before a turn's function
/// calls. JSON: a string (`"commentary": "Let me check."`, one delta) or
/// `{"text": "Let me check.", "deltas": 3}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "CommentaryForm")]
pub struct ScriptedCommentary {
    /// The message text.
    pub text: String,
    /// How many `response.output_text.delta` events carry it (at least one, at most one per
    /// character). Default 1.
    pub deltas: u32,
}

/// The JSON forms a [`ScriptedCommentary`] is read from.
#[derive(Deserialize)]
#[serde(untagged)]
enum CommentaryForm {
    Text(String),
    Full {
        text: String,
        #[serde(default = "one")]
        deltas: u32,
    },
}

impl From<CommentaryForm> for ScriptedCommentary {
    fn from(form: CommentaryForm) -> Self {
        match form {
            CommentaryForm::Text(text) => ScriptedCommentary::new(text),
            CommentaryForm::Full { text, deltas } => ScriptedCommentary { text, deltas },
        }
    }
}

impl ScriptedCommentary {
    /// A commentary message streamed in one delta.
    pub fn new(text: impl Into<String>) -> Self {
        ScriptedCommentary {
            text: text.into(),
            deltas: 1,
        }
    }

    /// Streams the text as `deltas` deltas.
    pub fn with_deltas(mut self, deltas: u32) -> Self {
        self.deltas = deltas;
        self
    }
}

impl From<&str> for ScriptedCommentary {
    fn from(text: &str) -> Self {
        ScriptedCommentary::new(text)
    }
}

impl From<String> for ScriptedCommentary {
    fn from(text: String) -> Self {
        ScriptedCommentary::new(text)
    }
}

/// Per-connection limits, each with the real server's value (or a generous bound where the
/// real one is unknown).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Limits {
    /// Responses generating at once across all lanes; extra creates wait. Default 16.
    pub max_in_flight: usize,
    /// Distinct named `stream_id`s over a connection's life; one more is refused with
    /// `websocket_stream_limit_reached`. Default 32.
    pub max_named_lanes: usize,
    /// Creates waiting (not yet started) per connection; one more is refused with the
    /// mock-only code `mock_queue_full`. Default 256.
    pub max_queued: usize,
    /// `store: true` responses remembered; the oldest is forgotten first. Default 1024.
    pub max_stored: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_in_flight: 16,
            max_named_lanes: 32,
            max_queued: 256,
            max_stored: 1024,
        }
    }
}

fn one() -> u32 {
    1
}

fn yes() -> bool {
    true
}

/// Reads a string as it is, any other JSON value as its JSON text.
fn json_text<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(text) => text,
        other => other.to_string(),
    })
}

impl Script {
    /// An empty script: every turn answers [`DEFAULT_FINAL_TEXT`].
    pub fn new() -> Self {
        Script::default()
    }

    /// Reads a script from JSON.
    pub fn from_json(json: &str) -> Result<Script, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// The script as JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Appends a turn.
    pub fn turn(mut self, turn: Turn) -> Self {
        self.turns.push(turn);
        self
    }

    /// Appends a text answer streamed as `deltas` deltas.
    pub fn text(self, text: impl Into<String>, deltas: u32) -> Self {
        self.turn(Turn::text(text, deltas))
    }

    /// Appends a turn of parallel function calls (one response).
    pub fn tool_calls(self, calls: impl IntoIterator<Item = ScriptedCall>) -> Self {
        self.turn(Turn::tool_calls(calls))
    }

    /// Sets the time before each streamed delta.
    pub fn with_delta_delay(mut self, delay: Duration) -> Self {
        self.delta_delay = delay;
        self
    }

    /// Accepts `response.steer` (see [`MockConnection`](super::MockConnection)).
    pub fn with_steering(mut self) -> Self {
        self.steering = true;
        self
    }

    /// Replaces how the multi-agent beta is played: how long a response waits for injected
    /// tool outputs, the agent name its frames carry.
    pub fn with_multi_agent(mut self, multi_agent: MultiAgentScript) -> Self {
        self.multi_agent = multi_agent;
        self
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the faults.
    pub fn with_faults(mut self, faults: Faults) -> Self {
        self.faults = faults;
        self
    }

    /// Adds a per-turn fault.
    pub fn with_turn_fault(mut self, fault: TurnFault) -> Self {
        self.faults.turns.push(fault);
        self
    }

    /// Replaces the connection-age limit ([`AgeLimit::none`] removes it).
    pub fn with_age_limit(mut self, age_limit: AgeLimit) -> Self {
        self.faults.age_limit = age_limit;
        self
    }

    /// Drops connections abruptly.
    pub fn with_drop(mut self, drop: DropFault) -> Self {
        self.faults.drop = Some(drop);
        self
    }

    /// Refuses upgrades.
    pub fn with_upgrade_refusal(mut self, refusal: UpgradeFault) -> Self {
        self.faults.refuse_upgrade = Some(refusal);
        self
    }

    /// Stops reading client frames.
    pub fn with_stop_reading(mut self, stop: StopReading) -> Self {
        self.faults.stop_reading = Some(stop);
        self
    }

    /// Refuses requests that carry API key `key` with `401` (a rotated or revoked key).
    pub fn with_revoked_api_key(mut self, key: impl Into<String>) -> Self {
        self.faults.revoked_api_key = Some(key.into());
        self
    }

    /// Breaks the WebSocket protocol in answer to the first client frame.
    pub fn with_protocol_break(mut self, fault: ProtocolBreak) -> Self {
        self.faults.break_protocol = Some(fault);
        self
    }

    /// Charges server-side time before responses stream ([`ServerCost`]).
    pub fn with_server_cost(mut self, cost: ServerCost) -> Self {
        self.server_cost = cost;
        self
    }

    /// What the model answers as the `index`-th response of a conversation (0-based).
    pub(crate) fn step(&self, index: u32) -> Step<'_> {
        let mut index = index as usize;
        for turn in &self.turns {
            let count = turn.response_count();
            if index < count {
                return turn.step(index);
            }
            index -= count;
        }
        self.final_step()
    }

    /// The answer after the last turn: the last text turn, or the default text.
    fn final_step(&self) -> Step<'_> {
        let last_text = self
            .turns
            .iter()
            .rev()
            .find(|turn| matches!(turn, Turn::Text { .. }));
        match last_text {
            Some(turn) => turn.step(0),
            None => Step::Text {
                text: DEFAULT_FINAL_TEXT,
                deltas: 1,
                reasoning: None,
            },
        }
    }
}

impl Turn {
    /// A text answer streamed as `deltas` deltas.
    pub fn text(text: impl Into<String>, deltas: u32) -> Self {
        Turn::Text {
            text: text.into(),
            deltas,
            reasoning: None,
        }
    }

    /// Parallel function calls, all in one response.
    pub fn tool_calls(calls: impl IntoIterator<Item = ScriptedCall>) -> Self {
        Turn::ToolCalls {
            calls: calls.into_iter().collect(),
            parallel: true,
            reasoning: None,
            commentary: None,
        }
    }

    /// Sequential function calls: one response per call.
    pub fn sequential_tool_calls(calls: impl IntoIterator<Item = ScriptedCall>) -> Self {
        Turn::ToolCalls {
            calls: calls.into_iter().collect(),
            parallel: false,
            reasoning: None,
            commentary: None,
        }
    }

    /// Adds a reasoning item with this `encrypted_content` before the output.
    pub fn with_reasoning(mut self, encrypted_content: impl Into<String>) -> Self {
        let (Turn::Text { reasoning, .. } | Turn::ToolCalls { reasoning, .. }) = &mut self;
        *reasoning = Some(ScriptedReasoning {
            encrypted_content: encrypted_content.into(),
        });
        self
    }

    /// Adds a commentary message (`phase: "commentary"`) before the calls of a tool-call turn,
    /// as a `&str` (one delta) or a [`ScriptedCommentary`]; a text turn is left as it is.
    ///
    /// ```
    /// use responses_ws_core::mock::{ScriptedCall, ScriptedCommentary, Turn};
    ///
    /// let call = ScriptedCall::new("search_flights", r#"{"to":"LIS"}"#);
    /// let turn = Turn::tool_calls([call.clone()]).with_commentary("Let me check the flights.");
    /// let streamed = Turn::tool_calls([call])
    ///     .with_commentary(ScriptedCommentary::new("Let me check the flights.").with_deltas(3));
    /// assert_ne!(turn, streamed);
    /// ```
    pub fn with_commentary(mut self, commentary: impl Into<ScriptedCommentary>) -> Self {
        if let Turn::ToolCalls {
            commentary: slot, ..
        } = &mut self
        {
            *slot = Some(commentary.into());
        }
        self
    }

    /// How many model responses the turn spans.
    fn response_count(&self) -> usize {
        match self {
            Turn::ToolCalls {
                calls,
                parallel: false,
                ..
            } => calls.len().max(1),
            Turn::Text { .. } | Turn::ToolCalls { .. } => 1,
        }
    }

    /// The `index`-th response of the turn (`index < response_count()`).
    fn step(&self, index: usize) -> Step<'_> {
        match self {
            Turn::Text {
                text,
                deltas,
                reasoning,
            } => Step::Text {
                text,
                deltas: *deltas,
                reasoning: reasoning.as_ref(),
            },
            Turn::ToolCalls {
                calls,
                parallel,
                reasoning,
                commentary,
            } => Step::Calls {
                calls: match parallel {
                    true => calls,
                    false => calls.get(index..=index).unwrap_or_default(),
                },
                reasoning: reasoning.as_ref(),
                commentary: commentary.as_ref().filter(|_| index == 0),
            },
        }
    }
}

impl ScriptedCall {
    /// A call of `name` with `arguments` (JSON text), streamed in one delta.
    pub fn new(name: impl Into<String>, arguments: impl Into<String>) -> Self {
        ScriptedCall {
            name: name.into(),
            arguments: arguments.into(),
            deltas: 1,
            mcp_server: None,
        }
    }

    /// An `mcp_approval_request` of MCP server `server_label` to run its tool `name` with
    /// `arguments`: the model asks the user before calling it.
    ///
    /// ```
    /// use responses_ws_core::mock::ScriptedCall;
    ///
    /// let ask = ScriptedCall::mcp_approval("git", "push", r#"{"branch":"main"}"#);
    /// assert_eq!(ask.mcp_server.as_deref(), Some("git"));
    /// ```
    pub fn mcp_approval(
        server_label: impl Into<String>,
        name: impl Into<String>,
        arguments: impl Into<String>,
    ) -> Self {
        ScriptedCall {
            mcp_server: Some(server_label.into()),
            ..ScriptedCall::new(name, arguments)
        }
    }

    /// Streams the arguments as `deltas` deltas.
    pub fn with_deltas(mut self, deltas: u32) -> Self {
        self.deltas = deltas;
        self
    }
}

/// One model response as the script decides it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Step<'s> {
    /// An assistant message.
    Text {
        text: &'s str,
        deltas: u32,
        reasoning: Option<&'s ScriptedReasoning>,
    },
    /// Function calls, after an optional commentary message.
    Calls {
        calls: &'s [ScriptedCall],
        reasoning: Option<&'s ScriptedReasoning>,
        commentary: Option<&'s ScriptedCommentary>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_cost_json_is_milliseconds_with_fractions() {
        let cost = ServerCost::new(Duration::from_micros(500), Duration::from_millis(20));
        let script = Script::new().with_server_cost(cost);
        let json = script.to_json();
        assert!(
            json.contains(r#""server_cost":{"per_input_kib_ms":0.5,"stored_lookup_ms":20}"#),
            "{json}"
        );
        assert_eq!(Script::from_json(&json).unwrap(), script);
        let partial = Script::from_json(r#"{"server_cost":{"stored_lookup_ms":7}}"#).unwrap();
        assert_eq!(
            partial.server_cost,
            ServerCost::new(Duration::ZERO, Duration::from_millis(7))
        );
        assert!(Script::from_json(r#"{"server_cost":{"stored_lookup_ms":-1}}"#).is_err());
        assert!(Script::from_json("{}").unwrap().server_cost.is_zero());
        assert!(!Script::new().to_json().contains("server_cost"));
    }

    fn call(name: &str) -> ScriptedCall {
        ScriptedCall::new(name, "{}")
    }

    #[test]
    fn steps_follow_the_turns_then_repeat_the_last_text() {
        let script = Script::new()
            .text("first", 1)
            .turn(Turn::sequential_tool_calls([call("a"), call("b")]))
            .tool_calls([call("c"), call("d")])
            .text("last", 2)
            .tool_calls([call("e")]);
        let names = |index| match script.step(index) {
            Step::Text { text, .. } => alloc::vec![text],
            Step::Calls { calls, .. } => calls.iter().map(|c| c.name.as_str()).collect(),
        };
        assert_eq!(names(0), ["first"]);
        assert_eq!(names(1), ["a"]);
        assert_eq!(names(2), ["b"]);
        assert_eq!(names(3), ["c", "d"]);
        assert_eq!(names(4), ["last"]);
        assert_eq!(names(5), ["e"]);
        assert_eq!(names(6), ["last"]);
        assert_eq!(names(u32::MAX), ["last"]);
    }

    #[test]
    fn commentary_is_read_in_both_forms_and_only_opens_a_turn() {
        let script = Script::from_json(
            r#"{"turns":[
                {"type":"tool_calls","calls":[{"name":"a","arguments":{}}],"commentary":"Checking."},
                {"type":"tool_calls","parallel":false,
                 "calls":[{"name":"b","arguments":{}},{"name":"c","arguments":{}}],
                 "commentary":{"text":"One by one.","deltas":3}}]}"#,
        )
        .unwrap();
        let expected = Script::new()
            .turn(Turn::tool_calls([call("a")]).with_commentary("Checking."))
            .turn(
                Turn::sequential_tool_calls([call("b"), call("c")])
                    .with_commentary(ScriptedCommentary::new("One by one.").with_deltas(3)),
            );
        assert_eq!(script, expected);
        assert_eq!(Script::from_json(&script.to_json()).unwrap(), script);
        let commentary = |index| match script.step(index) {
            Step::Calls { commentary, .. } => commentary.map(|c| c.text.as_str()),
            Step::Text { .. } => None,
        };
        assert_eq!(commentary(0), Some("Checking."));
        assert_eq!(commentary(1), Some("One by one."));
        assert_eq!(commentary(2), None);
        assert_eq!(
            Turn::text("hi", 1).with_commentary("x"),
            Turn::text("hi", 1)
        );
    }

    #[test]
    fn an_empty_script_answers_the_default_text() {
        assert_eq!(
            Script::new().step(0),
            Step::Text {
                text: DEFAULT_FINAL_TEXT,
                deltas: 1,
                reasoning: None
            }
        );
    }

    #[test]
    fn defaults_fill_missing_fields() {
        let script = Script::from_json(r#"{"turns":[{"type":"text","text":"hi"}]}"#).unwrap();
        assert_eq!(script.turns, [Turn::text("hi", 1)]);
        assert_eq!(script.limits, Limits::default());
        assert_eq!(script.limits.max_in_flight, 16);
        assert_eq!(script.limits.max_named_lanes, 32);
        assert!(!script.steering);
    }
}
