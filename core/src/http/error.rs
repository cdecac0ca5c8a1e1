//! The one error type of the HTTP layer: what was wrong with a head, a body's framing or an
//! event stream, and which status a server answers to it.

use alloc::string::String;
use core::fmt;

/// Why HTTP bytes could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpError {
    /// The head grew past [`Limits::max_head`](super::Limits::max_head).
    HeadTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// More headers than [`Limits::max_headers`](super::Limits::max_headers).
    TooManyHeaders {
        /// The limit.
        limit: usize,
    },
    /// The head is not HTTP/1.x; says which part was wrong.
    MalformedHead(&'static str),
    /// A header that cannot be written: its name is not a token, or its value could break
    /// the head (a line break, NUL or other control byte).
    InvalidHeader(String),
    /// A `Content-Length` that is not a number, or several that disagree.
    InvalidContentLength,
    /// A transfer coding other than `chunked` (or `chunked` not last), or `Transfer-Encoding`
    /// on an HTTP/1.0 message.
    UnsupportedTransferCoding,
    /// A chunked body broke the framing; says which part was wrong.
    InvalidChunk(&'static str),
    /// A chunk-size line longer than [`Limits::max_chunk_line`](super::Limits::max_chunk_line).
    ChunkLineTooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// A trailer section larger than [`Limits::max_trailers`](super::Limits::max_trailers).
    TrailersTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The body is longer than [`Limits::max_body`](super::Limits::max_body).
    BodyTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// The transport ended before the head or body did.
    UnexpectedEof,
    /// A server-sent event grew past [`Limits::max_sse_event`](super::Limits::max_sse_event).
    SseEventTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// An event-stream line that is not UTF-8.
    SseInvalidUtf8,
    /// An SSE field that cannot be written: a line break in `event:` or `id:`.
    SseInvalidField(&'static str),
}

impl HttpError {
    /// The status a server answers a request that failed this way: 400, 413, 431 or 501.
    ///
    /// ```
    /// use responses_ws_core::http::HttpError;
    ///
    /// assert_eq!(HttpError::HeadTooLarge { limit: 16 }.status(), 431);
    /// assert_eq!(HttpError::BodyTooLarge { limit: 16 }.status(), 413);
    /// ```
    pub fn status(&self) -> u16 {
        match self {
            HttpError::HeadTooLarge { .. } | HttpError::TooManyHeaders { .. } => 431,
            HttpError::BodyTooLarge { .. } => 413,
            HttpError::UnsupportedTransferCoding => 501,
            _ => 400,
        }
    }
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpError::HeadTooLarge { limit } => write!(f, "HTTP head exceeds {limit} bytes"),
            HttpError::TooManyHeaders { limit } => write!(f, "more than {limit} HTTP headers"),
            HttpError::MalformedHead(why) => write!(f, "malformed HTTP head: {why}"),
            HttpError::InvalidHeader(name) => write!(f, "header {name:?} cannot be written"),
            HttpError::InvalidContentLength => f.write_str("invalid Content-Length"),
            HttpError::UnsupportedTransferCoding => f.write_str("unsupported Transfer-Encoding"),
            HttpError::InvalidChunk(why) => write!(f, "invalid chunked body: {why}"),
            HttpError::ChunkLineTooLong { limit } => {
                write!(f, "chunk-size line exceeds {limit} bytes")
            }
            HttpError::TrailersTooLarge { limit } => write!(f, "trailers exceed {limit} bytes"),
            HttpError::BodyTooLarge { limit } => write!(f, "HTTP body exceeds {limit} bytes"),
            HttpError::UnexpectedEof => f.write_str("the connection ended inside an HTTP message"),
            HttpError::SseEventTooLarge { limit } => {
                write!(f, "server-sent event exceeds {limit} bytes")
            }
            HttpError::SseInvalidUtf8 => f.write_str("event stream is not UTF-8"),
            HttpError::SseInvalidField(field) => {
                write!(f, "SSE field `{field}` cannot hold a line break")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for HttpError {}
