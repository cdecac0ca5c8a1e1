//! `responses-ws demo`: an agent that plans a trip with ~20 tool calls over WebSocket mode,
//! against the embedded mock server (default) or, with `--live`, against
//! `wss://api.openai.com/v1/responses` with a calculator and a read-only file lister. Text and
//! tool calls stream to the terminal as they arrive; a summary follows.

mod script;

use std::io::Write;
use std::time::Duration;

use responses_ws_core::wire::{Includable, Input, ResponseCreate};
use responses_ws_tokio::mock::MockServer;
use responses_ws_tokio::{Config, Connection};

use crate::agent::{self, Limits, Outcome};
use crate::cli::DemoArgs;
use crate::display::LivePrinter;
use crate::error::CliError;
use crate::stats;
use crate::tools::{FileLister, LiveTools, Toolbox, TripTools};

pub(crate) use script::script as demo_script;

/// The OpenAI endpoint of `--live`.
pub(crate) const OPENAI_URL: &str = "wss://api.openai.com/v1/responses";

/// The live demo's request.
const LIVE_PROMPT: &str = "Look around my directory with list_files (start with \".\", and \
     look into one or two subdirectories if there are any). Tell me how many files are at the \
     top level and which is the largest, then use the calculator to give the total size of the \
     top-level files in KiB.";

const LIVE_INSTRUCTIONS: &str = "You are a careful assistant with two tools: a calculator and a \
     read-only lister of the user's directory. Use the calculator for every computation. Call \
     independent tools in parallel. Answer briefly.";

/// Runs the demo.
pub(crate) async fn demo(args: DemoArgs) -> Result<(), CliError> {
    if args.live {
        live(args).await
    } else {
        mock(args).await
    }
}

async fn mock(args: DemoArgs) -> Result<(), CliError> {
    let script = script::script(Duration::from_millis(args.pace_ms));
    let server = MockServer::start(script)
        .await
        .map_err(|error| CliError::io("starting the embedded mock server", error))?;
    let url = server.url();
    println!("responses-ws demo · WebSocket mode · embedded mock server at {url}");
    println!("user: {}", script::PROMPT);
    let request = request(
        &args.model,
        script::INSTRUCTIONS,
        script::PROMPT,
        &TripTools,
    );
    let config = Config::new(&url).map(|config| args.retry.configure(config));
    let result = converse(config, &url, request, &mut TripTools).await;
    server.shutdown().await;
    result
}

async fn live(args: DemoArgs) -> Result<(), CliError> {
    let key = std::env::var("OPENAI_API_KEY")
        .ok()
        .filter(|key| !key.trim().is_empty())
        .ok_or(CliError::NoApiKey)?;
    let lister = FileLister::new(&args.dir).map_err(|error| CliError::BadInput {
        path: args.dir.clone(),
        why: error.to_string(),
    })?;
    println!(
        "responses-ws demo · WebSocket mode · {OPENAI_URL} · model {} · listing {}",
        args.model,
        lister.root().display()
    );
    println!("user: {LIVE_PROMPT}");
    let mut tools = LiveTools::new(lister);
    let request = request(&args.model, LIVE_INSTRUCTIONS, LIVE_PROMPT, &tools);
    let config = Config::new(OPENAI_URL).map(|config| args.retry.configure(config.api_key(&key)));
    converse(config, OPENAI_URL, request, &mut tools).await
}

/// The first request of a demo: store off, encrypted reasoning kept for replays, parallel
/// calls allowed.
fn request(model: &str, instructions: &str, prompt: &str, tools: &dyn Toolbox) -> ResponseCreate {
    ResponseCreate {
        model: Some(model.into()),
        instructions: Some(instructions.into()),
        input: Some(Input::Text(prompt.into())),
        tools: Some(tools.declarations()),
        parallel_tool_calls: Some(true),
        store: Some(false),
        include: Some(vec![Includable::ReasoningEncryptedContent]),
        ..ResponseCreate::default()
    }
}

/// Connects, runs the agent with live output, closes and prints the summary.
async fn converse(
    config: Result<Config, responses_ws_tokio::ConnectError>,
    url: &str,
    request: ResponseCreate,
    tools: &mut dyn Toolbox,
) -> Result<(), CliError> {
    let config = config.map_err(|error| CliError::connect(url, error))?;
    let mut conn = Connection::connect(config)
        .await
        .map_err(|error| CliError::connect(url, error))?;
    let mut printer = LivePrinter::new(std::io::stdout());
    let result = agent::run(&mut conn, request, tools, &mut printer, Limits::default()).await;
    printer.end_line();
    let (sent, received) = conn.client().map_or((0, 0), |client| client.byte_counts());
    // The answer is in; a failing close handshake changes nothing for the user.
    let _ = conn.close().await;
    let outcome = result?;
    print_summary(&outcome, sent, received);
    Ok(())
}

fn print_summary(outcome: &Outcome, sent: u64, received: u64) {
    let ttft: Vec<Duration> = outcome
        .turns
        .iter()
        .filter_map(|turn| turn.first_token)
        .collect();
    let ttft_line = match (
        stats::percentile(&ttft, 0.0),
        stats::median(&ttft),
        stats::percentile(&ttft, 100.0),
    ) {
        (Some(min), Some(median), Some(max)) => format!(
            "min {} · median {} · max {}  (per turn: {})",
            stats::duration(min),
            stats::duration(median),
            stats::duration(max),
            ttft.iter()
                .map(|d| d.as_millis().to_string())
                .collect::<Vec<_>>()
                .join(", ")
                + " ms"
        ),
        _ => "-".into(),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out);
    let _ = writeln!(out, "summary");
    let _ = writeln!(out, "  turns                {}", outcome.responses);
    let _ = writeln!(
        out,
        "  tool calls           {} ({} responses with parallel calls)",
        outcome.tool_calls, outcome.parallel_turns
    );
    let _ = writeln!(out, "  time to first token  {ttft_line}");
    let _ = writeln!(
        out,
        "  total time           {}",
        stats::duration(outcome.elapsed)
    );
    let _ = writeln!(
        out,
        "  bytes sent           {} (WebSocket frames and the upgrade request)",
        stats::bytes(sent)
    );
    let _ = writeln!(out, "  bytes received       {}", stats::bytes(received));
    if outcome.reconnects > 0 || outcome.full_context_replays > 0 {
        let _ = writeln!(
            out,
            "  reconnects           {} ({} full-context replays)",
            outcome.reconnects, outcome.full_context_replays
        );
    }
    let answer = match outcome.final_text.is_empty() {
        true => "no (empty)".to_owned(),
        false => format!("yes ({} characters)", outcome.final_text.chars().count()),
    };
    let _ = writeln!(out, "  final answer         {answer}");
}
