//! The client side of the opening handshake: writing the upgrade request and reading the answer,
//! which may arrive one byte at a time. A `101` is checked against RFC 6455 §4.1; any other status
//! is read whole (headers and a bounded body) so the caller sees why the server refused.

use super::{
    accept_key, find_header, header_has_token, http_error, HandshakeError, Header, HttpResponse,
};
use crate::ws::deflate::{negotiate, DeflateConfig, DeflateParams};
use crate::ws::url::WsUrl;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use bytes::{BufMut, Bytes, BytesMut};

/// Headers the handshake writes itself; a caller may not supply them.
const OWNED_HEADERS: [&str; 6] = [
    "host",
    "upgrade",
    "connection",
    "sec-websocket-key",
    "sec-websocket-version",
    "sec-websocket-extensions",
];

/// What the client has learned from the bytes so far.
#[derive(Debug)]
pub(crate) enum ResponseProgress {
    /// More bytes are needed.
    Incomplete,
    /// The server accepted; the head took `head_len` bytes, and what follows are frames.
    Upgraded {
        head_len: usize,
        headers: Vec<Header>,
        /// The permessage-deflate parameters, if the server accepted the offer.
        deflate: Option<DeflateParams>,
    },
    /// The server refused; here is its whole answer.
    Refused(Box<HttpResponse>),
}

/// A refusal whose body is still arriving.
#[derive(Debug)]
struct PendingRefusal {
    response: HttpResponse,
    head_len: usize,
    body: BodyFraming,
}

#[derive(Debug, Clone, Copy)]
enum BodyFraming {
    Length(usize),
    Chunked,
    UntilEof,
}

/// The client handshake: the key sent, and the answer being read.
#[derive(Debug)]
pub(crate) struct ClientHandshake {
    key: String,
    offered_protocols: Vec<String>,
    /// The permessage-deflate settings offered, if any.
    offered_deflate: Option<DeflateConfig>,
    max_head: usize,
    max_headers: usize,
    max_body: usize,
    refusal: Option<PendingRefusal>,
}

/// Limits for reading the server's answer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ResponseLimits {
    pub(crate) max_head: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body: usize,
}

impl ClientHandshake {
    /// Writes the upgrade request for `url` with the caller's `headers` and a key made of the
    /// 16 random bytes `nonce`, offering permessage-deflate when `deflate` is enabled.
    pub(crate) fn start(
        url: &WsUrl,
        headers: &[(String, String)],
        nonce: [u8; 16],
        limits: ResponseLimits,
        deflate: &DeflateConfig,
    ) -> Result<(ClientHandshake, Bytes), HandshakeError> {
        let offered_deflate = deflate.active().then(|| deflate.clone());
        if let Some(config) = &offered_deflate {
            negotiate::check_config(config).map_err(HandshakeError::Extension)?;
        }
        let key = base64::engine::general_purpose::STANDARD.encode(nonce);
        let mut req = BytesMut::with_capacity(256);
        let mut line = |parts: &[&str]| {
            for p in parts {
                req.put_slice(p.as_bytes());
            }
            req.put_slice(b"\r\n");
        };
        line(&["GET ", url.resource(), " HTTP/1.1"]);
        line(&["Host: ", &url.host_header()]);
        line(&["Upgrade: websocket"]);
        line(&["Connection: Upgrade"]);
        line(&["Sec-WebSocket-Key: ", &key]);
        line(&["Sec-WebSocket-Version: 13"]);
        if let Some(config) = &offered_deflate {
            line(&["Sec-WebSocket-Extensions: ", &negotiate::offer(config)]);
        }
        let mut offered_protocols = Vec::new();
        for (name, value) in headers {
            check_request_header(name, value)?;
            if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                offered_protocols.extend(value.split(',').map(|p| String::from(p.trim())));
            }
            line(&[name, ": ", value]);
        }
        line(&[]);
        let handshake = ClientHandshake {
            key,
            offered_protocols,
            offered_deflate,
            max_head: limits.max_head,
            max_headers: limits.max_headers,
            max_body: limits.max_body,
            refusal: None,
        };
        Ok((handshake, req.freeze()))
    }

    /// Reads the answer from everything received so far (`buf` grows between calls).
    pub(crate) fn read_response(&mut self, buf: &[u8]) -> Result<ResponseProgress, HandshakeError> {
        if self.refusal.is_some() {
            return Ok(self.read_refusal_body(buf, false));
        }
        let mut slots = alloc::vec![httparse::EMPTY_HEADER; self.max_headers];
        let mut parsed = httparse::Response::new(&mut slots);
        let head_len = match parsed.parse(buf).map_err(http_error)? {
            httparse::Status::Partial if buf.len() > self.max_head => {
                return Err(HandshakeError::HeadTooLarge {
                    limit: self.max_head,
                })
            }
            httparse::Status::Partial => return Ok(ResponseProgress::Incomplete),
            httparse::Status::Complete(len) => len,
        };
        let status = parsed.code.unwrap_or(0);
        let headers: Vec<Header> = parsed.headers.iter().map(Header::from_httparse).collect();
        if status == 101 {
            let deflate = self.check_upgrade(&headers)?;
            return Ok(ResponseProgress::Upgraded {
                head_len,
                headers,
                deflate,
            });
        }
        let body = body_framing(&headers);
        let response = HttpResponse {
            status,
            reason: String::from(parsed.reason.unwrap_or("")),
            headers,
            body: Bytes::new(),
            body_truncated: false,
        };
        self.refusal = Some(PendingRefusal {
            response,
            head_len,
            body,
        });
        Ok(self.read_refusal_body(buf, false))
    }

    /// The transport ended: a refusal whose body runs to EOF is complete now; anything else failed.
    pub(crate) fn read_eof(&mut self, buf: &[u8]) -> Result<Box<HttpResponse>, HandshakeError> {
        if self.refusal.is_none() {
            return Err(HandshakeError::UnexpectedEof);
        }
        match self.read_refusal_body(buf, true) {
            ResponseProgress::Refused(response) => Ok(response),
            _ => Err(HandshakeError::UnexpectedEof),
        }
    }

    fn read_refusal_body(&mut self, buf: &[u8], eof: bool) -> ResponseProgress {
        let Some(pending) = self.refusal.take() else {
            return ResponseProgress::Incomplete;
        };
        let body = &buf[pending.head_len.min(buf.len())..];
        let max = self.max_body;
        let decoded = match pending.body {
            BodyFraming::Length(n) if body.len() >= n.min(max) => {
                Some((body[..n.min(max)].to_vec(), n > max))
            }
            BodyFraming::Length(_) => None,
            BodyFraming::Chunked => decode_chunked(body, max),
            BodyFraming::UntilEof if body.len() > max => Some((body[..max].to_vec(), true)),
            BodyFraming::UntilEof => None,
        };
        let (bytes, truncated) = match decoded {
            Some(done) => done,
            // The transport ended early: keep what arrived.
            None if eof => (body[..body.len().min(max)].to_vec(), body.len() > max),
            None => {
                self.refusal = Some(pending);
                return ResponseProgress::Incomplete;
            }
        };
        let mut response = pending.response;
        response.body = Bytes::from(bytes);
        response.body_truncated = truncated;
        ResponseProgress::Refused(Box::new(response))
    }

    /// Checks a `101` against RFC 6455 §4.1 and RFC 7692; returns the agreed permessage-deflate
    /// parameters, if any.
    fn check_upgrade(&self, headers: &[Header]) -> Result<Option<DeflateParams>, HandshakeError> {
        if !find_header(headers, "upgrade")
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("websocket"))
        {
            return Err(HandshakeError::InvalidUpgrade(
                "missing `Upgrade: websocket`",
            ));
        }
        if !header_has_token(headers, "connection", "upgrade") {
            return Err(HandshakeError::InvalidUpgrade(
                "missing `Connection: upgrade`",
            ));
        }
        if find_header(headers, "sec-websocket-accept").map(str::trim)
            != Some(accept_key(&self.key).as_str())
        {
            return Err(HandshakeError::InvalidUpgrade(
                "missing or wrong `Sec-WebSocket-Accept`",
            ));
        }
        let deflate = negotiate::check_answer(headers, self.offered_deflate.as_ref())
            .map_err(HandshakeError::Extension)?;
        if let Some(protocol) = find_header(headers, "sec-websocket-protocol") {
            if !self.offered_protocols.iter().any(|p| p == protocol.trim()) {
                return Err(HandshakeError::InvalidUpgrade(
                    "server chose a subprotocol that was not offered",
                ));
            }
        }
        Ok(deflate)
    }
}

fn body_framing(headers: &[Header]) -> BodyFraming {
    if header_has_token(headers, "transfer-encoding", "chunked") {
        BodyFraming::Chunked
    } else if let Some(n) =
        find_header(headers, "content-length").and_then(|v| v.trim().parse().ok())
    {
        BodyFraming::Length(n)
    } else {
        BodyFraming::UntilEof
    }
}

/// Decodes a chunked body once its last chunk has arrived (or `max` bytes are decoded).
/// Returns the body and whether it was cut; `None` while incomplete.
fn decode_chunked(mut body: &[u8], max: usize) -> Option<(Vec<u8>, bool)> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = core::str::from_utf8(&body[..line_end]).ok()?;
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        // A malformed size ends the body with what was decoded.
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return Some((out, false));
        };
        if size == 0 {
            return Some((out, false));
        }
        let data = body.get(line_end + 2..line_end + 2 + size)?;
        let room = max - out.len();
        if data.len() > room {
            out.extend_from_slice(&data[..room]);
            return Some((out, true));
        }
        out.extend_from_slice(data);
        body = body.get(line_end + 2 + size + 2..)?;
    }
}

/// Refuses header names that are not HTTP tokens, values that could inject a line, and headers
/// the handshake owns.
fn check_request_header(name: &str, value: &str) -> Result<(), HandshakeError> {
    let token_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    let name_ok = !name.is_empty() && name.bytes().all(token_char);
    let value_ok = value
        .bytes()
        .all(|b| b == b'\t' || (b >= b' ' && b != 0x7F));
    let owned = OWNED_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h));
    if name_ok && value_ok && !owned {
        Ok(())
    } else {
        Err(HandshakeError::InvalidHeader(String::from(name)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    const LIMITS: ResponseLimits = ResponseLimits {
        max_head: 8192,
        max_headers: 32,
        max_body: 64,
    };

    fn start(headers: &[(&str, &str)]) -> Result<(ClientHandshake, Bytes), HandshakeError> {
        let url = WsUrl::parse("wss://api.example.com/v1/responses?x=1").unwrap();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect();
        ClientHandshake::start(&url, &headers, [7; 16], LIMITS, &DeflateConfig::disabled())
    }

    fn upgrade_response(hs: &ClientHandshake) -> String {
        alloc::format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Accept: {}\r\nx-request-id: abc\r\n\r\n",
            accept_key(&hs.key)
        )
    }

    #[test]
    fn writes_the_upgrade_request() {
        let (hs, req) = start(&[
            ("Authorization", "Bearer sk-test"),
            ("OpenAI-Beta", "responses_websockets=2026-02-06"),
        ])
        .unwrap();
        let req = core::str::from_utf8(&req).unwrap();
        let expected = alloc::format!(
            "GET /v1/responses?x=1 HTTP/1.1\r\nHost: api.example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer sk-test\r\nOpenAI-Beta: responses_websockets=2026-02-06\r\n\r\n",
            hs.key
        );
        assert_eq!(req, expected);
        assert_eq!(hs.key, "BwcHBwcHBwcHBwcHBwcHBw==");
    }

    #[test]
    fn refuses_header_injection_and_owned_headers() {
        for (name, value) in [
            ("X-Evil", "a\r\nHost: b"),
            ("Bad Name", "v"),
            ("Sec-WebSocket-Key", "k"),
            ("host", "h"),
            ("", "v"),
        ] {
            assert_eq!(
                start(&[(name, value)]).unwrap_err(),
                HandshakeError::InvalidHeader(name.to_string())
            );
        }
    }

    #[test]
    fn accepts_a_101_fed_one_byte_at_a_time() {
        let (mut hs, _) = start(&[]).unwrap();
        let response = upgrade_response(&hs) + "\u{81}\u{0}";
        let bytes = response.as_bytes();
        let head_end = bytes.len() - 3; // the frame bytes are 3 UTF-8 bytes here
        for n in 1..head_end {
            assert!(
                matches!(
                    hs.read_response(&bytes[..n]).unwrap(),
                    ResponseProgress::Incomplete
                ),
                "at {n}"
            );
        }
        match hs.read_response(bytes).unwrap() {
            ResponseProgress::Upgraded {
                head_len,
                headers,
                deflate: None,
            } => {
                assert_eq!(head_len, head_end);
                assert_eq!(find_header(&headers, "X-Request-Id"), Some("abc"));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn refuses_a_101_that_breaks_the_rules() {
        let (mut hs, _) = start(&[]).unwrap();
        let good = upgrade_response(&hs);
        let cases = [
            (
                good.replace("WebSocket", "h2c"),
                "missing `Upgrade: websocket`",
            ),
            (
                good.replace("keep-alive, Upgrade", "keep-alive"),
                "missing `Connection: upgrade`",
            ),
            (
                good.replace(&accept_key(&hs.key), "AAAA"),
                "missing or wrong `Sec-WebSocket-Accept`",
            ),
            (
                good.replace(
                    "x-request-id: abc",
                    "Sec-WebSocket-Extensions: permessage-deflate",
                ),
                "the server chose an extension that was not offered",
            ),
            (
                good.replace("x-request-id: abc", "Sec-WebSocket-Protocol: chat"),
                "server chose a subprotocol that was not offered",
            ),
        ];
        for (response, why) in cases {
            let error = hs.read_response(response.as_bytes()).unwrap_err();
            assert!(
                error == HandshakeError::InvalidUpgrade(why)
                    || error == HandshakeError::Extension(why),
                "{error:?}"
            );
        }
    }

    #[test]
    fn keeps_a_refusal_whole_with_its_body() {
        let (mut hs, _) = start(&[]).unwrap();
        let body = r#"{"error":{"type":"invalid_request_error","code":"invalid_api_key"}}"#;
        let response = alloc::format!("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        let bytes = response.as_bytes();
        // The body is complete for us once the 64-byte limit is reached; the rest is not awaited.
        let at_limit = bytes.len() - body.len() + 64;
        assert!(matches!(
            hs.read_response(&bytes[..at_limit - 1]).unwrap(),
            ResponseProgress::Incomplete
        ));
        let ResponseProgress::Refused(r) = hs.read_response(&bytes[..at_limit]).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.status, r.reason.as_str(), r.header("content-type")),
            (401, "Unauthorized", Some("application/json"))
        );
        assert_eq!(&r.body[..], &body.as_bytes()[..64]);
        assert!(
            r.body_truncated,
            "the 68-byte body is cut at the 64-byte limit"
        );
    }

    #[test]
    fn reads_chunked_and_until_eof_bodies() {
        let (mut hs, _) = start(&[]).unwrap();
        let chunked = "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nslow\r\n5\r\n down\r\n0\r\n\r\n";
        let ResponseProgress::Refused(r) = hs.read_response(chunked.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.status, r.header("retry-after"), &r.body[..]),
            (429, Some("3"), &b"slow down"[..])
        );

        let (mut hs, _) = start(&[]).unwrap();
        let until_eof = "HTTP/1.1 426 Upgrade Required\r\n\r\nuse https";
        assert!(matches!(
            hs.read_response(until_eof.as_bytes()).unwrap(),
            ResponseProgress::Incomplete
        ));
        let r = hs.read_eof(until_eof.as_bytes()).unwrap();
        assert_eq!((r.status, &r.body[..]), (426, &b"use https"[..]));
    }

    #[test]
    fn bounds_the_response_head() {
        let (mut hs, _) = start(&[]).unwrap();
        let huge = alloc::format!(
            "HTTP/1.1 101 Switching Protocols\r\nX: {}",
            "a".repeat(9000)
        );
        assert_eq!(
            hs.read_response(huge.as_bytes()).unwrap_err(),
            HandshakeError::HeadTooLarge { limit: 8192 }
        );
        let (mut hs, _) = start(&[]).unwrap();
        assert_eq!(
            hs.read_response(b"SSH-2.0-OpenSSH\r\n\r\n").unwrap_err(),
            HandshakeError::MalformedHttp("invalid HTTP version")
        );
        assert_eq!(
            hs.read_eof(b"HTTP/1.1 101").unwrap_err(),
            HandshakeError::UnexpectedEof
        );
    }
}
