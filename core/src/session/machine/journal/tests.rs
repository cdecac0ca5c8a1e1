use alloc::format;

use serde_json::Value;

use super::*;
use crate::mock::{MockConnection, Script, ScriptedCall};
use crate::persist::replay;
use crate::session::ledger::as_input;

const FINAL: &str = "All done.";

/// Three turns of calls (1, 2 and 3 in parallel), then the final answer.
fn script() -> Script {
    let call = |n: u32| ScriptedCall::new("add", format!(r#"{{"a":{n},"b":1}}"#));
    Script::new()
        .tool_calls([call(1)])
        .tool_calls([call(2), call(3)])
        .tool_calls([call(4), call(5), call(6)])
        .text(FINAL, 2)
}

/// A client session wired to the core's mock, every frame checked against the records
/// taken before it.
struct Run {
    session: Session,
    mock: MockConnection,
    now: Instant,
    /// Every record taken, in order (the store's view).
    records: Vec<Record>,
    /// The tool calls answered, by `call_id`.
    answered: Vec<String>,
    final_text: Option<String>,
}

impl Run {
    fn new(session: Session, records: Vec<Record>, connection: u32) -> Run {
        let mut run = Run {
            session,
            mock: MockConnection::new(script(), connection, Instant::ZERO),
            now: Instant::ZERO,
            records,
            answered: Vec::new(),
            final_text: None,
        };
        run.session.connected(Instant::ZERO);
        run
    }

    /// Moves frames, records and time until the lane is idle; stops early after `limit`
    /// records (the worker "dies").
    fn drive(&mut self, limit: usize) {
        loop {
            let mut moved = false;
            while let Some(record) = self.session.poll_record() {
                self.records.push(record);
                moved = true;
                if self.records.len() >= limit {
                    return;
                }
            }
            while let Some(frame) = self.session.poll_transmit() {
                described(&self.records, &frame);
                self.mock.handle_text(&frame, self.now);
                moved = true;
            }
            while let Some(frame) = self.mock.poll_transmit() {
                self.session.handle_text(&frame, self.now);
                moved = true;
            }
            while let Some(event) = self.session.poll_event() {
                moved = true;
                match event {
                    SessionEvent::ToolCalls { lane, calls, .. } => {
                        for call in calls {
                            self.answer(&lane, &call.call_id);
                        }
                    }
                    SessionEvent::Completed { response, .. }
                        if ToolCall::from_response(&response).is_empty() =>
                    {
                        self.final_text = Some(response.all_output_text());
                    }
                    _ => {}
                }
            }
            if !moved {
                match self.mock.poll_timeout() {
                    Some(at) => {
                        self.now = self.now.max(at);
                        self.mock.handle_timeout(self.now);
                    }
                    None => return,
                }
            }
        }
    }

    /// Answers `call_id`: its output's record is the last one queued when the call returns.
    fn answer(&mut self, lane: &Lane, call_id: &str) {
        self.session
            .submit_tool_output(lane, call_id, format!("out of {call_id}"))
            .unwrap();
        self.answered.push(call_id.into());
        self.records
            .extend(core::iter::from_fn(|| self.session.poll_record()));
        let last = self.records.last().map(|record| &record.entry);
        assert!(
            matches!(last, Some(Entry::ToolOutputAccepted { call_id: id, .. }) if id == call_id)
        );
    }
}

/// Checks the write-ahead invariant for `frame`: every input item it carries is in the
/// conversation rebuilt from `records` (its ledger, or an output recorded as accepted), and
/// the response it chains from completed in them.
fn described(records: &[Record], frame: &str) {
    let replayed = replay(records).unwrap();
    let mut known: Vec<Value> = replayed
        .ledger
        .items()
        .iter()
        .map(|item| serde_json::to_value(item).unwrap())
        .collect();
    known.extend(
        replayed
            .durable_outputs()
            .map(|(_, item)| serde_json::to_value(as_input(item.clone())).unwrap()),
    );
    let frame: Value = serde_json::from_str(frame).unwrap();
    for item in frame["input"].as_array().unwrap() {
        assert!(known.contains(item), "{item} went out before its record");
    }
    if let Some(previous) = frame["previous_response_id"].as_str() {
        assert_eq!(replayed.ledger.last_response_id(), Some(previous));
    }
}

fn journaled() -> Session {
    let mut session = Session::new(SessionConfig::default());
    session.journal(&Lane::Default, "conv").unwrap();
    session
        .create(ResponseCreate::new("m").input("Add them up"))
        .unwrap();
    session
}

#[test]
fn every_frame_goes_out_after_the_records_that_describe_it() {
    let mut run = Run::new(journaled(), Vec::new(), 0);
    run.drive(usize::MAX);
    assert_eq!(run.final_text.as_deref(), Some(FINAL));
    assert_eq!(run.answered.len(), 6);
    let kinds: Vec<&str> = run
        .records
        .iter()
        .map(|record| match record.entry {
            Entry::Opened { .. } => "opened",
            Entry::Settings { .. } => "settings",
            Entry::InputAppended { .. } => "input",
            Entry::ResponseCompleted { .. } => "completed",
            Entry::ToolCallsSeen { .. } => "calls",
            Entry::ToolOutputAccepted { .. } => "output",
            Entry::TurnAcknowledged { .. } => "ack",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "opened",
            "settings",
            "input",
            "ack",
            "completed",
            "calls",
            "output",
            "ack",
            "completed",
            "calls",
            "output",
            "output",
            "ack",
            "completed",
            "calls",
            "output",
            "output",
            "output",
            "ack",
            "completed"
        ]
    );
    let replayed = replay(&run.records).unwrap();
    assert_eq!(
        replayed.ledger.items(),
        run.session.ledger().lane(&Lane::Default).unwrap().items()
    );
    assert!(!replayed.owes_request() && replayed.calls.is_empty());
}

#[test]
fn a_lane_not_journaled_writes_nothing() {
    let mut session = Session::new(SessionConfig::default());
    session.connected(Instant::ZERO);
    session
        .create(ResponseCreate::new("m").input("Hi"))
        .unwrap();
    assert!(session.poll_record().is_none());
    assert!(session.poll_transmit().is_some());
}

#[test]
fn frames_wait_for_their_records_and_a_lost_connection_drops_the_held_ones() {
    let mut session = journaled();
    session.connected(Instant::ZERO);
    assert!(session.has_records() && session.poll_transmit().is_none());
    session.disconnected(Instant::ZERO);
    while session.poll_record().is_some() {}
    assert!(
        session.poll_transmit().is_none(),
        "the held frame was for the lost connection"
    );
    session.connected(Instant::ZERO);
    let frame = session.poll_transmit().expect("the request, replanned");
    assert!(frame.contains("Add them up"));
    assert!(
        session.poll_record().is_none(),
        "its input is journaled once"
    );
}

#[test]
fn a_used_or_journaled_lane_is_not_journaled_again() {
    let mut session = journaled();
    assert_eq!(
        session.journal(&Lane::Default, "other"),
        Err(SessionError::LaneInUse(Lane::Default))
    );
    let mut fresh = Session::new(SessionConfig::default());
    fresh.create(ResponseCreate::new("m").input("Hi")).unwrap();
    assert!(fresh.journal(&Lane::Default, "c").is_err());
}

/// A worker that dies after any number of stored records is resumed by another: the
/// rollout reaches its final answer, calls with a durable output are never run again, and
/// every output reaches the second server once.
#[test]
fn a_conversation_resumes_from_every_prefix_of_its_records() {
    let mut whole = Run::new(journaled(), Vec::new(), 0);
    whole.drive(usize::MAX);
    for cut in 1..=whole.records.len() {
        let mut first = Run::new(journaled(), Vec::new(), 0);
        first.drive(cut);
        let stored = first.records.clone();
        let replayed = replay(&stored).unwrap();
        let durable: Vec<String> = replayed
            .durable_outputs()
            .map(|(call, _)| call.call_id.clone())
            .collect();
        if replayed.is_finished() {
            let last = replayed.last_response.as_ref().unwrap();
            assert_eq!(last.all_output_text(), FINAL);
            continue;
        }
        // Died before its first input was stored: the application sends it again.
        let started = !replayed.ledger.items().is_empty();
        let mut session = Session::new(SessionConfig::default());
        session
            .import_lane(&Lane::Default, LaneTransfer::from(replayed))
            .unwrap();
        if !started {
            session
                .create(ResponseCreate::new("m").input("Add them up"))
                .unwrap();
        }
        let mut second = Run::new(session, stored, 1);
        let rerun: Vec<ToolCall> = second.session.pending_tool_calls(&Lane::Default);
        for call in rerun {
            second.answer(&Lane::Default, &call.call_id);
        }
        second.drive(usize::MAX);
        assert_eq!(second.final_text.as_deref(), Some(FINAL), "cut at {cut}");
        for call_id in &durable {
            assert!(
                !second.answered.contains(call_id),
                "cut at {cut}: {call_id} ran again"
            );
        }
        let all = replay(&second.records).unwrap();
        assert!(all.calls.is_empty() && !all.owes_request(), "cut at {cut}");
        let outputs: Vec<&Item> = all
            .ledger
            .items()
            .iter()
            .filter(|item| matches!(item, Item::FunctionCallOutput(_)))
            .collect();
        assert_eq!(outputs.len(), 6, "cut at {cut}: one output per call");
        assert_eq!(all.next_seq, second.records.len() as u64);
    }
}

#[test]
fn a_moved_lane_keeps_its_journal() {
    let mut session = journaled();
    while session.poll_record().is_some() {}
    let moved = session.export_lane(&Lane::Default).unwrap();
    assert_eq!(session.journaled_as(&Lane::Default), None);
    let mut other = Session::new(SessionConfig::default());
    let lane = Lane::named("b").unwrap();
    other.import_lane(&lane, moved).unwrap();
    assert_eq!(other.journaled_as(&lane), Some("conv"));
    other.connected(Instant::ZERO);
    let seqs: Vec<u64> = core::iter::from_fn(|| other.poll_record())
        .map(|record| record.seq)
        .collect();
    assert_eq!(
        seqs,
        [1, 2],
        "settings and input, journaled at dispatch, numbered on"
    );
    assert!(other.poll_transmit().is_some());
}
