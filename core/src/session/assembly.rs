//! Response assembly: builds the complete [`Response`] of one request from its stream of
//! [`ServerEvent`]s, and says where the stream and the server's final word disagree.
//!
//! This module owns:
//!
//! - the **partial response** while it streams: the header from the latest lifecycle snapshot
//!   (`response.created`, `.in_progress`, `.queued`), the output items from
//!   `response.output_item.added` / `.done`, and the text that deltas add to them (message text
//!   and refusals, annotations, function call arguments, custom tool input, MCP call arguments,
//!   reasoning summaries and raw reasoning text, code interpreter code);
//! - the **end** of the response: the first terminal event (`response.completed`, `.failed`,
//!   `.incomplete`, or the lenient alias `response.done`), whose response replaces the assembled
//!   one after a comparison;
//! - the **anomalies** noticed on the way ([`Anomaly`]): sequence number gaps and regressions,
//!   events for items that were never added, `.done` values or a terminal output that disagree
//!   with what the deltas built. Anomalies are reports, never errors: assembly goes on.
//!
//! It does not route events (the caller hands it the events of one response, see
//! `session::lane`), and it keeps no event: the application sees the stream itself.
//!
//! All item state is keyed by `output_index` (and checked against `item_id`); deltas of
//! different items may interleave and items may be added out of index order.

use alloc::string::String;
use alloc::vec::Vec;
use core::{fmt, mem};

use serde_json::Value;

use crate::wire::{
    Annotation, ContentPart, ContentPartEvent, EventKind, Item, OutputItemEvent, OutputText,
    ReasoningText, Refusal, Response, ServerEvent, SummaryPart, SummaryPartEvent, TextOrList,
};

/// How many anomalies one assembly records; later ones are only counted (in
/// [`Anomaly::Truncated`]), so that a misbehaving server cannot grow the list without bound.
pub const MAX_ANOMALIES: usize = 64;

/// Builds the [`Response`] of one request from its server events.
///
/// Push every event of the response, in the order received, with [`push`](Self::push); the
/// partial response is readable at any time with [`response`](Self::response). Once a terminal
/// event arrived ([`is_finished`](Self::is_finished)), [`finish`](Self::finish) hands out the
/// final response and the anomalies.
///
/// Rules:
///
/// - **Lifecycle snapshots** before the end replace the response's fields, except `output`,
///   which is built from item events only (snapshots carry an empty output while streaming).
/// - **Terminal**: the first of `response.completed`, `.failed`, `.incomplete`, `.done` ends the
///   assembly. Its response wins: it replaces the assembled one, after each output item was
///   compared with it ([`Anomaly::TerminalMismatch`]). If its `output` is empty while items were
///   assembled (some servers omit it), the assembled items are kept
///   ([`Anomaly::TerminalOutputMissing`]): an empty output is more likely an omission than a
///   retraction, and the items (tool calls, reasoning) are needed to continue the conversation.
/// - **After the end**, `response.done` is ignored silently (it is an alias that some backends
///   send after the real terminal); other terminal and output events are ignored and reported
///   ([`Anomaly::AfterTerminal`]).
/// - **`.done` events** (text, arguments, parts, items) replace what the deltas built; when
///   deltas built a non-empty value that differs, that is an [`Anomaly::DoneMismatch`]. A `.done`
///   without deltas is normal (servers may skip them).
/// - **Neutral events** do not touch the response: `error`, steering and inject events, audio,
///   shell call events (shell items are taken whole from `output_item.added` / `.done`), and
///   event types this version does not know. Hosted-tool progress events
///   (`response.web_search_call.searching`, …) and partial images are checked against the known
///   items; the hosted-tool items themselves come from `output_item.added` / `.done`.
/// - **Sequence numbers**, when present, should grow by one per event (all events count,
///   neutral ones included, also after the end); gaps and regressions are reported. The first
///   number seen may be anything (over WebSocket the numbering scope is not documented).
///
/// ```
/// use responses_ws_core::session::{Anomaly, ResponseAssembly};
/// use responses_ws_core::wire::{Item, ServerEvent};
///
/// let mut assembly = ResponseAssembly::new();
/// for frame in [
///     r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress","output":[]}}"#,
///     r#"{"type":"response.output_item.added","sequence_number":1,"output_index":0,"item":{"type":"function_call","id":"fc_1","call_id":"call_1","name":"add","arguments":""}}"#,
///     r#"{"type":"response.function_call_arguments.delta","sequence_number":2,"item_id":"fc_1","output_index":0,"delta":"{\"a\":2,"}"#,
/// ] {
///     assembly.push(&ServerEvent::from_str(frame)?);
/// }
/// // The partial response so far.
/// let Item::FunctionCall(call) = &assembly.response().unwrap().output[0] else { panic!() };
/// assert_eq!(call.arguments, r#"{"a":2,"#);
///
/// // Sequence number 3 never arrives.
/// for frame in [
///     r#"{"type":"response.function_call_arguments.delta","sequence_number":4,"item_id":"fc_1","output_index":0,"delta":"\"b\":3}"}"#,
///     r#"{"type":"response.completed","sequence_number":5,"response":{"id":"resp_1","status":"completed","output":[{"type":"function_call","id":"fc_1","call_id":"call_1","name":"add","arguments":"{\"a\":2,\"b\":3}"}]}}"#,
/// ] {
///     assembly.push(&ServerEvent::from_str(frame)?);
/// }
/// assert!(assembly.is_finished());
/// let assembled = assembly.finish().unwrap();
/// assert_eq!(assembled.response.tool_calls().count(), 1);
/// assert_eq!(assembled.anomalies, [Anomaly::SequenceGap { expected: 3, received: 4 }]);
/// assert_eq!(assembled.anomalies[0].to_string(), "sequence gap: expected 3, received 4");
/// # Ok::<(), responses_ws_core::wire::DecodeError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct ResponseAssembly {
    /// The response so far: the header of the latest lifecycle event and the assembled output.
    ///
    /// Invariant while not finished: `response.output[k]` is the item at output index
    /// `indices[k]`.
    response: Response,
    /// The `output_index` of each item of `response.output`.
    ///
    /// Invariant: strictly ascending and as long as `response.output`, so the output is always in
    /// index order (an index that never arrived leaves no hole).
    indices: Vec<u32>,
    /// Where the response is in its life.
    stage: Stage,
    /// The highest sequence number seen.
    last_sequence: Option<u64>,
    /// What went wrong so far; at most `MAX_ANOMALIES + 1` entries (the last one `Truncated`).
    anomalies: Vec<Anomaly>,
}

/// Where an assembly is in the response's life.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum Stage {
    /// No lifecycle event yet: `response()` is `None` (item events are still assembled).
    #[default]
    Waiting,
    /// A lifecycle snapshot gave the header.
    Streaming,
    /// A terminal event ended the response; nothing changes it any more.
    Finished,
}

/// The result of a finished [`ResponseAssembly`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Assembled {
    /// The response: the terminal event's, with the assembled output when the terminal's was
    /// empty.
    pub response: Response,
    /// What went wrong while assembling it, in the order noticed.
    pub anomalies: Vec<Anomaly>,
}

/// Something in a response's stream that is not as the protocol says. Reported, never fatal:
/// assembly goes on, and the server's final response wins.
///
/// Field names (`field`) are the wire names of what differs: `type`, `id`, `call_id`, `name`,
/// `arguments`, `input`, `code`, `output_text`, `refusal`, `reasoning_text`, `summary_text`,
/// `content_part`, `summary_part`, or `item` when only one side has an item at that index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Anomaly {
    /// Sequence numbers `expected..received` were skipped.
    SequenceGap {
        /// The number that should have come next.
        expected: u64,
        /// The number that came.
        received: u64,
    },
    /// A sequence number at or below one already seen (a duplicate or a reordering).
    SequenceOutOfOrder {
        /// The highest number seen before.
        previous: u64,
        /// The number that came.
        received: u64,
    },
    /// An event refers to an output item that was never added; it was ignored.
    DeltaForUnknownItem {
        /// The event's type.
        event_type: String,
        /// The event's `output_index`.
        output_index: u32,
        /// The event's `item_id`.
        item_id: String,
    },
    /// An event refers to a part (content, summary or annotation index) beyond the end of the
    /// item's parts; it was ignored.
    UnknownPart {
        /// The event's type.
        event_type: String,
        /// The item's `output_index`.
        output_index: u32,
        /// The part's index.
        index: u32,
    },
    /// An event does not apply to the kind of item (or part) it refers to, e.g. function call
    /// arguments for a message; it was ignored.
    ItemKindMismatch {
        /// The event's type.
        event_type: String,
        /// The item's `output_index`.
        output_index: u32,
        /// The item's `type`.
        item_type: String,
    },
    /// `response.output_item.added` for an index that already had an item; the new item
    /// replaced it.
    DuplicateItem {
        /// The index.
        output_index: u32,
    },
    /// A `.done` event's final value differs from what the deltas built; the final value won.
    DoneMismatch {
        /// The event's type.
        event_type: String,
        /// The item's `output_index`.
        output_index: u32,
        /// What differs.
        field: &'static str,
    },
    /// The terminal response's output item differs from the assembled one; the terminal's won.
    TerminalMismatch {
        /// The item's `output_index`.
        output_index: u32,
        /// What differs (the first difference found).
        field: &'static str,
    },
    /// The terminal response had an empty `output` although items were assembled; the
    /// assembled items were kept.
    TerminalOutputMissing {
        /// How many assembled items were kept.
        kept: usize,
    },
    /// A lifecycle event carried another response id than the one being assembled.
    ResponseIdMismatch {
        /// The id being assembled.
        expected: String,
        /// The id the event carried.
        received: String,
    },
    /// A terminal or output event arrived after the terminal event; it was ignored.
    AfterTerminal {
        /// The event's type.
        event_type: String,
    },
    /// More anomalies than [`MAX_ANOMALIES`]: the rest were only counted.
    Truncated {
        /// How many were not recorded.
        dropped: u64,
    },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomaly::SequenceGap { expected, received } => {
                write!(f, "sequence gap: expected {expected}, received {received}")
            }
            Anomaly::SequenceOutOfOrder { previous, received } => {
                write!(f, "sequence number {received} after {previous}")
            }
            Anomaly::DeltaForUnknownItem {
                event_type,
                output_index,
                item_id,
            } => write!(
                f,
                "`{event_type}` for unknown item `{item_id}` at output index {output_index}"
            ),
            Anomaly::UnknownPart {
                event_type,
                output_index,
                index,
            } => write!(
                f,
                "`{event_type}` for part {index} of output item {output_index}, beyond its parts"
            ),
            Anomaly::ItemKindMismatch {
                event_type,
                output_index,
                item_type,
            } => write!(
                f,
                "`{event_type}` does not apply to the `{item_type}` item at output index {output_index}"
            ),
            Anomaly::DuplicateItem { output_index } => {
                write!(f, "output item {output_index} added twice")
            }
            Anomaly::DoneMismatch {
                event_type,
                output_index,
                field,
            } => write!(
                f,
                "`{event_type}` disagrees with the streamed `{field}` of output item {output_index}"
            ),
            Anomaly::TerminalMismatch {
                output_index,
                field,
            } => write!(
                f,
                "the terminal response disagrees with the assembled `{field}` of output item {output_index}"
            ),
            Anomaly::TerminalOutputMissing { kept } => write!(
                f,
                "the terminal response has an empty output; kept the {kept} assembled items"
            ),
            Anomaly::ResponseIdMismatch { expected, received } => {
                write!(f, "event of response `{received}` while assembling `{expected}`")
            }
            Anomaly::AfterTerminal { event_type } => {
                write!(f, "`{event_type}` after the terminal event, ignored")
            }
            Anomaly::Truncated { dropped } => write!(f, "{dropped} more anomalies not recorded"),
        }
    }
}

impl ResponseAssembly {
    /// An empty assembly, waiting for the response's first event.
    pub fn new() -> Self {
        Self::default()
    }

    /// Takes the next event of the response. Never fails and never panics: whatever does not
    /// fit is reported in [`anomalies`](Self::anomalies) and otherwise ignored.
    pub fn push(&mut self, event: &ServerEvent<'_>) {
        self.check_sequence(event.sequence_number);
        let Some(change) = Change::of(&event.kind) else {
            return;
        };
        if self.stage == Stage::Finished {
            if !matches!(event.kind, EventKind::Done(_)) {
                self.record(Anomaly::AfterTerminal {
                    event_type: event.event_type().into(),
                });
            }
            return;
        }
        self.apply(change);
    }

    /// The response so far; `None` until a lifecycle event (`response.created`, …) arrived.
    /// After the end, the final response.
    pub fn response(&self) -> Option<&Response> {
        (self.stage != Stage::Waiting).then_some(&self.response)
    }

    /// Whether a terminal event ended the response.
    pub fn is_finished(&self) -> bool {
        self.stage == Stage::Finished
    }

    /// What went wrong so far, in the order noticed.
    pub fn anomalies(&self) -> &[Anomaly] {
        &self.anomalies
    }

    /// The final response and the anomalies; `None` if no terminal event arrived (yet).
    pub fn finish(self) -> Option<Assembled> {
        if self.stage != Stage::Finished {
            return None;
        }
        Some(Assembled {
            response: self.response,
            anomalies: self.anomalies,
        })
    }

    /// Checks that `number` follows the highest number seen.
    fn check_sequence(&mut self, number: Option<u64>) {
        let Some(received) = number else { return };
        let Some(previous) = self.last_sequence else {
            self.last_sequence = Some(received);
            return;
        };
        if received <= previous {
            // Keep the highest: one stray number does not turn every later one into a report.
            self.record(Anomaly::SequenceOutOfOrder { previous, received });
            return;
        }
        let expected = previous + 1; // no overflow: received > previous
        if received != expected {
            self.record(Anomaly::SequenceGap { expected, received });
        }
        self.last_sequence = Some(received);
    }

    /// Records an anomaly, or only counts it once `MAX_ANOMALIES` are recorded.
    fn record(&mut self, anomaly: Anomaly) {
        if self.anomalies.len() < MAX_ANOMALIES {
            self.anomalies.push(anomaly);
        } else if let Some(Anomaly::Truncated { dropped }) = self.anomalies.last_mut() {
            *dropped = dropped.saturating_add(1);
        } else {
            self.anomalies.push(Anomaly::Truncated { dropped: 1 });
        }
    }

    /// Applies an event's change to the unfinished response.
    fn apply(&mut self, change: Change<'_>) {
        match change {
            Change::Header(server) => self.adopt_header(server),
            Change::Finish(server) => self.finish_with(server),
            Change::ItemAdded(event) => self.item_added(event),
            Change::ItemDone(event) => self.item_done(event),
            Change::Text {
                at,
                step,
                field,
                text,
            } => self.edit(&at, step, [(field, text)]),
            Change::ArgumentsDone {
                at,
                arguments,
                name,
            } => {
                let name = name.map(|name| (Field::Name, name));
                self.edit(
                    &at,
                    Step::Done,
                    [(Field::Arguments, arguments)].into_iter().chain(name),
                );
            }
            Change::ContentPart {
                at,
                step,
                index,
                part,
            } => self.on_item(&at, |item| put_content_part(item, index, part, step)),
            Change::SummaryPart {
                at,
                step,
                index,
                part,
            } => self.on_item(&at, |item| put_summary_part(item, index, part, step)),
            Change::Annotation {
                at,
                part,
                index,
                annotation,
            } => self.on_item(&at, |item| annotate(item, part, index, annotation)),
            Change::Touch(at) => {
                self.locate(&at);
            }
        }
    }

    /// A non-terminal snapshot: its fields replace ours, except the assembled output.
    fn adopt_header(&mut self, server: &Response) {
        self.check_id(server);
        let output = mem::take(&mut self.response.output);
        self.response = server.clone();
        self.response.output = output;
        self.stage = Stage::Streaming;
    }

    /// The terminal event: its response wins, after comparison with what was assembled.
    fn finish_with(&mut self, server: &Response) {
        self.check_id(server);
        let assembled = mem::take(&mut self.response.output);
        let indices = mem::take(&mut self.indices);
        self.response = server.clone();
        if server.output.is_empty() && !assembled.is_empty() {
            self.record(Anomaly::TerminalOutputMissing {
                kept: assembled.len(),
            });
            self.response.output = assembled;
            self.indices = indices;
        } else {
            self.reconcile(&indices, &assembled);
            self.indices = (0..).take(self.response.output.len()).collect();
        }
        self.stage = Stage::Finished;
    }

    /// Reports every output index where the assembled items and the server's disagree.
    fn reconcile(&mut self, indices: &[u32], assembled: &[Item]) {
        let server = mem::take(&mut self.response.output);
        for (&output_index, item) in indices.iter().zip(assembled) {
            let field = match server.get(output_index as usize) {
                Some(theirs) => disagreement(item, theirs),
                None => Some("item"),
            };
            if let Some(field) = field {
                self.record(Anomaly::TerminalMismatch {
                    output_index,
                    field,
                });
            }
        }
        for output_index in (0..).take(server.len()) {
            if indices.binary_search(&output_index).is_err() {
                self.record(Anomaly::TerminalMismatch {
                    output_index,
                    field: "item",
                });
            }
        }
        self.response.output = server;
    }

    /// Reports a lifecycle event of another response than the one being assembled.
    fn check_id(&mut self, server: &Response) {
        if self.stage != Stage::Waiting && server.id != self.response.id {
            self.record(Anomaly::ResponseIdMismatch {
                expected: self.response.id.clone(),
                received: server.id.clone(),
            });
        }
    }

    /// `response.output_item.added`: the item as it starts.
    fn item_added(&mut self, event: &OutputItemEvent) {
        match self.indices.binary_search(&event.output_index) {
            Ok(position) => {
                self.record(Anomaly::DuplicateItem {
                    output_index: event.output_index,
                });
                self.response.output[position] = event.item.clone();
            }
            Err(position) => self.insert(position, event),
        }
    }

    /// `response.output_item.done`: the final item replaces the assembled one.
    fn item_done(&mut self, event: &OutputItemEvent) {
        match self.indices.binary_search(&event.output_index) {
            Ok(position) => {
                let assembled = &mut self.response.output[position];
                let field = disagreement(assembled, &event.item);
                assembled.clone_from(&event.item);
                if let Some(field) = field {
                    self.record(Anomaly::DoneMismatch {
                        event_type: "response.output_item.done".into(),
                        output_index: event.output_index,
                        field,
                    });
                }
            }
            // Never added: the done item is whole, nothing was lost.
            Err(position) => self.insert(position, event),
        }
    }

    /// Inserts an item at `position`, where its index keeps `indices` ascending.
    fn insert(&mut self, position: usize, event: &OutputItemEvent) {
        self.indices.insert(position, event.output_index);
        self.response.output.insert(position, event.item.clone());
    }

    /// Applies text `edits` to one item (none if the item is unknown).
    fn edit<'t>(
        &mut self,
        at: &ItemRef<'_>,
        step: Step,
        edits: impl IntoIterator<Item = (Field, &'t str)>,
    ) {
        self.on_item(at, |item| {
            let mut mismatch = None;
            for (field, text) in edits {
                if step.apply(field_mut(item, field)?, text) {
                    mismatch = mismatch.or(Some(field.name()));
                }
            }
            Ok(mismatch)
        });
    }

    /// Runs `change` on the item `at` refers to and records what it reports: `Ok(Some(field))`
    /// when a final value disagreed with the streamed one.
    fn on_item(
        &mut self,
        at: &ItemRef<'_>,
        change: impl FnOnce(&mut Item) -> Result<Option<&'static str>, FieldError>,
    ) {
        let Some(position) = self.locate(at) else {
            return;
        };
        // The anomaly's strings are made only when there is one: a delta allocates nothing.
        let (event_type, output_index) = (at.event_type, at.output_index);
        let anomaly = match change(&mut self.response.output[position]) {
            Ok(None) => return,
            Ok(Some(field)) => Anomaly::DoneMismatch {
                event_type: event_type.into(),
                output_index,
                field,
            },
            Err(FieldError::WrongKind) => Anomaly::ItemKindMismatch {
                event_type: event_type.into(),
                output_index,
                item_type: self.response.output[position].kind().into(),
            },
            Err(FieldError::MissingPart(index)) => Anomaly::UnknownPart {
                event_type: event_type.into(),
                output_index,
                index,
            },
        };
        self.record(anomaly);
    }

    /// The position in `response.output` of the item an event refers to: the item at its
    /// `output_index` if the ids agree, else the item with its `item_id`. Reports unknown items.
    fn locate(&mut self, at: &ItemRef<'_>) -> Option<usize> {
        let output = &self.response.output;
        let found = self
            .indices
            .binary_search(&at.output_index)
            .ok()
            .filter(|&position| output[position].id().is_none_or(|id| id == at.item_id))
            .or_else(|| output.iter().position(|item| item.id() == Some(at.item_id)));
        if found.is_none() {
            self.record(Anomaly::DeltaForUnknownItem {
                event_type: at.event_type.into(),
                output_index: at.output_index,
                item_id: at.item_id.into(),
            });
        }
        found
    }
}

/// What an event asks of the assembly; events that ask nothing (errors, steering, unknown
/// types, …) have no change.
enum Change<'e> {
    /// A lifecycle snapshot before the end.
    Header(&'e Response),
    /// A terminal event.
    Finish(&'e Response),
    /// `response.output_item.added`.
    ItemAdded(&'e OutputItemEvent),
    /// `response.output_item.done`.
    ItemDone(&'e OutputItemEvent),
    /// A delta (appended) or a done (replacing) of one string of an item.
    Text {
        at: ItemRef<'e>,
        step: Step,
        field: Field,
        text: &'e str,
    },
    /// `response.function_call_arguments.done` / `response.mcp_call_arguments.done`.
    ArgumentsDone {
        at: ItemRef<'e>,
        arguments: &'e str,
        name: Option<&'e str>,
    },
    /// `response.content_part.added` (`Delta`) / `.done` (`Done`).
    ContentPart {
        at: ItemRef<'e>,
        step: Step,
        index: u32,
        part: &'e ContentPart,
    },
    /// `response.reasoning_summary_part.added` (`Delta`) / `.done` (`Done`).
    SummaryPart {
        at: ItemRef<'e>,
        step: Step,
        index: u32,
        part: &'e SummaryPart,
    },
    /// `response.output_text.annotation.added`.
    Annotation {
        at: ItemRef<'e>,
        part: u32,
        index: u32,
        annotation: &'e Annotation,
    },
    /// An event that only refers to an item (hosted-tool progress, partial images).
    Touch(ItemRef<'e>),
}

/// The item an event refers to.
struct ItemRef<'e> {
    event_type: &'e str,
    output_index: u32,
    item_id: &'e str,
}

/// Whether an event streams (a delta, an `.added` part) or settles (a `.done`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// Text is appended; a part is created if missing, kept if present.
    Delta,
    /// The final value replaces the assembled one, which is compared with it first.
    Done,
}

impl Step {
    /// Applies `text` to `slot`; `true` when a final value disagrees with the streamed one.
    fn apply(self, slot: &mut String, text: &str) -> bool {
        match self {
            Step::Delta => {
                slot.push_str(text);
                false
            }
            Step::Done => {
                let disagrees = disagrees(slot, text);
                slot.clear();
                slot.push_str(text);
                disagrees
            }
        }
    }
}

/// Whether a streamed value disagrees with the final one. An empty streamed value does not:
/// servers may send a `.done` (or a final item) without any delta.
fn disagrees(streamed: &str, last: &str) -> bool {
    !streamed.is_empty() && streamed != last
}

impl<'e> Change<'e> {
    /// The change an event asks for.
    fn of(kind: &'e EventKind<'_>) -> Option<Self> {
        use EventKind as K;
        use Step::{Delta, Done};

        let event_type = kind.event_type();
        let at = |item_id: &'e str, output_index: u32| ItemRef {
            event_type,
            output_index,
            item_id,
        };
        let text = |item_id: &'e str, output_index, step, field, text: &'e str| Change::Text {
            at: at(item_id, output_index),
            step,
            field,
            text,
        };
        let content_part = |e: &'e ContentPartEvent<'_>, step| Change::ContentPart {
            at: at(&e.item_id, e.output_index),
            step,
            index: e.content_index,
            part: &e.part,
        };
        let summary_part = |e: &'e SummaryPartEvent<'_>, step| Change::SummaryPart {
            at: at(&e.item_id, e.output_index),
            step,
            index: e.summary_index,
            part: &e.part,
        };
        Some(match kind {
            K::Created(e) | K::InProgress(e) | K::Queued(e) => Change::Header(&e.response),
            K::Completed(e) | K::Failed(e) | K::Incomplete(e) | K::Done(e) => {
                Change::Finish(&e.response)
            }
            K::OutputItemAdded(e) => Change::ItemAdded(e),
            K::OutputItemDone(e) => Change::ItemDone(e),
            K::ContentPartAdded(e) => content_part(e, Delta),
            K::ContentPartDone(e) => content_part(e, Done),
            K::ReasoningSummaryPartAdded(e) => summary_part(e, Delta),
            K::ReasoningSummaryPartDone(e) => summary_part(e, Done),
            K::OutputTextDelta(e) => {
                let field = Field::OutputText(e.content_index);
                text(&e.item_id, e.output_index, Delta, field, &e.delta)
            }
            K::OutputTextDone(e) => {
                let field = Field::OutputText(e.content_index);
                text(&e.item_id, e.output_index, Done, field, &e.text)
            }
            K::RefusalDelta(e) => {
                let field = Field::Refusal(e.content_index);
                text(&e.item_id, e.output_index, Delta, field, &e.delta)
            }
            K::RefusalDone(e) => {
                let field = Field::Refusal(e.content_index);
                text(&e.item_id, e.output_index, Done, field, &e.refusal)
            }
            K::ReasoningTextDelta(e) => {
                let field = Field::ReasoningText(e.content_index);
                text(&e.item_id, e.output_index, Delta, field, &e.delta)
            }
            K::ReasoningTextDone(e) => {
                let field = Field::ReasoningText(e.content_index);
                text(&e.item_id, e.output_index, Done, field, &e.text)
            }
            K::ReasoningSummaryTextDelta(e) => {
                let field = Field::Summary(e.summary_index);
                text(&e.item_id, e.output_index, Delta, field, &e.delta)
            }
            K::ReasoningSummaryTextDone(e) => {
                let field = Field::Summary(e.summary_index);
                text(&e.item_id, e.output_index, Done, field, &e.text)
            }
            K::FunctionCallArgumentsDelta(e) | K::McpCallArgumentsDelta(e) => text(
                &e.item_id,
                e.output_index,
                Delta,
                Field::Arguments,
                &e.delta,
            ),
            K::FunctionCallArgumentsDone(e) | K::McpCallArgumentsDone(e) => Change::ArgumentsDone {
                at: at(&e.item_id, e.output_index),
                arguments: &e.arguments,
                name: e.name.as_deref(),
            },
            K::CustomToolCallInputDelta(e) => {
                text(&e.item_id, e.output_index, Delta, Field::Input, &e.delta)
            }
            K::CustomToolCallInputDone(e) => {
                text(&e.item_id, e.output_index, Done, Field::Input, &e.input)
            }
            K::CodeInterpreterCallCodeDelta(e) => {
                text(&e.item_id, e.output_index, Delta, Field::Code, &e.delta)
            }
            K::CodeInterpreterCallCodeDone(e) => {
                text(&e.item_id, e.output_index, Done, Field::Code, &e.code)
            }
            K::OutputTextAnnotationAdded(e) => match &e.annotation {
                Some(annotation) => Change::Annotation {
                    at: at(&e.item_id, e.output_index),
                    part: e.content_index,
                    index: e.annotation_index,
                    annotation,
                },
                None => Change::Touch(at(&e.item_id, e.output_index)),
            },
            K::WebSearchCallInProgress(e)
            | K::WebSearchCallSearching(e)
            | K::WebSearchCallCompleted(e)
            | K::FileSearchCallInProgress(e)
            | K::FileSearchCallSearching(e)
            | K::FileSearchCallCompleted(e)
            | K::CodeInterpreterCallInProgress(e)
            | K::CodeInterpreterCallInterpreting(e)
            | K::CodeInterpreterCallCompleted(e)
            | K::ImageGenerationCallInProgress(e)
            | K::ImageGenerationCallGenerating(e)
            | K::ImageGenerationCallCompleted(e)
            | K::McpCallInProgress(e)
            | K::McpCallCompleted(e)
            | K::McpCallFailed(e)
            | K::McpListToolsInProgress(e)
            | K::McpListToolsCompleted(e)
            | K::McpListToolsFailed(e) => Change::Touch(at(&e.item_id, e.output_index)),
            K::ImageGenerationCallPartialImage(e) => Change::Touch(at(&e.item_id, e.output_index)),
            // Neutral: shell items come whole from the item events; audio belongs to no item;
            // steering, inject and errors are the session's business.
            K::ShellCallCommandAdded(_)
            | K::ShellCallCommandDelta(_)
            | K::ShellCallCommandDone(_)
            | K::ShellCallOutputContentDelta(_)
            | K::ShellCallOutputContentDone(_)
            | K::AudioDelta(_)
            | K::AudioDone(_)
            | K::AudioTranscriptDelta(_)
            | K::AudioTranscriptDone(_)
            | K::SteerAccepted(_)
            | K::SteerPending(_)
            | K::SteerFailed(_)
            | K::InjectCreated(_)
            | K::InjectFailed(_)
            | K::Error(_)
            | K::Unknown(_) => return None,
        })
    }
}

/// A string of an output item that streaming events build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    /// The text of `output_text` part `n` of a message.
    OutputText(u32),
    /// The text of `refusal` part `n` of a message.
    Refusal(u32),
    /// The text of `reasoning_text` part `n` of a reasoning item's content.
    ReasoningText(u32),
    /// The text of summary part `n` of a reasoning item.
    Summary(u32),
    /// Arguments of a function call, an MCP approval request or a raw item (`mcp_call`).
    Arguments,
    /// Name of a function, custom tool or MCP tool.
    Name,
    /// Input of a custom tool call (or a raw item).
    Input,
    /// Code of a raw item (`code_interpreter_call`).
    Code,
}

impl Field {
    /// The wire name of the field (also its key in raw items).
    fn name(self) -> &'static str {
        match self {
            Field::OutputText(_) => "output_text",
            Field::Refusal(_) => "refusal",
            Field::ReasoningText(_) => "reasoning_text",
            Field::Summary(_) => "summary_text",
            Field::Arguments => "arguments",
            Field::Name => "name",
            Field::Input => "input",
            Field::Code => "code",
        }
    }

    /// An empty content part of the kind this field lives in.
    fn empty_part(self) -> ContentPart {
        match self {
            Field::Refusal(_) => ContentPart::Refusal(Refusal {
                refusal: String::new(),
            }),
            Field::ReasoningText(_) => ContentPart::ReasoningText(ReasoningText {
                text: String::new(),
            }),
            _ => ContentPart::OutputText(OutputText::default()),
        }
    }
}

/// Why an event could not be applied to its item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FieldError {
    /// The item (or part) has no such field.
    WrongKind,
    /// The part index is beyond the end of the item's parts.
    MissingPart(u32),
}

/// The string `field` of `item`, creating the part it lives in if it is the next one.
fn field_mut(item: &mut Item, field: Field) -> Result<&mut String, FieldError> {
    match (field, item) {
        (Field::OutputText(index) | Field::Refusal(index) | Field::ReasoningText(index), item) => {
            let parts = parts_mut(item).ok_or(FieldError::WrongKind)?;
            let part =
                slot(parts, index, || field.empty_part()).ok_or(FieldError::MissingPart(index))?;
            match (field, part) {
                (Field::OutputText(_), ContentPart::OutputText(OutputText { text, .. }))
                | (Field::Refusal(_), ContentPart::Refusal(Refusal { refusal: text }))
                | (Field::ReasoningText(_), ContentPart::ReasoningText(ReasoningText { text })) => {
                    Ok(text)
                }
                _ => Err(FieldError::WrongKind),
            }
        }
        (Field::Summary(index), Item::Reasoning(reasoning)) => {
            let empty = || SummaryPart {
                text: String::new(),
            };
            let part = slot(&mut reasoning.summary, index, empty);
            Ok(&mut part.ok_or(FieldError::MissingPart(index))?.text)
        }
        (Field::Arguments, Item::FunctionCall(call)) => Ok(&mut call.arguments),
        (Field::Arguments, Item::McpApprovalRequest(request)) => Ok(&mut request.arguments),
        (Field::Name, Item::FunctionCall(call)) => Ok(&mut call.name),
        (Field::Name, Item::CustomToolCall(call)) => Ok(&mut call.name),
        (Field::Name, Item::McpApprovalRequest(request)) => Ok(&mut request.name),
        (Field::Input, Item::CustomToolCall(call)) => Ok(&mut call.input),
        (Field::Arguments | Field::Name | Field::Input | Field::Code, Item::Other(raw)) => {
            raw_string_mut(raw, field.name())
        }
        _ => Err(FieldError::WrongKind),
    }
}

/// The strings of `item` that streaming events build, with their field: the read-only mirror of
/// [`field_mut`], used to compare an assembled item with a final one.
fn streamed_fields(item: &Item) -> Vec<(Field, &str)> {
    let mut fields = Vec::new();
    match item {
        Item::Message(message) => match &message.content {
            TextOrList::Text(text) => fields.push((Field::OutputText(0), text.as_str())),
            TextOrList::List(parts) => part_fields(parts, &mut fields),
        },
        Item::Reasoning(reasoning) => {
            let summary = (0..).zip(&reasoning.summary);
            fields.extend(summary.map(|(index, part)| (Field::Summary(index), part.text.as_str())));
            part_fields(
                reasoning.content.as_deref().unwrap_or_default(),
                &mut fields,
            );
        }
        Item::FunctionCall(call) => {
            fields.extend([
                (Field::Name, call.name.as_str()),
                (Field::Arguments, call.arguments.as_str()),
            ]);
        }
        Item::CustomToolCall(call) => {
            fields.extend([
                (Field::Name, call.name.as_str()),
                (Field::Input, call.input.as_str()),
            ]);
        }
        Item::McpApprovalRequest(request) => {
            fields.extend([
                (Field::Name, request.name.as_str()),
                (Field::Arguments, request.arguments.as_str()),
            ]);
        }
        Item::Other(raw) => {
            let keys = [Field::Name, Field::Arguments, Field::Input, Field::Code];
            fields.extend(keys.into_iter().filter_map(|field| {
                let text = raw.get(field.name())?.as_str()?;
                Some((field, text))
            }));
        }
        _ => {}
    }
    fields
}

/// The streamed strings of content parts.
fn part_fields<'i>(parts: &'i [ContentPart], fields: &mut Vec<(Field, &'i str)>) {
    for (index, part) in (0..).zip(parts) {
        let field = match part {
            ContentPart::OutputText(_) => Field::OutputText(index),
            ContentPart::Refusal(_) => Field::Refusal(index),
            ContentPart::ReasoningText(_) => Field::ReasoningText(index),
            _ => continue,
        };
        fields.extend(part.text().map(|text| (field, text)));
    }
}

/// The first difference between an assembled item and the server's final one: their identity
/// (`type`, `id`, `call_id`), then any string the stream built that the final item does not
/// have. Fields the stream does not build (status, annotations, encrypted content, …) are the
/// server's to set and are not compared.
fn disagreement(assembled: &Item, last: &Item) -> Option<&'static str> {
    let differ = |ours: Option<&str>, theirs: Option<&str>| {
        ours.zip(theirs)
            .is_some_and(|(ours, theirs)| ours != theirs)
    };
    if assembled.kind() != last.kind() {
        return Some("type");
    }
    if differ(assembled.id(), last.id()) {
        return Some("id");
    }
    if differ(assembled.call_id(), last.call_id()) {
        return Some("call_id");
    }
    let theirs = streamed_fields(last);
    let final_value = |field| {
        theirs
            .iter()
            .find(|(f, _)| *f == field)
            .map_or("", |(_, t)| t)
    };
    streamed_fields(assembled)
        .into_iter()
        .find(|&(field, streamed)| disagrees(streamed, final_value(field)))
        .map(|(field, _)| field.name())
}

/// `response.content_part.added` / `.done`: puts `part` at `index` of the item's content.
fn put_content_part(
    item: &mut Item,
    index: u32,
    part: &ContentPart,
    step: Step,
) -> Result<Option<&'static str>, FieldError> {
    let parts = parts_mut(item).ok_or(FieldError::WrongKind)?;
    let disagrees = put(parts, index, part, step, ContentPart::text)?;
    Ok(disagrees.then_some("content_part"))
}

/// `response.reasoning_summary_part.added` / `.done`: puts `part` at `index` of the item's
/// summary.
fn put_summary_part(
    item: &mut Item,
    index: u32,
    part: &SummaryPart,
    step: Step,
) -> Result<Option<&'static str>, FieldError> {
    let Item::Reasoning(reasoning) = item else {
        return Err(FieldError::WrongKind);
    };
    let disagrees = put(&mut reasoning.summary, index, part, step, |part| {
        Some(&part.text)
    })?;
    Ok(disagrees.then_some("summary_part"))
}

/// `response.output_text.annotation.added`: puts `annotation` at `index` of the annotations of
/// `output_text` part `part`.
fn annotate(
    item: &mut Item,
    part: u32,
    index: u32,
    annotation: &Annotation,
) -> Result<Option<&'static str>, FieldError> {
    let parts = parts_mut(item).ok_or(FieldError::WrongKind)?;
    let empty = || ContentPart::OutputText(OutputText::default());
    match slot(parts, part, empty).ok_or(FieldError::MissingPart(part))? {
        ContentPart::OutputText(text) => {
            put(&mut text.annotations, index, annotation, Step::Done, |_| {
                None
            })?;
            Ok(None)
        }
        _ => Err(FieldError::WrongKind),
    }
}

/// The content parts of a message (plain-text content becomes one `output_text` part) or of a
/// reasoning item.
fn parts_mut(item: &mut Item) -> Option<&mut Vec<ContentPart>> {
    match item {
        Item::Message(message) => {
            if let TextOrList::Text(text) = &mut message.content {
                let text = mem::take(text);
                let part = ContentPart::OutputText(OutputText {
                    text,
                    ..OutputText::default()
                });
                message.content = TextOrList::List(alloc::vec![part]);
            }
            match &mut message.content {
                TextOrList::List(parts) => Some(parts),
                TextOrList::Text(_) => None,
            }
        }
        Item::Reasoning(reasoning) => Some(reasoning.content.get_or_insert_with(Vec::new)),
        _ => None,
    }
}

/// Entry `index` of `list`, created with `make` if it is the next one; `None` beyond that (an
/// index from the wire never makes the list grow by more than one).
fn slot<T>(list: &mut Vec<T>, index: u32, make: impl FnOnce() -> T) -> Option<&mut T> {
    let index = usize::try_from(index).ok()?;
    if index == list.len() {
        list.push(make());
    }
    list.get_mut(index)
}

/// Puts `part` at `index` of `list`. `Delta` (an `.added` event) keeps a part already there
/// (deltas may have created it); `Done` replaces it and returns whether its `text` disagreed.
fn put<T: Clone>(
    list: &mut Vec<T>,
    index: u32,
    part: &T,
    step: Step,
    text: impl Fn(&T) -> Option<&str>,
) -> Result<bool, FieldError> {
    let slot = slot(list, index, || part.clone()).ok_or(FieldError::MissingPart(index))?;
    if step == Step::Delta {
        return Ok(false);
    }
    let disagrees =
        text(slot).is_some_and(|streamed| disagrees(streamed, text(part).unwrap_or("")));
    slot.clone_from(part);
    Ok(disagrees)
}

/// The string at `key` of a raw item, created empty if absent or `null`.
fn raw_string_mut<'v>(raw: &'v mut Value, key: &str) -> Result<&'v mut String, FieldError> {
    let object = raw.as_object_mut().ok_or(FieldError::WrongKind)?;
    let value = object.entry(key).or_insert(Value::Null);
    if value.is_null() {
        *value = Value::String(String::new());
    }
    match value {
        Value::String(text) => Ok(text),
        _ => Err(FieldError::WrongKind),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::collections::BTreeMap;
    use alloc::string::ToString;
    use alloc::vec;
    use proptest::prelude::*;
    use serde_json::json;

    const TRANSCRIPTS: &str = include_str!("../wire/fixtures/transcripts.txt");

    fn event(frame: &str) -> ServerEvent<'_> {
        ServerEvent::from_str(frame).unwrap_or_else(|error| panic!("{error}: {frame}"))
    }

    fn assemble<S: AsRef<str>>(frames: &[S]) -> ResponseAssembly {
        let mut assembly = ResponseAssembly::new();
        for frame in frames {
            assembly.push(&event(frame.as_ref()));
        }
        assembly
    }

    fn items(json: Value) -> Vec<Item> {
        serde_json::from_value(json).unwrap()
    }

    /// The frames of one response, numbered from 0 (unless told otherwise).
    struct Stream {
        frames: Vec<String>,
        /// The next sequence number.
        next: u64,
    }

    impl Stream {
        /// A stream that starts with `response.created` of `resp_t`.
        fn new() -> Self {
            let mut stream = Stream {
                frames: Vec::new(),
                next: 0,
            };
            stream.push(
                "response.created",
                json!({"response": {"id": "resp_t", "status": "in_progress", "output": []}}),
            );
            stream
        }

        /// Adds an event with the next sequence number.
        fn push(&mut self, event_type: &str, fields: Value) -> &mut Self {
            self.push_numbered(event_type, Some(self.next), fields)
        }

        /// Adds an event with the given sequence number (or none).
        fn push_numbered(
            &mut self,
            event_type: &str,
            number: Option<u64>,
            mut fields: Value,
        ) -> &mut Self {
            fields["type"] = event_type.into();
            if let Some(number) = number {
                fields["sequence_number"] = number.into();
                self.next = number + 1;
            }
            self.frames.push(fields.to_string());
            self
        }

        /// Adds `response.completed` of `resp_t` with `output`.
        fn complete(&mut self, output: Value) -> &mut Self {
            self.push(
                "response.completed",
                json!({"response": {"id": "resp_t", "status": "completed", "output": output}}),
            )
        }

        fn assemble(&self) -> ResponseAssembly {
            assemble(&self.frames)
        }
    }

    fn function_call(id: &str, call_id: &str, name: &str, arguments: &str) -> Value {
        json!({"type": "function_call", "id": id, "call_id": call_id, "name": name, "arguments": arguments})
    }

    fn message(id: &str, text: &str) -> Value {
        json!({"type": "message", "id": id, "role": "assistant", "content": [
            {"type": "output_text", "text": text, "annotations": []}
        ]})
    }

    /// One response of the transcripts, as a lane would see it.
    #[derive(Default)]
    struct Transcribed {
        assembly: ResponseAssembly,
        /// The assembled output just before the terminal event.
        before_terminal: Option<Vec<Item>>,
        /// The terminal event's response.
        terminal: Option<Response>,
    }

    /// Splits the transcripts' server frames into responses: per lane (`stream_id`), every
    /// `response.created` starts a new one; other events go to the lane's latest response.
    fn transcript_responses() -> Vec<Transcribed> {
        let mut responses = Vec::new();
        let mut lanes: BTreeMap<Option<String>, Transcribed> = BTreeMap::new();
        for frame in TRANSCRIPTS.lines().filter_map(|l| l.strip_prefix("<< ")) {
            let event = event(frame);
            let lane = event.stream_id.as_deref().map(String::from);
            if matches!(event.kind, EventKind::Created(_)) {
                responses.extend(lanes.insert(lane.clone(), Transcribed::default()));
            }
            let Some(current) = lanes.get_mut(&lane) else {
                continue; // an error before any response on its lane
            };
            if event.is_terminal() && !current.assembly.is_finished() {
                current.before_terminal = current.assembly.response().map(|r| r.output.clone());
                current.terminal = event.response().cloned();
            }
            current.assembly.push(&event);
        }
        responses.extend(lanes.into_values());
        responses
    }

    #[test]
    fn every_transcript_response_reassembles_exactly() {
        let (mut finished, mut unfinished) = (Vec::new(), Vec::new());
        for transcribed in transcript_responses() {
            let assembly = &transcribed.assembly;
            let id = assembly.response().unwrap().id.clone();
            let expected_anomalies = match id.as_str() {
                // §9.5 leaves out resp_1's events with sequence numbers 1 to 3.
                "resp_1" => vec![Anomaly::SequenceGap {
                    expected: 1,
                    received: 4,
                }],
                // The stand-alone `response.steer.failed` example (number 5) of §9.5 follows
                // resp_2's `response.created` in the file.
                "resp_2" => vec![Anomaly::SequenceGap {
                    expected: 1,
                    received: 5,
                }],
                _ => vec![],
            };
            assert_eq!(assembly.anomalies(), expected_anomalies, "{id}");
            match &transcribed.terminal {
                Some(terminal) => {
                    assert_eq!(
                        transcribed.before_terminal.as_ref(),
                        Some(&terminal.output),
                        "{id}"
                    );
                    assert_eq!(assembly.response(), Some(terminal), "{id}");
                    let assembled = transcribed.assembly.finish().unwrap();
                    assert_eq!(&assembled.response, terminal);
                    finished.push(id);
                }
                None => {
                    assert!(!assembly.is_finished(), "{id}");
                    unfinished.push(id);
                }
            }
        }
        finished.sort();
        unfinished.sort();
        assert_eq!(
            finished,
            [
                "resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
                "resp_1",
                "resp_6c0e1f2a3b4c5d6e7f809a1b2c3d4e5f",
                "resp_7d1f2a3b4c5d6e7f8091a2b3c4d5e6f7",
                "resp_9f3b4c5d6e7f8091a2b3c4d5e6f70819",
                "resp_pl1",
                "resp_rs1",
                "resp_wu1",
            ]
        );
        assert_eq!(
            unfinished,
            [
                "resp_2",
                "resp_8e2a3b4c5d6e7f8091a2b3c4d5e6f708",
                "resp_cr1"
            ]
        );
    }

    #[test]
    fn transcript_text_and_tool_calls() {
        let responses = transcript_responses();
        let find = |id: &str| {
            responses
                .iter()
                .find(|t| t.assembly.response().unwrap().id == id)
                .and_then(|t| t.assembly.response())
                .unwrap()
        };
        assert_eq!(
            find("resp_0a1b2c3d4e5f60718293a4b5c6d7e8f9").all_output_text(),
            "Hello there, nice to meet!"
        );
        let calls: Vec<_> = find("resp_6c0e1f2a3b4c5d6e7f809a1b2c3d4e5f")
            .tool_calls()
            .filter_map(Item::call_id)
            .collect();
        assert_eq!(calls, ["call_Pq1", "call_Tk2"]);
    }

    #[test]
    fn a_sequence_gap_is_reported_with_exact_values() {
        let mut stream = Stream::new();
        stream
            .push("response.output_item.added", json!({"output_index": 0, "item": message("msg_1", "")}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel"}))
            // Numbers 3 and 4 are lost.
            .push_numbered("response.output_text.delta", Some(5), json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "lo"}))
            // Events without a number are fine.
            .push_numbered("response.output_text.delta", None, json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "!"}))
            .push_numbered("response.completed", Some(6), json!({"response": {"id": "resp_t", "status": "completed", "output": [message("msg_1", "Hello!")]}}));
        let assembly = stream.assemble();
        let gap = Anomaly::SequenceGap {
            expected: 3,
            received: 5,
        };
        assert_eq!(gap.to_string(), "sequence gap: expected 3, received 5");
        assert_eq!(assembly.anomalies(), [gap]);
        assert_eq!(assembly.response().unwrap().all_output_text(), "Hello!");
    }

    #[test]
    fn duplicate_and_regressing_sequence_numbers_are_reported() {
        let mut stream = Stream::new();
        let progress = json!({"response": {"id": "resp_t", "status": "in_progress"}});
        stream
            .push_numbered("response.in_progress", Some(1), progress.clone())
            .push_numbered("response.in_progress", Some(1), progress.clone())
            .push_numbered("response.in_progress", Some(0), progress.clone())
            // The highest number seen stays 1: 2 follows it without a gap.
            .push_numbered("response.in_progress", Some(2), progress);
        let assembly = stream.assemble();
        assert_eq!(
            assembly.anomalies(),
            [
                Anomaly::SequenceOutOfOrder {
                    previous: 1,
                    received: 1
                },
                Anomaly::SequenceOutOfOrder {
                    previous: 1,
                    received: 0
                },
            ]
        );
        assert_eq!(
            assembly.anomalies()[1].to_string(),
            "sequence number 0 after 1"
        );
    }

    #[test]
    fn interleaved_function_call_deltas_assemble_by_item() {
        let mut stream = Stream::new();
        stream
            // Added out of index order.
            .push(
                "response.output_item.added",
                json!({"output_index": 1, "item": function_call("fc_b", "call_b", "lookup", "")}),
            )
            .push(
                "response.output_item.added",
                json!({"output_index": 0, "item": function_call("fc_a", "call_a", "add", "")}),
            )
            .push(
                "response.function_call_arguments.delta",
                json!({"item_id": "fc_a", "output_index": 0, "delta": "{\"a\":"}),
            )
            .push(
                "response.function_call_arguments.delta",
                json!({"item_id": "fc_b", "output_index": 1, "delta": "{\"q\":"}),
            )
            .push(
                "response.function_call_arguments.delta",
                json!({"item_id": "fc_b", "output_index": 1, "delta": "\"x\"}"}),
            )
            .push(
                "response.function_call_arguments.delta",
                json!({"item_id": "fc_a", "output_index": 0, "delta": "1}"}),
            );
        let partial = stream.assemble();
        assert_eq!(
            partial.response().unwrap().output,
            items(json!([
                function_call("fc_a", "call_a", "add", "{\"a\":1}"),
                function_call("fc_b", "call_b", "lookup", "{\"q\":\"x\"}"),
            ]))
        );
        assert!(!partial.is_finished());
        assert_eq!(partial.finish(), None);

        stream
            .push("response.function_call_arguments.done", json!({"item_id": "fc_b", "output_index": 1, "name": "lookup", "arguments": "{\"q\":\"x\"}"}))
            .push("response.function_call_arguments.done", json!({"item_id": "fc_a", "output_index": 0, "name": "add", "arguments": "{\"a\":1}"}))
            .complete(json!([
                function_call("fc_a", "call_a", "add", "{\"a\":1}"),
                function_call("fc_b", "call_b", "lookup", "{\"q\":\"x\"}"),
            ]));
        let assembled = stream.assemble().finish().unwrap();
        assert_eq!(assembled.anomalies, []);
        let calls: Vec<_> = assembled
            .response
            .tool_calls()
            .filter_map(Item::call_id)
            .collect();
        assert_eq!(calls, ["call_a", "call_b"]);
    }

    #[test]
    fn a_terminal_that_disagrees_with_the_deltas_wins_and_is_reported() {
        let mut stream = Stream::new();
        stream
            .push("response.output_item.added", json!({"output_index": 0, "item": message("msg_1", "")}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hello"}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": " world"}))
            .push("response.output_item.added", json!({"output_index": 1, "item": function_call("fc_1", "call_1", "f", "")}))
            .push("response.function_call_arguments.delta", json!({"item_id": "fc_1", "output_index": 1, "delta": "{}"}))
            .complete(json!([
                message("msg_1", "Hello there"),
                function_call("fc_1", "call_1", "f", "{}"),
                message("msg_2", "Never streamed."),
            ]));
        let assembled = stream.assemble().finish().unwrap();
        assert_eq!(
            assembled.anomalies,
            [
                Anomaly::TerminalMismatch {
                    output_index: 0,
                    field: "output_text"
                },
                Anomaly::TerminalMismatch {
                    output_index: 2,
                    field: "item"
                },
            ]
        );
        assert_eq!(
            assembled.anomalies[0].to_string(),
            "the terminal response disagrees with the assembled `output_text` of output item 0"
        );
        assert_eq!(
            assembled.response.all_output_text(),
            "Hello thereNever streamed."
        );
        assert_eq!(assembled.response.output.len(), 3);
    }

    #[test]
    fn done_events_replace_deltas_and_report_disagreement() {
        let mut stream = Stream::new();
        stream
            .push("response.output_item.added", json!({"output_index": 0, "item": message("msg_1", "")}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "Hel"}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": "lo"}))
            .push("response.output_text.done", json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "text": "Help"}))
            .push("response.output_item.added", json!({"output_index": 1, "item": function_call("fc_1", "call_1", "f", "")}))
            // A done without deltas is normal.
            .push("response.function_call_arguments.done", json!({"item_id": "fc_1", "output_index": 1, "name": "f", "arguments": "{\"a\":1}"}))
            .push("response.output_item.done", json!({"output_index": 1, "item": function_call("fc_1", "call_1", "f", "{\"a\":2}")}));
        let assembly = stream.assemble();
        assert_eq!(
            assembly.anomalies(),
            [
                Anomaly::DoneMismatch {
                    event_type: "response.output_text.done".into(),
                    output_index: 0,
                    field: "output_text"
                },
                Anomaly::DoneMismatch {
                    event_type: "response.output_item.done".into(),
                    output_index: 1,
                    field: "arguments"
                },
            ]
        );
        assert_eq!(
            assembly.response().unwrap().output,
            items(json!([
                message("msg_1", "Help"),
                function_call("fc_1", "call_1", "f", "{\"a\":2}"),
            ]))
        );
    }

    #[test]
    fn response_done_is_a_terminal_alias_ignored_after_another_terminal() {
        let mut stream = Stream::new();
        stream
            .push(
                "response.output_item.done",
                json!({"output_index": 0, "item": message("msg_1", "Hi")}),
            )
            .complete(json!([message("msg_1", "Hi")]));
        let completed = stream.assemble().finish().unwrap();

        stream.push(
            "response.done",
            json!({"response": {"id": "resp_t", "status": "completed", "output": [message("msg_1", "Other")]}}),
        );
        let after_done = stream.assemble().finish().unwrap();
        assert_eq!(after_done, completed);
        assert_eq!(after_done.anomalies, []);
        assert_eq!(after_done.response.all_output_text(), "Hi");

        // A second real terminal is reported, and ignored too.
        stream.complete(json!([]));
        let after_second = stream.assemble().finish().unwrap();
        assert_eq!(after_second.response, completed.response);
        assert_eq!(
            after_second.anomalies,
            [Anomaly::AfterTerminal {
                event_type: "response.completed".into()
            }]
        );

        // Alone, `response.done` ends the response.
        let mut codex = Stream::new();
        codex
            .push("response.output_item.done", json!({"output_index": 0, "item": message("msg_1", "Done.")}))
            .push(
            "response.done",
            json!({"response": {"id": "resp_t", "status": "completed", "output": [message("msg_1", "Done.")]}}),
        );
        let assembled = codex.assemble().finish().unwrap();
        assert_eq!(assembled.response.all_output_text(), "Done.");
        assert_eq!(assembled.anomalies, []);
    }

    #[test]
    fn errors_and_unknown_events_do_not_disturb_assembly() {
        let added = json!({"output_index": 0, "item": message("msg_1", "")});
        let delta = |text: &str| json!({"item_id": "msg_1", "output_index": 0, "content_index": 0, "delta": text});
        let error = json!({"error": {"type": "server_error", "code": null, "message": "Oops."}});

        let mut plain = Stream::new();
        plain
            .push("response.output_item.added", added.clone())
            .push("response.output_text.delta", delta("Hi"))
            .push("response.output_text.delta", delta(" there"));
        let mut noisy = Stream::new();
        noisy
            .push("response.output_item.added", added)
            .push("error", error.clone())
            .push("response.output_text.delta", delta("Hi"))
            .push("codex.rate_limits", json!({"primary": {"used_percent": 3}}))
            .push_numbered("error", None, error)
            .push(
                "response.steer.accepted",
                json!({"steer": {"id": "steer_1", "previous_response_id": "resp_t"}}),
            )
            .push("response.output_text.delta", delta(" there"));
        let (plain, noisy) = (plain.assemble(), noisy.assemble());
        assert_eq!(noisy.anomalies(), []);
        assert_eq!(noisy.response(), plain.response());
        assert_eq!(noisy.response().unwrap().all_output_text(), "Hi there");
        assert!(!noisy.is_finished());
    }

    #[test]
    fn an_empty_terminal_output_keeps_the_assembled_items() {
        let call = function_call("fc_1", "call_1", "f", "{\"a\":1}");
        let mut stream = Stream::new();
        stream
            .push("response.output_item.done", json!({"output_index": 0, "item": call.clone()}))
            .push(
                "response.incomplete",
                json!({"response": {"id": "resp_t", "status": "incomplete", "incomplete_details": {"reason": "steered"}, "output": []}}),
            );
        let assembled = stream.assemble().finish().unwrap();
        assert_eq!(assembled.response.output, items(json!([call])));
        assert_eq!(
            assembled.response.status,
            Some(crate::wire::ResponseStatus::Incomplete)
        );
        assert_eq!(
            assembled.anomalies,
            [Anomaly::TerminalOutputMissing { kept: 1 }]
        );
        assert_eq!(
            assembled.anomalies[0].to_string(),
            "the terminal response has an empty output; kept the 1 assembled items"
        );
    }

    #[test]
    fn every_streamed_item_kind_assembles() {
        let mut stream = Stream::new();
        let part = |kind: &str, field: &str| json!({"type": kind, field: ""});
        stream
            // Reasoning: two summary parts (one created by its delta alone) and raw text.
            .push("response.output_item.added", json!({"output_index": 0, "item": {"type": "reasoning", "id": "rs_1", "summary": []}}))
            .push("response.reasoning_summary_part.added", json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": part("summary_text", "text")}))
            .push("response.reasoning_summary_text.delta", json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "Comp"}))
            .push("response.reasoning_summary_text.delta", json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "delta": "are."}))
            .push("response.reasoning_summary_text.done", json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "text": "Compare."}))
            .push("response.reasoning_summary_part.done", json!({"item_id": "rs_1", "output_index": 0, "summary_index": 0, "part": {"type": "summary_text", "text": "Compare."}}))
            .push("response.reasoning_summary_text.delta", json!({"item_id": "rs_1", "output_index": 0, "summary_index": 1, "delta": "Answer."}))
            .push("response.reasoning_text.delta", json!({"item_id": "rs_1", "output_index": 0, "content_index": 0, "delta": "hm"}))
            // A message: text with an annotation, then a refusal part.
            .push("response.output_item.added", json!({"output_index": 1, "item": {"type": "message", "id": "msg_1", "role": "assistant", "content": []}}))
            .push("response.content_part.added", json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "See "}))
            .push("response.output_text.annotation.added", json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "annotation_index": 0,
                "annotation": {"type": "url_citation", "url": "https://e.x", "title": "E", "start_index": 4, "end_index": 7}}))
            .push("response.output_text.delta", json!({"item_id": "msg_1", "output_index": 1, "content_index": 0, "delta": "e.x"}))
            .push("response.content_part.added", json!({"item_id": "msg_1", "output_index": 1, "content_index": 1, "part": part("refusal", "refusal")}))
            .push("response.refusal.delta", json!({"item_id": "msg_1", "output_index": 1, "content_index": 1, "delta": "No."}))
            .push("response.refusal.done", json!({"item_id": "msg_1", "output_index": 1, "content_index": 1, "refusal": "No."}))
            // A custom tool call.
            .push("response.output_item.added", json!({"output_index": 2, "item": {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "patch", "input": ""}}))
            .push("response.custom_tool_call_input.delta", json!({"item_id": "ctc_1", "output_index": 2, "delta": "*** Begin"}))
            .push("response.custom_tool_call_input.delta", json!({"item_id": "ctc_1", "output_index": 2, "delta": " Patch"}))
            // Hosted tools, kept raw: code interpreter code, MCP call arguments, a web search.
            .push("response.output_item.added", json!({"output_index": 3, "item": {"type": "code_interpreter_call", "id": "ci_1", "status": "in_progress", "container_id": "cntr_1", "code": null}}))
            .push("response.code_interpreter_call.in_progress", json!({"item_id": "ci_1", "output_index": 3}))
            .push("response.code_interpreter_call_code.delta", json!({"item_id": "ci_1", "output_index": 3, "delta": "print("}))
            .push("response.code_interpreter_call_code.delta", json!({"item_id": "ci_1", "output_index": 3, "delta": "1)"}))
            .push("response.output_item.added", json!({"output_index": 4, "item": {"type": "mcp_call", "id": "mcp_1", "server_label": "wiki", "name": "ask", "arguments": ""}}))
            .push("response.mcp_call_arguments.delta", json!({"item_id": "mcp_1", "output_index": 4, "delta": "{\"q\":"}))
            .push("response.mcp_call_arguments.delta", json!({"item_id": "mcp_1", "output_index": 4, "delta": "1}"}))
            .push("response.mcp_call_arguments.done", json!({"item_id": "mcp_1", "output_index": 4, "arguments": "{\"q\":1}"}))
            .push("response.mcp_call.completed", json!({"item_id": "mcp_1", "output_index": 4}))
            .push("response.output_item.added", json!({"output_index": 5, "item": {"type": "web_search_call", "id": "ws_1", "status": "in_progress"}}))
            .push("response.web_search_call.searching", json!({"item_id": "ws_1", "output_index": 5}))
            .push("response.image_generation_call.partial_image", json!({"item_id": "ws_1", "output_index": 5, "partial_image_index": 0, "partial_image_b64": "AA"}));
        let expected = items(json!([
            {"type": "reasoning", "id": "rs_1",
                "summary": [{"type": "summary_text", "text": "Compare."}, {"type": "summary_text", "text": "Answer."}],
                "content": [{"type": "reasoning_text", "text": "hm"}]},
            {"type": "message", "id": "msg_1", "role": "assistant", "content": [
                {"type": "output_text", "text": "See e.x", "annotations": [
                    {"type": "url_citation", "url": "https://e.x", "title": "E", "start_index": 4, "end_index": 7}]},
                {"type": "refusal", "refusal": "No."}]},
            {"type": "custom_tool_call", "id": "ctc_1", "call_id": "call_c", "name": "patch", "input": "*** Begin Patch"},
            {"type": "code_interpreter_call", "id": "ci_1", "status": "in_progress", "container_id": "cntr_1", "code": "print(1)"},
            {"type": "mcp_call", "id": "mcp_1", "server_label": "wiki", "name": "ask", "arguments": "{\"q\":1}"},
            {"type": "web_search_call", "id": "ws_1", "status": "in_progress"},
        ]));
        let partial = stream.assemble();
        assert_eq!(partial.anomalies(), []);
        assert_eq!(partial.response().unwrap().output, expected);
        assert_eq!(partial.response().unwrap().all_output_text(), "See e.x");

        stream.complete(serde_json::to_value(&expected).unwrap());
        let assembled = stream.assemble().finish().unwrap();
        assert_eq!(assembled.anomalies, []);
        assert_eq!(assembled.response.output, expected);
        let calls: Vec<_> = assembled
            .response
            .tool_calls()
            .filter_map(Item::id)
            .collect();
        assert_eq!(calls, ["ctc_1"]);
    }

    #[test]
    fn events_that_do_not_fit_are_reported_and_ignored() {
        let delta = |item_id: &str, output_index: u32, content_index: u32| json!({"item_id": item_id, "output_index": output_index, "content_index": content_index, "delta": "x"});
        let mut stream = Stream::new();
        stream
            .push(
                "response.output_item.added",
                json!({"output_index": 0, "item": message("msg_1", "Hi")}),
            )
            // Found by its id despite the wrong index.
            .push("response.output_text.delta", delta("msg_1", 7, 0))
            .push("response.output_text.delta", delta("msg_9", 9, 0))
            .push(
                "response.output_text.delta",
                delta("msg_1", 0, 4_000_000_000),
            )
            .push(
                "response.function_call_arguments.delta",
                json!({"item_id": "msg_1", "output_index": 0, "delta": "{}"}),
            )
            .push("response.refusal.delta", delta("msg_1", 0, 0))
            .push(
                "response.web_search_call.completed",
                json!({"item_id": "ws_1", "output_index": 1}),
            )
            .push(
                "response.output_item.added",
                json!({"output_index": 0, "item": message("msg_1", "Hix")}),
            );
        let assembly = stream.assemble();
        let unknown =
            |event_type: &str, output_index, item_id: &str| Anomaly::DeltaForUnknownItem {
                event_type: event_type.into(),
                output_index,
                item_id: item_id.into(),
            };
        let wrong_kind = |event_type: &str| Anomaly::ItemKindMismatch {
            event_type: event_type.into(),
            output_index: 0,
            item_type: "message".into(),
        };
        assert_eq!(
            assembly.anomalies(),
            [
                unknown("response.output_text.delta", 9, "msg_9"),
                Anomaly::UnknownPart {
                    event_type: "response.output_text.delta".into(),
                    output_index: 0,
                    index: 4_000_000_000
                },
                wrong_kind("response.function_call_arguments.delta"),
                wrong_kind("response.refusal.delta"),
                unknown("response.web_search_call.completed", 1, "ws_1"),
                Anomaly::DuplicateItem { output_index: 0 },
            ]
        );
        assert_eq!(
            assembly.response().unwrap().output,
            items(json!([message("msg_1", "Hix")]))
        );
        let messages: Vec<_> = assembly
            .anomalies()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            messages[..3],
            [
                "`response.output_text.delta` for unknown item `msg_9` at output index 9",
                "`response.output_text.delta` for part 4000000000 of output item 0, beyond its parts",
                "`response.function_call_arguments.delta` does not apply to the `message` item at output index 0",
            ]
        );
    }

    #[test]
    fn snapshots_update_the_header_but_not_the_output() {
        let mut stream = Stream::new();
        stream
            .push("response.output_item.added", json!({"output_index": 0, "item": message("msg_1", "Hi")}))
            .push("response.in_progress", json!({"response": {"id": "resp_t", "status": "in_progress", "model": "gpt-5.5", "output": []}}))
            .push("response.in_progress", json!({"response": {"id": "resp_other", "status": "in_progress", "output": []}}));
        let assembly = stream.assemble();
        let response = assembly.response().unwrap();
        assert_eq!(response.output, items(json!([message("msg_1", "Hi")])));
        assert_eq!(response.id, "resp_other");
        assert_eq!(
            assembly.anomalies(),
            [Anomaly::ResponseIdMismatch {
                expected: "resp_t".into(),
                received: "resp_other".into()
            }]
        );

        // Item events before any lifecycle event are kept for it.
        let early = assemble(&[
            json!({"type": "response.output_item.added", "output_index": 0, "item": message("msg_1", "Hi")}).to_string(),
        ]);
        assert_eq!(early.response(), None);
        let mut early = early;
        early.push(&event(
            r#"{"type":"response.queued","response":{"id":"resp_q","status":"queued"}}"#,
        ));
        let response = early.response().unwrap();
        assert_eq!((response.id.as_str(), response.output.len()), ("resp_q", 1));
        assert_eq!(early.anomalies(), []);
    }

    #[test]
    fn anomalies_are_bounded() {
        let mut assembly = ResponseAssembly::new();
        for number in (0..200u64).rev() {
            assembly.push(&event(&format!(
                r#"{{"type":"codex.rate_limits","sequence_number":{number}}}"#
            )));
        }
        let anomalies = assembly.anomalies();
        assert_eq!(anomalies.len(), MAX_ANOMALIES + 1);
        assert_eq!(
            anomalies[0],
            Anomaly::SequenceOutOfOrder {
                previous: 199,
                received: 198
            }
        );
        assert_eq!(
            anomalies[MAX_ANOMALIES],
            Anomaly::Truncated { dropped: 135 }
        );
    }

    /// The frames of the §9.2 turn 1 response (reasoning and two parallel function calls).
    fn turn_one_frames() -> Vec<&'static str> {
        let frames = TRANSCRIPTS.lines().filter_map(|l| l.strip_prefix("<< "));
        frames
            .skip_while(|frame| !frame.contains(r#""id":"resp_6c0e"#))
            .take(14)
            .collect()
    }

    proptest! {
        #[test]
        fn any_order_and_loss_of_events_is_survived(
            frames in proptest::sample::subsequence(turn_one_frames(), 0..=14)
                .prop_shuffle()
        ) {
            let assembly = assemble(&frames);
            prop_assert!(assembly.anomalies().len() <= MAX_ANOMALIES + 1);
            let terminal = frames.iter().map(|frame| event(frame)).find(ServerEvent::is_terminal);
            match terminal {
                Some(terminal) => {
                    let assembled = assembly.finish().unwrap();
                    prop_assert_eq!(Some(&assembled.response), terminal.response());
                }
                None => prop_assert!(!assembly.is_finished()),
            }
        }
    }
}
