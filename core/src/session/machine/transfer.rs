//! Moving one lane's conversation from a session to another ([`LaneTransfer`]): its ledger,
//! the tool calls it waits for (with the answers given so far) and its queued requests, so
//! that a pool can serve a conversation from whichever connection has room, and move it off a
//! connection that failed, without losing or repeating an input or a tool output.
//!
//! Only a lane at rest moves: nothing in flight, no steer or injection held, no fork
//! depending on it. A lane whose connection was lost is always at rest (its requests went
//! back to the queue or failed).

use super::*;
use crate::session::tools::ToolCall;

/// One lane's conversation, taken out of a [`Session`] by [`Session::export_lane`] and put
/// into another (or the same) by [`Session::import_lane`], under any lane name.
///
/// While it is between sessions it still takes tool outputs
/// ([`submit_tool_output`](Self::submit_tool_output)); the continuation goes out once it is
/// imported. The default value is a conversation that has not started.
///
/// ```
/// use responses_ws_core::session::{Lane, LaneTransfer, Session, SessionConfig};
/// use responses_ws_core::wire::ResponseCreate;
/// use responses_ws_core::Instant;
///
/// let mut first = Session::new(SessionConfig::default());
/// let lane = Lane::named("a")?;
/// first.create(ResponseCreate { stream_id: Some("a".into()), input: Some("Hi".into()), ..Default::default() })?;
/// // Not yet sent (no connection): the request moves with the lane.
/// let moved = first.export_lane(&lane)?;
/// assert!(!moved.is_idle());
///
/// let mut second = Session::new(SessionConfig::default());
/// second.import_lane(&Lane::named("b")?, moved)?;
/// second.connected(Instant::ZERO);
/// let frame = second.poll_transmit().unwrap();
/// assert!(frame.contains(r#""stream_id":"b""#) && frame.contains("Hi"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Default)]
pub struct LaneTransfer {
    pub(super) ledger: LaneLedger,
    /// The settings of the lane's last request, reused by tool continuations.
    pub(super) settings: Option<ResponseCreate>,
    /// The calls the lane waits for, with the answers given so far.
    pub(super) pending: Option<PendingCalls>,
    /// Requests not sent yet (or to send again), oldest first.
    pub(super) queue: VecDeque<Request>,
    /// The lane's write-ahead journal, if it is journaled: it goes on where it moves.
    pub(super) journal: Option<JournaledLane>,
    /// Records of what happened to it between sessions (tool outputs accepted), oldest
    /// first, not yet taken by [`poll_record`](Self::poll_record); an import hands them to
    /// the session before anything of its own.
    pub(super) records: VecDeque<crate::persist::Record>,
}

impl From<LaneLedger> for LaneTransfer {
    /// A conversation at rest with this context (a saved one, or a fork's copy).
    fn from(ledger: LaneLedger) -> Self {
        LaneTransfer {
            ledger,
            ..LaneTransfer::default()
        }
    }
}

impl LaneTransfer {
    /// The conversation.
    pub fn ledger(&self) -> &LaneLedger {
        &self.ledger
    }

    /// Whether the lane waits for nothing: no tool output, no queued request.
    pub fn is_idle(&self) -> bool {
        self.pending.is_none() && self.queue.is_empty()
    }

    /// Drops the requests that wait to be sent, for a turn given up while it moved between
    /// connections. Their inputs stay in the ledger, as a session that gives up keeps them:
    /// one never sent (the tool outputs of a continuation among them) goes into the ledger
    /// now, for the conversation's next request.
    pub(crate) fn drop_queued(&mut self) {
        for request in core::mem::take(&mut self.queue) {
            if !request.in_ledger {
                self.ledger.push_input(request.input);
            }
        }
    }

    /// The tool calls that still wait for an output.
    pub fn pending_tool_calls(&self) -> Vec<ToolCall> {
        self.pending
            .as_ref()
            .map(|pending| pending.unanswered().cloned().collect())
            .unwrap_or_default()
    }

    /// Whether the conversation waits for tool outputs (or MCP approvals) only: calls are
    /// unanswered and no request is queued.
    pub fn awaits_tools(&self) -> bool {
        self.queue.is_empty() && self.pending.as_ref().is_some_and(|p| !p.is_complete())
    }

    /// Answers the tool call `call_id`, as [`Session::submit_tool_output`] does; the
    /// continuation is queued on import. Each call takes exactly one output.
    pub fn submit_tool_output(
        &mut self,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), SessionError> {
        let output = output.into();
        self.answer(call_id, |call| call.output_item(output))
    }

    /// Approves or refuses the MCP approval request `request_id`, as
    /// [`Session::submit_approval`] does; the continuation is queued on import.
    pub fn submit_approval(
        &mut self,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), SessionError> {
        self.answer(request_id, |call| match call.kind {
            ToolCallKind::McpApproval { .. } => Ok(call.approval(approve, reason)),
            _ => Err(ToolOutputError::WrongKind(call.call_id.clone())),
        })
    }

    /// Answers the call `call_id` with what `answer` makes of it, journaling the answer.
    fn answer(
        &mut self,
        call_id: &str,
        answer: impl FnOnce(&ToolCall) -> Result<Item, ToolOutputError>,
    ) -> Result<(), SessionError> {
        let Some(pending) = &mut self.pending else {
            return Err(SessionError::NoPendingCalls(Lane::Default));
        };
        pending.answer(call_id, answer)?;
        if let (Some(journaled), Some(item)) = (&mut self.journal, pending.answer_of(call_id)) {
            self.records
                .push_back(journaled.output_record(call_id, item.clone()));
        }
        Ok(())
    }

    /// The next write-ahead record of a journaled conversation between sessions (a tool
    /// output it accepted, [`submit_tool_output`](Self::submit_tool_output)); store it
    /// before the conversation is imported, as [`Session::poll_record`]'s.
    pub fn poll_record(&mut self) -> Option<crate::persist::Record> {
        self.records.pop_front()
    }

    /// The conversation id it is journaled under, if it is.
    pub fn journaled_as(&self) -> Option<&str> {
        self.journal.as_ref().map(JournaledLane::conversation)
    }
}

impl Session {
    /// Whether `lane` is at rest and waits for nothing: no request queued or in flight, no
    /// tool output awaited, no steer or injection held. A pool's turn on the lane is over then.
    pub fn lane_is_idle(&self, lane: &Lane) -> bool {
        self.lanes.get(lane).is_none_or(|state| {
            matches!(state.phase, Phase::Idle)
                && state.queue.is_empty()
                && state.steers.is_empty()
                && state.injections.len() == 0
        })
    }

    /// Whether `lane` waits for tool outputs (or MCP approvals) only: its last response
    /// made calls not all answered, and nothing is queued, in flight or held. A pool's turn
    /// whose listener is gone is over then; its calls stay open in the conversation.
    pub fn lane_awaits_tools(&self, lane: &Lane) -> bool {
        self.lanes.get(lane).is_some_and(|state| {
            matches!(state.phase, Phase::AwaitingTools(_))
                && state.queue.is_empty()
                && state.steers.is_empty()
                && state.injections.len() == 0
        })
    }

    /// Takes `lane`'s conversation out of this session (its ledger, awaited tool calls and
    /// queued requests): the session forgets the lane. Refused with
    /// [`SessionError::LaneBusy`] while a request of the lane is in flight, a steer or an
    /// injection is held, or a fork depends on the lane.
    pub fn export_lane(&mut self, lane: &Lane) -> Result<LaneTransfer, SessionError> {
        if let Some(state) = self.lanes.get(lane) {
            let movable = matches!(state.phase, Phase::Idle | Phase::AwaitingTools(_))
                && state.steers.is_empty()
                && state.injections.len() == 0
                && state.forks_pending == 0
                && state.queue.iter().all(|request| request.fork_of.is_none());
            if !movable {
                return Err(SessionError::LaneBusy(lane.clone()));
            }
        }
        let state = self.lanes.remove(lane).unwrap_or_default();
        let pending = match state.phase {
            Phase::AwaitingTools(pending) => Some(pending),
            _ => None,
        };
        Ok(LaneTransfer {
            ledger: self.ledger.take_lane(lane).unwrap_or_default(),
            settings: state.settings,
            pending,
            queue: state.queue,
            journal: self.take_journal(lane),
            records: VecDeque::new(),
        })
    }

    /// Puts a conversation taken from a session into `lane` of this one. Nothing the server
    /// cached for it is assumed reachable: its next request sends the full context (or
    /// chains, with `store: true`). Queued requests keep their attempts (the retry budget
    /// per request holds across the move) and get new [`RequestId`]s; a transfer whose tool
    /// calls all have their outputs queues its continuation.
    ///
    /// Refused, the transfer handed back, when `lane` has a conversation or any activity
    /// here ([`SessionError::LaneInUse`]), would exceed the named-lane limit, or its
    /// requests do not fit in the queue limit.
    pub fn import_lane(
        &mut self,
        lane: &Lane,
        transfer: LaneTransfer,
    ) -> Result<(), Refused<LaneTransfer>> {
        if let Err(error) = self.admit_import(lane, &transfer) {
            return Err(Refused::new(error, transfer));
        }
        let LaneTransfer {
            mut ledger,
            settings,
            pending,
            mut queue,
            journal,
            records,
        } = transfer;
        self.records.extend(records);
        self.put_journal(lane, journal);
        ledger.forget(FullContextReason::NewConnection);
        *self.ledger.lane_mut(lane) = ledger;
        for request in &mut queue {
            request.id = RequestId(self.next_request);
            self.next_request += 1;
        }
        let complete = pending.as_ref().is_some_and(PendingCalls::is_complete);
        let state = self.lane_mut(lane);
        state.settings = settings;
        state.queue = queue;
        state.phase = pending.map_or(Phase::Idle, Phase::AwaitingTools);
        if complete {
            self.continue_after_tools(lane);
        }
        self.pump();
        Ok(())
    }

    fn admit_import(&self, lane: &Lane, transfer: &LaneTransfer) -> Result<(), SessionError> {
        let active = self.lanes.get(lane).is_some_and(|state| {
            !matches!(state.phase, Phase::Idle)
                || !state.queue.is_empty()
                || !state.steers.is_empty()
                || state.injections.len() > 0
                || state.forks_pending > 0
        });
        if active || self.ledger.lane(lane).is_some() || self.journals.contains_key(lane) {
            return Err(SessionError::LaneInUse(lane.clone()));
        }
        self.check_lane_budget(lane)?;
        let queued: usize = self.lanes.values().map(|state| state.queue.len()).sum();
        if queued + transfer.queue.len() > self.config.max_queued {
            return Err(SessionError::QueueFull {
                limit: self.config.max_queued,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;

    fn lane() -> Lane {
        Lane::named("a").unwrap()
    }

    fn event(json: &str) -> String {
        json.replace(
            "RESPONSE",
            r#""id":"resp_1","object":"response","created_at":1,"model":"m""#,
        )
    }

    /// A connected session whose lane `a` waits for the outputs of calls `c1` and `c2`.
    fn awaiting_two_calls() -> Session {
        let mut session = Session::new(SessionConfig::default());
        session.connected(Instant::ZERO);
        let request = ResponseCreate {
            model: Some("m".into()),
            stream_id: Some("a".into()),
            input: Some("go".into()),
            ..ResponseCreate::default()
        };
        session.create(request).unwrap();
        let calls = ["c1", "c2"].map(|id| {
            format!(r#"{{"type":"function_call","call_id":"{id}","name":"f","arguments":"{{}}"}}"#)
        });
        for text in [
            event(
                r#"{"type":"response.created","sequence_number":0,"stream_id":"a","response":{RESPONSE,"status":"in_progress","output":[]}}"#,
            ),
            event(&format!(
                r#"{{"type":"response.completed","sequence_number":1,"stream_id":"a","response":{{RESPONSE,"status":"completed","output":[{},{}]}}}}"#,
                calls[0], calls[1]
            )),
        ] {
            session.handle_text(&text, Instant::ZERO);
        }
        while session.poll_transmit().is_some() {}
        while session.poll_event().is_some() {}
        assert_eq!(session.pending_tool_calls(&lane()).len(), 2);
        session
    }

    #[test]
    fn tool_outputs_given_before_during_and_after_a_move_go_out_once_each() {
        let mut source = awaiting_two_calls();
        source.submit_tool_output(&lane(), "c1", "one").unwrap();
        assert!(!source.lane_is_idle(&lane()));
        let mut moved = source.export_lane(&lane()).unwrap();
        assert!(
            source.ledger().lane(&lane()).is_none(),
            "the source forgets the lane"
        );
        assert!(source.lane_is_idle(&lane()));

        let pending: Vec<_> = moved
            .pending_tool_calls()
            .into_iter()
            .map(|c| c.call_id)
            .collect();
        assert_eq!(pending, ["c2"]);
        assert_eq!(
            moved.submit_tool_output("c1", "again"),
            Err(SessionError::ToolOutput(ToolOutputError::Duplicate(
                "c1".into()
            )))
        );
        moved.submit_tool_output("c2", "two").unwrap();

        let mut target = Session::new(SessionConfig::default());
        let other = Lane::named("b").unwrap();
        target.import_lane(&other, moved).unwrap();
        target.connected(Instant::ZERO);
        let frame = target.poll_transmit().expect("the continuation goes out");
        let sent: serde_json::Value = serde_json::from_str(&frame).unwrap();
        assert_eq!(sent["stream_id"], "b");
        assert!(
            sent.get("previous_response_id").is_none(),
            "a new connection: full context"
        );
        let outputs: Vec<(String, String)> = sent["input"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["type"] == "function_call_output")
            .map(|item| (item["call_id"].to_string(), item["output"].to_string()))
            .collect();
        assert_eq!(
            outputs,
            [
                (r#""c1""#.into(), r#""one""#.into()),
                (r#""c2""#.into(), r#""two""#.into())
            ]
        );
        assert!(target.poll_transmit().is_none());
    }

    #[test]
    fn a_lane_in_flight_stays_and_a_used_lane_refuses_the_import() {
        let mut session = Session::new(SessionConfig::default());
        session.connected(Instant::ZERO);
        session
            .create(ResponseCreate {
                stream_id: Some("a".into()),
                input: Some("go".into()),
                ..ResponseCreate::default()
            })
            .unwrap();
        assert_eq!(
            session.export_lane(&lane()).unwrap_err(),
            SessionError::LaneBusy(lane())
        );
        let refused = session
            .import_lane(&lane(), LaneTransfer::default())
            .unwrap_err();
        assert_eq!(refused.error(), &SessionError::LaneInUse(lane()));
        assert!(refused.into_request().is_idle());
    }

    #[test]
    fn a_moved_request_keeps_its_attempts_against_the_retry_budget() {
        let config = SessionConfig {
            retry: crate::retry::RetryPolicy::default().with_max_attempts(2),
            ..SessionConfig::default()
        };
        let mut source = Session::new(config.clone());
        source.connected(Instant::ZERO);
        let request = ResponseCreate {
            stream_id: Some("a".into()),
            input: Some("go".into()),
            ..ResponseCreate::default()
        };
        source.create(request).unwrap();
        assert!(source.poll_transmit().is_some(), "attempt 1");
        source.connection_lost(&Failure::Dropped, Instant::ZERO);
        let retrying = core::iter::from_fn(|| source.poll_event())
            .any(|e| matches!(e, SessionEvent::Retrying { attempt: 2, .. }));
        assert!(retrying);

        let mut target = Session::new(config);
        target
            .import_lane(&lane(), source.export_lane(&lane()).unwrap())
            .unwrap();
        target.connected(Instant::ZERO);
        assert!(target.poll_transmit().is_some(), "attempt 2");
        target.connection_lost(&Failure::Dropped, Instant::ZERO);
        let gave_up = core::iter::from_fn(|| target.poll_event()).find_map(|e| match e {
            SessionEvent::Failed {
                error: RequestError::GaveUp(gave_up),
                ..
            } => Some(gave_up),
            _ => None,
        });
        assert_eq!(gave_up.expect("the budget is spent").attempts, 2);
    }
}
