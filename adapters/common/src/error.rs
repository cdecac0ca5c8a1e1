//! The two error types of every adapter: [`ConnectError`] (opening a connection: URL, IO,
//! timeout, TLS, the WebSocket upgrade) and [`Error`] (what a call on an open connection can
//! fail with). Neither ever holds the API key: the upgrade request is not kept, and the
//! server's answer is what the server sent.

use std::fmt;
use std::io;
use std::time::Duration;

use responses_ws_core::persist::ReplayError;
use responses_ws_core::retry::Failure;
use responses_ws_core::session::{Lane, Refused, RequestError, SessionError, ToolCall};
use responses_ws_core::wire::{Input, Item, ResponseCreate};
use responses_ws_core::ws::{self, HandshakeError, HttpResponse, UrlError};
use responses_ws_store::StoreError;
use responses_ws_tls::TlsError;

/// Why a connection could not be opened.
///
/// A refused upgrade keeps the server's whole answer: [`response`](Self::response) gives its
/// status, headers (`Retry-After` …) and body. When the retry policy allowed more than one
/// attempt, `connect` fails with [`GaveUp`](Self::GaveUp), which carries the attempts made
/// and the last attempt's error; the accessors look through it.
///
/// ```
/// use responses_ws_adapter::ConnectError;
///
/// fn explain(error: &ConnectError) -> String {
///     match error.response() {
///         Some(_) if error.wants_http() => "the server wants plain HTTP".to_string(),
///         Some(answer) => format!("{} (Retry-After: {:?})", answer.status, error.retry_after()),
///         None => error.to_string(),
///     }
/// }
/// # let _ = explain;
/// ```
///
/// ```
/// use responses_ws_adapter::ConnectError;
///
/// let error = responses_ws_adapter::Config::<()>::new("http://api.openai.com/v1/responses")
///     .unwrap_err();
/// assert!(matches!(error, ConnectError::Url(_)));
/// assert_eq!(error.to_string(), r#"bad URL: unsupported scheme "http" (expected ws or wss)"#);
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ConnectError {
    /// The URL is not a `ws://` or `wss://` URL.
    Url(UrlError),
    /// The TLS settings could not be turned into a rustls configuration.
    Tls(TlsError),
    /// Resolving or connecting to the address failed.
    Io {
        /// `host:port`.
        addr: String,
        /// What the OS said.
        source: io::Error,
    },
    /// The TLS handshake failed (an untrusted certificate, a wrong name …).
    TlsHandshake {
        /// `host:port`.
        addr: String,
        /// What rustls said.
        source: io::Error,
    },
    /// The TCP connection and TLS handshake did not finish within the connect timeout.
    Timeout {
        /// `host:port`.
        addr: String,
        /// The timeout.
        after: Duration,
    },
    /// The WebSocket upgrade failed. [`HandshakeError::Rejected`] carries the server's answer:
    /// 401/403 (credentials), 429 (with `Retry-After`), 426 (the server wants plain HTTP) …
    Handshake(HandshakeError),
    /// The WebSocket upgrade did not finish within `ws::Config::handshake_timeout`.
    HandshakeTimeout,
    /// The connection ended during the upgrade for another reason.
    Closed(ws::Error),
    /// The OS random number generator failed (the WebSocket key and masks need it).
    Random(io::Error),
    /// Only from the futures adapter (`responses-ws-futures`): no runtime. Enable its
    /// `async-std` or `smol` feature, or set its `Config::runtime`.
    NoRuntime,
    /// The retry budget is spent (or the last failure was final): `attempts` connections
    /// were tried, the last failed with `last`.
    GaveUp {
        /// Connection attempts made.
        attempts: u32,
        /// The last attempt's error.
        last: Box<ConnectError>,
    },
}

impl ConnectError {
    /// The server's answer to a refused upgrade (status, headers, body), if that is what
    /// happened.
    pub fn response(&self) -> Option<&HttpResponse> {
        match self.last() {
            ConnectError::Handshake(error) => error.response(),
            _ => None,
        }
    }

    /// The error of the last attempt: itself, or what [`GaveUp`](Self::GaveUp) carries.
    pub fn last(&self) -> &ConnectError {
        match self {
            ConnectError::GaveUp { last, .. } => last.last(),
            other => other,
        }
    }

    /// Connection attempts made (1 unless retried).
    pub fn attempts(&self) -> u32 {
        match self {
            ConnectError::GaveUp { attempts, .. } => *attempts,
            _ => 1,
        }
    }

    /// What a failed attempt to open the socket means to the retry budget. Errors that no
    /// attempt can fix (the URL, the TLS settings, no runtime, and [`GaveUp`](Self::GaveUp))
    /// are a final [`Failure::Transport`].
    pub fn failure(&self) -> Failure {
        let transport = |transient: bool| Failure::Transport {
            message: self.to_string(),
            transient,
        };
        match self {
            ConnectError::Io { .. } => transport(true),
            ConnectError::TlsHandshake { .. }
            | ConnectError::Random(_)
            | ConnectError::Url(_)
            | ConnectError::Tls(_)
            | ConnectError::NoRuntime
            | ConnectError::GaveUp { .. } => transport(false),
            ConnectError::Timeout { .. } | ConnectError::HandshakeTimeout => {
                Failure::ConnectTimeout
            }
            ConnectError::Handshake(HandshakeError::Rejected(response)) => {
                Failure::Refused(response.clone())
            }
            ConnectError::Handshake(HandshakeError::UnexpectedEof) => Failure::Dropped,
            ConnectError::Handshake(error) => Failure::BadUpgrade(error.clone()),
            ConnectError::Closed(ws::Error::Protocol(error)) => Failure::Protocol {
                code: ws::CloseCode::PROTOCOL_ERROR,
                error: error.clone(),
            },
            ConnectError::Closed(_) => Failure::Dropped,
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

    /// The error of a connection that ended during its upgrade, from the core's
    /// `Closed::error` (`None`: the connection was lost).
    pub fn from_closed(error: Option<ws::Error>) -> ConnectError {
        match error {
            Some(ws::Error::Handshake(error)) => ConnectError::Handshake(error),
            Some(ws::Error::HandshakeTimeout) => ConnectError::HandshakeTimeout,
            Some(other) => ConnectError::Closed(other),
            None => ConnectError::Closed(ws::Error::ConnectionLost),
        }
    }
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectError::Url(error) => write!(f, "bad URL: {error}"),
            ConnectError::Tls(error) => write!(f, "TLS settings: {error}"),
            ConnectError::Io { addr, source } => write!(f, "cannot connect to {addr}: {source}"),
            ConnectError::TlsHandshake { addr, source } => {
                write!(f, "TLS handshake with {addr} failed: {source}")
            }
            ConnectError::Timeout { addr, after } => {
                write!(f, "connecting to {addr} timed out after {after:?}")
            }
            ConnectError::Handshake(error) => write!(f, "WebSocket upgrade failed: {error}"),
            ConnectError::HandshakeTimeout => {
                f.write_str("the WebSocket upgrade did not finish in time")
            }
            ConnectError::Closed(error) => {
                write!(f, "the connection ended during the upgrade: {error}")
            }
            ConnectError::Random(error) => {
                write!(f, "the OS random number generator failed: {error}")
            }
            ConnectError::NoRuntime => f.write_str(
                "no runtime: enable the `async-std` or `smol` feature, or set Config::runtime",
            ),
            ConnectError::GaveUp { attempts, last } => {
                write!(f, "gave up after {attempts} attempt(s): {last}")
            }
        }
    }
}

impl std::error::Error for ConnectError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ConnectError::Url(error) => Some(error),
            ConnectError::Tls(error) => Some(error),
            ConnectError::Io { source, .. } | ConnectError::TlsHandshake { source, .. } => {
                Some(source)
            }
            ConnectError::Handshake(error) => Some(error),
            ConnectError::Closed(error) => Some(error),
            ConnectError::Random(error) => Some(error),
            ConnectError::GaveUp { last, .. } => Some(last.as_ref()),
            ConnectError::Timeout { .. }
            | ConnectError::HandshakeTimeout
            | ConnectError::NoRuntime => None,
        }
    }
}

impl From<UrlError> for ConnectError {
    fn from(error: UrlError) -> Self {
        ConnectError::Url(error)
    }
}

/// Why a call on an open connection (an adapter's `Connection`) failed.
///
/// The connection itself ending is not an error: it is reported as
/// [`ClientEvent::Disconnected`](responses_ws_core::client::ClientEvent::Disconnected).
///
/// ```
/// use responses_ws_adapter::{Error, Lane};
/// use responses_ws_adapter::responses_ws_core::session::SessionError;
///
/// let error = Error::from(SessionError::NothingToSteer(Lane::Default));
/// assert_eq!(error.to_string(), "lane (default lane) has no running response to steer");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The session refused the call (a busy lane, an unknown call id, too many lanes …);
    /// nothing was queued or sent.
    Session(SessionError),
    /// `run_tool_loop`: a request of the lane failed (an API error, a `failed` response, or
    /// [`RequestError::Interrupted`] when the connection ended while it ran).
    Request {
        /// The lane.
        lane: Lane,
        /// Why.
        error: RequestError,
    },
    /// `run_tool_loop`: the response asks for MCP approvals, which a tool handler cannot
    /// give. Its other calls were answered; answer these with `submit_approval`, then read
    /// events on.
    ApprovalRequired {
        /// The lane.
        lane: Lane,
        /// The approval requests.
        calls: Vec<ToolCall>,
    },
    /// `run_tool_loop`: the connection is over and will not be reconnected (closed, or the
    /// retry budget is spent: see [`ClientEvent::GaveUp`](responses_ws_core::client::ClientEvent::GaveUp)),
    /// so the loop cannot finish.
    ConnectionClosed,
    /// The durable store failed or refused (fenced: another worker took the conversation
    /// over). The records it did not take are kept and nothing they describe was sent; a
    /// later call tries again.
    Store(StoreError),
    /// A conversation's stored records do not replay (`resume`).
    Replay(ReplayError),
    /// The call exists only in WebSocket mode (`steer`, `inject`, a warm-up) and the
    /// connection runs over HTTP + SSE: the core's
    /// [`SessionError::WebSocketOnly`], and what the call carried, handed back. Nothing was
    /// queued or sent.
    WebSocketOnly {
        /// The core's refusal.
        error: SessionError,
        /// What the call carried.
        returned: Returned,
    },
}

/// What a call refused with [`Error::WebSocketOnly`] carried, handed back to the caller.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Returned {
    /// The input of `steer`.
    Input(Input),
    /// The items of `inject`.
    Items(Vec<Item>),
    /// The request of a warm-up (or of a create with `generate`).
    Request(Box<ResponseCreate>),
}

impl Error {
    /// How `run_tool_loop` goes on after answering a response's calls: `Ok` when no MCP
    /// approval request is left, else [`Error::ApprovalRequired`] with them.
    pub fn approvals_left(lane: &Lane, calls: Vec<ToolCall>) -> Result<(), Error> {
        match calls.is_empty() {
            true => Ok(()),
            false => Err(Error::ApprovalRequired {
                lane: lane.clone(),
                calls,
            }),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Session(error) => write!(f, "{error}"),
            Error::Request { lane, error } => write!(f, "request on lane {lane} failed: {error}"),
            Error::ApprovalRequired { lane, calls } => write!(
                f,
                "lane {lane} waits for {} MCP approval(s), which the tool loop cannot give",
                calls.len()
            ),
            Error::ConnectionClosed => {
                f.write_str("the connection is over and will not be reconnected")
            }
            Error::Store(error) => write!(f, "durable store: {error}"),
            Error::Replay(error) => write!(f, "the stored conversation does not replay: {error}"),
            Error::WebSocketOnly { error, .. } => write!(f, "{error}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Session(error) => Some(error),
            Error::Request { error, .. } => Some(error),
            Error::Store(error) => Some(error),
            Error::Replay(error) => Some(error),
            Error::WebSocketOnly { error, .. } => Some(error),
            Error::ApprovalRequired { .. } | Error::ConnectionClosed => None,
        }
    }
}

impl From<StoreError> for Error {
    fn from(error: StoreError) -> Self {
        Error::Store(error)
    }
}

impl From<SessionError> for Error {
    fn from(error: SessionError) -> Self {
        Error::Session(error)
    }
}

/// The adapters wait for room before they hand the core a request, so what the core still
/// refuses (a busy lane, a full lane queue, a closed session) is final: the request is
/// dropped with the refusal and the reason kept.
impl<T> From<Refused<T>> for Error {
    fn from(refused: Refused<T>) -> Self {
        Error::Session(refused.into_parts().0)
    }
}
