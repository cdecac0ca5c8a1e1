//! Model settings that a `response.create` sends and the `Response` object echoes back:
//! reasoning, text format, truncation, service tier, prompt templates, conversations, context
//! management and the small enums they use.
//!
//! Every string enum here is open (unknown values are kept in `Other`) and every object ignores
//! fields it does not know.

use alloc::string::String;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

open_str_enum! {
    /// How hard the model reasons (`reasoning.effort`).
    pub enum ReasoningEffort {
        None = "none",
        Minimal = "minimal",
        Low = "low",
        Medium = "medium",
        High = "high",
        XHigh = "xhigh",
    }
}

open_str_enum! {
    /// Whether and how the model summarises its reasoning (`reasoning.summary`).
    pub enum ReasoningSummary {
        Auto = "auto",
        Concise = "concise",
        Detailed = "detailed",
    }
}

open_str_enum! {
    /// Length of the model's answers (`text.verbosity`).
    pub enum Verbosity {
        Low = "low",
        Medium = "medium",
        High = "high",
    }
}

open_str_enum! {
    /// What happens when the context exceeds the model's window (`truncation`).
    pub enum Truncation {
        Auto = "auto",
        Disabled = "disabled",
    }
}

open_str_enum! {
    /// Processing tier (`service_tier`).
    pub enum ServiceTier {
        Auto = "auto",
        Default = "default",
        Flex = "flex",
        Scale = "scale",
        Priority = "priority",
    }
}

open_str_enum! {
    /// How long a prompt-cache entry is kept (`prompt_cache_retention`).
    pub enum PromptCacheRetention {
        InMemory = "in_memory",
        Hours24 = "24h",
    }
}

open_str_enum! {
    /// Extra output data to return (`include`).
    pub enum Includable {
        ReasoningEncryptedContent = "reasoning.encrypted_content",
        OutputTextLogprobs = "message.output_text.logprobs",
        WebSearchActionSources = "web_search_call.action.sources",
        WebSearchResults = "web_search_call.results",
        FileSearchResults = "file_search_call.results",
        CodeInterpreterOutputs = "code_interpreter_call.outputs",
        ComputerCallOutputImageUrl = "computer_call_output.output.image_url",
        InputImageUrl = "message.input_image.image_url",
    }
}

/// Reasoning settings (`reasoning`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reasoning {
    /// Reasoning effort.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effort: Option<ReasoningEffort>,
    /// Reasoning summary mode.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub summary: Option<ReasoningSummary>,
}

/// Text output settings (`text`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextConfig {
    /// The output format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<TextFormat>,
    /// Answer length.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbosity: Option<Verbosity>,
}

open_tagged_enum! {
    /// The shape of text output (`text.format`).
    pub enum TextFormat {
        /// Plain text.
        "text" => Text,
        /// Any JSON object.
        "json_object" => JsonObject,
        /// JSON that matches a schema (structured outputs).
        "json_schema" => JsonSchema(JsonSchemaFormat),
    }
}

/// A `json_schema` text format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSchemaFormat {
    /// Name of the format.
    pub name: String,
    /// The JSON Schema.
    pub schema: Value,
    /// What the format is for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the schema is enforced strictly.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict: Option<bool>,
}

/// The conversation a response belongs to (`conversation`): sent as an id string or `{id}`,
/// always written as `{"id":…}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConversationRef {
    /// Conversation id (`conv_…`).
    pub id: String,
}

impl<'de> Deserialize<'de> for ConversationRef {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum IdOrObject {
            Id(String),
            Object { id: String },
        }
        Ok(match IdOrObject::deserialize(deserializer)? {
            IdOrObject::Id(id) | IdOrObject::Object { id } => ConversationRef { id },
        })
    }
}

/// A stored prompt template (`prompt`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptRef {
    /// Prompt id.
    pub id: String,
    /// Prompt version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Values substituted into the template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variables: Option<Map<String, Value>>,
}

open_tagged_enum! {
    /// A server-side context management rule (`context_management[]`).
    pub enum ContextManagement {
        /// Compact the context automatically once it passes a threshold.
        "compaction" => Compaction(CompactionRule),
    }
}

/// The `compaction` context management rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionRule {
    /// Token count (≥ 1000) at which the context is compacted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_threshold: Option<u64>,
}

/// Streaming options (`stream_options`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamOptions {
    /// Whether delta events carry random `obfuscation` padding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_obfuscation: Option<bool>,
}

/// Access programs the request opts into (`access_programs`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessPrograms {
    /// Cyber access level, e.g. `standard`, `daybreak_blue`, `daybreak_red`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cyber: Option<String>,
}

/// Multi-agent settings (`multi_agent`, beta).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MultiAgent {
    /// Whether the response may run several agents.
    pub enabled: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn open_string_enums_keep_unknown_values() {
        let effort: ReasoningEffort = serde_json::from_str(r#""ultra""#).unwrap();
        assert_eq!(effort, ReasoningEffort::Other("ultra".into()));
        assert_eq!(serde_json::to_string(&effort).unwrap(), r#""ultra""#);
        let tier: PromptCacheRetention = serde_json::from_str(r#""24h""#).unwrap();
        assert_eq!(tier, PromptCacheRetention::Hours24);
    }

    #[test]
    fn text_formats_round_trip() {
        for format in [
            json!({"type":"text"}),
            json!({"type":"json_schema","name":"plan","schema":{"type":"object"},"strict":true}),
            json!({"type":"grammar","syntax":"lark"}),
        ] {
            let parsed: TextFormat = serde_json::from_value(format.clone()).unwrap();
            assert_eq!(serde_json::to_value(&parsed).unwrap(), format);
        }
        let text: TextFormat = serde_json::from_str(r#"{"type":"text"}"#).unwrap();
        assert_eq!(text, TextFormat::Text);
    }

    #[test]
    fn conversation_accepts_an_id_or_an_object() {
        let by_id: ConversationRef = serde_json::from_str(r#""conv_1""#).unwrap();
        let by_object: ConversationRef = serde_json::from_str(r#"{"id":"conv_1"}"#).unwrap();
        assert_eq!(by_id, by_object);
        assert_eq!(serde_json::to_string(&by_id).unwrap(), r#"{"id":"conv_1"}"#);
    }

    #[test]
    fn reasoning_accepts_null_summary() {
        let reasoning: Reasoning =
            serde_json::from_str(r#"{"effort":"none","summary":null}"#).unwrap();
        assert_eq!(reasoning.effort, Some(ReasoningEffort::None));
        assert_eq!(reasoning.summary, None);
    }
}
