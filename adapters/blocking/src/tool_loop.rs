//! [`Connection::run_tool_loop`]: one lane driven from a first request to a final answer,
//! with the application's handler answering every function and custom tool call on the way.
//! The session sequences the calls and sends the continuations; this file only routes events.

use responses_ws_core::client::ClientEvent;
use responses_ws_core::session::{Lane, SessionEvent, ToolCall, ToolCallKind};
use responses_ws_core::wire::{IncompleteReason, Response, ResponseCreate, ToolOutput};

use crate::connection::Connection;
use crate::Error;

impl Connection {
    /// Creates `request` on its lane (its `stream_id`), then drives the lane until one of its
    /// responses makes no tool call, and returns that response. Each response's function and
    /// custom tool calls go to `handler` (one after the other, in output order, as this is
    /// the blocking adapter; the async adapters run them concurrently); each output is
    /// submitted as it comes, and the continuation goes out on its own.
    ///
    /// Fails with [`Error::Request`] when a request of the lane fails (a request that had
    /// started when the connection dropped fails as `Interrupted`; one that had not is
    /// retried by the core after a reconnect), [`Error::ApprovalRequired`] for MCP approval
    /// requests (the other calls are answered first), [`Error::ConnectionClosed`] when the
    /// connection ends for good. When the retry budget is spent, the request fails with
    /// [`RequestError::GaveUp`](crate::RequestError::GaveUp), carrying the last cause.
    ///
    /// Events of other lanes and of the connection (`Connected`, `Disconnected`) are kept, in
    /// order, for [`next_event`](Self::next_event) (they are held in memory until then). A
    /// reconnect in the middle is transparent unless it interrupts a running response.
    ///
    /// ```no_run
    /// use responses_ws_blocking::{Config, Connection, ResponseCreate, ToolOutput};
    ///
    /// let mut conn = Connection::connect(Config::new("ws://127.0.0.1:8080/v1/responses")?)?;
    /// let response = conn.run_tool_loop(
    ///     ResponseCreate {
    ///         model: Some("gpt-5.5".into()),
    ///         input: Some("What is 2 + 3?".into()),
    ///         ..Default::default()
    ///     },
    ///     |call| match call.name.as_str() {
    ///         "add" => {
    ///             let args: serde_json::Value = call.parse_arguments().unwrap_or_default();
    ///             let sum = args["a"].as_i64().unwrap_or(0) + args["b"].as_i64().unwrap_or(0);
    ///             ToolOutput::from(sum.to_string())
    ///         }
    ///         other => ToolOutput::from(format!("no tool named {other}")),
    ///     },
    /// )?;
    /// println!("{}", response.all_output_text());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run_tool_loop<F, O>(
        &mut self,
        request: ResponseCreate,
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        self.create(request)?;
        loop {
            let Some(event) = self.next_from_core()? else {
                return Err(Error::ConnectionClosed);
            };
            match event {
                ClientEvent::Session(event) if lane_of(&event) == Some(&lane) => {
                    if let Some(response) = self.on_lane_event(event, &mut handler)? {
                        return Ok(response);
                    }
                }
                other => self.set_aside(other),
            }
        }
    }

    /// An event of the tool loop's lane: the final response, an error, or neither (go on).
    fn on_lane_event<F, O>(
        &mut self,
        event: SessionEvent,
        handler: &mut F,
    ) -> Result<Option<Response>, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        match event {
            SessionEvent::Completed { response, .. } if is_final(&response) => Ok(Some(*response)),
            SessionEvent::ToolCalls { lane, calls, .. } => {
                let (approvals, calls): (Vec<_>, Vec<_>) = calls
                    .into_iter()
                    .partition(|call| matches!(call.kind, ToolCallKind::McpApproval { .. }));
                for call in &calls {
                    let output = handler(call);
                    // Tells the core the time first: the handler may have taken a while.
                    self.submit_tool_output(&lane, &call.call_id, output)?;
                }
                match approvals.is_empty() {
                    true => Ok(None),
                    false => Err(Error::ApprovalRequired {
                        lane,
                        calls: approvals,
                    }),
                }
            }
            SessionEvent::Failed { lane, error, .. } => Err(Error::Request { lane, error }),
            _ => Ok(None),
        }
    }
}

/// Whether a completed response ends the loop: no calls to answer, and not steered to an end
/// (the server then starts its successor by itself).
fn is_final(response: &Response) -> bool {
    let steered = response
        .incomplete_details
        .as_ref()
        .is_some_and(|details| details.reason == Some(IncompleteReason::Steered));
    response.tool_calls().next().is_none() && !steered
}

/// The lane a session event belongs to, if any.
fn lane_of(event: &SessionEvent) -> Option<&Lane> {
    match event {
        SessionEvent::FullContext { lane, .. }
        | SessionEvent::Started { lane, .. }
        | SessionEvent::Stream { lane, .. }
        | SessionEvent::Completed { lane, .. }
        | SessionEvent::ToolCalls { lane, .. }
        | SessionEvent::Failed { lane, .. }
        | SessionEvent::SteerAccepted { lane, .. }
        | SessionEvent::SteerPending { lane, .. }
        | SessionEvent::SteerFailed { lane, .. } => Some(lane),
        _ => None,
    }
}
