//! [`Connection::run_tool_loop`]: drives one lane until a response makes no tool call,
//! answering each response's calls with an async handler, all calls of a response at once.
//!
//! Events of other lanes (and `Connected` / `Disconnected`) are not lost: they stay in the
//! connection's deferred queue for `next_event`. While handlers run, the connection is driven
//! too (pings answered, keepalive kept); past
//! [`MAX_SET_ASIDE_EVENTS`](crate::MAX_SET_ASIDE_EVENTS) kept events the socket is not read.

use std::convert::Infallible;
use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::{Context, Poll};

use futures_util::future::{join_all, select, Either};
use responses_ws_core::session::{Lane, ToolCall};
use responses_ws_core::tool_loop::{Step, ToolLoop};
use responses_ws_core::wire::{Response, ResponseCreate, ToolOutput};

use super::Connection;
use crate::Error;

impl Connection {
    /// Creates `request` on its lane (its `stream_id`), then drives the lane until one of its
    /// responses makes no tool call, and returns that response. Each response's function and
    /// custom tool calls go to `handler` together and run concurrently; their outputs are
    /// submitted in call order, and the continuation goes out on its own. While the handlers
    /// run, the connection is driven too (pings answered, keepalive kept).
    ///
    /// Fails with [`Error::Request`] when a request of the lane fails (a request that had
    /// started when the connection dropped fails as `Interrupted`; one that had not is
    /// retried by the core after a reconnect), [`Error::ApprovalRequired`] for MCP approval
    /// requests (the other calls are answered first), [`Error::ConnectionClosed`] when the
    /// connection ends for good. When the retry budget is spent, the request fails with
    /// [`RequestError::GaveUp`](crate::RequestError::GaveUp), carrying the last cause.
    ///
    /// Events of other lanes and of the connection are kept, in order, for
    /// [`next_event`](Self::next_event). If the loop is dropped while handlers run, their
    /// response's calls stay pending in the session (see
    /// [`Session::pending_tool_calls`](responses_ws_core::session::Session::pending_tool_calls))
    /// and can be answered with [`submit_tool_output`](Self::submit_tool_output).
    ///
    /// ```no_run
    /// use responses_ws_tokio::{Connection, ResponseCreate, ToolOutput};
    ///
    /// # async fn demo(conn: &mut Connection) -> Result<(), responses_ws_tokio::Error> {
    /// let request = ResponseCreate { input: Some("What is 2 + 3?".into()), ..Default::default() };
    /// let response = conn
    ///     .run_tool_loop(request, |call| async move {
    ///         let args: serde_json::Value = call.parse_arguments().unwrap_or_default();
    ///         let sum = args["a"].as_i64().unwrap_or(0) + args["b"].as_i64().unwrap_or(0);
    ///         ToolOutput::from(sum.to_string())
    ///     })
    ///     .await?;
    /// println!("{}", response.all_output_text());
    /// # Ok(())
    /// # }
    /// ```
    pub async fn run_tool_loop<F, Fut, O>(
        &mut self,
        request: ResponseCreate,
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let mut tool_loop = ToolLoop::new(lane, self.create(request).await?);
        // Deferred events before this index were looked at and are not the loop's.
        let mut seen = 0;
        loop {
            let event = match self.deferred.remove(seen) {
                Some(event) => event,
                None => match poll_fn(|cx| self.poll_core(cx, false)).await? {
                    Some(event) => event,
                    None => return Err(Error::ConnectionClosed),
                },
            };
            match tool_loop.step(event) {
                Step::Other(event) => {
                    self.deferred.insert(seen, event);
                    seen += 1;
                }
                Step::Answer(calls) => {
                    let outputs = join_all(calls.calls.iter().cloned().map(&mut handler));
                    let aside = poll_fn(|cx| self.poll_aside(cx));
                    let outputs = match select(pin!(outputs), pin!(aside)).await {
                        Either::Left((outputs, _)) => outputs,
                        Either::Right((Err(error), _)) => return Err(error),
                        Either::Right((Ok(never), _)) => match never {},
                    };
                    let now = self.clock.now();
                    let approvals = tool_loop.submit(&mut self.client, now, calls, outputs)?;
                    self.flush().await?;
                    if !approvals.is_empty() {
                        let lane = tool_loop.lane().clone();
                        return Err(Error::ApprovalRequired {
                            lane,
                            calls: approvals,
                        });
                    }
                }
                Step::Done(response) => return Ok(*response),
                Step::Failed { lane, error } => return Err(Error::Request { lane, error }),
                _ => {}
            }
        }
    }

    /// Drives the connection while tool handlers run, keeping its events for later.
    fn poll_aside(&mut self, cx: &mut Context<'_>) -> Poll<Result<Infallible, Error>> {
        // Bounded: past `MAX_SET_ASIDE_EVENTS` kept events, `poll_core` reads no more.
        loop {
            match self.poll_core(cx, true) {
                Poll::Ready(Ok(Some(event))) => self.deferred.push_back(event),
                // Over, or nothing now: the handlers finish the wait.
                Poll::Ready(Ok(None)) | Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
            }
        }
    }
}
