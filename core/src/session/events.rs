//! What the session tells the application ([`SessionEvent`]) and the errors of its API
//! ([`SessionError`]) and of its requests ([`RequestError`]).

use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use super::assembly::Anomaly;
use super::lane::{InvalidLaneName, Lane};
use super::ledger::FullContextReason;
use super::stream_event::StreamEvent;
use super::tools::{ToolCall, ToolOutputError};
use crate::retry::{Failure, GaveUp, RetrySafety};
use crate::wire::{ApiError, DecodeError, Input, Item, Response, ServerEvent};

/// The session's handle of one request (a turn, a warm-up, a tool continuation or a
/// server-started successor), unique within a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RequestId(pub u64);

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request #{}", self.0)
    }
}

/// Why the session needs a new connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReconnectReason {
    /// The server reported `websocket_connection_limit_reached`.
    ConnectionLimit,
    /// The connection reached the configured rotation age and is idle.
    Rotation,
    /// The server sent an error that concerns the whole connection.
    ServerError(Box<ApiError>),
    /// A request in flight got no event within
    /// [`SessionConfig::idle_timeout`](super::SessionConfig::idle_timeout).
    IdleTimeout,
    /// A running response's events passed
    /// [`SessionConfig::max_response_bytes`](super::SessionConfig::max_response_bytes);
    /// leaving the connection is the only way to stop a response.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl ReconnectReason {
    /// The failure this reason stands for, which the retry budget judges; `None` for a
    /// planned rotation, which spends no retry.
    pub fn failure(&self) -> Option<Failure> {
        match self {
            ReconnectReason::ConnectionLimit => Some(Failure::ConnectionLimit),
            ReconnectReason::ServerError(error) => Some(Failure::ServerError(error.clone())),
            ReconnectReason::IdleTimeout => Some(Failure::IdleTimeout),
            ReconnectReason::ResponseTooLarge { limit } => {
                Some(Failure::ResponseTooLarge { limit: *limit })
            }
            ReconnectReason::Rotation => None,
        }
    }
}

/// What happened, for the application. Every request ends with exactly one
/// [`Completed`](SessionEvent::Completed) or [`Failed`](SessionEvent::Failed).
#[derive(Debug)]
#[non_exhaustive]
pub enum SessionEvent {
    /// A request was sent with the full context instead of chaining from the lane's last
    /// response (reported so that the cost is visible).
    FullContext {
        /// The lane.
        lane: Lane,
        /// The request.
        request: RequestId,
        /// Why it could not chain.
        reason: FullContextReason,
    },
    /// The server started the request (`response.created`).
    Started {
        /// The lane.
        lane: Lane,
        /// The request.
        request: RequestId,
        /// The new response's id.
        response_id: String,
    },
    /// An event of a started request, in the order the server sent it.
    Stream {
        /// The lane.
        lane: Lane,
        /// The request.
        request: RequestId,
        /// The event, as its frame: [`StreamEvent::decoded`] reads it.
        event: StreamEvent,
    },
    /// The request ended with a response (`completed`, or `incomplete` with its reason).
    Completed {
        /// The lane.
        lane: Lane,
        /// The request.
        request: RequestId,
        /// The response, as assembled and reconciled with the terminal event.
        response: Box<Response>,
        /// Inconsistencies noticed while assembling (sequence gaps, mismatches).
        anomalies: Vec<Anomaly>,
    },
    /// The response asks for tool outputs; the lane waits until each call has one (submit
    /// them with [`Session::submit_tool_output`](super::Session::submit_tool_output)).
    ToolCalls {
        /// The lane.
        lane: Lane,
        /// The response that made the calls.
        response_id: String,
        /// The calls, in output order.
        calls: Vec<ToolCall>,
    },
    /// The request ended without a usable response.
    Failed {
        /// The lane.
        lane: Lane,
        /// The request.
        request: RequestId,
        /// Why.
        error: RequestError,
    },
    /// The server holds the steering input (`response.steer.accepted`).
    SteerAccepted {
        /// The lane.
        lane: Lane,
        /// The server's id of the steer.
        steer_id: String,
    },
    /// The steer waits for the outputs of these calls (`response.steer.pending`); it is
    /// applied when they are sent.
    SteerPending {
        /// The lane.
        lane: Lane,
        /// The calls whose outputs the steer waits for.
        call_ids: Vec<String>,
    },
    /// The request's connection failed and it goes out again on the next one (with its full
    /// context). `safety` says how far it had got: `SentNotStarted`, or `Started` when
    /// [`RetryPolicy::retry_started`](crate::retry::RetryPolicy::retry_started) is on.
    Retrying {
        /// The lane.
        lane: Lane,
        /// The request.
        request: RequestId,
        /// The attempt it will be (2 for the first retry).
        attempt: u32,
        /// How far the failed attempt got.
        safety: RetrySafety,
        /// Why the attempt failed.
        cause: Failure,
    },
    /// The steer was not applied; its input is handed back.
    SteerFailed {
        /// The lane.
        lane: Lane,
        /// The steering input, to send again with a request if wanted.
        input: Input,
        /// The server's reason; `None` when the connection was lost before an answer (the
        /// outcome is unknown).
        error: Option<ApiError>,
    },
    /// Injected items were committed into the lane's running response
    /// (`response.inject.created`); they join the conversation with it.
    InjectAccepted {
        /// The lane.
        lane: Lane,
        /// The running response.
        response_id: String,
    },
    /// Injected items were not committed; they are handed back.
    InjectFailed {
        /// The lane.
        lane: Lane,
        /// The items.
        input: Vec<Item>,
        /// The server's reason; `None` when the response ended or its connection was lost
        /// before an answer (the outcome is unknown, and the conversation does not keep them).
        error: Option<ApiError>,
        /// Whether the session kept them: after `response_already_completed`, tool outputs
        /// of calls the lane waits for are submitted as outputs, and other items wait as new
        /// input, so they go out with the lane's next request as the server asks.
        kept: bool,
    },
    /// The session needs a new connection: close this one, connect again and call
    /// [`Session::connected`](super::Session::connected). Queued and unstarted requests
    /// wait for it.
    Reconnect {
        /// Why.
        reason: ReconnectReason,
    },
    /// A server event that belongs to no request (an unknown event, a late duplicate terminal,
    /// a lane with nothing in flight).
    Unrouted {
        /// The event.
        event: ServerEvent<'static>,
    },
    /// A frame that is not a server event (not JSON, no `type`).
    BadFrame {
        /// What was wrong.
        error: DecodeError,
    },
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum RequestError {
    /// The server answered with an `error` event (before or during the response).
    Api(Box<ApiError>),
    /// The response ended `failed` (its `error` field says why).
    ResponseFailed(Box<Response>),
    /// The connection ended after the response started: its outcome is unknown. Its input
    /// stays in the ledger and goes out with the lane's next request.
    Interrupted,
    /// The response had started and then got no event within the idle timeout; the
    /// connection was replaced. Its input stays in the ledger, as for `Interrupted`.
    IdleTimeout,
    /// The response's events passed
    /// [`SessionConfig::max_response_bytes`](super::SessionConfig::max_response_bytes)
    /// (`limit`); the connection was replaced to stop it. Its input stays in the ledger, as
    /// for `Interrupted`.
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Retrying is over (the budget is spent, or the failure is final): the last cause, the
    /// attempts made, and how far the request got. Its input stays in the ledger.
    GaveUp(Box<GaveUp>),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Api(error) => write!(f, "{error}"),
            RequestError::ResponseFailed(response) => match &response.error {
                Some(error) => write!(f, "response {} failed: {error}", response.id),
                None => write!(f, "response {} failed", response.id),
            },
            RequestError::Interrupted => {
                f.write_str("the connection ended while the response was running")
            }
            RequestError::IdleTimeout => {
                f.write_str("the running response sent no event within the idle timeout")
            }
            RequestError::ResponseTooLarge { limit } => {
                write!(f, "the running response passed the limit of {limit} bytes")
            }
            RequestError::GaveUp(gave_up) => write!(f, "{gave_up}"),
        }
    }
}

impl core::error::Error for RequestError {}

/// A call the session refused; nothing was queued or sent.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SessionError {
    /// The lane name is not a valid `stream_id`.
    InvalidLane(InvalidLaneName),
    /// The request would use more distinct named lanes than a connection allows.
    TooManyLanes {
        /// The limit.
        limit: usize,
    },
    /// The request sets a field the session owns (`previous_response_id`, `stream_id`).
    OwnedField(&'static str),
    /// The lane has no running response to steer.
    NothingToSteer(Lane),
    /// The lane has no running response to inject into.
    NothingToInject(Lane),
    /// The lane cannot take this now (it waits for tool outputs, or is running a request).
    LaneBusy(Lane),
    /// The lane to fork into already has a conversation.
    LaneInUse(Lane),
    /// The lane waits for no tool outputs.
    NoPendingCalls(Lane),
    /// A tool output was refused.
    ToolOutput(ToolOutputError),
    /// The lane queues hold `limit` requests already (see
    /// [`SessionConfig::max_queued`](super::SessionConfig::max_queued)); nothing was queued.
    QueueFull {
        /// The limit.
        limit: usize,
    },
    /// The outbound queue holds `queued` bytes, at or over its `limit`: wait until some are
    /// written (adapters do), then call again. Nothing was queued.
    Backpressure {
        /// Bytes waiting to be written.
        queued: usize,
        /// The limit (`ws::Config::max_outbound_queue`).
        limit: usize,
    },
    /// The call exists only in WebSocket mode (`steer`, `inject`, a warm-up's `generate`)
    /// and the session runs over HTTP. Nothing was queued.
    WebSocketOnly(&'static str),
}

impl fmt::Display for SessionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SessionError::InvalidLane(error) => write!(f, "{error}"),
            SessionError::TooManyLanes { limit } => {
                write!(f, "a connection allows at most {limit} named lanes")
            }
            SessionError::OwnedField(field) => {
                write!(f, "`{field}` is set by the session, not by the request")
            }
            SessionError::NothingToSteer(lane) => {
                write!(f, "lane {lane} has no running response to steer")
            }
            SessionError::NothingToInject(lane) => {
                write!(f, "lane {lane} has no running response to inject into")
            }
            SessionError::LaneBusy(lane) => write!(
                f,
                "lane {lane} is busy (a response is running or waits for tool outputs)"
            ),
            SessionError::LaneInUse(lane) => write!(
                f,
                "lane {lane} already has a conversation; fork into a new lane"
            ),
            SessionError::NoPendingCalls(lane) => {
                write!(f, "lane {lane} waits for no tool outputs")
            }
            SessionError::ToolOutput(error) => write!(f, "{error}"),
            SessionError::WebSocketOnly(what) => {
                write!(
                    f,
                    "`{what}` is available only in WebSocket mode, not over HTTP"
                )
            }
            SessionError::QueueFull { limit } => {
                write!(f, "{limit} requests wait already; wait for some to end")
            }
            SessionError::Backpressure { queued, limit } => write!(
                f,
                "{queued} bytes wait to be written (limit {limit}); write some out first"
            ),
        }
    }
}

impl core::error::Error for SessionError {}

impl From<InvalidLaneName> for SessionError {
    fn from(error: InvalidLaneName) -> Self {
        SessionError::InvalidLane(error)
    }
}

impl From<ToolOutputError> for SessionError {
    fn from(error: ToolOutputError) -> Self {
        SessionError::ToolOutput(error)
    }
}
