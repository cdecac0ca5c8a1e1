//! `responses-ws load`: N agents × K turns (or a turn rate for a duration) against the mock
//! server in a separate process, by up to three clients in one run: (a) the pool, (b) one of
//! our connections per agent, (c) the official Python client, one socket per agent. Each
//! client gets a fresh mock process (unless `--url` names a server), so the mock's CPU time
//! per turn is measured alongside the client's and shows whether the mock was the limit.
//! Then memory per idle connection, and the ratios between the clients.
//!
//! Files: `workload` (the turns, the script, when turns start), `pool` (client a),
//! `connections` (client b), `idle` (memory per idle connection, in a fresh process),
//! `python` (client c, `cli/load/openai_agents.py`), `mock_process`, `meter` (progress and
//! peak memory), `usage` (getrusage, RSS), `summary` (figures, JSON, table).

mod connections;
mod idle;
mod meter;
mod mock_process;
mod pool;
mod python;
mod summary;
pub(crate) mod usage;
mod workload;

use std::time::Duration;

use crate::cli::{LoadArgs, LoadClient};
use crate::error::CliError;

use meter::Meter;
use mock_process::MockProcess;
use summary::{Ratio, Report, Summary};
use usage::Usage;
use workload::Plan;

/// Runs the load and prints the report (a table, or JSON with `--json`). Fails when a turn
/// did not complete.
pub(crate) async fn load(args: LoadArgs) -> Result<(), CliError> {
    let plan = plan(&args)?;
    let clients = args.clients();
    if args.idle_probe {
        return idle::probe(&args, &clients).await;
    }
    if let Some(path) = &args.save_script {
        let json = workload::script(plan.turns_per_agent()).to_json();
        return std::fs::write(path, json)
            .map_err(|error| CliError::io(format!("writing {}", path.display()), error));
    }
    let python = args.python.clone().unwrap_or_else(python::default_python);
    if !args.json {
        println!(
            "responses-ws load · {} · clients: {}",
            describe(&plan),
            clients
                .iter()
                .map(|client| client.label())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    let mut runs = Vec::new();
    for &client in &clients {
        let (mock, url) = server(&args, plan.turns_per_agent()).await?;
        let meter = Meter::start(plan.total_turns(), client.label(), args.json);
        let before = Usage::this_process();
        let result = match client {
            LoadClient::Pool => pool::run(&url, plan, pool_limits(&args), meter.counter()).await,
            LoadClient::Connections => {
                connections::run(&url, !args.no_deflate, plan, meter.counter()).await
            }
            LoadClient::OpenaiPython => {
                python::run(&python, &url, !args.no_deflate, plan, meter.counter()).await
            }
        };
        let cpu = Usage::this_process().cpu_since(&before);
        let peak_rss = meter.finish();
        let mock_use = match mock {
            Some(mock) => {
                let threads = mock.threads();
                Some((threads, mock.stop().await?))
            }
            None => None,
        };
        let mut measured = result?;
        // The Python client measures itself (after its imports); ours is this process.
        if client != LoadClient::OpenaiPython {
            measured.cpu = cpu;
            measured.peak_rss = peak_rss;
        }
        runs.push(Summary::new(client, &plan, measured, mock_use));
    }
    let mut idle_memory = Vec::new();
    if args.idle_connections > 0 {
        for &client in &clients {
            let (mock, url) = server(&args, 1).await?;
            let measured = idle::measure(client, &url, &args, &python).await;
            if let Some(mock) = mock {
                mock.stop().await?;
            }
            idle_memory.push(measured?);
        }
    }
    let report = Report {
        plan,
        cores: std::thread::available_parallelism().map_or(1, usize::from),
        ratios: Ratio::all(&runs),
        runs,
        idle_memory,
    };
    match args.json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        ),
        false => report.print(),
    }
    let incomplete: Vec<&str> = report
        .runs
        .iter()
        .filter(|run| !run.complete())
        .map(|run| run.client.label())
        .collect();
    match incomplete.is_empty() {
        true => Ok(()),
        false => Err(CliError::Bench(format!(
            "not every turn completed: {}",
            incomplete.join(", ")
        ))),
    }
}

/// The server to load: `--url`, or a fresh mock process playing conversations of `turns`
/// turns.
pub(crate) async fn server(
    args: &LoadArgs,
    turns: u32,
) -> Result<(Option<MockProcess>, String), CliError> {
    match &args.url {
        Some(url) => Ok((None, url.clone())),
        None => {
            let mock =
                MockProcess::start(&workload::script(turns), args.mock_threads.map(usize::from))
                    .await?;
            let url = mock.url().to_owned();
            Ok((Some(mock), url))
        }
    }
}

/// The pool's limits the arguments ask for.
fn pool_limits(args: &LoadArgs) -> pool::PoolLimits {
    pool::PoolLimits {
        max_connections: args.max_connections as usize,
        dial_interval: Duration::from_secs_f64(args.dial_interval_ms / 1000.0),
        deflate: !args.no_deflate,
    }
}

/// The plan the arguments ask for.
fn plan(args: &LoadArgs) -> Result<Plan, CliError> {
    match (args.rate, args.duration) {
        (Some(rate), Some(duration)) => {
            let plan = Plan::Sustained {
                agents: args.agents,
                rate,
                duration: Duration::from_secs_f64(duration),
            };
            match plan.total_turns() {
                0 => Err(CliError::Usage(
                    "--rate × --duration must start at least one turn".into(),
                )),
                _ => Ok(plan),
            }
        }
        _ => Ok(Plan::Burst {
            agents: args.agents,
            turns: args.turns,
        }),
    }
}

/// The header's words for `plan`.
fn describe(plan: &Plan) -> String {
    match *plan {
        Plan::Burst { agents, turns } => format!(
            "burst: {agents} agents × {turns} turns at once ({} turns)",
            plan.total_turns()
        ),
        Plan::Sustained {
            agents,
            rate,
            duration,
        } => format!(
            "sustained: {rate} turns/s for {} s over {agents} agents ({} turns)",
            duration.as_secs_f64(),
            plan.total_turns()
        ),
    }
}
