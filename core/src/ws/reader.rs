//! The inbound path: the read buffer, and turning its bytes into frames and frames into messages.
//!
//! Payloads are unmasked and (for text) validated as they arrive, even when a frame is only
//! partly received, so invalid UTF-8 is refused at the first bad byte. A message that arrives in
//! one frame is handed out as a slice of the read buffer; fragmented messages are assembled once.
//! Control frames may arrive between the fragments of a message. Frame and message size limits
//! are checked on the header, before any payload is buffered.

use super::close::CloseFrame;
use super::error::ProtocolError;
use super::frame::{FrameHeader, OpCode};
use super::mask::{apply_mask, rotate_key};
use super::message::{Message, MessageKind};
use super::utf8::{Utf8Bytes, Utf8Validator};
use super::Role;
use bytes::{Buf, Bytes, BytesMut};

/// The smallest free space offered for a read.
const MIN_READ: usize = 16 << 10;

/// What one complete frame means to the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Inbound {
    Message(Message),
    Ping(Bytes),
    Pong(Bytes),
    /// A close frame; `None` when it carried no status code.
    Close(Option<CloseFrame>),
}

/// A frame whose header is parsed and whose payload is arriving.
#[derive(Debug, Clone, Copy)]
struct PartialFrame {
    header: FrameHeader,
    /// Payload bytes already unmasked and validated; they sit at the front of the buffer.
    processed: usize,
    /// Whether the payload is text to validate.
    text: bool,
}

/// Turns received bytes into [`Inbound`] items.
#[derive(Debug)]
pub(crate) struct FrameReader {
    /// Received bytes in `buf[..filled]`; `buf[filled..]` is initialized free space.
    buf: BytesMut,
    filled: usize,
    /// Invariant: `current` is the frame at the front of `buf`, its header already consumed.
    current: Option<PartialFrame>,
    /// The fragmented message in progress: its kind and the payload so far.
    assembly: Option<(MessageKind, BytesMut)>,
    /// Validates the text message in progress (one frame or many).
    text: Utf8Validator,
    /// Frames from this role are expected (the peer's role).
    peer: Role,
    max_frame: usize,
    max_message: usize,
}

impl FrameReader {
    pub(crate) fn new(peer: Role, max_frame: usize, max_message: usize) -> Self {
        FrameReader {
            buf: BytesMut::new(),
            filled: 0,
            current: None,
            assembly: None,
            text: Utf8Validator::default(),
            peer,
            max_frame,
            max_message,
        }
    }

    /// Free space to read into: at least `MIN_READ` bytes, or the rest of the frame in progress.
    pub(crate) fn spare(&mut self) -> &mut [u8] {
        let want = self.current.map_or(0, |f| {
            (f.header.payload_len as usize).saturating_sub(self.filled)
        });
        let want = want.clamp(MIN_READ, self.max_frame.max(MIN_READ));
        if self.buf.len() - self.filled < want {
            self.buf.truncate(self.filled);
            self.buf.reserve(want);
            let capacity = self.buf.capacity();
            self.buf.resize(capacity, 0);
        }
        &mut self.buf[self.filled..]
    }

    /// Marks `n` bytes of the space from [`spare`](Self::spare) as received.
    pub(crate) fn commit(&mut self, n: usize) {
        assert!(
            self.filled + n <= self.buf.len(),
            "committed more bytes than the spare space holds"
        );
        self.filled += n;
    }

    /// Copies received bytes in.
    pub(crate) fn extend(&mut self, data: &[u8]) {
        self.buf.truncate(self.filled);
        self.buf.extend_from_slice(data);
        self.filled += data.len();
    }

    /// The received bytes not yet consumed (read by the handshake).
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buf[..self.filled]
    }

    /// Drops `n` bytes from the front (the handshake head).
    pub(crate) fn consume(&mut self, n: usize) {
        self.buf.advance(n);
        self.filled -= n;
    }

    /// The next complete item, `Ok(None)` when more bytes are needed.
    pub(crate) fn next(&mut self) -> Result<Option<Inbound>, ProtocolError> {
        loop {
            let Some(mut frame) = self.current else {
                let Some((header, header_len)) = FrameHeader::parse(self.buffered())? else {
                    return Ok(None);
                };
                let text = self.check_header(&header)?;
                self.consume(header_len);
                self.current = Some(PartialFrame {
                    header,
                    processed: 0,
                    text,
                });
                continue;
            };
            let len = frame.header.payload_len as usize;
            let available = self.filled.min(len);
            if available > frame.processed {
                let fresh = &mut self.buf[frame.processed..available];
                if let Some(key) = frame.header.mask {
                    apply_mask(fresh, rotate_key(key, frame.processed));
                }
                if frame.text {
                    self.text
                        .feed(fresh)
                        .map_err(|_| ProtocolError::InvalidUtf8)?;
                }
                frame.processed = available;
                self.current = Some(frame);
            }
            if available < len {
                return Ok(None);
            }
            self.current = None;
            let payload = self.buf.split_to(len).freeze();
            self.filled -= len;
            if let Some(item) = self.complete(frame.header, payload)? {
                return Ok(Some(item));
            }
        }
    }

    /// Checks a header against the connection's state; returns whether its payload is text.
    fn check_header(&self, header: &FrameHeader) -> Result<bool, ProtocolError> {
        match (self.peer, header.mask.is_some()) {
            (Role::Client, false) => return Err(ProtocolError::UnmaskedFrame),
            (Role::Server, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if header.payload_len > self.max_frame as u64 {
            return Err(ProtocolError::FrameTooLarge {
                len: header.payload_len,
                limit: self.max_frame,
            });
        }
        let so_far = match (header.opcode, &self.assembly) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            (OpCode::Continuation, Some((_, data))) => data.len() as u64,
            _ => 0,
        };
        if !header.opcode.is_control() && so_far + header.payload_len > self.max_message as u64 {
            return Err(ProtocolError::MessageTooLarge {
                len: so_far + header.payload_len,
                limit: self.max_message,
            });
        }
        Ok(match header.opcode {
            OpCode::Text => true,
            OpCode::Continuation => matches!(self.assembly, Some((MessageKind::Text, _))),
            _ => false,
        })
    }

    /// Interprets a complete frame; `None` when it was a non-final fragment.
    fn complete(
        &mut self,
        header: FrameHeader,
        payload: Bytes,
    ) -> Result<Option<Inbound>, ProtocolError> {
        let kind = match header.opcode {
            OpCode::Ping => return Ok(Some(Inbound::Ping(payload))),
            OpCode::Pong => return Ok(Some(Inbound::Pong(payload))),
            OpCode::Close => return Ok(Some(Inbound::Close(CloseFrame::parse(&payload)?))),
            OpCode::Text => MessageKind::Text,
            OpCode::Binary => MessageKind::Binary,
            OpCode::Continuation => {
                let Some((kind, data)) = &mut self.assembly else {
                    return Err(ProtocolError::UnexpectedContinuation);
                };
                data.extend_from_slice(&payload);
                if !header.fin {
                    return Ok(None);
                }
                let kind = *kind;
                let whole = self
                    .assembly
                    .take()
                    .map(|(_, data)| data.freeze())
                    .unwrap_or_default();
                return self.finish_message(kind, whole).map(Some);
            }
        };
        if header.fin {
            self.finish_message(kind, payload).map(Some)
        } else {
            self.assembly = Some((kind, BytesMut::from(&payload[..])));
            Ok(None)
        }
    }

    fn finish_message(
        &mut self,
        kind: MessageKind,
        payload: Bytes,
    ) -> Result<Inbound, ProtocolError> {
        Ok(Inbound::Message(match kind {
            MessageKind::Text => {
                self.text.finish().map_err(|_| ProtocolError::InvalidUtf8)?;
                Message::Text(Utf8Bytes::from_validated(payload))
            }
            MessageKind::Binary => Message::Binary(payload),
        }))
    }
}
