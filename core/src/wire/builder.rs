//! The builder face of [`ResponseCreate`]: `ResponseCreate::new(model)` and one chained
//! setter per common field, each setting `Some(value)`. The struct literal stays the full
//! form (every field, `extra`); this is only a shorter way to write the usual requests.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::client::{Input, ResponseCreate};
use super::settings::{Includable, Reasoning, ServiceTier, TextConfig, Truncation};
use super::tools::{Tool, ToolChoice};

/// Chained setters: `name: Type` gives `fn name(self, value: impl Into<Type>) -> Self`, which
/// sets the field of the same name to `Some(value.into())`.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $ty:ty;)*) => {
        $(
            $(#[$doc])*
            #[must_use]
            pub fn $name(mut self, value: impl Into<$ty>) -> Self {
                self.$name = Some(value.into());
                self
            }
        )*
    };
}

/// Builder methods: the struct literal (`ResponseCreate { .., ..Default::default() }`) is
/// still there for every field.
///
/// ```
/// use responses_ws_core::wire::{FunctionTool, ResponseCreate, Tool};
///
/// let add = Tool::Function(FunctionTool {
///     name: "add".into(),
///     description: Some("Adds two integers.".into()),
///     parameters: Some(serde_json::json!({"type": "object"}).into()),
///     strict: None,
/// });
/// let request = ResponseCreate::new("gpt-5.5")
///     .input("What is 2 + 3?")
///     .tools([add])
///     .store(false);
/// assert_eq!(request.model.as_deref(), Some("gpt-5.5"));
/// assert_eq!(request.store, Some(false));
/// // The same request as a struct literal.
/// assert_eq!(
///     request,
///     ResponseCreate {
///         model: Some("gpt-5.5".into()),
///         input: Some("What is 2 + 3?".into()),
///         tools: request.tools.clone(),
///         store: Some(false),
///         ..Default::default()
///     }
/// );
/// ```
impl ResponseCreate {
    /// A request for `model`; every other field unset.
    pub fn new(model: impl Into<String>) -> Self {
        ResponseCreate {
            model: Some(model.into()),
            ..ResponseCreate::default()
        }
    }

    setters! {
        /// The model (`model`).
        model: String;
        /// The new input of this turn (`input`): text or items. The session adds the
        /// context (`previous_response_id` or the full transcript).
        input: Input;
        /// The system instructions (`instructions`).
        instructions: String;
        /// The lane (`stream_id`); unset: the default lane.
        stream_id: String;
        /// `false`: a warm-up, which runs no model (`generate`).
        generate: bool;
        /// The tools the model may call (`tools`).
        tools: Vec<Tool>;
        /// Which tools the model may or must call (`tool_choice`).
        tool_choice: ToolChoice;
        /// Whether the model may make several calls at once (`parallel_tool_calls`).
        parallel_tool_calls: bool;
        /// The output token limit (`max_output_tokens`).
        max_output_tokens: u64;
        /// The tool call limit (`max_tool_calls`).
        max_tool_calls: u64;
        /// Reasoning settings (`reasoning`).
        reasoning: Reasoning;
        /// Text output settings (`text`).
        text: TextConfig;
        /// Extra output to include (`include`).
        include: Vec<Includable>;
        /// Whether the server keeps the response (`store`); `false` for zero data retention.
        store: bool;
        /// Caller metadata (`metadata`).
        metadata: BTreeMap<String, String>;
        /// Sampling temperature (`temperature`).
        temperature: f64;
        /// Nucleus sampling (`top_p`).
        top_p: f64;
        /// Truncation mode (`truncation`).
        truncation: Truncation;
        /// The processing tier (`service_tier`).
        service_tier: ServiceTier;
        /// The prompt cache key (`prompt_cache_key`).
        prompt_cache_key: String;
        /// A stable end-user identifier for abuse detection (`safety_identifier`).
        safety_identifier: String;
    }
}
