//! Where a request stands in its conversation: which model response it asks for (the turn
//! index), whether every function call it continues has its output, and rough token counts.
//!
//! The same rules serve chained requests (`previous_response_id` + new items) and full-context
//! requests (the whole history as `input`): the turn index is the parent's count of model
//! responses plus the model responses replayed in `input`, where a run of consecutive model
//! items (reasoning, function calls, assistant messages) is one response.

use alloc::collections::BTreeSet;
use alloc::string::String;
use alloc::vec::Vec;

use super::errors::{self, Rejection};
use crate::wire::{Input, Item, Message, Role};

/// What the server remembers of a finished response: enough to continue from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Conversation {
    /// The response id.
    pub(crate) id: String,
    /// Model responses in the chain, this one included (warm-ups are not model responses).
    pub(crate) turns: u32,
    /// The calls of this response that the next request must answer.
    pub(crate) pending: Vec<PendingCall>,
    /// Tokens of the whole conversation so far.
    pub(crate) context_tokens: u64,
}

/// A function call waiting for its output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PendingCall {
    /// The `call_id` the output must echo.
    pub(crate) call_id: String,
    /// The function's name.
    pub(crate) name: String,
}

/// A request placed in its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Continuation {
    /// 0-based index of the model response the request asks for.
    pub(crate) turn: u32,
    /// Input tokens, the parent's context included.
    pub(crate) input_tokens: u64,
    /// Input tokens served from the connection's cache (the parent's context).
    pub(crate) cached_tokens: u64,
    /// Bytes of the request's own `input` (its JSON): what the server has not seen yet.
    pub(crate) input_bytes: usize,
}

/// Places a request continuing `parent` (if any) with `input`; fails like HTTP's 400 when a
/// function call of the parent or of `input` has no output in `input`, or when an output
/// answers no call of either or a call answered already.
pub(crate) fn continue_from(
    parent: Option<&Conversation>,
    input: Option<&Input>,
) -> Result<Continuation, Rejection> {
    let items = match input {
        Some(Input::List(items)) => items.as_slice(),
        Some(Input::Text(_)) | None => &[],
    };
    if let Some(call_id) = first_unanswered(parent, items) {
        return Err(errors::missing_tool_output(call_id));
    }
    if let Some(call_id) = first_stray_output(parent, items) {
        return Err(errors::stray_tool_output(call_id));
    }
    let context = parent.map_or(0, |parent| parent.context_tokens);
    let input_bytes = input.map_or(0, json_len);
    Ok(Continuation {
        turn: parent
            .map_or(0, |parent| parent.turns)
            .saturating_add(model_responses(items)),
        input_tokens: context.saturating_add(tokens(input_bytes).max(1)),
        cached_tokens: context,
        input_bytes,
    })
}

/// Rough token count of `len` bytes of text (4 bytes a token).
pub(crate) fn tokens(len: usize) -> u64 {
    (len as u64).div_ceil(4)
}

fn json_len(input: &Input) -> usize {
    serde_json::to_string(input).map_or(0, |json| json.len())
}

/// Model responses replayed in `items`: runs of consecutive model output items (so reasoning,
/// a commentary message and the function calls of one response count once).
fn model_responses(items: &[Item]) -> u32 {
    let mut responses = 0u32;
    let mut in_run = false;
    for item in items {
        let model = is_model_output(item);
        if model && !in_run {
            responses = responses.saturating_add(1);
        }
        in_run = model;
    }
    responses
}

fn is_model_output(item: &Item) -> bool {
    match item {
        Item::FunctionCall(_)
        | Item::CustomToolCall(_)
        | Item::McpApprovalRequest(_)
        | Item::Reasoning(_) => true,
        Item::Message(Message { role, .. }) => *role == Role::Assistant,
        _ => false,
    }
}

/// The first call (of the parent, then of `items`) without an output in `items`.
fn first_unanswered<'a>(parent: Option<&'a Conversation>, items: &'a [Item]) -> Option<&'a str> {
    let answered: BTreeSet<&str> = items.iter().filter_map(answered_call).collect();
    let parent_calls = parent
        .into_iter()
        .flat_map(|parent| &parent.pending)
        .map(|call| call.call_id.as_str());
    let replayed_calls = items.iter().filter_map(asked_call);
    parent_calls
        .chain(replayed_calls)
        .find(|call_id| !answered.contains(call_id))
}

/// The first output (in `items`) that answers no call of the parent or of `items`, or a call
/// an earlier output answered.
fn first_stray_output<'a>(parent: Option<&'a Conversation>, items: &'a [Item]) -> Option<&'a str> {
    let mut open: BTreeSet<&str> = parent
        .into_iter()
        .flat_map(|parent| &parent.pending)
        .map(|call| call.call_id.as_str())
        .collect();
    for item in items {
        if let Some(call_id) = asked_call(item) {
            open.insert(call_id);
        } else if let Some(call_id) = answered_call(item) {
            if !open.remove(call_id) {
                return Some(call_id);
            }
        }
    }
    None
}

/// The call `item` makes the model wait for: a function or custom tool call's `call_id`, an
/// MCP approval request's `id`.
fn asked_call(item: &Item) -> Option<&str> {
    match item {
        Item::FunctionCall(_) | Item::CustomToolCall(_) => item.call_id(),
        Item::McpApprovalRequest(request) => Some(&request.id),
        _ => None,
    }
}

/// The call `item` answers: an output's `call_id`, an MCP approval response's
/// `approval_request_id`.
fn answered_call(item: &Item) -> Option<&str> {
    match item {
        Item::FunctionCallOutput(_) | Item::CustomToolCallOutput(_) => item.call_id(),
        Item::McpApprovalResponse(response) => Some(&response.approval_request_id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn parse(json: &str) -> Input {
        serde_json::from_str(json).unwrap()
    }

    const REPLAYED: &str = r#"[
        {"role":"user","content":"Weather?"},
        {"type":"reasoning","id":"rs_1","summary":[]},
        {"type":"function_call","call_id":"call_a","name":"w","arguments":"{}"},
        {"type":"function_call","call_id":"call_b","name":"w","arguments":"{}"},
        {"type":"function_call_output","call_id":"call_b","output":"9"},
        {"type":"function_call_output","call_id":"call_a","output":"14"},
        {"type":"message","role":"assistant","content":[{"type":"output_text","text":"Paris."}]},
        {"role":"user","content":"And Berlin?"}
    ]"#;

    #[test]
    fn replayed_context_counts_model_responses() {
        let placed = continue_from(None, Some(&parse(REPLAYED))).unwrap();
        assert_eq!(placed.turn, 2);
        assert_eq!(placed.cached_tokens, 0);
        assert!(placed.input_tokens > 10);
    }

    #[test]
    fn commentary_and_calls_of_one_response_count_once() {
        let replayed = parse(
            r#"[
            {"role":"user","content":"Flights?"},
            {"type":"reasoning","id":"rs_1","summary":[]},
            {"type":"message","role":"assistant","phase":"commentary","content":[{"type":"output_text","text":"Let me check the flights."}]},
            {"type":"function_call","call_id":"call_a","name":"f","arguments":"{}"},
            {"type":"function_call","call_id":"call_b","name":"f","arguments":"{}"},
            {"type":"function_call_output","call_id":"call_a","output":"1"},
            {"type":"function_call_output","call_id":"call_b","output":"2"},
            {"type":"message","role":"assistant","phase":"commentary","content":[{"type":"output_text","text":"And the hotels."}]},
            {"type":"function_call","call_id":"call_c","name":"h","arguments":"{}"},
            {"type":"function_call_output","call_id":"call_c","output":"3"}
        ]"#,
        );
        assert_eq!(continue_from(None, Some(&replayed)).unwrap().turn, 2);
    }

    #[test]
    fn an_output_of_no_call_or_a_second_output_of_one_is_refused() {
        let parent = Conversation {
            id: "resp_1".into(),
            turns: 1,
            pending: vec![PendingCall {
                call_id: "call_x".into(),
                name: "w".into(),
            }],
            context_tokens: 10,
        };
        let twice = parse(
            r#"[{"type":"function_call_output","call_id":"call_x","output":"1"},
                {"type":"function_call_output","call_id":"call_x","output":"2"}]"#,
        );
        let error = continue_from(Some(&parent), Some(&twice)).unwrap_err();
        assert_eq!(
            error.message,
            "No tool call found for function call output with call_id call_x."
        );
        let unknown = parse(
            r#"[{"type":"function_call_output","call_id":"call_x","output":"1"},
                {"type":"function_call_output","call_id":"call_y","output":"2"}]"#,
        );
        assert!(continue_from(Some(&parent), Some(&unknown)).is_err());
        assert!(continue_from(None, Some(&parse(REPLAYED))).is_ok());
    }

    #[test]
    fn input_bytes_are_the_json_of_the_input() {
        let input = parse(r#""Hello""#);
        let placed = continue_from(None, Some(&input)).unwrap();
        assert_eq!(placed.input_bytes, r#""Hello""#.len());
        assert_eq!(continue_from(None, None).unwrap().input_bytes, 0);
    }

    #[test]
    fn chained_requests_add_to_the_parent() {
        let parent = Conversation {
            id: "resp_1".into(),
            turns: 3,
            pending: vec![PendingCall {
                call_id: "call_x".into(),
                name: "w".into(),
            }],
            context_tokens: 100,
        };
        let answered =
            parse(r#"[{"type":"function_call_output","call_id":"call_x","output":"ok"}]"#);
        let placed = continue_from(Some(&parent), Some(&answered)).unwrap();
        assert_eq!((placed.turn, placed.cached_tokens), (3, 100));

        let error = continue_from(Some(&parent), Some(&parse(r#""hi""#))).unwrap_err();
        assert_eq!(
            error.message,
            "No tool output found for function call call_x."
        );
        assert_eq!(
            (error.status, error.param.as_deref()),
            (Some(400), Some("input"))
        );
    }

    #[test]
    fn a_replayed_call_without_output_is_refused() {
        let input = parse(
            r#"[{"role":"user","content":"Weather?"},{"type":"function_call","call_id":"call_a","name":"w","arguments":"{}"}]"#,
        );
        let error = continue_from(None, Some(&input)).unwrap_err();
        assert_eq!(
            error.message,
            "No tool output found for function call call_a."
        );
    }

    #[test]
    fn text_input_starts_at_turn_zero() {
        let placed = continue_from(None, Some(&parse(r#""Hello""#))).unwrap();
        assert_eq!(placed.turn, 0);
        assert_eq!(continue_from(None, None).unwrap().turn, 0);
    }
}
