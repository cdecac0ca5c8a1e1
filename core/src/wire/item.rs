//! Conversation items: what a request sends as `input` and what a response returns as
//! `output`. The API uses one item vocabulary for both directions (output items are resent as
//! input when replaying context), so this is one open enum, [`Item`].
//!
//! Items a tool loop needs are typed (messages, function and custom tool calls and their outputs,
//! reasoning with `encrypted_content`, MCP approvals, item references, compaction); other kinds
//! (hosted tool calls, computer and shell calls, …) are kept whole as raw JSON in `Item::Other`.

use alloc::string::String;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::content::{ContentPart, SummaryPart, TextOrList};
use super::lenient::null_as_default;

/// A message's content: plain text or a list of parts.
pub type MessageContent = TextOrList<ContentPart>;

/// A tool call's output: plain text or a list of `input_text` / `input_image` / `input_file` parts.
pub type ToolOutput = TextOrList<ContentPart>;

open_tagged_enum! {
    /// An item of a conversation, sent as input or received as output.
    ///
    /// ```
    /// use responses_ws_core::wire::Item;
    ///
    /// let items: Vec<Item> = serde_json::from_str(r#"[
    ///     {"role":"user","content":"Is it warmer in Paris or in Tokyo?"},
    ///     {"type":"function_call_output","call_id":"call_Pq1","output":"{\"temp_c\":14}"},
    ///     {"type":"web_search_call","id":"ws_1","status":"completed","action":{"type":"search"}}
    /// ]"#).unwrap();
    ///
    /// assert!(matches!(items[0], Item::Message(_)));
    /// assert_eq!(items[1], Item::function_call_output("call_Pq1", r#"{"temp_c":14}"#));
    /// assert_eq!(items[2].kind(), "web_search_call"); // kept raw in `Item::Other`
    /// ```
    pub enum Item {
        /// A message from the user, the model, the system or the developer.
        "message" => Message(Message),
        /// The model calls a function.
        "function_call" => FunctionCall(FunctionCall),
        /// The result of a function call.
        "function_call_output" => FunctionCallOutput(FunctionCallOutput),
        /// The model calls a custom tool.
        "custom_tool_call" => CustomToolCall(CustomToolCall),
        /// The result of a custom tool call.
        "custom_tool_call_output" => CustomToolCallOutput(CustomToolCallOutput),
        /// The model's reasoning (summary and, when included, the encrypted state to resend).
        "reasoning" => Reasoning(ReasoningItem),
        /// An MCP server asks to run a tool.
        "mcp_approval_request" => McpApprovalRequest(McpApprovalRequest),
        /// The client's answer to an MCP approval request.
        "mcp_approval_response" => McpApprovalResponse(McpApprovalResponse),
        /// A reference to an item the server already has.
        "item_reference" => ItemReference(ItemReference),
        /// Compacted context.
        "compaction" => Compaction(CompactionItem),
    }
    untagged => Message(Message);
}

impl Item {
    /// A user message with plain text content.
    pub fn user_message(text: impl Into<String>) -> Self {
        Item::Message(Message {
            id: None,
            role: Role::User,
            content: TextOrList::Text(text.into()),
            status: None,
            phase: None,
        })
    }

    /// A function call's output as plain text.
    pub fn function_call_output(call_id: impl Into<String>, output: impl Into<String>) -> Self {
        Item::FunctionCallOutput(FunctionCallOutput {
            id: None,
            call_id: call_id.into(),
            output: TextOrList::Text(output.into()),
            status: None,
        })
    }

    /// The item's id, when it has one (`msg_…`, `fc_…`, `rs_…`, …; raw items included).
    pub fn id(&self) -> Option<&str> {
        match self {
            Item::Message(Message { id, .. })
            | Item::FunctionCall(FunctionCall { id, .. })
            | Item::FunctionCallOutput(FunctionCallOutput { id, .. })
            | Item::CustomToolCall(CustomToolCall { id, .. })
            | Item::CustomToolCallOutput(CustomToolCallOutput { id, .. })
            | Item::McpApprovalResponse(McpApprovalResponse { id, .. })
            | Item::Compaction(CompactionItem { id, .. }) => id.as_deref(),
            Item::Reasoning(ReasoningItem { id, .. })
            | Item::McpApprovalRequest(McpApprovalRequest { id, .. })
            | Item::ItemReference(ItemReference { id }) => Some(id),
            Item::Other(raw) => raw.get("id").and_then(Value::as_str),
        }
    }

    /// The `call_id` of a tool call or tool output (raw items included).
    pub fn call_id(&self) -> Option<&str> {
        match self {
            Item::FunctionCall(FunctionCall { call_id, .. })
            | Item::FunctionCallOutput(FunctionCallOutput { call_id, .. })
            | Item::CustomToolCall(CustomToolCall { call_id, .. })
            | Item::CustomToolCallOutput(CustomToolCallOutput { call_id, .. }) => Some(call_id),
            Item::Other(raw) => raw.get("call_id").and_then(Value::as_str),
            _ => None,
        }
    }
}

open_str_enum! {
    /// Who wrote a message.
    pub enum Role {
        User = "user",
        Assistant = "assistant",
        System = "system",
        Developer = "developer",
    }
}

open_str_enum! {
    /// Progress of an item.
    pub enum ItemStatus {
        InProgress = "in_progress",
        Completed = "completed",
        Incomplete = "incomplete",
    }
}

open_str_enum! {
    /// What an assistant message is for (newer models); resend it with the message.
    pub enum Phase {
        Commentary = "commentary",
        FinalAnswer = "final_answer",
    }
}

/// A `message` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    /// Item id (`msg_…`); absent on messages the client writes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Author.
    pub role: Role,
    /// Text or parts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub content: MessageContent,
    /// Progress (output messages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
    /// Commentary or final answer (assistant messages of newer models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<Phase>,
}

/// A `function_call` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCall {
    /// Item id (`fc_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Call id (`call_…`) that the output must echo.
    pub call_id: String,
    /// Function name.
    pub name: String,
    /// Arguments as a JSON string (empty while streaming starts).
    #[serde(default)]
    pub arguments: String,
    /// Namespace of the function, for namespaced tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// What issued the call, for programmatic callers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caller: Option<Value>,
    /// Progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
}

/// A `function_call_output` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FunctionCallOutput {
    /// Item id, when the server echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call answered.
    #[serde(default, deserialize_with = "null_as_default")]
    pub call_id: String,
    /// The output (up to 10 MiB of text).
    pub output: ToolOutput,
    /// Progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
}

/// A `custom_tool_call` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCall {
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Call id that the output must echo.
    pub call_id: String,
    /// Tool name.
    pub name: String,
    /// Free-form input.
    #[serde(default)]
    pub input: String,
    /// Namespace of the tool, for namespaced tools.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
}

/// A `custom_tool_call_output` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallOutput {
    /// Item id, when the server echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The call answered.
    pub call_id: String,
    /// The output.
    pub output: ToolOutput,
}

/// A `reasoning` item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReasoningItem {
    /// Item id (`rs_…`).
    pub id: String,
    /// Summary parts.
    #[serde(default, deserialize_with = "null_as_default")]
    pub summary: alloc::vec::Vec<SummaryPart>,
    /// Raw reasoning text parts (models that expose it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<alloc::vec::Vec<ContentPart>>,
    /// Opaque reasoning state; resend it to continue without `previous_response_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encrypted_content: Option<String>,
    /// Progress.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ItemStatus>,
}

/// An `mcp_approval_request` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpApprovalRequest {
    /// Item id, answered by `approval_request_id`.
    pub id: String,
    /// The MCP server.
    pub server_label: String,
    /// The tool to run.
    pub name: String,
    /// Its arguments as a JSON string.
    #[serde(default)]
    pub arguments: String,
}

/// An `mcp_approval_response` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct McpApprovalResponse {
    /// Item id, when the server echoes it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The request answered.
    pub approval_request_id: String,
    /// Whether the tool may run.
    pub approve: bool,
    /// Why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// An `item_reference` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemReference {
    /// The referenced item's id.
    pub id: String,
}

/// A `compaction` item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompactionItem {
    /// Item id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Opaque compacted context.
    pub encrypted_content: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use serde_json::json;

    /// The recovery input of protocol.md §9.3: the whole first turn replayed.
    const REPLAYED_CONTEXT: &str = r#"[{"type":"message","role":"user","content":[{"type":"input_text","text":"Is it warmer in Paris or in Tokyo right now?"}]},{"type":"reasoning","id":"rs_3f4e5d6c7b8a99887766554433221100","summary":[],"encrypted_content":"gAAAAABp-full"},{"type":"function_call","call_id":"call_Pq1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"},{"type":"function_call","call_id":"call_Tk2","name":"get_weather","arguments":"{\"city\":\"Tokyo\"}"},{"type":"function_call_output","call_id":"call_Pq1","output":"{\"temp_c\":14,\"sky\":\"cloudy\"}"},{"type":"function_call_output","call_id":"call_Tk2","output":"{\"temp_c\":9,\"sky\":\"rain\"}"},{"type":"message","role":"assistant","phase":"final_answer","content":[{"type":"output_text","text":"Paris is warmer: 14 °C vs 9 °C in Tokyo."}]},{"type":"message","role":"user","content":[{"type":"input_text","text":"And in Berlin?"}]}]"#;

    #[test]
    fn replayed_context_decodes_and_round_trips() {
        let items: Vec<Item> = serde_json::from_str(REPLAYED_CONTEXT).unwrap();
        assert_eq!(items.len(), 8);
        let Item::Reasoning(reasoning) = &items[1] else {
            panic!("not reasoning")
        };
        assert_eq!(
            reasoning.encrypted_content.as_deref(),
            Some("gAAAAABp-full")
        );
        assert_eq!(items[2].call_id(), Some("call_Pq1"));
        let Item::Message(answer) = &items[6] else {
            panic!("not a message")
        };
        assert_eq!(answer.phase, Some(Phase::FinalAnswer));
        let again: Vec<Item> =
            serde_json::from_value(serde_json::to_value(&items).unwrap()).unwrap();
        assert_eq!(again, items);
    }

    #[test]
    fn output_items_with_the_id_before_the_type() {
        let item: Item = serde_json::from_str(
            r#"{"id":"fc_aa01","type":"function_call","status":"completed","call_id":"call_Pq1","name":"get_weather","arguments":"{\"city\":\"Paris\"}"}"#,
        )
        .unwrap();
        assert_eq!(item.id(), Some("fc_aa01"));
        let Item::FunctionCall(call) = item else {
            panic!("not a function call")
        };
        assert_eq!(call.status, Some(ItemStatus::Completed));
        assert_eq!(call.arguments, r#"{"city":"Paris"}"#);
    }

    #[test]
    fn short_form_messages_have_no_type() {
        let item: Item =
            serde_json::from_str(r#"{"role":"developer","content":"Be brief."}"#).unwrap();
        assert_eq!(
            item,
            Item::Message(Message {
                id: None,
                role: Role::Developer,
                content: "Be brief.".into(),
                status: None,
                phase: None
            })
        );
    }

    #[test]
    fn other_inputs_round_trip() {
        for item in [
            json!({"type":"custom_tool_call","call_id":"call_c","name":"patch","input":"*** Begin Patch"}),
            json!({"type":"custom_tool_call_output","call_id":"call_c","output":"applied"}),
            json!({"type":"function_call_output","call_id":"call_i","output":[{"type":"input_image","image_url":"https://e.x/a.png"}]}),
            json!({"type":"item_reference","id":"msg_1"}),
            json!({"type":"mcp_approval_request","id":"mcpr_1","server_label":"deepwiki","name":"ask","arguments":"{}"}),
            json!({"type":"mcp_approval_response","approval_request_id":"mcpr_1","approve":true}),
            json!({"type":"compaction","encrypted_content":"gAAA"}),
            json!({"type":"shell_call_output","call_id":"call_s","output":[{"stdout":"ok","stderr":""}]}),
        ] {
            let parsed: Item = serde_json::from_value(item.clone()).unwrap();
            assert_eq!(parsed.kind(), item["type"]);
            assert_eq!(serde_json::to_value(&parsed).unwrap(), item);
        }
    }

    #[test]
    fn unknown_items_keep_their_fields() {
        let item: Item = serde_json::from_str(
            r#"{"id":"ws_1","type":"web_search_call","status":"completed","action":{"type":"search","query":"weather"}}"#,
        )
        .unwrap();
        assert_eq!(item.id(), Some("ws_1"));
        let Item::Other(raw) = item else {
            panic!("not kept raw")
        };
        assert_eq!(raw["action"]["query"], "weather");
    }
}
