//! Client memory per idle connection: the resident set before and after a client opens M
//! connections, runs one turn on each and leaves them idle; both read once the allocator has
//! returned the free memory it caches (`malloc_trim`), so that the figure is what the idle
//! connections hold, not what the turns' peak left in the allocator. The pool opens connections only for turns, so its
//! figure is the difference between the same M one-turn conversations run on one connection
//! and spread over as many as the pool opens, divided by the extra connections. Our clients are measured in a fresh process (this
//! executable with `load --idle-probe`), so that memory freed by an earlier run in the same
//! process cannot hide the growth; the Python client runs in its own process anyway.

use std::path::Path;
use std::process::Stdio;

use tokio::process::Command;

use super::summary::IdleMemory;
use super::{connections, pool, python};
use crate::cli::{LoadArgs, LoadClient};
use crate::error::CliError;

/// Measures `client` against the server at `url`.
pub(crate) async fn measure(
    client: LoadClient,
    url: &str,
    args: &LoadArgs,
    python: &Path,
) -> Result<IdleMemory, CliError> {
    let count = u64::from(args.idle_connections);
    let (before, after, opened) = match client {
        LoadClient::OpenaiPython => {
            let (before, after) = python::idle_memory(python, url, !args.no_deflate, count).await?;
            (before, after, count)
        }
        LoadClient::Connections => in_fresh_process(client, url, args, count, 1).await?,
        LoadClient::Pool => {
            // The same conversations on one connection, then on as many as the pool opens.
            let (_, one, opened_one) = in_fresh_process(client, url, args, count, 1).await?;
            let many = usize::try_from(count).unwrap_or(usize::MAX);
            let (_, spread, opened) = in_fresh_process(client, url, args, count, many).await?;
            (one, spread, opened.saturating_sub(opened_one))
        }
    };
    Ok(IdleMemory::new(client, opened, before, after))
}

/// Runs `load --idle-probe` for `client` and reads its line.
async fn in_fresh_process(
    client: LoadClient,
    url: &str,
    args: &LoadArgs,
    count: u64,
    max_connections: usize,
) -> Result<(u64, u64, u64), CliError> {
    let exe =
        std::env::current_exe().map_err(|error| CliError::io("finding this executable", error))?;
    let output = Command::new(exe)
        .args([
            "load",
            "--idle-probe",
            "--client",
            client.label(),
            "--url",
            url,
        ])
        .args(["--idle-connections", &count.to_string()])
        .args(["--max-connections", &max_connections.to_string()])
        .args(args.no_deflate.then_some("--no-deflate"))
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .map_err(|error| CliError::io("running the idle-memory probe", error))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let parsed = serde_json::from_str::<(u64, u64, u64)>(stdout.trim());
    match (output.status.success(), parsed) {
        (true, Ok(figures)) => Ok(figures),
        _ => Err(CliError::Bench(format!(
            "the idle-memory probe of {} failed ({}): {}",
            client.label(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ))),
    }
}

/// The probe itself (`load --idle-probe`): measures the first of `clients` against `--url`
/// (the pool within `--max-connections`) and prints `[before, after, connections]`.
pub(crate) async fn probe(args: &LoadArgs, clients: &[LoadClient]) -> Result<(), CliError> {
    let url = args.url.as_deref().unwrap_or_default();
    let count = u64::from(args.idle_connections);
    let deflate = !args.no_deflate;
    let figures = match clients.first() {
        Some(LoadClient::Pool) => {
            pool::idle_memory(url, deflate, count, args.max_connections as usize).await?
        }
        Some(LoadClient::Connections) => {
            let (before, after) = connections::idle_memory(url, deflate, count).await?;
            (before, after, count)
        }
        _ => {
            return Err(CliError::Usage(
                "--idle-probe measures pool or connections".into(),
            ))
        }
    };
    println!("{}", serde_json::json!([figures.0, figures.1, figures.2]));
    Ok(())
}
