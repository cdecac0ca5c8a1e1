//! The payloads of server events: the fields each event carries besides `type`, `stream_id` and
//! `sequence_number` (which live on [`ServerEvent`](super::ServerEvent)).
//!
//! Events that stream (deltas, their `.done` counterparts, per-item progress) borrow their ids
//! and text from the frame (`Cow<'a, str>`), so decoding a delta allocates nothing when its
//! strings have no escapes. Events that carry whole objects (responses, items, errors) own them.
//! Events of the same shape share one payload type.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::client::Input;
use super::content::{Annotation, ContentPart, LogProb, SummaryPart};
use super::error::{serialize_error_body, ApiError};
use super::item::Item;
use super::lenient::{null_as_default, option_cow_str};
use super::response::Response;

/// Turns a borrowed payload into one that owns its strings.
pub(crate) trait IntoOwned {
    /// The same payload with a `'static` lifetime.
    type Owned;
    /// Copies every borrowed string.
    fn into_owned(self) -> Self::Owned;
}

/// `IntoOwned` for payloads that already own everything.
macro_rules! already_owned {
    ($($payload:ty),+ $(,)?) => {
        $(impl IntoOwned for $payload {
            type Owned = Self;
            fn into_owned(self) -> Self {
                self
            }
        })+
    };
}

/// `IntoOwned` for borrowed payloads: lists the `Cow` fields, the `Option<Cow>` fields and the
/// fields that are moved as they are.
macro_rules! borrowed_payload {
    ($payload:ident { cow: [$($cow:ident),*], option_cow: [$($option_cow:ident),*], moved: [$($moved:ident),*] }) => {
        impl IntoOwned for $payload<'_> {
            type Owned = $payload<'static>;
            fn into_owned(self) -> $payload<'static> {
                $payload {
                    $($cow: Cow::Owned(self.$cow.into_owned()),)*
                    $($option_cow: self.$option_cow.map(|text| Cow::Owned(text.into_owned())),)*
                    $($moved: self.$moved,)*
                }
            }
        }
    };
}

/// `response.created`, `.in_progress`, `.queued`, `.completed`, `.failed`, `.incomplete` and the
/// lenient terminal `response.done`: a snapshot of the response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LifecycleEvent {
    /// The response.
    pub response: Box<Response>,
}

/// `response.output_item.added` / `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OutputItemEvent {
    /// Position in `response.output`.
    pub output_index: u32,
    /// The item: empty when added, final when done.
    pub item: Item,
}

/// `response.content_part.added` / `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContentPartEvent<'a> {
    /// The message item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's content.
    pub content_index: u32,
    /// The part: empty when added, final when done.
    pub part: ContentPart,
}

/// A piece of text: `response.output_text.delta`, `response.refusal.delta`,
/// `response.reasoning_text.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDelta<'a> {
    /// The item the text belongs to.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's content.
    #[serde(default)]
    pub content_index: u32,
    /// The new text.
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
    /// Log probabilities of the new tokens (empty unless requested).
    #[serde(default, deserialize_with = "null_as_default")]
    pub logprobs: Vec<LogProb>,
}

/// The full text of a part: `response.output_text.done`, `response.reasoning_text.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextDone<'a> {
    /// The item the text belongs to.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's content.
    #[serde(default)]
    pub content_index: u32,
    /// The whole text.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
    /// Log probabilities of all its tokens (empty unless requested).
    #[serde(default, deserialize_with = "null_as_default")]
    pub logprobs: Vec<LogProb>,
}

/// `response.refusal.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RefusalDone<'a> {
    /// The message item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's content.
    #[serde(default)]
    pub content_index: u32,
    /// The whole refusal.
    #[serde(borrow)]
    pub refusal: Cow<'a, str>,
}

/// `response.output_text.annotation.added`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnotationAdded<'a> {
    /// The message item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's content.
    #[serde(default)]
    pub content_index: u32,
    /// Position of the annotation in the part's annotations.
    #[serde(default)]
    pub annotation_index: u32,
    /// The annotation.
    #[serde(default)]
    pub annotation: Option<Annotation>,
}

/// A fragment of tool input: `response.function_call_arguments.delta`,
/// `response.custom_tool_call_input.delta`, `response.mcp_call_arguments.delta`,
/// `response.code_interpreter_call_code.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemDelta<'a> {
    /// The call item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// The new fragment.
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
}

/// Complete call arguments: `response.function_call_arguments.done` (with `name`) and
/// `response.mcp_call_arguments.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArgumentsDone<'a> {
    /// The call item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Function name (function calls).
    #[serde(
        default,
        borrow,
        deserialize_with = "option_cow_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub name: Option<Cow<'a, str>>,
    /// The arguments as one JSON string.
    #[serde(borrow)]
    pub arguments: Cow<'a, str>,
}

/// `response.custom_tool_call_input.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CustomToolCallInputDone<'a> {
    /// The call item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// The whole input.
    #[serde(borrow)]
    pub input: Cow<'a, str>,
}

/// `response.code_interpreter_call_code.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CodeDone<'a> {
    /// The code interpreter call item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// The whole code.
    #[serde(borrow)]
    pub code: Cow<'a, str>,
}

/// `response.reasoning_summary_part.added` / `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryPartEvent<'a> {
    /// The reasoning item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's summary.
    pub summary_index: u32,
    /// The part: empty when added, final when done.
    pub part: SummaryPart,
    /// `incomplete` when the part was cut short (done only).
    #[serde(
        default,
        borrow,
        deserialize_with = "option_cow_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<Cow<'a, str>>,
}

/// `response.reasoning_summary_text.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryTextDelta<'a> {
    /// The reasoning item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's summary.
    pub summary_index: u32,
    /// The new text.
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
}

/// `response.reasoning_summary_text.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SummaryTextDone<'a> {
    /// The reasoning item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the part in the item's summary.
    pub summary_index: u32,
    /// The whole text.
    #[serde(borrow)]
    pub text: Cow<'a, str>,
}

/// Progress of a hosted tool call (`response.web_search_call.searching`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemProgress<'a> {
    /// The call item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
}

/// `response.image_generation_call.partial_image`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PartialImage<'a> {
    /// The image generation call item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// 0-based index of this partial image.
    pub partial_image_index: u32,
    /// The image, base64.
    #[serde(borrow)]
    pub partial_image_b64: Cow<'a, str>,
    /// Image size, e.g. `1024x1024`.
    #[serde(
        default,
        borrow,
        deserialize_with = "option_cow_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub size: Option<Cow<'a, str>>,
    /// Image quality.
    #[serde(
        default,
        borrow,
        deserialize_with = "option_cow_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub quality: Option<Cow<'a, str>>,
    /// Background (`transparent`, `opaque`).
    #[serde(
        default,
        borrow,
        deserialize_with = "option_cow_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub background: Option<Cow<'a, str>>,
    /// Image format, e.g. `png`.
    #[serde(
        default,
        borrow,
        deserialize_with = "option_cow_str",
        skip_serializing_if = "Option::is_none"
    )]
    pub output_format: Option<Cow<'a, str>>,
}

/// `response.shell_call_command.added` / `.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShellCommand<'a> {
    /// Position of the shell call item in `response.output`.
    pub output_index: u32,
    /// Position of the command in the call.
    pub command_index: u32,
    /// The command so far (added) or whole (done).
    #[serde(borrow)]
    pub command: Cow<'a, str>,
}

/// `response.shell_call_command.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShellCommandDelta<'a> {
    /// Position of the shell call item in `response.output`.
    pub output_index: u32,
    /// Position of the command in the call.
    pub command_index: u32,
    /// The new text of the command.
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
}

/// `response.shell_call_output_content.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShellOutputDelta<'a> {
    /// The shell call output item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the command in the call.
    pub command_index: u32,
    /// New output.
    pub delta: ShellOutputChunk,
}

/// A piece of a shell command's output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShellOutputChunk {
    /// Standard output.
    #[serde(default)]
    pub stdout: String,
    /// Standard error.
    #[serde(default)]
    pub stderr: String,
}

/// `response.shell_call_output_content.done`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShellOutputDone<'a> {
    /// The shell call output item.
    #[serde(borrow)]
    pub item_id: Cow<'a, str>,
    /// Position of the item in `response.output`.
    pub output_index: u32,
    /// Position of the command in the call.
    pub command_index: u32,
    /// The outputs, each `{stdout, stderr, outcome, created_by}`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub output: Vec<Value>,
}

/// `response.audio.delta` and `response.audio.transcript.delta`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioDelta<'a> {
    /// Audio (base64) or transcript text.
    #[serde(borrow)]
    pub delta: Cow<'a, str>,
}

/// `response.audio.done` and `response.audio.transcript.done`: nothing besides the envelope.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoFields {}

/// The steer a `response.steer.*` event is about.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteerRef {
    /// Steer id (`steer_…`); absent when rejected before one was allocated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The steered response.
    pub previous_response_id: String,
    /// The input handed back (failed steers only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Input>,
}

/// `response.steer.accepted`: the server owns the input; it is not applied yet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteerAccepted {
    /// The steer.
    pub steer: SteerRef,
}

/// `response.steer.pending`: the steer waits for client-owned tool output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteerPending {
    /// The steer.
    pub steer: SteerRef,
    /// Why it waits, e.g. `waiting_for_required_input`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The outputs the client must send (in one `response.create` on the same lane).
    #[serde(default, deserialize_with = "null_as_default")]
    pub required_input: Vec<RequiredInput>,
}

/// An output the server waits for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequiredInput {
    /// Kind of output, e.g. `function_call_output`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The call to answer.
    pub call_id: String,
    /// The tool's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `response.steer.failed`: the steer was rejected; its input is handed back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteerFailed {
    /// The steer, with its input.
    pub steer: SteerRef,
    /// Why (`successor_creation_failed`, `steering_not_supported`, …).
    #[serde(serialize_with = "serialize_error_body")]
    pub error: Option<ApiError>,
}

/// `response.inject.created` (beta): the injected items were committed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectCreated {
    /// The response they were committed to.
    pub response_id: String,
}

/// `response.inject.failed` (beta): the items were rejected and handed back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InjectFailed {
    /// The target response.
    pub response_id: String,
    /// The rejected items.
    #[serde(default, deserialize_with = "null_as_default")]
    pub input: Vec<Item>,
    /// Why (`response_already_completed`, `response_not_found`).
    #[serde(serialize_with = "serialize_error_body")]
    pub error: Option<ApiError>,
}

already_owned!(
    LifecycleEvent,
    OutputItemEvent,
    NoFields,
    SteerAccepted,
    SteerPending,
    SteerFailed,
    InjectCreated,
    InjectFailed,
    Box<ApiError>,
);

borrowed_payload!(ContentPartEvent {
    cow: [item_id],
    option_cow: [],
    moved: [output_index, content_index, part]
});
borrowed_payload!(TextDelta {
    cow: [item_id, delta],
    option_cow: [],
    moved: [output_index, content_index, logprobs]
});
borrowed_payload!(TextDone {
    cow: [item_id, text],
    option_cow: [],
    moved: [output_index, content_index, logprobs]
});
borrowed_payload!(RefusalDone {
    cow: [item_id, refusal],
    option_cow: [],
    moved: [output_index, content_index]
});
borrowed_payload!(AnnotationAdded {
    cow: [item_id],
    option_cow: [],
    moved: [output_index, content_index, annotation_index, annotation]
});
borrowed_payload!(ItemDelta {
    cow: [item_id, delta],
    option_cow: [],
    moved: [output_index]
});
borrowed_payload!(ArgumentsDone {
    cow: [item_id, arguments],
    option_cow: [name],
    moved: [output_index]
});
borrowed_payload!(CustomToolCallInputDone {
    cow: [item_id, input],
    option_cow: [],
    moved: [output_index]
});
borrowed_payload!(CodeDone {
    cow: [item_id, code],
    option_cow: [],
    moved: [output_index]
});
borrowed_payload!(SummaryPartEvent {
    cow: [item_id],
    option_cow: [status],
    moved: [output_index, summary_index, part]
});
borrowed_payload!(SummaryTextDelta {
    cow: [item_id, delta],
    option_cow: [],
    moved: [output_index, summary_index]
});
borrowed_payload!(SummaryTextDone {
    cow: [item_id, text],
    option_cow: [],
    moved: [output_index, summary_index]
});
borrowed_payload!(ItemProgress {
    cow: [item_id],
    option_cow: [],
    moved: [output_index]
});
borrowed_payload!(PartialImage {
    cow: [item_id, partial_image_b64],
    option_cow: [size, quality, background, output_format],
    moved: [output_index, partial_image_index]
});
borrowed_payload!(ShellCommand {
    cow: [command],
    option_cow: [],
    moved: [output_index, command_index]
});
borrowed_payload!(ShellCommandDelta {
    cow: [delta],
    option_cow: [],
    moved: [output_index, command_index]
});
borrowed_payload!(ShellOutputDelta {
    cow: [item_id],
    option_cow: [],
    moved: [output_index, command_index, delta]
});
borrowed_payload!(ShellOutputDone {
    cow: [item_id],
    option_cow: [],
    moved: [output_index, command_index, output]
});
borrowed_payload!(AudioDelta {
    cow: [delta],
    option_cow: [],
    moved: []
});
