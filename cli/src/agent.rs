//! The agent loop shared by `demo`, `run` and the WebSocket side of `bench`: one request,
//! then tool calls answered with a [`Toolbox`] until a response makes no call, over a tokio
//! [`Connection`]. It measures what the summaries print (turns, time to first token, turn
//! times, tool calls, reconnects, full-context replays, bytes) and tells an [`Observer`]
//! everything as it happens; it prints nothing itself.
//!
//! A tool runs as soon as its call is complete (`response.output_item.done`), before the
//! response ends; the outputs go out together when the session asks for them.

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use responses_ws_core::client::ClientEvent;
use responses_ws_core::session::{RequestError, SessionEvent, ToolCall, ToolCallKind};
use responses_ws_core::wire::{EventKind, Item, ResponseCreate, ServerEvent, ToolOutput};
use responses_ws_tokio::Connection;

use crate::tools::Toolbox;

/// What the loop reports as it goes.
pub(crate) trait Observer {
    /// Every event, before the loop acts on it.
    fn event(&mut self, event: &ClientEvent);

    /// A tool ran (right after its call was complete).
    fn tool_result(&mut self, call: &ToolCall, output: &str);
}

/// An observer that ignores everything.
#[derive(Debug, Default)]
pub(crate) struct Quiet;

impl Observer for Quiet {
    fn event(&mut self, _: &ClientEvent) {}
    fn tool_result(&mut self, _: &ToolCall, _: &str) {}
}

/// Limits of one run of the loop.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Responses after which the loop gives up.
    pub(crate) max_turns: u32,
    /// Requests interrupted by a lost connection that are sent again (the session replays
    /// the context on the new connection; the core's retry budget still bounds the
    /// connections).
    pub(crate) retries: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_turns: 64,
            retries: 0,
        }
    }
}

/// The times of one response.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TurnTiming {
    /// From sending the request to its first streamed delta (text or arguments).
    pub(crate) first_token: Option<Duration>,
    /// From sending the request to its terminal event.
    pub(crate) total: Duration,
}

/// What a finished loop measured.
#[derive(Debug, Clone, Default)]
pub(crate) struct Outcome {
    /// The final answer's text.
    pub(crate) final_text: String,
    /// One entry per completed response, in order.
    pub(crate) turns: Vec<TurnTiming>,
    /// Responses started (the final one included).
    pub(crate) responses: u32,
    /// Tool calls answered.
    pub(crate) tool_calls: u32,
    /// Responses with more than one call.
    pub(crate) parallel_turns: u32,
    /// New connections after the first.
    pub(crate) reconnects: u32,
    /// Requests the session sent with the full context instead of chaining.
    pub(crate) full_context_replays: u32,
    /// From the first request to the final answer.
    pub(crate) elapsed: Duration,
}

/// Why the loop ended without a final answer.
#[derive(Debug)]
pub(crate) enum AgentError {
    /// The adapter refused a call or could not reconnect.
    Adapter(responses_ws_tokio::Error),
    /// A request failed (an API error, a failed response, a lost connection).
    Request(RequestError),
    /// The connection ended and will not come back.
    ConnectionLost(String),
    /// The model kept calling tools.
    TooManyTurns(u32),
}

impl fmt::Display for AgentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AgentError::Adapter(error) => write!(f, "{error}"),
            AgentError::Request(RequestError::Api(error)) => {
                write!(f, "the server answered with an error: {error}")
            }
            AgentError::Request(error) => write!(f, "the request failed: {error}"),
            AgentError::ConnectionLost(how) => {
                write!(f, "the connection ended before a final answer ({how})")
            }
            AgentError::TooManyTurns(turns) => {
                write!(f, "no final answer after {turns} responses")
            }
        }
    }
}

impl std::error::Error for AgentError {}

impl From<responses_ws_tokio::Error> for AgentError {
    fn from(error: responses_ws_tokio::Error) -> Self {
        AgentError::Adapter(error)
    }
}

/// Runs `request` and its tool calls to a final answer. Generic, so that the future is `Send`
/// when the tools and the observer are (`load` spawns it on the multi-thread runtime).
pub(crate) async fn run<T: Toolbox + ?Sized, O: Observer + ?Sized>(
    conn: &mut Connection,
    request: ResponseCreate,
    tools: &mut T,
    observer: &mut O,
    limits: Limits,
) -> Result<Outcome, AgentError> {
    let started = Instant::now();
    let mut state = State {
        outcome: Outcome::default(),
        sent_at: Instant::now(),
        first_token: None,
        early: HashMap::new(),
        closed: None,
        retries_left: limits.retries,
    };
    // Resent after an interruption with no new input: the session adds the whole context.
    let retry_template = ResponseCreate {
        input: None,
        ..request.clone()
    };
    conn.create(request).await?;
    state.sent_at = Instant::now();
    loop {
        // A silent server is the core's to catch: its idle timeout fails the request.
        let event = conn.next_event().await?;
        let Some(event) = event else {
            let how = state.closed.take().unwrap_or_else(|| "closed".into());
            return Err(AgentError::ConnectionLost(how));
        };
        observer.event(&event);
        match event {
            ClientEvent::Connected { .. } => state.outcome.reconnects += 1,
            ClientEvent::Disconnected { closed } => {
                state.closed = Some(match &closed.error {
                    Some(error) => format!("{error}"),
                    None => format!("close code {}", closed.code.0),
                });
            }
            ClientEvent::Session(event) => match event {
                SessionEvent::Started { .. } => {
                    state.outcome.responses += 1;
                    if state.outcome.responses > limits.max_turns {
                        return Err(AgentError::TooManyTurns(limits.max_turns));
                    }
                }
                SessionEvent::FullContext { .. } => state.outcome.full_context_replays += 1,
                SessionEvent::Stream { event, .. } => {
                    state.on_stream(&event.decoded(), tools, observer)
                }
                SessionEvent::Completed { response, .. } => {
                    state.end_turn();
                    if ToolCall::from_response(&response).is_empty() {
                        state.outcome.final_text = response.all_output_text();
                        state.outcome.elapsed = started.elapsed();
                        return Ok(state.outcome);
                    }
                }
                SessionEvent::ToolCalls { lane, calls, .. } => {
                    state.outcome.tool_calls += u32::try_from(calls.len()).unwrap_or(u32::MAX);
                    if calls.len() > 1 {
                        state.outcome.parallel_turns += 1;
                    }
                    for call in &calls {
                        let output = match state.early.remove(&call.call_id) {
                            Some(output) => output,
                            None => {
                                let output = tools.run(call);
                                observer.tool_result(call, &output);
                                output
                            }
                        };
                        conn.submit_tool_output(&lane, &call.call_id, ToolOutput::Text(output))
                            .await?;
                    }
                    state.early.clear();
                    state.sent_at = Instant::now();
                    state.first_token = None;
                }
                SessionEvent::Failed {
                    error: RequestError::Interrupted,
                    ..
                } if state.retries_left > 0 => {
                    state.retries_left -= 1;
                    state.early.clear();
                    conn.create(retry_template.clone()).await?;
                    state.sent_at = Instant::now();
                    state.first_token = None;
                }
                SessionEvent::Failed { error, .. } => return Err(AgentError::Request(error)),
                _ => {}
            },
            _ => {}
        }
    }
}

/// The loop's running state.
struct State {
    outcome: Outcome,
    /// When the request now running was sent.
    sent_at: Instant,
    /// Its first streamed delta.
    first_token: Option<Duration>,
    /// Outputs of tools run before the session asked, by `call_id`.
    early: HashMap<String, String>,
    /// How the last connection ended.
    closed: Option<String>,
    retries_left: u32,
}

impl State {
    fn on_stream<T: Toolbox + ?Sized, O: Observer + ?Sized>(
        &mut self,
        event: &ServerEvent<'_>,
        tools: &mut T,
        observer: &mut O,
    ) {
        match &event.kind {
            EventKind::OutputTextDelta(_) | EventKind::FunctionCallArgumentsDelta(_)
                if self.first_token.is_none() =>
            {
                self.first_token = Some(self.sent_at.elapsed());
            }
            EventKind::OutputItemDone(done) => {
                if let Item::FunctionCall(call) = &done.item {
                    let call = ToolCall {
                        call_id: call.call_id.clone(),
                        name: call.name.clone(),
                        kind: ToolCallKind::Function,
                        arguments: call.arguments.clone(),
                    };
                    let output = tools.run(&call);
                    observer.tool_result(&call, &output);
                    self.early.insert(call.call_id, output);
                }
            }
            _ => {}
        }
    }

    fn end_turn(&mut self) {
        self.outcome.turns.push(TurnTiming {
            first_token: self.first_token,
            total: self.sent_at.elapsed(),
        });
    }
}
