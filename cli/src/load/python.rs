//! Client (c) of `load`: the official OpenAI Python client (`AsyncOpenAI().responses.connect()`,
//! one socket per agent under one asyncio loop), as `cli/load/openai_agents.py` run by the
//! interop venv's python (`tests/interop/install.sh` installs `openai[realtime]` there). The
//! script is fed on stdin, reports progress lines while it runs and one JSON line at the end,
//! measured inside Python (its own `getrusage`, latencies in µs).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde::Deserialize;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use super::meter::Counter;
use super::summary::Measured;
use super::workload::Plan;
use crate::error::CliError;

/// The script.
const SCRIPT: &str = include_str!("../../load/openai_agents.py");

/// The interop venv's python, where `tests/interop/install.sh` puts it.
pub(crate) fn default_python() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.peers/openai-venv/bin/python")
}

/// The script's final line for a load run.
#[derive(Debug, Deserialize)]
struct LoadLine {
    latencies_us: Vec<u64>,
    failed: u64,
    wall_s: f64,
    cpu_s: f64,
    max_rss_kib: u64,
    connections_opened: u64,
    retries: u64,
    errors: Vec<String>,
}

/// The script's final line for `--idle`.
#[derive(Debug, Deserialize)]
struct IdleLine {
    rss_before_bytes: u64,
    rss_after_bytes: u64,
}

/// The HTTP base URL the SDK takes for the mock's WebSocket `url`
/// (`ws://host:port/v1/responses` → `http://host:port/v1`).
pub(crate) fn http_base(url: &str) -> Result<String, CliError> {
    let bad = |why: &str| CliError::BadUrl {
        url: url.into(),
        error: why.into(),
    };
    let rest = url
        .strip_prefix("ws://")
        .map(|rest| format!("http://{rest}"))
        .or_else(|| {
            url.strip_prefix("wss://")
                .map(|rest| format!("https://{rest}"))
        })
        .ok_or_else(|| bad("not a ws:// or wss:// URL"))?;
    rest.strip_suffix("/responses")
        .map(str::to_owned)
        .ok_or_else(|| bad("the path must end in /responses for the Python client"))
}

/// Runs `plan` with the Python client against `url`.
pub(crate) async fn run(
    python: &Path,
    url: &str,
    deflate: bool,
    plan: Plan,
    counter: Counter,
) -> Result<Measured, CliError> {
    let mut args = vec![
        "--base".to_owned(),
        http_base(url)?,
        "--agents".into(),
        plan.agents().to_string(),
    ];
    args.extend(deflate.then(|| "--deflate".to_owned()));
    match plan {
        Plan::Burst { turns, .. } => args.extend(["--turns".into(), turns.to_string()]),
        Plan::Sustained { rate, duration, .. } => args.extend([
            "--rate".into(),
            rate.to_string(),
            "--duration".into(),
            duration.as_secs_f64().to_string(),
        ]),
    }
    let line = run_script(python, &args, |done| counter.set_done(done)).await?;
    let line: LoadLine = serde_json::from_str(&line)
        .map_err(|error| CliError::Bench(format!("the Python client's summary: {error}")))?;
    Ok(Measured {
        latencies: line
            .latencies_us
            .into_iter()
            .map(Duration::from_micros)
            .collect(),
        failed: line.failed,
        errors: line.errors,
        wall: Duration::try_from_secs_f64(line.wall_s).unwrap_or_default(),
        cpu: Duration::try_from_secs_f64(line.cpu_s).unwrap_or_default(),
        peak_rss: line.max_rss_kib.saturating_mul(1024),
        connections_opened: line.connections_opened,
        retries: line.retries,
    })
}

/// Opens `count` connections with the Python client, one turn on each, and leaves them idle;
/// the resident set before and after.
pub(crate) async fn idle_memory(
    python: &Path,
    url: &str,
    deflate: bool,
    count: u64,
) -> Result<(u64, u64), CliError> {
    let mut args = vec![
        "--base".to_owned(),
        http_base(url)?,
        "--idle".into(),
        count.to_string(),
    ];
    args.extend(deflate.then(|| "--deflate".to_owned()));
    let line = run_script(python, &args, |_| {}).await?;
    let line: IdleLine = serde_json::from_str(&line)
        .map_err(|error| CliError::Bench(format!("the Python client's summary: {error}")))?;
    Ok((line.rss_before_bytes, line.rss_after_bytes))
}

/// Runs the script with `args`, passing each `progress N` to `progress`; returns its last line
/// (the JSON summary).
async fn run_script(
    python: &Path,
    args: &[String],
    progress: impl Fn(u64),
) -> Result<String, CliError> {
    let mut child = Command::new(python)
        .arg("-")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| {
            CliError::io(
                format!(
                    "starting {} (the openai venv: run tests/interop/install.sh, or pass --python)",
                    python.display()
                ),
                error,
            )
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(SCRIPT.as_bytes())
            .await
            .map_err(|error| CliError::io("writing the Python script", error))?;
    }
    let stderr = child.stderr.take().map(|stderr| {
        tokio::spawn(async move {
            let mut text = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                if text.len() < 4096 {
                    text.push_str(&line);
                    text.push('\n');
                }
            }
            text
        })
    });
    let mut last = String::new();
    if let Some(stdout) = child.stdout.take() {
        let mut lines = BufReader::new(stdout).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            match line.strip_prefix("progress ") {
                Some(done) => progress(done.trim().parse().unwrap_or(0)),
                None => last = line,
            }
        }
    }
    let status = child
        .wait()
        .await
        .map_err(|error| CliError::io("waiting for the Python client", error))?;
    let stderr = match stderr {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    match status.success() && last.starts_with('{') {
        true => Ok(last),
        false => Err(CliError::Bench(format!(
            "the Python client failed ({status}): {}",
            stderr.trim()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sdk_base_comes_from_the_websocket_url() {
        assert_eq!(
            http_base("ws://127.0.0.1:9/v1/responses").unwrap(),
            "http://127.0.0.1:9/v1"
        );
        assert_eq!(
            http_base("wss://api.example/v1/responses").unwrap(),
            "https://api.example/v1"
        );
        assert!(http_base("http://127.0.0.1:9/v1/responses").is_err());
        assert!(http_base("ws://127.0.0.1:9/v1/chat").is_err());
    }
}
