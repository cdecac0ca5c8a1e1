//! [`ToolRun`]: a tool loop as both drivers run it on a [`ConnectionState`] — which events
//! are the loop's (the core's `ToolLoop` decides), where the others go (set aside, in order,
//! for the application), how each handler's output reaches the session and the store — and
//! [`DurableRun`]: how a durable run goes on once its conversation is open. The drivers add
//! only how they wait: for the next event, and for their handlers (one after the other in
//! the blocking driver, concurrently in the async one).
//!
//! Invariant: the set-aside events before `seen` were looked at by this loop and are not
//! its own; events set aside meanwhile go after them, so `seen` stays right.

use responses_ws_core::client::ClientEvent;
use responses_ws_core::session::{Lane, RequestId, ToolCall};
use responses_ws_core::tool_loop::{Calls, Step, ToolLoop};
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};
use responses_ws_core::Instant;

use crate::{ConnectionState, Durable, Error, Start};

/// A tool loop being driven on a connection.
///
/// ```
/// use responses_ws_adapter::{ClientEvent, Config, ConnectionState, ResponseCreate, ToolRun, ToolStep};
/// use responses_ws_adapter::responses_ws_core::mock::{MockPeer, Script, ScriptedCall};
/// use responses_ws_adapter::responses_ws_core::session::Lane;
/// use responses_ws_adapter::responses_ws_core::Instant;
///
/// let (mut state, _) = ConnectionState::new(Config::<()>::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
/// let script = Script::new().tool_calls([ScriptedCall::new("clock", "{}")]).text("It is noon.", 1);
/// let mut server = MockPeer::new(script, 0, Instant::ZERO);
/// state.machine.connect([1; 32], Instant::ZERO)?;
/// let first = state.create(ResponseCreate::new("gpt-5.5").input("What time is it?"))?;
/// let mut run = ToolRun::new(Lane::Default, first);
/// let mut events = server.exchange(state.machine.client_mut().unwrap(), Instant::ZERO);
/// let answer = loop {
///     match run.step(&mut state, Some(events.remove(0))) {
///         ToolStep::Answer(calls) => {
///             for call in calls.calls {
///                 run.submit(&mut state, Instant::ZERO, call, "12:00")?;
///             }
///             events.extend(server.exchange(state.machine.client_mut().unwrap(), Instant::ZERO));
///         }
///         ToolStep::Done(response) => break response?.all_output_text(),
///         ToolStep::Next => {}
///     }
/// };
/// assert_eq!(answer, "It is noon.");
/// // The connection's own events were set aside for the application, in order.
/// assert!(matches!(state.take_set_aside()?, Some(ClientEvent::Connected { .. })));
/// // A loop whose connection ends for good fails.
/// let mut run = ToolRun::new(Lane::Default, first);
/// assert!(matches!(run.step(&mut state, None), ToolStep::Done(Err(_))));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ToolRun {
    tool_loop: ToolLoop,
    /// Set-aside events before this index were looked at and are not the loop's.
    seen: usize,
}

/// What a driver does next in a [`ToolRun`].
///
/// Not `non_exhaustive`: a driver must do every kind.
///
/// ```
/// use responses_ws_adapter::{Config, ConnectionState, Error, ToolRun, ToolStep};
/// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId};
///
/// let (mut state, _) = ConnectionState::new(Config::<()>::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
/// let mut run = ToolRun::new(Lane::Default, RequestId(1));
/// match run.step(&mut state, None) {
///     ToolStep::Answer(calls) => unreachable!("no response made {calls:?}"),
///     ToolStep::Done(result) => assert!(matches!(result, Err(Error::ConnectionClosed))),
///     ToolStep::Next => unreachable!("the connection is over"),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub enum ToolStep {
    /// Run the handler on these calls ([`Calls::calls`]; its approvals end the loop once
    /// the calls are answered: [`ToolRun::approvals_left`]).
    Answer(Calls),
    /// The loop is over: its final response, or why there is none.
    Done(Result<Box<Response>, Error>),
    /// Nothing to do: the next event.
    Next,
}

/// How a durable run goes on once its conversation is open ([`DurableRun::start`]).
///
/// Not `non_exhaustive`: a driver must follow every kind. One per durable run, moved on at
/// once: boxing the request would only cost an allocation.
///
/// ```
/// use std::sync::Arc;
/// use responses_ws_adapter::{Config, ConnectionState, DurableRun, MemoryStore, ResponseCreate};
///
/// let store = Arc::new(MemoryStore::default());
/// let config = Config::<()>::new("ws://127.0.0.1:9/v1/responses")?.store(store, "worker-1");
/// let (mut state, _) = ConnectionState::new(config.into_parts());
/// let request = ResponseCreate::new("gpt-5.5").input("Hi");
/// // A conversation the store never saw: it is journaled, and its request is sent.
/// let DurableRun::Send(request) = DurableRun::start(&mut state, "conv-1", request)? else {
///     unreachable!("the store was empty")
/// };
/// state.create(request)?;
/// assert!(state.persist());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DurableRun {
    /// Send this request and run the tool loop: the conversation is new, or its first
    /// input never was stored.
    Send(ResponseCreate),
    /// The conversation had finished: its final response, nothing to send.
    Finished(Box<Response>),
    /// It stopped midway: answer `rerun` (the calls whose outputs were not stored; there
    /// may be none), then drive `run` on.
    Resume {
        /// The loop, following the lane's next request.
        run: ToolRun,
        /// The calls to hand to the handler again.
        rerun: Calls,
    },
}

impl ToolRun {
    /// The loop of a lane whose first request is `request` (what `create` returned).
    pub fn new(lane: Lane, request: RequestId) -> ToolRun {
        ToolRun::following(ToolLoop::new(lane, request))
    }

    /// Queues `request` on its lane (see [`ConnectionState::create`]) and follows it.
    pub fn create(state: &mut ConnectionState, request: ResponseCreate) -> Result<ToolRun, Error> {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        Ok(ToolRun::new(lane, state.create(request)?))
    }

    fn following(tool_loop: ToolLoop) -> ToolRun {
        ToolRun { tool_loop, seen: 0 }
    }

    /// The lane the loop runs on.
    pub fn lane(&self) -> &Lane {
        self.tool_loop.lane()
    }

    /// The loop's step on the first set-aside event it has not looked at; `None` when it
    /// has looked at every one (the driver then drives the connection for the next event,
    /// for [`step`](Self::step)).
    pub fn step_set_aside(&mut self, state: &mut ConnectionState) -> Option<ToolStep> {
        let event = state.take_set_aside_at(self.seen)?;
        Some(self.step(state, Some(event)))
    }

    /// The loop's step on `event`, the connection's next (`None`: the connection is over
    /// for good, and the loop fails with [`Error::ConnectionClosed`]). An event that is not
    /// the loop's is set aside for the application, in order.
    pub fn step(&mut self, state: &mut ConnectionState, event: Option<ClientEvent>) -> ToolStep {
        let Some(event) = event else {
            return ToolStep::Done(Err(Error::ConnectionClosed));
        };
        match self.tool_loop.step(event) {
            Step::Other(event) => {
                state.put_set_aside_at(self.seen, event);
                self.seen += 1;
                ToolStep::Next
            }
            Step::Answer(calls) => ToolStep::Answer(calls),
            Step::Done(response) => ToolStep::Done(Ok(response)),
            Step::Failed { lane, error } => ToolStep::Done(Err(Error::Request { lane, error })),
            _ => ToolStep::Next,
        }
    }

    /// Hands `call`'s output to the session (its last call's output sends the
    /// continuation) and stores it before the next handler runs: a crash re-runs only the
    /// handlers whose output was not stored.
    pub fn submit(
        &mut self,
        state: &mut ConnectionState,
        now: Instant,
        call: ToolCall,
        output: impl Into<ToolOutput>,
    ) -> Result<(), Error> {
        let calls = Calls::split(vec![call]);
        self.tool_loop
            .submit(&mut state.machine, now, calls, [output])?;
        state.persist_now()
    }

    /// How the loop goes on once a response's calls are answered: `Ok` when it made no MCP
    /// approval request, else [`Error::ApprovalRequired`] with them (a handler cannot give
    /// them).
    pub fn approvals_left(&self, approvals: Vec<ToolCall>) -> Result<(), Error> {
        Error::approvals_left(self.lane(), approvals)
    }
}

impl DurableRun {
    /// Opens durable conversation `conversation` on the lane of `request.stream_id`: a new
    /// one is journaled from now on, a stored one resumed (its lease taken). The driver
    /// then writes what the resumption queued and goes on as the answer says.
    pub fn start(
        state: &mut ConnectionState,
        conversation: &str,
        request: ResponseCreate,
    ) -> Result<DurableRun, Error> {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let durable = Durable::required(&mut state.durable)?;
        let Start::Resumed(resumed) = durable.start(&mut state.machine, &lane, conversation)?
        else {
            return Ok(DurableRun::Send(request));
        };
        Ok(match (resumed.finished, resumed.started) {
            (Some(response), _) => DurableRun::Finished(response),
            (None, false) => DurableRun::Send(request),
            (None, true) => DurableRun::Resume {
                run: ToolRun::following(ToolLoop::resumed(lane)),
                rerun: Calls::split(resumed.rerun),
            },
        })
    }
}
