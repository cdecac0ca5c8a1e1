//! [`Conversation`]: one agent's handle on the blocking pool, and [`Turn`]: the events of
//! its running turn as an [`Iterator`]. A waiting thread sleeps on its conversation's own
//! condition variable, woken once per batch of events.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, PoisonError};

use responses_ws_adapter::pool::{PoolState, TurnStep};
use responses_ws_core::pool::{ConvId, Rejected, TurnId};
use responses_ws_core::session::{LaneLedger, SessionEvent, ToolCall};
use responses_ws_core::tool_loop::Calls;
use responses_ws_core::wire::{Input, Response, ResponseCreate, ToolOutput};
use responses_ws_core::Instant;

use super::hub::State;
use super::{Error, PoolInner};

/// One conversation (one agent) of a blocking [`Pool`](super::Pool). `Clone + Send + Sync`;
/// the last clone dropped closes it (once its running turn, if any, has ended).
#[derive(Clone, Debug)]
pub struct Conversation {
    handle: Arc<Handle>,
}

#[derive(Debug)]
struct Handle {
    pool: Arc<PoolInner>,
    conv: ConvId,
    /// Where this conversation's waiting thread sleeps.
    ready: Arc<Condvar>,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let conv = self.conv;
        self.pool
            .hub
            .with(|state, now| state.close_conversation(conv, now));
    }
}

impl Conversation {
    pub(crate) fn new(pool: Arc<PoolInner>, conv: ConvId) -> Conversation {
        let ready = Arc::new(Condvar::new());
        Conversation {
            handle: Arc::new(Handle { pool, conv, ready }),
        }
    }

    /// The pool's id of this conversation.
    pub fn id(&self) -> ConvId {
        self.handle.conv
    }

    fn pool(&self) -> &PoolInner {
        &self.handle.pool
    }

    /// Runs `f` on the pool's locked state with the time (the pool dispatches after it).
    fn with<R>(&self, f: impl FnOnce(&mut State, Instant) -> R) -> R {
        self.pool().hub.with(f)
    }

    /// Starts a turn with `request` (new input only) and blocks until it has a lane: at once
    /// when one is free, else in the pool's queue, first come first served, for at most the
    /// pool's `max_wait`. Fails as the async pool's `turn` does.
    pub fn turn(&self, request: ResponseCreate) -> Result<Turn, Error> {
        let turn = self.start(request, true)?;
        self.admitted(turn)
    }

    /// Blocks until `turn` has its lane.
    fn admitted(&self, turn: TurnId) -> Result<Turn, Error> {
        let conv = self.id();
        let mut state = self.pool().hub.lock();
        let ready = &self.handle.ready;
        loop {
            match state.admission(conv, turn, || Arc::clone(ready)) {
                None => state = ready.wait(state).unwrap_or_else(PoisonError::into_inner),
                Some(admitted) => return admitted.map(|()| Turn::new(self.clone(), turn)),
            }
        }
    }

    /// [`turn`](Self::turn) without waiting: refused with [`PoolError::Overloaded`] (the
    /// request handed back) unless a lane is free now and no turn waits before it.
    pub fn try_turn(&self, request: ResponseCreate) -> Result<Turn, Rejected<ResponseCreate>> {
        let turn = self.start(request, false)?;
        Ok(Turn::new(self.clone(), turn))
    }

    fn start(
        &self,
        request: ResponseCreate,
        may_wait: bool,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        let conv = self.id();
        self.with(|state, now| state.start_turn(conv, request, may_wait, now))
    }

    /// Creates a turn with `request` and drives it to its final answer: each response's
    /// function and custom tool calls go to `handler` in order, their outputs back to the
    /// pool (each call answered exactly once, also across a move to another connection).
    /// Returns the last response. MCP approval requests end the loop with
    /// [`Error::ApprovalRequired`] (the other calls are answered first, and the turn ends
    /// with the approvals open): give them with [`submit_approval`](Self::submit_approval),
    /// then [`continue_tool_loop`](Self::continue_tool_loop) for the model's answer.
    pub fn run_tool_loop<F, O>(
        &self,
        request: ResponseCreate,
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        let turn = self.turn(request)?;
        self.drive_tool_loop(turn, &mut handler)
    }

    /// Runs the tool loop of a turn that sends only what the conversation owes: the
    /// answers given to the calls its last turn left open (after
    /// [`Error::ApprovalRequired`], or a [`Turn`] dropped before its end). Fails with
    /// [`PoolError::ToolCallsOpen`] while calls are unanswered, and as
    /// [`run_tool_loop`](Self::run_tool_loop) does.
    pub fn continue_tool_loop<F, O>(&self, mut handler: F) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        let conv = self.id();
        let turn = self.with(|state, now| state.continue_turn(conv, now))?;
        let turn = self.admitted(turn)?;
        self.drive_tool_loop(turn, &mut handler)
    }

    /// The tool loop of [`run_tool_loop`](Self::run_tool_loop) over a turn that runs
    /// already (a resumed one: [`Pool::resume`](super::Pool::resume)).
    pub(crate) fn drive_tool_loop<F, O>(
        &self,
        turn: Turn,
        handler: &mut F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        let mut last = None;
        for event in turn {
            match event? {
                SessionEvent::Completed { response, .. } => last = Some(response),
                SessionEvent::ToolCalls { calls, .. } => {
                    let Calls {
                        calls, approvals, ..
                    } = Calls::split(calls);
                    self.answer(&calls, handler)?;
                    if !approvals.is_empty() {
                        return Err(Error::ApprovalRequired(approvals));
                    }
                }
                _ => {}
            }
        }
        last.map(|response| *response).ok_or(Error::NoResponse)
    }

    /// Runs `handler` on `calls` in order, submitting each output as it comes.
    pub(crate) fn answer<F, O>(&self, calls: &[ToolCall], handler: &mut F) -> Result<(), Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        for call in calls {
            let output = handler(call);
            self.submit_tool_output(&call.call_id, output)?;
        }
        Ok(())
    }

    /// Answers tool call `call_id` of the running turn (written before this returns).
    pub fn submit_tool_output(
        &self,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        let conv = self.id();
        let output = output.into();
        self.with(|state, now| state.pool.submit_tool_output(conv, call_id, output, now))
            .map_err(Error::Pool)
    }

    /// Approves or refuses the MCP approval request `request_id` of the conversation's last
    /// response (see [`Error::ApprovalRequired`]); the answer goes out with the next turn
    /// ([`continue_tool_loop`](Self::continue_tool_loop)), or at once while a turn runs.
    pub fn submit_approval(
        &self,
        request_id: &str,
        approve: bool,
        reason: Option<String>,
    ) -> Result<(), Error> {
        let conv = self.id();
        self.with(|state, now| {
            state
                .pool
                .submit_approval(conv, request_id, approve, reason, now)
        })
        .map_err(Error::Pool)
    }

    /// The tool calls and MCP approval requests of the conversation's last response that
    /// wait for an answer (those its last turn left open, between turns).
    pub fn pending_tool_calls(&self) -> Vec<ToolCall> {
        self.pool().hub.lock().pool.pending_tool_calls(self.id())
    }

    /// Steers the running response of the turn with more user input.
    pub fn steer(&self, input: impl Into<Input>) -> Result<(), Rejected<Input>> {
        let conv = self.id();
        let input = input.into();
        self.with(|state, now| state.pool.steer(conv, input, now))
    }

    /// A new conversation from this one's context as it is now. Refused while this one has a
    /// turn.
    pub fn fork(&self) -> Result<Conversation, Error> {
        let conv = self.id();
        let fork = self
            .with(|state, _| state.pool.fork_conversation(conv))
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.handle.pool), fork))
    }

    /// A copy of the conversation's context.
    pub fn ledger(&self) -> Option<LaneLedger> {
        self.pool().hub.lock().pool.ledger(self.id()).cloned()
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
    conversation: Conversation,
    id: TurnId,
    batch: VecDeque<SessionEvent>,
    over: bool,
}

impl Turn {
    pub(crate) fn new(conversation: Conversation, id: TurnId) -> Turn {
        Turn {
            conversation,
            id,
            batch: VecDeque::new(),
            over: false,
        }
    }

    /// The pool's id of this turn.
    pub fn id(&self) -> TurnId {
        self.id
    }

    /// Reads the turn to its end and returns its last response.
    pub fn finish(self) -> Result<Response, Error> {
        let mut last = None;
        for event in self {
            if let SessionEvent::Completed { response, .. } = event? {
                last = Some(response);
            }
        }
        last.map(|response| *response).ok_or(Error::NoResponse)
    }
}

impl Iterator for Turn {
    type Item = Result<SessionEvent, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Some(event) = self.batch.pop_front() {
            return Some(Ok(event));
        }
        if self.over {
            return None;
        }
        let conv = self.conversation.id();
        let ready = &self.conversation.handle.ready;
        let mut state = self.conversation.pool().hub.lock();
        loop {
            let keep = |kept: &mut Option<_>| *kept = Some(Arc::clone(ready));
            match state.next_events(conv, self.id, &mut self.batch, keep) {
                TurnStep::Events => return self.batch.pop_front().map(Ok),
                TurnStep::Waiting => {
                    state = ready.wait(state).unwrap_or_else(PoisonError::into_inner);
                }
                TurnStep::Ended(error) => {
                    self.over = true;
                    return error.map(Err);
                }
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.over {
            let (conv, turn) = (self.conversation.id(), self.id);
            self.conversation
                .with(|state, now| state.detach_turn(conv, turn, now));
        }
    }
}
