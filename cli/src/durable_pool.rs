//! `responses-ws run --store SPEC --agents N`: N durable conversations at once on one pool of
//! connections sharing the store. The pool stores the records of every conversation it
//! touched in one store call per input, before anything they describe is sent; a run killed
//! at any point continues with the same command (`--resume ID`): each conversation goes on
//! where its records stop, tools whose outputs were stored do not run again.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures_util::future::join_all;
use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{Input, ResponseCreate, ToolOutput};
use responses_ws_tokio::pool::Pool;
use responses_ws_tokio::Config;
use serde::Serialize;

use crate::durable::ToolLog;
use crate::error::CliError;
use crate::tools::{RunTools, Toolbox};

/// One conversation's line of `--json` output.
#[derive(Debug, Serialize)]
struct ConversationLine<'a> {
    conversation: &'a str,
    final_text: &'a str,
    tool_runs: u32,
}

/// The last line: the totals.
#[derive(Debug, Serialize)]
struct TotalsLine {
    summary: Totals,
}

#[derive(Debug, Serialize)]
struct Totals {
    conversations: u32,
    tool_runs: u32,
    turns: u64,
    connections: u64,
    elapsed_ms: f64,
}

/// The request each conversation starts with (the `run` tools, parallel calls).
pub(crate) fn request(model: &str, prompt: &[String]) -> ResponseCreate {
    ResponseCreate {
        model: Some(model.into()),
        input: Some(Input::Text(prompt.join(" "))),
        tools: Some(RunTools.declarations()),
        parallel_tool_calls: Some(true),
        store: Some(false),
        ..ResponseCreate::default()
    }
}

/// Runs conversations `{id}-0` … `{id}-{agents - 1}` on one pool to their final answers.
pub(crate) async fn run(
    config: Config,
    id: &str,
    agents: u32,
    request: ResponseCreate,
    log: Option<ToolLog>,
    json: bool,
) -> Result<(), CliError> {
    let started = Instant::now();
    let pool = Pool::builder(config).spawn().map_err(CliError::Connect)?;
    let log = Arc::new(Mutex::new(log));
    let ids: Vec<String> = (0..agents).map(|i| format!("{id}-{i}")).collect();
    let runs = ids.iter().map(|id| {
        let (pool, log, request) = (pool.clone(), Arc::clone(&log), request.clone());
        async move {
            let mut runs = 0u32;
            let handler = |call: ToolCall| {
                let output = RunTools.run(&call);
                runs += 1;
                if let Some(log) = &mut *log.lock().unwrap_or_else(|e| e.into_inner()) {
                    log.append(id, &call, &output);
                }
                std::future::ready(ToolOutput::Text(output))
            };
            let response = pool.run_durable(id, request, handler).await;
            (id, response, runs)
        }
    });
    let mut out = std::io::stdout().lock();
    let mut tool_runs = 0;
    let mut failed = None;
    for (id, response, runs) in join_all(runs).await {
        tool_runs += runs;
        let response = match response {
            Ok(response) => response,
            Err(error) => {
                eprintln!("conversation {id}: {error}");
                failed.get_or_insert(error);
                continue;
            }
        };
        let final_text = response.all_output_text();
        let line = match json {
            true => serde_json::to_string(&ConversationLine {
                conversation: id,
                final_text: &final_text,
                tool_runs: runs,
            })
            .unwrap_or_default(),
            false => format!("{id}: {final_text} ({runs} tool runs)"),
        };
        let _ = writeln!(out, "{line}");
    }
    let stats = pool.stats();
    pool.close().await;
    let totals = Totals {
        conversations: agents,
        tool_runs,
        turns: stats.turns_completed_total,
        connections: stats.connections_dialed_total,
        elapsed_ms: started.elapsed().as_secs_f64() * 1e3,
    };
    let line = match json {
        true => serde_json::to_string(&TotalsLine { summary: totals }).unwrap_or_default(),
        false => format!(
            "{} conversations, {} tool runs, {} turns on {} connections, {:.1} ms",
            totals.conversations,
            totals.tool_runs,
            totals.turns,
            totals.connections,
            totals.elapsed_ms
        ),
    };
    writeln!(out, "{line}").map_err(|error| CliError::io("writing the totals", error))?;
    match failed {
        Some(error) => Err(CliError::Pool(error)),
        None => Ok(()),
    }
}
