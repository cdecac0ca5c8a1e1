//! [`Connection::run_tool_loop`]: one turn driven to its final answer. Each response's tool
//! calls go to an async handler, the calls of one response concurrently, and their outputs
//! back to the session, which sends the continuation; until a response makes no call.
//!
//! The loop follows its own requests by id: the first one, then each continuation (the
//! first request of the lane after the outputs were submitted). Every other event — other
//! lanes, connection changes — is kept for [`Connection::next_event`].

use std::future::{poll_fn, Future};

use futures_util::future::join_all;
use responses_ws_core::client::ClientEvent;
use responses_ws_core::session::{Lane, RequestId, SessionEvent, ToolCall, ToolCallKind};
use responses_ws_core::wire::{IncompleteReason, Response, ResponseCreate, ToolOutput};

use crate::connection::Connection;
use crate::Error;

/// Which request of the lane the loop is following.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Following {
    /// This request.
    Request(RequestId),
    /// The next request of the lane: the continuation just sent (or the successor the
    /// server starts after a steer).
    Next,
}

/// What an event means to the loop.
// Short-lived, one at a time: not worth a box.
#[allow(clippy::large_enum_variant)]
enum Step {
    /// Not the loop's: keep it for `next_event`.
    Other(ClientEvent),
    /// The loop's, and nothing to do.
    Consumed,
    /// The followed request completed with this response.
    Completed(Box<Response>),
    /// The followed request failed.
    Failed(Error),
}

impl Connection {
    /// Creates `request` on its lane (its `stream_id`), then drives the lane until one of its
    /// responses makes no tool call, and returns that response. Each response's function and
    /// custom tool calls go to `handler` together and run concurrently; their outputs are
    /// submitted in call order, and the continuation goes out on its own (the session decides
    /// how it chains). While the handlers run, the connection is not driven (this adapter
    /// polls nothing behind the caller's back).
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
        mut handler: F,
    ) -> Result<Response, Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let lane = Lane::from_stream_id(request.stream_id.as_deref());
        let mut following = Following::Request(self.create(request).await?);
        loop {
            let Some(event) = poll_fn(|cx| self.poll_drive(cx, false)).await else {
                return Err(Error::ConnectionClosed);
            };
            let response = match classify(&lane, &mut following, event) {
                Step::Other(event) => {
                    self.defer(event);
                    continue;
                }
                Step::Consumed => continue,
                Step::Failed(error) => return Err(error),
                Step::Completed(response) => response,
            };
            if steered(&response) {
                following = Following::Next;
                continue;
            }
            let calls = self.client().session().pending_tool_calls(&lane);
            if calls.is_empty() {
                return Ok(*response);
            }
            self.answer(&lane, calls, &mut handler).await?;
            following = Following::Next;
        }
    }

    /// Runs the handler on every function and custom call at once and submits the outputs.
    async fn answer<F, Fut, O>(
        &mut self,
        lane: &Lane,
        calls: Vec<ToolCall>,
        handler: &mut F,
    ) -> Result<(), Error>
    where
        F: FnMut(ToolCall) -> Fut,
        Fut: Future<Output = O>,
        O: Into<ToolOutput>,
    {
        let (approvals, calls): (Vec<ToolCall>, Vec<ToolCall>) = calls
            .into_iter()
            .partition(|call| matches!(call.kind, ToolCallKind::McpApproval { .. }));
        let outputs = join_all(calls.iter().cloned().map(&mut *handler)).await;
        // The handlers may have taken a while: the core hears the time before it sends.
        self.catch_up();
        for (call, output) in calls.iter().zip(outputs) {
            self.client_mut()
                .submit_tool_output(lane, &call.call_id, output.into())?;
        }
        self.write_out().await;
        if approvals.is_empty() {
            Ok(())
        } else {
            Err(Error::ApprovalRequired {
                lane: lane.clone(),
                calls: approvals,
            })
        }
    }
}

/// Sorts an event into the loop's or another's, updating which request is followed.
fn classify(lane: &Lane, following: &mut Following, event: ClientEvent) -> Step {
    let ClientEvent::Session(session) = event else {
        return Step::Other(event);
    };
    let Some((event_lane, request)) = request_of(&session) else {
        // A lane's tool calls follow its `Completed`, which the loop has handled already.
        return match &session {
            SessionEvent::ToolCalls { lane: l, .. } if l == lane => Step::Consumed,
            _ => Step::Other(ClientEvent::Session(session)),
        };
    };
    if event_lane != lane {
        return Step::Other(ClientEvent::Session(session));
    }
    if *following == Following::Next {
        *following = Following::Request(request);
    }
    if *following != Following::Request(request) {
        return Step::Other(ClientEvent::Session(session));
    }
    match session {
        SessionEvent::Completed { response, .. } => Step::Completed(response),
        SessionEvent::Failed { lane, error, .. } => Step::Failed(Error::Request { lane, error }),
        _ => Step::Consumed,
    }
}

/// The lane and request of an event that belongs to one request.
fn request_of(event: &SessionEvent) -> Option<(&Lane, RequestId)> {
    match event {
        SessionEvent::FullContext { lane, request, .. }
        | SessionEvent::Started { lane, request, .. }
        | SessionEvent::Stream { lane, request, .. }
        | SessionEvent::Completed { lane, request, .. }
        | SessionEvent::Failed { lane, request, .. } => Some((lane, *request)),
        _ => None,
    }
}

/// Whether the response ended because it was steered (the server starts a successor).
fn steered(response: &Response) -> bool {
    response
        .incomplete_details
        .as_ref()
        .is_some_and(|details| details.reason == Some(IncompleteReason::Steered))
}
