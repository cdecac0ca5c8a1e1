//! The two error types: [`ConnectError`] (a connection could not be opened) and [`Error`]
//! (a call on an open [`Connection`](crate::Connection) failed). Neither ever holds the API key:
//! the upgrade request is not kept, and the server's answer is what the server sent.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use responses_ws_core::session::{Lane, RequestError, SessionError, ToolCall};
use responses_ws_core::ws::{self, Closed, HandshakeError, HttpResponse};
use responses_ws_tls::TlsError;

/// Why a connection could not be opened.
///
/// A refused upgrade keeps the server's whole answer: status, headers and body.
///
/// ```no_run
/// use responses_ws_blocking::{Config, ConnectError, Connection};
///
/// let config = Config::new("wss://api.openai.com/v1/responses")?.api_key("sk-…");
/// match Connection::connect(config) {
///     Ok(_conn) => {}
///     Err(error) if error.status() == Some(429) => {
///         println!("rate limited; retry after {:?}", error.retry_after());
///     }
///     Err(error) if error.wants_http() => println!("fall back to HTTP: {error}"),
///     Err(error) => return Err(error.into()),
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The host name could not be resolved.
    Resolve {
        /// `host:port`.
        target: String,
        /// The resolver's error.
        source: io::Error,
    },
    /// The TCP connection failed, or the socket failed during the handshake.
    Io {
        /// The address tried last.
        addr: SocketAddr,
        /// The socket's error.
        source: io::Error,
    },
    /// The TCP connection and the TLS handshake did not finish within the connect timeout.
    Timeout {
        /// `host:port`.
        target: String,
        /// The connect timeout.
        after: Duration,
    },
    /// The TLS configuration (roots, server name) was refused.
    Tls(TlsError),
    /// The TLS handshake failed: an untrusted certificate, a wrong name, a protocol error.
    TlsHandshake {
        /// The server's address.
        addr: SocketAddr,
        /// The error (its source is the rustls error).
        source: io::Error,
    },
    /// The WebSocket upgrade failed. [`HandshakeError::Rejected`] carries the server's answer
    /// (401, 403, 429 with `Retry-After`, 426 when the server wants plain HTTP …).
    Handshake(HandshakeError),
    /// The upgrade did not finish within [`ws::Config::handshake_timeout`].
    HandshakeTimeout,
    /// The WebSocket ended during the upgrade for another reason.
    Closed(Box<Closed>),
    /// The OS random number generator failed (the WebSocket key and masks need it).
    Random(getrandom::Error),
}

impl ConnectError {
    /// The HTTP answer of a refused upgrade.
    pub fn response(&self) -> Option<&HttpResponse> {
        match self {
            ConnectError::Handshake(error) => error.response(),
            _ => None,
        }
    }

    /// The HTTP status of a refused upgrade.
    pub fn status(&self) -> Option<u16> {
        self.response().map(|response| response.status)
    }

    /// The `Retry-After` header of a refused upgrade, as sent (seconds or an HTTP date).
    pub fn retry_after(&self) -> Option<&str> {
        self.response()?.header("Retry-After")
    }

    /// Whether the server refused the upgrade with `426 Upgrade Required`: it wants plain
    /// HTTP requests (`POST /v1/responses`), not a WebSocket.
    pub fn wants_http(&self) -> bool {
        self.status() == Some(426)
    }

    /// The error a WebSocket that ended before it opened amounts to.
    pub(crate) fn from_closed(closed: Closed) -> ConnectError {
        match closed.error {
            Some(ws::Error::Handshake(error)) => ConnectError::Handshake(error),
            Some(ws::Error::HandshakeTimeout) => ConnectError::HandshakeTimeout,
            _ => ConnectError::Closed(Box::new(closed)),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Resolve { target, source } => {
                write!(f, "cannot resolve {target}: {source}")
            }
            ConnectError::Io { addr, source } => write!(f, "connection to {addr} failed: {source}"),
            ConnectError::Timeout { target, after } => {
                write!(f, "connecting to {target} timed out after {after:?}")
            }
            ConnectError::Tls(error) => write!(f, "TLS configuration: {error}"),
            ConnectError::TlsHandshake { addr, source } => {
                write!(f, "TLS handshake with {addr} failed: {source}")
            }
            ConnectError::Handshake(error) => write!(f, "WebSocket upgrade: {error}"),
            ConnectError::HandshakeTimeout => f.write_str("WebSocket upgrade timed out"),
            ConnectError::Closed(closed) => match &closed.error {
                Some(error) => write!(f, "connection ended during the upgrade: {error}"),
                None => write!(
                    f,
                    "connection ended during the upgrade (code {})",
                    closed.code.0
                ),
            },
            ConnectError::Random(error) => write!(f, "OS random number generator: {error}"),
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Resolve { source, .. }
            | ConnectError::Io { source, .. }
            | ConnectError::TlsHandshake { source, .. } => Some(source),
            ConnectError::Tls(error) => Some(error),
            ConnectError::Handshake(error) => Some(error),
            ConnectError::Closed(closed) => closed
                .error
                .as_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            ConnectError::Random(error) => Some(error),
            ConnectError::Timeout { .. } | ConnectError::HandshakeTimeout => None,
        }
    }
}

/// Why a call on a [`Connection`](crate::Connection) failed.
///
/// ```
/// use responses_ws_blocking::Error;
/// use responses_ws_blocking::responses_ws_core::session::{Lane, SessionError};
///
/// let error = Error::from(SessionError::NothingToSteer(Lane::Default));
/// assert_eq!(error.to_string(), "lane (default lane) has no running response to steer");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The session refused the call; nothing was queued or sent.
    Session(SessionError),
    /// A request of the tool loop's lane failed (an API error, a failed response, or a
    /// connection lost while it ran).
    Request(RequestError),
    /// The tool loop reached a response that asks for MCP approvals, which its handler cannot
    /// give: answer them with [`submit_approval`](crate::Connection::submit_approval), then
    /// read events on.
    ApprovalRequired {
        /// The lane.
        lane: Lane,
        /// The approval requests.
        requests: Vec<ToolCall>,
    },
    /// The connection ended and no reconnect follows.
    Disconnected(Box<Closed>),
    /// There is no connection (it was closed and not reopened).
    NotConnected,
    /// Reconnecting failed `attempts` times in a row; the policy gave up.
    ReconnectFailed {
        /// Attempts made.
        attempts: u32,
        /// Why the last one failed.
        last: Option<Box<ConnectError>>,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Session(error) => write!(f, "{error}"),
            Error::Request(error) => write!(f, "request failed: {error}"),
            Error::ApprovalRequired { lane, requests } => write!(
                f,
                "lane {lane} waits for {} MCP approval(s)",
                requests.len()
            ),
            Error::Disconnected(closed) => match &closed.error {
                Some(error) => write!(f, "disconnected: {error}"),
                None => write!(f, "disconnected (code {})", closed.code.0),
            },
            Error::NotConnected => f.write_str("not connected"),
            Error::ReconnectFailed { attempts, last } => {
                write!(f, "gave up reconnecting after {attempts} attempt(s)")?;
                match last {
                    Some(error) => write!(f, ": {error}"),
                    None => Ok(()),
                }
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Session(error) => Some(error),
            Error::Request(error) => Some(error),
            Error::Disconnected(closed) => closed
                .error
                .as_ref()
                .map(|e| e as &(dyn std::error::Error + 'static)),
            Error::ReconnectFailed {
                last: Some(error), ..
            } => Some(error.as_ref()),
            _ => None,
        }
    }
}

impl From<SessionError> for Error {
    fn from(error: SessionError) -> Self {
        Error::Session(error)
    }
}
