//! The opening handshake (RFC 6455 §4): what both roles share — the accept key, HTTP headers as
//! plain data, the response the client saw when the server refused, and the error type.
//!
//! [`client`] builds the upgrade request and checks the answer; [`server`] checks a request and
//! writes the answer. Neither reads or writes a socket: they work on the caller's buffers. The
//! HTTP/1.1 under both (heads parsed with httparse and written with checks, bodies delimited
//! and decoded) is the core's [`http`](crate::http) layer, shared with the HTTP + SSE
//! transport and the mock.

pub(crate) mod client;
pub(crate) mod server;

use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use bytes::Bytes;
use core::fmt;
use sha1::{Digest, Sha1};

use crate::http::HttpError;
pub use crate::http::{find_header, Header};
pub use server::RequestHead;

pub(crate) use crate::http::has_token as header_has_token;

/// The GUID that RFC 6455 appends to the key before hashing.
const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
///
/// ```
/// // The example of RFC 6455 §1.3.
/// assert_eq!(
///     responses_ws_core::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// An HTTP response that was not a WebSocket upgrade (401, 429, 426 …), kept whole so the caller
/// can read the status, every header (for example `Retry-After`) and the body (bounded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Reason phrase.
    pub reason: String,
    /// Every header, in order.
    pub headers: Vec<Header>,
    /// The body, cut at the configured limit.
    pub body: Bytes,
    /// Whether the body was longer than the limit and was cut.
    pub body_truncated: bool,
}

impl HttpResponse {
    /// The first header named `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// Why the opening handshake failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The server answered with something other than `101` (the whole answer is kept).
    Rejected(alloc::boxed::Box<HttpResponse>),
    /// The server answered `101` but broke the handshake rules (missing or wrong header).
    InvalidUpgrade(&'static str),
    /// The bytes were not HTTP/1.1.
    MalformedHttp(&'static str),
    /// The response or request head grew past the configured limit.
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More headers than the configured limit.
    TooManyHeaders,
    /// The transport closed before the handshake finished.
    UnexpectedEof,
    /// A caller-supplied header the client cannot send (bad name or value, or one the handshake
    /// owns such as `Sec-WebSocket-Key`).
    InvalidHeader(String),
    /// permessage-deflate could not be agreed: the server's `101` chose it with parameters that
    /// break RFC 7692 or were not offered, or the client's own settings are out of range.
    Extension(&'static str),
    /// The server role refused a request and answered with this status.
    RequestRefused {
        /// Status sent (400, 426 …).
        status: u16,
        /// Why.
        reason: &'static str,
    },
}

impl HandshakeError {
    /// The HTTP response of a refused upgrade, if that is what happened.
    pub fn response(&self) -> Option<&HttpResponse> {
        match self {
            HandshakeError::Rejected(r) => Some(r),
            _ => None,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::Rejected(r) => {
                write!(f, "server answered {} {}", r.status, r.reason)?;
                if r.status == 426 {
                    f.write_str(" (the server asks for plain HTTP instead of WebSocket)")?;
                }
                Ok(())
            }
            HandshakeError::InvalidUpgrade(why) => write!(f, "invalid upgrade response: {why}"),
            HandshakeError::MalformedHttp(why) => write!(f, "malformed HTTP: {why}"),
            HandshakeError::HeadTooLarge { limit } => write!(f, "HTTP head exceeds {limit} bytes"),
            HandshakeError::TooManyHeaders => f.write_str("too many HTTP headers"),
            HandshakeError::UnexpectedEof => f.write_str("connection closed during the handshake"),
            HandshakeError::Extension(why) => {
                write!(f, "permessage-deflate negotiation failed: {why}")
            }
            HandshakeError::InvalidHeader(name) => {
                write!(f, "header {name:?} cannot be sent in the handshake")
            }
            HandshakeError::RequestRefused { status, reason } => {
                write!(f, "refused the upgrade request with {status}: {reason}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HandshakeError {}

/// The handshake's error for a failure of the HTTP layer, which reads and writes its heads.
fn from_http(error: HttpError) -> HandshakeError {
    match error {
        HttpError::HeadTooLarge { limit } => HandshakeError::HeadTooLarge { limit },
        HttpError::TooManyHeaders { .. } => HandshakeError::TooManyHeaders,
        HttpError::MalformedHead(why) => HandshakeError::MalformedHttp(why),
        HttpError::InvalidHeader(name) => HandshakeError::InvalidHeader(name),
        _ => HandshakeError::MalformedHttp("invalid HTTP message"),
    }
}
