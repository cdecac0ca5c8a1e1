//! How a message's body is delimited (RFC 9112 §6): read from its head, the rules that decide
//! it in one place.

use super::header::{content_length, tokens, Header};
use super::{HttpError, RequestHead, ResponseHead, Version};

/// How the body after a head is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyKind {
    /// No body at all.
    Empty,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Everything until the transport ends (a response without a length).
    UntilEof,
}

impl RequestHead {
    /// How this request's body is delimited: chunked, a length, or none at all. Refuses an
    /// ambiguous framing (both `Transfer-Encoding` and `Content-Length`, a coding other than
    /// `chunked`, lengths that disagree), the usual door to request smuggling.
    ///
    /// ```
    /// use responses_ws_core::http::{BodyKind, RequestHead};
    ///
    /// let head = RequestHead::new("POST", "/").with_header("Content-Length", "12");
    /// assert_eq!(head.body_kind(), Ok(BodyKind::Length(12)));
    /// assert_eq!(RequestHead::new("GET", "/").body_kind(), Ok(BodyKind::Empty));
    /// ```
    pub fn body_kind(&self) -> Result<BodyKind, HttpError> {
        Ok(match declared(self.version, &self.headers)? {
            Some(kind) => kind,
            None => BodyKind::Empty,
        })
    }
}

impl ResponseHead {
    /// How this response's body is delimited, given the method of the request it answers:
    /// none for `HEAD`, 1xx, 204 and 304; else chunked, a length, or until the transport ends.
    ///
    /// ```
    /// use responses_ws_core::http::{BodyKind, ResponseHead};
    ///
    /// let sse = ResponseHead::new(200).with_header("Transfer-Encoding", "chunked");
    /// assert_eq!(sse.body_kind("POST"), Ok(BodyKind::Chunked));
    /// assert_eq!(ResponseHead::new(200).body_kind("POST"), Ok(BodyKind::UntilEof));
    /// assert_eq!(ResponseHead::new(204).body_kind("POST"), Ok(BodyKind::Empty));
    /// ```
    pub fn body_kind(&self, request_method: &str) -> Result<BodyKind, HttpError> {
        let bodiless = request_method.eq_ignore_ascii_case("HEAD")
            || (100..200).contains(&self.status)
            || self.status == 204
            || self.status == 304;
        if bodiless {
            return Ok(BodyKind::Empty);
        }
        Ok(match declared(self.version, &self.headers)? {
            Some(kind) => kind,
            None => BodyKind::UntilEof,
        })
    }
}

/// The framing the headers declare, if any.
fn declared(version: Version, headers: &[Header]) -> Result<Option<BodyKind>, HttpError> {
    let length = content_length(headers)?;
    let mut codings = tokens(headers, "transfer-encoding");
    let Some(first) = codings.next() else {
        return Ok(length.map(BodyKind::Length));
    };
    let chunked_only = first.eq_ignore_ascii_case("chunked") && codings.next().is_none();
    if !chunked_only || version == Version::Http10 {
        return Err(HttpError::UnsupportedTransferCoding);
    }
    if length.is_some() {
        return Err(HttpError::InvalidContentLength);
    }
    Ok(Some(BodyKind::Chunked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_framings_are_refused() {
        let both = RequestHead::new("POST", "/")
            .with_header("Transfer-Encoding", "chunked")
            .with_header("Content-Length", "3");
        assert_eq!(both.body_kind(), Err(HttpError::InvalidContentLength));
        let gzip = RequestHead::new("POST", "/").with_header("Transfer-Encoding", "gzip, chunked");
        assert_eq!(gzip.body_kind(), Err(HttpError::UnsupportedTransferCoding));
        let twice =
            RequestHead::new("POST", "/").with_header("Transfer-Encoding", "chunked, chunked");
        assert_eq!(twice.body_kind(), Err(HttpError::UnsupportedTransferCoding));
        let mut old = RequestHead::new("POST", "/").with_header("Transfer-Encoding", "chunked");
        old.version = Version::Http10;
        assert_eq!(old.body_kind(), Err(HttpError::UnsupportedTransferCoding));
        let chunked = RequestHead::new("POST", "/").with_header("transfer-encoding", " Chunked ");
        assert_eq!(chunked.body_kind(), Ok(BodyKind::Chunked));
    }

    #[test]
    fn bodiless_responses_ignore_their_headers() {
        let head = ResponseHead::new(200).with_header("Content-Length", "10");
        assert_eq!(head.body_kind("HEAD"), Ok(BodyKind::Empty));
        assert_eq!(head.body_kind("GET"), Ok(BodyKind::Length(10)));
        for status in [101, 204, 304] {
            assert_eq!(
                ResponseHead::new(status).body_kind("GET"),
                Ok(BodyKind::Empty)
            );
        }
    }
}
