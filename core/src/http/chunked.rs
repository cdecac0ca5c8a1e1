//! The chunked transfer coding (RFC 9112 §7.1): an incremental decoder that takes whatever
//! arrived, however it was cut, and the two writes that encode a body as chunks.
//!
//! Chunk-size lines and trailers are read by httparse; this module owns the states between
//! them and the bounds on each.

use alloc::vec::Vec;
use bytes::{Buf, BytesMut};

use super::body::BodyPart;
use super::{HttpError, Limits};

/// Appends `data` as one chunk. Empty data writes nothing: an empty chunk would end the body.
///
/// ```
/// use responses_ws_core::http::chunked;
///
/// let mut out = Vec::new();
/// chunked::write_chunk(&mut out, b"event: a\n\n");
/// chunked::write_last(&mut out);
/// assert_eq!(out, b"a\r\nevent: a\n\n\r\n0\r\n\r\n");
/// ```
pub fn write_chunk(out: &mut Vec<u8>, data: &[u8]) {
    if data.is_empty() {
        return;
    }
    out.extend_from_slice(alloc::format!("{:x}\r\n", data.len()).as_bytes());
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

/// Appends the last chunk, without trailers: the end of the body.
///
/// ```
/// # use responses_ws_core::http::chunked;
/// let mut out = Vec::new();
/// chunked::write_last(&mut out);
/// assert_eq!(out, b"0\r\n\r\n");
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
pub fn write_last(out: &mut Vec<u8>) {
    out.extend_from_slice(b"0\r\n\r\n");
}

/// Where the decoder is in the chunked body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before a chunk-size line.
    Size,
    /// Inside a chunk's data, with this many bytes to go.
    Data(u64),
    /// After a chunk's data, before its CRLF.
    DataEnd,
    /// After the last chunk, before the trailer section ends.
    Trailers,
    /// The body is over.
    Done,
}

/// Decodes a chunked body incrementally: feed it the received bytes, in any pieces, and it
/// hands out the data (without copying) and then the end. Bytes it cannot use yet stay in the
/// caller's buffer; bytes after the body are left there too.
///
/// ```
/// use bytes::BytesMut;
/// use responses_ws_core::http::{BodyPart, ChunkedDecoder, Limits};
///
/// let mut decoder = ChunkedDecoder::new(&Limits::default());
/// let mut input = BytesMut::from(&b"5\r\nhel"[..]);
/// assert_eq!(decoder.decode(&mut input)?, Some(BodyPart::Data("hel".into())));
/// assert_eq!(decoder.decode(&mut input)?, None);
/// input.extend_from_slice(b"lo\r\n0\r\n\r\nNEXT");
/// assert_eq!(decoder.decode(&mut input)?, Some(BodyPart::Data("lo".into())));
/// assert_eq!(decoder.decode(&mut input)?, Some(BodyPart::End));
/// assert_eq!(&input[..], b"NEXT");
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
    max_line: usize,
    max_trailers: usize,
    max_trailer_fields: usize,
}

impl ChunkedDecoder {
    /// A decoder at the start of a body, bounded by `limits`.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use responses_ws_core::http::{ChunkedDecoder, Limits};
    /// let mut limits = Limits::default();
    /// limits.max_chunk_line = 8;
    /// let mut decoder = ChunkedDecoder::new(&limits);
    /// // A chunk-size line longer than the limit is refused.
    /// assert!(decoder.decode(&mut BytesMut::from(&b"000000000005\r\nhello"[..])).is_err());
    /// # Ok::<(), responses_ws_core::http::HttpError>(())
    /// ```
    pub fn new(limits: &Limits) -> Self {
        ChunkedDecoder {
            state: State::Size,
            max_line: limits.max_chunk_line,
            max_trailers: limits.max_trailers,
            max_trailer_fields: limits.max_headers,
        }
    }

    /// Whether the last chunk and the trailers have been read.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use responses_ws_core::http::{BodyPart, ChunkedDecoder, Limits};
    /// let mut decoder = ChunkedDecoder::new(&Limits::default());
    /// let mut input = BytesMut::from(&b"0\r\n\r\n"[..]);
    /// assert!(!decoder.is_done());
    /// assert_eq!(decoder.decode(&mut input)?, Some(BodyPart::End));
    /// assert!(decoder.is_done());
    /// # Ok::<(), responses_ws_core::http::HttpError>(())
    /// ```
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Takes what it can from the front of `input`: `Some(Data)` (never empty), `Some(End)`
    /// once when the body is over, or `None` when it needs more bytes (or is done). Call it
    /// until it returns `None`. After an error the body cannot be trusted: drop the
    /// connection.
    ///
    /// ```
    /// # use bytes::BytesMut;
    /// # use responses_ws_core::http::{BodyPart, ChunkedDecoder, Limits};
    /// let mut decoder = ChunkedDecoder::new(&Limits::default());
    /// let mut input = BytesMut::from(&b"2\r\nhi\r\n0\r\n\r\n"[..]);
    /// let mut body = Vec::new();
    /// while let Some(part) = decoder.decode(&mut input)? {
    ///     if let BodyPart::Data(data) = part {
    ///         body.extend_from_slice(&data);
    ///     }
    /// }
    /// assert_eq!(body, b"hi");
    /// # Ok::<(), responses_ws_core::http::HttpError>(())
    /// ```
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<BodyPart>, HttpError> {
        self.decode_at_most(input, usize::MAX)
    }

    /// Like [`decode`](Self::decode), with data pieces of at most `max` bytes (`max` > 0).
    pub(crate) fn decode_at_most(
        &mut self,
        input: &mut BytesMut,
        max: usize,
    ) -> Result<Option<BodyPart>, HttpError> {
        loop {
            match self.state {
                State::Size => {
                    let Some((len, size)) = self.size_line(input)? else {
                        return Ok(None);
                    };
                    input.advance(len);
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(remaining) => {
                    if input.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(remaining)
                        .map_or(input.len(), |r| r.min(input.len()))
                        .min(max);
                    let data = input.split_to(take).freeze();
                    // `take` is at most `remaining`, so this never wraps.
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(BodyPart::Data(data)));
                }
                State::DataEnd => {
                    if !b"\r\n".starts_with(&input[..input.len().min(2)]) {
                        return Err(HttpError::InvalidChunk("chunk data not followed by CRLF"));
                    }
                    if input.len() < 2 {
                        return Ok(None);
                    }
                    input.advance(2);
                    self.state = State::Size;
                }
                State::Trailers => {
                    let Some(len) = self.trailers(input)? else {
                        return Ok(None);
                    };
                    input.advance(len);
                    self.state = State::Done;
                    return Ok(Some(BodyPart::End));
                }
                State::Done => return Ok(None),
            }
        }
    }

    /// The length and value of a complete chunk-size line at the front of `input`.
    fn size_line(&self, input: &[u8]) -> Result<Option<(usize, u64)>, HttpError> {
        let too_long = HttpError::ChunkLineTooLong {
            limit: self.max_line,
        };
        // Only the bytes the line may take are looked at, so that the verdict does not
        // depend on how the input was cut.
        let window = &input[..input.len().min(self.max_line)];
        match httparse::parse_chunk_size(window) {
            Ok(httparse::Status::Complete(line)) => Ok(Some(line)),
            Ok(httparse::Status::Partial) if input.len() > self.max_line => Err(too_long),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::InvalidChunkSize) => Err(HttpError::InvalidChunk("invalid chunk size")),
        }
    }

    /// The length of a complete trailer section at the front of `input` (its fields are
    /// read and dropped).
    fn trailers(&self, input: &[u8]) -> Result<Option<usize>, HttpError> {
        let too_large = HttpError::TrailersTooLarge {
            limit: self.max_trailers,
        };
        let mut slots = alloc::vec![httparse::EMPTY_HEADER; self.max_trailer_fields];
        let window = &input[..input.len().min(self.max_trailers)];
        match httparse::parse_headers(window, &mut slots) {
            Ok(httparse::Status::Complete((len, _))) => Ok(Some(len)),
            Ok(httparse::Status::Partial) if input.len() > self.max_trailers => Err(too_large),
            Ok(httparse::Status::Partial) => Ok(None),
            Err(httparse::Error::TooManyHeaders) => Err(too_large),
            Err(_) => Err(HttpError::InvalidChunk("malformed trailers")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Decodes `input` whole; the data and what was left over.
    fn decode_all(input: &[u8], limits: &Limits) -> Result<(Vec<u8>, bool, Vec<u8>), HttpError> {
        let mut decoder = ChunkedDecoder::new(limits);
        let mut buf = BytesMut::from(input);
        let mut data = Vec::new();
        while let Some(part) = decoder.decode(&mut buf)? {
            if let BodyPart::Data(bytes) = part {
                data.extend_from_slice(&bytes);
            }
        }
        Ok((data, decoder.is_done(), buf.to_vec()))
    }

    #[test]
    fn reads_extensions_and_trailers() {
        let body = b"4;name=value\r\nWiki\r\n5\r\npedia\r\nE\r\n in\r\n\r\nchunks.\r\n0\r\nExpires: never\r\n\r\nrest";
        let (data, done, rest) = decode_all(body, &Limits::default()).unwrap();
        assert_eq!(
            (&data[..], done, &rest[..]),
            (&b"Wikipedia in\r\n\r\nchunks."[..], true, &b"rest"[..])
        );
    }

    #[test]
    fn broken_framing_is_a_typed_error() {
        let limits = Limits::default();
        let cases: [(&[u8], HttpError); 5] = [
            (b"zz\r\n", HttpError::InvalidChunk("invalid chunk size")),
            (
                b"3\r\nabcX",
                HttpError::InvalidChunk("chunk data not followed by CRLF"),
            ),
            (
                b"3\r\nabc\rX",
                HttpError::InvalidChunk("chunk data not followed by CRLF"),
            ),
            (
                b"0\r\nBad Trailer\r\n\r\n",
                HttpError::InvalidChunk("malformed trailers"),
            ),
            (
                b"10000000000000000\r\n",
                HttpError::InvalidChunk("invalid chunk size"),
            ),
        ];
        for (input, error) in cases {
            assert_eq!(decode_all(input, &limits).unwrap_err(), error, "{input:?}");
        }
    }

    #[test]
    fn lines_and_trailers_are_bounded() {
        let limits = Limits {
            max_chunk_line: 8,
            max_trailers: 16,
            ..Limits::default()
        };
        let long_line = b"1;aaaaaaaaaaa";
        assert_eq!(
            decode_all(long_line, &limits).unwrap_err(),
            HttpError::ChunkLineTooLong { limit: 8 }
        );
        let mut trailers = b"0\r\n".to_vec();
        trailers.extend(vec![b'x'; 17]);
        assert_eq!(
            decode_all(&trailers, &limits).unwrap_err(),
            HttpError::TrailersTooLarge { limit: 16 }
        );
    }
}
