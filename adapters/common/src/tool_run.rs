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
/// use responses_ws_adapter::{Config, ConnectionState, ToolRun, ToolStep};
/// use responses_ws_adapter::responses_ws_core::session::Lane;
///
/// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
/// let id = state.create(responses_ws_adapter::ResponseCreate::new("gpt-5.5").input("Hi"))?;
/// let mut run = ToolRun::new(Lane::Default, id);
/// // Nothing set aside: the driver reads the connection for the next event.
/// assert!(run.step_set_aside(&mut state).is_none());
/// // The connection ended for good: the loop fails.
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
#[derive(Debug)]
pub enum ToolStep {
    /// Run the handler on these calls ([`Calls::calls`]; its approvals end the loop once
    /// the calls are answered: [`ToolRun::approvals_left`]).
    Answer(Calls),
    /// The loop is over: its final response, or why there is none.
    Done(Result<Response, Error>),
    /// Nothing to do: the next event.
    Next,
}

/// How a durable run goes on once its conversation is open ([`DurableRun::start`]).
///
/// Not `non_exhaustive`: a driver must follow every kind.
#[derive(Debug)]
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
    ///
    /// ```
    /// use responses_ws_adapter::ToolRun;
    /// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId};
    ///
    /// let run = ToolRun::new(Lane::Default, RequestId(1));
    /// assert_eq!(run.lane(), &Lane::Default);
    /// ```
    pub fn new(lane: Lane, request: RequestId) -> ToolRun {
        ToolRun::following(ToolLoop::new(lane, request))
    }

    fn following(tool_loop: ToolLoop) -> ToolRun {
        ToolRun { tool_loop, seen: 0 }
    }

    /// The lane the loop runs on.
    ///
    /// ```
    /// use responses_ws_adapter::ToolRun;
    /// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId};
    ///
    /// let lane = Lane::named("planner")?;
    /// assert_eq!(ToolRun::new(lane.clone(), RequestId(2)).lane(), &lane);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lane(&self) -> &Lane {
        self.tool_loop.lane()
    }

    /// The loop's step on the first set-aside event it has not looked at; `None` when it
    /// has looked at every one (the driver then drives the connection for the next event,
    /// for [`step`](Self::step)).
    ///
    /// ```
    /// use responses_ws_adapter::{ClientEvent, Config, ConnectionState, ToolRun, ToolStep};
    /// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// state.set_aside(ClientEvent::Connected { headers: Vec::new() });
    /// let mut run = ToolRun::new(Lane::Default, RequestId(1));
    /// // Not the loop's: it stays set aside for the application.
    /// assert!(matches!(run.step_set_aside(&mut state), Some(ToolStep::Next)));
    /// assert!(run.step_set_aside(&mut state).is_none());
    /// assert!(state.take_set_aside()?.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step_set_aside(&mut self, state: &mut ConnectionState) -> Option<ToolStep> {
        let event = state.take_set_aside_at(self.seen)?;
        Some(self.step(state, Some(event)))
    }

    /// The loop's step on `event`, the connection's next (`None`: the connection is over
    /// for good, and the loop fails with [`Error::ConnectionClosed`]). An event that is not
    /// the loop's is set aside for the application, in order.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, Error, ToolRun, ToolStep};
    /// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId};
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let mut run = ToolRun::new(Lane::Default, RequestId(1));
    /// assert!(matches!(run.step(&mut state, None), ToolStep::Done(Err(Error::ConnectionClosed))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
            Step::Done(response) => ToolStep::Done(Ok(*response)),
            Step::Failed { lane, error } => ToolStep::Done(Err(Error::Request { lane, error })),
            _ => ToolStep::Next,
        }
    }

    /// Hands `call`'s output to the session (its last call's output sends the
    /// continuation) and stores it before the next handler runs: a crash re-runs only the
    /// handlers whose output was not stored.
    ///
    /// ```
    /// use responses_ws_adapter::{Config, ConnectionState, ToolCall, ToolRun};
    /// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId, ToolCallKind};
    /// use responses_ws_adapter::responses_ws_core::Instant;
    ///
    /// let (mut state, _) = ConnectionState::new(Config::new("ws://127.0.0.1:9/v1/responses")?.into_parts());
    /// let mut run = ToolRun::new(Lane::Default, RequestId(1));
    /// let call = ToolCall { call_id: "call_1".into(), name: "clock".into(), kind: ToolCallKind::Function, arguments: "{}".into() };
    /// // No response asked for it: the session refuses the output.
    /// assert!(run.submit(&mut state, Instant::ZERO, call, "noon").is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// use responses_ws_adapter::ToolRun;
    /// use responses_ws_adapter::responses_ws_core::session::{Lane, RequestId};
    ///
    /// let run = ToolRun::new(Lane::Default, RequestId(1));
    /// assert!(run.approvals_left(Vec::new()).is_ok());
    /// ```
    pub fn approvals_left(&self, approvals: Vec<ToolCall>) -> Result<(), Error> {
        Error::approvals_left(self.lane(), approvals)
    }
}

impl DurableRun {
    /// Opens durable conversation `conversation` on the lane of `request.stream_id`: a new
    /// one is journaled from now on, a stored one resumed (its lease taken). The driver
    /// then writes what the resumption queued and goes on as the answer says.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use responses_ws_adapter::{Config, ConnectionState, DurableRun, MemoryStore, ResponseCreate};
    ///
    /// let config = Config::new("ws://127.0.0.1:9/v1/responses")?
    ///     .store(Arc::new(MemoryStore::default()), "worker-1");
    /// let (mut state, _) = ConnectionState::new(config.into_parts());
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// assert!(matches!(DurableRun::start(&mut state, "conv-1", request)?, DurableRun::Send(_)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
