//! Client (a) of `load`: one [`Pool`] for every agent, each agent a [`Conversation`] on a
//! task of its own, each turn [`Conversation::run_tool_loop`]. The pool decides which
//! connection and lane serve a turn and when to open a connection, within `--max-connections`.

use std::time::{Duration, Instant};

use responses_ws_tokio::pool::{Conversation, Pool};
use tokio::task::JoinSet;

use super::connections::config;
use super::meter::Counter;
use super::summary::Measured;
use super::workload::{self, Plan};
use crate::error::CliError;

/// The pool's limits for a run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PoolLimits {
    /// Connections at once.
    pub(crate) max_connections: usize,
    /// The shortest time between two dials.
    pub(crate) dial_interval: Duration,
    /// Offer permessage-deflate.
    pub(crate) deflate: bool,
}

/// Runs `plan` on one pool, after one warm-up turn that is not counted. A burst's clock
/// starts before the pool has a connection; a sustained run's once the warm-up is done.
pub(crate) async fn run(
    url: &str,
    plan: Plan,
    limits: PoolLimits,
    counter: Counter,
) -> Result<Measured, CliError> {
    let agents = plan.agents() as usize;
    let pool = Pool::builder(config(url, limits.deflate)?)
        .max_connections(limits.max_connections)
        .dial_interval(limits.dial_interval)
        .max_opening(limits.max_connections.min(16))
        // Every agent may be waiting for a lane at once: waits are bounded by time only.
        .max_conversations(agents + 1)
        .max_waiting(agents + 1)
        .max_wait(Duration::from_secs(600))
        .spawn()
        .map_err(|error| CliError::Bench(format!("the pool: {error}")))?;
    let conversation = || {
        pool.conversation()
            .map_err(|error| CliError::Bench(format!("a conversation: {error}")))
    };
    let warm_up = run_agent(
        plan.agents(),
        conversation()?,
        Instant::now(),
        vec![None],
        Counter::detached(),
    )
    .await;
    if let Some(error) = warm_up.errors.into_iter().next() {
        pool.close().await;
        return Err(CliError::Bench(format!("warm-up: {error}")));
    }
    let before = pool.stats();
    let started = Instant::now();
    let mut set = JoinSet::new();
    for agent in 0..plan.agents() {
        let conversation = conversation()?;
        let starts = plan.starts(agent);
        let counter = counter.clone();
        set.spawn(run_agent(agent, conversation, started, starts, counter));
    }
    let mut measured = Measured::default();
    while let Some(joined) = set.join_next().await {
        measured.merge(joined.map_err(|error| CliError::Bench(error.to_string()))?);
    }
    measured.wall = started.elapsed();
    let after = pool.stats();
    pool.close().await;
    measured.connections_opened = after.connections_dialed_total;
    measured.retries = after.retries_total.saturating_sub(before.retries_total);
    Ok(measured)
}

/// One agent's turns on its conversation.
async fn run_agent(
    agent: u32,
    conversation: Conversation,
    started: Instant,
    starts: Vec<Option<Duration>>,
    counter: Counter,
) -> Measured {
    let mut measured = Measured::default();
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
        let answered = conversation
            .run_tool_loop(request, |call| async move {
                workload::tool_output(&call.arguments)
            })
            .await;
        match answered {
            Ok(answer) if answer.all_output_text().is_empty() => {
                measured.fail(format!("agent {agent} turn {turn}: an answer without text"));
                break;
            }
            Ok(_) => {
                measured.latencies.push(began.elapsed());
                counter.turn_done();
            }
            Err(error) => {
                measured.fail(format!("agent {agent} turn {turn}: {error}"));
                break;
            }
        }
    }
    measured
}

/// For memory per idle connection of the pool: a pool of at most `max_connections`
/// connections that runs one turn per connection at a time, warmed up with one turn; the
/// resident set is measured, then `count` conversations run one turn each at once and are
/// dropped, and the resident set is measured again with the connections idle, once they have
/// been quiet long enough to free their permessage-deflate state (the pool's connections keep
/// it for `DeflateConfig::release_after` after their last message). Returns the two
/// figures and the connections opened between them. Run once with one connection and once
/// with many, the difference is what the extra connections cost, the conversations' share
/// being the same in both.
pub(crate) async fn idle_memory(
    url: &str,
    deflate: bool,
    count: u64,
    max_connections: usize,
) -> Result<(u64, u64, u64), CliError> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let config = config(url, deflate)?;
    let codec = &config.client_config().ws.deflate;
    // The pool's driver frees it on the connection's timer, just after the delay.
    let codec_kept = codec
        .release_after
        .filter(|_| codec.enabled)
        .map(|after| after + Duration::from_millis(500));
    let pool = Pool::builder(config)
        .max_connections(max_connections)
        .max_turns_per_connection(1)
        .max_opening(16)
        .dial_interval(Duration::ZERO)
        .max_conversations(count + 1)
        .max_waiting(count + 1)
        .max_wait(Duration::from_secs(600))
        .spawn()
        .map_err(|error| CliError::Bench(format!("the pool: {error}")))?;
    let turn = |agent: u32| {
        let conversation = pool.conversation();
        async move {
            let conversation = conversation
                .map_err(|error| CliError::Bench(format!("a conversation: {error}")))?;
            conversation
                .run_tool_loop(workload::request(agent, 0), |call| async move {
                    workload::tool_output(&call.arguments)
                })
                .await
                .map(drop)
                .map_err(|error| CliError::Bench(format!("idle pool: {error}")))
        }
    };
    let result = async {
        turn(0).await?;
        let before = super::usage::settled_rss().unwrap_or(0);
        let opened = pool.stats().connections_dialed_total;
        let mut set = JoinSet::new();
        for agent in 1..=count {
            set.spawn(turn(agent as u32));
        }
        while let Some(joined) = set.join_next().await {
            joined.map_err(|error| CliError::Bench(error.to_string()))??;
        }
        if let Some(kept) = codec_kept {
            tokio::time::sleep(kept).await;
        }
        let after = super::usage::settled_rss().unwrap_or(0);
        let opened = pool.stats().connections_dialed_total.saturating_sub(opened);
        Ok((before, after, opened))
    }
    .await;
    pool.close().await;
    result
}
