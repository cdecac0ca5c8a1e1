//! Rebuilding a conversation from its records: the ledger, the settings to continue with, and
//! for the tool calls the lane waits for, which have a durable output and which must run again.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::record::{Entry, Journal, Record};
use crate::session::{Lane, LaneLedger, ToolCall};
use crate::wire::{Item, Response, ResponseCreate};

/// A tool call the conversation waits for, with its output if one is durable.
#[derive(Debug, Clone, PartialEq)]
pub struct AwaitedCall {
    /// The call, as the model made it.
    pub call: ToolCall,
    /// The output recorded for it; `None`: the handler must run it (again).
    pub output: Option<Item>,
}

/// A conversation rebuilt by [`replay`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Replayed {
    /// The conversation's id.
    pub conversation: String,
    /// The lane it ran on.
    pub lane: Lane,
    /// Its context: inputs, completed responses and acknowledged tool outputs.
    pub ledger: LaneLedger,
    /// The settings of its last request (for the continuation, or the request it owes).
    pub settings: Option<ResponseCreate>,
    /// Its last completed response (the final answer, when the conversation is
    /// [finished](Self::is_finished)).
    pub last_response: Option<Response>,
    /// The tool calls it waits for, in call order (empty when it waits for none).
    pub calls: Vec<AwaitedCall>,
    /// The response the server created for the last acknowledged request, when no completed
    /// response followed it (it was in flight when the records stop).
    pub in_flight: Option<String>,
    /// The `seq` of the next record to write.
    pub next_seq: u64,
}

impl Replayed {
    /// The calls without a durable output: the ones to hand to the tool handler again.
    pub fn to_rerun(&self) -> impl Iterator<Item = &ToolCall> {
        self.calls
            .iter()
            .filter(|awaited| awaited.output.is_none())
            .map(|awaited| &awaited.call)
    }

    /// The calls whose output is durable, with it: never run again.
    pub fn durable_outputs(&self) -> impl Iterator<Item = (&ToolCall, &Item)> {
        self.calls
            .iter()
            .filter_map(|awaited| Some((&awaited.call, awaited.output.as_ref()?)))
    }

    /// Whether the conversation owes a request: input (or acknowledged tool outputs) that no
    /// completed response has answered yet, and no tool call waiting. The worker died
    /// before the request went out, or while it ran; a resumed lane sends it again.
    pub fn owes_request(&self) -> bool {
        self.calls.is_empty() && !self.ledger.unsent().is_empty()
    }

    /// Whether the conversation is at rest after a completed response: it owes no request
    /// and waits for no tool output (its last response is the answer to its last input).
    pub fn is_finished(&self) -> bool {
        self.last_response.is_some() && self.calls.is_empty() && !self.owes_request()
    }

    /// The journal that continues the conversation's records.
    pub fn journal(&self) -> Journal {
        Journal::resume(self.conversation.clone(), self.next_seq)
    }
}

/// Why records do not make a conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplayError {
    /// The records do not start with [`Entry::Opened`] (or there are none).
    NotOpened,
    /// A second [`Entry::Opened`], at `seq`.
    OpenedTwice {
        /// Where.
        seq: u64,
    },
    /// A record of another conversation among them.
    WrongConversation {
        /// Where.
        seq: u64,
        /// The other conversation's id.
        found: String,
    },
    /// A `seq` not greater than the one before it.
    OutOfOrder {
        /// The record before.
        previous: u64,
        /// The record out of place.
        seq: u64,
    },
    /// Calls seen for a response other than the last completed one.
    UnknownResponse {
        /// Where.
        seq: u64,
        /// The response named.
        response_id: String,
    },
    /// A call that the last completed response did not make, or that the lane does not wait for.
    UnknownCall {
        /// Where.
        seq: u64,
        /// The call named.
        call_id: String,
    },
    /// A second output for a call.
    DuplicateOutput {
        /// Where.
        seq: u64,
        /// The call answered twice.
        call_id: String,
    },
    /// A turn acknowledged (or a new response or new calls recorded) while a call still
    /// waits for its output.
    Unanswered {
        /// Where.
        seq: u64,
        /// The call without output.
        call_id: String,
    },
}

impl fmt::Display for ReplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReplayError::NotOpened => f.write_str("the records do not start with `opened`"),
            ReplayError::OpenedTwice { seq } => {
                write!(f, "record {seq} opens the conversation again")
            }
            ReplayError::WrongConversation { seq, found } => {
                write!(f, "record {seq} belongs to conversation {found:?}")
            }
            ReplayError::OutOfOrder { previous, seq } => {
                write!(f, "record {seq} follows record {previous}")
            }
            ReplayError::UnknownResponse { seq, response_id } => write!(
                f,
                "record {seq} names response {response_id:?}, not the last completed one"
            ),
            ReplayError::UnknownCall { seq, call_id } => {
                write!(
                    f,
                    "record {seq} names call {call_id:?}, which is not awaited"
                )
            }
            ReplayError::DuplicateOutput { seq, call_id } => {
                write!(f, "record {seq} answers call {call_id:?} a second time")
            }
            ReplayError::Unanswered { seq, call_id } => {
                write!(
                    f,
                    "record {seq} moves on while call {call_id:?} has no output"
                )
            }
        }
    }
}

impl core::error::Error for ReplayError {}

/// Rebuilds a conversation from its records, oldest first.
///
/// Every prefix of a conversation's records replays: a worker that died at any point is
/// resumed from what it stored. An output is in the result exactly when its
/// [`Entry::ToolOutputAccepted`] record is among `records` (in
/// [`calls`](Replayed::calls) until the turn carrying it is acknowledged, in the ledger after).
///
/// ```
/// use responses_ws_core::persist::{replay, Entry, Journal};
/// use responses_ws_core::session::Lane;
/// use responses_ws_core::wire::{Item, Response};
///
/// let mut journal = Journal::new("conv-1");
/// let call: Item = serde_json::from_str(r#"{"type":"function_call","call_id":"c1","name":"pay","arguments":"{}"}"#)?;
/// let response = Response { id: "resp_1".into(), output: vec![call], ..Response::default() };
/// let records = [
///     journal.record(Entry::Opened { lane: Lane::Default }),
///     journal.record(Entry::InputAppended { items: vec![Item::user_message("Pay the bill")] }),
///     journal.record(Entry::ResponseCompleted { settings: Box::default(), response: Box::new(response), injected: vec![] }),
///     journal.record(Entry::ToolCallsSeen { response_id: "resp_1".into(), call_ids: vec!["c1".into()] }),
/// ];
/// let resumed = replay(&records)?;
/// assert_eq!(resumed.to_rerun().map(|call| call.call_id.as_str()).collect::<Vec<_>>(), ["c1"]);
/// assert_eq!(resumed.next_seq, 4);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn replay<'a>(records: impl IntoIterator<Item = &'a Record>) -> Result<Replayed, ReplayError> {
    let mut records = records.into_iter();
    let Some(Record {
        conversation,
        seq,
        entry: Entry::Opened { lane },
    }) = records.next()
    else {
        return Err(ReplayError::NotOpened);
    };
    let mut state = Replayed {
        conversation: conversation.clone(),
        lane: lane.clone(),
        ledger: LaneLedger::default(),
        settings: None,
        last_response: None,
        calls: Vec::new(),
        in_flight: None,
        next_seq: seq + 1,
    };
    // The last completed response's id and its calls: what `ToolCallsSeen` may name.
    let mut last_calls: Option<(String, Vec<ToolCall>)> = None;
    for record in records {
        let seq = record.seq;
        if record.conversation != state.conversation {
            return Err(ReplayError::WrongConversation {
                seq,
                found: record.conversation.clone(),
            });
        }
        if seq < state.next_seq {
            return Err(ReplayError::OutOfOrder {
                previous: state.next_seq - 1,
                seq,
            });
        }
        state.next_seq = seq + 1;
        match &record.entry {
            Entry::Opened { .. } => return Err(ReplayError::OpenedTwice { seq }),
            Entry::Settings { settings } => state.settings = Some(ResponseCreate::clone(settings)),
            Entry::InputAppended { items } => state.ledger.push_input(items.iter().cloned()),
            Entry::ResponseCompleted {
                settings,
                response,
                injected,
            } => {
                state.all_answered(seq)?;
                state.ledger.commit(settings, response, injected.clone());
                state.settings = Some(ResponseCreate::clone(settings));
                state.in_flight = None;
                state.last_response = Some(Response::clone(response));
                last_calls = Some((response.id.clone(), ToolCall::from_response(response)));
            }
            Entry::ToolCallsSeen {
                response_id,
                call_ids,
            } => {
                state.all_answered(seq)?;
                let calls = match &last_calls {
                    Some((id, calls)) if id == response_id => calls,
                    _ => {
                        return Err(ReplayError::UnknownResponse {
                            seq,
                            response_id: response_id.clone(),
                        })
                    }
                };
                for call_id in call_ids {
                    let call = calls
                        .iter()
                        .find(|call| &call.call_id == call_id)
                        .ok_or_else(|| ReplayError::UnknownCall {
                            seq,
                            call_id: call_id.clone(),
                        })?;
                    state.calls.push(AwaitedCall {
                        call: call.clone(),
                        output: None,
                    });
                }
            }
            Entry::ToolOutputAccepted { call_id, output } => {
                let awaited = state
                    .calls
                    .iter_mut()
                    .find(|awaited| &awaited.call.call_id == call_id)
                    .ok_or_else(|| ReplayError::UnknownCall {
                        seq,
                        call_id: call_id.clone(),
                    })?;
                if awaited.output.is_some() {
                    return Err(ReplayError::DuplicateOutput {
                        seq,
                        call_id: call_id.clone(),
                    });
                }
                awaited.output = Some(output.clone());
            }
            Entry::TurnAcknowledged { response_id } => {
                state.all_answered(seq)?;
                let outputs = state.calls.drain(..).filter_map(|awaited| awaited.output);
                state.ledger.push_input(outputs);
                state.in_flight = Some(response_id.clone());
            }
        }
    }
    Ok(state)
}

impl Replayed {
    /// Refuses to move on (record `seq`) while a call has no output.
    fn all_answered(&self, seq: u64) -> Result<(), ReplayError> {
        match self.to_rerun().next() {
            Some(call) => Err(ReplayError::Unanswered {
                seq,
                call_id: call.call_id.clone(),
            }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests;
