//! What `load` reports: a [`Measured`] run turned into a [`Summary`] (turns/s, latency
//! percentiles, connections, retries, CPU per turn, peak memory, the mock's CPU), the memory
//! per idle connection, the ratios between clients, as one JSON document or a table.

use std::time::Duration;

use serde::Serialize;

use super::workload::Plan;
use crate::cli::LoadClient;
use crate::stats;

/// Errors kept per run (the first ones).
pub(crate) const ERRORS_KEPT: usize = 5;

/// What a client's run measured, before summing up.
#[derive(Debug, Clone, Default)]
pub(crate) struct Measured {
    /// Each completed turn's latency.
    pub(crate) latencies: Vec<Duration>,
    /// Agents that stopped on an error (each loses its remaining turns).
    pub(crate) failed: u64,
    /// The first errors.
    pub(crate) errors: Vec<String>,
    /// From the start (burst: before connecting) to the last turn's end.
    pub(crate) wall: Duration,
    /// The client's CPU time over the run.
    pub(crate) cpu: Duration,
    /// The client's peak resident set during the run.
    pub(crate) peak_rss: u64,
    /// WebSocket connections the client opened.
    pub(crate) connections_opened: u64,
    /// Connections or requests tried again.
    pub(crate) retries: u64,
}

impl Measured {
    /// Records an error (kept if among the first few).
    pub(crate) fn fail(&mut self, error: String) {
        self.failed += 1;
        if self.errors.len() < ERRORS_KEPT {
            self.errors.push(error);
        }
    }

    /// Adds an agent's part.
    pub(crate) fn merge(&mut self, other: Measured) {
        self.latencies.extend(other.latencies);
        self.failed += other.failed;
        let room = ERRORS_KEPT.saturating_sub(self.errors.len());
        self.errors.extend(other.errors.into_iter().take(room));
        self.connections_opened += other.connections_opened;
        self.retries += other.retries;
    }
}

/// Turn latency percentiles, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub(crate) struct Latency {
    pub(crate) p50: f64,
    pub(crate) p90: f64,
    pub(crate) p99: f64,
    pub(crate) max: f64,
}

/// The mock process's share of a run.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub(crate) struct MockUse {
    /// Its runtime's worker threads (`null`: one per core).
    pub(crate) threads: Option<usize>,
    /// CPU time it used (its whole life: start, run, stop).
    pub(crate) cpu_s: f64,
    /// That per completed turn.
    pub(crate) cpu_per_turn_us: f64,
    /// Cores it kept busy on average over the run (CPU time ÷ wall time).
    pub(crate) busy_cores: f64,
    /// Turns per second it could serve with one core to itself (1 ÷ CPU per turn).
    pub(crate) turns_per_s_per_core: f64,
}

/// One client's run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub(crate) client: LoadClient,
    pub(crate) turns_planned: u64,
    pub(crate) turns_completed: u64,
    /// Agents that stopped on an error.
    pub(crate) agents_failed: u64,
    pub(crate) wall_s: f64,
    pub(crate) turns_per_s: f64,
    pub(crate) latency_ms: Latency,
    pub(crate) connections_opened: u64,
    pub(crate) retries: u64,
    pub(crate) cpu_s: f64,
    pub(crate) cpu_per_turn_us: f64,
    pub(crate) peak_rss_bytes: u64,
    /// `null` with `--url` (the mock is not ours to measure).
    pub(crate) mock: Option<MockUse>,
    pub(crate) errors: Vec<String>,
}

impl Summary {
    /// Sums up `measured` (a run of `plan` by `client`), with the mock's CPU time when known.
    pub(crate) fn new(
        client: LoadClient,
        plan: &Plan,
        measured: Measured,
        mock: Option<(Option<usize>, Duration)>,
    ) -> Summary {
        let turns = measured.latencies.len() as u64;
        let ms = |p: f64| {
            stats::percentile(&measured.latencies, p).map_or(0.0, |d| d.as_secs_f64() * 1e3)
        };
        let wall = measured.wall.as_secs_f64();
        let per_turn_us = |cpu: Duration| match turns {
            0 => 0.0,
            n => cpu.as_secs_f64() * 1e6 / n as f64,
        };
        Summary {
            client,
            turns_planned: plan.total_turns(),
            turns_completed: turns,
            agents_failed: measured.failed,
            wall_s: wall,
            turns_per_s: match wall > 0.0 {
                true => turns as f64 / wall,
                false => 0.0,
            },
            latency_ms: Latency {
                p50: ms(50.0),
                p90: ms(90.0),
                p99: ms(99.0),
                max: ms(100.0),
            },
            connections_opened: measured.connections_opened,
            retries: measured.retries,
            cpu_s: measured.cpu.as_secs_f64(),
            cpu_per_turn_us: per_turn_us(measured.cpu),
            peak_rss_bytes: measured.peak_rss,
            mock: mock.map(|(threads, cpu)| {
                let per_turn = per_turn_us(cpu);
                MockUse {
                    threads,
                    cpu_s: cpu.as_secs_f64(),
                    cpu_per_turn_us: per_turn,
                    busy_cores: match wall > 0.0 {
                        true => cpu.as_secs_f64() / wall,
                        false => 0.0,
                    },
                    turns_per_s_per_core: match per_turn > 0.0 {
                        true => 1e6 / per_turn,
                        false => 0.0,
                    },
                }
            }),
            errors: measured.errors,
        }
    }

    /// Whether every planned turn completed.
    pub(crate) fn complete(&self) -> bool {
        self.turns_completed == self.turns_planned && self.agents_failed == 0
    }
}

/// Client memory per idle connection: `connections` opened and left idle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct IdleMemory {
    pub(crate) client: LoadClient,
    pub(crate) connections: u64,
    /// Resident set before and after opening them.
    pub(crate) rss_before_bytes: u64,
    pub(crate) rss_after_bytes: u64,
    /// (after − before) ÷ connections.
    pub(crate) bytes_per_connection: f64,
}

impl IdleMemory {
    pub(crate) fn new(client: LoadClient, connections: u64, before: u64, after: u64) -> Self {
        IdleMemory {
            client,
            connections,
            rss_before_bytes: before,
            rss_after_bytes: after,
            bytes_per_connection: after.saturating_sub(before) as f64 / connections.max(1) as f64,
        }
    }
}

/// How one client compares with another in the same run (above 1: `client` is better).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Ratio {
    pub(crate) client: LoadClient,
    pub(crate) versus: LoadClient,
    /// Its turns/s ÷ the other's.
    pub(crate) turns_per_s: f64,
    /// The other's p99 latency ÷ its.
    pub(crate) p99_latency: f64,
    /// The other's CPU per turn ÷ its.
    pub(crate) cpu_per_turn: f64,
}

impl Ratio {
    fn of(a: &Summary, b: &Summary) -> Ratio {
        let div = |x: f64, y: f64| if y > 0.0 { x / y } else { 0.0 };
        Ratio {
            client: a.client,
            versus: b.client,
            turns_per_s: div(a.turns_per_s, b.turns_per_s),
            p99_latency: div(b.latency_ms.p99, a.latency_ms.p99),
            cpu_per_turn: div(b.cpu_per_turn_us, a.cpu_per_turn_us),
        }
    }

    /// The first client run against each other one.
    pub(crate) fn all(runs: &[Summary]) -> Vec<Ratio> {
        match runs.split_first() {
            Some((first, rest)) => rest.iter().map(|other| Ratio::of(first, other)).collect(),
            None => Vec::new(),
        }
    }
}

/// Everything a `load` run found: the `--json` document.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Report {
    pub(crate) plan: Plan,
    /// CPU cores of the machine (client and mock share them).
    pub(crate) cores: usize,
    pub(crate) runs: Vec<Summary>,
    pub(crate) idle_memory: Vec<IdleMemory>,
    pub(crate) ratios: Vec<Ratio>,
}

impl Report {
    /// The human form.
    pub(crate) fn print(&self) {
        println!(
            "{:<14} {:>8} {:>6} {:>9} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>9} {:>9} {:>10} {:>6}",
            "client",
            "turns",
            "failed",
            "turns/s",
            "p50",
            "p90",
            "p99",
            "max",
            "conns",
            "retries",
            "CPU/turn",
            "peak RSS",
            "mock/turn",
            "mock%"
        );
        for run in &self.runs {
            let (mock_turn, mock_busy) = match &run.mock {
                Some(mock) => (
                    format!("{:.0} µs", mock.cpu_per_turn_us),
                    format!("{:.0}%", mock.busy_cores * 100.0),
                ),
                None => ("–".into(), "–".into()),
            };
            println!(
                "{:<14} {:>8} {:>6} {:>9.0} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>9} {:>9} {:>10} {:>6}",
                run.client.label(),
                format!("{}/{}", run.turns_completed, run.turns_planned),
                run.agents_failed,
                run.turns_per_s,
                ms(run.latency_ms.p50),
                ms(run.latency_ms.p90),
                ms(run.latency_ms.p99),
                ms(run.latency_ms.max),
                run.connections_opened,
                run.retries,
                format!("{:.0} µs", run.cpu_per_turn_us),
                stats::bytes(run.peak_rss_bytes),
                mock_turn,
                mock_busy,
            );
            for error in &run.errors {
                println!("  {}: {error}", run.client.label());
            }
        }
        println!(
            "turn = user message → tool call → tool output → text answer (two responses); CPU \
             from getrusage; mock% = the mock process's CPU ÷ wall time ({} cores shared)",
            self.cores
        );
        for idle in &self.idle_memory {
            println!(
                "memory per idle connection, {}: {} ({} connections, RSS {} → {})",
                idle.client.label(),
                stats::bytes(idle.bytes_per_connection.round() as u64),
                idle.connections,
                stats::bytes(idle.rss_before_bytes),
                stats::bytes(idle.rss_after_bytes)
            );
        }
        for ratio in &self.ratios {
            println!(
                "{} vs {}: {:.2}× turns/s, {:.2}× p99 latency, {:.2}× CPU per turn (above 1: {} better)",
                ratio.client.label(),
                ratio.versus.label(),
                ratio.turns_per_s,
                ratio.p99_latency,
                ratio.cpu_per_turn,
                ratio.client.label()
            );
        }
    }
}

fn ms(value: f64) -> String {
    match value < 10.0 {
        true => format!("{value:.2} ms"),
        false => format!("{value:.0} ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_summary_counts_rates_percentiles_and_cpu_per_turn() {
        let plan = Plan::Burst {
            agents: 2,
            turns: 2,
        };
        let measured = Measured {
            latencies: [1, 2, 3, 10].map(Duration::from_millis).to_vec(),
            wall: Duration::from_secs(2),
            cpu: Duration::from_millis(4),
            connections_opened: 2,
            ..Measured::default()
        };
        let summary = Summary::new(
            LoadClient::Connections,
            &plan,
            measured,
            Some((Some(2), Duration::from_millis(8))),
        );
        assert!(summary.complete());
        assert_eq!(summary.turns_per_s, 2.0);
        assert_eq!(summary.latency_ms.p50, 2.0);
        assert_eq!(summary.latency_ms.p99, 10.0);
        assert_eq!(summary.cpu_per_turn_us, 1000.0);
        let mock = summary.mock.unwrap();
        assert_eq!(mock.cpu_per_turn_us, 2000.0);
        assert_eq!(mock.turns_per_s_per_core, 500.0);
        assert_eq!(mock.busy_cores, 0.004);
        let json = serde_json::to_value(&summary).unwrap();
        assert_eq!(json["client"], "connections");
        assert_eq!(json["latency_ms"]["max"], 10.0);
    }

    #[test]
    fn a_failed_agent_makes_the_run_incomplete_and_ratios_compare_the_first() {
        let plan = Plan::Burst {
            agents: 1,
            turns: 2,
        };
        let mut measured = Measured {
            latencies: vec![Duration::from_millis(4)],
            wall: Duration::from_secs(1),
            cpu: Duration::from_millis(1),
            ..Measured::default()
        };
        for n in 0..ERRORS_KEPT + 2 {
            measured.fail(format!("error {n}"));
        }
        assert_eq!(measured.errors.len(), ERRORS_KEPT);
        let slow = Summary::new(LoadClient::OpenaiPython, &plan, measured.clone(), None);
        assert!(!slow.complete());
        measured.latencies.push(Duration::from_millis(2));
        let fast = Summary::new(LoadClient::Connections, &plan, measured, None);
        let ratios = Ratio::all(&[fast, slow]);
        assert_eq!(ratios.len(), 1);
        assert_eq!(ratios[0].turns_per_s, 2.0);
        assert_eq!(ratios[0].p99_latency, 1.0);
        assert_eq!(ratios[0].cpu_per_turn, 2.0);
    }
}
