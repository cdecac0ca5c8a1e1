//! The benchmark's rollout, identical for every mode: a repository-triage agent that makes N
//! tool calls in turns of 1, 2, 1, 3, … calls (so some run in parallel), each turn with a
//! reasoning item, then a final answer. The same [`Script`] drives the mock for every mode,
//! with the same modelled [`ServerCost`] (zero by default: transport only); tool outputs are
//! deterministic and exactly `tool_output_bytes` long.

use std::time::Duration;

use responses_ws_core::mock::{Script, ScriptedCall, ServerCost, Turn};
use responses_ws_core::wire::Tool;

use crate::tools::function;

/// The model named in every request.
pub(crate) const MODEL: &str = "gpt-5.5";

/// The system instructions of every request.
pub(crate) const INSTRUCTIONS: &str = "You are a repository triage agent. Read the failing \
     test output, search the code and read the files you need, call independent tools in \
     parallel, and finish with a short diagnosis and a proposed fix. Never modify files.";

/// The user's request.
pub(crate) const PROMPT: &str = "CI fails on main since this morning: \
     `session::tests::replay_after_reconnect` panics with 'ledger out of sync'. Find the cause.";

/// The final answer the mock streams.
const FINAL_ANSWER: &str = "Diagnosis: `Ledger::new_connection` clears `cached` but keeps \
     `covered`, so the first request after a reconnect chains from a response the new \
     connection never saw. Fix: reset `covered` with `cached` and add a regression test that \
     reconnects between a tool call and its output.";

/// Opaque reasoning state per turn (real `encrypted_content` is a few KiB; this is 1 KiB).
const REASONING_BYTES: usize = 1024;

/// Sizes of the call groups, repeated: 1, 2, 1, 3 calls per response.
const GROUPS: [u32; 4] = [1, 2, 1, 3];

/// What the rollout looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rollout {
    /// Tool calls in all.
    pub(crate) tool_calls: u32,
    /// Bytes of each tool output.
    pub(crate) tool_output_bytes: usize,
    /// Time before each streamed delta.
    pub(crate) delta_delay: Duration,
    /// Server-side time the mock charges before each response streams.
    pub(crate) server_cost: ServerCost,
}

impl Rollout {
    /// Calls per tool-calling response, in order; they add up to `tool_calls`.
    pub(crate) fn groups(&self) -> Vec<u32> {
        let mut left = self.tool_calls;
        let mut groups = Vec::new();
        for size in GROUPS.iter().cycle() {
            if left == 0 {
                break;
            }
            let size = (*size).min(left);
            groups.push(size);
            left -= size;
        }
        groups
    }

    /// Responses in the rollout: the tool-calling ones and the final answer.
    pub(crate) fn responses(&self) -> usize {
        self.groups().len() + 1
    }

    /// The mock's script.
    pub(crate) fn script(&self) -> Script {
        let mut index = 0u32;
        let mut script = Script::new();
        for (turn, size) in self.groups().into_iter().enumerate() {
            let calls: Vec<ScriptedCall> = (0..size)
                .map(|_| {
                    index += 1;
                    call(index)
                })
                .collect();
            script = script.turn(Turn::tool_calls(calls).with_reasoning(reasoning(turn)));
        }
        script
            .turn(Turn::text(FINAL_ANSWER, 24).with_reasoning(reasoning(usize::MAX)))
            .with_delta_delay(self.delta_delay)
            .with_server_cost(self.server_cost)
    }

    /// The output of a call: JSON text of exactly `tool_output_bytes` bytes (at least the
    /// envelope's), the same for the same call in every mode.
    pub(crate) fn tool_output(&self, name: &str, arguments: &str) -> String {
        let head = format!(r#"{{"tool":"{name}","ok":true,"data":""#);
        let tail = r#""}"#;
        let room = self
            .tool_output_bytes
            .saturating_sub(head.len() + tail.len());
        let seed = arguments.bytes().fold(7u64, |hash, byte| {
            hash.wrapping_mul(31).wrapping_add(u64::from(byte))
        });
        const WORDS: [&str; 8] = [
            "ledger ", "covered ", "cached ", "lane ", "replay ", "fn ", "assert ", "ok ",
        ];
        let mut data = String::with_capacity(room);
        let mut word = seed as usize;
        while data.len() < room {
            let next = WORDS[word % WORDS.len()];
            let take = next.len().min(room - data.len());
            data.push_str(&next[..take]);
            word = word.wrapping_mul(5).wrapping_add(3);
        }
        format!("{head}{data}{tail}")
    }

    /// The tools every mode declares.
    pub(crate) fn tools() -> Vec<Tool> {
        vec![
            function(
                "search_code",
                "Searches the repository for a pattern.",
                &[("pattern", "string")],
            ),
            function(
                "read_file",
                "Reads a file of the repository.",
                &[("path", "string")],
            ),
        ]
    }
}

/// The `index`-th call (1-based): searches and reads, alternating.
fn call(index: u32) -> ScriptedCall {
    let (name, arguments) = match index % 2 {
        1 => (
            "search_code",
            format!(r#"{{"pattern":"covered_{index} |ledger.new_connection"}}"#),
        ),
        _ => (
            "read_file",
            format!(r#"{{"path":"core/src/session/part_{index}.rs"}}"#),
        ),
    };
    ScriptedCall::new(name, arguments).with_deltas(4)
}

/// Deterministic opaque reasoning state for a turn.
fn reasoning(turn: usize) -> String {
    let mut text = format!("gAAAAB{turn:04}");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut state = turn.wrapping_add(17);
    while text.len() < REASONING_BYTES {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        text.push(char::from(alphabet[(state >> 58) % alphabet.len()]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rollout(tool_calls: u32) -> Rollout {
        Rollout {
            tool_calls,
            tool_output_bytes: 2000,
            delta_delay: Duration::ZERO,
            server_cost: ServerCost::default(),
        }
    }

    #[test]
    fn groups_add_up_and_some_are_parallel() {
        assert_eq!(rollout(20).groups(), [1, 2, 1, 3, 1, 2, 1, 3, 1, 2, 1, 2]);
        assert_eq!(rollout(20).responses(), 13);
        assert_eq!(rollout(4).groups(), [1, 2, 1]);
        assert_eq!(rollout(1).groups(), [1]);
        let script = rollout(20).script();
        assert_eq!(script.turns.len(), 13);
    }

    #[test]
    fn tool_outputs_have_the_asked_size_and_are_json() {
        let rollout = rollout(4);
        let output = rollout.tool_output("read_file", r#"{"path":"a.rs"}"#);
        assert_eq!(output.len(), 2000);
        let json: serde_json::Value = serde_json::from_str(&output).unwrap();
        assert_eq!(json["tool"], "read_file");
        assert_eq!(
            output,
            rollout.tool_output("read_file", r#"{"path":"a.rs"}"#)
        );
        let tiny = Rollout {
            tool_output_bytes: 1,
            ..rollout
        };
        assert!(serde_json::from_str::<serde_json::Value>(&tiny.tool_output("x", "{}")).is_ok());
    }
}
