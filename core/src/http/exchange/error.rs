//! Why an HTTP+SSE exchange failed.

use core::fmt;

use crate::http::HttpError;
use crate::wire::DecodeError;

/// Why an [`Exchange`](super::Exchange) could not deliver its response.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExchangeError {
    /// The request cannot go over HTTP: it uses a WebSocket-only field (`generate`).
    WebSocketOnly(&'static str),
    /// The bytes broke HTTP or the event stream, or a limit.
    Http(HttpError),
    /// A `2xx` answer that is not `text/event-stream`.
    NotAnEventStream,
    /// An event's `data:` is not a server event.
    Decode(DecodeError),
    /// The stream ended (by its framing or the transport) before a terminal event.
    Truncated,
}

impl From<HttpError> for ExchangeError {
    fn from(error: HttpError) -> Self {
        ExchangeError::Http(error)
    }
}

impl fmt::Display for ExchangeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExchangeError::WebSocketOnly(field) => {
                write!(f, "`{field}` exists only in WebSocket mode")
            }
            ExchangeError::Http(error) => error.fmt(f),
            ExchangeError::NotAnEventStream => {
                f.write_str("the server answered without an event stream")
            }
            ExchangeError::Decode(error) => write!(f, "undecodable server event: {error}"),
            ExchangeError::Truncated => f.write_str("the event stream ended before the response"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for ExchangeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ExchangeError::Http(error) => Some(error),
            ExchangeError::Decode(error) => Some(error),
            _ => None,
        }
    }
}
