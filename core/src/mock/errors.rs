//! The errors the mock server reports, as boxed [`ApiError`] values with the real server's
//! status, type, code, message and param where protocol.md gives them (and documented choices
//! where it does not), plus the `error` event frame that carries one.

use alloc::borrow::Cow;
use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;

use crate::wire::{ApiError, DecodeError, EventKind, ServerEvent};

/// An error the server reports, boxed (it is large and travels in `Result`s).
pub(crate) type Rejection = Box<ApiError>;

/// `invalid_request_error` with status 400.
fn invalid_request(code: Option<&str>, message: String, param: Option<&str>) -> Rejection {
    api_error(400, "invalid_request_error", code, message, param)
}

/// An error with every field given.
pub(crate) fn api_error(
    status: u16,
    error_type: &str,
    code: Option<&str>,
    message: String,
    param: Option<&str>,
) -> Rejection {
    Box::new(ApiError {
        status: Some(status),
        error_type: Some(error_type.into()),
        code: code.map(Into::into),
        message,
        param: param.map(Into::into),
        ..ApiError::default()
    })
}

/// An API key the server does not take (`401`).
pub(crate) fn unauthorized() -> Rejection {
    api_error(
        401,
        "invalid_request_error",
        Some("invalid_api_key"),
        "Incorrect API key provided.".into(),
        None,
    )
}

/// `previous_response_id` is neither cached on the connection nor stored.
pub(crate) fn previous_response_not_found(id: &str) -> Rejection {
    invalid_request(
        Some("previous_response_not_found"),
        format!("Previous response with id '{id}' not found."),
        Some("previous_response_id"),
    )
}

/// The 33rd distinct named lane of a connection.
pub(crate) fn stream_limit_reached(max: usize) -> Rejection {
    invalid_request(
        Some("websocket_stream_limit_reached"),
        format!("This WebSocket connection has reached its maximum number of distinct stream IDs ({max}). Reuse an existing stream_id or open a new WebSocket connection."),
        Some("stream_id"),
    )
}

/// A `stream_id` that is empty, too long or has characters outside `[A-Za-z0-9_.-]`.
pub(crate) fn invalid_stream_id() -> Rejection {
    invalid_request(
        Some("invalid_stream_id"),
        "The 'stream_id' field must be a non-empty string with at most 256 characters and may only contain letters, numbers, underscores, hyphens, and periods.".into(),
        Some("stream_id"),
    )
}

/// The connection-age limit.
pub(crate) fn connection_limit_reached() -> Rejection {
    invalid_request(
        Some("websocket_connection_limit_reached"),
        "Responses websocket connection limit reached. Create a new websocket connection to continue.".into(),
        None,
    )
}

/// A function call of the conversation has no output in the request (HTTP's wording).
pub(crate) fn missing_tool_output(call_id: &str) -> Rejection {
    invalid_request(
        None,
        format!("No tool output found for function call {call_id}."),
        Some("input"),
    )
}

/// A tool output for a call the conversation does not have, or a second output for one
/// call (HTTP's wording).
pub(crate) fn stray_tool_output(call_id: &str) -> Rejection {
    invalid_request(
        None,
        format!("No tool call found for function call output with call_id {call_id}."),
        Some("input"),
    )
}

/// A client frame that is not a client event. Mock choice: code `invalid_json` for text that is
/// not JSON, `invalid_event` for JSON that is not a known client event.
pub(crate) fn bad_frame(error: &DecodeError) -> Rejection {
    let code = match error {
        DecodeError::Malformed(_) => "invalid_json",
        _ => "invalid_event",
    };
    invalid_request(Some(code), format!("Invalid client event: {error}"), None)
}

/// A binary frame (the protocol only has text frames). Mock choice: code `invalid_event`.
pub(crate) fn binary_frame() -> Rejection {
    invalid_request(
        Some("invalid_event"),
        "Binary frames are not supported; send JSON text frames.".into(),
        None,
    )
}

/// `response.inject` on a connection whose upgrade did not ask for the multi-agent beta: an
/// event the server does not serve (mock choice of code and message).
pub(crate) fn beta_required() -> Rejection {
    invalid_request(
        Some("unsupported_event_type"),
        "The 'response.inject' event needs the multi-agent beta: connect with the header \
         'OpenAI-Beta: responses_multi_agent=v1'."
            .into(),
        Some("type"),
    )
}

/// Too many creates waiting on one connection (mock-only limit and code).
pub(crate) fn queue_full(max: usize) -> Rejection {
    invalid_request(
        Some("mock_queue_full"),
        format!("Too many queued requests on this connection (at most {max})."),
        None,
    )
}

/// A generic 500, for WebSocket-only faults met over HTTP.
pub(crate) fn server_error() -> Rejection {
    api_error(
        500,
        "server_error",
        Some("server_error"),
        "The server had an error while processing your request.".into(),
        None,
    )
}

/// A request field the HTTP endpoint does not accept (`stream_id`, `generate`).
pub(crate) fn unknown_parameter(name: &str) -> Rejection {
    invalid_request(
        Some("unknown_parameter"),
        format!("Unknown parameter: '{name}'."),
        Some(name),
    )
}

/// An HTTP request body that is not a create request.
pub(crate) fn invalid_body(error: &serde_json::Error) -> Rejection {
    invalid_request(
        Some("invalid_json"),
        format!("We could not parse the JSON body of your request: {error}"),
        None,
    )
}

/// The `error` event frame for `error`, echoing `stream_id` when given. Request-level errors
/// never carry a `sequence_number`: the request never started.
pub(crate) fn error_frame(stream_id: Option<&str>, error: Rejection) -> String {
    ServerEvent {
        stream_id: stream_id.map(Cow::Borrowed),
        sequence_number: None,
        kind: EventKind::Error(error),
    }
    .to_json()
}

/// The body of an HTTP error answer: `{"error":{…}}`.
pub(crate) fn http_body(error: &ApiError) -> String {
    let body = ApiError {
        status: None,
        ..error.clone()
    };
    serde_json::to_string(&body).unwrap_or_default()
}
