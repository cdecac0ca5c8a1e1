//! HTTP/1.1 as the Responses API needs it, sans-IO: request and response heads (parsed with
//! httparse, written with checks), how a body is delimited, the chunked coding, bodies of any
//! framing, server-sent events — and, on top of them, [`Exchange`]: one `POST /v1/responses`
//! with `stream: true`, the client side of the HTTP + SSE transport.
//!
//! Below [`Exchange`] it owns the framing only: it never decides what a request means (the
//! [`mock`](crate::mock) routes, the exchange decodes events, the caller chains and retries)
//! and never touches a socket. Every parser
//! is incremental — bytes may arrive cut anywhere — and bounded by [`Limits`]; bad input gives
//! an [`HttpError`].
//!
//! ```
//! use bytes::BytesMut;
//! use responses_ws_core::http::{BodyDecoder, BodyPart, Limits, ResponseHead, SseParser};
//!
//! let limits = Limits::default();
//! let mut input = BytesMut::from(
//!     &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nf\r\ndata: {\"n\":1}\n\n\r\n0\r\n\r\n"[..],
//! );
//! let (head, len) = ResponseHead::parse(&input, &limits)?.expect("whole head");
//! let _ = input.split_to(len);
//! let mut body = BodyDecoder::new(head.body_kind("POST")?, &limits)?;
//! let mut events = SseParser::new(&limits);
//! while let Some(part) = body.decode(&mut input)? {
//!     if let BodyPart::Data(data) = part {
//!         let mut data = &data[..];
//!         while let Some(event) = events.next_event(&mut data)? {
//!             assert_eq!(event.data, "{\"n\":1}");
//!         }
//!     }
//! }
//! assert!(body.is_done());
//! # Ok::<(), responses_ws_core::http::HttpError>(())
//! ```

mod body;
pub mod chunked;
mod error;
mod exchange;
mod framing;
mod head;
mod header;
mod limits;
mod request;
mod response;
mod sse;
#[cfg(test)]
mod tests;

pub use body::{BodyDecoder, BodyEncoder, BodyPart};
pub use chunked::ChunkedDecoder;
pub use error::HttpError;
pub use exchange::{Exchange, ExchangeError, ExchangeEvent, Target};
pub use framing::BodyKind;
pub use head::Version;
pub use header::{find_header, Header};
pub use limits::Limits;
pub use request::RequestHead;
pub use response::{reason_phrase, ResponseHead};
pub use sse::{SseEvent, SseParser};

pub(crate) use header::{has_token, tokens};
