//! Server → client events: [`ServerEvent`] (the envelope: `stream_id`, `sequence_number`) around
//! an [`EventKind`] (one variant per event type of the Responses stream, the WebSocket-only
//! steering and inject events, `error`, and `Unknown` for everything else).
//!
//! Deltas, most of a stream, are read by a scanner of their flat shape (`fast.rs`); every other
//! frame, and any delta the scanner does not take, goes through serde.
//! Decoding reads the frame once, from the already validated `&str`: the `type` field is found
//! first (see `tagged.rs`), then the rest of the object goes straight into the payload type of
//! that event, with ids and deltas borrowed from the frame. An unknown `type` is a value, not an
//! error; unknown fields are ignored.
//!
//! The catalogue lives in one table, `server_events!` below: wire name, variant, payload.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use serde::de::value::{CowStrDeserializer, MapAccessDeserializer};
use serde::de::{DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, Visitor};
use serde::{Deserialize, Serialize};

use super::error::{ApiError, DecodeError};
use super::events::*;
use super::fast;
use super::lenient::{option_cow_str, CowStrSeed};
use super::response::Response;
use super::tagged::{self, TaggedVisitor};
use super::write;

/// One event received from the server.
///
/// ```
/// use std::borrow::Cow;
/// use responses_ws_core::wire::{EventKind, ServerEvent};
///
/// let frame = r#"{"type":"response.output_text.delta","stream_id":"planner","sequence_number":4,
///     "item_id":"msg_pl1","output_index":0,"content_index":0,"delta":"1. Build image.","logprobs":[]}"#;
/// let event = ServerEvent::from_str(frame)?;
///
/// assert_eq!(event.stream_id.as_deref(), Some("planner"));
/// assert_eq!(event.sequence_number, Some(4));
/// let EventKind::OutputTextDelta(delta) = &event.kind else { panic!("not a text delta") };
/// assert!(matches!(delta.delta, Cow::Borrowed("1. Build image."))); // no copy
///
/// // Event types this version does not know are values too.
/// let event = ServerEvent::from_str(r#"{"type":"codex.rate_limits","primary":{"used_percent":3}}"#)?;
/// assert_eq!(event.event_type(), "codex.rate_limits");
/// assert!(matches!(event.kind, EventKind::Unknown(_)));
/// # Ok::<(), responses_ws_core::wire::DecodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ServerEvent<'a> {
    /// The lane (`stream_id` of the request); `None` on the default lane and for
    /// connection-scoped errors.
    pub stream_id: Option<Cow<'a, str>>,
    /// Position in the server's event sequence, when present.
    pub sequence_number: Option<u64>,
    /// What happened.
    pub kind: EventKind<'a>,
}

/// Declares [`EventKind`] and everything that follows the catalogue: the wire names, decoding
/// by name, conversion to owned, and serialisation.
macro_rules! server_events {
    ($( $(#[$doc:meta])* $wire:literal => $variant:ident($payload:ty), )+) => {
        /// What a server event says: one variant per event type.
        #[derive(Debug, Clone, PartialEq)]
        #[non_exhaustive]
        pub enum EventKind<'a> {
            $( $(#[$doc])* #[doc = concat!("\n\n`", $wire, "`")] $variant($payload), )+
            /// An event type this version does not know.
            Unknown(UnknownEvent<'a>),
        }

        impl<'a> EventKind<'a> {
            /// The event's `type`.
            pub fn event_type(&self) -> &str {
                match self {
                    $( EventKind::$variant(_) => $wire, )+
                    EventKind::Unknown(unknown) => &unknown.event_type,
                }
            }

            /// Copies every borrowed string, detaching the event from the frame.
            pub fn into_owned(self) -> EventKind<'static> {
                match self {
                    $( EventKind::$variant(payload) => EventKind::$variant(IntoOwned::into_owned(payload)), )+
                    EventKind::Unknown(unknown) => EventKind::Unknown(unknown.into_owned()),
                }
            }

            /// Decodes the payload of a known event type; `None` for unknown types.
            fn decode_known<M: MapAccess<'a>>(event_type: &str, rest: M) -> Result<Option<Self>, M::Error> {
                let payload = MapAccessDeserializer::new(rest);
                Ok(Some(match event_type {
                    $( $wire => EventKind::$variant(Deserialize::deserialize(payload)?), )+
                    _ => return Ok(None),
                }))
            }

            /// Serialises the event with its envelope; unknown events are their raw frame.
            pub(crate) fn to_json_with(&self, stream_id: Option<&str>, sequence_number: Option<u64>) -> String {
                if let Some(frame) = write::delta(self, stream_id, sequence_number) {
                    return frame;
                }
                match self {
                    $( EventKind::$variant(payload) => framed_json($wire, stream_id, sequence_number, payload), )+
                    EventKind::Unknown(unknown) => unknown.raw.clone().into_owned(),
                }
            }

            /// [`to_json_with`](Self::to_json_with) as serde writes it, for the tests.
            #[cfg(test)]
            pub(super) fn to_json_with_serde(&self, stream_id: Option<&str>, sequence_number: Option<u64>) -> String {
                match self {
                    $( EventKind::$variant(payload) => serde_json::to_string(&Framed {
                        event_type: $wire,
                        stream_id,
                        sequence_number,
                        payload,
                    }).unwrap(), )+
                    EventKind::Unknown(unknown) => unknown.raw.clone().into_owned(),
                }
            }
        }
    };
}

// The most frequent events come first: decoding compares names in this order.
server_events! {
    /// New output text.
    "response.output_text.delta" => OutputTextDelta(TextDelta<'a>),
    /// New function call arguments.
    "response.function_call_arguments.delta" => FunctionCallArgumentsDelta(ItemDelta<'a>),
    /// New reasoning summary text.
    "response.reasoning_summary_text.delta" => ReasoningSummaryTextDelta(SummaryTextDelta<'a>),
    /// New raw reasoning text.
    "response.reasoning_text.delta" => ReasoningTextDelta(TextDelta<'a>),
    /// New custom tool input.
    "response.custom_tool_call_input.delta" => CustomToolCallInputDelta(ItemDelta<'a>),
    /// New refusal text.
    "response.refusal.delta" => RefusalDelta(TextDelta<'a>),
    /// The response was created (status `in_progress` or `queued`).
    "response.created" => Created(LifecycleEvent),
    /// The response is running.
    "response.in_progress" => InProgress(LifecycleEvent),
    /// The response waits in a queue.
    "response.queued" => Queued(LifecycleEvent),
    /// Terminal: the response completed.
    "response.completed" => Completed(LifecycleEvent),
    /// Terminal: the response failed (`response.error` says why).
    "response.failed" => Failed(LifecycleEvent),
    /// Terminal: the response ended incomplete (`response.incomplete_details` says why).
    "response.incomplete" => Incomplete(LifecycleEvent),
    /// Terminal alias of `response.completed` sent by some backends; ignore it when another
    /// terminal event already ended the response.
    "response.done" => Done(LifecycleEvent),
    /// An output item started.
    "response.output_item.added" => OutputItemAdded(OutputItemEvent),
    /// An output item is final.
    "response.output_item.done" => OutputItemDone(OutputItemEvent),
    /// A content part started.
    "response.content_part.added" => ContentPartAdded(ContentPartEvent<'a>),
    /// A content part is final.
    "response.content_part.done" => ContentPartDone(ContentPartEvent<'a>),
    /// The full output text of a part.
    "response.output_text.done" => OutputTextDone(TextDone<'a>),
    /// An annotation was added to output text.
    "response.output_text.annotation.added" => OutputTextAnnotationAdded(AnnotationAdded<'a>),
    /// The full refusal of a part.
    "response.refusal.done" => RefusalDone(RefusalDone<'a>),
    /// The complete function call arguments.
    "response.function_call_arguments.done" => FunctionCallArgumentsDone(ArgumentsDone<'a>),
    /// The complete custom tool input.
    "response.custom_tool_call_input.done" => CustomToolCallInputDone(CustomToolCallInputDone<'a>),
    /// New MCP call arguments.
    "response.mcp_call_arguments.delta" => McpCallArgumentsDelta(ItemDelta<'a>),
    /// The complete MCP call arguments.
    "response.mcp_call_arguments.done" => McpCallArgumentsDone(ArgumentsDone<'a>),
    /// A reasoning summary part started.
    "response.reasoning_summary_part.added" => ReasoningSummaryPartAdded(SummaryPartEvent<'a>),
    /// A reasoning summary part is final.
    "response.reasoning_summary_part.done" => ReasoningSummaryPartDone(SummaryPartEvent<'a>),
    /// The full text of a reasoning summary part.
    "response.reasoning_summary_text.done" => ReasoningSummaryTextDone(SummaryTextDone<'a>),
    /// The full raw reasoning text of a part.
    "response.reasoning_text.done" => ReasoningTextDone(TextDone<'a>),
    /// A web search started.
    "response.web_search_call.in_progress" => WebSearchCallInProgress(ItemProgress<'a>),
    /// A web search is searching.
    "response.web_search_call.searching" => WebSearchCallSearching(ItemProgress<'a>),
    /// A web search finished.
    "response.web_search_call.completed" => WebSearchCallCompleted(ItemProgress<'a>),
    /// A file search started.
    "response.file_search_call.in_progress" => FileSearchCallInProgress(ItemProgress<'a>),
    /// A file search is searching.
    "response.file_search_call.searching" => FileSearchCallSearching(ItemProgress<'a>),
    /// A file search finished.
    "response.file_search_call.completed" => FileSearchCallCompleted(ItemProgress<'a>),
    /// A code interpreter call started.
    "response.code_interpreter_call.in_progress" => CodeInterpreterCallInProgress(ItemProgress<'a>),
    /// The code interpreter is running code.
    "response.code_interpreter_call.interpreting" => CodeInterpreterCallInterpreting(ItemProgress<'a>),
    /// A code interpreter call finished.
    "response.code_interpreter_call.completed" => CodeInterpreterCallCompleted(ItemProgress<'a>),
    /// New code for the code interpreter.
    "response.code_interpreter_call_code.delta" => CodeInterpreterCallCodeDelta(ItemDelta<'a>),
    /// The complete code for the code interpreter.
    "response.code_interpreter_call_code.done" => CodeInterpreterCallCodeDone(CodeDone<'a>),
    /// An image generation started.
    "response.image_generation_call.in_progress" => ImageGenerationCallInProgress(ItemProgress<'a>),
    /// An image is being generated.
    "response.image_generation_call.generating" => ImageGenerationCallGenerating(ItemProgress<'a>),
    /// An image generation finished.
    "response.image_generation_call.completed" => ImageGenerationCallCompleted(ItemProgress<'a>),
    /// A partial image.
    "response.image_generation_call.partial_image" => ImageGenerationCallPartialImage(PartialImage<'a>),
    /// An MCP call started.
    "response.mcp_call.in_progress" => McpCallInProgress(ItemProgress<'a>),
    /// An MCP call finished.
    "response.mcp_call.completed" => McpCallCompleted(ItemProgress<'a>),
    /// An MCP call failed.
    "response.mcp_call.failed" => McpCallFailed(ItemProgress<'a>),
    /// Listing an MCP server's tools started.
    "response.mcp_list_tools.in_progress" => McpListToolsInProgress(ItemProgress<'a>),
    /// Listing an MCP server's tools finished.
    "response.mcp_list_tools.completed" => McpListToolsCompleted(ItemProgress<'a>),
    /// Listing an MCP server's tools failed.
    "response.mcp_list_tools.failed" => McpListToolsFailed(ItemProgress<'a>),
    /// A shell command was added to a shell call.
    "response.shell_call_command.added" => ShellCallCommandAdded(ShellCommand<'a>),
    /// New text of a shell command.
    "response.shell_call_command.delta" => ShellCallCommandDelta(ShellCommandDelta<'a>),
    /// A shell command is complete.
    "response.shell_call_command.done" => ShellCallCommandDone(ShellCommand<'a>),
    /// New output of a shell command.
    "response.shell_call_output_content.delta" => ShellCallOutputContentDelta(ShellOutputDelta<'a>),
    /// The complete output of a shell command.
    "response.shell_call_output_content.done" => ShellCallOutputContentDone(ShellOutputDone<'a>),
    /// New audio (base64).
    "response.audio.delta" => AudioDelta(AudioDelta<'a>),
    /// The audio is complete.
    "response.audio.done" => AudioDone(NoFields),
    /// New audio transcript text.
    "response.audio.transcript.delta" => AudioTranscriptDelta(AudioDelta<'a>),
    /// The audio transcript is complete.
    "response.audio.transcript.done" => AudioTranscriptDone(NoFields),
    /// The server owns the steering input (not applied yet).
    "response.steer.accepted" => SteerAccepted(SteerAccepted),
    /// The steer waits for the client's tool outputs.
    "response.steer.pending" => SteerPending(SteerPending),
    /// The steer was rejected; its input is handed back.
    "response.steer.failed" => SteerFailed(SteerFailed),
    /// Injected items were committed (beta).
    "response.inject.created" => InjectCreated(InjectCreated),
    /// Injected items were rejected (beta).
    "response.inject.failed" => InjectFailed(InjectFailed),
    /// A request or the connection failed. With a `stream_id` it concerns that lane's request;
    /// without one it may concern the connection (e.g. `websocket_connection_limit_reached`).
    "error" => Error(Box<ApiError>),
}

/// An event of a type this version does not know (`codex.rate_limits`, `response.metadata`, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownEvent<'a> {
    /// The event's `type`.
    pub event_type: Cow<'a, str>,
    /// The whole frame, untouched; parse it with `serde_json` to read its fields.
    pub raw: Cow<'a, str>,
}

impl UnknownEvent<'_> {
    /// Copies the borrowed strings.
    pub fn into_owned(self) -> UnknownEvent<'static> {
        UnknownEvent {
            event_type: Cow::Owned(self.event_type.into_owned()),
            raw: Cow::Owned(self.raw.into_owned()),
        }
    }
}

impl<'a> ServerEvent<'a> {
    /// Decodes one text frame, borrowing ids and deltas from it.
    ///
    /// An unknown `type` gives [`EventKind::Unknown`]; unknown fields are ignored. Text that is
    /// not JSON, JSON that is not an event object, and known events with missing or mistyped
    /// required fields give a [`DecodeError`]. See [`ServerEvent`] for an example.
    #[allow(clippy::should_implement_trait)] // `FromStr` cannot borrow from its input.
    pub fn from_str(text: &'a str) -> Result<Self, DecodeError> {
        match fast::decode(text) {
            Some(event) => Ok(event),
            None => Self::from_str_with_serde(text),
        }
    }

    /// Decodes one text frame as [`from_str`](Self::from_str) does, unescaping escaped strings
    /// of a delta into `scratch` (its content is replaced) instead of a `String` each: keep one
    /// buffer and pass it for every frame, and decoding a delta allocates nothing once the
    /// buffer has grown to the deltas' size (argument deltas are JSON fragments, so most carry
    /// escaped quotes; text deltas carry `\n`). Events other than deltas own what they carry
    /// either way.
    ///
    /// ```
    /// use responses_ws_core::wire::{EventKind, ServerEvent};
    ///
    /// let mut scratch = String::new();
    /// let frame = r#"{"type":"response.function_call_arguments.delta","item_id":"fc_1","output_index":0,"delta":"{\"city\":"}"#;
    /// let event = ServerEvent::from_str_in(frame, &mut scratch)?;
    /// let EventKind::FunctionCallArgumentsDelta(delta) = &event.kind else { unreachable!() };
    /// assert_eq!(delta.delta, r#"{"city":"#);
    /// assert!(matches!(delta.delta, std::borrow::Cow::Borrowed(_))); // from `scratch`
    /// # Ok::<(), responses_ws_core::wire::DecodeError>(())
    /// ```
    pub fn from_str_in(text: &'a str, scratch: &'a mut String) -> Result<Self, DecodeError> {
        match fast::decode_in(text, scratch) {
            Some(event) => Ok(event),
            None => Self::from_str_with_serde(text),
        }
    }

    /// The general decoder, for every frame the fast path of deltas does not take.
    pub(super) fn from_str_with_serde(text: &'a str) -> Result<Self, DecodeError> {
        let mut event_type = None;
        let mut deserializer = serde_json::Deserializer::from_str(text);
        deserializer
            .deserialize_map(EventObject {
                text,
                event_type: &mut event_type,
            })
            .and_then(|event| deserializer.end().map(|()| event))
            .map_err(|error| DecodeError::from_json(error, event_type))
    }

    /// The event's `type`.
    pub fn event_type(&self) -> &str {
        self.kind.event_type()
    }

    /// Whether the event ends its response: `response.completed`, `.failed`, `.incomplete`, or
    /// the lenient alias `response.done`. (An `error` ends a request that has not started; the
    /// session layer decides that.)
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.kind,
            EventKind::Completed(_)
                | EventKind::Failed(_)
                | EventKind::Incomplete(_)
                | EventKind::Done(_)
        )
    }

    /// Whether the frame `text` is an event that ends its response (as
    /// [`is_terminal`](Self::is_terminal) says of it decoded), read from its `type` alone when
    /// that is the frame's first field, as the server writes it; otherwise decoded. An error
    /// when it had to be decoded and is not a server event.
    pub(crate) fn ends_response(text: &str) -> Result<bool, DecodeError> {
        match fast::leading_type(text) {
            Some(event_type) => Ok(matches!(
                event_type,
                "response.completed" | "response.failed" | "response.incomplete" | "response.done"
            )),
            None => ServerEvent::from_str(text).map(|event| event.is_terminal()),
        }
    }

    /// The response snapshot carried by lifecycle events.
    pub fn response(&self) -> Option<&Response> {
        match &self.kind {
            EventKind::Created(event)
            | EventKind::InProgress(event)
            | EventKind::Queued(event)
            | EventKind::Completed(event)
            | EventKind::Failed(event)
            | EventKind::Incomplete(event)
            | EventKind::Done(event) => Some(&event.response),
            _ => None,
        }
    }

    /// Copies every borrowed string, detaching the event from the frame.
    pub fn into_owned(self) -> ServerEvent<'static> {
        ServerEvent {
            stream_id: self.stream_id.map(|id| Cow::Owned(id.into_owned())),
            sequence_number: self.sequence_number,
            kind: self.kind.into_owned(),
        }
    }

    /// The event as one JSON text frame (the server side of the protocol, e.g. a mock server).
    /// Unknown events are written back exactly as they were received.
    pub fn to_json(&self) -> String {
        self.kind
            .to_json_with(self.stream_id.as_deref(), self.sequence_number)
    }
}

/// A known event as it goes on the wire: `type`, the envelope, then the payload's fields (as
/// serde writes [`Framed`], without the cost of its `flatten`, which gathers the payload's
/// fields as values before writing them).
fn framed_json<P: Serialize>(
    event_type: &str,
    stream_id: Option<&str>,
    sequence_number: Option<u64>,
    payload: &P,
) -> String {
    let mut envelope = String::with_capacity(256);
    write::envelope(&mut envelope, event_type, stream_id, sequence_number);
    let mut out = envelope.into_bytes();
    let payload_at = out.len();
    write_json(&mut out, payload);
    // The payload is an object (`Framed` flattens it): its fields go on after the envelope's.
    match &out[payload_at..] {
        b"{}" => {
            out.truncate(payload_at);
            out.push(b'}');
        }
        _ => out[payload_at] = b',',
    }
    String::from_utf8(out).expect("serde_json writes UTF-8")
}

/// Appends `value` as JSON (straight into `out` under `std`; through a temporary buffer
/// without it, where serde_json has no writer).
fn write_json<T: Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    #[cfg(feature = "std")]
    serde_json::to_writer(out, value).expect("wire types always serialise to JSON");
    #[cfg(not(feature = "std"))]
    out.extend(serde_json::to_vec(value).expect("wire types always serialise to JSON"));
}

/// The frame of a known event as serde writes it, the reference [`framed_json`] is tested
/// against.
#[cfg(test)]
#[derive(Serialize)]
struct Framed<'e, P> {
    #[serde(rename = "type")]
    event_type: &'e str,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream_id: Option<&'e str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sequence_number: Option<u64>,
    #[serde(flatten)]
    payload: &'e P,
}

/// Visits the top-level object of a frame.
struct EventObject<'t, 'a> {
    text: &'a str,
    /// Where the event type is recorded as soon as it is known, to name it in errors.
    event_type: &'t mut Option<Cow<'a, str>>,
}

impl<'a> Visitor<'a> for EventObject<'_, 'a> {
    type Value = ServerEvent<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a server event object")
    }

    fn visit_map<A: MapAccess<'a>>(self, map: A) -> Result<ServerEvent<'a>, A::Error> {
        let mut envelope = Envelope::default();
        let kind = tagged::visit_tagged_map(
            EnvelopeFilter {
                inner: map,
                envelope: &mut envelope,
            },
            KindByType {
                text: self.text,
                event_type: self.event_type,
            },
        )?;
        Ok(ServerEvent {
            stream_id: envelope.stream_id,
            sequence_number: envelope.sequence_number,
            kind,
        })
    }
}

/// Chooses the payload type from the event type.
struct KindByType<'t, 'a> {
    text: &'a str,
    event_type: &'t mut Option<Cow<'a, str>>,
}

impl<'a> TaggedVisitor<'a> for KindByType<'_, 'a> {
    type Value = EventKind<'a>;

    fn expecting(&self) -> &'static str {
        "a server event object"
    }

    fn visit_tagged<M: MapAccess<'a>>(
        self,
        event_type: Cow<'a, str>,
        mut rest: M,
    ) -> Result<EventKind<'a>, M::Error> {
        *self.event_type = Some(event_type.clone());
        if let Some(kind) = EventKind::decode_known(&event_type, &mut rest)? {
            return Ok(kind);
        }
        tagged::skip_rest(rest)?;
        Ok(EventKind::Unknown(UnknownEvent {
            event_type,
            raw: Cow::Borrowed(self.text),
        }))
    }
}

/// The fields every event may carry.
#[derive(Default)]
struct Envelope<'a> {
    stream_id: Option<Cow<'a, str>>,
    sequence_number: Option<u64>,
}

/// Takes the envelope fields out of an event object, wherever they appear, and passes every
/// other entry through.
struct EnvelopeFilter<'e, 'a, A> {
    inner: A,
    envelope: &'e mut Envelope<'a>,
}

impl<'a, A: MapAccess<'a>> MapAccess<'a> for EnvelopeFilter<'_, 'a, A> {
    type Error = A::Error;

    fn next_key_seed<K: DeserializeSeed<'a>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        while let Some(key) = self.inner.next_key_seed(CowStrSeed)? {
            match &*key {
                "stream_id" => {
                    self.envelope.stream_id = self.inner.next_value_seed(OptionCowStrSeed)?
                }
                "sequence_number" => self.envelope.sequence_number = self.inner.next_value()?,
                _ => {
                    let key: CowStrDeserializer<'_, A::Error> = key.into_deserializer();
                    return seed.deserialize(key).map(Some);
                }
            }
        }
        Ok(None)
    }

    fn next_value_seed<V: DeserializeSeed<'a>>(&mut self, seed: V) -> Result<V::Value, A::Error> {
        self.inner.next_value_seed(seed)
    }
}

/// Reads an optional string, borrowing it when it can.
struct OptionCowStrSeed;

impl<'a> DeserializeSeed<'a> for OptionCowStrSeed {
    type Value = Option<Cow<'a, str>>;

    fn deserialize<D: Deserializer<'a>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        option_cow_str(deserializer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::content::ContentPart;
    use crate::wire::item::Item;
    use crate::wire::response::{IncompleteReason, ResponseStatus};
    use alloc::string::ToString;
    use alloc::vec::Vec;
    use serde_json::Value;

    const TRANSCRIPTS: &str = include_str!("fixtures/transcripts.txt");

    /// The server frames of the protocol.md §9 transcripts.
    fn transcript_server_frames() -> impl Iterator<Item = &'static str> {
        TRANSCRIPTS
            .lines()
            .filter_map(|line| line.strip_prefix("<< "))
    }

    /// Decodes a frame of a known type and checks that it survives `to_json` and `into_owned`.
    fn decode_known(frame: &str) -> ServerEvent<'_> {
        let event = ServerEvent::from_str(frame).unwrap_or_else(|error| panic!("{error}: {frame}"));
        let json: Value = serde_json::from_str(frame).unwrap();
        assert_eq!(event.event_type(), json["type"], "{frame}");
        assert!(!matches!(event.kind, EventKind::Unknown(_)), "{frame}");
        assert_eq!(
            event.stream_id.as_deref(),
            json["stream_id"].as_str(),
            "{frame}"
        );
        assert_eq!(
            event.sequence_number,
            json["sequence_number"].as_u64(),
            "{frame}"
        );
        let written = event.to_json();
        assert_eq!(ServerEvent::from_str(&written).unwrap(), event, "{written}");
        assert_eq!(event.clone().into_owned(), event);
        event
    }

    #[test]
    fn every_transcript_frame_decodes_and_round_trips() {
        let frames: Vec<_> = transcript_server_frames().collect();
        assert_eq!(frames.len(), 73);
        for frame in frames {
            decode_known(frame);
        }
    }

    #[test]
    fn events_are_written_as_serde_writes_them() {
        let mut kinds: Vec<EventKind<'_>> = transcript_server_frames()
            .map(|frame| ServerEvent::from_str(frame).unwrap().kind)
            .collect();
        kinds.push(EventKind::AudioDone(NoFields::default()));
        for kind in &kinds {
            for (stream_id, sequence_number) in [
                (None, None),
                (Some("lane \"1\""), None),
                (None, Some(7)),
                (Some("a"), Some(u64::MAX)),
            ] {
                assert_eq!(
                    kind.to_json_with(stream_id, sequence_number),
                    kind.to_json_with_serde(stream_id, sequence_number)
                );
            }
        }
    }

    #[test]
    fn text_deltas_borrow_from_the_frame() {
        let frame = r#"{"type":"response.output_text.delta","sequence_number":4,"item_id":"msg_11aa22bb33cc44dd55ee66ff77889900","output_index":0,"content_index":0,"delta":"Hello","logprobs":[],"obfuscation":"q8Zr2LmW1x"}"#;
        let event = decode_known(frame);
        let EventKind::OutputTextDelta(delta) = &event.kind else {
            panic!("not a text delta")
        };
        assert!(matches!(
            delta.item_id,
            Cow::Borrowed("msg_11aa22bb33cc44dd55ee66ff77889900")
        ));
        assert!(matches!(delta.delta, Cow::Borrowed("Hello")));
        assert_eq!((delta.output_index, delta.content_index), (0, 0));
    }

    #[test]
    fn argument_deltas_borrow_unless_escaped() {
        let plain = r#"{"type":"response.function_call_arguments.delta","stream_id":"planner","sequence_number":5,"item_id":"fc_aa01","output_index":1,"delta":"Paris"}"#;
        let event = decode_known(plain);
        let EventKind::FunctionCallArgumentsDelta(delta) = &event.kind else {
            panic!("not an argument delta")
        };
        assert!(matches!(delta.delta, Cow::Borrowed("Paris")));
        assert!(matches!(event.stream_id, Some(Cow::Borrowed("planner"))));

        let escaped = r#"{"type":"response.function_call_arguments.delta","sequence_number":5,"item_id":"fc_aa01","output_index":1,"delta":"{\"city\":","obfuscation":"x1"}"#;
        let event = decode_known(escaped);
        let EventKind::FunctionCallArgumentsDelta(delta) = &event.kind else {
            panic!("not an argument delta")
        };
        assert!(matches!(&delta.delta, Cow::Owned(text) if text == r#"{"city":"#));
    }

    #[test]
    fn into_owned_detaches_from_the_frame() {
        let frame = String::from(
            r#"{"type":"response.output_text.delta","stream_id":"a","item_id":"m","output_index":0,"content_index":0,"delta":"hi"}"#,
        );
        let owned: ServerEvent<'static> = ServerEvent::from_str(&frame).unwrap().into_owned();
        drop(frame);
        let EventKind::OutputTextDelta(delta) = owned.kind else {
            panic!("not a text delta")
        };
        assert!(matches!(delta.delta, Cow::Owned(ref text) if text == "hi"));
        assert_eq!(owned.stream_id.as_deref(), Some("a"));
    }

    #[test]
    fn lifecycle_and_tool_call_frames() {
        let mut frames = transcript_server_frames();
        let completed = frames
            .find(|frame| {
                frame.contains(r#""type":"response.completed""#) && frame.contains("call_Tk2")
            })
            .unwrap();
        let event = decode_known(completed);
        assert!(event.is_terminal());
        let response = event.response().unwrap();
        assert_eq!(response.status, Some(ResponseStatus::Completed));
        let calls: Vec<_> = response.tool_calls().filter_map(Item::call_id).collect();
        assert_eq!(calls, ["call_Pq1", "call_Tk2"]);

        let done = transcript_server_frames()
            .find(|frame| frame.contains(r#""type":"response.function_call_arguments.done""#))
            .unwrap();
        let EventKind::FunctionCallArgumentsDone(done) = decode_known(done).kind else {
            panic!("not arguments.done")
        };
        assert_eq!(done.name.as_deref(), Some("get_weather"));
        assert_eq!(done.arguments, r#"{"city":"Paris"}"#);

        let added = transcript_server_frames()
            .find(|frame| frame.contains(r#""type":"response.content_part.added""#))
            .unwrap();
        let EventKind::ContentPartAdded(added) = decode_known(added).kind else {
            panic!("not content_part.added")
        };
        assert_eq!(added.part.text(), Some(""));
    }

    #[test]
    fn steering_frames() {
        let frame = |kind: &str| {
            transcript_server_frames()
                .find(|frame| frame.contains(&alloc::format!(r#""type":"{kind}""#)))
                .unwrap()
        };
        let EventKind::SteerAccepted(accepted) =
            decode_known(frame("response.steer.accepted")).kind
        else {
            panic!("not steer.accepted")
        };
        assert_eq!(accepted.steer.previous_response_id, "resp_1");
        let EventKind::SteerPending(pending) = decode_known(frame("response.steer.pending")).kind
        else {
            panic!("not steer.pending")
        };
        assert_eq!(
            pending.reason.as_deref(),
            Some("waiting_for_required_input")
        );
        assert_eq!(pending.required_input[0].call_id, "call_project");
        let EventKind::SteerFailed(failed) = decode_known(frame("response.steer.failed")).kind
        else {
            panic!("not steer.failed")
        };
        assert_eq!(
            failed.error.unwrap().code.as_deref(),
            Some("successor_creation_failed")
        );
        assert_eq!(failed.steer.input, Some("Keep the scope small.".into()));

        let steered = decode_known(
            r#"{"type":"response.incomplete","sequence_number":9,"response":{"id":"resp_1","object":"response","created_at":1,"status":"incomplete","incomplete_details":{"reason":"steered"},"output":[]}}"#,
        );
        let details = steered
            .response()
            .unwrap()
            .incomplete_details
            .clone()
            .unwrap();
        assert_eq!(details.reason, Some(IncompleteReason::Steered));
    }

    #[test]
    fn error_events_in_every_shape() {
        let lane_limit = transcript_server_frames()
            .find(|frame| frame.contains("websocket_stream_limit_reached"))
            .unwrap();
        let event = decode_known(lane_limit);
        assert_eq!(event.stream_id.as_deref(), Some("agent_33"));
        let EventKind::Error(error) = &event.kind else {
            panic!("not an error")
        };
        assert_eq!(
            (error.status, error.param.as_deref()),
            (Some(400), Some("stream_id"))
        );

        let flat = decode_known(
            r#"{"type":"error","sequence_number":3,"code":"server_is_overloaded","message":"Try again.","param":null}"#,
        );
        let EventKind::Error(error) = &flat.kind else {
            panic!("not an error")
        };
        assert_eq!(error.code.as_deref(), Some("server_is_overloaded"));
        assert_eq!(error.error_type, None);
        assert_eq!(flat.sequence_number, Some(3));

        let chatgpt = decode_known(
            r#"{"type":"error","status_code":429,"headers":{"x-codex-primary-used-percent":"100"},"error":{"type":"usage_limit_reached","message":"The usage limit has been reached"}}"#,
        );
        let EventKind::Error(error) = &chatgpt.kind else {
            panic!("not an error")
        };
        assert_eq!(error.status, Some(429));
        assert_eq!(error.error_type.as_deref(), Some("usage_limit_reached"));
        assert_eq!(error.headers["x-codex-primary-used-percent"], "100");
        assert_eq!(
            chatgpt.to_json(),
            r#"{"type":"error","status":429,"error":{"type":"usage_limit_reached","code":null,"message":"The usage limit has been reached","param":null,"headers":{"x-codex-primary-used-percent":"100"}}}"#
        );
    }

    #[test]
    fn response_done_is_a_terminal_alias() {
        let event = decode_known(
            r#"{"type":"response.done","response":{"id":"resp_d1","object":"response","status":"completed","output":[{"type":"message","id":"msg_1","role":"assistant","status":"completed","content":[{"type":"output_text","text":"ok","annotations":[]}]}]}}"#,
        );
        assert!(matches!(event.kind, EventKind::Done(_)));
        assert!(event.is_terminal());
        assert_eq!(
            event.response().map(|response| response.id.as_str()),
            Some("resp_d1")
        );
    }

    #[test]
    fn an_unknown_item_with_a_repeated_type_keeps_the_tag_that_chose_it() {
        // Found by the `wire_server_event` fuzz target: the second `type` used to overwrite the
        // first in the kept object, which then decoded differently (or not at all).
        for frame in [
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"","type":[]}}"#,
            r#"{"type":"response.output_item.added","output_index":0,"item":{"type":"x","a":1,"type":"function_call"}}"#,
        ] {
            let event = ServerEvent::from_str(frame).unwrap();
            let written = event.to_json();
            assert_eq!(ServerEvent::from_str(&written).unwrap(), event, "{frame}");
        }
    }

    #[test]
    fn unknown_event_types_are_values() {
        for frame in [
            r#"{"type":"codex.rate_limits","primary":{"used_percent":12.5},"secondary":null}"#,
            r#"{"type":"responsesapi.websocket_timing","stream_id":"lane","sequence_number":7,"timing":{"ttft_ms":120}}"#,
            r#"{"stream_id":"lane","type":"response.metadata","metadata":{"x":1}}"#,
        ] {
            let event = ServerEvent::from_str(frame).unwrap();
            let EventKind::Unknown(unknown) = &event.kind else {
                panic!("not unknown: {frame}")
            };
            assert!(matches!(unknown.raw, Cow::Borrowed(raw) if raw == frame));
            assert_eq!(event.to_json(), frame);
            assert!(!event.is_terminal());
        }
        let timing = ServerEvent::from_str(
            r#"{"type":"responsesapi.websocket_timing","stream_id":"lane","sequence_number":7}"#,
        )
        .unwrap();
        assert_eq!(
            (timing.stream_id.as_deref(), timing.sequence_number),
            (Some("lane"), Some(7))
        );
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let event = decode_known(
            r#"{"type":"response.output_text.delta","agent":{"agent_name":"researcher"},"sequence_number":4,"item_id":"m","output_index":0,"content_index":0,"delta":"x","logprobs":[],"obfuscation":"pad","future":{"nested":[1,2,{"a":null}]}}"#,
        );
        assert!(matches!(event.kind, EventKind::OutputTextDelta(_)));
    }

    #[test]
    fn type_and_envelope_may_come_anywhere() {
        let event = decode_known(
            r#"{"item_id":"m","sequence_number":4,"output_index":0,"content_index":1,"delta":"late","type":"response.output_text.delta","stream_id":"s"}"#,
        );
        let EventKind::OutputTextDelta(delta) = &event.kind else {
            panic!("not a text delta")
        };
        assert_eq!((delta.delta.as_ref(), delta.content_index), ("late", 1));
        assert_eq!(event.stream_id.as_deref(), Some("s"));
        let null_lane =
            ServerEvent::from_str(r#"{"type":"response.audio.done","stream_id":null}"#).unwrap();
        assert_eq!(null_lane.stream_id, None);
    }

    #[test]
    fn bad_frames_are_typed_errors() {
        for garbage in [
            "",
            "{",
            "not json",
            r#"{"type":"response.output_text.delta","delta":"x"#,
            r#"{"type":"response.audio.done"} trailing"#,
        ] {
            assert!(
                matches!(
                    ServerEvent::from_str(garbage),
                    Err(DecodeError::Malformed(_))
                ),
                "{garbage:?}"
            );
        }
        for not_an_event in ["[]", "null", "42", r#"{"delta":"x"}"#, r#"{"type":7}"#] {
            assert!(
                matches!(
                    ServerEvent::from_str(not_an_event),
                    Err(DecodeError::NotAnEvent(_))
                ),
                "{not_an_event:?}"
            );
        }
        let missing_delta = ServerEvent::from_str(
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0}"#,
        );
        let Err(error @ DecodeError::InvalidEvent { .. }) = missing_delta else {
            panic!("{missing_delta:?}")
        };
        assert_eq!(
            error.to_string(),
            "invalid `response.output_text.delta` event: missing field `delta` at line 1 column 68"
        );
        assert!(matches!(
            ServerEvent::from_str(
                r#"{"type":"response.created","sequence_number":"zero","response":{"id":"r"}}"#
            ),
            Err(DecodeError::InvalidEvent { .. })
        ));
    }

    #[test]
    fn every_other_event_type_decodes() {
        let frames = [
            r#"{"type":"response.queued","sequence_number":1,"response":{"id":"resp_q","status":"queued"}}"#,
            r#"{"type":"response.refusal.delta","sequence_number":1,"item_id":"msg","output_index":0,"content_index":0,"delta":"I can"}"#,
            r#"{"type":"response.refusal.done","sequence_number":1,"item_id":"msg","output_index":0,"content_index":0,"refusal":"I cannot help."}"#,
            r#"{"type":"response.output_text.annotation.added","sequence_number":1,"item_id":"msg","output_index":0,"content_index":0,"annotation_index":0,"annotation":{"type":"url_citation","url":"https://e.x","title":"E","start_index":1,"end_index":4}}"#,
            r#"{"type":"response.custom_tool_call_input.delta","sequence_number":1,"output_index":0,"item_id":"ctc","delta":"*** Begin"}"#,
            r#"{"type":"response.custom_tool_call_input.done","sequence_number":1,"output_index":0,"item_id":"ctc","input":"*** Begin Patch"}"#,
            r#"{"type":"response.mcp_call_arguments.delta","sequence_number":1,"output_index":0,"item_id":"mcp","delta":"{"}"#,
            r#"{"type":"response.mcp_call_arguments.done","sequence_number":1,"output_index":0,"item_id":"mcp","arguments":"{}"}"#,
            r#"{"type":"response.reasoning_summary_part.added","sequence_number":1,"item_id":"rs","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":""}}"#,
            r#"{"type":"response.reasoning_summary_part.done","sequence_number":1,"item_id":"rs","output_index":0,"summary_index":0,"part":{"type":"summary_text","text":"Compare."},"status":"incomplete"}"#,
            r#"{"type":"response.reasoning_summary_text.delta","sequence_number":1,"item_id":"rs","output_index":0,"summary_index":0,"delta":"Comp"}"#,
            r#"{"type":"response.reasoning_summary_text.done","sequence_number":1,"item_id":"rs","output_index":0,"summary_index":0,"text":"Compare."}"#,
            r#"{"type":"response.reasoning_text.delta","sequence_number":1,"item_id":"rs","output_index":0,"content_index":0,"delta":"hm"}"#,
            r#"{"type":"response.reasoning_text.done","sequence_number":1,"item_id":"rs","output_index":0,"content_index":0,"text":"hmm"}"#,
            r#"{"type":"response.web_search_call.in_progress","sequence_number":1,"output_index":0,"item_id":"ws"}"#,
            r#"{"type":"response.web_search_call.searching","sequence_number":1,"output_index":0,"item_id":"ws"}"#,
            r#"{"type":"response.web_search_call.completed","sequence_number":1,"output_index":0,"item_id":"ws"}"#,
            r#"{"type":"response.file_search_call.in_progress","sequence_number":1,"output_index":0,"item_id":"fs"}"#,
            r#"{"type":"response.file_search_call.searching","sequence_number":1,"output_index":0,"item_id":"fs"}"#,
            r#"{"type":"response.file_search_call.completed","sequence_number":1,"output_index":0,"item_id":"fs"}"#,
            r#"{"type":"response.code_interpreter_call.in_progress","sequence_number":1,"output_index":0,"item_id":"ci"}"#,
            r#"{"type":"response.code_interpreter_call.interpreting","sequence_number":1,"output_index":0,"item_id":"ci"}"#,
            r#"{"type":"response.code_interpreter_call.completed","sequence_number":1,"output_index":0,"item_id":"ci"}"#,
            r#"{"type":"response.code_interpreter_call_code.delta","sequence_number":1,"output_index":0,"item_id":"ci","delta":"print("}"#,
            r#"{"type":"response.code_interpreter_call_code.done","sequence_number":1,"output_index":0,"item_id":"ci","code":"print(1)"}"#,
            r#"{"type":"response.image_generation_call.in_progress","sequence_number":1,"output_index":0,"item_id":"ig"}"#,
            r#"{"type":"response.image_generation_call.generating","sequence_number":1,"output_index":0,"item_id":"ig"}"#,
            r#"{"type":"response.image_generation_call.completed","sequence_number":1,"output_index":0,"item_id":"ig"}"#,
            r#"{"type":"response.image_generation_call.partial_image","sequence_number":1,"output_index":0,"item_id":"ig","partial_image_index":0,"partial_image_b64":"iVBORw0","size":"1024x1024","output_format":"png"}"#,
            r#"{"type":"response.mcp_call.in_progress","sequence_number":1,"output_index":0,"item_id":"mcp"}"#,
            r#"{"type":"response.mcp_call.completed","sequence_number":1,"output_index":0,"item_id":"mcp"}"#,
            r#"{"type":"response.mcp_call.failed","sequence_number":1,"output_index":0,"item_id":"mcp"}"#,
            r#"{"type":"response.mcp_list_tools.in_progress","sequence_number":1,"output_index":0,"item_id":"mcpl"}"#,
            r#"{"type":"response.mcp_list_tools.completed","sequence_number":1,"output_index":0,"item_id":"mcpl"}"#,
            r#"{"type":"response.mcp_list_tools.failed","sequence_number":1,"output_index":0,"item_id":"mcpl"}"#,
            r#"{"type":"response.shell_call_command.added","sequence_number":1,"output_index":0,"command_index":0,"command":""}"#,
            r#"{"type":"response.shell_call_command.delta","sequence_number":1,"output_index":0,"command_index":0,"delta":"ls","obfuscation":"p"}"#,
            r#"{"type":"response.shell_call_command.done","sequence_number":1,"output_index":0,"command_index":0,"command":"ls -la"}"#,
            r#"{"type":"response.shell_call_output_content.delta","sequence_number":1,"item_id":"sh","output_index":0,"command_index":0,"delta":{"stdout":"a\n","stderr":""}}"#,
            r#"{"type":"response.shell_call_output_content.done","sequence_number":1,"item_id":"sh","output_index":0,"command_index":0,"output":[{"stdout":"a\n","stderr":"","outcome":{"type":"exit","exit_code":0},"created_by":"shell"}]}"#,
            r#"{"type":"response.audio.delta","sequence_number":1,"delta":"UklGR"}"#,
            r#"{"type":"response.audio.done","sequence_number":1}"#,
            r#"{"type":"response.audio.transcript.delta","sequence_number":1,"delta":"Hel"}"#,
            r#"{"type":"response.audio.transcript.done","sequence_number":1}"#,
            r#"{"type":"response.inject.created","stream_id":"ma","sequence_number":1,"response_id":"resp_ma"}"#,
            r#"{"type":"response.inject.failed","sequence_number":1,"response_id":"resp_ma","input":[{"type":"function_call_output","call_id":"call_1","output":"done"}],"error":{"code":"response_already_completed","message":"Already completed."}}"#,
        ];
        for frame in frames {
            decode_known(frame);
        }
        let EventKind::ReasoningSummaryPartDone(part) = decode_known(frames[9]).kind else {
            panic!()
        };
        assert_eq!(
            (part.part.text.as_str(), part.status.as_deref()),
            ("Compare.", Some("incomplete"))
        );
        let EventKind::OutputTextAnnotationAdded(annotation) = decode_known(frames[3]).kind else {
            panic!()
        };
        assert!(matches!(
            annotation.annotation,
            Some(crate::wire::content::Annotation::UrlCitation(_))
        ));
        let EventKind::InjectFailed(failed) = decode_known(frames[45]).kind else {
            panic!()
        };
        assert_eq!(failed.input, [Item::function_call_output("call_1", "done")]);
    }

    #[test]
    fn written_events_put_type_and_envelope_first() {
        let event = ServerEvent {
            stream_id: Some(Cow::Borrowed("planner")),
            sequence_number: Some(4),
            kind: EventKind::OutputItemAdded(OutputItemEvent {
                output_index: 0,
                item: Item::Message(crate::wire::item::Message {
                    id: Some("msg_pl1".into()),
                    role: crate::wire::item::Role::Assistant,
                    content: alloc::vec![ContentPart::OutputText(Default::default())].into(),
                    status: Some(crate::wire::item::ItemStatus::InProgress),
                    phase: None,
                }),
            }),
        };
        assert_eq!(
            event.to_json(),
            r#"{"type":"response.output_item.added","stream_id":"planner","sequence_number":4,"output_index":0,"item":{"type":"message","id":"msg_pl1","role":"assistant","content":[{"type":"output_text","text":"","annotations":[]}],"status":"in_progress"}}"#
        );
    }
}
