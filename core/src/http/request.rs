//! Request heads: parsing one from received bytes (bounded) and writing one.

use alloc::string::String;
use alloc::vec::Vec;

use super::head::{bounded, check_token, keep_alive, slots};
use super::header::{find_header, has_token, Header};
use super::{HttpError, Limits, Version};

/// An HTTP/1.x request head: method, target, version and headers.
///
/// ```
/// use responses_ws_core::http::{Limits, RequestHead};
///
/// let head = RequestHead::new("POST", "/v1/responses")
///     .with_header("Host", "api.openai.com")
///     .with_header("Content-Length", "2");
/// let mut bytes = Vec::new();
/// head.write(&mut bytes)?;
/// bytes.extend_from_slice(b"{}");
///
/// let (parsed, len) = RequestHead::parse(&bytes, &Limits::default())?.expect("complete");
/// assert_eq!(parsed, head);
/// assert_eq!(&bytes[len..], b"{}");
/// assert!(RequestHead::parse(&bytes[..10], &Limits::default())?.is_none());
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, such as `POST`.
    pub method: String,
    /// The request target: path and query.
    pub target: String,
    /// The protocol version.
    pub version: Version,
    /// Every header, in order.
    pub headers: Vec<Header>,
}

impl RequestHead {
    /// An HTTP/1.1 request for `target` without headers.
    pub fn new(method: impl Into<String>, target: impl Into<String>) -> RequestHead {
        RequestHead {
            method: method.into(),
            target: target.into(),
            version: Version::Http11,
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

    /// Whether the connection stays open after this request's answer.
    pub fn keep_alive(&self) -> bool {
        keep_alive(self.version, &self.headers)
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    pub fn expects_continue(&self) -> bool {
        self.version == Version::Http11 && has_token(&self.headers, "expect", "100-continue")
    }

    /// Reads a request head from the start of `buf`: the head and its length in bytes, or
    /// `None` while more bytes are needed.
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Option<(RequestHead, usize)>, HttpError> {
        let mut slots = slots(limits);
        let mut parsed = httparse::Request::new(&mut slots);
        // Never past the limit: whether a head is too large must not depend on how it was cut.
        let window = &buf[..buf.len().min(limits.max_head)];
        let Some(len) = bounded(parsed.parse(window), buf.len(), limits)? else {
            return Ok(None);
        };
        let head = RequestHead {
            method: parsed.method.unwrap_or_default().into(),
            target: parsed.path.unwrap_or_default().into(),
            version: Version::from_minor(parsed.version),
            headers: parsed.headers.iter().map(Header::from_httparse).collect(),
        };
        Ok(Some((head, len)))
    }

    /// Appends the head, blank line included, to `out`. Refuses (writing nothing) a method,
    /// target or header that would break the head.
    pub fn write(&self, out: &mut Vec<u8>) -> Result<(), HttpError> {
        check_token(&self.method, "invalid method")?;
        check_token(&self.target, "invalid request target")?;
        self.headers.iter().try_for_each(Header::check)?;
        out.extend_from_slice(self.method.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.target.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.version.as_str().as_bytes());
        out.extend_from_slice(b"\r\n");
        self.headers.iter().for_each(|h| h.write(out));
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POST: &[u8] = b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: Keep-Alive\r\nExpect: 100-continue\r\n\r\n{";

    #[test]
    fn reads_a_head_byte_by_byte() {
        let limits = Limits::default();
        for n in 0..POST.len() - 1 {
            assert_eq!(RequestHead::parse(&POST[..n], &limits), Ok(None), "at {n}");
        }
        let (head, len) = RequestHead::parse(POST, &limits).unwrap().unwrap();
        assert_eq!(
            (head.method.as_str(), head.target.as_str()),
            ("POST", "/v1/responses")
        );
        assert_eq!(
            (len, head.header("content-length")),
            (POST.len() - 1, Some("12"))
        );
        assert!(head.keep_alive() && head.expects_continue());
    }

    #[test]
    fn http_1_0_closes_unless_asked() {
        let limits = Limits::default();
        let (old, _) = RequestHead::parse(b"POST / HTTP/1.0\r\n\r\n", &limits)
            .unwrap()
            .unwrap();
        assert_eq!(old.version, Version::Http10);
        assert!(!old.keep_alive() && !old.expects_continue());
        let kept = b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
        assert!(RequestHead::parse(kept, &limits)
            .unwrap()
            .unwrap()
            .0
            .keep_alive());
        let closed = b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
        assert!(!RequestHead::parse(closed, &limits)
            .unwrap()
            .unwrap()
            .0
            .keep_alive());
    }

    #[test]
    fn bounds_size_and_header_count() {
        let mut limits = Limits {
            max_head: 32,
            max_headers: 2,
            ..Limits::default()
        };
        let huge = [b'a'; 33];
        assert_eq!(
            RequestHead::parse(&huge, &limits),
            Err(HttpError::HeadTooLarge { limit: 32 })
        );
        let long = b"GET / HTTP/1.1\r\nX: aaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
        assert_eq!(
            RequestHead::parse(long, &limits),
            Err(HttpError::HeadTooLarge { limit: 32 })
        );
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        limits.max_head = 1024;
        assert_eq!(
            RequestHead::parse(many, &limits),
            Err(HttpError::TooManyHeaders { limit: 2 })
        );
        let bad = b"GET / HTTP/1.1\r\nBad Header\r\n\r\n";
        assert!(matches!(
            RequestHead::parse(bad, &limits),
            Err(HttpError::MalformedHead(_))
        ));
    }

    #[test]
    fn refuses_to_write_a_broken_head() {
        let mut out = Vec::new();
        let cases = [
            RequestHead::new("PO ST", "/"),
            RequestHead::new("POST", "/a b"),
            RequestHead::new("POST", ""),
            RequestHead::new("POST", "/").with_header("X", "a\r\nInjected: 1"),
        ];
        for head in cases {
            assert!(head.write(&mut out).is_err(), "{head:?}");
        }
        assert!(out.is_empty());
    }
}
