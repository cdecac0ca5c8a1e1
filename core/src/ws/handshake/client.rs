//! The client side of the opening handshake: writing the upgrade request and reading the answer,
//! which may arrive one byte at a time. A `101` is checked against RFC 6455 §4.1; any other status
//! is read whole (headers and a bounded body) so the caller sees why the server refused.
//!
//! The HTTP/1.1 itself — writing the request head, parsing the answer's head, delimiting and
//! decoding its body — is the core's [`http`](crate::http) layer, the one the HTTP + SSE
//! transport uses; this file holds the WebSocket rules on top of it.

use super::{
    accept_key, find_header, from_http, header_has_token, HandshakeError, Header, HttpResponse,
};
use crate::http::{BodyDecoder, BodyKind, BodyPart, HttpError, Limits, RequestHead, ResponseHead};
use crate::ws::deflate::{negotiate, DeflateConfig, DeflateParams};
use crate::ws::url::WsUrl;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::vec::Vec;
use base64::Engine;
use bytes::{Bytes, BytesMut};

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
    /// The answer, its body still empty.
    response: HttpResponse,
    /// How far into the caller's buffer the body has been read.
    read: usize,
    body: BodyDecoder,
    /// The body decoded so far: never more than the limit.
    decoded: Vec<u8>,
    /// The body is longer than the limit: only the limit is kept.
    cut: bool,
}

/// The client handshake: the key sent, and the answer being read.
#[derive(Debug)]
pub(crate) struct ClientHandshake {
    key: String,
    offered_protocols: Vec<String>,
    /// The permessage-deflate settings offered, if any.
    offered_deflate: Option<DeflateConfig>,
    /// The bounds of the answer's head and of a refusal's body.
    limits: Limits,
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
        let mut request = RequestHead::new("GET", url.resource())
            .with_header("Host", url.host_header())
            .with_header("Upgrade", "websocket")
            .with_header("Connection", "Upgrade")
            .with_header("Sec-WebSocket-Key", key.as_str())
            .with_header("Sec-WebSocket-Version", "13");
        if let Some(config) = &offered_deflate {
            request = request.with_header("Sec-WebSocket-Extensions", negotiate::offer(config));
        }
        let mut offered_protocols = Vec::new();
        for (name, value) in headers {
            if OWNED_HEADERS.iter().any(|h| name.eq_ignore_ascii_case(h)) {
                return Err(HandshakeError::InvalidHeader(name.clone()));
            }
            if name.eq_ignore_ascii_case("sec-websocket-protocol") {
                offered_protocols.extend(value.split(',').map(|p| String::from(p.trim())));
            }
            request
                .headers
                .push(Header::new(name.as_str(), value.as_str()));
        }
        // Refuses a header whose name is not a token or whose value could inject a line.
        let mut bytes = Vec::with_capacity(256);
        request.write(&mut bytes).map_err(from_http)?;
        let handshake = ClientHandshake {
            key,
            offered_protocols,
            offered_deflate,
            limits: Limits {
                max_head: limits.max_head,
                max_headers: limits.max_headers,
                max_body: limits.max_body as u64,
                ..Limits::default()
            },
            refusal: None,
        };
        Ok((handshake, Bytes::from(bytes)))
    }

    /// Reads the answer from everything received so far (`buf` grows between calls).
    pub(crate) fn read_response(&mut self, buf: &[u8]) -> Result<ResponseProgress, HandshakeError> {
        if self.refusal.is_some() {
            return Ok(self.read_refusal_body(buf, false));
        }
        let Some((head, head_len)) = ResponseHead::parse(buf, &self.limits).map_err(from_http)?
        else {
            return Ok(ResponseProgress::Incomplete);
        };
        if head.status == 101 {
            let deflate = self.check_upgrade(&head.headers)?;
            return Ok(ResponseProgress::Upgraded {
                head_len,
                headers: head.headers,
                deflate,
            });
        }
        // A refusal is read for its status and headers: a body whose framing is broken is
        // read to the end of the connection rather than refused.
        let kind = head.body_kind("GET").unwrap_or(BodyKind::UntilEof);
        let (kind, cut) = match kind {
            BodyKind::Length(len) if len > self.limits.max_body => {
                (BodyKind::Length(self.limits.max_body), true)
            }
            kind => (kind, false),
        };
        let body = BodyDecoder::new(kind, &self.limits).map_err(from_http)?;
        self.refusal = Some(PendingRefusal {
            response: HttpResponse {
                status: head.status,
                reason: head.reason,
                headers: head.headers,
                body: Bytes::new(),
                body_truncated: false,
            },
            read: head_len,
            body,
            decoded: Vec::new(),
            cut,
        });
        Ok(self.read_refusal_body(buf, false))
    }

    /// The transport ended: a refusal whose body runs to EOF is complete now, and one cut
    /// short keeps what arrived; anything else failed.
    pub(crate) fn read_eof(&mut self, buf: &[u8]) -> Result<Box<HttpResponse>, HandshakeError> {
        if self.refusal.is_none() {
            return Err(HandshakeError::UnexpectedEof);
        }
        match self.read_refusal_body(buf, true) {
            ResponseProgress::Refused(response) => Ok(response),
            _ => Err(HandshakeError::UnexpectedEof),
        }
    }

    /// Decodes what arrived of a refusal's body: the whole answer once the body ended, was
    /// cut at the limit, broke its framing (what was decoded is kept), or `eof` came.
    fn read_refusal_body(&mut self, buf: &[u8], eof: bool) -> ResponseProgress {
        let Some(mut pending) = self.refusal.take() else {
            return ResponseProgress::Incomplete;
        };
        let mut input = BytesMut::from(&buf[pending.read.min(buf.len())..]);
        let available = input.len();
        let ended = loop {
            match pending.body.decode(&mut input) {
                Ok(Some(BodyPart::Data(data))) => pending.decoded.extend_from_slice(&data),
                Ok(Some(BodyPart::End)) => break true,
                Ok(None) => break false,
                Err(HttpError::BodyTooLarge { .. }) => {
                    pending.cut = true;
                    break true;
                }
                Err(_) => break true,
            }
        };
        pending.read += available - input.len();
        if !ended && !eof {
            self.refusal = Some(pending);
            return ResponseProgress::Incomplete;
        }
        let mut response = pending.response;
        response.body = Bytes::from(pending.decoded);
        response.body_truncated = pending.cut;
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
    fn a_long_or_broken_refusal_body_keeps_what_fits() {
        // Chunked past the 64-byte limit: cut there, however it was split.
        let chunk = "x".repeat(40);
        let long = alloc::format!(
            "HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n{chunk}\r\n28\r\n{chunk}\r\n0\r\n\r\n"
        );
        let (mut hs, _) = start(&[]).unwrap();
        let mut refused = None;
        for n in 1..=long.len() {
            if let ResponseProgress::Refused(r) = hs.read_response(&long.as_bytes()[..n]).unwrap() {
                refused = Some(r);
                break;
            }
        }
        let r = refused.expect("the refusal ends at the limit");
        assert_eq!((r.status, r.body.len(), r.body_truncated), (503, 64, true));

        // A chunk size that is not hex ends the body with what was decoded.
        let broken =
            "HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nbad\r\nzz\r\n";
        let (mut hs, _) = start(&[]).unwrap();
        let ResponseProgress::Refused(r) = hs.read_response(broken.as_bytes()).unwrap() else {
            panic!()
        };
        assert_eq!(
            (r.status, &r.body[..], r.body_truncated),
            (400, &b"bad"[..], false)
        );

        // Framing headers that contradict each other: the body runs to the end.
        let ambiguous =
            "HTTP/1.1 401 Unauthorized\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nno";
        let (mut hs, _) = start(&[]).unwrap();
        assert!(matches!(
            hs.read_response(ambiguous.as_bytes()),
            Ok(ResponseProgress::Incomplete)
        ));
        let r = hs.read_eof(ambiguous.as_bytes()).unwrap();
        assert_eq!((r.status, &r.body[..]), (401, &b"no"[..]));
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
