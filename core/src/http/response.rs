//! Response heads: parsing one from received bytes (bounded) and writing one, with the
//! standard reason phrases.

use alloc::string::String;
use alloc::vec::Vec;

use super::head::{bounded, keep_alive, slots};
use super::header::{find_header, Header};
use super::{HttpError, Limits, Version};

/// An HTTP/1.x response head: version, status, reason phrase and headers.
///
/// ```
/// use responses_ws_core::http::{Limits, ResponseHead};
///
/// let head = ResponseHead::new(429).with_header("Retry-After", "2");
/// let mut bytes = Vec::new();
/// head.write(&mut bytes)?;
/// assert_eq!(bytes, b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 2\r\n\r\n");
///
/// let (parsed, len) = ResponseHead::parse(&bytes, &Limits::default())?.expect("complete");
/// assert_eq!((parsed.status, parsed.header("retry-after"), len), (429, Some("2"), bytes.len()));
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The protocol version.
    pub version: Version,
    /// The status code.
    pub status: u16,
    /// The reason phrase (informative only).
    pub reason: String,
    /// Every header, in order.
    pub headers: Vec<Header>,
}

impl ResponseHead {
    /// An HTTP/1.1 response with `status`, its standard reason phrase and no headers.
    pub fn new(status: u16) -> ResponseHead {
        ResponseHead {
            version: Version::Http11,
            status,
            reason: reason_phrase(status).into(),
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub fn with_header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push(Header::new(name, value));
        self
    }

    /// The first header named `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }

    /// Whether the connection stays open after this response.
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.headers)
    }

    /// Reads a response head from the start of `buf`: the head and its length in bytes, or
    /// `None` while more bytes are needed.
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(ResponseHead, usize)>, HttpError> {
        let mut slots = slots(limits);
        let mut parsed = httparse::Response::new(&mut slots);
        // Never past the limit: whether a head is too large must not depend on how it was cut.
        let window = &buf[..buf.len().min(limits.max_head)];
        let Some(len) = bounded(parsed.parse(window), buf.len(), limits)? else {
            return Ok(None);
        };
        let head = ResponseHead {
            version: Version::from_minor(parsed.version),
            status: parsed.code.unwrap_or_default(),
            reason: parsed.reason.unwrap_or_default().into(),
            headers: parsed.headers.iter().map(Header::from_httparse).collect(),
        };
        Ok(Some((head, len)))
    }

    /// Appends the head, blank line included, to `out`. Refuses (writing nothing) a status
    /// outside 100–999, a reason phrase with a control byte, or a header that would break the
    /// head.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), HttpError> {
        if !(100..=999).contains(&self.status) {
            return Err(HttpError::MalformedHead("invalid status"));
        }
        if self
            .reason
            .bytes()
            .any(|b| b.is_ascii_control() && b != b'\t')
        {
            return Err(HttpError::MalformedHead("invalid reason phrase"));
        }
        self.headers.iter().try_for_each(Header::check)?;
        out.extend_from_slice(self.version.as_str().as_bytes());
        out.extend_from_slice(alloc::format!(" {} ", self.status).as_bytes());
        out.extend_from_slice(self.reason.as_bytes());
        out.extend_from_slice(b"\r\n");
        self.headers.iter().for_each(|h| h.write(out));
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// The standard reason phrase of `status` (RFC 9110 §15), or `"Status"` for one it does not
/// name.
///
/// ```
/// assert_eq!(responses_ws_core::http::reason_phrase(426), "Upgrade Required");
/// ```
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_head_in_pieces_and_keeps_the_rest() {
        let bytes = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n";
        let limits = Limits::default();
        let end = bytes.len() - 3;
        for n in 0..end {
            assert_eq!(
                ResponseHead::parse(&bytes[..n], &limits),
                Ok(None),
                "at {n}"
            );
        }
        let (head, len) = ResponseHead::parse(bytes, &limits).unwrap().unwrap();
        assert_eq!((head.status, head.reason.as_str(), len), (200, "OK", end));
        assert_eq!(head.header("content-type"), Some("text/event-stream"));
        assert!(head.keep_alive());
    }

    #[test]
    fn refuses_to_write_a_broken_head() {
        let mut out = Vec::new();
        let mut bad_reason = ResponseHead::new(200);
        bad_reason.reason = "OK\r\nX: 1".into();
        for head in [
            ResponseHead::new(42),
            bad_reason,
            ResponseHead::new(200).with_header("X\n", "1"),
        ] {
            assert!(head.write(&mut out).is_err(), "{head:?}");
        }
        assert!(out.is_empty());
    }

    #[test]
    fn malformed_status_lines_are_typed_errors() {
        let limits = Limits::default();
        for bad in [
            &b"HTTP/2 200 OK\r\n\r\n"[..],
            b"HTTP/1.1 2000 OK\r\n\r\n",
            b"\x16\x03\x01\r\n",
        ] {
            assert!(
                matches!(
                    ResponseHead::parse(bad, &limits),
                    Err(HttpError::MalformedHead(_))
                ),
                "{bad:?}"
            );
        }
    }
}
