//! The write-ahead records of one conversation and the [`Journal`] that numbers them.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};

use crate::session::Lane;
use crate::wire::{Item, Response, ResponseCreate};

/// One durable fact about a conversation, in the order it happened.
///
/// Invariant (kept by [`Journal`], checked by [`replay`](super::replay)): the records of a
/// conversation carry its id and strictly increasing `seq` numbers, starting with
/// [`Entry::Opened`].
///
/// ```
/// use responses_ws_core::persist::{Entry, Record};
/// use responses_ws_core::session::Lane;
///
/// let record = Record { conversation: "conv-1".into(), seq: 0, entry: Entry::Opened { lane: Lane::Default } };
/// let json = serde_json::to_string(&record)?;
/// assert_eq!(json, r#"{"conversation":"conv-1","seq":0,"entry":{"type":"opened","lane":""}}"#);
/// assert_eq!(serde_json::from_str::<Record>(&json)?, record);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The conversation the record belongs to.
    pub conversation: String,
    /// The record's place in the conversation, strictly increasing.
    pub seq: u64,
    /// What happened.
    pub entry: Entry,
}

/// What a [`Record`] says happened.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Entry {
    /// The conversation started, on `lane` of its session.
    Opened {
        /// The lane the conversation runs on.
        lane: Lane,
    },
    /// The settings the conversation's requests go out with from now on (model, tools,
    /// instructions …; no input): written before the first request that carries them, and
    /// again whenever they change.
    Settings {
        /// The request without input, `previous_response_id` or `stream_id`.
        settings: Box<ResponseCreate>,
    },
    /// New input joined the conversation (written before the request carrying it is sent).
    InputAppended {
        /// The input items.
        items: Vec<Item>,
    },
    /// A request of the conversation, sent with `settings`, produced `response`; `injected`
    /// are the items injected into it, as the ledger commits them.
    ResponseCompleted {
        /// The request's settings (what must stay equal for the next request to chain).
        settings: Box<ResponseCreate>,
        /// The completed response with its output items.
        response: Box<Response>,
        /// Items injected into the response, placed after the calls they answer.
        injected: Vec<Item>,
    },
    /// The tool calls of `response_id` named here were handed to the application (written
    /// before they are).
    ToolCallsSeen {
        /// The completed response the calls are part of.
        response_id: String,
        /// The calls' `call_id`s (request ids for MCP approvals).
        call_ids: Vec<String>,
    },
    /// The application answered `call_id` with `output`: from now on the output is durable.
    ToolOutputAccepted {
        /// The call answered.
        call_id: String,
        /// The item that answers it.
        output: Item,
    },
    /// The server accepted the request carrying every tool output (it created `response_id`):
    /// the outputs are part of the conversation's input now.
    TurnAcknowledged {
        /// The response the continuation created.
        response_id: String,
    },
}

/// Numbers the records of one conversation as they are written.
///
/// ```
/// use responses_ws_core::persist::{Entry, Journal};
/// use responses_ws_core::session::Lane;
///
/// let mut journal = Journal::new("conv-1");
/// let opened = journal.record(Entry::Opened { lane: Lane::Default });
/// let input = journal.record(Entry::InputAppended { items: vec![] });
/// assert_eq!((opened.seq, input.seq), (0, 1));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Journal {
    conversation: String,
    next_seq: u64,
}

impl Journal {
    /// The journal of a new conversation: its first record is number 0.
    pub fn new(conversation: impl Into<String>) -> Journal {
        Journal::resume(conversation, 0)
    }

    /// The journal of a conversation whose next record is number `next_seq` (one past the
    /// last stored one).
    pub fn resume(conversation: impl Into<String>, next_seq: u64) -> Journal {
        Journal {
            conversation: conversation.into(),
            next_seq,
        }
    }

    /// The conversation's id.
    pub fn conversation(&self) -> &str {
        &self.conversation
    }

    /// The next record, numbered one past the last.
    pub fn record(&mut self, entry: Entry) -> Record {
        let seq = self.next_seq;
        self.next_seq += 1;
        Record {
            conversation: self.conversation.clone(),
            seq,
            entry,
        }
    }
}
