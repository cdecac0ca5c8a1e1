//! The server side of the opening handshake: reading an upgrade request (bounded in size and
//! header count), checking it against RFC 6455 §4.2.1, and writing the `101` or a refusal. The
//! heads are read and written by the core's [`http`](crate::http) layer; this file holds the
//! WebSocket rules.

use super::{accept_key, find_header, from_http, header_has_token, HandshakeError, Header};
use crate::http::{self, HttpError, Limits, ResponseHead, Version};
use alloc::string::{String, ToString};
use alloc::vec::Vec;
use base64::Engine;
use bytes::Bytes;

/// A valid upgrade request, handed to the application to accept or refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The request target: path and query.
    pub path: String,
    /// Every header, in order.
    pub headers: Vec<Header>,
    key: String,
}

impl RequestHead {
    /// The first header named `name`, as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        find_header(&self.headers, name)
    }
}

/// A request the server refuses on protocol grounds, with the status to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: u16,
    pub(crate) reason: &'static str,
}

impl Refusal {
    const fn bad_request(reason: &'static str) -> Refusal {
        Refusal {
            status: 400,
            reason,
        }
    }
}

/// Reads an upgrade request from everything received so far. `Ok(None)`: more bytes needed.
pub(crate) fn read_request(
    buf: &[u8],
    max_head: usize,
    max_headers: usize,
) -> Result<Option<(RequestHead, usize)>, Refusal> {
    let limits = Limits {
        max_head,
        max_headers,
        ..Limits::default()
    };
    let (head, head_len) = match http::RequestHead::parse(buf, &limits) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => return Ok(None),
        Err(HttpError::HeadTooLarge { .. }) => {
            return Err(Refusal::bad_request("request head too large"))
        }
        Err(HttpError::TooManyHeaders { .. }) => {
            return Err(Refusal::bad_request("too many headers"))
        }
        Err(_) => return Err(Refusal::bad_request("malformed HTTP request")),
    };
    let headers = head.headers;
    if head.method != "GET" {
        return Err(Refusal::bad_request("the upgrade request must use GET"));
    }
    if head.version != Version::Http11 {
        return Err(Refusal::bad_request(
            "the upgrade request must use HTTP/1.1",
        ));
    }
    if find_header(&headers, "host").is_none() {
        return Err(Refusal::bad_request("missing Host header"));
    }
    if !header_has_token(&headers, "upgrade", "websocket") {
        return Err(Refusal {
            status: 426,
            reason: "this endpoint speaks WebSocket: send `Upgrade: websocket`",
        });
    }
    if !header_has_token(&headers, "connection", "upgrade") {
        return Err(Refusal::bad_request("missing `Connection: Upgrade`"));
    }
    if find_header(&headers, "sec-websocket-version").map(str::trim) != Some("13") {
        return Err(Refusal {
            status: 426,
            reason: "unsupported WebSocket version (13 is supported)",
        });
    }
    let key = find_header(&headers, "sec-websocket-key")
        .map(str::trim)
        .unwrap_or("");
    let key_ok = base64::engine::general_purpose::STANDARD
        .decode(key)
        .is_ok_and(|k| k.len() == 16);
    if !key_ok {
        return Err(Refusal::bad_request("missing or invalid Sec-WebSocket-Key"));
    }
    let head = RequestHead {
        path: head.target,
        key: String::from(key),
        headers,
    };
    Ok(Some((head, head_len)))
}

/// Writes the `101 Switching Protocols` answer to `request`, with the chosen `extensions` (the
/// `Sec-WebSocket-Extensions` value, if any) and the application's headers.
pub(crate) fn accept_response(
    request: &RequestHead,
    extensions: Option<&str>,
    headers: &[(String, String)],
) -> Result<Bytes, HandshakeError> {
    let mut head = ResponseHead::new(101)
        .with_header("Upgrade", "websocket")
        .with_header("Connection", "Upgrade")
        .with_header("Sec-WebSocket-Accept", accept_key(&request.key));
    if let Some(extensions) = extensions {
        head = head.with_header("Sec-WebSocket-Extensions", extensions);
    }
    write(with_headers(head, headers), &[])
}

/// Writes a refusal: the status line, the application's headers, and `body` with its length.
pub(crate) fn refusal_response(
    status: u16,
    headers: &[(String, String)],
    body: &[u8],
) -> Result<Bytes, HandshakeError> {
    let mut head = ResponseHead::new(status);
    if status == 426 {
        head = head
            .with_header("Upgrade", "websocket")
            .with_header("Sec-WebSocket-Version", "13");
    }
    let head = with_headers(head, headers)
        .with_header("Content-Length", body.len().to_string())
        .with_header("Connection", "close");
    write(head, body)
}

/// `head` with the application's headers after its own.
fn with_headers(mut head: ResponseHead, headers: &[(String, String)]) -> ResponseHead {
    (head.headers).extend(
        headers
            .iter()
            .map(|(name, value)| Header::new(name.as_str(), value.as_str())),
    );
    head
}

/// The head (refused if a header could break it: [`HandshakeError::InvalidHeader`]) and
/// `body`.
fn write(head: ResponseHead, body: &[u8]) -> Result<Bytes, HandshakeError> {
    let mut out = Vec::with_capacity(160 + body.len());
    head.write(&mut out).map_err(from_http)?;
    out.extend_from_slice(body);
    Ok(Bytes::from(out))
}

/// The refusal as a handshake error, for the server's own report.
impl From<Refusal> for HandshakeError {
    fn from(r: Refusal) -> Self {
        HandshakeError::RequestRefused {
            status: r.status,
            reason: r.reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &str = "GET /v1/responses HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer sk\r\n\r\n";

    #[test]
    fn reads_a_request_fed_in_pieces() {
        let bytes = REQUEST.as_bytes();
        for n in 0..bytes.len() {
            assert_eq!(read_request(&bytes[..n], 4096, 16), Ok(None), "at {n}");
        }
        let (head, len) = read_request(bytes, 4096, 16).unwrap().unwrap();
        assert_eq!(
            (head.path.as_str(), len, head.header("authorization")),
            ("/v1/responses", bytes.len(), Some("Bearer sk"))
        );
        let answer = accept_response(&head, None, &[]).unwrap();
        assert_eq!(
            &answer[..],
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn refuses_bad_requests_with_the_right_status() {
        let cases = [
            (REQUEST.replace("GET", "POST"), 400),
            (REQUEST.replace("HTTP/1.1", "HTTP/1.0"), 400),
            (REQUEST.replace("Host: localhost\r\n", ""), 400),
            (REQUEST.replace("Upgrade: websocket\r\n", ""), 426),
            (REQUEST.replace("keep-alive, Upgrade", "keep-alive"), 400),
            (REQUEST.replace("Version: 13", "Version: 8"), 426),
            (REQUEST.replace("dGhlIHNhbXBsZSBub25jZQ==", "short"), 400),
            (String::from("\x16\x03\x01garbage\r\n\r\n"), 400),
        ];
        for (request, status) in cases {
            assert_eq!(
                read_request(request.as_bytes(), 4096, 16)
                    .unwrap_err()
                    .status,
                status,
                "{request:?}"
            );
        }
    }

    #[test]
    fn bounds_head_size_and_header_count() {
        let big = REQUEST.replace("Authorization", &"X".repeat(5000));
        assert_eq!(
            read_request(big.as_bytes(), 4096, 16).unwrap_err().reason,
            "request head too large"
        );
        assert_eq!(
            read_request(REQUEST.as_bytes(), 4096, 3)
                .unwrap_err()
                .reason,
            "too many headers"
        );
    }

    #[test]
    fn writes_refusals_with_length_and_426_hints() {
        let answer = refusal_response(426, &[], b"use HTTP").unwrap();
        let text = core::str::from_utf8(&answer).unwrap();
        assert!(text.starts_with(
            "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
        ));
        assert!(text.ends_with("Content-Length: 8\r\nConnection: close\r\n\r\nuse HTTP"));
        assert!(
            refusal_response(401, &[(String::from("X"), String::from("a\r\nb"))], b"").is_err()
        );
    }
}
