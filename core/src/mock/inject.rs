//! The multi-agent beta (`response.inject`, protocol.md §2.6) as the mock plays it: which
//! connections have it, the responses that wait for injected tool outputs, the checks an
//! injection passes, and the verdicts it gets.
//!
//! A connection has the beta when its upgrade request carried
//! `OpenAI-Beta: responses_multi_agent=v1`; without it `response.inject` is an event the
//! server does not serve (an `error` event naming the header). With it, a request with
//! `multi_agent: {"enabled": true}` whose scripted step makes function calls does not
//! complete after the calls: it **waits** for their outputs. An injection that answers calls
//! it waits for (and nothing else) is committed (`response.inject.created`); once every call
//! is answered the response goes on with the next scripted step, in the same response (which
//! waits again if that step makes calls too). A response that waits longer than
//! [`MultiAgentScript::wait`] completes as a plain one does, its unanswered calls owed by the
//! next request. Refusals are `response.inject.failed` with the input handed back:
//! `response_not_found`, `response_already_completed` (the response is over: send the items
//! with the next `response.create`), and, a mock choice where protocol.md names no code,
//! `invalid_input` (an item that is not the output of a call the response waits for, an
//! empty or oversized input, or a response that waits for nothing).
//!
//! Frames about a multi-agent response (its verdicts, and the `error` of a multi-agent
//! request that never starts) carry `agent: {"agent_name": …}` besides `stream_id`.

use alloc::collections::BTreeSet;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::time::Duration;

use serde::{Deserialize, Serialize};

use super::conversation::PendingCall;
use super::duration_ms;
use super::plan::Generation;
use crate::time::Instant;
use crate::wire::{ApiError, EventKind, InjectCreated, InjectFailed, Item, ResponseCreate};
use crate::ws::Header;

/// The beta header's name.
const BETA_HEADER: &str = "openai-beta";
/// The value that turns the multi-agent beta on.
const MULTI_AGENT_BETA: &str = "responses_multi_agent=v1";
/// Items one injection may carry (protocol.md §2.6).
pub(crate) const MAX_ITEMS: usize = 16_384;

/// The target response is over.
pub(crate) const ALREADY_COMPLETED: &str = "response_already_completed";
/// The target response is unknown.
pub(crate) const NOT_FOUND: &str = "response_not_found";
/// The items are not what the response waits for (mock choice).
pub(crate) const INVALID_INPUT: &str = "invalid_input";

/// How the mock plays the multi-agent beta.
///
/// ```
/// use core::time::Duration;
/// use responses_ws_core::mock::{MultiAgentScript, Script};
///
/// let script = Script::new().with_multi_agent(MultiAgentScript::default().wait(Duration::from_secs(5)));
/// assert!(script.to_json().contains(r#""multi_agent":{"wait_ms":5000,"agent_name":"main"}"#));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct MultiAgentScript {
    /// How long a response waits for the outputs of its calls once they are sent, before it
    /// completes without them. JSON: `wait_ms`. Default 60 s.
    #[serde(rename = "wait_ms", with = "duration_ms")]
    pub wait: Duration,
    /// The `agent_name` of the frames about a multi-agent response. Default `main`.
    pub agent_name: String,
}

impl Default for MultiAgentScript {
    fn default() -> Self {
        MultiAgentScript {
            wait: Duration::from_secs(60),
            agent_name: "main".into(),
        }
    }
}

impl MultiAgentScript {
    /// Whether it is the default (a script omits it then).
    pub fn is_default(&self) -> bool {
        *self == MultiAgentScript::default()
    }

    /// Sets how long a response waits for injected outputs.
    pub fn wait(mut self, wait: Duration) -> Self {
        self.wait = wait;
        self
    }
}

/// Whether an upgrade request with these headers turns the multi-agent beta on: an
/// `OpenAI-Beta` header (any of them) lists `responses_multi_agent=v1` among its
/// comma-separated values.
pub(crate) fn beta_requested(headers: &[Header]) -> bool {
    headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case(BETA_HEADER))
        .filter_map(Header::value_str)
        .flat_map(|value| value.split(','))
        .any(|value| value.trim() == MULTI_AGENT_BETA)
}

/// Whether `request` asks for a multi-agent response (`multi_agent.enabled`).
pub(crate) fn is_multi_agent(request: &ResponseCreate) -> bool {
    request
        .multi_agent
        .as_ref()
        .is_some_and(|agent| agent.enabled)
}

/// A multi-agent response waiting for the outputs of the calls of its last step.
#[derive(Debug)]
pub(crate) struct Waiting {
    /// The response so far; its `pending` calls are the ones waited for.
    pub(crate) generation: Generation,
    /// Those answered so far, by `call_id`.
    answered: BTreeSet<String>,
    /// How long it waits once its events are sent.
    wait: Duration,
    /// When it stops waiting: set when its last event is sent.
    pub(crate) until: Option<Instant>,
}

impl Waiting {
    /// `generation`, which has just played a step with calls, waiting up to `wait` for them.
    pub(crate) fn new(generation: Generation, wait: Duration) -> Self {
        Waiting {
            generation,
            answered: BTreeSet::new(),
            wait,
            until: None,
        }
    }

    /// Its events are all sent at `sent_at`: the wait starts.
    pub(crate) fn started(&mut self, sent_at: Instant) {
        self.until.get_or_insert(sent_at + self.wait);
    }

    /// A new step with calls was played: they are waited for afresh.
    pub(crate) fn rearm(&mut self) {
        self.answered.clear();
        self.until = None;
    }

    /// Checks `input` against the calls waited for and, if it passes, counts them answered;
    /// else the message of `invalid_input` and the item at fault.
    pub(crate) fn commit(&mut self, input: &[Item]) -> Result<(), (String, Option<usize>)> {
        if input.is_empty() {
            return Err(("'input' must hold at least one item.".into(), None));
        }
        if input.len() > MAX_ITEMS {
            let message = format!("'input' holds {} items; at most {MAX_ITEMS}.", input.len());
            return Err((message, None));
        }
        let mut answering = BTreeSet::new();
        for (index, item) in input.iter().enumerate() {
            let call_id = match item {
                Item::FunctionCallOutput(_) | Item::CustomToolCallOutput(_) => item.call_id(),
                _ => None,
            };
            let Some(call_id) = call_id else {
                let message = "Only outputs of client-owned tool calls can be injected.".into();
                return Err((message, Some(index)));
            };
            let waited = self.waits_for(call_id) && answering.insert(call_id);
            if !waited {
                let message = format!("No call '{call_id}' of this response waits for an output.");
                return Err((message, Some(index)));
            }
        }
        self.answered
            .extend(answering.into_iter().map(String::from));
        Ok(())
    }

    /// Whether the call `call_id` is waited for and not answered yet.
    fn waits_for(&self, call_id: &str) -> bool {
        !self.answered.contains(call_id)
            && (self.generation.pending.iter()).any(|call| call.call_id == call_id)
    }

    /// Whether every call is answered: the response goes on.
    pub(crate) fn is_answered(&self) -> bool {
        (self.generation.pending.iter()).all(|call| self.answered.contains(&call.call_id))
    }

    /// The calls still without an output, owed by the next request once it completes.
    pub(crate) fn unanswered(&self) -> Vec<PendingCall> {
        (self.generation.pending.iter())
            .filter(|call| !self.answered.contains(&call.call_id))
            .cloned()
            .collect()
    }
}

/// `response.inject.created`.
pub(crate) fn created(response_id: String) -> EventKind<'static> {
    EventKind::InjectCreated(InjectCreated { response_id })
}

/// `response.inject.failed` with `code`, handing `input` back; `at` is the item at fault.
pub(crate) fn failed(
    response_id: String,
    input: Vec<Item>,
    code: &str,
    message: Option<String>,
    at: Option<usize>,
) -> EventKind<'static> {
    let message = message.unwrap_or_else(|| match code {
        ALREADY_COMPLETED => format!(
            "Response '{response_id}' has already completed; send these items with response.create."
        ),
        _ => format!("Response '{response_id}' not found."),
    });
    EventKind::InjectFailed(InjectFailed {
        response_id,
        input,
        error: Some(ApiError {
            error_type: Some("invalid_request_error".into()),
            code: Some(code.into()),
            message,
            param: at.map(|index| format!("input[{index}]")),
            ..ApiError::default()
        }),
    })
}

/// `frame` (a server event, `type` first) with `agent: {"agent_name": name}` after its type.
pub(crate) fn tag_agent(frame: String, name: &str) -> String {
    const TYPE: &str = r#"{"type":""#;
    let Some(end) = frame
        .strip_prefix(TYPE)
        .and_then(|rest| rest.find('"'))
        .map(|at| TYPE.len() + at + 1)
    else {
        return frame;
    };
    let name = serde_json::to_string(name).unwrap_or_default();
    let mut tagged = String::with_capacity(frame.len() + name.len() + 28);
    tagged.push_str(&frame[..end]);
    tagged.push_str(r#","agent":{"agent_name":"#);
    tagged.push_str(&name);
    tagged.push('}');
    tagged.push_str(&frame[end..]);
    tagged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_beta_is_one_value_among_the_listed_ones() {
        let with = |value: &str| beta_requested(&[Header::new("OpenAI-Beta", value)]);
        assert!(with("responses_multi_agent=v1"));
        assert!(with(
            "responses_websockets=2026-02-06, responses_multi_agent=v1"
        ));
        assert!(!with("responses_multi_agent=v2"));
        assert!(!with("responses_websockets=2026-02-06"));
        assert!(!beta_requested(&[Header::new(
            "X-Other",
            "responses_multi_agent=v1"
        )]));
    }

    #[test]
    fn the_agent_goes_right_after_the_type() {
        let frame = r#"{"type":"error","stream_id":"a","error":{"message":"x"}}"#.to_string();
        assert_eq!(
            tag_agent(frame, "re\"search"),
            r#"{"type":"error","agent":{"agent_name":"re\"search"},"stream_id":"a","error":{"message":"x"}}"#
        );
        assert_eq!(tag_agent("not json".into(), "a"), "not json");
    }
}
