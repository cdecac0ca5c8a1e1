//! The events of one response, planned in full when it starts (a multi-agent response that
//! waits for tool outputs: step by step, [`Generation`]): a list of event payloads, each
//! with the delay before it. Both transports play the same plan; the WebSocket machine stamps
//! `sequence_number` and `stream_id` as it sends each event, the HTTP responder stamps
//! `sequence_number` and writes SSE.
//!
//! Shapes follow protocol.md §3.2, §4 and the §9 transcripts: `response.created` →
//! `response.in_progress` → per item `output_item.added` … `output_item.done` (reasoning, then
//! a commentary message and function calls, or the final message) → one terminal.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::ops::Range;
use core::time::Duration;

use super::conversation::{tokens, Continuation, Conversation, PendingCall};
use super::cost::{Found, ServerCost};
use super::ids::IdGen;
use super::script::{ScriptedCall, ScriptedReasoning, Step, DEFAULT_MODEL};
use crate::wire::{
    ApiError, ArgumentsDone, ContentPart, ContentPartEvent, EventKind, FunctionCall, Input,
    InputTokensDetails, Item, ItemDelta, ItemStatus, LifecycleEvent, McpApprovalRequest, Message,
    OutputItemEvent, OutputText, OutputTokensDetails, Phase, ReasoningItem, Response,
    ResponseCreate, ResponseStatus, Role, TextDelta, TextDone, TextOrList, ToolChoice, Usage,
};

/// One event of a plan.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Planned {
    /// Time to wait after the previous event (or the start) before sending this one.
    pub(crate) delay: Duration,
    /// The event, without its envelope.
    body: Body,
}

/// What a planned event says. Deltas are a range of the text they cut, shared by every delta
/// of the item, so that planning and sending one allocates nothing but its frame.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Event(EventKind<'static>),
    Delta(Delta),
}

/// A text or argument delta: `text[range]` of the item `item_id`.
#[derive(Debug, Clone, PartialEq)]
struct Delta {
    arguments: bool,
    item_id: Arc<str>,
    output_index: u32,
    text: Arc<str>,
    range: Range<usize>,
}

impl Delta {
    /// The event, borrowing from the plan.
    fn kind(&self) -> EventKind<'_> {
        let item_id = Cow::Borrowed(&*self.item_id);
        let delta = Cow::Borrowed(self.text.get(self.range.clone()).unwrap_or_default());
        let output_index = self.output_index;
        match self.arguments {
            true => EventKind::FunctionCallArgumentsDelta(ItemDelta {
                item_id,
                output_index,
                delta,
            }),
            false => EventKind::OutputTextDelta(TextDelta {
                item_id,
                output_index,
                content_index: 0,
                delta,
                logprobs: Vec::new(),
            }),
        }
    }
}

impl Planned {
    /// The event's `type`.
    pub(crate) fn event_type(&self) -> &str {
        match &self.body {
            Body::Event(kind) => kind.event_type(),
            Body::Delta(Delta {
                arguments: true, ..
            }) => "response.function_call_arguments.delta",
            Body::Delta(_) => "response.output_text.delta",
        }
    }

    /// The event as a frame with this envelope.
    pub(crate) fn to_json(&self, stream_id: Option<&str>, sequence_number: Option<u64>) -> String {
        match &self.body {
            Body::Event(kind) => kind.to_json_with(stream_id, sequence_number),
            Body::Delta(delta) => delta.kind().to_json_with(stream_id, sequence_number),
        }
    }

    /// Whether this is `response.created` or `response.in_progress`, which precede the
    /// model's work.
    pub(crate) fn is_lifecycle(&self) -> bool {
        matches!(
            self.body,
            Body::Event(EventKind::Created(_) | EventKind::InProgress(_))
        )
    }

    /// The response a lifecycle event carries.
    pub(crate) fn response(&self) -> Option<&Response> {
        match &self.body {
            Body::Event(
                EventKind::Created(event)
                | EventKind::InProgress(event)
                | EventKind::Completed(event)
                | EventKind::Failed(event)
                | EventKind::Incomplete(event),
            ) => Some(&event.response),
            _ => None,
        }
    }
}

/// The response as `response.created` shows it: settings echoed from the request, no output.
pub(crate) fn snapshot(request: &ResponseCreate, id: String, created_at: u64) -> Response {
    Response {
        id,
        object: "response".into(),
        created_at,
        status: Some(ResponseStatus::InProgress),
        instructions: request.instructions.clone().map(Input::Text),
        model: request
            .model
            .clone()
            .unwrap_or_else(|| DEFAULT_MODEL.into()),
        parallel_tool_calls: Some(request.parallel_tool_calls.unwrap_or(true)),
        previous_response_id: request.previous_response_id.clone(),
        reasoning: request.reasoning.clone(),
        store: Some(request.store.unwrap_or(true)),
        temperature: Some(request.temperature.unwrap_or(1.0)),
        top_p: Some(request.top_p.unwrap_or(1.0)),
        tool_choice: Some(request.tool_choice.clone().unwrap_or(ToolChoice::Auto)),
        tools: request.tools.clone().unwrap_or_default(),
        max_output_tokens: request.max_output_tokens,
        metadata: request.metadata.clone().unwrap_or_default(),
        ..Response::default()
    }
}

/// A warm-up (`generate: false`): `response.created`, then `response.completed` with no output
/// and zero usage.
pub(crate) fn warm_up(response: Response) -> Vec<Planned> {
    let completed = Response {
        status: Some(ResponseStatus::Completed),
        completed_at: Some(response.created_at),
        usage: Some(Usage::default()),
        ..response.clone()
    };
    vec![
        now(EventKind::Created(lifecycle(response))),
        now(EventKind::Completed(lifecycle(completed))),
    ]
}

/// A response that starts and fails with `error`.
pub(crate) fn failed(response: Response, error: ApiError) -> Vec<Planned> {
    let failed = Response {
        status: Some(ResponseStatus::Failed),
        error: Some(error),
        ..response.clone()
    };
    vec![
        now(EventKind::Created(lifecycle(response.clone()))),
        now(EventKind::InProgress(lifecycle(response))),
        now(EventKind::Failed(lifecycle(failed))),
    ]
}

/// A generated response between its steps: what it has output so far. A plain response plays
/// one step and completes at once; a multi-agent one waits after each step with calls and
/// plays the next step once their outputs are injected, in the same response.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Generation {
    /// The response as `response.created` showed it.
    response: Response,
    placed: Continuation,
    delta_delay: Duration,
    include_encrypted: bool,
    output: Vec<Item>,
    /// The calls of the step played last.
    pub(crate) pending: Vec<PendingCall>,
    /// Steps played.
    pub(crate) steps: u32,
    elapsed: Duration,
    output_len: usize,
    reasoning_len: usize,
}

impl Generation {
    /// A response placed where `placed` says: its `response.created` and
    /// `response.in_progress`.
    pub(crate) fn start(
        response: Response,
        placed: Continuation,
        delta_delay: Duration,
        include_encrypted: bool,
    ) -> (Generation, Vec<Planned>) {
        let events = vec![
            now(EventKind::Created(lifecycle(response.clone()))),
            now(EventKind::InProgress(lifecycle(response.clone()))),
        ];
        let generation = Generation {
            response,
            placed,
            delta_delay,
            include_encrypted,
            output: Vec::new(),
            pending: Vec::new(),
            steps: 0,
            elapsed: Duration::ZERO,
            output_len: 0,
            reasoning_len: 0,
        };
        (generation, events)
    }

    /// The turn index of the next step: the request's, plus the steps played.
    pub(crate) fn next_turn(&self) -> u32 {
        self.placed.turn.saturating_add(self.steps)
    }

    /// The events of `step`, added to the output; its calls become the pending ones.
    pub(crate) fn play(&mut self, step: Step<'_>, ids: &mut IdGen) -> Vec<Planned> {
        self.pending.clear();
        self.steps = self.steps.saturating_add(1);
        let mut plan = Builder {
            events: Vec::new(),
            generation: self,
            ids,
        };
        let reasoning = match step {
            Step::Text { reasoning, .. } | Step::Calls { reasoning, .. } => reasoning,
        };
        if let Some(reasoning) = reasoning {
            plan.reasoning(reasoning);
        }
        match step {
            Step::Text { text, deltas, .. } => plan.message(text, deltas, Phase::FinalAnswer),
            Step::Calls {
                calls, commentary, ..
            } => {
                if let Some(commentary) = commentary {
                    plan.message(&commentary.text, commentary.deltas, Phase::Commentary);
                }
                calls.iter().for_each(|call| plan.call(call));
            }
        }
        plan.events
    }

    /// `response.completed` with the whole output, and the output tokens.
    pub(crate) fn complete(&mut self) -> (Planned, u64) {
        let placed = self.placed;
        let reasoning_tokens = tokens(self.reasoning_len);
        let output_tokens = tokens(self.output_len)
            .max(1)
            .saturating_add(reasoning_tokens);
        let response = &self.response;
        let completed = Response {
            status: Some(ResponseStatus::Completed),
            completed_at: Some(response.created_at.saturating_add(self.elapsed.as_secs())),
            output: core::mem::take(&mut self.output),
            usage: Some(Usage {
                input_tokens: placed.input_tokens,
                input_tokens_details: InputTokensDetails {
                    cached_tokens: placed.cached_tokens,
                    cache_write_tokens: None,
                },
                output_tokens,
                output_tokens_details: OutputTokensDetails { reasoning_tokens },
                total_tokens: placed.input_tokens.saturating_add(output_tokens),
            }),
            ..response.clone()
        };
        (
            now(EventKind::Completed(lifecycle(completed))),
            output_tokens,
        )
    }

    /// What the server remembers of the response once it has completed: the steps it
    /// played, the calls of `unanswered` still owed by the next request, and its context.
    pub(crate) fn conversation(
        &self,
        id: String,
        output_tokens: u64,
        unanswered: Vec<PendingCall>,
    ) -> Conversation {
        Conversation {
            id,
            turns: self.next_turn(),
            pending: unanswered,
            context_tokens: self.placed.input_tokens.saturating_add(output_tokens),
        }
    }
}

/// Builds the events and output items of one step of a generated response.
struct Builder<'g> {
    events: Vec<Planned>,
    generation: &'g mut Generation,
    ids: &'g mut IdGen,
}

impl Builder<'_> {
    fn now(&mut self, kind: EventKind<'static>) {
        self.events.push(now(kind));
    }

    /// `text` as `pieces` deltas (of arguments or of output text) of the item `item_id`, each
    /// after the delta delay.
    fn deltas(
        &mut self,
        arguments: bool,
        item_id: &str,
        output_index: u32,
        text: &str,
        pieces: u32,
    ) {
        let (item_id, shared): (Arc<str>, Arc<str>) = (item_id.into(), text.into());
        let delay = self.generation.delta_delay;
        for piece in split_ranges(text, pieces) {
            self.generation.elapsed += delay;
            self.events.push(Planned {
                delay,
                body: Body::Delta(Delta {
                    arguments,
                    item_id: Arc::clone(&item_id),
                    output_index,
                    text: Arc::clone(&shared),
                    range: piece,
                }),
            });
        }
    }

    /// The position the next output item takes.
    fn next_index(&self) -> u32 {
        u32::try_from(self.generation.output.len()).unwrap_or(u32::MAX)
    }

    /// Adds and completes an output item.
    fn item(&mut self, added: Item, done: Item) {
        let output_index = self.next_index();
        self.now(EventKind::OutputItemAdded(OutputItemEvent {
            output_index,
            item: added,
        }));
        self.now(EventKind::OutputItemDone(OutputItemEvent {
            output_index,
            item: done.clone(),
        }));
        self.generation.output.push(done);
    }

    fn reasoning(&mut self, reasoning: &ScriptedReasoning) {
        let item = ReasoningItem {
            id: self.ids.next("rs"),
            summary: Vec::new(),
            content: None,
            encrypted_content: None,
            status: None,
        };
        let done = ReasoningItem {
            encrypted_content: (self.generation.include_encrypted)
                .then(|| reasoning.encrypted_content.clone()),
            ..item.clone()
        };
        self.generation.reasoning_len += reasoning.encrypted_content.len();
        self.item(Item::Reasoning(item), Item::Reasoning(done));
    }

    /// An assistant message of `phase` (set on the done item, as the real server does).
    fn message(&mut self, text: &str, deltas: u32, phase: Phase) {
        let id = self.ids.next("msg");
        let output_index = self.next_index();
        let part = |text: &str| {
            ContentPart::OutputText(OutputText {
                text: text.into(),
                annotations: Vec::new(),
                logprobs: Some(Vec::new()),
            })
        };
        let message = |status, phase, content| {
            Item::Message(Message {
                id: Some(id.clone()),
                role: Role::Assistant,
                content: TextOrList::List(content),
                status: Some(status),
                phase,
            })
        };
        let part_event = |part| ContentPartEvent {
            item_id: Cow::Owned(id.clone()),
            output_index,
            content_index: 0,
            part,
        };
        self.now(EventKind::OutputItemAdded(OutputItemEvent {
            output_index,
            item: message(ItemStatus::InProgress, None, Vec::new()),
        }));
        self.now(EventKind::ContentPartAdded(part_event(part(""))));
        self.deltas(false, &id, output_index, text, deltas);
        self.now(EventKind::OutputTextDone(TextDone {
            item_id: Cow::Owned(id.clone()),
            output_index,
            content_index: 0,
            text: Cow::Owned(text.into()),
            logprobs: Vec::new(),
        }));
        self.now(EventKind::ContentPartDone(part_event(part(text))));
        let done = message(ItemStatus::Completed, Some(phase), vec![part(text)]);
        self.now(EventKind::OutputItemDone(OutputItemEvent {
            output_index,
            item: done.clone(),
        }));
        self.generation.output.push(done);
        self.generation.output_len += text.len();
    }

    fn call(&mut self, call: &ScriptedCall) {
        if let Some(server) = &call.mcp_server {
            return self.approval_request(server, call);
        }
        let id = self.ids.next("fc");
        let call_id = self.ids.next("call");
        let output_index = self.next_index();
        let item = |arguments: &str, status| {
            Item::FunctionCall(FunctionCall {
                id: Some(id.clone()),
                call_id: call_id.clone(),
                name: call.name.clone(),
                arguments: arguments.into(),
                namespace: None,
                caller: None,
                status: Some(status),
            })
        };
        self.now(EventKind::OutputItemAdded(OutputItemEvent {
            output_index,
            item: item("", ItemStatus::InProgress),
        }));
        self.deltas(true, &id, output_index, &call.arguments, call.deltas);
        self.now(EventKind::FunctionCallArgumentsDone(ArgumentsDone {
            item_id: Cow::Owned(id.clone()),
            output_index,
            name: Some(Cow::Owned(call.name.clone())),
            arguments: Cow::Owned(call.arguments.clone()),
        }));
        let done = item(&call.arguments, ItemStatus::Completed);
        self.now(EventKind::OutputItemDone(OutputItemEvent {
            output_index,
            item: done.clone(),
        }));
        self.generation.output.push(done);
        self.generation.output_len += call.arguments.len();
        self.generation.pending.push(PendingCall {
            call_id,
            name: call.name.clone(),
        });
    }

    /// An `mcp_approval_request` (whole, no deltas): the next request must answer it.
    fn approval_request(&mut self, server: &str, call: &ScriptedCall) {
        let id = self.ids.next("mcpr");
        let output_index = self.next_index();
        let item = Item::McpApprovalRequest(McpApprovalRequest {
            id: id.clone(),
            server_label: server.into(),
            name: call.name.clone(),
            arguments: call.arguments.clone(),
        });
        self.now(EventKind::OutputItemAdded(OutputItemEvent {
            output_index,
            item: item.clone(),
        }));
        self.now(EventKind::OutputItemDone(OutputItemEvent {
            output_index,
            item: item.clone(),
        }));
        self.generation.output.push(item);
        self.generation.output_len += call.arguments.len();
        self.generation.pending.push(PendingCall {
            call_id: id,
            name: call.name.clone(),
        });
    }
}

/// Adds `cost`'s charges to `events` (a plan, `response.created` first): the lookup of a parent
/// found where `found` says before the first event, the processing of `input_bytes` before the
/// first event after the lifecycle ones.
pub(crate) fn charge(
    events: &mut [Planned],
    cost: &ServerCost,
    input_bytes: usize,
    found: Option<Found>,
) {
    if let Some(first) = events.first_mut() {
        first.delay = first.delay.saturating_add(cost.lookup(found));
    }
    let working = events
        .iter()
        .position(|event| !event.is_lifecycle())
        .or(events.len().checked_sub(1));
    if let Some(event) = working.and_then(|index| events.get_mut(index)) {
        event.delay = event.delay.saturating_add(cost.input(input_bytes));
    }
}

fn now(kind: EventKind<'static>) -> Planned {
    Planned {
        delay: Duration::ZERO,
        body: Body::Event(kind),
    }
}

fn lifecycle(response: Response) -> LifecycleEvent {
    LifecycleEvent {
        response: Box::new(response),
    }
}

/// Where the parts of `text` are when it is cut into `pieces` parts of nearly equal length in
/// characters: at least one part, at most one per character (an empty text is one empty part).
fn split_ranges(text: &str, pieces: u32) -> Vec<Range<usize>> {
    let mut bounds: Vec<usize> = text.char_indices().map(|(at, _)| at).collect();
    bounds.push(text.len());
    let chars = bounds.len() - 1;
    let pieces = usize::try_from(pieces)
        .unwrap_or(usize::MAX)
        .clamp(1, chars.max(1));
    // In u128 so that `k * chars` cannot overflow.
    let bound = |k: usize| bounds[(k as u128 * chars as u128 / pieces as u128) as usize];
    (0..pieces).map(|k| bound(k)..bound(k + 1)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, pieces: u32) -> Vec<&str> {
        split_ranges(text, pieces)
            .into_iter()
            .map(|range| &text[range])
            .collect()
    }

    #[test]
    fn split_keeps_every_character_in_order() {
        assert_eq!(split("Hello there", 3), ["Hel", "lo t", "here"]);
        assert_eq!(split("héllo", 2), ["hé", "llo"]);
        assert_eq!(split("ab", 5), ["a", "b"]);
        assert_eq!(split("abc", 0), ["abc"]);
        assert_eq!(split("", 4), [""]);
        assert_eq!(split("°C", u32::MAX).concat(), "°C");
    }
}
