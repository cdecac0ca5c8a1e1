//! What request and response heads share: the protocol [`Version`], the bounds every parse
//! obeys, and the connection's persistence rule.

use super::header::{has_token, Header};
use super::{HttpError, Limits};

/// The HTTP/1.x minor version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Version {
    /// HTTP/1.0: no chunked bodies, connections close unless asked to stay.
    Http10,
    /// HTTP/1.1: persistent connections, chunked bodies.
    Http11,
}

impl Version {
    /// The version as written on the start line.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        }
    }

    /// From httparse's minor version.
    pub(crate) fn from_minor(minor: Option<u8>) -> Version {
        match minor {
            Some(0) => Version::Http10,
            _ => Version::Http11,
        }
    }
}

/// Whether the connection stays open after this message: HTTP/1.1 unless `Connection: close`,
/// HTTP/1.0 only with `Connection: keep-alive`.
pub(crate) fn keep_alive(version: Version, headers: &[Header]) -> bool {
    match version {
        Version::Http10 => has_token(headers, "connection", "keep-alive"),
        Version::Http11 => !has_token(headers, "connection", "close"),
    }
}

/// A fresh header slot table for httparse, as long as the limit allows.
pub(crate) fn slots(limits: &Limits) -> alloc::vec::Vec<httparse::Header<'static>> {
    alloc::vec![httparse::EMPTY_HEADER; limits.max_headers]
}

/// The length of a complete head, `None` while more bytes are needed, or the error. `parsed`
/// is httparse's verdict on at most `max_head` of the `received` bytes, so a complete head is
/// within the limit, and an incomplete one with more bytes waiting is past it.
pub(crate) fn bounded(
    parsed: Result<httparse::Status<usize>, httparse::Error>,
    received: usize,
    limits: &Limits,
) -> Result<Option<usize>, HttpError> {
    let too_large = HttpError::HeadTooLarge {
        limit: limits.max_head,
    };
    match parsed {
        Ok(httparse::Status::Complete(len)) => Ok(Some(len)),
        Ok(httparse::Status::Partial) if received > limits.max_head => Err(too_large),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(error) => Err(match error {
            httparse::Error::TooManyHeaders => HttpError::TooManyHeaders {
                limit: limits.max_headers,
            },
            httparse::Error::HeaderName => HttpError::MalformedHead("invalid header name"),
            httparse::Error::HeaderValue => HttpError::MalformedHead("invalid header value"),
            httparse::Error::NewLine => HttpError::MalformedHead("invalid line ending"),
            httparse::Error::Status => HttpError::MalformedHead("invalid status"),
            httparse::Error::Token => HttpError::MalformedHead("invalid token"),
            httparse::Error::Version => HttpError::MalformedHead("invalid HTTP version"),
        }),
    }
}

/// Refuses a method or request target that could break the start line.
pub(crate) fn check_token(text: &str, what: &'static str) -> Result<(), HttpError> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_graphic()) {
        Ok(())
    } else {
        Err(HttpError::MalformedHead(what))
    }
}
