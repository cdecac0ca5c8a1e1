//! The session's write-ahead journal: for each lane opted in ([`Session::journal`]), the
//! [`Record`]s that let the conversation be rebuilt in another process
//! ([`persist::replay`](crate::persist::replay), then [`Session::import_lane`] of a
//! [`LaneTransfer`] made from the result).
//!
//! The invariant this module keeps, with [`Session::poll_transmit`]: **a record that describes
//! bytes is handed out by [`Session::poll_record`] before those bytes are handed out by
//! `poll_transmit`**. Records are queued in the same step that queues the frame they describe
//! (the request's new input and settings at dispatch), and `poll_transmit` yields nothing
//! while a record waits. A driver that stores every record it takes before it writes a frame
//! therefore never sends input the store does not have.
//!
//! What each state change writes:
//!
//! | state change                               | record                                   |
//! |--------------------------------------------|------------------------------------------|
//! | lane opted in                              | `Opened`                                 |
//! | request dispatched with new settings       | `Settings`                               |
//! | request dispatched with new input          | `InputAppended` (tool outputs excepted)  |
//! | response started (the request accepted)    | `TurnAcknowledged` (rides with the next record), then applied steers as `InputAppended` |
//! | response completed                         | `ResponseCompleted`, then `ToolCallsSeen` when it made calls |
//! | tool output or approval accepted           | `ToolOutputAccepted`                     |

use super::*;
use crate::persist::{Entry, Journal, Record, Replayed};
use crate::session::tools::ToolCall;
use crate::wire::Response;

/// A lane whose conversation is journaled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct JournaledLane {
    journal: Journal,
    /// The settings last written (`Entry::Settings` or the last completed request's).
    settings: Option<ResponseCreate>,
}

impl JournaledLane {
    /// The conversation id.
    pub(super) fn conversation(&self) -> &str {
        self.journal.conversation()
    }

    /// The record of `item`, the accepted answer to `call_id`.
    pub(super) fn output_record(&mut self, call_id: &str, item: Item) -> Record {
        self.journal.record(Entry::ToolOutputAccepted {
            call_id: call_id.into(),
            output: item,
        })
    }
}

impl Session {
    /// Journals the conversation of `lane`, which must not have started, as `conversation`:
    /// from now on every state change of the lane that a resumed worker needs is queued as a
    /// [`Record`] for [`poll_record`](Self::poll_record), starting with `Opened`.
    ///
    /// Refused with [`SessionError::LaneInUse`] when the lane has a conversation or any
    /// activity, or is journaled already.
    ///
    /// ```
    /// use responses_ws_core::persist::{replay, Entry};
    /// use responses_ws_core::session::{Lane, Session, SessionConfig};
    /// use responses_ws_core::wire::ResponseCreate;
    /// use responses_ws_core::Instant;
    ///
    /// let mut session = Session::new(SessionConfig::default());
    /// session.connected(Instant::ZERO);
    /// session.journal(&Lane::Default, "conv-1")?;
    /// session.create(ResponseCreate::new("gpt-5.5").input("Pay the bill"))?;
    /// // Nothing goes out before its records are taken (and stored by the driver).
    /// assert!(session.poll_transmit().is_none());
    /// let records: Vec<_> = std::iter::from_fn(|| session.poll_record()).collect();
    /// assert!(matches!(records[2].entry, Entry::InputAppended { .. }));
    /// assert!(session.poll_transmit().is_some());
    /// assert_eq!(replay(&records)?.ledger.items().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn journal(
        &mut self,
        lane: &Lane,
        conversation: impl Into<String>,
    ) -> Result<(), SessionError> {
        let in_use = self.journals.contains_key(lane)
            || self.ledger.lane(lane).is_some()
            || self.lanes.get(lane).is_some_and(|state| {
                !matches!(state.phase, Phase::Idle)
                    || !state.queue.is_empty()
                    || state.forks_pending > 0
            });
        if in_use {
            return Err(SessionError::LaneInUse(lane.clone()));
        }
        let mut journaled = JournaledLane {
            journal: Journal::new(conversation),
            settings: None,
        };
        let opened = journaled
            .journal
            .record(Entry::Opened { lane: lane.clone() });
        self.records.push_back(opened);
        self.journals.insert(lane.clone(), journaled);
        Ok(())
    }

    /// The conversation id `lane` is journaled under, if it is.
    pub fn journaled_as(&self, lane: &Lane) -> Option<&str> {
        self.journals.get(lane).map(|j| j.journal.conversation())
    }

    /// The next write-ahead record to store. Non-empty after the calls that change a
    /// journaled lane: [`journal`](Self::journal), `create` / `fork` / the last tool output
    /// (when the request is dispatched), `submit_tool_output`, `submit_approval`, server
    /// frames that start or complete a response, `connected`.
    ///
    /// While a record waits here, [`poll_transmit`](Self::poll_transmit) yields nothing:
    /// store what this returns, then send.
    pub fn poll_record(&mut self) -> Option<Record> {
        self.records.pop_front()
    }

    /// Whether records wait for [`poll_record`](Self::poll_record) (and hold the frames).
    pub fn has_records(&self) -> bool {
        !self.records.is_empty()
    }

    /// Queues `entry` for `lane`'s conversation, if the lane is journaled; `entry` is built
    /// only then (a lane not journaled pays nothing). Riders go first, in their order.
    fn record(&mut self, lane: &Lane, entry: impl FnOnce(&mut JournaledLane) -> Option<Entry>) {
        if let Some(journaled) = self.journals.get_mut(lane) {
            if let Some(entry) = entry(journaled) {
                let record = journaled.journal.record(entry);
                self.records.extend(self.riders.drain(..));
                self.records.push_back(record);
            }
        }
    }

    /// Numbers `entry` for `lane`'s conversation now but hands it out with the next record
    /// (or when the lane leaves the session): it describes no frame, so nothing waits for it,
    /// and a worker that dies first loses nothing a resume needs (see `journal_started`).
    fn record_rider(&mut self, lane: &Lane, entry: Entry) {
        if let Some(journaled) = self.journals.get_mut(lane) {
            self.riders.push(journaled.journal.record(entry));
        }
    }

    /// A request goes out with `settings` and, unless they are tool outputs (journaled as
    /// they were accepted), its new `input`. Called before its frame is queued.
    pub(super) fn journal_dispatch(
        &mut self,
        lane: &Lane,
        settings: &ResponseCreate,
        input: Option<&[Item]>,
    ) {
        self.record(lane, |journaled| {
            let settings = lane_settings(settings);
            (journaled.settings.as_ref() != Some(&settings)).then(|| {
                journaled.settings = Some(settings.clone());
                Entry::Settings {
                    settings: Box::new(settings),
                }
            })
        });
        if let Some(items) = input.filter(|items| !items.is_empty()) {
            self.record(lane, |_| {
                Some(Entry::InputAppended {
                    items: items.to_vec(),
                })
            });
        }
    }

    /// The server started `response_id` for the lane's request, applying `steers`.
    ///
    /// The acknowledgement rides with the next record (the response's completion, usually):
    /// without it a replay holds the request's tool outputs as answered calls instead of sent
    /// input, and the resumed conversation sends them once either way.
    pub(super) fn journal_started(&mut self, lane: &Lane, response_id: &str, steers: &[Item]) {
        self.record_rider(
            lane,
            Entry::TurnAcknowledged {
                response_id: response_id.into(),
            },
        );
        if !steers.is_empty() {
            self.record(lane, |_| {
                Some(Entry::InputAppended {
                    items: steers.to_vec(),
                })
            });
        }
    }

    /// The lane's request sent with `settings` completed with `response`; `pending` are the
    /// calls now awaited.
    pub(super) fn journal_completed(
        &mut self,
        lane: &Lane,
        settings: &ResponseCreate,
        response: &Response,
        injected: &[Item],
        pending: Option<&PendingCalls>,
    ) {
        self.record(lane, |journaled| {
            journaled.settings = Some(lane_settings(settings));
            Some(Entry::ResponseCompleted {
                settings: Box::new(settings.clone()),
                response: Box::new(response.clone()),
                injected: injected.to_vec(),
            })
        });
        if let Some(pending) = pending {
            self.record(lane, |_| {
                Some(Entry::ToolCallsSeen {
                    response_id: response.id.clone(),
                    call_ids: pending.calls.iter().map(|c| c.call_id.clone()).collect(),
                })
            });
        }
    }

    /// The answer to `call_id` was accepted.
    pub(super) fn journal_output(&mut self, lane: &Lane, call_id: &str, output: Option<&Item>) {
        if let Some(output) = output {
            self.record(lane, |_| {
                Some(Entry::ToolOutputAccepted {
                    call_id: call_id.into(),
                    output: output.clone(),
                })
            });
        }
    }

    /// Stops journaling `lane` (its conversation leaves the session); the journal moves on.
    pub(super) fn take_journal(&mut self, lane: &Lane) -> Option<JournaledLane> {
        // Its riders go out before anything it records elsewhere.
        self.records.extend(self.riders.drain(..));
        self.journals.remove(lane)
    }

    /// Journals `lane` on with a journal that moved in.
    pub(super) fn put_journal(&mut self, lane: &Lane, journaled: Option<JournaledLane>) {
        if let Some(journaled) = journaled {
            self.journals.insert(lane.clone(), journaled);
        }
    }
}

/// The settings a lane's continuations reuse: the request's, without `generate`.
fn lane_settings(settings: &ResponseCreate) -> ResponseCreate {
    ResponseCreate {
        generate: None,
        ..settings.clone()
    }
}

impl LaneTransfer {
    /// A new conversation, between sessions, journaled as `conversation`: its `Opened`
    /// record waits in [`poll_record`](Self::poll_record), and every state change follows in
    /// the session it is imported into.
    ///
    /// ```
    /// use responses_ws_core::persist::Entry;
    /// use responses_ws_core::session::LaneTransfer;
    ///
    /// let mut transfer = LaneTransfer::journaled("conv-1");
    /// assert_eq!(transfer.journaled_as(), Some("conv-1"));
    /// assert!(matches!(transfer.poll_record().unwrap().entry, Entry::Opened { .. }));
    /// ```
    pub fn journaled(conversation: impl Into<String>) -> LaneTransfer {
        let mut journal = Journal::new(conversation);
        let opened = journal.record(Entry::Opened {
            lane: Lane::Default,
        });
        LaneTransfer {
            journal: Some(JournaledLane {
                journal,
                settings: None,
            }),
            records: VecDeque::from([opened]),
            ..LaneTransfer::default()
        }
    }
}

impl From<Replayed> for LaneTransfer {
    /// The conversation rebuilt from its records, ready for [`Session::import_lane`]: its
    /// context; the tool calls it waits for, with the outputs that are durable already (the
    /// others are [`pending_tool_calls`](LaneTransfer::pending_tool_calls): run them again);
    /// the request it owes, if the worker died before it completed
    /// ([`Replayed::owes_request`]); and its journal, continued from the last stored record.
    ///
    /// ```
    /// use responses_ws_core::persist::{replay, Entry, Journal};
    /// use responses_ws_core::session::{Lane, LaneTransfer, Session, SessionConfig};
    /// use responses_ws_core::wire::{Item, Response, ResponseCreate};
    /// use responses_ws_core::Instant;
    ///
    /// let mut journal = Journal::new("conv-1");
    /// let call: Item = serde_json::from_str(r#"{"type":"function_call","call_id":"c1","name":"pay","arguments":"{}"}"#)?;
    /// let response = Response { id: "resp_1".into(), output: vec![call], ..Response::default() };
    /// let records = [
    ///     journal.record(Entry::Opened { lane: Lane::Default }),
    ///     journal.record(Entry::InputAppended { items: vec![Item::user_message("Pay the bill")] }),
    ///     journal.record(Entry::ResponseCompleted { settings: Box::new(ResponseCreate::new("m")), response: Box::new(response), injected: vec![] }),
    ///     journal.record(Entry::ToolCallsSeen { response_id: "resp_1".into(), call_ids: vec!["c1".into()] }),
    /// ];
    /// let transfer = LaneTransfer::from(replay(&records)?);
    /// assert_eq!(transfer.pending_tool_calls()[0].call_id, "c1");
    ///
    /// let mut session = Session::new(SessionConfig::default());
    /// session.import_lane(&Lane::Default, transfer)?;
    /// session.connected(Instant::ZERO);
    /// session.submit_tool_output(&Lane::Default, "c1", "paid")?;
    /// let output = session.poll_record().unwrap();
    /// assert_eq!((output.conversation.as_str(), output.seq), ("conv-1", 4));
    /// assert!(session.poll_transmit().unwrap().contains("Pay the bill")); // full context
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn from(replayed: Replayed) -> Self {
        let journal = JournaledLane {
            journal: replayed.journal(),
            settings: replayed.settings.as_ref().map(lane_settings),
        };
        let settings = replayed.settings.as_ref().map(lane_settings);
        let mut queue = VecDeque::new();
        if replayed.owes_request() {
            let settings = settings.clone().unwrap_or_default();
            queue.push_back(Request::new(RequestId(0), settings, Vec::new(), true));
        }
        let response_id = replayed.ledger.last_response_id().unwrap_or("").into();
        let (calls, answers): (Vec<ToolCall>, Vec<Option<Item>>) = replayed
            .calls
            .into_iter()
            .map(|awaited| (awaited.call, awaited.output))
            .unzip();
        LaneTransfer {
            ledger: replayed.ledger,
            settings,
            pending: PendingCalls::resumed(response_id, calls, answers),
            queue,
            journal: Some(journal),
            records: VecDeque::new(),
        }
    }
}

#[cfg(test)]
mod tests;
