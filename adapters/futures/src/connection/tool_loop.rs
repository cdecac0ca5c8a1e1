//! [`Connection::run_tool_loop`]: one turn driven to its final answer. Each response's tool
//! calls go to an async handler, the calls of one response concurrently, and their outputs
//! back to the session, which sends the continuation; until a response makes no call.
//!
//! The core's `ToolLoop` decides every step (which events are the loop's, which calls to
//! answer, what ends it); this file runs the handlers and keeps every other event — other
//! lanes, connection changes — for [`Connection::next_event`].

use std::future::{poll_fn, Future};
use std::pin::pin;

use futures_util::future::{select, Either};
use futures_util::stream::{FuturesUnordered, StreamExt};
use responses_ws_adapter::{ToolRun, ToolStep};
use responses_ws_core::session::ToolCall;
use responses_ws_core::tool_loop::Calls;
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::Connection;
use crate::Error;

impl Connection {
    /// Creates `request` on its lane (its `stream_id`), then drives the lane until one of its
    /// responses makes no tool call, and returns that response. Each response's function and
    /// custom tool calls go to `handler` together and run concurrently; their outputs are
    /// submitted in call order, and the continuation goes out on its own (the session decides
    /// how it chains). While the handlers run, the connection is driven too (pings answered,
    /// keepalive kept), its events set aside up to a bound.
    ///
    /// Fails with [`Error::Request`] when a request of the lane fails (a request that had
    /// started when the connection dropped fails as `Interrupted`; one that had not is
    /// retried by the core after a reconnect), [`Error::ApprovalRequired`] for MCP approval
    /// requests (the other calls are answered first), [`Error::ConnectionClosed`] when the
    /// connection ends for good. When the retry budget is spent, the request fails with
    /// [`RequestError::GaveUp`](crate::RequestError::GaveUp), carrying the last cause.
    ///
    /// The lane's own stream events are consumed here; events of other lanes and of the
    /// connection are kept, in order, for [`next_event`](Self::next_event) (so they take
    /// memory until then). Dropping the future leaves the lane as it is: pending calls can be
    /// answered with [`submit_tool_output`](Self::submit_tool_output).
    ///
    /// ```no_run
    /// use responses_ws_futures::{Config, Connection, ResponseCreate, ToolCall};
    ///
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut conn = Connection::connect(Config::new("ws://127.0.0.1:8080/v1/responses")?).await?;
    /// let request = ResponseCreate {
    ///     model: Some("gpt-5.5".into()),
    ///     input: Some("What is 2 + 3?".into()),
    ///     ..Default::default()
    /// };
    /// let response = conn
    ///     .run_tool_loop(request, |call: ToolCall| async move {
    ///         match call.name.as_str() {
    ///             "add" => "5".to_string(),
    ///             other => format!("unknown tool {other}"),
    ///         }
    ///     })
    ///     .await?;
    /// println!("{}", response.all_output_text());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_tool_loop<F, Fut, O>(
        &mut self,
        request: ResponseCreate,
        handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let create = self.send(true, |state| ToolRun::create(state, request));
        let run = create.await?;
        self.drive_tool_loop(run, handler).await
    }

    /// Drives `run` to its final response: each response's calls to `handler`
    /// (concurrently), their outputs back as the handlers return.
    pub(crate) async fn drive_tool_loop(
        &mut self,
        mut run: ToolRun,
        mut handler: impl Handler,
    ) -> Result<Response, Error> {
        loop {
            let step = match run.step_set_aside(&mut self.state) {
                Some(step) => step,
                None => {
                    let event = poll_fn(|cx| self.poll_drive(cx, false)).await;
                    run.step(&mut self.state, event)
                }
            };
            match step {
                ToolStep::Answer(calls) => self.answer(&mut run, calls, &mut handler).await?,
                ToolStep::Done(result) => return result.map(|response| *response),
                ToolStep::Next => {}
            }
        }
    }

    /// Runs `handler` on `calls` concurrently (the connection driven meanwhile) and submits
    /// each output as its handler returns; MCP approval requests end the loop
    /// ([`Error::ApprovalRequired`]). With a store, the calls' records are stored before
    /// any handler runs, and each output is stored as soon as its handler returns (before
    /// the next one is awaited): a crash re-runs only the handlers that had not returned.
    pub(crate) async fn answer(
        &mut self,
        run: &mut ToolRun,
        calls: Calls,
        handler: &mut impl Handler,
    ) -> Result<(), Error> {
        self.state.persist_now()?;
        let mut running: FuturesUnordered<_> = calls
            .calls
            .into_iter()
            .map(|call| {
                let output = handler.answer(call.clone());
                async move { (call, output.await) }
            })
            .collect();
        loop {
            let next = running.next();
            let aside = poll_fn(|cx| self.poll_aside(cx));
            let done = match select(pin!(next), pin!(aside)).await {
                Either::Left((done, _)) => done,
                Either::Right((never, _)) => match never {},
            };
            let Some((call, output)) = done else {
                break;
            };
            let now = self.now();
            run.submit(&mut self.state, now, call, output)?;
        }
        self.flush().await;
        self.state.store_result()?;
        run.approvals_left(calls.approvals)
    }
}

/// A tool handler as the loop's steps call it: what `run_tool_loop` and `run_durable` take
/// (a call in, a future of its output out), its bounds written once.
pub(crate) trait Handler {
    type Output: Into<ToolOutput>;
    type Answer: Future<Output = Self::Output>;
    fn answer(&mut self, call: ToolCall) -> Self::Answer;
}

impl<F: FnMut(ToolCall) -> Fut, Fut: Future<Output = O>, O: Into<ToolOutput>> Handler for F {
    type Output = O;
    type Answer = Fut;
    fn answer(&mut self, call: ToolCall) -> Fut {
        self(call)
    }
}
