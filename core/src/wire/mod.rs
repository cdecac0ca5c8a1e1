//! The Responses vocabulary: what travels inside the WebSocket text frames of the Responses API
//! WebSocket mode, as plain data with (de)serialisation. Nothing here knows about sockets,
//! framing, lanes or timing.
//!
//! - Client → server: [`ClientEvent`] (`response.create` = [`ResponseCreate`], `response.steer`,
//!   `response.inject`), written with [`ClientEvent::to_json`].
//! - Server → client: [`ServerEvent`], read with [`ServerEvent::from_str`], which borrows ids
//!   and deltas from the frame and never fails on an event type or field it does not know.
//! - Shared objects: [`Response`], [`Item`] (input and output items), [`ContentPart`],
//!   [`Tool`], settings, [`Usage`], and the server's [`ApiError`].
//!
//! Every enum that the API may extend is open: unknown string values are kept in `Other(String)`,
//! unknown object kinds in `Other(serde_json::Value)`, unknown events in
//! [`EventKind::Unknown`].

#[macro_use]
mod macros;

mod builder;
mod client;
mod content;
mod error;
mod events;
mod fast;
mod item;
mod lenient;
mod raw;
mod response;
mod server;
mod settings;
mod tagged;
mod tools;
mod write;

pub use client::{
    is_valid_stream_id, ClientEvent, ExtraFields, Input, ResponseCreate, ResponseInject,
    ResponseSteer,
};
pub use content::{
    Annotation, ContainerFileCitation, ContentPart, FileCitation, FilePath, InputFile, InputImage,
    InputText, LogProb, OutputText, ReasoningText, Refusal, SummaryPart, TextOrList, TopLogProb,
    UrlCitation,
};
pub use error::{ApiError, DecodeError};
pub use events::{
    AnnotationAdded, ArgumentsDone, AudioDelta, CodeDone, ContentPartEvent,
    CustomToolCallInputDone, InjectCreated, InjectFailed, ItemDelta, ItemProgress, LifecycleEvent,
    NoFields, OutputItemEvent, PartialImage, RefusalDone, RequiredInput, ShellCommand,
    ShellCommandDelta, ShellOutputChunk, ShellOutputDelta, ShellOutputDone, SteerAccepted,
    SteerFailed, SteerPending, SteerRef, SummaryPartEvent, SummaryTextDelta, SummaryTextDone,
    TextDelta, TextDone,
};
pub use item::{
    CompactionItem, CustomToolCall, CustomToolCallOutput, FunctionCall, FunctionCallOutput, Item,
    ItemReference, ItemStatus, McpApprovalRequest, McpApprovalResponse, Message, MessageContent,
    Phase, ReasoningItem, Role, ToolOutput,
};
pub use raw::RawJson;
pub use response::{
    IncompleteDetails, IncompleteReason, InputTokensDetails, OutputTokensDetails, Response,
    ResponseStatus, Usage,
};
pub use server::{EventKind, ServerEvent, UnknownEvent};
pub use settings::{
    AccessPrograms, CompactionRule, ContextManagement, ConversationRef, Includable,
    JsonSchemaFormat, MultiAgent, PromptCacheRetention, PromptRef, Reasoning, ReasoningEffort,
    ReasoningSummary, ServiceTier, StreamOptions, TextConfig, TextFormat, Truncation, Verbosity,
};
pub use tools::{CustomTool, FunctionTool, Tool, ToolChoice};
