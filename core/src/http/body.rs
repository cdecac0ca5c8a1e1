//! Bodies of any framing: the decoder that reads one to its end whatever its [`BodyKind`],
//! with the size limit, and the encoder for a body whose length is not known up front.

use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use super::chunked::{self, ChunkedDecoder};
use super::{BodyKind, HttpError, Limits, Version};

/// A piece of a decoded body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyPart {
    /// The next bytes of the body (never empty).
    Data(Bytes),
    /// The body is over; bytes after it belong to the next message.
    End,
}

/// How far a [`BodyDecoder`] is.
#[derive(Debug, Clone)]
enum Framing {
    Length(u64),
    Chunked(ChunkedDecoder),
    UntilEof,
    /// `End` was handed out.
    Done,
}

/// Reads a body to its end whatever its framing, in pieces however the bytes were cut, never
/// past [`Limits::max_body`].
///
/// ```
/// use bytes::BytesMut;
/// use responses_ws_core::http::{BodyDecoder, BodyKind, BodyPart, Limits};
///
/// let mut body = BodyDecoder::new(BodyKind::Length(5), &Limits::default())?;
/// let mut input = BytesMut::from(&b"hello, next request"[..]);
/// assert_eq!(body.decode(&mut input)?, Some(BodyPart::Data("hello".into())));
/// assert_eq!(body.decode(&mut input)?, Some(BodyPart::End));
/// assert_eq!(body.decode(&mut input)?, None);
/// assert_eq!(&input[..], b", next request");
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    framing: Framing,
    /// Data handed out so far; never above `max_body`.
    decoded: u64,
    max_body: u64,
}

impl BodyDecoder {
    /// A decoder for a body framed as `kind`. A declared length above the limit is refused
    /// at once, before any of the body is read.
    pub fn new(kind: BodyKind, limits: &Limits) -> Result<Self, HttpError> {
        let framing = match kind {
            BodyKind::Length(len) if len > limits.max_body => {
                return Err(HttpError::BodyTooLarge {
                    limit: limits.max_body,
                })
            }
            BodyKind::Empty | BodyKind::Length(0) => Framing::Length(0),
            BodyKind::Length(len) => Framing::Length(len),
            BodyKind::Chunked => Framing::Chunked(ChunkedDecoder::new(limits)),
            BodyKind::UntilEof => Framing::UntilEof,
        };
        Ok(BodyDecoder {
            framing,
            decoded: 0,
            max_body: limits.max_body,
        })
    }

    /// Whether the end of the body was handed out.
    pub fn is_done(&self) -> bool {
        matches!(self.framing, Framing::Done)
    }

    /// Takes what it can from the front of `input`: `Some(Data)`, `Some(End)` once, or `None`
    /// when it needs more bytes (or is done). Call it until it returns `None`.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<BodyPart>, HttpError> {
        // Pieces never cross the limit: everything up to it is handed out, then one byte more
        // is the error, however the input was cut.
        let room = usize::try_from(self.max_body.saturating_sub(self.decoded))
            .unwrap_or(usize::MAX)
            .max(1);
        let part = match &mut self.framing {
            Framing::Done => return Ok(None),
            Framing::Length(0) => BodyPart::End,
            Framing::Length(remaining) => {
                if input.is_empty() {
                    return Ok(None);
                }
                let take = usize::try_from(*remaining).map_or(input.len(), |r| r.min(input.len()));
                *remaining -= take as u64;
                BodyPart::Data(input.split_to(take).freeze())
            }
            Framing::Chunked(decoder) => match decoder.decode_at_most(input, room)? {
                Some(part) => part,
                None => return Ok(None),
            },
            Framing::UntilEof if input.is_empty() => return Ok(None),
            Framing::UntilEof => BodyPart::Data(input.split_to(input.len().min(room)).freeze()),
        };
        match &part {
            BodyPart::Data(data) => self.count(data.len())?,
            BodyPart::End => self.framing = Framing::Done,
        }
        Ok(Some(part))
    }

    /// The transport ended: `Some(End)` for a body delimited by the end (once), `None` when
    /// the body was already over, an error when it was cut short.
    pub fn handle_eof(&mut self) -> Result<Option<BodyPart>, HttpError> {
        match self.framing {
            Framing::Done => Ok(None),
            Framing::UntilEof => {
                self.framing = Framing::Done;
                Ok(Some(BodyPart::End))
            }
            _ => Err(HttpError::UnexpectedEof),
        }
    }

    fn count(&mut self, len: usize) -> Result<(), HttpError> {
        self.decoded = self.decoded.saturating_add(len as u64);
        if self.decoded > self.max_body {
            return Err(HttpError::BodyTooLarge {
                limit: self.max_body,
            });
        }
        Ok(())
    }
}

/// How a body of unknown length goes out: in chunks over HTTP/1.1, delimited by closing the
/// connection over HTTP/1.0.
///
/// ```
/// use responses_ws_core::http::{BodyEncoder, Version};
///
/// let encoder = BodyEncoder::for_version(Version::Http11);
/// let mut out = Vec::new();
/// encoder.write(&mut out, b"data: 1\n\n");
/// encoder.finish(&mut out);
/// assert_eq!(out, b"9\r\ndata: 1\n\n\r\n0\r\n\r\n");
/// assert_eq!(encoder.header(), Some(("transfer-encoding", "chunked")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum BodyEncoder {
    /// `Transfer-Encoding: chunked`; the connection may stay open.
    Chunked,
    /// Raw bytes; the end of the body is the end of the connection.
    UntilClose,
}

impl BodyEncoder {
    /// Chunked for HTTP/1.1, close-delimited for HTTP/1.0 (which knows no chunks).
    pub fn for_version(version: Version) -> Self {
        match version {
            Version::Http10 => BodyEncoder::UntilClose,
            _ => BodyEncoder::Chunked,
        }
    }

    /// The header that announces this framing, if it has one.
    pub fn header(self) -> Option<(&'static str, &'static str)> {
        match self {
            BodyEncoder::Chunked => Some(("transfer-encoding", "chunked")),
            BodyEncoder::UntilClose => None,
        }
    }

    /// Whether the connection can carry another message after this body.
    pub fn keeps_connection(self) -> bool {
        self == BodyEncoder::Chunked
    }

    /// Appends the next piece of the body.
    pub fn write(self, out: &mut Vec<u8>, data: &[u8]) {
        match self {
            BodyEncoder::Chunked => chunked::write_chunk(out, data),
            BodyEncoder::UntilClose => out.extend_from_slice(data),
        }
    }

    /// Appends the end of the body (nothing when closing the connection ends it).
    pub fn finish(self, out: &mut Vec<u8>) {
        if self == BodyEncoder::Chunked {
            chunked::write_last(out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_past_the_limit_is_refused_once_the_limit_is_reached() {
        let limits = Limits {
            max_body: 10,
            ..Limits::default()
        };
        // A declared length is refused before any byte is read.
        let error = BodyDecoder::new(BodyKind::Length(11), &limits).unwrap_err();
        assert_eq!(error, HttpError::BodyTooLarge { limit: 10 });
        for kind in [BodyKind::UntilEof, BodyKind::Chunked] {
            let mut body = BodyDecoder::new(kind, &limits).unwrap();
            let mut input = match kind {
                BodyKind::Chunked => BytesMut::from(&b"b\r\nxxxxxxxxxxx\r\n"[..]),
                _ => BytesMut::from(&b"xxxxxxxxxxx"[..]),
            };
            let within = BodyPart::Data(Bytes::from_static(b"xxxxxxxxxx"));
            assert_eq!(body.decode(&mut input), Ok(Some(within)), "{kind:?}");
            let error = Err(HttpError::BodyTooLarge { limit: 10 });
            assert_eq!(body.decode(&mut input), error, "{kind:?}");
        }
    }

    #[test]
    fn eof_ends_only_a_close_delimited_body() {
        let limits = Limits::default();
        let mut until_eof = BodyDecoder::new(BodyKind::UntilEof, &limits).unwrap();
        assert_eq!(until_eof.handle_eof(), Ok(Some(BodyPart::End)));
        assert_eq!(until_eof.handle_eof(), Ok(None));
        for kind in [BodyKind::Length(3), BodyKind::Chunked] {
            let mut body = BodyDecoder::new(kind, &limits).unwrap();
            assert_eq!(body.handle_eof(), Err(HttpError::UnexpectedEof), "{kind:?}");
        }
        let mut empty = BodyDecoder::new(BodyKind::Empty, &limits).unwrap();
        assert_eq!(empty.decode(&mut BytesMut::new()), Ok(Some(BodyPart::End)));
        assert_eq!(empty.handle_eof(), Ok(None));
    }
}
