//! [`ConnectionTrace`]: the `tracing` spans and events of a plain connection (feature
//! `tracing`), written once for the async and the blocking driver, which hand it every event
//! on its way to the application and every turn the application queues.
//!
//! One span per connection (`connection`: the server's host and port, the transport, how
//! many upgrades succeeded), kept for the connection's whole life across reconnections; one
//! span per turn (`turn`, a child of it: the lane, the last response id, how many responses
//! it started — retries and tool-call continuations included), from the request the
//! application queued to the response that needs nothing more (no tool call waits) or the
//! failure. Events for what happens to the connection: connected, lost, reconnecting, gave
//! up, moved to HTTP + SSE. Fields are ids, lanes, counts and causes: never a header, a
//! key, an input or an output.
//!
//! Without the feature the type is empty and its calls do nothing.

use responses_ws_core::client::ClientEvent;
use responses_ws_core::http_client::Transport;
use responses_ws_core::session::{Lane, RequestId};
use responses_ws_core::ws::WsUrl;

/// The spans of one connection. Without the `tracing` feature, empty and free.
///
/// ```
/// use responses_ws_adapter::ConnectionTrace;
/// use responses_ws_core::client::ClientEvent;
/// use responses_ws_core::http_client::Transport;
/// use responses_ws_core::session::{Lane, RequestId};
/// use responses_ws_core::ws::WsUrl;
///
/// let url = WsUrl::parse("wss://api.openai.com/v1/responses")?;
/// let mut trace = ConnectionTrace::new(&url, Transport::WebSocket);
/// trace.event(&ClientEvent::Connected { headers: Vec::new() });
/// trace.turn(RequestId(1), &Lane::Default);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ConnectionTrace {
    #[cfg(feature = "tracing")]
    spans: spans::Spans,
}

impl ConnectionTrace {
    /// The connection's span, for a connection to `url` starting on `transport`.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn new(url: &WsUrl, transport: Transport) -> ConnectionTrace {
        ConnectionTrace {
            #[cfg(feature = "tracing")]
            spans: spans::Spans::new(url, transport),
        }
    }

    /// The application queued `request` on `lane` (`create`, `fork`): a turn begins, unless
    /// one runs on the lane already.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn turn(&mut self, request: RequestId, lane: &Lane) {
        #[cfg(feature = "tracing")]
        self.spans.turn(request, lane);
    }

    /// Records what `event`, going to the application, says.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub fn event(&mut self, event: &ClientEvent) {
        #[cfg(feature = "tracing")]
        self.spans.event(event);
    }
}

#[cfg(feature = "tracing")]
mod spans {
    use std::collections::HashMap;

    use responses_ws_core::client::ClientEvent;
    use responses_ws_core::http_client::Transport;
    use responses_ws_core::session::{Lane, RequestId, SessionEvent};
    use responses_ws_core::wire::{IncompleteReason, Response};
    use responses_ws_core::ws::WsUrl;
    use tracing::field::Empty;
    use tracing::{debug, info, info_span, warn, Span};

    /// The connection's span and the open turns' spans, by lane (a lane runs one turn at a
    /// time).
    #[derive(Debug)]
    pub(super) struct Spans {
        connection: Span,
        connections: u32,
        turns: HashMap<Lane, Turn>,
    }

    #[derive(Debug)]
    struct Turn {
        span: Span,
        /// Responses started in this turn.
        attempts: u32,
    }

    impl Spans {
        pub(super) fn new(url: &WsUrl, transport: Transport) -> Spans {
            let connection = info_span!(
                "connection",
                server = %format_args!("{}:{}", url.host(), url.port()),
                transport = transport_name(transport),
                connections = 0u32,
            );
            Spans {
                connection,
                connections: 0,
                turns: HashMap::new(),
            }
        }

        pub(super) fn turn(&mut self, request: RequestId, lane: &Lane) {
            self.open(lane, request);
        }

        /// The turn running on `lane`, opened for `request` if none is.
        fn open(&mut self, lane: &Lane, request: RequestId) -> &mut Turn {
            let connection = &self.connection;
            self.turns.entry(lane.clone()).or_insert_with(|| {
                let span = info_span!(
                    parent: connection,
                    "turn",
                    request = request.0,
                    lane = %lane,
                    response_id = Empty,
                    attempts = 0u32,
                );
                span.in_scope(|| debug!("turn queued"));
                Turn { span, attempts: 0 }
            })
        }

        /// Ends the turn of `lane` (its span closes once the last handle is gone).
        fn end(&mut self, lane: &Lane) -> Option<Turn> {
            self.turns.remove(lane)
        }

        pub(super) fn event(&mut self, event: &ClientEvent) {
            let connection = &self.connection;
            match event {
                ClientEvent::Session(event) => self.session(event),
                ClientEvent::Connected { .. } => {
                    self.connections += 1;
                    connection.record("connections", self.connections);
                    connection.in_scope(|| info!("connected"));
                }
                ClientEvent::Disconnected { closed } => {
                    let code = closed.code.0;
                    connection.in_scope(|| match &closed.error {
                        Some(error) => warn!(code, %error, "connection lost"),
                        None => info!(code, "connection closed"),
                    });
                }
                ClientEvent::Reconnecting {
                    attempt,
                    delay,
                    cause,
                    refresh_credentials,
                } => connection.in_scope(|| {
                    info!(
                        attempt,
                        delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                        cause = cause.as_ref().map(tracing::field::display),
                        refresh_credentials,
                        "reconnecting"
                    )
                }),
                ClientEvent::GaveUp(gave_up) => connection.in_scope(|| {
                    warn!(attempts = gave_up.attempts, cause = %gave_up.cause, "gave up reconnecting")
                }),
                ClientEvent::UseHttp { cause } => {
                    connection.record("transport", transport_name(Transport::Http));
                    connection.in_scope(|| {
                        warn!(%cause, "WebSocket mode given up: the conversation goes on over HTTP + SSE")
                    });
                }
                _ => {}
            }
        }

        fn session(&mut self, event: &SessionEvent) {
            match event {
                SessionEvent::Started {
                    lane,
                    request,
                    response_id,
                } => {
                    let turn = self.open(lane, *request);
                    turn.attempts += 1;
                    turn.span.record("response_id", response_id.as_str());
                    turn.span.record("attempts", turn.attempts);
                }
                SessionEvent::Retrying {
                    lane,
                    request,
                    attempt,
                    cause,
                    ..
                } => {
                    let turn = self.open(lane, *request);
                    turn.span
                        .in_scope(|| info!(attempt, %cause, "request retried"));
                }
                SessionEvent::FullContext {
                    lane,
                    request,
                    reason,
                } => {
                    let turn = self.open(lane, *request);
                    turn.span
                        .in_scope(|| debug!(reason = ?reason, "request replays the full context"));
                }
                SessionEvent::Completed { lane, response, .. } => {
                    if owes_more(response) {
                        return;
                    }
                    if let Some(turn) = self.end(lane) {
                        turn.span.in_scope(|| debug!("turn completed"));
                    }
                }
                SessionEvent::ToolCalls { lane, calls, .. } => {
                    if let Some(turn) = self.turns.get(lane) {
                        turn.span.in_scope(|| {
                            debug!(calls = calls.len(), "tool calls: waiting for outputs")
                        });
                    }
                }
                SessionEvent::Failed { lane, error, .. } => {
                    if let Some(turn) = self.end(lane) {
                        turn.span.in_scope(|| warn!(%error, "turn failed"));
                    }
                }
                SessionEvent::Reconnect { reason } => self
                    .connection
                    .in_scope(|| info!(reason = ?reason, "the session asks for a new connection")),
                _ => {}
            }
        }
    }

    /// Whether the turn goes on after `response`: tool calls wait for outputs, or a steer
    /// ended it and its successor follows.
    fn owes_more(response: &Response) -> bool {
        let steered = (response.incomplete_details.as_ref())
            .is_some_and(|details| details.reason == Some(IncompleteReason::Steered));
        steered || response.tool_calls().next().is_some()
    }

    fn transport_name(transport: Transport) -> &'static str {
        match transport {
            Transport::Http => "http",
            _ => "websocket",
        }
    }
}
