//! The mock server of a `load` run in its own process: this executable's `mock` subcommand
//! with the workload's script, started as a child, its URL read from its first lines, and
//! stopped by its PID. Once reaped, the OS tells how much CPU it used (`getrusage` of the
//! children), which is how `load` shows whether the mock limited a figure.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use responses_ws_core::mock::Script;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::usage::Usage;
use crate::error::CliError;

/// How long the child may take to print its URL.
const STARTUP: Duration = Duration::from_secs(20);

/// A running mock process.
#[derive(Debug)]
pub(crate) struct MockProcess {
    child: Child,
    url: String,
    threads: Option<usize>,
}

impl MockProcess {
    /// Starts `responses-ws mock` on a free loopback port with `script` and, when given,
    /// `threads` runtime worker threads.
    pub(crate) async fn start(script: &Script, threads: Option<usize>) -> Result<Self, CliError> {
        let exe = std::env::current_exe()
            .map_err(|error| CliError::io("finding this executable", error))?;
        let file = ScriptFile::write(script)?;
        let mut command = Command::new(exe);
        command
            .args(["mock", "--port", "0", "--script"])
            .arg(&file.0)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(threads) = threads {
            command.args(["--threads", &threads.to_string()]);
        }
        let mut child = command
            .spawn()
            .map_err(|error| CliError::io("starting the mock server process", error))?;
        let stdout = child.stdout.take();
        let url = match stdout {
            Some(stdout) => tokio::time::timeout(STARTUP, read_url(stdout)).await,
            None => Ok(None),
        };
        match url {
            Ok(Some(url)) => Ok(MockProcess {
                child,
                url,
                threads,
            }),
            _ => {
                let _ = child.start_kill();
                let _ = child.wait().await;
                Err(CliError::Bench(
                    "the mock server process did not print its URL".into(),
                ))
            }
        }
    }

    /// Its WebSocket URL.
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// Its runtime's worker threads, when set.
    pub(crate) fn threads(&self) -> Option<usize> {
        self.threads
    }

    /// Kills it (by PID) and waits for it; returns the CPU time it used in its whole life.
    pub(crate) async fn stop(mut self) -> Result<Duration, CliError> {
        let before = Usage::reaped_children();
        self.child
            .start_kill()
            .map_err(|error| CliError::io("stopping the mock server process", error))?;
        self.child
            .wait()
            .await
            .map_err(|error| CliError::io("waiting for the mock server process", error))?;
        Ok(Usage::reaped_children().cpu_since(&before))
    }
}

/// Reads the child's stdout until the `WebSocket:` line and returns its URL; the rest of the
/// output is drained in the background so the child never blocks on a full pipe.
async fn read_url(stdout: tokio::process::ChildStdout) -> Option<String> {
    let mut lines = BufReader::new(stdout).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        if let Some(url) = line.trim().strip_prefix("WebSocket:") {
            let url = url.trim().to_owned();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Some(url);
        }
    }
    None
}

/// The script as a temporary JSON file, removed when dropped.
struct ScriptFile(PathBuf);

impl ScriptFile {
    fn write(script: &Script) -> Result<Self, CliError> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "responses-ws-load-{}-{}.json",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, script.to_json())
            .map_err(|error| CliError::io(format!("writing {}", path.display()), error))?;
        Ok(ScriptFile(path))
    }
}

impl Drop for ScriptFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
