//! The `Response` object that lifecycle events carry (`response.created` … `response.completed`),
//! with its status, incomplete details and token usage.
//!
//! Decoding is lenient: only `id` is required, fields the schema marks required but a server
//! leaves out or sends as `null` take their defaults, and unknown fields are ignored.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Input;
use super::content::{ContentPart, OutputText, TextOrList};
use super::error::{serialize_error_body, ApiError};
use super::item::{Item, Message};
use super::lenient::null_as_default;
use super::settings::{
    ConversationRef, PromptCacheRetention, PromptRef, Reasoning, ServiceTier, TextConfig,
    Truncation,
};
use super::tools::{Tool, ToolChoice};

open_str_enum! {
    /// Where a response is in its life.
    pub enum ResponseStatus {
        InProgress = "in_progress",
        Queued = "queued",
        Completed = "completed",
        Failed = "failed",
        Incomplete = "incomplete",
        Cancelled = "cancelled",
    }
}

open_str_enum! {
    /// Why a response ended incomplete.
    pub enum IncompleteReason {
        MaxOutputTokens = "max_output_tokens",
        ContentFilter = "content_filter",
        /// Ended early at a safe point because of `response.steer` (WebSocket mode).
        Steered = "steered",
    }
}

/// A response as the server reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// Response id (`resp_…`), usable as `previous_response_id`.
    pub id: String,
    /// Always `"response"`.
    #[serde(default = "response_object")]
    pub object: String,
    /// Creation time, Unix seconds.
    #[serde(default)]
    pub created_at: u64,
    /// Where the response is in its life.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ResponseStatus>,
    /// Completion time, Unix seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<u64>,
    /// Why the response failed.
    #[serde(default, serialize_with = "serialize_error_body")]
    pub error: Option<ApiError>,
    /// Why the response is incomplete.
    #[serde(default)]
    pub incomplete_details: Option<IncompleteDetails>,
    /// Instructions the response ran with.
    #[serde(default)]
    pub instructions: Option<Input>,
    /// Model id.
    #[serde(default, deserialize_with = "null_as_default")]
    pub model: String,
    /// Output items, in `output_index` order.
    #[serde(default, deserialize_with = "null_as_default")]
    pub output: Vec<Item>,
    /// All output text concatenated (an SDK convenience some servers send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_text: Option<String>,
    /// Whether tool calls may run in parallel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parallel_tool_calls: Option<bool>,
    /// The response this one continues.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_response_id: Option<String>,
    /// Reasoning settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<Reasoning>,
    /// Whether the response is stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store: Option<bool>,
    /// Sampling temperature.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f64>,
    /// Nucleus sampling mass.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f64>,
    /// Alternatives returned per token position.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_logprobs: Option<u8>,
    /// Text output settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<TextConfig>,
    /// Tool choice.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_choice: Option<ToolChoice>,
    /// Tools the model could call.
    #[serde(default, deserialize_with = "null_as_default")]
    pub tools: Vec<Tool>,
    /// Truncation mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truncation: Option<Truncation>,
    /// Output token limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_output_tokens: Option<u64>,
    /// Tool call limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tool_calls: Option<u64>,
    /// Caller metadata.
    #[serde(default, deserialize_with = "null_as_default")]
    pub metadata: BTreeMap<String, String>,
    /// Token usage; `None` until the response ends.
    #[serde(default)]
    pub usage: Option<Usage>,
    /// End-user id (deprecated).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Stable end-user identifier for abuse detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_identifier: Option<String>,
    /// Prompt cache key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_key: Option<String>,
    /// Prompt cache retention.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_retention: Option<PromptCacheRetention>,
    /// Prompt cache options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_cache_options: Option<Value>,
    /// Processing tier used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_tier: Option<ServiceTier>,
    /// Whether the response ran in the background (never over WebSocket).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub background: Option<bool>,
    /// Conversation the response belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<ConversationRef>,
    /// Prompt template used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptRef>,
    /// Moderation settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub moderation: Option<Value>,
}

fn response_object() -> String {
    "response".into()
}

impl Response {
    /// The calls among the output items that the client must answer before the model can
    /// continue, in output order: `function_call`, `custom_tool_call` and `mcp_approval_request`
    /// items.
    pub fn tool_calls(&self) -> impl Iterator<Item = &Item> {
        self.output.iter().filter(|item| {
            matches!(
                item,
                Item::FunctionCall(_) | Item::CustomToolCall(_) | Item::McpApprovalRequest(_)
            )
        })
    }

    /// All output text concatenated: the text of every `output_text` part of every `message`
    /// item, in output order, without separators (what the SDKs call `output_text`). Refusals
    /// and reasoning are left out.
    ///
    /// Computed from [`output`](Self::output); the [`output_text`](Self::output_text) field,
    /// which only some servers send, is not read.
    pub fn all_output_text(&self) -> String {
        self.output
            .iter()
            .filter_map(|item| match item {
                Item::Message(Message {
                    content: TextOrList::List(parts),
                    ..
                }) => Some(parts),
                _ => None,
            })
            .flatten()
            .filter_map(|part| match part {
                ContentPart::OutputText(OutputText { text, .. }) => Some(text.as_str()),
                _ => None,
            })
            .collect()
    }
}

/// Why a response is incomplete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IncompleteDetails {
    /// The reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<IncompleteReason>,
}

/// Token usage of a response.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    /// Input tokens.
    #[serde(default)]
    pub input_tokens: u64,
    /// Breakdown of the input tokens.
    #[serde(default, deserialize_with = "null_as_default")]
    pub input_tokens_details: InputTokensDetails,
    /// Output tokens.
    #[serde(default)]
    pub output_tokens: u64,
    /// Breakdown of the output tokens.
    #[serde(default, deserialize_with = "null_as_default")]
    pub output_tokens_details: OutputTokensDetails,
    /// Input plus output tokens.
    #[serde(default)]
    pub total_tokens: u64,
}

/// Breakdown of input tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputTokensDetails {
    /// Tokens read from the prompt cache.
    #[serde(default)]
    pub cached_tokens: u64,
    /// Tokens written to the prompt cache (newer servers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_write_tokens: Option<u64>,
}

/// Breakdown of output tokens.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputTokensDetails {
    /// Tokens spent reasoning.
    #[serde(default)]
    pub reasoning_tokens: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `response.completed`'s response in protocol.md §9.2, turn 1.
    const TURN_ONE: &str = r#"{"id":"resp_6c0e1f2a3b4c5d6e7f809a1b2c3d4e5f","object":"response","created_at":1771850100,"status":"completed","completed_at":1771850102,"error":null,"incomplete_details":null,"instructions":null,"model":"gpt-5.5","output":[{"id":"rs_3f4e5d6c7b8a99887766554433221100","type":"reasoning","summary":[],"encrypted_content":"gAAAAABp-full"},{"id":"fc_aa01","type":"function_call","status":"completed","call_id":"call_Pq1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"id":"fc_aa02","type":"function_call","status":"completed","call_id":"call_Tk2","name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"}],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":"low","summary":"auto"},"store":false,"temperature":1.0,"tool_choice":"auto","tools":[{"type":"function","name":"get_weather","description":"Current weather for a city.","strict":true,"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"],"additionalProperties":false}}],"top_p":1.0,"usage":{"input_tokens":88,"input_tokens_details":{"cached_tokens":0},"output_tokens":61,"output_tokens_details":{"reasoning_tokens":24},"total_tokens":149},"metadata":{}}"#;

    #[test]
    fn completed_response_with_tool_calls() {
        let response: Response = serde_json::from_str(TURN_ONE).unwrap();
        assert_eq!(response.status, Some(ResponseStatus::Completed));
        assert_eq!(response.output.len(), 3);
        let call_ids: Vec<_> = response.tool_calls().filter_map(Item::call_id).collect();
        assert_eq!(call_ids, ["call_Pq1", "call_Tk2"]);
        assert_eq!(response.tool_choice, Some(ToolChoice::Auto));
        let usage = response.usage.as_ref().unwrap();
        assert_eq!(
            (
                usage.total_tokens,
                usage.output_tokens_details.reasoning_tokens
            ),
            (149, 24)
        );
        let again: Response =
            serde_json::from_str(&serde_json::to_string(&response).unwrap()).unwrap();
        assert_eq!(again, response);
    }

    #[test]
    fn convenience_views() {
        let response: Response = serde_json::from_str(
            r#"{"id":"resp_v","output":[
                {"type":"reasoning","id":"rs_1","summary":[{"type":"summary_text","text":"Think."}]},
                {"type":"message","id":"msg_1","role":"assistant","content":[
                    {"type":"output_text","text":"Hello, ","annotations":[]},
                    {"type":"refusal","refusal":"No."},
                    {"type":"output_text","text":"world","annotations":[]}]},
                {"type":"function_call","id":"fc_1","call_id":"call_1","name":"f","arguments":"{}"},
                {"type":"custom_tool_call","id":"ctc_1","call_id":"call_2","name":"patch","input":"x"},
                {"type":"mcp_approval_request","id":"mcpr_1","server_label":"wiki","name":"ask","arguments":"{}"},
                {"type":"web_search_call","id":"ws_1","status":"completed"},
                {"type":"message","id":"msg_2","role":"assistant","content":[{"type":"output_text","text":"!","annotations":[]}]}
            ]}"#,
        )
        .unwrap();
        assert_eq!(response.all_output_text(), "Hello, world!");
        let calls: Vec<_> = response.tool_calls().filter_map(Item::id).collect();
        assert_eq!(calls, ["fc_1", "ctc_1", "mcpr_1"]);
    }

    #[test]
    fn failed_and_steered_responses() {
        let failed: Response = serde_json::from_str(
            r#"{"id":"resp_9","status":"failed","error":{"code":"server_error","message":"The model failed to generate a response."},"output":[],"tools":null,"metadata":null}"#,
        )
        .unwrap();
        assert_eq!(
            failed.error.as_ref().and_then(|e| e.code.as_deref()),
            Some("server_error")
        );
        let json = serde_json::to_value(&failed).unwrap();
        assert_eq!(
            json["error"],
            serde_json::json!({"code":"server_error","message":"The model failed to generate a response.","param":null})
        );

        let steered: Response = serde_json::from_str(
            r#"{"id":"resp_1","status":"incomplete","incomplete_details":{"reason":"steered"}}"#,
        )
        .unwrap();
        assert_eq!(
            steered.incomplete_details.unwrap().reason,
            Some(IncompleteReason::Steered)
        );
    }

    #[test]
    fn only_the_id_is_required() {
        let response: Response = serde_json::from_str(r#"{"id":"resp_x","usage":{"input_tokens":1,"input_tokens_details":{"cached_tokens":0,"cache_write_tokens":1},"output_tokens":0,"total_tokens":1}}"#).unwrap();
        assert_eq!(
            response
                .usage
                .unwrap()
                .input_tokens_details
                .cache_write_tokens,
            Some(1)
        );
        assert!(serde_json::from_str::<Response>(r#"{"object":"response"}"#).is_err());
    }
}
