//! What the user sees while an agent runs: [`LivePrinter`] streams text and tool calls to the
//! terminal as they arrive (one line per tool call: name, arguments as they stream, then the
//! local tool's result); [`JsonPrinter`] writes every server event as one JSON line.
//! Write errors (a closed pipe) are ignored: printing never stops the agent.

use std::io::Write;

use responses_ws_core::client::ClientEvent;
use responses_ws_core::session::{FullContextReason, RequestError, SessionEvent, ToolCall};
use responses_ws_core::wire::{EventKind, Item, ServerEvent};

use crate::agent::Observer;

/// The longest tool result shown, in characters.
const MAX_RESULT_CHARS: usize = 110;

/// Streams an agent's output as readable text.
#[derive(Debug)]
pub(crate) struct LivePrinter<W: Write> {
    out: W,
    /// Whether the cursor is at the start of a line.
    at_line_start: bool,
    turn: u32,
}

impl<W: Write> LivePrinter<W> {
    /// A printer writing to `out`.
    pub(crate) fn new(out: W) -> Self {
        LivePrinter {
            out,
            at_line_start: true,
            turn: 0,
        }
    }

    fn write(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
        self.at_line_start = text.ends_with('\n');
    }

    /// Ends the current line, if one is open.
    pub(crate) fn end_line(&mut self) {
        if !self.at_line_start {
            self.write("\n");
        }
    }

    fn line(&mut self, text: &str) {
        self.end_line();
        self.write(text);
        self.write("\n");
    }

    fn stream(&mut self, event: &ServerEvent<'_>) {
        match &event.kind {
            EventKind::OutputItemAdded(added) => match &added.item {
                Item::Reasoning(_) => self.line("  · reasoning"),
                Item::FunctionCall(call) => {
                    self.end_line();
                    self.write(&format!("  ▸ {} ", call.name));
                }
                Item::Message(_) => {
                    self.end_line();
                    self.write("  ");
                }
                _ => {}
            },
            EventKind::FunctionCallArgumentsDelta(delta) => self.write(&delta.delta),
            EventKind::OutputTextDelta(delta) => {
                // Keep the indent of multi-line answers.
                let text = delta.delta.replace('\n', "\n  ");
                self.write(&text);
            }
            EventKind::OutputItemDone(done) if matches!(done.item, Item::Message(_)) => {
                self.end_line()
            }
            _ => {}
        }
    }
}

impl<W: Write> Observer for LivePrinter<W> {
    fn event(&mut self, event: &ClientEvent) {
        match event {
            ClientEvent::Connected { .. } => self.line("(reconnected)"),
            ClientEvent::Disconnected { closed } => {
                let how = match &closed.error {
                    Some(error) => error.to_string(),
                    None => format!("close code {}", closed.code.0),
                };
                self.line(&format!("(connection closed: {how})"));
            }
            ClientEvent::Session(event) => match event {
                SessionEvent::Started { response_id, .. } => {
                    self.turn += 1;
                    self.line(&format!("turn {} · {response_id}", self.turn));
                }
                SessionEvent::FullContext { reason, .. } => {
                    let why = match reason {
                        FullContextReason::NewConnection => "a new connection".to_owned(),
                        FullContextReason::Evicted => "the server evicted the last response".into(),
                        FullContextReason::PreviousResponseNotFound => {
                            "previous_response_not_found".into()
                        }
                        FullContextReason::SettingsChanged => "the settings changed".into(),
                        other => format!("{other:?}"),
                    };
                    self.line(&format!("(sending the full context: {why})"))
                }
                SessionEvent::Stream { event, .. } => self.stream(&event.decoded()),
                SessionEvent::Failed { error, .. } => self.line(&format!("(failed: {error})")),
                _ => {}
            },
            _ => {}
        }
    }

    fn tool_result(&mut self, call: &ToolCall, output: &str) {
        if self.at_line_start {
            // The call was not streamed (e.g. answered after a reconnect): name it.
            self.write(&format!("  ▸ {} {}", call.name, call.arguments));
        }
        let mut shown: String = output.chars().take(MAX_RESULT_CHARS).collect();
        if shown.len() < output.len() {
            shown.push('…');
        }
        self.write(&format!(" → {shown}\n"));
    }
}

/// Writes every server event as one JSON line: the event as the server sent it (its
/// envelope included), errors as `error` events.
#[derive(Debug)]
pub(crate) struct JsonPrinter<W: Write> {
    out: W,
}

impl<W: Write> JsonPrinter<W> {
    /// A printer writing to `out`.
    pub(crate) fn new(out: W) -> Self {
        JsonPrinter { out }
    }

    /// Writes one line.
    pub(crate) fn line(&mut self, json: &str) {
        let _ = writeln!(self.out, "{json}");
        let _ = self.out.flush();
    }
}

impl<W: Write> Observer for JsonPrinter<W> {
    fn event(&mut self, event: &ClientEvent) {
        let ClientEvent::Session(event) = event else {
            return;
        };
        match event {
            SessionEvent::Stream { event, .. } => self.line(event.text()),
            SessionEvent::Unrouted { event } => self.line(&event.to_json()),
            SessionEvent::Failed {
                lane,
                error: RequestError::Api(error),
                ..
            } => {
                let event = ServerEvent {
                    stream_id: lane.stream_id().map(|name| name.to_owned().into()),
                    sequence_number: None,
                    kind: EventKind::Error(error.clone()),
                };
                self.line(&event.to_json());
            }
            _ => {}
        }
    }

    fn tool_result(&mut self, _: &ToolCall, _: &str) {}
}
