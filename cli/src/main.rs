//! `responses-ws`: the command line of responses-ws, the Rust client of the OpenAI Responses
//! API WebSocket mode.
//!
//! - `demo` (the default): a ~20-tool-call agent streamed live over WebSocket mode, against the
//!   embedded mock server or, with `--live`, api.openai.com.
//! - `bench`: WebSocket mode vs HTTP+SSE (full context; `previous_response_id`) through a
//!   delay proxy.
//! - `mock`: the scripted mock server on its own.
//! - `run`: an agent with two built-in tools against any endpoint.
//! - `load`: many agents at once against a mock process: throughput, latency, CPU, memory.
//!
//! This file parses the command line, runs the command on a tokio runtime and turns an error
//! into one line on stderr and an exit status.

mod agent;
mod bench;
mod cli;
mod demo;
mod display;
mod durable;
mod durable_pool;
mod error;
mod load;
mod mock_cmd;
mod run;
mod stats;
mod tools;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command, MockArgs};
use error::CliError;

fn main() -> ExitCode {
    // A bug must still end in one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        eprintln!("error: internal error (a bug in responses-ws): {info}");
    }));
    let cli = Cli::parse();
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(Command::Mock(MockArgs {
        threads: Some(threads),
        ..
    })) = &cli.command
    {
        builder.worker_threads(usize::from(*threads));
    }
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(
        cli.command.unwrap_or(Command::Demo(Default::default())),
    ));
    // Tasks still running (none should be) are cancelled here.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

async fn dispatch(command: Command) -> Result<(), CliError> {
    match command {
        Command::Demo(args) => demo::demo(args).await,
        Command::Bench(args) => bench::bench(args).await,
        Command::Mock(args) => mock_cmd::mock(args).await,
        Command::Run(args) => run::run(args).await,
        Command::Load(args) => load::load(args).await,
    }
}
