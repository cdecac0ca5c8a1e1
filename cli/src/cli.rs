//! The command line, as clap derive types: `demo` (the default), `bench`, `mock`, `run` and
//! `load`.
//! Only parsing lives here (and what the retry flags mean to a `Config`); each command's
//! module does the work.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use responses_ws_tokio::{Config, RetryPolicy};
use serde::Serialize;

/// The model the live demo and `run` ask for unless told otherwise.
pub(crate) const DEFAULT_MODEL: &str = "gpt-5.5";

/// responses-ws: the OpenAI Responses API over one WebSocket.
#[derive(Debug, Parser)]
#[command(name = "responses-ws", version, about, long_about = None)]
pub(crate) struct Cli {
    /// What to do (default: `demo`).
    #[command(subcommand)]
    pub(crate) command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// An agent that makes ~20 tool calls, streamed live over WebSocket mode (embedded mock
    /// server by default; `--live` for api.openai.com).
    Demo(DemoArgs),
    /// WebSocket mode vs HTTP+SSE (full context, previous_response_id) through a delay proxy.
    Bench(BenchArgs),
    /// Serve the scripted mock (WebSocket and HTTP+SSE on one port) until Ctrl-C.
    Mock(MockArgs),
    /// Run an agent against any WebSocket endpoint, answering get_weather and add calls.
    Run(RunArgs),
    /// Many agents at once against the mock in another process: turns/s, latency, CPU and
    /// memory, for our connections and the official Python client.
    Load(LoadArgs),
}

/// `demo`.
#[derive(Debug, Clone, Args)]
pub(crate) struct DemoArgs {
    /// Talk to wss://api.openai.com/v1/responses (needs OPENAI_API_KEY) with a calculator and
    /// a read-only file lister of `--dir`.
    #[arg(long)]
    pub(crate) live: bool,
    /// Model for `--live`.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub(crate) model: String,
    /// The directory the live demo's file lister may list (never anything outside it).
    #[arg(long, default_value = ".")]
    pub(crate) dir: PathBuf,
    /// Mock model pace: milliseconds before each streamed delta.
    #[arg(long, default_value_t = 12, value_name = "MS")]
    pub(crate) pace_ms: u64,
    /// Retrying and timeouts (for the mock and `--live` alike).
    #[command(flatten)]
    pub(crate) retry: RetryArgs,
}

/// How hard a client tries before it gives up: `run` and `demo`.
#[derive(Debug, Clone, Copy, Args)]
pub(crate) struct RetryArgs {
    /// Retries after a failed connection or request before giving up (0: fail at once).
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub(crate) max_retries: u32,
    /// Seconds for TCP, TLS and the WebSocket upgrade together.
    #[arg(long, default_value_t = 15.0, value_name = "SECS", value_parser = positive_secs)]
    pub(crate) connect_timeout: f64,
    /// Seconds without an event for a running response before it fails and the connection
    /// is replaced (0: never).
    #[arg(long, default_value_t = 300.0, value_name = "SECS", value_parser = non_negative_secs)]
    pub(crate) idle_timeout: f64,
}

impl RetryArgs {
    /// `config` with these limits.
    pub(crate) fn configure(&self, config: Config) -> Config {
        let policy = RetryPolicy::default().with_max_attempts(self.max_retries.saturating_add(1));
        let idle = (self.idle_timeout > 0.0).then(|| Duration::from_secs_f64(self.idle_timeout));
        config
            .retry(policy)
            .connect_timeout(Duration::from_secs_f64(self.connect_timeout))
            .idle_timeout(idle)
    }
}

impl Default for RetryArgs {
    fn default() -> Self {
        RetryArgs {
            max_retries: 4,
            connect_timeout: 15.0,
            idle_timeout: 300.0,
        }
    }
}

impl Default for DemoArgs {
    fn default() -> Self {
        DemoArgs {
            live: false,
            model: DEFAULT_MODEL.into(),
            dir: PathBuf::from("."),
            pace_ms: 12,
            retry: RetryArgs::default(),
        }
    }
}

/// `bench`.
#[derive(Debug, Clone, Args)]
pub(crate) struct BenchArgs {
    /// Round-trip time the proxy adds (half each way), TCP connection setup included.
    #[arg(long, default_value_t = 50, value_name = "MS")]
    pub(crate) rtt_ms: u64,
    /// Uplink (client → server) bandwidth in kbit/s; 0 for unlimited.
    #[arg(long, default_value_t = 10_000, value_name = "KBPS")]
    pub(crate) uplink_kbps: u64,
    /// Size of each tool output in bytes.
    #[arg(long, default_value_t = 2000, value_name = "BYTES")]
    pub(crate) tool_output_bytes: usize,
    /// Tool calls in the rollout (in turns of 1 to 3 calls).
    #[arg(long, default_value_t = 20, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=500))]
    pub(crate) tool_calls: u32,
    /// Repetitions of each mode; the table shows medians.
    #[arg(long, default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub(crate) reps: u32,
    /// Mock model pace: milliseconds before each streamed delta (0: transport only).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    pub(crate) delta_delay_ms: u64,
    /// Modelled server work: milliseconds per KiB of input the server has not cached (a
    /// chained WebSocket turn's new items, an HTTP request's whole input); 0: none.
    #[arg(long, default_value_t = 0.0, value_name = "MS",
          value_parser = non_negative_ms)]
    pub(crate) server_cost_per_kib_ms: f64,
    /// Modelled server work: milliseconds to load a stored response named by
    /// previous_response_id (every HTTP previous_response_id turn; WebSocket only after a
    /// reconnect); 0: none.
    #[arg(long, default_value_t = 0.0, value_name = "MS",
          value_parser = non_negative_ms)]
    pub(crate) stored_lookup_ms: f64,
    /// Write an SVG chart of the medians to this file.
    #[arg(long, value_name = "FILE.svg")]
    pub(crate) plot: Option<PathBuf>,
}

/// `mock`.
#[derive(Debug, Clone, Args)]
pub(crate) struct MockArgs {
    /// Port to listen on (0: any free port).
    #[arg(long, default_value_t = 8080)]
    pub(crate) port: u16,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub(crate) host: IpAddr,
    /// A script (the JSON form of responses_ws_core::mock::Script); default: the demo's
    /// trip-planning agent.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) script: Option<PathBuf>,
    /// Worker threads of the server's runtime (default: one per core).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) threads: Option<u16>,
}

/// A client `load` can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum LoadClient {
    /// (a) One pool (`responses_ws_tokio::pool::Pool`) for every agent: a conversation each,
    /// multiplexed on lanes of at most `--max-connections` connections.
    Pool,
    /// (b) One of our tokio `Connection`s per agent.
    Connections,
    /// (c) The official OpenAI Python client's `responses.connect()`, one socket per agent
    /// under asyncio.
    OpenaiPython,
}

impl LoadClient {
    /// Every client, in the order a comparison runs them.
    pub(crate) const ALL: [LoadClient; 3] = [
        LoadClient::Pool,
        LoadClient::Connections,
        LoadClient::OpenaiPython,
    ];

    /// Its name in tables.
    pub(crate) fn label(self) -> &'static str {
        match self {
            LoadClient::Pool => "pool",
            LoadClient::Connections => "connections",
            LoadClient::OpenaiPython => "openai-python",
        }
    }
}

/// `load`.
#[derive(Debug, Clone, Args)]
pub(crate) struct LoadArgs {
    /// Agents (conversations), each with its own task.
    #[arg(long, default_value_t = 100, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) agents: u32,
    /// Turns per agent in a burst.
    #[arg(long, default_value_t = 10, value_name = "K",
          value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) turns: u32,
    /// Every agent at once, its turns back to back (the default without --rate).
    #[arg(long, conflicts_with_all = ["rate", "duration"])]
    pub(crate) burst: bool,
    /// Sustained load: start this many turns per second, round-robin over the agents (open
    /// loop: a turn that starts late counts its wait).
    #[arg(long, value_name = "TURNS_PER_S", requires = "duration", value_parser = positive_rate)]
    pub(crate) rate: Option<f64>,
    /// Seconds of sustained load.
    #[arg(long, value_name = "SECS", requires = "rate", value_parser = positive_secs)]
    pub(crate) duration: Option<f64>,
    /// The clients to run, in order (comma-separated).
    #[arg(
        long = "client",
        value_enum,
        value_delimiter = ',',
        default_value = "pool",
        conflicts_with = "compare"
    )]
    pub(crate) client: Vec<LoadClient>,
    /// Run every client, one after the other, and print their ratios.
    #[arg(long)]
    pub(crate) compare: bool,
    /// Load this server (ws://…/responses) instead of starting a mock process per client. A
    /// mock must play the load's script (see --save-script), or turns will not match.
    #[arg(long)]
    pub(crate) url: Option<String>,
    /// Write the mock script of this load (one tool call then a short answer per turn) to
    /// FILE and exit, for `responses-ws mock --script FILE` and `--url`.
    #[arg(long, value_name = "FILE.json")]
    pub(crate) save_script: Option<PathBuf>,
    /// The pool's most connections at once.
    #[arg(long, default_value_t = 320, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub(crate) max_connections: u32,
    /// The pool's shortest time between two dials, in milliseconds.
    #[arg(long, default_value_t = 5.0, value_name = "MS", value_parser = non_negative_ms)]
    pub(crate) dial_interval_ms: f64,
    /// Worker threads of each mock process (`responses-ws mock --threads`).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..=256))]
    pub(crate) mock_threads: Option<u16>,
    /// Idle connections each client opens to measure its memory per idle connection (0: skip).
    #[arg(long, default_value_t = 500, value_name = "M",
          value_parser = clap::value_parser!(u32).range(0..=10_000))]
    pub(crate) idle_connections: u32,
    /// Offer no permessage-deflate from any client (ours and the Python client). Without it
    /// every client offers it (the mock accepts): our library's default, and the Python
    /// client's with `compression="deflate"`.
    #[arg(long)]
    pub(crate) no_deflate: bool,
    /// The python with `openai[realtime]` (default: the interop venv, tests/.peers/openai-venv).
    #[arg(long, env = "RESPONSES_WS_PYTHON", value_name = "PATH")]
    pub(crate) python: Option<PathBuf>,
    /// Internal: measure memory per idle connection of the one client given, against
    /// `--url`, in this fresh process, and print `[before, after, connections]`.
    #[arg(long, hide = true, requires = "url")]
    pub(crate) idle_probe: bool,
    /// Print the report as JSON (no progress bar).
    #[arg(long)]
    pub(crate) json: bool,
}

impl LoadArgs {
    /// The clients to run, in order, each once.
    pub(crate) fn clients(&self) -> Vec<LoadClient> {
        let asked: &[LoadClient] = match self.compare {
            true => &LoadClient::ALL,
            false => &self.client,
        };
        let mut clients: Vec<LoadClient> = Vec::new();
        for client in asked {
            if !clients.contains(client) {
                clients.push(*client);
            }
        }
        clients
    }
}

/// `run --transport`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TransportArg {
    /// WebSocket mode.
    Websocket,
    /// HTTP + SSE.
    Http,
}

impl From<TransportArg> for responses_ws_tokio::Transport {
    fn from(transport: TransportArg) -> Self {
        match transport {
            TransportArg::Websocket => responses_ws_tokio::Transport::WebSocket,
            TransportArg::Http => responses_ws_tokio::Transport::Http,
        }
    }
}

/// `run`.
#[derive(Debug, Clone, Args)]
pub(crate) struct RunArgs {
    /// The endpoint, ws:// or wss://, e.g. wss://api.openai.com/v1/responses.
    #[arg(long)]
    pub(crate) url: String,
    /// Bearer token for the upgrade (default: $OPENAI_API_KEY).
    #[arg(long, env = "OPENAI_API_KEY", hide_env_values = true)]
    pub(crate) api_key: Option<String>,
    /// Model to ask for.
    #[arg(long, default_value = DEFAULT_MODEL)]
    pub(crate) model: String,
    /// Lane (`stream_id`); the default lane when absent.
    #[arg(long, value_name = "NAME")]
    pub(crate) lane: Option<String>,
    /// Print every server event as one JSON line, then one summary line.
    #[arg(long)]
    pub(crate) json: bool,
    /// Give up after this many responses.
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub(crate) max_turns: u32,
    /// The transport: WebSocket mode (moving to HTTP + SSE if the upgrade is refused with
    /// 426), or HTTP + SSE from the start (POST to the URL's host and path; https for wss://).
    #[arg(long, value_enum, default_value_t = TransportArg::Websocket)]
    pub(crate) transport: TransportArg,
    /// Retrying and timeouts.
    #[command(flatten)]
    pub(crate) retry: RetryArgs,
    /// Make the run a durable conversation in this store (the path of a SQLite file,
    /// created if missing, or a Redis URL such as redis://127.0.0.1:6379/0): every input, response and tool output is written before it is sent, and a
    /// run killed at any point continues with --resume. Prints the final answer (no live
    /// text).
    #[arg(long, value_name = "PATH|URL")]
    pub(crate) store: Option<String>,
    /// The durable conversation's id (default: a new one, printed on stderr); continued if
    /// the store has it.
    #[arg(long, value_name = "ID", requires = "store", conflicts_with = "resume")]
    pub(crate) conversation: Option<String>,
    /// Continue the durable conversation ID from --store: tools whose outputs were stored
    /// do not run again, the others run again (at least once), and the model gets the
    /// whole conversation.
    #[arg(long, value_name = "ID", requires = "store")]
    pub(crate) resume: Option<String>,
    /// The worker name in the store's leases. A run with the same name takes a
    /// conversation over at once (the older one is fenced off); with another name it waits
    /// for the lease to expire.
    #[arg(long, value_name = "NAME", default_value = "responses-ws-cli")]
    pub(crate) worker: String,
    /// How long the worker's leases last unless renewed, in milliseconds: a worker that
    /// died (or stalls) holds its conversations this long.
    #[arg(long, value_name = "MS", default_value_t = 30_000, requires = "store")]
    pub(crate) lease_ttl: u64,
    /// Run N durable conversations at once on one pool of connections
    /// (`responses_ws_tokio::pool::Pool`) sharing the store: ID-0 … ID-(N-1), where ID is
    /// --conversation or --resume (each continued if the store has it). One summary line
    /// per conversation, then the totals.
    #[arg(long, value_name = "N", requires = "store", value_parser = clap::value_parser!(u32).range(1..=10_000))]
    pub(crate) agents: Option<u32>,
    /// Append one JSON line per tool run to this file (conversation, call_id, name, arguments, output,
    /// pid), before the output is handed back.
    #[arg(long, value_name = "PATH", requires = "store")]
    pub(crate) tool_log: Option<std::path::PathBuf>,
    /// The user's prompt (several words are joined with spaces); optional with --resume.
    #[arg(required_unless_present = "resume", value_name = "PROMPT")]
    pub(crate) prompt: Vec<String>,
}

/// Parses a non-negative, finite number of milliseconds (at most a day).
fn non_negative_ms(text: &str) -> Result<f64, String> {
    const DAY_MS: f64 = 86_400_000.0;
    let ms: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of milliseconds"))?;
    match ms.is_finite() && (0.0..=DAY_MS).contains(&ms) {
        true => Ok(ms),
        false => Err(format!(
            "`{text}` must be between 0 and {DAY_MS} milliseconds"
        )),
    }
}

/// Parses a non-negative, finite number of seconds (at most a day).
fn non_negative_secs(text: &str) -> Result<f64, String> {
    const DAY_SECS: f64 = 86_400.0;
    let secs: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of seconds"))?;
    match secs.is_finite() && (0.0..=DAY_SECS).contains(&secs) {
        true => Ok(secs),
        false => Err(format!("`{text}` must be between 0 and {DAY_SECS} seconds")),
    }
}

/// Parses a rate of turns per second: positive, finite, at most a million.
fn positive_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a number of turns per second"))?;
    match rate.is_finite() && rate > 0.0 && rate <= 1e6 {
        true => Ok(rate),
        false => Err(format!("`{text}` must be more than 0 and at most 1000000")),
    }
}

/// Parses a positive, finite number of seconds (at most a day).
fn positive_secs(text: &str) -> Result<f64, String> {
    match non_negative_secs(text)? {
        0.0 => Err("must be more than 0 seconds".into()),
        secs => Ok(secs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_are_bounded_and_a_connect_timeout_is_positive() {
        assert_eq!(non_negative_secs("0"), Ok(0.0));
        assert_eq!(non_negative_secs("2.5"), Ok(2.5));
        assert!(non_negative_secs("86401").is_err());
        assert!(non_negative_secs("-1").is_err());
        assert!(positive_secs("0").is_err());
        assert_eq!(positive_secs("0.2"), Ok(0.2));
        assert_eq!(positive_rate("1000"), Ok(1000.0));
        for bad in ["0", "-3", "NaN", "inf", "2e6", "many"] {
            assert!(positive_rate(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn load_runs_each_client_once_in_order() {
        let parse = |args: &[&str]| {
            let cli = Cli::try_parse_from([&["responses-ws", "load"], args].concat()).unwrap();
            match cli.command {
                Some(Command::Load(args)) => args,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(parse(&[]).clients(), [LoadClient::Pool]);
        assert_eq!(
            parse(&["--client", "openai-python,connections,openai-python"]).clients(),
            [LoadClient::OpenaiPython, LoadClient::Connections]
        );
        assert_eq!(parse(&["--compare"]).clients(), LoadClient::ALL);
        let sustained = parse(&["--rate", "100", "--duration", "2"]);
        assert_eq!(
            (sustained.rate, sustained.duration),
            (Some(100.0), Some(2.0))
        );
        for bad in [
            &["--rate", "5"][..],
            &["--burst", "--rate", "5", "--duration", "1"],
        ] {
            assert!(Cli::try_parse_from([&["responses-ws", "load"], bad].concat()).is_err());
        }
    }

    #[test]
    fn milliseconds_are_non_negative_finite_numbers() {
        assert_eq!(non_negative_ms("0"), Ok(0.0));
        assert_eq!(non_negative_ms(" 1.5 "), Ok(1.5));
        for bad in ["-1", "NaN", "inf", "1e300", "fast", ""] {
            assert!(non_negative_ms(bad).is_err(), "{bad}");
        }
    }
}
