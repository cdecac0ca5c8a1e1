//! `responses-ws bench`: the same rollout (N tool calls in turns, some parallel) over three
//! transports against the mock server, each connection through a [`DelayProxy`] that adds a
//! round-trip time and an uplink bandwidth:
//!
//! 1. WebSocket mode with our tokio adapter, incremental turns (`store: false`), with
//!    permessage-deflate (the default: the client offers it, the mock accepts);
//! 2. the same without permessage-deflate (`Config::deflate(false)`);
//! 3. HTTP + SSE through async-openai, `store: false`, the full context every turn;
//! 4. HTTP + SSE through async-openai, `store: true`, `previous_response_id`.
//!
//! Modes alternate within each repetition; the table shows medians — time, bytes each way on
//! the wire and the CPU the process used (client, mock and proxy together: deflate's cost on
//! both ends shows as the difference between the two WebSocket rows) — and `--plot` writes
//! them as an SVG chart.
//!
//! By default the mock does no server-side work, so the benchmark measures transport only.
//! `--server-cost-per-kib-ms` and `--stored-lookup-ms` give it a [`ServerCost`]: time per KiB
//! of input the server has not cached, and per stored response loaded for
//! `previous_response_id`. They are modelling assumptions, not measurements of any server.

mod http;
mod plot;
mod proxy;
mod rollout;
mod ws;

use std::net::SocketAddr;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use responses_ws_core::mock::ServerCost;
use responses_ws_tokio::mock::MockServer;

use crate::cli::BenchArgs;
use crate::error::CliError;
use crate::load::usage::Usage;
use crate::stats;

use proxy::{DelayProxy, Link, ProxyTraffic};
use rollout::Rollout;

/// What one run of a mode measured.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// From the first connect to the final answer.
    pub(crate) total: Duration,
    /// Each response, from its request to its end.
    pub(crate) turns: Vec<Duration>,
    /// Tool calls answered.
    pub(crate) tool_calls: u32,
    /// The final answer.
    pub(crate) final_text: String,
}

/// A transport under test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    WebSocket,
    WebSocketPlain,
    HttpFullContext,
    HttpPreviousResponseId,
}

impl Mode {
    const ALL: [Mode; 4] = [
        Mode::WebSocket,
        Mode::WebSocketPlain,
        Mode::HttpFullContext,
        Mode::HttpPreviousResponseId,
    ];

    fn label(self) -> &'static str {
        match self {
            Mode::WebSocket => "WebSocket, incremental (ours)",
            Mode::WebSocketPlain => "WebSocket, no deflate (ours)",
            Mode::HttpFullContext => "HTTP+SSE, full context",
            Mode::HttpPreviousResponseId => "HTTP+SSE, previous_response_id",
        }
    }
}

/// A run and what the proxy saw.
#[derive(Debug, Clone)]
struct Sample {
    run: Run,
    traffic: ProxyTraffic,
    /// CPU time of the whole process over the run (client, mock server and proxy).
    cpu: Duration,
}

/// The medians of a mode.
#[derive(Debug, Clone, Copy, Default)]
struct Medians {
    total: Duration,
    turn_p50: Duration,
    turn_p95: Duration,
    up: u64,
    down: u64,
    cpu: Duration,
    /// The most connections any run opened.
    connections: u64,
}

impl Medians {
    fn of(samples: &[Sample]) -> Medians {
        let totals: Vec<Duration> = samples.iter().map(|s| s.run.total).collect();
        let p = |q: f64| -> Vec<Duration> {
            samples
                .iter()
                .filter_map(|s| stats::percentile(&s.run.turns, q))
                .collect()
        };
        let up: Vec<u64> = samples.iter().map(|s| s.traffic.up).collect();
        let down: Vec<u64> = samples.iter().map(|s| s.traffic.down).collect();
        let cpu: Vec<Duration> = samples.iter().map(|s| s.cpu).collect();
        Medians {
            total: stats::median(&totals).unwrap_or_default(),
            turn_p50: stats::median(&p(50.0)).unwrap_or_default(),
            turn_p95: stats::median(&p(95.0)).unwrap_or_default(),
            up: stats::median_u64(&up),
            down: stats::median_u64(&down),
            cpu: stats::median(&cpu).unwrap_or_default(),
            connections: samples
                .iter()
                .map(|s| s.traffic.connections)
                .max()
                .unwrap_or(0),
        }
    }
}

/// Runs the benchmark and prints the table.
pub(crate) async fn bench(args: BenchArgs) -> Result<(), CliError> {
    let rollout = Rollout {
        tool_calls: args.tool_calls,
        tool_output_bytes: args.tool_output_bytes,
        delta_delay: Duration::from_millis(args.delta_delay_ms),
        server_cost: ServerCost::new(
            millis(args.server_cost_per_kib_ms),
            millis(args.stored_lookup_ms),
        ),
    };
    let link = Link {
        rtt: Duration::from_millis(args.rtt_ms),
        uplink_bps: (args.uplink_kbps > 0).then(|| args.uplink_kbps.saturating_mul(1000)),
    };
    let groups = rollout.groups();
    let parallel = groups.iter().filter(|size| **size > 1).count();
    let uplink = match link.uplink_bps {
        Some(bps) => format!("{} Mbit/s", bps as f64 / 1e6),
        None => "unlimited".into(),
    };
    let server_cost = server_cost_label(args.server_cost_per_kib_ms, args.stored_lookup_ms);
    println!(
        "responses-ws bench · {} tool calls in {} responses ({parallel} with parallel calls) · \
         tool outputs {} B · RTT {} ms · uplink {uplink} · model pace {} ms/delta · server \
         cost {server_cost} · {} reps",
        args.tool_calls,
        rollout.responses(),
        args.tool_output_bytes,
        args.rtt_ms,
        args.delta_delay_ms,
        args.reps
    );

    let progress = ProgressBar::new(u64::from(args.reps) * Mode::ALL.len() as u64);
    progress.set_style(
        ProgressStyle::with_template("{spinner} [{bar:32}] {pos}/{len} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); Mode::ALL.len()];
    for rep in 1..=args.reps {
        for (index, mode) in Mode::ALL.into_iter().enumerate() {
            progress.set_message(format!("rep {rep}: {}", mode.label()));
            let sample = match run_mode(mode, rollout, link).await {
                Ok(sample) => sample,
                Err(error) => {
                    progress.abandon();
                    return Err(error);
                }
            };
            samples[index].push(sample);
            progress.inc(1);
        }
    }
    progress.finish_and_clear();

    let medians: Vec<Medians> = samples.iter().map(|s| Medians::of(s)).collect();
    print_table(&medians, args.reps);
    if let Some(path) = &args.plot {
        let title = format!(
            "{} tool calls, RTT {} ms, uplink {uplink}, tool outputs {} B, server cost \
             {server_cost} (medians of {})",
            args.tool_calls, args.rtt_ms, args.tool_output_bytes, args.reps
        );
        let bars: Vec<plot::Bar> = Mode::ALL
            .iter()
            .zip(&medians)
            .map(|(mode, m)| plot::Bar {
                label: mode.label().into(),
                total_ms: m.total.as_secs_f64() * 1000.0,
                up_bytes: m.up,
            })
            .collect();
        std::fs::write(path, plot::svg(&title, &bars))
            .map_err(|error| CliError::io(format!("writing {}", path.display()), error))?;
        println!("chart written to {}", path.display());
    }
    Ok(())
}

/// `ms` milliseconds (validated non-negative and finite by the argument parser; anything else
/// is zero).
fn millis(ms: f64) -> Duration {
    Duration::try_from_secs_f64(ms / 1000.0).unwrap_or_default()
}

/// The header's words for the modelled server cost.
fn server_cost_label(per_kib: f64, lookup: f64) -> String {
    match per_kib == 0.0 && lookup == 0.0 {
        true => "none (transport only)".into(),
        false => format!("{per_kib} ms/KiB of uncached input + {lookup} ms/stored lookup"),
    }
}

/// One run of `mode` against a fresh mock server behind a fresh proxy.
async fn run_mode(mode: Mode, rollout: Rollout, link: Link) -> Result<Sample, CliError> {
    let before = Usage::this_process();
    let server = MockServer::start(rollout.script())
        .await
        .map_err(|error| CliError::io("starting the mock server", error))?;
    let result = run_via_proxy(mode, rollout, link, upstream(&server)).await;
    server.shutdown().await;
    let mut sample = result?;
    sample.cpu = Usage::this_process().cpu_since(&before);
    let expected = rollout.responses();
    if sample.run.tool_calls != rollout.tool_calls
        || sample.run.turns.len() != expected
        || sample.run.final_text.is_empty()
    {
        return Err(CliError::Bench(format!(
            "{}: {} tool calls in {} responses (expected {} in {expected}), final answer {:?}",
            mode.label(),
            sample.run.tool_calls,
            sample.run.turns.len(),
            rollout.tool_calls,
            sample.run.final_text
        )));
    }
    Ok(sample)
}

async fn run_via_proxy(
    mode: Mode,
    rollout: Rollout,
    link: Link,
    upstream: SocketAddr,
) -> Result<Sample, CliError> {
    let proxy = DelayProxy::start(upstream, link)
        .await
        .map_err(|error| CliError::io("starting the delay proxy", error))?;
    let run = match mode {
        Mode::WebSocket => ws::run_once(proxy.addr(), rollout, true).await,
        Mode::WebSocketPlain => ws::run_once(proxy.addr(), rollout, false).await,
        Mode::HttpFullContext => {
            http::run_once(proxy.addr(), rollout, http::Chaining::FullContext).await
        }
        Mode::HttpPreviousResponseId => {
            http::run_once(proxy.addr(), rollout, http::Chaining::PreviousResponseId).await
        }
    };
    let traffic = proxy.traffic();
    proxy.shutdown().await;
    let run = run.map_err(|error| CliError::Bench(format!("{}: {error}", mode.label())))?;
    Ok(Sample {
        run,
        traffic,
        cpu: Duration::ZERO,
    })
}

/// The mock server's socket address.
fn upstream(server: &MockServer) -> SocketAddr {
    server.addr()
}

fn print_table(medians: &[Medians], reps: u32) {
    let ws = medians.first().copied().unwrap_or_default();
    println!();
    println!(
        "{:<32} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>6} {:>8}",
        "mode", "total", "turn p50", "turn p95", "bytes up", "bytes down", "CPU", "conns", "vs WS"
    );
    for (mode, m) in Mode::ALL.iter().zip(medians) {
        let ratio = m.total.as_secs_f64() / ws.total.as_secs_f64().max(1e-9);
        println!(
            "{:<32} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>6} {:>7.2}×",
            mode.label(),
            stats::duration(m.total),
            stats::duration(m.turn_p50),
            stats::duration(m.turn_p95),
            stats::bytes(m.up),
            stats::bytes(m.down),
            stats::duration(m.cpu),
            m.connections,
            ratio
        );
    }
    println!();
    println!(
        "medians of {reps} run(s) per mode; bytes and connections as seen by the proxy \
         (HTTP headers, SSE and WebSocket framing included); CPU is the process's user + \
         system time over the run (client, mock server and proxy); a turn is request sent → response \
         complete (the first HTTP turn includes its TCP connect; the WebSocket connect, TCP + \
         upgrade, counts in the total only)"
    );
    let compare = |other: &Medians| {
        let saving = 100.0 * (1.0 - ws.total.as_secs_f64() / other.total.as_secs_f64().max(1e-9));
        match saving >= 0.0 {
            true => (format!("{saving:.1}% less time"), saving),
            false => (format!("{:.1}% more time", -saving), saving),
        }
    };
    if let [_, plain, full, previous] = medians {
        println!("{}", deflate_summary(&ws, plain));
        let (full_text, full_saving) = compare(full);
        let (previous_text, previous_saving) = compare(previous);
        let verdict = |met: bool| if met { "met" } else { "not met" };
        println!(
            "WebSocket mode vs HTTP+SSE with full context: {full_text} (target: at least 40% \
             less: {})",
            verdict(full_saving >= 40.0)
        );
        println!(
            "WebSocket mode vs HTTP+SSE with previous_response_id: {previous_text} (target: no \
             slower: {})",
            verdict(previous_saving >= 0.0)
        );
        let keep_alive = full.connections <= 1 && previous.connections <= 1;
        println!(
            "HTTP keep-alive: async-openai's reqwest client {} (TCP connections per run: full \
             context {}, previous_response_id {}; the HTTP clients pause {} ms between turns so \
             that reqwest's pool gets its connection back, not counted)",
            match keep_alive {
                true => "reused one connection for every turn",
                false => "opened more than one connection",
            },
            full.connections,
            previous.connections,
            http::POOL_PAUSE.as_millis()
        );
    }
}

/// What permessage-deflate changed: bytes each way and CPU, deflate against plain.
fn deflate_summary(deflate: &Medians, plain: &Medians) -> String {
    let fewer = |with: u64, without: u64| 100.0 * (1.0 - with as f64 / (without as f64).max(1.0));
    let cpu = deflate.cpu.as_secs_f64() - plain.cpu.as_secs_f64();
    format!(
        "permessage-deflate: {:.1}% fewer bytes up, {:.1}% fewer bytes down, CPU {}{} per \
         rollout (both ends)",
        fewer(deflate.up, plain.up),
        fewer(deflate.down, plain.down),
        if cpu < 0.0 { "-" } else { "+" },
        stats::duration(Duration::from_secs_f64(cpu.abs())),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deflate_line_compares_bytes_and_cpu() {
        let plain = Medians {
            up: 1000,
            down: 4000,
            cpu: Duration::from_millis(10),
            ..Medians::default()
        };
        let deflate = Medians {
            up: 400,
            down: 500,
            cpu: Duration::from_millis(12),
            ..Medians::default()
        };
        assert_eq!(
            deflate_summary(&deflate, &plain),
            "permessage-deflate: 60.0% fewer bytes up, 87.5% fewer bytes down, CPU +2 ms per \
             rollout (both ends)"
        );
    }

    #[test]
    fn the_server_cost_is_named_in_the_header() {
        assert_eq!(server_cost_label(0.0, 0.0), "none (transport only)");
        assert_eq!(
            server_cost_label(1.0, 20.0),
            "1 ms/KiB of uncached input + 20 ms/stored lookup"
        );
        assert_eq!(millis(0.5), Duration::from_micros(500));
        assert_eq!(millis(-1.0), Duration::ZERO);
    }
}
