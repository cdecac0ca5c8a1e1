//! What every client of `load` does, identically: N agents, each a conversation whose turns
//! are a user message, one tool call answered locally and a short text answer (two model
//! responses); the mock's [`Script`] that plays it; and [`Plan`], when each turn of each agent
//! starts (a burst: all agents at once, turns back to back; sustained: turns started at a
//! fixed rate, spread round-robin over the agents).

use std::time::Duration;

use responses_ws_core::mock::{Script, ScriptedCall, Turn};
use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{ResponseCreate, Tool};
use serde::Serialize;

use crate::tools::{function, Toolbox};

/// The model named in every request.
pub(crate) const MODEL: &str = "gpt-5.5";

/// The tool the model calls once per turn (the Python client declares the same one).
const TOOL: &str = "lookup_order";

/// The mock model's answer after the tool output.
const ANSWER: &str = "Order A-1042 has shipped and arrives in three days.";

/// Streamed deltas of the call's arguments and of the answer.
const ARGUMENT_DELTAS: u32 = 2;
const ANSWER_DELTAS: u32 = 4;

/// When the turns start.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Plan {
    /// Every agent starts at once and runs `turns` turns back to back.
    Burst {
        /// Agents.
        agents: u32,
        /// Turns per agent.
        turns: u32,
    },
    /// `rate` turns per second for `duration`, turn `n` on agent `n % agents`, each at its
    /// scheduled time (open loop: a turn that starts late counts its wait).
    Sustained {
        /// Agents.
        agents: u32,
        /// Turns started per second.
        rate: f64,
        /// How long turns are started.
        #[serde(rename = "duration_s", serialize_with = "secs")]
        duration: Duration,
    },
}

impl Plan {
    /// Agents (conversations).
    pub(crate) fn agents(&self) -> u32 {
        match *self {
            Plan::Burst { agents, .. } | Plan::Sustained { agents, .. } => agents,
        }
    }

    /// Turns in all.
    pub(crate) fn total_turns(&self) -> u64 {
        match *self {
            Plan::Burst { agents, turns } => u64::from(agents) * u64::from(turns),
            Plan::Sustained { rate, duration, .. } => {
                (rate * duration.as_secs_f64()).round() as u64
            }
        }
    }

    /// When agent `agent`'s turns start, as offsets from the run's start; `None` for each
    /// turn of a burst (at once, after the previous one).
    pub(crate) fn starts(&self, agent: u32) -> Vec<Option<Duration>> {
        match *self {
            Plan::Burst { turns, .. } => vec![None; turns as usize],
            Plan::Sustained { agents, rate, .. } => (u64::from(agent)..self.total_turns())
                .step_by(agents.max(1) as usize)
                .map(|n| Some(Duration::from_secs_f64(n as f64 / rate)))
                .collect(),
        }
    }

    /// The most turns any agent runs (the script's length).
    pub(crate) fn turns_per_agent(&self) -> u32 {
        match *self {
            Plan::Burst { turns, .. } => turns,
            Plan::Sustained { agents, .. } => {
                let agents = u64::from(agents.max(1));
                u32::try_from(self.total_turns().div_ceil(agents)).unwrap_or(u32::MAX)
            }
        }
    }
}

fn secs<S: serde::Serializer>(duration: &Duration, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

/// The mock's script for conversations of `turns` turns: a tool call then a text answer,
/// `turns` times (the n-th response of a conversation plays the n-th scripted response).
pub(crate) fn script(turns: u32) -> Script {
    let mut script = Script::new();
    for turn in 0..turns.max(1) {
        let arguments = format!(r#"{{"order":"A-{}"}}"#, 1000 + turn);
        script = script
            .turn(Turn::tool_calls([
                ScriptedCall::new(TOOL, arguments).with_deltas(ARGUMENT_DELTAS)
            ]))
            .text(ANSWER, ANSWER_DELTAS);
    }
    script
}

/// The first request of turn `turn` of agent `agent` (the session chains it to the
/// conversation so far).
pub(crate) fn request(agent: u32, turn: u32) -> ResponseCreate {
    ResponseCreate::new(MODEL)
        .input(format!("Agent {agent}, turn {turn}: where is my order?"))
        .tools(vec![declaration()])
        .store(false)
}

fn declaration() -> Tool {
    function(TOOL, "Looks an order up by its id.", &[("order", "string")])
}

/// The tool's output for `arguments`: JSON, deterministic, about 60 bytes.
pub(crate) fn tool_output(arguments: &str) -> String {
    let order = serde_json::from_str::<serde_json::Value>(arguments)
        .ok()
        .and_then(|value| value.get("order")?.as_str().map(str::to_owned))
        .unwrap_or_default();
    serde_json::json!({ "order": order, "status": "shipped", "eta_days": order.len() % 5 + 1 })
        .to_string()
}

/// The tool as a [`Toolbox`].
#[derive(Debug, Default)]
pub(crate) struct OrderTool;

impl Toolbox for OrderTool {
    fn declarations(&self) -> Vec<Tool> {
        vec![declaration()]
    }

    fn run(&mut self, call: &ToolCall) -> String {
        tool_output(&call.arguments)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_runs_every_turn_at_once() {
        let plan = Plan::Burst {
            agents: 3,
            turns: 4,
        };
        assert_eq!(plan.total_turns(), 12);
        assert_eq!(plan.turns_per_agent(), 4);
        assert_eq!(plan.starts(2), vec![None; 4]);
    }

    #[test]
    fn a_sustained_plan_spreads_turns_round_robin_at_the_rate() {
        let plan = Plan::Sustained {
            agents: 4,
            rate: 10.0,
            duration: Duration::from_secs_f64(1.0),
        };
        assert_eq!(plan.total_turns(), 10);
        assert_eq!(plan.turns_per_agent(), 3);
        let ms = |agent| -> Vec<u128> {
            plan.starts(agent)
                .into_iter()
                .map(|start| start.unwrap().as_millis())
                .collect()
        };
        assert_eq!(ms(0), [0, 400, 800]);
        assert_eq!(ms(1), [100, 500, 900]);
        assert_eq!(ms(3), [300, 700]);
        let all: usize = (0..4).map(|agent| plan.starts(agent).len()).sum();
        assert_eq!(all, 10);
    }

    #[test]
    fn the_script_alternates_a_call_and_an_answer() {
        let script = script(3);
        assert_eq!(script.turns.len(), 6);
        assert!(matches!(script.turns[0], Turn::ToolCalls { .. }));
        assert!(matches!(script.turns[5], Turn::Text { .. }));
        assert_eq!(
            tool_output(r#"{"order":"A-1000"}"#),
            r#"{"eta_days":2,"order":"A-1000","status":"shipped"}"#
        );
        assert_eq!(
            tool_output("not json"),
            r#"{"eta_days":1,"order":"","status":"shipped"}"#
        );
    }
}
