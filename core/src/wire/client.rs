//! Client → server events: `response.create` (with every body field of the Responses create
//! request, plus WebSocket-only `stream_id` and `generate`), `response.steer` and
//! `response.inject` (beta).
//!
//! `background` and `stream` are never sent: they have no typed field, and [`ExtraFields`] drops
//! them (and `type`) when serialising.

use alloc::boxed::Box;
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use super::content::TextOrList;
use super::error::DecodeError;
use super::item::Item;
use super::lenient::to_json_string;
use super::settings::{
    AccessPrograms, ContextManagement, ConversationRef, Includable, MultiAgent,
    PromptCacheRetention, PromptRef, Reasoning, ServiceTier, StreamOptions, TextConfig, Truncation,
};
use super::tools::{Tool, ToolChoice};

/// A request's `input` (and a response's `instructions`): text or a list of items.
pub type Input = TextOrList<Item>;

/// An event the client sends.
///
/// ```
/// use responses_ws_core::wire::{ClientEvent, Input, Item, ResponseCreate};
///
/// let event = ClientEvent::from(ResponseCreate {
///     model: Some("gpt-5.5".into()),
///     store: Some(false),
///     previous_response_id: Some("resp_6c0e".into()),
///     input: Some(Input::List(vec![Item::function_call_output("call_Pq1", r#"{"temp_c":14}"#)])),
///     ..ResponseCreate::default()
/// });
/// assert_eq!(
///     event.to_json(),
///     r#"{"type":"response.create","model":"gpt-5.5","input":[{"type":"function_call_output","call_id":"call_Pq1","output":"{\"temp_c\":14}"}],"previous_response_id":"resp_6c0e","store":false}"#,
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
#[non_exhaustive]
pub enum ClientEvent {
    /// `response.create`: start a response (or warm up with `generate: false`).
    #[serde(rename = "response.create")]
    Create(Box<ResponseCreate>),
    /// `response.steer`: add input to a running response.
    #[serde(rename = "response.steer")]
    Steer(ResponseSteer),
    /// `response.inject` (beta, multi-agent): commit tool outputs into a running response.
    #[serde(rename = "response.inject")]
    Inject(ResponseInject),
}

impl ClientEvent {
    /// The event as one JSON text frame.
    pub fn to_json(&self) -> String {
        to_json_string(self)
    }

    /// Reads a client event (the server side of the protocol, e.g. a mock server).
    #[allow(clippy::should_implement_trait)] // Mirrors `ServerEvent::from_str`, which borrows.
    pub fn from_str(text: &str) -> Result<Self, DecodeError> {
        serde_json::from_str(text).map_err(|error| DecodeError::from_json(error, None))
    }

    /// The event's `type`.
    pub fn event_type(&self) -> &'static str {
        match self {
            ClientEvent::Create(_) => "response.create",
            ClientEvent::Steer(_) => "response.steer",
            ClientEvent::Inject(_) => "response.inject",
        }
    }
}

impl From<ResponseCreate> for ClientEvent {
    fn from(create: ResponseCreate) -> Self {
        ClientEvent::Create(Box::new(create))
    }
}

impl From<ResponseSteer> for ClientEvent {
    fn from(steer: ResponseSteer) -> Self {
        ClientEvent::Steer(steer)
    }
}

impl From<ResponseInject> for ClientEvent {
    fn from(inject: ResponseInject) -> Self {
        ClientEvent::Inject(inject)
    }
}

/// The body of `response.create`: the Responses create request, flat, plus `stream_id` and
/// `generate`. Every field is optional and omitted when `None`.
///
/// ```
/// use responses_ws_core::wire::{ClientEvent, ResponseCreate};
///
/// // Warm-up: upload instructions and tools, run no model.
/// let mut warm_up = ResponseCreate {
///     model: Some("gpt-6-astra".into()),
///     instructions: Some("You are a planning assistant.".into()),
///     generate: Some(false),
///     stream_id: Some("planner".into()),
///     ..ResponseCreate::default()
/// };
/// // A field this version does not know yet.
/// warm_up.extra.insert("client_metadata".into(), serde_json::json!({"turn": "1"}));
/// // Transport fields are never sent, even through `extra`.
/// warm_up.extra.insert("stream".into(), true.into());
///
/// let json = ClientEvent::from(warm_up).to_json();
/// assert_eq!(
///     json,
///     r#"{"type":"response.create","stream_id":"planner","generate":false,"model":"gpt-6-astra","instructions":"You are a planning assistant.","client_metadata":{"turn":"1"}}"#,
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResponseCreate {
    /// Lane (WebSocket only): 1–256 characters of `[A-Za-z0-9_.-]`; `None` is the default lane.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// `Some(false)` prepares state without running the model (warm-up; WebSocket only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate: Option<bool>,
    /// Model id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// New input: text or items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
    /// System instructions (not carried over by `previous_response_id`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instructions: Option<String>,
    /// The response this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Conversation to add the response to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationRef>,
    /// Tools the model may call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tools: Option<Vec<Tool>>,
    /// Which tools the model may or must call.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Whether tool calls may run in parallel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// Output token limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Tool call limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u64>,
    /// Reasoning settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Text output settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Extra output data to return.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include: Option<Vec<Includable>>,
    /// Whether to store the response (`false` keeps chaining connection-local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Caller metadata (up to 16 string pairs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<BTreeMap<String, String>>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Alternatives to return per token position (0–20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
    /// Truncation mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<Truncation>,
    /// Processing tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier>,
    /// Stored prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptRef>,
    /// Prompt cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    /// Prompt cache retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_retention: Option<PromptCacheRetention>,
    /// Prompt cache options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_options: Option<Value>,
    /// Stable end-user identifier for abuse detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// End-user id (deprecated; use `safety_identifier` and `prompt_cache_key`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Moderation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation: Option<Value>,
    /// Server-side context management rules.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_management: Option<Vec<ContextManagement>>,
    /// Streaming options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_options: Option<StreamOptions>,
    /// Access programs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_programs: Option<AccessPrograms>,
    /// Multi-agent settings (beta).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi_agent: Option<MultiAgent>,
    /// Fields this version does not know, sent as they are. Do not repeat a typed field here;
    /// `type`, `stream` and `background` are never sent.
    #[serde(flatten)]
    pub extra: ExtraFields,
}

/// Extra top-level fields of a `response.create`, passed through as they are, except for
/// `type`, `stream` and `background`, which are dropped when serialising (a decoded request
/// keeps them, so a mock server can see what a client sent).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(transparent)]
pub struct ExtraFields(pub Map<String, Value>);

impl ExtraFields {
    /// Keys that are never sent.
    const NEVER_SENT: [&'static str; 3] = ["type", "stream", "background"];

    /// Adds or replaces a field.
    pub fn insert(&mut self, key: String, value: Value) -> Option<Value> {
        self.0.insert(key, value)
    }

    /// The value of a field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }
}

impl Serialize for ExtraFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let sent = self
            .0
            .iter()
            .filter(|(key, _)| !Self::NEVER_SENT.contains(&key.as_str()));
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in sent {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// `response.steer`: adds input to a running response (steering-capable models only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseSteer {
    /// The active response to steer.
    pub previous_response_id: String,
    /// Text, or user messages with text, image or file parts.
    pub input: Input,
}

/// `response.inject` (beta, multi-agent): commits tool outputs into a running response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseInject {
    /// The active response.
    pub response_id: String,
    /// The items to commit atomically.
    pub input: Vec<Item>,
}

/// Whether `stream_id` is a lane name the server accepts: 1–256 characters from
/// `A–Z a–z 0–9 _ . -`.
pub fn is_valid_stream_id(stream_id: &str) -> bool {
    (1..=256).contains(&stream_id.len())
        && stream_id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'_' | b'.' | b'-'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::content::ContentPart;
    use crate::wire::settings::{ReasoningEffort, ReasoningSummary};
    use crate::wire::tools::FunctionTool;
    use alloc::vec;
    use serde_json::json;

    const TRANSCRIPTS: &str = include_str!("fixtures/transcripts.txt");

    /// The client frames of the protocol.md §9 transcripts.
    fn transcript_client_frames() -> Vec<&'static str> {
        TRANSCRIPTS
            .lines()
            .filter_map(|line| line.strip_prefix(">> "))
            .collect()
    }

    #[test]
    fn transcript_frames_round_trip() {
        let frames = transcript_client_frames();
        assert_eq!(frames.len(), 16);
        for frame in frames {
            let event =
                ClientEvent::from_str(frame).unwrap_or_else(|error| panic!("{error}: {frame}"));
            assert_eq!(
                ClientEvent::from_str(&event.to_json()).unwrap(),
                event,
                "{frame}"
            );
            let ClientEvent::Create(create) = &event else {
                continue;
            };
            assert!(create.extra.0.is_empty(), "every field of {frame} is typed");
        }
    }

    #[test]
    fn typed_fields_decode() {
        let ClientEvent::Create(create) =
            ClientEvent::from_str(transcript_client_frames()[1]).unwrap()
        else {
            panic!("not a create");
        };
        assert_eq!(
            create.include,
            Some(vec![Includable::ReasoningEncryptedContent])
        );
        assert_eq!(
            create.reasoning,
            Some(Reasoning {
                effort: Some(ReasoningEffort::Low),
                summary: Some(ReasoningSummary::Auto)
            })
        );
        let Some([Tool::Function(FunctionTool { name, .. })]) = create.tools.as_deref() else {
            panic!("no function tool");
        };
        assert_eq!(name, "get_weather");
        assert!(create.extra.0.is_empty());
    }

    #[test]
    fn background_and_stream_are_never_sent() {
        let mut create = ResponseCreate {
            model: Some("gpt-5.5".into()),
            ..ResponseCreate::default()
        };
        create.extra.insert("background".into(), true.into());
        create.extra.insert("stream".into(), true.into());
        create.extra.insert("type".into(), "response.append".into());
        let event = ClientEvent::from(create);
        assert_eq!(
            event.to_json(),
            r#"{"type":"response.create","model":"gpt-5.5"}"#
        );
    }

    #[test]
    fn decoded_requests_keep_unknown_fields() {
        let event = ClientEvent::from_str(
            r#"{"type":"response.create","model":"m","stream":true,"client_metadata":{"a":"b"}}"#,
        )
        .unwrap();
        let ClientEvent::Create(create) = event else {
            panic!("not a create")
        };
        assert_eq!(create.extra.get("stream"), Some(&json!(true)));
        assert_eq!(create.extra.get("client_metadata"), Some(&json!({"a":"b"})));
    }

    #[test]
    fn steer_and_inject() {
        let steer = ClientEvent::from(ResponseSteer {
            previous_response_id: "resp_1".into(),
            input: Input::List(vec![Item::Message(crate::wire::item::Message {
                id: None,
                role: crate::wire::item::Role::User,
                content: TextOrList::List(vec![ContentPart::input_text("Smaller scope.")]),
                status: None,
                phase: None,
            })]),
        });
        assert_eq!(
            steer.to_json(),
            r#"{"type":"response.steer","previous_response_id":"resp_1","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"Smaller scope."}]}]}"#
        );
        let inject = ClientEvent::from(ResponseInject {
            response_id: "resp_ma".into(),
            input: vec![Item::function_call_output("call_1", "done")],
        });
        assert_eq!(inject.event_type(), "response.inject");
        assert_eq!(ClientEvent::from_str(&inject.to_json()).unwrap(), inject);
    }

    #[test]
    fn garbage_is_a_decode_error() {
        assert!(matches!(
            ClientEvent::from_str("{\"type\":"),
            Err(DecodeError::Malformed(_))
        ));
        assert!(matches!(
            ClientEvent::from_str(r#"{"type":"response.cancel"}"#),
            Err(DecodeError::NotAnEvent(_))
        ));
    }

    #[test]
    fn stream_id_rules() {
        assert!(is_valid_stream_id("planner.v2-a_b"));
        assert!(!is_valid_stream_id(""));
        assert!(!is_valid_stream_id("bad lane!"));
        assert!(is_valid_stream_id(&"a".repeat(256)));
        assert!(!is_valid_stream_id(&"a".repeat(257)));
    }
}
