//! Shared helpers of the CLI's integration tests: run the built `responses-ws` binary with a
//! deadline (killed if it overruns) and read what it printed; `crash`: what the two crash
//! tests share.

#![allow(dead_code)] // Each test file uses its own subset.

pub(crate) mod crash;

use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// What a finished run printed.
#[derive(Debug)]
pub(crate) struct Output {
    /// Exit status code (`None`: killed by a signal).
    pub(crate) code: Option<i32>,
    /// Standard output.
    pub(crate) stdout: String,
    /// Standard error.
    pub(crate) stderr: String,
}

/// The binary, without `OPENAI_API_KEY` in its environment.
pub(crate) fn binary(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_responses-ws"));
    command
        .args(args)
        .env_remove("OPENAI_API_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

/// Runs the binary with `args` to its end, within `deadline`.
pub(crate) async fn run(args: &[&str], deadline: Duration) -> Output {
    let child = binary(args).spawn().expect("the binary starts");
    let output = tokio::time::timeout(deadline, child.wait_with_output())
        .await
        .unwrap_or_else(|_| {
            panic!(
                "`responses-ws {}` took longer than {deadline:?}",
                args.join(" ")
            )
        })
        .expect("the binary runs");
    Output {
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Asserts that stderr is exactly one line, starting with `error: `, and returns it.
pub(crate) fn one_error_line(output: &Output) -> &str {
    let lines: Vec<&str> = output.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "stderr: {:?}", output.stderr);
    assert!(
        lines[0].starts_with("error: "),
        "stderr: {:?}",
        output.stderr
    );
    assert!(!output.stderr.contains("panicked"), "{}", output.stderr);
    lines[0]
}
