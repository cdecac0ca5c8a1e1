use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::ToString;
use alloc::vec;

use proptest::prelude::*;

use super::*;
use crate::wire::Response;

fn call(call_id: &str) -> Item {
    serde_json::from_value(serde_json::json!({
        "type": "function_call", "call_id": call_id, "name": "tool", "arguments": "{}"
    }))
    .unwrap()
}

/// One turn of a generated history: how many calls the response makes, how many of them get
/// an output (in reverse call order or not), and whether the continuation is acknowledged.
#[derive(Debug, Clone)]
struct Turn {
    calls: usize,
    answered: usize,
    reversed: bool,
}

/// The records of a conversation that runs `turns`; it stops at the first turn whose calls
/// are not all answered (the worker died there).
fn history(turns: &[Turn]) -> Vec<Record> {
    let mut journal = Journal::new("conv");
    let mut records = vec![journal.record(Entry::Opened {
        lane: Lane::Default,
    })];
    for (t, turn) in turns.iter().enumerate() {
        records.push(journal.record(Entry::InputAppended {
            items: vec![Item::user_message(format!("turn {t}"))],
        }));
        let ids: Vec<String> = (0..turn.calls).map(|c| format!("call_{t}_{c}")).collect();
        let response = Response {
            id: format!("resp_{t}"),
            output: ids.iter().map(|id| call(id)).collect(),
            ..Response::default()
        };
        records.push(journal.record(Entry::ResponseCompleted {
            settings: Box::default(),
            response: Box::new(response),
            injected: Vec::new(),
        }));
        if ids.is_empty() {
            continue;
        }
        records.push(journal.record(Entry::ToolCallsSeen {
            response_id: format!("resp_{t}"),
            call_ids: ids.clone(),
        }));
        let mut answered: Vec<&String> = ids.iter().take(turn.answered.min(ids.len())).collect();
        if turn.reversed {
            answered.reverse();
        }
        for id in &answered {
            records.push(journal.record(Entry::ToolOutputAccepted {
                call_id: id.to_string(),
                output: Item::function_call_output(id.as_str(), format!("out of {id}")),
            }));
        }
        if answered.len() < ids.len() {
            break;
        }
        records.push(journal.record(Entry::TurnAcknowledged {
            response_id: format!("resp_{t}_next"),
        }));
    }
    records
}

fn turn() -> impl Strategy<Value = Turn> {
    (0..4usize, 0..4usize, any::<bool>()).prop_map(|(calls, answered, reversed)| Turn {
        calls,
        answered,
        reversed,
    })
}

proptest! {
    #[test]
    fn every_prefix_replays_without_inventing_or_losing_an_output(
        turns in proptest::collection::vec(turn(), 0..6),
    ) {
        let records = history(&turns);
        // Records go through their serialised form, as a store keeps them.
        let json = serde_json::to_string(&records).unwrap();
        let records: Vec<Record> = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(replay(&Vec::new()), Err(ReplayError::NotOpened));
        for end in 1..=records.len() {
            let prefix = &records[..end];
            let resumed = replay(prefix).unwrap();
            prop_assert_eq!(resumed.next_seq, end as u64);
            let accepted: BTreeMap<&str, &Item> = prefix
                .iter()
                .filter_map(|record| match &record.entry {
                    Entry::ToolOutputAccepted { call_id, output } => Some((call_id.as_str(), output)),
                    _ => None,
                })
                .collect();
            // Never invented: every output replayed was recorded for its call.
            for (call, output) in resumed.durable_outputs() {
                prop_assert_eq!(accepted.get(call.call_id.as_str()), Some(&output));
            }
            // Never lost: every recorded output is awaiting its turn or in the context.
            for (call_id, output) in &accepted {
                let awaiting = resumed
                    .durable_outputs()
                    .any(|(call, kept)| call.call_id == *call_id && kept == *output);
                prop_assert!(awaiting || resumed.ledger.items().contains(*output), "{} lost", call_id);
            }
            // Only the calls without a durable output run again.
            for call in resumed.to_rerun() {
                prop_assert!(!accepted.contains_key(call.call_id.as_str()));
            }
        }
    }
}

fn awaiting_two_calls() -> Vec<Record> {
    history(&[Turn {
        calls: 2,
        answered: 0,
        reversed: false,
    }])
}

fn output(journal: &mut Journal, call_id: &str) -> Record {
    journal.record(Entry::ToolOutputAccepted {
        call_id: call_id.into(),
        output: Item::function_call_output(call_id, "done"),
    })
}

#[test]
fn a_resumed_conversation_reruns_only_the_calls_without_a_durable_output() {
    let mut records = awaiting_two_calls();
    let mut journal = replay(&records).unwrap().journal();
    records.push(output(&mut journal, "call_0_1"));
    let resumed = replay(&records).unwrap();
    let rerun: Vec<_> = resumed.to_rerun().map(|c| c.call_id.as_str()).collect();
    assert_eq!(rerun, ["call_0_0"]);
    let durable: Vec<_> = resumed
        .durable_outputs()
        .map(|(c, _)| c.call_id.as_str())
        .collect();
    assert_eq!(durable, ["call_0_1"]);
    assert_eq!(resumed.ledger.last_response_id(), Some("resp_0"));
    assert_eq!(resumed.in_flight, None);
}

#[test]
fn bad_records_are_typed_errors() {
    let records = awaiting_two_calls();
    let next = records.len() as u64;
    let with = |extra: Record| {
        let mut all = records.clone();
        all.push(extra);
        replay(&all)
    };
    let mut journal = Journal::resume("conv", next);
    let first = output(&mut journal, "call_0_0");
    assert_eq!(
        with(Record {
            seq: 2,
            ..first.clone()
        }),
        Err(ReplayError::OutOfOrder {
            previous: next - 1,
            seq: 2
        })
    );
    assert_eq!(
        with(Record {
            conversation: "other".into(),
            ..first.clone()
        }),
        Err(ReplayError::WrongConversation {
            seq: next,
            found: "other".into()
        })
    );
    assert_eq!(
        with(output(&mut Journal::resume("conv", next), "call_9")),
        Err(ReplayError::UnknownCall {
            seq: next,
            call_id: "call_9".into()
        })
    );
    assert_eq!(
        with(journal.record(Entry::TurnAcknowledged {
            response_id: "r".into()
        })),
        Err(ReplayError::Unanswered {
            seq: next + 1,
            call_id: "call_0_0".into()
        })
    );
    assert_eq!(
        with(journal.record(Entry::Opened {
            lane: Lane::Default
        })),
        Err(ReplayError::OpenedTwice { seq: next + 2 })
    );
    let mut twice = records.clone();
    twice.push(first);
    twice.push(output(&mut Journal::resume("conv", next + 1), "call_0_0"));
    let error = replay(&twice).unwrap_err();
    assert_eq!(
        error,
        ReplayError::DuplicateOutput {
            seq: next + 1,
            call_id: "call_0_0".into()
        }
    );
    assert!(error.to_string().contains("a second time"));
    assert_eq!(replay(&records[1..]), Err(ReplayError::NotOpened));
}

#[test]
fn an_acknowledged_turn_puts_the_outputs_into_the_context() {
    let records = history(&[Turn {
        calls: 2,
        answered: 2,
        reversed: true,
    }]);
    let resumed = replay(&records).unwrap();
    assert!(resumed.calls.is_empty());
    assert_eq!(resumed.in_flight.as_deref(), Some("resp_0_next"));
    let unsent = resumed.ledger.unsent();
    assert_eq!(
        unsent,
        [
            Item::function_call_output("call_0_0", "out of call_0_0"),
            Item::function_call_output("call_0_1", "out of call_0_1"),
        ],
        "outputs in call order"
    );
}
