//! [`Conversation`]: one agent's handle on the pool (many tasks may hold clones), and
//! [`Turn`]: the events of its running turn as a [`Stream`]. The tool loop runs the handler
//! on each response's calls; the core's pool decides when the turn is over (its lane at rest),
//! also when the conversation moved to another connection in between.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use futures_core::Stream;
use futures_util::future::join_all;
use futures_util::StreamExt;
use responses_ws_core::pool::{ConvId, Rejected, TurnId};
use responses_ws_core::session::{LaneLedger, SessionEvent, ToolCall};
use responses_ws_core::tool_loop::Calls;
use responses_ws_core::wire::{Input, Response, ResponseCreate, ToolOutput};
use responses_ws_core::Instant;

use super::shared::Shared;
use super::steps::TurnStep;
use super::{Error, PoolInner};

/// One conversation (one agent) of a [`Pool`](super::Pool): its context lives in the pool
/// across turns and connections. `Clone + Send + Sync`: hand clones to the tasks that steer
/// it or answer its tools. When the last clone is dropped the conversation is closed (once
/// its running turn, if any, has ended).
///
/// ```no_run
/// use responses_ws_futures::pool::Pool;
/// use responses_ws_futures::{Config, ResponseCreate, ToolCall};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let (pool, driver) = Pool::new(Config::new("ws://127.0.0.1:8080/v1/responses")?)?;
/// smol::spawn(driver).detach();
/// let agent = pool.conversation()?;
/// let answer = agent
///     .run_tool_loop(ResponseCreate::new("gpt-5.5").input("Weather?"), |call: ToolCall| async move {
///         format!("sunny ({})", call.arguments)
///     })
///     .await?;
/// println!("{}", answer.all_output_text());
/// # Ok(())
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct Conversation {
    handle: Arc<Handle>,
}

/// What every clone of a conversation shares; the last one closes it.
#[derive(Debug)]
struct Handle {
    pool: Arc<PoolInner>,
    conv: ConvId,
}

impl Drop for Handle {
    fn drop(&mut self) {
        let conv = self.conv;
        self.pool
            .lock
            .with(|shared, now| shared.close_conversation(conv, now));
    }
}

impl Conversation {
    pub(crate) fn new(pool: Arc<PoolInner>, conv: ConvId) -> Conversation {
        Conversation {
            handle: Arc::new(Handle { pool, conv }),
        }
    }

    /// The pool's id of this conversation (for logs; no call takes it).
    pub fn id(&self) -> ConvId {
        self.handle.conv
    }

    fn pool(&self) -> &PoolInner {
        &self.handle.pool
    }

    /// Runs `f` on the pool's locked state with the time (the pool dispatches after it).
    fn with<R>(&self, f: impl FnOnce(&mut Shared, Instant) -> R) -> R {
        self.pool().lock.with(f)
    }

    /// Starts a turn with `request` (new input only: the pool adds the lane and the
    /// context; `stream_id` and `previous_response_id` must be unset) and waits until it
    /// has a lane: at once when one is free, else in the pool's queue, first come first
    /// served, for at most the pool's `max_wait`. The [`Turn`] gives its events.
    ///
    /// Fails with [`Error::Rejected`] (the request handed back) when the pool's queue is
    /// full, the conversation has a turn already or the pool is closing, and with
    /// [`Error::Turn`] when it waited too long or the pool closed meanwhile (the request is
    /// in the [`TurnError`](responses_ws_core::pool::TurnError)).
    ///
    /// Cancel-safe: dropping the future while the turn waits takes it out of the queue;
    /// nothing was sent.
    pub async fn turn(&self, request: ResponseCreate) -> Result<Turn, Error> {
        let turn = self.start(request, true)?;
        self.admitted(turn).await
    }

    /// Waits until `turn` has its lane.
    async fn admitted(&self, turn: TurnId) -> Result<Turn, Error> {
        let mut waiting = Waiting {
            conversation: self,
            turn: Some(turn),
        };
        poll_fn(|cx| waiting.poll_admitted(cx)).await
    }

    /// [`turn`](Self::turn) without waiting: refused with
    /// [`PoolError::Overloaded`](super::PoolError::Overloaded) (the request handed back) unless a lane is free now and no
    /// turn waits before it.
    pub fn try_turn(&self, request: ResponseCreate) -> Result<Turn, Rejected<ResponseCreate>> {
        let turn = self.start(request, false)?;
        Ok(Turn::new(self.clone(), turn))
    }

    /// Asks the core for a turn; returns its id.
    fn start(
        &self,
        request: ResponseCreate,
        may_wait: bool,
    ) -> Result<TurnId, Rejected<ResponseCreate>> {
        let conv = self.id();
        self.with(|shared, now| shared.start_turn(conv, request, may_wait, now))
    }

    /// Runs the tool loop of a turn that sends only what the conversation owes: the
    /// answers given (with [`submit_tool_output`](Self::submit_tool_output) or
    /// [`submit_approval`](Self::submit_approval)) to the calls its last turn left open —
    /// after [`Error::ApprovalRequired`], or a [`Turn`] dropped before its end. Fails with
    /// [`PoolError::ToolCallsOpen`](super::PoolError::ToolCallsOpen) while calls are unanswered, and as
    /// [`run_tool_loop`](Self::run_tool_loop) does.
    pub async fn continue_tool_loop<F, Fut, O>(&self, mut handler: F) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let conv = self.id();
        let turn = self.with(|shared, now| shared.continue_turn(conv, now))?;
        let turn = self.admitted(turn).await?;
        self.drive_tool_loop(turn, &mut handler).await
    }

    /// Creates a turn with `request` and drives it to its final answer: each response's
    /// function and custom tool calls go to `handler` together and run concurrently; their
    /// outputs go back in call order, and the pool sends the continuation (also after the
    /// conversation moved to another connection: each call is answered exactly once).
    /// Returns the last response, the one that made no call.
    ///
    /// Fails as [`turn`](Self::turn) does, with [`Error::Turn`] when a request of the turn
    /// failed, and with [`Error::ApprovalRequired`] for MCP approval requests, as
    /// `Connection::run_tool_loop` does: the other calls are answered first, and the turn
    /// ends with the approvals open; give them with [`submit_approval`](Self::submit_approval),
    /// then [`continue_tool_loop`](Self::continue_tool_loop) for the model's answer.
    pub async fn run_tool_loop<F, Fut, O>(
        &self,
        request: ResponseCreate,
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let turn = self.turn(request).await?;
        self.drive_tool_loop(turn, &mut handler).await
    }

    /// The tool loop of [`run_tool_loop`](Self::run_tool_loop) over a turn that runs
    /// already (a resumed one: [`Pool::resume`](super::Pool::resume)).
    pub(crate) async fn drive_tool_loop<F, Fut, O>(
        &self,
        mut turn: Turn,
        handler: &mut F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let mut last = None;
        while let Some(event) = turn.next().await {
            match event? {
                SessionEvent::Completed { response, .. } => last = Some(response),
                SessionEvent::ToolCalls { calls, .. } => {
                    let Calls {
                        calls, approvals, ..
                    } = Calls::split(calls);
                    self.answer(calls, handler).await?;
                    if !approvals.is_empty() {
                        return Err(Error::ApprovalRequired(approvals));
                    }
                }
                _ => {}
            }
        }
        last.map(|response| *response).ok_or(Error::NoResponse)
    }

    /// Runs `handler` on `calls` concurrently and submits their outputs in call order.
    pub(crate) async fn answer<F, Fut, O>(
        &self,
        calls: Vec<ToolCall>,
        handler: &mut F,
    ) -> Result<(), Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let outputs = join_all(calls.iter().cloned().map(&mut *handler)).await;
        for (call, output) in calls.iter().zip(outputs) {
            self.submit_tool_output(&call.call_id, output)?;
        }
        Ok(())
    }

    /// Answers tool call `call_id` of the running turn; the continuation goes out once
    /// every call of the response has its output. Each call takes exactly one output, also
    /// while the conversation moves between connections. Returns at once: the pool's
    /// driver writes.
    pub fn submit_tool_output(
        &self,
        call_id: &str,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        let conv = self.id();
        let output = output.into();
        self.with(|shared, now| shared.pool.submit_tool_output(conv, call_id, output, now))
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
        self.with(|shared, now| {
            shared
                .pool
                .submit_approval(conv, request_id, approve, reason, now)
        })
        .map_err(Error::Pool)
    }

    /// The tool calls and MCP approval requests of the conversation's last response that
    /// wait for an answer (those its last turn left open, between turns).
    pub fn pending_tool_calls(&self) -> Vec<ToolCall> {
        self.pool().lock.lock().pool.pending_tool_calls(self.id())
    }

    /// Steers the running response of the turn with more user input. Refused, the input
    /// handed back, when no response of the conversation is running.
    pub fn steer(&self, input: impl Into<Input>) -> Result<(), Rejected<Input>> {
        let conv = self.id();
        let input = input.into();
        self.with(|shared, now| shared.pool.steer(conv, input, now))
    }

    /// A new conversation that starts from this one's context as it is now; the two go on
    /// independently. Refused while this one has a turn.
    pub fn fork(&self) -> Result<Conversation, Error> {
        let conv = self.id();
        let fork = self
            .with(|shared, _| shared.pool.fork_conversation(conv))
            .map_err(Error::Pool)?;
        Ok(Conversation::new(Arc::clone(&self.handle.pool), fork))
    }

    /// A copy of the conversation's context (every item, in order), to save or restore with
    /// [`Pool::restore`](super::Pool::restore).
    pub fn ledger(&self) -> Option<LaneLedger> {
        let shared = self.pool().lock.lock();
        shared.pool.ledger(self.id()).cloned()
    }
}

/// A turn waiting for its lane; dropped before it has one, it leaves the queue.
struct Waiting<'a> {
    conversation: &'a Conversation,
    /// Cleared once the turn is handed on (or over).
    turn: Option<TurnId>,
}

impl Waiting<'_> {
    fn poll_admitted(&mut self, cx: &mut Context<'_>) -> Poll<Result<Turn, Error>> {
        let Some(turn) = self.turn else {
            return Poll::Ready(Err(Error::NoResponse));
        };
        let conv = self.conversation.id();
        let mut shared = self.conversation.pool().lock.lock();
        let Some(admitted) = shared.admission(conv, turn, || cx.waker().clone()) else {
            return Poll::Pending;
        };
        self.turn = None;
        Poll::Ready(admitted.map(|()| Turn::new(self.conversation.clone(), turn)))
    }
}

impl Drop for Waiting<'_> {
    /// The waiter gave up: a turn still queued leaves the queue (its request is dropped);
    /// one that got its lane meanwhile runs to its end unheard.
    fn drop(&mut self) {
        let Some(turn) = self.turn else { return };
        let conv = self.conversation.id();
        self.conversation
            .with(|shared, now| shared.give_up_turn(conv, turn, now));
    }
}

/// The running turn of a [`Conversation`]: a [`Stream`] of its session events (started,
/// deltas, completed responses, tool calls to answer with
/// [`Conversation::submit_tool_output`], retries, replays) that ends when the turn does — with
/// an `Err` item first if it failed. The events' `lane` is the pool's.
///
/// Events are taken from the pool in batches: one lock per batch, not per event. Dropping a
/// turn before its end stops listening, and never holds the conversation's lane for good: a
/// response still streaming runs to its end unheard (a sent request cannot be taken back),
/// and the turn ends once nothing of it is in flight, its tool calls left open if its
/// response made some. Answer them through the conversation
/// ([`Conversation::pending_tool_calls`], [`Conversation::submit_tool_output`]); they go out
/// with its next turn.
#[derive(Debug)]
pub struct Turn {
    conversation: Conversation,
    id: TurnId,
    /// A batch taken from the pool, handed out before the next lock.
    batch: std::collections::VecDeque<SessionEvent>,
    /// The end was seen (and handed out).
    over: bool,
}

impl Turn {
    pub(crate) fn new(conversation: Conversation, id: TurnId) -> Turn {
        Turn {
            conversation,
            id,
            batch: Default::default(),
            over: false,
        }
    }

    /// The pool's id of this turn.
    pub fn id(&self) -> TurnId {
        self.id
    }

    /// The conversation.
    pub fn conversation(&self) -> &Conversation {
        &self.conversation
    }

    /// Reads the turn to its end and returns its last response. For turns that make no
    /// tool call (or whose calls another task answers); see
    /// [`Conversation::run_tool_loop`] otherwise.
    pub async fn finish(mut self) -> Result<Response, Error> {
        let mut last = None;
        while let Some(event) = self.next().await {
            if let SessionEvent::Completed { response, .. } = event? {
                last = Some(response);
            }
        }
        last.map(|response| *response).ok_or(Error::NoResponse)
    }
}

impl Stream for Turn {
    type Item = Result<SessionEvent, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if let Some(event) = this.batch.pop_front() {
            return Poll::Ready(Some(Ok(event)));
        }
        if this.over {
            return Poll::Ready(None);
        }
        let conv = this.conversation.id();
        let mut shared = this.conversation.pool().lock.lock();
        let keep = |kept: &mut Option<Waker>| {
            if !kept.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                *kept = Some(cx.waker().clone());
            }
        };
        match shared.next_events(conv, this.id, &mut this.batch, keep) {
            TurnStep::Events => Poll::Ready(this.batch.pop_front().map(Ok)),
            TurnStep::Waiting => Poll::Pending,
            TurnStep::Ended(error) => {
                this.over = true;
                Poll::Ready(error.map(Err))
            }
        }
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        if !self.over {
            let (conv, turn) = (self.conversation.id(), self.id);
            self.conversation
                .with(|shared, now| shared.detach_turn(conv, turn, now));
        }
    }
}
