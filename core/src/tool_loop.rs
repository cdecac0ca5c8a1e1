//! [`ToolLoop`]: the tool loop's decisions, sans IO — which request of the lane it follows
//! (the first, then each continuation or server-started successor), which calls a completed
//! response leaves to answer, what ends the loop (a final response, a failure such as
//! [`RequestError::Interrupted`] when the connection ended under a running response), and
//! what to send once the outputs are in. An adapter feeds it the client's events, runs the
//! application's handler on the calls it is given, and hands the outputs back; it never
//! decides any of this itself. Events that are not the loop's are handed back untouched, to
//! be kept in order for the application.

use alloc::boxed::Box;
use alloc::vec::Vec;

use crate::client::{Client, ClientEvent, ToolHandler};
use crate::session::ToolCallKind;
use crate::session::{
    Lane, RequestError, RequestId, Session, SessionError, SessionEvent, ToolCall,
};
use crate::wire::{IncompleteReason, Response, ToolOutput};
use crate::Instant;

/// One tool loop on one lane: create its first request, then feed it every event of the
/// client with [`step`](Self::step) until it says [`Step::Done`] or [`Step::Failed`].
///
/// ```
/// use responses_ws_core::client::ClientEvent;
/// use responses_ws_core::session::{Lane, RequestId, SessionEvent};
/// use responses_ws_core::tool_loop::{Step, ToolLoop};
///
/// let mut tool_loop = ToolLoop::new(Lane::Default, RequestId(1));
/// // A `Started` of the followed request is the loop's, and needs nothing.
/// let started = ClientEvent::Session(SessionEvent::Started {
///     lane: Lane::Default,
///     request: RequestId(1),
///     response_id: "resp_1".into(),
/// });
/// assert!(matches!(tool_loop.step(started), Step::Consumed));
/// // Another lane's event is handed back, to be kept for the application.
/// let other = ClientEvent::Session(SessionEvent::Started {
///     lane: Lane::Named("b".into()),
///     request: RequestId(2),
///     response_id: "resp_2".into(),
/// });
/// assert!(matches!(tool_loop.step(other), Step::Other(_)));
/// ```
#[derive(Debug, Clone)]
pub struct ToolLoop {
    lane: Lane,
    following: Following,
    /// The followed request completed with calls: the lane's `ToolCalls` comes next.
    awaiting_calls: bool,
}

/// Which request of the lane the loop follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Following {
    /// This one.
    Request(RequestId),
    /// The lane's next request: the continuation just sent, or the successor the server
    /// starts after a steer.
    Next,
}

/// What one event means to the loop.
///
/// ```
/// # use responses_ws_core::client::{Client, ClientConfig};
/// # use responses_ws_core::mock::{MockPeer, Script, ScriptedCall};
/// # use responses_ws_core::session::Lane;
/// # use responses_ws_core::tool_loop::{Step, ToolLoop};
/// # use responses_ws_core::wire::ResponseCreate;
/// # use responses_ws_core::ws::WsUrl;
/// # use responses_ws_core::Instant;
/// # let mut client = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?));
/// let script = Script::new().tool_calls([ScriptedCall::new("clock", "{}")]).text("It is noon.", 1);
/// let mut server = MockPeer::new(script, 0, Instant::ZERO);
/// client.connect([1; 32], Instant::ZERO)?;
/// let first = client.create(ResponseCreate::new("gpt-5.5").input("What time is it?"))?;
/// let mut tool_loop = ToolLoop::new(Lane::Default, first);
/// let mut pending = server.exchange(&mut client, Instant::ZERO);
/// let answer = loop {
///     let event = pending.remove(0);
///     match tool_loop.step(event) {
///         Step::Answer(calls) => {
///             let outputs: Vec<String> = calls.calls.iter().map(|_| "12:00".to_string()).collect();
///             tool_loop.submit(&mut client, Instant::ZERO, calls, outputs)?;
///             pending.extend(server.exchange(&mut client, Instant::ZERO));
///         }
///         Step::Done(response) => break response.all_output_text(),
///         Step::Failed { error, .. } => panic!("{error:?}"),
///         Step::Consumed | Step::Other(_) => {}
///         _ => {}
///     }
/// };
/// assert_eq!(answer, "It is noon.");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
// Short-lived and moved on at once: boxing the event would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Step {
    /// Not the loop's: keep it, in order, for the application.
    Other(ClientEvent),
    /// The loop's, and nothing to do (a delta, a start, a response whose calls follow).
    Consumed,
    /// The lane's response asks for these calls: run the handler on [`Calls::calls`] and give
    /// the outputs to [`ToolLoop::submit`].
    Answer(Calls),
    /// The final response: no call to answer, and not steered.
    Done(Box<Response>),
    /// The followed request failed; the loop is over. An interrupted one (the connection
    /// ended while it ran) is [`RequestError::Interrupted`]: its outcome is unknown, so it is
    /// not sent again behind the application's back.
    Failed {
        /// The lane.
        lane: Lane,
        /// Why.
        error: RequestError,
    },
}

/// The calls of one response, as the loop splits them.
///
/// ```
/// # use responses_ws_core::session::{ToolCall, ToolCallKind};
/// # use responses_ws_core::tool_loop::Calls;
/// let call = |id: &str, kind| ToolCall { call_id: id.into(), name: "t".into(), kind, arguments: "{}".into() };
/// let calls = Calls::split(vec![call("call_1", ToolCallKind::Function), call("mcpr_1", ToolCallKind::McpApproval { server_label: "docs".into() })]);
/// assert_eq!(calls.calls.len(), 1);
/// assert_eq!(calls.approvals[0].call_id, "mcpr_1");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Calls {
    /// Function and custom tool calls, in output order: the handler's work.
    pub calls: Vec<ToolCall>,
    /// MCP approval requests, which a tool handler cannot give: the application answers them
    /// with `submit_approval` once the loop has stopped.
    pub approvals: Vec<ToolCall>,
}

impl Calls {
    /// `calls` split into the handler's and the approvals.
    ///
    /// ```
    /// # use responses_ws_core::session::{ToolCall, ToolCallKind};
    /// # use responses_ws_core::tool_loop::Calls;
    /// let call = |id: &str, kind| ToolCall { call_id: id.into(), name: "t".into(), kind, arguments: "{}".into() };
    /// let calls = Calls::split(vec![call("call_1", ToolCallKind::Function), call("call_2", ToolCallKind::Custom)]);
    /// assert_eq!(calls.calls.len(), 2);
    /// assert!(calls.approvals.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(calls: Vec<ToolCall>) -> Calls {
        let (approvals, calls) = calls
            .into_iter()
            .partition(|call| matches!(call.kind, ToolCallKind::McpApproval { .. }));
        Calls { calls, approvals }
    }
}

impl ToolLoop {
    /// A loop on a lane that was resumed (imported from stored records): it follows the
    /// lane's next request, the one the lane owes or the continuation of the calls it
    /// waits for (answer those with [`submit`](Self::submit) and [`Calls::split`] of the
    /// lane's pending calls).
    ///
    /// ```
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::tool_loop::ToolLoop;
    /// // After a restart the lane's next request is followed, whatever its id.
    /// let tool_loop = ToolLoop::resumed(Lane::named("agent")?);
    /// assert_eq!(tool_loop.lane().stream_id(), Some("agent"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn resumed(lane: Lane) -> ToolLoop {
        ToolLoop {
            lane,
            following: Following::Next,
            awaiting_calls: false,
        }
    }

    /// A loop on `lane` whose first request is `request` (what `create` returned).
    ///
    /// ```
    /// # use responses_ws_core::session::{Lane, RequestId};
    /// # use responses_ws_core::tool_loop::ToolLoop;
    /// let tool_loop = ToolLoop::new(Lane::Default, RequestId(1));
    /// assert!(matches!(tool_loop.lane(), Lane::Default));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(lane: Lane, request: RequestId) -> ToolLoop {
        ToolLoop {
            lane,
            following: Following::Request(request),
            awaiting_calls: false,
        }
    }

    /// The lane the loop runs on.
    ///
    /// ```
    /// # use responses_ws_core::session::{Lane, RequestId};
    /// # use responses_ws_core::tool_loop::ToolLoop;
    /// let tool_loop = ToolLoop::new(Lane::named("planner")?, RequestId(3));
    /// assert_eq!(tool_loop.lane().stream_id(), Some("planner"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lane(&self) -> &Lane {
        &self.lane
    }

    /// Sorts one event of the client.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script, ScriptedCall};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::tool_loop::{Step, ToolLoop};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut client = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?));
    /// let script = Script::new().tool_calls([ScriptedCall::new("clock", "{}")]).text("It is noon.", 1);
    /// let mut server = MockPeer::new(script, 0, Instant::ZERO);
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let first = client.create(ResponseCreate::new("gpt-5.5").input("What time is it?"))?;
    /// let mut tool_loop = ToolLoop::new(Lane::Default, first);
    /// let mut pending = server.exchange(&mut client, Instant::ZERO);
    /// let answer = loop {
    ///     let event = pending.remove(0);
    ///     match tool_loop.step(event) {
    ///         Step::Answer(calls) => {
    ///             let outputs: Vec<String> = calls.calls.iter().map(|_| "12:00".to_string()).collect();
    ///             tool_loop.submit(&mut client, Instant::ZERO, calls, outputs)?;
    ///             pending.extend(server.exchange(&mut client, Instant::ZERO));
    ///         }
    ///         Step::Done(response) => break response.all_output_text(),
    ///         Step::Failed { error, .. } => panic!("{error:?}"),
    ///         Step::Consumed | Step::Other(_) => {}
    ///         _ => {}
    ///     }
    /// };
    /// assert_eq!(answer, "It is noon.");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn step(&mut self, event: ClientEvent) -> Step {
        let ClientEvent::Session(session) = event else {
            return Step::Other(event);
        };
        match session {
            SessionEvent::ToolCalls { lane, calls, .. }
                if self.awaiting_calls && lane == self.lane =>
            {
                self.awaiting_calls = false;
                Step::Answer(Calls::split(calls))
            }
            session => match self.follows(&session) {
                true => self.on_followed(session),
                false => Step::Other(ClientEvent::Session(session)),
            },
        }
    }

    /// Whether `event` belongs to the followed request; the lane's next request becomes the
    /// followed one when the loop waits for it.
    fn follows(&mut self, event: &SessionEvent) -> bool {
        let (lane, request) = match event {
            SessionEvent::FullContext { lane, request, .. }
            | SessionEvent::Started { lane, request, .. }
            | SessionEvent::Stream { lane, request, .. }
            | SessionEvent::Completed { lane, request, .. }
            | SessionEvent::Failed { lane, request, .. } => (lane, *request),
            _ => return false,
        };
        if *lane != self.lane {
            return false;
        }
        if self.following == Following::Next {
            self.following = Following::Request(request);
        }
        self.following == Following::Request(request)
    }

    /// An event of the followed request.
    fn on_followed(&mut self, event: SessionEvent) -> Step {
        match event {
            SessionEvent::Completed { response, .. } if steered(&response) => {
                // The server starts a successor by itself.
                self.following = Following::Next;
                Step::Consumed
            }
            SessionEvent::Completed { response, .. } if response.tool_calls().next().is_none() => {
                Step::Done(response)
            }
            SessionEvent::Completed { .. } => {
                // The session reports the calls it waits for right after.
                self.awaiting_calls = true;
                Step::Consumed
            }
            SessionEvent::Failed { lane, error, .. } => Step::Failed { lane, error },
            _ => Step::Consumed,
        }
    }

    /// Sends the handler's outputs for `calls` (one per call, in the same order): the client
    /// hears the time first (the handlers may have taken a while, and the session decides
    /// connection rotation on the time it last saw), then every output is submitted and the
    /// continuation goes out with the last. From then on the loop follows the continuation.
    /// Tool outputs are never refused for lack of room.
    ///
    /// Returns the approval requests left to the application (empty when there are none):
    /// the loop cannot go on until they are answered.
    ///
    /// ```
    /// # use responses_ws_core::client::{Client, ClientConfig};
    /// # use responses_ws_core::mock::{MockPeer, Script, ScriptedCall};
    /// # use responses_ws_core::session::Lane;
    /// # use responses_ws_core::tool_loop::{Step, ToolLoop};
    /// # use responses_ws_core::wire::ResponseCreate;
    /// # use responses_ws_core::ws::WsUrl;
    /// # use responses_ws_core::Instant;
    /// # let mut client = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?));
    /// let script = Script::new().tool_calls([ScriptedCall::new("clock", "{}")]).text("It is noon.", 1);
    /// let mut server = MockPeer::new(script, 0, Instant::ZERO);
    /// client.connect([1; 32], Instant::ZERO)?;
    /// let first = client.create(ResponseCreate::new("gpt-5.5").input("What time is it?"))?;
    /// let mut tool_loop = ToolLoop::new(Lane::Default, first);
    /// let mut pending = server.exchange(&mut client, Instant::ZERO);
    /// let answer = loop {
    ///     let event = pending.remove(0);
    ///     match tool_loop.step(event) {
    ///         Step::Answer(calls) => {
    ///             let outputs: Vec<String> = calls.calls.iter().map(|_| "12:00".to_string()).collect();
    ///             tool_loop.submit(&mut client, Instant::ZERO, calls, outputs)?;
    ///             pending.extend(server.exchange(&mut client, Instant::ZERO));
    ///         }
    ///         Step::Done(response) => break response.all_output_text(),
    ///         Step::Failed { error, .. } => panic!("{error:?}"),
    ///         Step::Consumed | Step::Other(_) => {}
    ///         _ => {}
    ///     }
    /// };
    /// assert_eq!(answer, "It is noon.");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit<O: Into<ToolOutput>>(
        &mut self,
        client: &mut impl AnswersToolCalls,
        now: Instant,
        calls: Calls,
        outputs: impl IntoIterator<Item = O>,
    ) -> Result<Vec<ToolCall>, SessionError> {
        client.handle_timeout(now);
        for (call, output) in calls.calls.iter().zip(outputs) {
            client.answer_tool_call(&self.lane, &call.call_id, output.into())?;
        }
        self.following = Following::Next;
        Ok(calls.approvals)
    }
}

/// A machine that answers tool calls for [`ToolLoop::submit`]: the WebSocket
/// [`Client`], the HTTP + SSE [`HttpClient`](crate::http_client::HttpClient), or an
/// adapter's machine that runs either.
///
/// ```
/// use responses_ws_core::http::Target;
/// use responses_ws_core::http_client::{HttpClient, HttpClientConfig};
/// use responses_ws_core::session::Lane;
/// use responses_ws_core::tool_loop::AnswersToolCalls;
/// use responses_ws_core::wire::ToolOutput;
/// use responses_ws_core::Instant;
///
/// /// Answers `ids` on either transport; how many were taken.
/// fn answer(machine: &mut impl AnswersToolCalls, ids: &[&str]) -> usize {
///     let answers = ids.iter().map(|id| {
///         machine.answer_tool_call(&Lane::Default, id, ToolOutput::Text("done".into()))
///     });
///     answers.filter(Result::is_ok).count()
/// }
/// let target = Target::new("api.openai.com", "/v1/responses");
/// let mut client = HttpClient::new(HttpClientConfig::new(target), Instant::ZERO);
/// // No response asked for a call yet: the answer is refused.
/// assert_eq!(answer(&mut client, &["call_1"]), 0);
/// ```
pub trait AnswersToolCalls {
    /// Time has reached `now` (see [`Client::handle_timeout`]).
    ///
    /// ```
    /// use responses_ws_core::client::{Client, ClientConfig};
    /// use responses_ws_core::tool_loop::AnswersToolCalls;
    /// use responses_ws_core::ws::WsUrl;
    /// use responses_ws_core::Instant;
    ///
    /// let mut client = Client::new(ClientConfig::new(WsUrl::parse("wss://api.openai.com/v1/responses")?));
    /// AnswersToolCalls::handle_timeout(&mut client, Instant::ZERO);
    /// assert!(client.poll_event().is_none(), "nothing was due");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn handle_timeout(&mut self, now: Instant);
    /// Answers `call_id` on `lane` (see [`Client::submit_tool_output`]).
    ///
    /// ```
    /// use responses_ws_core::client::{Client, ClientConfig};
    /// use responses_ws_core::session::{Lane, SessionError};
    /// use responses_ws_core::tool_loop::AnswersToolCalls;
    /// use responses_ws_core::wire::ToolOutput;
    /// use responses_ws_core::ws::WsUrl;
    ///
    /// let mut client = Client::new(ClientConfig::new(WsUrl::parse("wss://api.openai.com/v1/responses")?));
    /// let refused = client.answer_tool_call(&Lane::Default, "call_1", ToolOutput::Text("12:00".into()));
    /// assert_eq!(refused, Err(SessionError::NoPendingCalls(Lane::Default)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    fn answer_tool_call(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: ToolOutput,
    ) -> Result<(), SessionError>;
}

impl AnswersToolCalls for Client {
    fn handle_timeout(&mut self, now: Instant) {
        Client::handle_timeout(self, now)
    }
    fn answer_tool_call(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: ToolOutput,
    ) -> Result<(), SessionError> {
        self.submit_tool_output(lane, call_id, output)
    }
}

impl AnswersToolCalls for crate::http_client::HttpClient {
    fn handle_timeout(&mut self, now: Instant) {
        crate::http_client::HttpClient::handle_timeout(self, now)
    }
    fn answer_tool_call(
        &mut self,
        lane: &Lane,
        call_id: &str,
        output: ToolOutput,
    ) -> Result<(), SessionError> {
        self.submit_tool_output(lane, call_id, output)
    }
}

/// Runs `handler` on every function and custom tool call of `calls` (approval requests are
/// the application's) and submits each output to `session` on `lane`: what
/// [`Client::set_tool_handler`] and
/// [`HttpClient::set_tool_handler`](crate::http_client::HttpClient::set_tool_handler) do as
/// soon as a response asks.
pub(crate) fn answer_with(
    session: &mut Session,
    handler: &mut ToolHandler,
    lane: &Lane,
    calls: &[ToolCall],
) {
    let calls = calls.iter();
    for call in calls.filter(|call| !matches!(call.kind, ToolCallKind::McpApproval { .. })) {
        let output = handler(lane, call);
        // The calls were just reported as pending on this lane, so this cannot fail.
        let _ = session.submit_tool_output(lane, &call.call_id, output);
    }
}

/// Whether a response ended because it was steered (the server then starts a successor).
fn steered(response: &Response) -> bool {
    response
        .incomplete_details
        .as_ref()
        .is_some_and(|details| details.reason == Some(IncompleteReason::Steered))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::String;

    fn response(json: &str) -> Box<Response> {
        Box::new(serde_json::from_str(json).unwrap())
    }

    fn completed(lane: &Lane, request: u64, response: Box<Response>) -> ClientEvent {
        ClientEvent::Session(SessionEvent::Completed {
            lane: lane.clone(),
            request: RequestId(request),
            response,
            anomalies: Vec::new(),
        })
    }

    fn started(lane: &Lane, request: u64) -> ClientEvent {
        ClientEvent::Session(SessionEvent::Started {
            lane: lane.clone(),
            request: RequestId(request),
            response_id: String::from("resp"),
        })
    }

    fn tool_calls(lane: &Lane, calls: Vec<ToolCall>) -> ClientEvent {
        ClientEvent::Session(SessionEvent::ToolCalls {
            lane: lane.clone(),
            response_id: String::from("resp_1"),
            calls,
        })
    }

    fn call(id: &str, kind: ToolCallKind) -> ToolCall {
        ToolCall {
            call_id: id.into(),
            name: "add".into(),
            kind,
            arguments: "{}".into(),
        }
    }

    const WITH_CALL: &str = r#"{"id":"resp_1","status":"completed","output":[
        {"type":"function_call","call_id":"c1","name":"add","arguments":"{}"}]}"#;
    const FINAL: &str = r#"{"id":"resp_2","status":"completed","output":[]}"#;
    const STEERED: &str = r#"{"id":"resp_3","status":"incomplete",
        "incomplete_details":{"reason":"steered"},"output":[]}"#;

    #[test]
    fn a_response_with_calls_hands_them_out_split_and_the_continuation_is_followed() {
        let lane = Lane::Named("a".into());
        let mut tool_loop = ToolLoop::new(lane.clone(), RequestId(1));
        assert!(matches!(tool_loop.step(started(&lane, 1)), Step::Consumed));
        let done = tool_loop.step(completed(&lane, 1, response(WITH_CALL)));
        assert!(matches!(done, Step::Consumed));
        let approval = call(
            "a1",
            ToolCallKind::McpApproval {
                server_label: "s".into(),
            },
        );
        let calls = vec![call("c1", ToolCallKind::Function), approval.clone()];
        let Step::Answer(split) = tool_loop.step(tool_calls(&lane, calls)) else {
            panic!("the calls are the loop's");
        };
        assert_eq!(split.calls, [call("c1", ToolCallKind::Function)]);
        assert_eq!(split.approvals, [approval]);
        // Once outputs are submitted, the lane's next request is followed: request 7.
        tool_loop.following = Following::Next;
        assert!(matches!(tool_loop.step(started(&lane, 7)), Step::Consumed));
        assert!(matches!(tool_loop.step(started(&lane, 8)), Step::Other(_)));
        let Step::Done(response) = tool_loop.step(completed(&lane, 7, response(FINAL))) else {
            panic!("a response without calls ends the loop");
        };
        assert_eq!(response.id, "resp_2");
    }

    #[test]
    fn a_steered_response_hands_over_to_the_successor() {
        let mut tool_loop = ToolLoop::new(Lane::Default, RequestId(1));
        let steered = tool_loop.step(completed(&Lane::Default, 1, response(STEERED)));
        assert!(matches!(steered, Step::Consumed));
        let successor = tool_loop.step(completed(&Lane::Default, 2, response(FINAL)));
        assert!(matches!(successor, Step::Done(_)));
    }

    #[test]
    fn an_interrupted_request_ends_the_loop_and_other_lanes_are_handed_back() {
        let mut tool_loop = ToolLoop::new(Lane::Default, RequestId(1));
        let other = Lane::Named("b".into());
        assert!(matches!(tool_loop.step(started(&other, 2)), Step::Other(_)));
        // Calls of another lane, or not after a completion of the loop, are not the loop's.
        let stray = tool_calls(&Lane::Default, vec![call("c1", ToolCallKind::Function)]);
        assert!(matches!(tool_loop.step(stray), Step::Other(_)));
        let lost = ClientEvent::Session(SessionEvent::Failed {
            lane: Lane::Default,
            request: RequestId(1),
            error: RequestError::Interrupted,
        });
        let Step::Failed { lane, error } = tool_loop.step(lost) else {
            panic!("an interruption ends the loop");
        };
        assert_eq!((lane, error), (Lane::Default, RequestError::Interrupted));
    }
}
