//! Client (b) of `load`: one of our tokio [`Connection`]s per agent, each agent a task that
//! runs its turns with the CLI's agent loop (the tool is answered as soon as its call is
//! complete). Also the idle-connection memory probe of our connection.

use std::time::{Duration, Instant};

use responses_ws_tokio::{Config, Connection};
use tokio::task::JoinSet;

use super::meter::Counter;
use super::summary::Measured;
use super::usage;
use super::workload::{self, OrderTool, Plan};
use crate::agent::{self, Limits, Quiet};
use crate::error::CliError;

/// Responses one turn may take (a call and an answer; room for a repeat).
const RESPONSES_PER_TURN: u32 = 4;

/// Interrupted requests an agent sends again per turn.
const RETRIES_PER_TURN: u32 = 2;

/// The client's configuration for `url`, offering permessage-deflate when `deflate`.
pub(crate) fn config(url: &str, deflate: bool) -> Result<Config, CliError> {
    Ok(Config::new(url)
        .map_err(|error| CliError::connect(url, error))?
        .api_key("sk-load")
        .deflate(deflate))
}

/// Runs `plan` with one connection per agent, after one warm-up turn that is not counted. A
/// burst's clock starts before the agents connect; a sustained run connects every agent first
/// and then starts its clock.
pub(crate) async fn run(
    url: &str,
    deflate: bool,
    plan: Plan,
    counter: Counter,
) -> Result<Measured, CliError> {
    let config = config(url, deflate)?;
    let agents = plan.agents();
    // One turn first on a connection of its own, not counted, as the Python client does.
    let warm_up = run_agent(
        agents,
        None,
        config.clone(),
        Instant::now(),
        vec![None],
        Counter::detached(),
    )
    .await;
    if let Some(error) = warm_up.errors.into_iter().next() {
        return Err(CliError::Bench(format!("warm-up: {error}")));
    }
    let mut connections = Vec::with_capacity(agents as usize);
    let mut measured = Measured::default();
    let started = Instant::now();
    if let Plan::Sustained { .. } = plan {
        let mut set = JoinSet::new();
        for agent in 0..agents {
            let config = config.clone();
            set.spawn(async move { (agent, Connection::connect(config).await) });
        }
        connections.resize_with(agents as usize, || None);
        while let Some(joined) = set.join_next().await {
            let (agent, result) = joined.map_err(|error| CliError::Bench(error.to_string()))?;
            match result {
                Ok(conn) => connections[agent as usize] = Some(conn),
                Err(error) => measured.fail(format!("agent {agent}: connect: {error}")),
            }
        }
        measured.connections_opened = connections.iter().flatten().count() as u64;
    }
    let started = match plan {
        Plan::Burst { .. } => started,
        Plan::Sustained { .. } => Instant::now(),
    };
    let mut set = JoinSet::new();
    let mut connections = connections.into_iter();
    for agent in 0..agents {
        let connected = connections.next().flatten();
        let failed_to_connect = connected.is_none() && matches!(plan, Plan::Sustained { .. });
        if failed_to_connect {
            continue;
        }
        let config = config.clone();
        let starts = plan.starts(agent);
        let counter = counter.clone();
        set.spawn(
            async move { run_agent(agent, connected, config, started, starts, counter).await },
        );
    }
    while let Some(joined) = set.join_next().await {
        measured.merge(joined.map_err(|error| CliError::Bench(error.to_string()))?);
    }
    measured.wall = started.elapsed();
    Ok(measured)
}

/// One agent's turns on its own connection (made here unless given).
async fn run_agent(
    agent: u32,
    connected: Option<Connection>,
    config: Config,
    started: Instant,
    starts: Vec<Option<Duration>>,
    counter: Counter,
) -> Measured {
    let mut measured = Measured::default();
    let mut conn = match connected {
        Some(conn) => conn,
        None => match Connection::connect(config).await {
            Ok(conn) => {
                measured.connections_opened += 1;
                conn
            }
            Err(error) => {
                measured.fail(format!("agent {agent}: connect: {error}"));
                return measured;
            }
        },
    };
    let limits = Limits {
        max_turns: RESPONSES_PER_TURN,
        retries: RETRIES_PER_TURN,
    };
    for (turn, start) in starts.into_iter().enumerate() {
        let began = match start {
            Some(offset) => {
                let at = started + offset;
                tokio::time::sleep_until(at.into()).await;
                at
            }
            None => Instant::now(),
        };
        let request = workload::request(agent, turn as u32);
        match agent::run(&mut conn, request, &mut OrderTool, &mut Quiet, limits).await {
            Ok(outcome) if outcome.final_text.is_empty() || outcome.tool_calls != 1 => {
                measured.fail(format!(
                    "agent {agent} turn {turn}: {} tool calls and the answer {:?}",
                    outcome.tool_calls, outcome.final_text
                ));
                break;
            }
            Ok(outcome) => {
                measured.latencies.push(began.elapsed());
                measured.connections_opened += u64::from(outcome.reconnects);
                measured.retries += u64::from(outcome.reconnects);
                counter.turn_done();
            }
            Err(error) => {
                measured.fail(format!("agent {agent} turn {turn}: {error}"));
                break;
            }
        }
    }
    let _ = conn.close().await;
    measured
}

/// Opens one connection and runs a turn on it (so first-use allocations are not counted),
/// measures the resident set, opens `count` more, runs one turn on each and leaves them idle
/// (an agent's connection between turns), measures again; returns both, then closes them all.
pub(crate) async fn idle_memory(
    url: &str,
    deflate: bool,
    count: u64,
) -> Result<(u64, u64), CliError> {
    let config = config(url, deflate)?;
    let limits = Limits {
        max_turns: RESPONSES_PER_TURN,
        retries: RETRIES_PER_TURN,
    };
    let connect_and_turn = |agent: u32| {
        let config = config.clone();
        async move {
            let mut conn = Connection::connect(config)
                .await
                .map_err(|error| CliError::Bench(format!("idle connection: {error}")))?;
            let request = workload::request(agent, 0);
            agent::run(&mut conn, request, &mut OrderTool, &mut Quiet, limits)
                .await
                .map_err(|error| CliError::Bench(format!("idle connection's turn: {error}")))?;
            Ok::<_, CliError>(conn)
        }
    };
    let first = connect_and_turn(0).await?;
    let before = usage::settled_rss().unwrap_or(0);
    let mut idle = Vec::with_capacity(count as usize);
    for agent in 1..=count {
        idle.push(connect_and_turn(agent as u32).await?);
    }
    let after = usage::settled_rss().unwrap_or(0);
    for mut conn in idle.into_iter().chain([first]) {
        let _ = conn.close().await;
    }
    Ok((before, after))
}
