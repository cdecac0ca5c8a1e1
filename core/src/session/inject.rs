//! `response.inject` (multi-agent beta) on the client side: tool outputs sent into a running
//! response, waiting for the server's verdict. Committed ones join the conversation with the
//! response (right after the calls they answer); refused or unanswered ones are handed back.
//! This module owns the bookkeeping only; the session sends and routes.

use alloc::vec::Vec;

use crate::wire::Item;

/// One `response.inject` of a lane's running response.
#[derive(Debug, Clone)]
struct Injection {
    input: Vec<Item>,
    /// `response.inject.created` arrived for it.
    committed: bool,
}

/// The injections of a lane's running response, oldest first. The server answers them in
/// the order sent, so each verdict belongs to the oldest injection still waiting for one.
#[derive(Debug, Clone, Default)]
pub(super) struct Injections {
    list: Vec<Injection>,
}

impl Injections {
    /// How many are kept (committed or waiting).
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    /// Keeps `input`, sent just now.
    pub(super) fn sent(&mut self, input: Vec<Item>) {
        self.list.push(Injection {
            input,
            committed: false,
        });
    }

    /// The oldest waiting injection was committed; false if none waited.
    pub(super) fn committed(&mut self) -> bool {
        match self.list.iter_mut().find(|injection| !injection.committed) {
            Some(injection) => {
                injection.committed = true;
                true
            }
            None => false,
        }
    }

    /// The oldest waiting injection was refused: its input, if one waited.
    pub(super) fn refused(&mut self) -> Option<Vec<Item>> {
        let index = self
            .list
            .iter()
            .position(|injection| !injection.committed)?;
        Some(self.list.remove(index).input)
    }

    /// The response ended: what was committed, in the order sent, for the ledger. Those
    /// still waiting stay for their verdict (`response_already_completed`, most likely).
    pub(super) fn take_committed(&mut self) -> Vec<Item> {
        let mut committed = Vec::new();
        self.list.retain_mut(|injection| {
            if injection.committed {
                committed.append(&mut injection.input);
            }
            !injection.committed
        });
        committed
    }

    /// The response will not end (its connection is gone): every input, committed or not,
    /// to hand back, since the conversation keeps no part of an unfinished response.
    pub(super) fn abandon(&mut self) -> Vec<Vec<Item>> {
        self.list
            .drain(..)
            .map(|injection| injection.input)
            .collect()
    }
}

/// `output` with each injected item placed right after the call it answers (by `call_id`);
/// injected items that answer no call of `output` come last, in the order sent.
pub(super) fn interleave(output: &[Item], mut injected: Vec<Item>) -> Vec<Item> {
    let mut items = Vec::with_capacity(output.len() + injected.len());
    for item in output {
        items.push(item.clone());
        let Some(call_id) = item.call_id() else {
            continue;
        };
        let mut index = 0;
        while index < injected.len() {
            if injected[index].call_id() == Some(call_id) {
                items.push(injected.remove(index));
            } else {
                index += 1;
            }
        }
    }
    items.extend(injected);
    items
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::FunctionCall;

    fn call(id: &str) -> Item {
        Item::FunctionCall(FunctionCall {
            id: None,
            call_id: id.into(),
            name: "f".into(),
            arguments: "{}".into(),
            namespace: None,
            caller: None,
            status: None,
        })
    }

    fn output(id: &str) -> Item {
        Item::function_call_output(id, "ok")
    }

    #[test]
    fn outputs_follow_their_calls_and_strays_come_last() {
        let response = [call("a"), Item::user_message("between"), call("b")];
        let items = interleave(&response, [output("b"), output("x"), output("a")].into());
        let ids: Vec<Option<&str>> = items.iter().map(Item::call_id).collect();
        assert_eq!(
            ids,
            [Some("a"), Some("a"), None, Some("b"), Some("b"), Some("x")]
        );
        assert!(matches!(items[1], Item::FunctionCallOutput(_)));
    }

    #[test]
    fn verdicts_go_to_the_oldest_waiting_injection() {
        let mut injections = Injections::default();
        injections.sent([output("a")].into());
        injections.sent([output("b")].into());
        injections.sent([output("c")].into());
        assert!(injections.committed());
        assert_eq!(injections.refused(), Some([output("b")].into()));
        assert_eq!(injections.take_committed(), [output("a")]);
        assert_eq!(injections.len(), 1, "c waits for its verdict");
        assert_eq!(injections.abandon(), [[output("c")]]);
        assert!(!injections.committed());
        assert_eq!(injections.refused(), None);
    }
}
