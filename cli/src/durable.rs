//! `responses-ws run --store PATH`: the run as a durable conversation. Its records are
//! written to the store before anything they describe is sent, so a run killed at any point
//! continues in another process with `--resume ID`: tools whose outputs were stored do not
//! run again, the others run again (at least once), and the model's next request goes out
//! with the whole conversation.
//!
//! The store is a SQLite file, or a Redis server for workers on several machines
//! ([`responses_ws_store::open`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use responses_ws_core::session::ToolCall;
use responses_ws_core::wire::{ResponseCreate, ToolOutput};
use responses_ws_tokio::{Connection, SharedStore, Store};
use serde::Serialize;

use crate::agent::AgentError;
use crate::error::CliError;
use crate::tools::Toolbox;

/// Opens the store named by `--store`: a Redis URL (`redis://host:6379/0`) or the path of a
/// SQLite file (created if missing).
pub(crate) fn open_store(spec: &str) -> Result<SharedStore, CliError> {
    responses_ws_store::open(spec).map_err(|error| CliError::BadInput {
        path: PathBuf::from(spec),
        why: error.to_string(),
    })
}

/// Which conversation a run is: `--resume ID` (must be in the store), `--conversation ID`
/// (new, or continued if stored), or a new id.
pub(crate) fn conversation_id(
    store: &dyn Store,
    spec: &str,
    resume: Option<&str>,
    conversation: Option<&str>,
) -> Result<String, CliError> {
    if let Some(id) = resume {
        let stored = store.read(id).map_err(|error| CliError::BadInput {
            path: PathBuf::from(spec),
            why: error.to_string(),
        })?;
        if stored.is_empty() {
            return Err(CliError::Usage(format!(
                "--resume {id}: the store {spec} has no conversation {id:?}"
            )));
        }
        return Ok(id.into());
    }
    if let Some(id) = conversation {
        return Ok(id.into());
    }
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    Ok(format!("run-{now}-{}", std::process::id()))
}

/// The last line of `--json` output of a durable run.
#[derive(Debug, Serialize)]
struct SummaryLine<'a> {
    summary: Summary<'a>,
}

#[derive(Debug, Serialize)]
struct Summary<'a> {
    final_text: &'a str,
    conversation: &'a str,
    tool_runs: u32,
}

/// Runs `request` as the durable conversation `id` to its final answer and prints it.
pub(crate) async fn run(
    conn: &mut Connection,
    id: &str,
    request: ResponseCreate,
    tools: &mut dyn Toolbox,
    mut log: Option<ToolLog>,
    json: bool,
) -> Result<(), CliError> {
    let mut runs = 0u32;
    let handler = |call: ToolCall| {
        let output = tools.run(&call);
        runs += 1;
        if let Some(log) = &mut log {
            log.append(id, &call, &output);
        }
        std::future::ready(ToolOutput::Text(output))
    };
    let response = conn
        .run_durable(id, request, handler)
        .await
        .map_err(|error| CliError::Agent(AgentError::Adapter(error)))?;
    let final_text = response.all_output_text();
    let mut out = std::io::stdout().lock();
    let line = if json {
        let summary = SummaryLine {
            summary: Summary {
                final_text: &final_text,
                conversation: id,
                tool_runs: runs,
            },
        };
        serde_json::to_string(&summary).unwrap_or_default()
    } else {
        format!("{final_text}\n\nconversation {id}: {runs} tool runs")
    };
    writeln!(out, "{line}").map_err(|error| CliError::io("writing the answer", error))
}

/// `--tool-log PATH`: one JSON line per tool run, appended (and flushed) before the output
/// goes back to the session: what ran (conversation, call), even in a process that was
/// killed afterwards.
#[derive(Debug)]
pub(crate) struct ToolLog {
    file: File,
    path: PathBuf,
}

#[derive(Debug, Serialize)]
struct ToolRun<'a> {
    conversation: &'a str,
    call_id: &'a str,
    name: &'a str,
    arguments: &'a str,
    output: &'a str,
    pid: u32,
}

/// Whether `file` is not empty and its last byte is not a line end.
fn ends_unfinished(file: &mut File) -> std::io::Result<bool> {
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] != b'\n')
}

impl ToolLog {
    /// Opens `path` for appending (created if missing). A last line left unfinished by a
    /// process that died mid-write is ended first, so this run's lines stay whole.
    pub(crate) fn open(path: &Path) -> Result<ToolLog, CliError> {
        let bad_input = |error: std::io::Error| CliError::BadInput {
            path: path.to_owned(),
            why: error.to_string(),
        };
        let mut file = OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(path)
            .map_err(bad_input)?;
        if ends_unfinished(&mut file).map_err(bad_input)? {
            file.write_all(b"\n").map_err(bad_input)?;
        }
        Ok(ToolLog {
            file,
            path: path.to_owned(),
        })
    }

    /// Appends the run of `call`; a failed write is reported on stderr (the run goes on).
    pub(crate) fn append(&mut self, conversation: &str, call: &ToolCall, output: &str) {
        let run = ToolRun {
            conversation,
            call_id: &call.call_id,
            name: &call.name,
            arguments: &call.arguments,
            output,
            pid: std::process::id(),
        };
        let mut line = serde_json::to_string(&run).unwrap_or_default();
        line.push('\n');
        if let Err(error) = self.file.write_all(line.as_bytes()) {
            eprintln!("warning: --tool-log {}: {error}", self.path.display());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_by_a_dead_process_is_ended_before_new_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tools.jsonl");
        std::fs::write(
            &path,
            "{\"conversation\":\"a\",\"call_id\":\"c1\"}\n{\"conversa",
        )
        .unwrap();
        let call = ToolCall {
            call_id: "c2".into(),
            name: "add".into(),
            kind: responses_ws_core::session::ToolCallKind::Function,
            arguments: "{}".into(),
        };
        ToolLog::open(&path).unwrap().append("a", &call, "3");
        ToolLog::open(&path).unwrap().append("a", &call, "3");
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[1], "{\"conversa");
        for line in [lines[0], lines[2], lines[3]] {
            serde_json::from_str::<serde_json::Value>(line).unwrap();
        }
    }
}
