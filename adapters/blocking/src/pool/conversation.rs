//! [`Conversation`]: one agent's handle on the blocking pool, and [`Turn`]: the events of
//! its running turn as an [`Iterator`]. Each is the async pool's handle, its calls waited for
//! on the caller's thread.

use std::future::Ready;

use responses_ws_core::pool::{ConvId, Rejected, TurnId};
use responses_ws_core::session::{LaneLedger, SessionEvent, ToolCall};
use responses_ws_core::wire::{Input, Response, ResponseCreate, ToolOutput};
use smol::stream::StreamExt;

use super::{engine, wait, Error};

/// One conversation (one agent) of a blocking [`Pool`](super::Pool). `Clone + Send + Sync`;
/// the last clone dropped closes it (once its running turn, if any, has ended).
#[derive(Clone, Debug)]
pub struct Conversation {
    inner: engine::Conversation,
}

impl Conversation {
    pub(crate) fn new(inner: engine::Conversation) -> Conversation {
        Conversation { inner }
    }

    /// The pool's id of this conversation.
    pub fn id(&self) -> ConvId {
        self.inner.id()
    }

    /// Starts a turn with `request` (new input only) and blocks until it has a lane: at once
    /// when one is free, else in the pool's queue, first come first served, for at most the
    /// pool's `max_wait`. Fails as the async pool's `turn` does.
    pub fn turn(&self, request: ResponseCreate) -> Result<Turn, Error> {
        wait(self.inner.turn(request)).map(Turn::new)
    }

    /// [`turn`](Self::turn) without waiting: refused with [`PoolError::Overloaded`](super::PoolError::Overloaded) (the
    /// request handed back) unless a lane is free now and no turn waits before it.
    pub fn try_turn(&self, request: ResponseCreate) -> Result<Turn, Rejected<ResponseCreate>> {
        self.inner.try_turn(request).map(Turn::new)
    }

    /// Creates a turn with `request` and drives it to its final answer: each response's
    /// function and custom tool calls go to `handler` one after the other, in call order, on
    /// this thread; their outputs go back to the pool together once the last one returned
    /// (each call answered exactly once, also across a move to another connection).
    /// Returns the last response. MCP approval requests end the loop with
    /// [`Error::ApprovalRequired`] (the other calls are answered first, and the turn ends
    /// with the approvals open): give them with [`submit_approval`](Self::submit_approval),
    /// then [`continue_tool_loop`](Self::continue_tool_loop) for the model's answer.
    pub fn run_tool_loop<F, O>(
        &self,
        request: ResponseCreate,
        handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        wait(self.inner.run_tool_loop(request, ready(handler)))
    }

    /// Runs the tool loop of a turn that sends only what the conversation owes: the
    /// answers given to the calls its last turn left open (after
    /// [`Error::ApprovalRequired`], or a [`Turn`] dropped before its end). Fails with
    /// [`PoolError::ToolCallsOpen`](super::PoolError::ToolCallsOpen) while calls are unanswered, and as
    /// [`run_tool_loop`](Self::run_tool_loop) does.
    pub fn continue_tool_loop<F, O>(&self, handler: F) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        wait(self.inner.continue_tool_loop(ready(handler)))
    }

    /// Answers tool call `call_id` of the running turn; the engine thread writes it.
    pub fn submit_tool_output(
        &self,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        self.inner.submit_tool_output(call_id, output)
    }

    /// Answers the MCP approval request `request_id` (yes or no, with an optional reason),
    /// as the async pool's
    /// [`submit_approval`](responses_ws_futures::pool::Conversation::submit_approval).
    pub fn submit_approval(
        &self,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        self.inner.submit_approval(request_id, approve, reason)
    }

    /// The tool calls and MCP approval requests of the conversation's last response that
    /// wait for an answer (those its last turn left open, between turns).
    pub fn pending_tool_calls(&self) -> Vec<ToolCall> {
        self.inner.pending_tool_calls()
    }

    /// Steers the running response of the turn with more user input.
    pub fn steer(&self, input: impl Into<Input>) -> Result<(), Rejected<Input>> {
        self.inner.steer(input)
    }

    /// A new conversation from this one's context as it is now. Refused while this one has a
    /// turn.
    pub fn fork(&self) -> Result<Conversation, Error> {
        self.inner.fork().map(Conversation::new)
    }

    /// A copy of the conversation's context.
    pub fn ledger(&self) -> Option<LaneLedger> {
        self.inner.ledger()
    }
}

/// The running turn of a [`Conversation`]: an [`Iterator`] of its session events, ending
/// when the turn does (with an `Err` item first if it failed). Dropping it before the end
/// stops listening and never holds the conversation's lane for good: a response still
/// streaming runs to its end unheard, and the turn ends once nothing of it is in flight,
/// its tool calls left open if its response made some (answer them through the
/// conversation; they go out with its next turn).
#[derive(Debug)]
pub struct Turn {
    inner: engine::Turn,
}

impl Turn {
    pub(crate) fn new(inner: engine::Turn) -> Turn {
        Turn { inner }
    }

    /// The pool's id of this turn.
    pub fn id(&self) -> TurnId {
        self.inner.id()
    }

    /// Reads the turn to its end and returns its last response.
    pub fn finish(self) -> Result<Response, Error> {
        wait(self.inner.finish())
    }
}

impl Iterator for Turn {
    type Item = Result<SessionEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        wait(self.inner.next())
    }
}

/// A blocking tool handler as the async pool's tool loop takes it: called when the loop asks
/// for a call's future (in call order, on the waiting thread), its output ready at once.
pub(super) fn ready<F, O>(mut handler: F) -> impl FnMut(ToolCall) -> Ready<O>
where
    F: FnMut(&ToolCall) -> O,
{
    move |call| std::future::ready(handler(&call))
}
