//! `responses-ws run`: a generic agent runner for any WebSocket endpoint (or, with
//! `--transport http`, its HTTP + SSE side). It declares two
//! deterministic tools (`get_weather`, `add`), chains turns until the model gives a final
//! answer, reconnects when the connection drops (the session replays the context), and prints
//! either live text or, with `--json`, every server event as a JSON line and a summary line.

use std::io::Write;

use responses_ws_core::session::Lane;
use responses_ws_core::wire::{Input, ResponseCreate};
use responses_ws_tokio::{Config, Connection};
use serde::Serialize;

use crate::agent::{self, Limits, Observer, Outcome};
use crate::cli::RunArgs;
use crate::display::{JsonPrinter, LivePrinter};
use crate::durable::{self, ToolLog};
use crate::durable_pool;
use crate::error::CliError;
use crate::stats;
use crate::tools::{RunTools, Toolbox};

/// Requests interrupted by a lost connection that are sent again.
const RETRIES: u32 = 3;

/// The last line of `--json` output.
#[derive(Debug, Serialize)]
pub(crate) struct SummaryLine<'a> {
    summary: Summary<'a>,
}

/// What a run did, in the order the summary line shows it.
#[derive(Debug, Serialize)]
pub(crate) struct Summary<'a> {
    final_text: &'a str,
    turns: u32,
    tool_calls: u32,
    reconnects: u32,
    full_context_replays: u32,
}

impl<'a> From<&'a Outcome> for SummaryLine<'a> {
    fn from(outcome: &'a Outcome) -> Self {
        SummaryLine {
            summary: Summary {
                final_text: &outcome.final_text,
                turns: outcome.responses,
                tool_calls: outcome.tool_calls,
                reconnects: outcome.reconnects,
                full_context_replays: outcome.full_context_replays,
            },
        }
    }
}

/// Runs the agent.
pub(crate) async fn run(args: RunArgs) -> Result<(), CliError> {
    if let Some(name) = &args.lane {
        Lane::named(name.as_str())
            .map_err(|error| CliError::Usage(format!("--lane {name:?}: {error}")))?;
    }
    let mut config = Config::new(&args.url).map_err(|error| CliError::connect(&args.url, error))?;
    if let Some(key) = args.api_key.as_deref().filter(|key| !key.trim().is_empty()) {
        config = config.api_key(key);
    }
    let config = args
        .retry
        .configure(config)
        .transport(args.transport.into());
    let durable = match &args.store {
        Some(spec) => {
            let store = durable::open_store(spec)?;
            // With --agents, ID names a group (ID-0, ID-1, …), each continued if stored.
            let (resume, conversation) = match args.agents {
                Some(_) => (
                    None,
                    args.conversation.as_deref().or(args.resume.as_deref()),
                ),
                None => (args.resume.as_deref(), args.conversation.as_deref()),
            };
            let id = durable::conversation_id(&*store, spec, resume, conversation)?;
            if args.resume.is_none() && args.conversation.is_none() {
                eprintln!("conversation {id} (continue it with --store {spec} --resume {id})");
            }
            Some((store, id))
        }
        None => None,
    };
    let config = match &durable {
        Some((store, _)) => config
            .store(store.clone(), &args.worker)
            .lease_ttl(std::time::Duration::from_millis(args.lease_ttl)),
        None => config,
    };
    if let (Some(agents), Some((_, id))) = (args.agents, &durable) {
        let log = args.tool_log.as_deref().map(ToolLog::open).transpose()?;
        let request = durable_pool::request(&args.model, &args.prompt);
        return durable_pool::run(config, id, agents, request, log, args.json).await;
    }
    let mut conn = Connection::connect(config)
        .await
        .map_err(|error| CliError::connect(&args.url, error))?;
    let mut tools = RunTools;
    let request = ResponseCreate {
        stream_id: args.lane.clone(),
        model: Some(args.model.clone()),
        input: Some(Input::Text(args.prompt.join(" "))),
        tools: Some(tools.declarations()),
        parallel_tool_calls: Some(true),
        store: Some(false),
        ..ResponseCreate::default()
    };
    if let Some((_, id)) = &durable {
        let log = args.tool_log.as_deref().map(ToolLog::open).transpose()?;
        let result = durable::run(&mut conn, id, request, &mut tools, log, args.json).await;
        let _ = conn.close().await;
        return result;
    }
    let limits = Limits {
        max_turns: args.max_turns,
        retries: RETRIES,
    };
    let mut live = LivePrinter::new(std::io::stdout());
    let mut json = JsonPrinter::new(std::io::stdout());
    let observer: &mut dyn Observer = match args.json {
        true => &mut json,
        false => &mut live,
    };
    let result = agent::run(&mut conn, request, &mut tools, observer, limits).await;
    live.end_line();
    let _ = conn.close().await;
    let outcome = result?;
    if args.json {
        let line = serde_json::to_string(&SummaryLine::from(&outcome))
            .map_err(|error| CliError::io("writing the summary", error.into()))?;
        json.line(&line);
    } else {
        let _ = writeln!(
            std::io::stdout(),
            "\n{} turns, {} tool calls, {} reconnects, {} full-context replays, {}",
            outcome.responses,
            outcome.tool_calls,
            outcome.reconnects,
            outcome.full_context_replays,
            stats::duration(outcome.elapsed)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_summary_line_keeps_its_field_order() {
        let outcome = Outcome {
            final_text: "It is 15 °C in Paris.".into(),
            responses: 3,
            tool_calls: 2,
            ..Outcome::default()
        };
        assert_eq!(
            serde_json::to_string(&SummaryLine::from(&outcome)).unwrap(),
            r#"{"summary":{"final_text":"It is 15 °C in Paris.","turns":3,"tool_calls":2,"reconnects":0,"full_context_replays":0}}"#
        );
    }
}
