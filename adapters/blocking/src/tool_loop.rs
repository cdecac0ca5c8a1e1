//! [`Connection::run_tool_loop`]: one lane driven from a first request to a final answer,
//! with the application's handler answering every function and custom tool call on the way.
//! The core's `ToolLoop` decides every step (which events are the loop's, which calls to
//! answer, what ends it); this file runs the handler and keeps the other events.

use responses_ws_adapter::{ToolRun, ToolStep};
use responses_ws_core::session::ToolCall;
use responses_ws_core::tool_loop::Calls;
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use crate::connection::Connection;
use crate::Error;

impl Connection {
    /// Creates `request` on its lane (its `stream_id`), then drives the lane until one of its
    /// responses makes no tool call, and returns that response. Each response's function and
    /// custom tool calls go to `handler` (one after the other, in output order, as this is
    /// the blocking adapter; the async adapters run them concurrently); each output is
    /// submitted as its handler returns, and the continuation goes out on its own.
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
        handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(&ToolCall) -> O,
        O: Into<ToolOutput>,
    {
        let run = self.send(true, |state| ToolRun::create(state, request))?;
        self.drive_tool_loop(run, handler)
    }

    /// Drives `run` to its final response, answering each response's calls with `handler`.
    pub(crate) fn drive_tool_loop(
        &mut self,
        mut run: ToolRun,
        mut handler: impl Handler,
    ) -> Result<Response, Error> {
        loop {
            let step = match run.step_set_aside(&mut self.state) {
                Some(step) => step,
                None => {
                    let event = self.next_from_core()?;
                    run.step(&mut self.state, event)
                }
            };
            match step {
                ToolStep::Answer(calls) => self.answer(&mut run, calls, &mut handler)?,
                ToolStep::Done(result) => return result.map(|response| *response),
                ToolStep::Next => {}
            }
        }
    }

    /// Answers `calls` with `handler`, one after the other, and writes the outputs out;
    /// MCP approval requests end the loop ([`Error::ApprovalRequired`]).
    ///
    /// With a store, the calls' records are stored before the first handler runs and each
    /// output before the next handler runs.
    pub(crate) fn answer(
        &mut self,
        run: &mut ToolRun,
        calls: Calls,
        handler: &mut impl Handler,
    ) -> Result<(), Error> {
        self.state.persist_now()?;
        for call in calls.calls {
            let output = handler.answer(&call);
            let now = self.now();
            run.submit(&mut self.state, now, call, output)?;
        }
        self.flush();
        self.state.store_result()?;
        run.approvals_left(calls.approvals)
    }
}

/// A tool handler as the loop's steps call it: what `run_tool_loop` and `run_durable` take
/// (a call in, its output out), its bounds written once.
pub(crate) trait Handler {
    type Output: Into<ToolOutput>;
    fn answer(&mut self, call: &ToolCall) -> Self::Output;
}

impl<F: FnMut(&ToolCall) -> O, O: Into<ToolOutput>> Handler for F {
    type Output = O;
    fn answer(&mut self, call: &ToolCall) -> O {
        self(call)
    }
}
