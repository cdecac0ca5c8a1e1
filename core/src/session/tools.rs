//! Tool-call sequencing: the calls a completed response asks the client to answer, and the
//! answers collected for them, in any order, until every call has exactly one.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::DeserializeOwned;

use crate::wire::{
    CustomToolCallOutput, FunctionCallOutput, Item, McpApprovalResponse, Response, ToolOutput,
};

/// What kind of answer a [`ToolCall`] needs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolCallKind {
    /// A `function_call`: answer with [`function_call_output`](Item::FunctionCallOutput).
    Function,
    /// A `custom_tool_call` (free-text input): answer with a `custom_tool_call_output`.
    Custom,
    /// An `mcp_approval_request`: answer with an approval or a refusal.
    McpApproval {
        /// The MCP server that wants to run the tool.
        server_label: String,
    },
}

/// A call the model made that the client must answer before the lane can continue.
///
/// ```
/// use responses_ws_core::session::{ToolCall, ToolCallKind};
///
/// let call = ToolCall {
///     call_id: "call_1".into(),
///     name: "add".into(),
///     kind: ToolCallKind::Function,
///     arguments: r#"{"a":2,"b":3}"#.into(),
/// };
/// #[derive(serde::Deserialize)]
/// struct Add { a: i64, b: i64 }
/// let args: Add = call.parse_arguments()?;
/// assert_eq!(args.a + args.b, 5);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolCall {
    /// The id an answer refers to (`call_id`; the request `id` for MCP approvals).
    pub call_id: String,
    /// The tool's name.
    pub name: String,
    /// What kind of answer is expected.
    pub kind: ToolCallKind,
    /// The arguments as the model wrote them: JSON for functions and MCP tools, free text for
    /// custom tools.
    pub arguments: String,
}

impl ToolCall {
    /// The arguments parsed as JSON into `T`.
    pub fn parse_arguments<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_str(&self.arguments)
    }

    /// The calls among a response's output items, in output order.
    pub fn from_response(response: &Response) -> Vec<ToolCall> {
        response
            .output
            .iter()
            .filter_map(ToolCall::from_item)
            .collect()
    }

    fn from_item(item: &Item) -> Option<ToolCall> {
        let (call_id, name, kind, arguments) = match item {
            Item::FunctionCall(call) => (
                &call.call_id,
                &call.name,
                ToolCallKind::Function,
                &call.arguments,
            ),
            Item::CustomToolCall(call) => {
                (&call.call_id, &call.name, ToolCallKind::Custom, &call.input)
            }
            Item::McpApprovalRequest(request) => {
                let kind = ToolCallKind::McpApproval {
                    server_label: request.server_label.clone(),
                };
                (&request.id, &request.name, kind, &request.arguments)
            }
            _ => return None,
        };
        Some(ToolCall {
            call_id: call_id.clone(),
            name: name.clone(),
            kind,
            arguments: arguments.clone(),
        })
    }

    /// The item that answers this call with `output` (for MCP approvals, see
    /// [`approval`](Self::approval)).
    pub fn answer(&self, output: impl Into<ToolOutput>) -> Item {
        let output = output.into();
        match self.kind {
            ToolCallKind::Custom => Item::CustomToolCallOutput(CustomToolCallOutput {
                id: None,
                call_id: self.call_id.clone(),
                output,
            }),
            _ => Item::FunctionCallOutput(FunctionCallOutput {
                id: None,
                call_id: self.call_id.clone(),
                output,
                status: None,
            }),
        }
    }

    /// [`answer`](Self::answer), refused for an MCP approval request (which takes an
    /// approval, not an output).
    pub(crate) fn output_item(&self, output: ToolOutput) -> Result<Item, ToolOutputError> {
        match self.kind {
            ToolCallKind::McpApproval { .. } => {
                Err(ToolOutputError::WrongKind(self.call_id.clone()))
            }
            _ => Ok(self.answer(output)),
        }
    }

    /// The item that approves (or refuses) an MCP approval request.
    pub fn approval(&self, approve: bool, reason: Option<String>) -> Item {
        Item::McpApprovalResponse(McpApprovalResponse {
            id: None,
            approval_request_id: self.call_id.clone(),
            approve,
            reason,
        })
    }
}

/// An answer the session refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ToolOutputError {
    /// No pending call has this id on the lane.
    UnknownCall(String),
    /// The call already has its answer.
    Duplicate(String),
    /// The answer's kind does not fit the call (e.g. an approval for a function call).
    WrongKind(String),
}

impl fmt::Display for ToolOutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ToolOutputError::UnknownCall(id) => {
                write!(f, "no pending tool call has call_id {id:?}")
            }
            ToolOutputError::Duplicate(id) => write!(f, "tool call {id:?} already has its output"),
            ToolOutputError::WrongKind(id) => {
                write!(f, "this kind of answer does not fit tool call {id:?}")
            }
        }
    }
}

impl core::error::Error for ToolOutputError {}

/// The calls of one completed response and their answers so far.
///
/// Invariant: `answers[i]` answers `calls[i]`; once every slot is filled the continuation can
/// be sent, with the answers in call order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PendingCalls {
    pub(crate) response_id: String,
    pub(crate) calls: Vec<ToolCall>,
    answers: Vec<Option<Item>>,
}

impl PendingCalls {
    /// The calls of `response`, or `None` when it made none.
    pub(crate) fn of(response: &Response) -> Option<PendingCalls> {
        let calls = ToolCall::from_response(response);
        if calls.is_empty() {
            return None;
        }
        let answers = calls.iter().map(|_| None).collect();
        Some(PendingCalls {
            response_id: response.id.clone(),
            calls,
            answers,
        })
    }

    /// Calls of `response_id` with the answers given so far (`answers[i]` answers
    /// `calls[i]`), as a resumed conversation had them; `None` when there is no call.
    pub(crate) fn resumed(
        response_id: String,
        calls: Vec<ToolCall>,
        answers: Vec<Option<Item>>,
    ) -> Option<PendingCalls> {
        (!calls.is_empty() && calls.len() == answers.len()).then_some(PendingCalls {
            response_id,
            calls,
            answers,
        })
    }

    /// The answer given for `call_id`, if any.
    pub(crate) fn answer_of(&self, call_id: &str) -> Option<&Item> {
        let index = self.calls.iter().position(|call| call.call_id == call_id)?;
        self.answers[index].as_ref()
    }

    /// These calls less the ones `answered` already holds an output for (outputs committed
    /// by `response.inject`); `None` when none is left.
    pub(crate) fn without(mut self, answered: &[Item]) -> Option<PendingCalls> {
        let open: Vec<bool> = (self.calls.iter())
            .map(|call| {
                !answered
                    .iter()
                    .any(|item| item.call_id() == Some(&call.call_id))
            })
            .collect();
        let mut keep = open.iter();
        self.calls.retain(|_| *keep.next().unwrap_or(&true));
        let mut keep = open.iter();
        self.answers.retain(|_| *keep.next().unwrap_or(&true));
        (!self.calls.is_empty()).then_some(self)
    }

    /// Records `answer` (built by [`ToolCall::answer`] or [`ToolCall::approval`]) for the call
    /// `call_id`, which must be pending and unanswered.
    pub(crate) fn answer(
        &mut self,
        call_id: &str,
        answer: impl FnOnce(&ToolCall) -> Result<Item, ToolOutputError>,
    ) -> Result<(), ToolOutputError> {
        let index = self
            .calls
            .iter()
            .position(|call| call.call_id == call_id)
            .ok_or_else(|| ToolOutputError::UnknownCall(call_id.into()))?;
        if self.answers[index].is_some() {
            return Err(ToolOutputError::Duplicate(call_id.into()));
        }
        self.answers[index] = Some(answer(&self.calls[index])?);
        Ok(())
    }

    /// Whether every call has its answer.
    pub(crate) fn is_complete(&self) -> bool {
        self.answers.iter().all(Option::is_some)
    }

    /// The calls still waiting for an answer.
    pub(crate) fn unanswered(&self) -> impl Iterator<Item = &ToolCall> {
        self.calls
            .iter()
            .zip(&self.answers)
            .filter(|(_, a)| a.is_none())
            .map(|(call, _)| call)
    }

    /// The answers, in call order (only the filled ones).
    pub(crate) fn into_answers(self) -> Vec<Item> {
        self.answers.into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response() -> Response {
        serde_json::from_str(
            r#"{"id":"resp_1","object":"response","created_at":1,"model":"m","status":"completed","output":[
                {"type":"reasoning","id":"rs_1","summary":[]},
                {"type":"function_call","call_id":"call_a","name":"add","arguments":"{\"a\":1,\"b\":2}"},
                {"type":"custom_tool_call","call_id":"call_b","name":"patch","input":"*** Begin"},
                {"type":"mcp_approval_request","id":"mcpr_1","server_label":"git","name":"push","arguments":"{}"}
            ]}"#,
        )
        .unwrap()
    }

    #[test]
    fn calls_are_read_from_the_output_in_order() {
        let pending = PendingCalls::of(&response()).unwrap();
        let ids: Vec<&str> = pending.calls.iter().map(|c| c.call_id.as_str()).collect();
        assert_eq!(ids, ["call_a", "call_b", "mcpr_1"]);
        assert_eq!(
            pending.calls[2].kind,
            ToolCallKind::McpApproval {
                server_label: "git".into()
            }
        );
    }

    #[test]
    fn answers_in_any_order_come_out_in_call_order() {
        let mut pending = PendingCalls::of(&response()).unwrap();
        pending
            .answer("mcpr_1", |c| Ok(c.approval(true, None)))
            .unwrap();
        pending.answer("call_b", |c| Ok(c.answer("done"))).unwrap();
        assert!(!pending.is_complete());
        assert_eq!(
            pending
                .unanswered()
                .map(|c| c.call_id.as_str())
                .collect::<Vec<_>>(),
            ["call_a"]
        );
        pending.answer("call_a", |c| Ok(c.answer("3"))).unwrap();
        assert!(pending.is_complete());
        let json = serde_json::to_string(&pending.into_answers()).unwrap();
        assert_eq!(
            json,
            r#"[{"type":"function_call_output","call_id":"call_a","output":"3"},{"type":"custom_tool_call_output","call_id":"call_b","output":"done"},{"type":"mcp_approval_response","approval_request_id":"mcpr_1","approve":true}]"#
        );
    }

    #[test]
    fn unknown_and_duplicate_answers_are_refused() {
        let mut pending = PendingCalls::of(&response()).unwrap();
        assert_eq!(
            pending.answer("call_x", |c| Ok(c.answer("?"))),
            Err(ToolOutputError::UnknownCall("call_x".into()))
        );
        pending.answer("call_a", |c| Ok(c.answer("3"))).unwrap();
        assert_eq!(
            pending.answer("call_a", |c| Ok(c.answer("4"))),
            Err(ToolOutputError::Duplicate("call_a".into()))
        );
        let json = serde_json::to_string(&pending.clone().into_answers()).unwrap();
        assert!(json.contains(r#""output":"3""#) && !json.contains(r#""output":"4""#));
    }
}
