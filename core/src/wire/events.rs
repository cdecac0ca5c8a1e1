//! The payloads of server events: the fields each event carries besides `type`, `stream_id` and
//! `sequence_number` (which live on [`ServerEvent`](super::ServerEvent)).
//!
//! Events that stream (deltas, their `.done` counterparts, per-item progress) borrow their ids
//! and text from the frame (`Cow<'a, str>`), so decoding a delta allocates nothing when its
//! strings have no escapes. Events that carry whole objects (responses, items, errors) own them.
//! Events of the same shape share one payload type. The borrowed payloads are declared through
//! `borrowed_payloads!`, which writes their serde attributes and their `IntoOwned` from the
//! field list alone.

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

/// Declares payloads that borrow from the frame, each written as a struct whose fields are
/// `Text` (a string borrowed when it has no escapes: `Cow<'a, str>`), `Option<Text>` (the same,
/// absent or `null` read as `None`, left out when writing) or any owned type, moved as it is;
/// attributes on an owned field are kept. Each struct gets `<'a>`, its derives, its serde
/// attributes and its [`IntoOwned`], which copies the `Text` fields and moves the rest.
///
/// The fields are sorted one at a time into the struct body and the three field lists of
/// `IntoOwned` (a token muncher), because a field's kind decides its attributes.
macro_rules! borrowed_payloads {
    ($($(#[$meta:meta])* pub struct $name:ident { $($fields:tt)* })*) => {
        $(borrowed_payloads!(@field [$(#[$meta])*] $name [] [] [] [] $($fields)*);)*
    };
    // A borrowed string.
    (@field $meta:tt $name:ident [$($body:tt)*] [$($text:ident)*] [$($option:ident)*] [$($moved:ident)*]
        $(#[doc = $doc:literal])* $field:ident: Text, $($rest:tt)*) => {
        borrowed_payloads!(@field $meta $name
            [$($body)* $(#[doc = $doc])* #[serde(borrow)] pub $field: Cow<'a, str>,]
            [$($text)* $field] [$($option)*] [$($moved)*] $($rest)*);
    };
    // An optional borrowed string.
    (@field $meta:tt $name:ident [$($body:tt)*] [$($text:ident)*] [$($option:ident)*] [$($moved:ident)*]
        $(#[doc = $doc:literal])* $field:ident: Option<Text>, $($rest:tt)*) => {
        borrowed_payloads!(@field $meta $name
            [$($body)* $(#[doc = $doc])*
                #[serde(default, borrow, deserialize_with = "option_cow_str", skip_serializing_if = "Option::is_none")]
                pub $field: Option<Cow<'a, str>>,]
            [$($text)*] [$($option)* $field] [$($moved)*] $($rest)*);
    };
    // Anything else, owned.
    (@field $meta:tt $name:ident [$($body:tt)*] [$($text:ident)*] [$($option:ident)*] [$($moved:ident)*]
        $(#[$field_meta:meta])* $field:ident: $ty:ty, $($rest:tt)*) => {
        borrowed_payloads!(@field $meta $name
            [$($body)* $(#[$field_meta])* pub $field: $ty,]
            [$($text)*] [$($option)*] [$($moved)* $field] $($rest)*);
    };
    // Every field sorted: the struct and its `IntoOwned`.
    (@field [$(#[$meta:meta])*] $name:ident [$($body:tt)*] [$($text:ident)*] [$($option:ident)*] [$($moved:ident)*]) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
        pub struct $name<'a> {
            $($body)*
        }

        impl IntoOwned for $name<'_> {
            type Owned = $name<'static>;
            fn into_owned(self) -> $name<'static> {
                $name {
                    $($text: Cow::Owned(self.$text.into_owned()),)*
                    $($option: self.$option.map(|text| Cow::Owned(text.into_owned())),)*
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

borrowed_payloads! {
    /// `response.content_part.added` / `.done`.
    pub struct ContentPartEvent {
        /// The message item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's content.
        content_index: u32,
        /// The part: empty when added, final when done.
        part: ContentPart,
    }

    /// A piece of text: `response.output_text.delta`, `response.refusal.delta`,
    /// `response.reasoning_text.delta`.
    pub struct TextDelta {
        /// The item the text belongs to.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's content.
        #[serde(default)]
        content_index: u32,
        /// The new text.
        delta: Text,
        /// Log probabilities of the new tokens (empty unless requested).
        #[serde(default, deserialize_with = "null_as_default")]
        logprobs: Vec<LogProb>,
    }

    /// The full text of a part: `response.output_text.done`, `response.reasoning_text.done`.
    pub struct TextDone {
        /// The item the text belongs to.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's content.
        #[serde(default)]
        content_index: u32,
        /// The whole text.
        text: Text,
        /// Log probabilities of all its tokens (empty unless requested).
        #[serde(default, deserialize_with = "null_as_default")]
        logprobs: Vec<LogProb>,
    }

    /// `response.refusal.done`.
    pub struct RefusalDone {
        /// The message item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's content.
        #[serde(default)]
        content_index: u32,
        /// The whole refusal.
        refusal: Text,
    }

    /// `response.output_text.annotation.added`.
    pub struct AnnotationAdded {
        /// The message item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's content.
        #[serde(default)]
        content_index: u32,
        /// Position of the annotation in the part's annotations.
        #[serde(default)]
        annotation_index: u32,
        /// The annotation.
        #[serde(default)]
        annotation: Option<Annotation>,
    }

    /// A fragment of tool input: `response.function_call_arguments.delta`,
    /// `response.custom_tool_call_input.delta`, `response.mcp_call_arguments.delta`,
    /// `response.code_interpreter_call_code.delta`.
    pub struct ItemDelta {
        /// The call item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// The new fragment.
        delta: Text,
    }

    /// Complete call arguments: `response.function_call_arguments.done` (with `name`) and
    /// `response.mcp_call_arguments.done`.
    pub struct ArgumentsDone {
        /// The call item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Function name (function calls).
        name: Option<Text>,
        /// The arguments as one JSON string.
        arguments: Text,
    }

    /// `response.custom_tool_call_input.done`.
    pub struct CustomToolCallInputDone {
        /// The call item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// The whole input.
        input: Text,
    }

    /// `response.code_interpreter_call_code.done`.
    pub struct CodeDone {
        /// The code interpreter call item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// The whole code.
        code: Text,
    }

    /// `response.reasoning_summary_part.added` / `.done`.
    pub struct SummaryPartEvent {
        /// The reasoning item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's summary.
        summary_index: u32,
        /// The part: empty when added, final when done.
        part: SummaryPart,
        /// `incomplete` when the part was cut short (done only).
        status: Option<Text>,
    }

    /// `response.reasoning_summary_text.delta`.
    pub struct SummaryTextDelta {
        /// The reasoning item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's summary.
        summary_index: u32,
        /// The new text.
        delta: Text,
    }

    /// `response.reasoning_summary_text.done`.
    pub struct SummaryTextDone {
        /// The reasoning item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the part in the item's summary.
        summary_index: u32,
        /// The whole text.
        text: Text,
    }

    /// Progress of a hosted tool call (`response.web_search_call.searching`, …).
    pub struct ItemProgress {
        /// The call item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
    }

    /// `response.image_generation_call.partial_image`.
    pub struct PartialImage {
        /// The image generation call item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// 0-based index of this partial image.
        partial_image_index: u32,
        /// The image, base64.
        partial_image_b64: Text,
        /// Image size, e.g. `1024x1024`.
        size: Option<Text>,
        /// Image quality.
        quality: Option<Text>,
        /// Background (`transparent`, `opaque`).
        background: Option<Text>,
        /// Image format, e.g. `png`.
        output_format: Option<Text>,
    }

    /// `response.shell_call_command.added` / `.done`.
    pub struct ShellCommand {
        /// Position of the shell call item in `response.output`.
        output_index: u32,
        /// Position of the command in the call.
        command_index: u32,
        /// The command so far (added) or whole (done).
        command: Text,
    }

    /// `response.shell_call_command.delta`.
    pub struct ShellCommandDelta {
        /// Position of the shell call item in `response.output`.
        output_index: u32,
        /// Position of the command in the call.
        command_index: u32,
        /// The new text of the command.
        delta: Text,
    }

    /// `response.shell_call_output_content.delta`.
    pub struct ShellOutputDelta {
        /// The shell call output item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the command in the call.
        command_index: u32,
        /// New output.
        delta: ShellOutputChunk,
    }

    /// `response.shell_call_output_content.done`.
    pub struct ShellOutputDone {
        /// The shell call output item.
        item_id: Text,
        /// Position of the item in `response.output`.
        output_index: u32,
        /// Position of the command in the call.
        command_index: u32,
        /// The outputs, each `{stdout, stderr, outcome, created_by}`.
        #[serde(default, deserialize_with = "null_as_default")]
        output: Vec<Value>,
    }

    /// `response.audio.delta` and `response.audio.transcript.delta`.
    pub struct AudioDelta {
        /// Audio (base64) or transcript text.
        delta: Text,
    }
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
