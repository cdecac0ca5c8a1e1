//! The inbound path: the read buffer, and turning its bytes into frames and frames into messages.
//!
//! Payloads are unmasked and (for text) validated as they arrive, even when a frame is only
//! partly received, so invalid UTF-8 is refused at the first bad byte. A message that arrives in
//! one frame is handed out as a slice of the read buffer; fragmented messages are assembled once.
//! Control frames may arrive between the fragments of a message. Frame and message size limits
//! are checked on the header, before any payload is buffered.
//!
//! A compressed message (permessage-deflate, RSV1 on its first frame) is inflated frame by frame
//! as each frame completes, into the message being assembled, with the message size limit
//! applied to the inflated bytes; its text is validated after inflation.
//!
//! Most frames of this protocol are small, unfragmented text frames that arrive whole in one
//! read; [`FrameReader::next`] takes those in one step (`whole_message`): header, unmasking,
//! validation and hand-out without the per-frame state of the step-by-step path. It accepts
//! exactly the frames that the step-by-step path would turn into one message and leaves every
//! other case (control frames, fragments, frames still arriving, anything to refuse) to it; a
//! property test checks that both give the same items.

use super::close::CloseFrame;
#[cfg(feature = "deflate")]
use super::deflate::codec::Inflater;
use super::error::ProtocolError;
use super::frame::{FrameHeader, OpCode};
use super::mask::{apply_mask, rotate_key};
use super::message::{Message, MessageKind};
use super::utf8::{self, Utf8Bytes, Utf8Validator};
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

/// A fragmented (or compressed) message being assembled.
#[derive(Debug)]
struct Assembly {
    kind: MessageKind,
    /// The payload so far; inflated when `compressed`.
    data: BytesMut,
    compressed: bool,
}

/// Turns received bytes into [`Inbound`] items.
#[derive(Debug)]
pub(crate) struct FrameReader {
    /// Received bytes in `buf[..filled]`; `buf[filled..]` is initialized free space.
    buf: BytesMut,
    filled: usize,
    /// Invariant: `current` is the frame at the front of `buf`, its header already consumed.
    current: Option<PartialFrame>,
    /// The fragmented message in progress.
    assembly: Option<Assembly>,
    /// Decompresses messages once permessage-deflate is agreed.
    #[cfg(feature = "deflate")]
    inflater: Option<Inflater>,
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
            #[cfg(feature = "deflate")]
            inflater: None,
            text: Utf8Validator::default(),
            peer,
            max_frame,
            max_message,
        }
    }

    /// permessage-deflate was agreed: RSV1 marks compressed messages from now on.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflate_messages(&mut self) {
        self.inflater = Some(Inflater::new());
    }

    /// Gives the read buffer back when it holds no received byte; the next
    /// [`spare`](Self::spare) allocates a new one. A frame whose header is read and whose
    /// payload has not started (`current` with nothing buffered) needs no byte of it either.
    pub(crate) fn release_buffer(&mut self) {
        if self.filled == 0 {
            self.buf = BytesMut::new();
        }
    }

    /// Gives the inflater's window back when no compressed message is arriving. The caller
    /// knows the peer compresses every message alone (RFC 7692 `*_no_context_takeover`).
    #[cfg(feature = "deflate")]
    pub(crate) fn release_inflater(&mut self) {
        if let (Some(inflater), None) = (&mut self.inflater, &self.assembly) {
            inflater.release();
        }
    }

    /// Whether compressed messages are allowed.
    fn inflates(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.inflater.is_some();
        #[cfg(not(feature = "deflate"))]
        false
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
                if let Some(message) = self.whole_message() {
                    return message.map(Some);
                }
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

    /// The fast path: an unfragmented data frame with a 7- or 16-bit length, masked as the peer's
    /// role requires, within the limits and wholly buffered, while no fragmented message is in
    /// progress. `None` (nothing consumed) for every other case, which the step-by-step path
    /// handles; for the frames it takes, the result is the step-by-step path's.
    #[inline]
    fn whole_message(&mut self) -> Option<Result<Inbound, ProtocolError>> {
        if self.assembly.is_some() {
            return None;
        }
        let &[b0, b1, ref rest @ ..] = &self.buf[..self.filled] else {
            return None;
        };
        // FIN set, RSV bits clear, opcode text or binary.
        let text = match b0 {
            0x81 => true,
            0x82 => false,
            _ => return None,
        };
        let masked = b1 & 0x80 != 0;
        if masked != (self.peer == Role::Client) {
            return None;
        }
        let (len, mut header_len) = match b1 & 0x7F {
            127 => return None,
            126 => match rest {
                &[hi, lo, ..] => (usize::from(u16::from_be_bytes([hi, lo])), 4),
                _ => return None,
            },
            short => (usize::from(short), 2),
        };
        let key = if masked {
            let key = self.buf.get(header_len..header_len + 4)?;
            let key = [key[0], key[1], key[2], key[3]];
            header_len += 4;
            Some(key)
        } else {
            None
        };
        if len > self.max_frame || len > self.max_message || header_len + len > self.filled {
            return None;
        }
        let payload = &mut self.buf[header_len..header_len + len];
        if let Some(key) = key {
            apply_mask(payload, key);
        }
        if text && !utf8::is_valid(payload) {
            return Some(Err(ProtocolError::InvalidUtf8));
        }
        // Dropping the header from the frozen frame is cheaper than from the read buffer.
        let mut payload = self.buf.split_to(header_len + len).freeze();
        payload.advance(header_len);
        self.filled -= header_len + len;
        Some(Ok(Inbound::Message(if text {
            Message::Text(Utf8Bytes::from_validated(payload))
        } else {
            Message::Binary(payload)
        })))
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
        let (so_far, compressed) = match (header.opcode, &self.assembly) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::ExpectedContinuation)
            }
            // RSV1 belongs on a message's first frame only (RFC 7692 §6.1).
            (OpCode::Continuation, Some(_)) if header.rsv1 => {
                return Err(ProtocolError::ReservedBits)
            }
            (OpCode::Continuation, Some(a)) => (a.data.len() as u64, a.compressed),
            (_, None) if header.rsv1 && !self.inflates() => {
                return Err(ProtocolError::ReservedBits)
            }
            _ => (0, header.rsv1),
        };
        // A compressed message is measured as it inflates.
        if !header.opcode.is_control()
            && !compressed
            && so_far + header.payload_len > self.max_message as u64
        {
            return Err(ProtocolError::MessageTooLarge {
                len: so_far + header.payload_len,
                limit: self.max_message,
            });
        }
        Ok(!compressed
            && match header.opcode {
                OpCode::Text => true,
                OpCode::Continuation => {
                    matches!(&self.assembly, Some(a) if a.kind == MessageKind::Text)
                }
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
            OpCode::Continuation => match &self.assembly {
                Some(a) => a.kind,
                None => return Err(ProtocolError::UnexpectedContinuation),
            },
        };
        #[cfg(feature = "deflate")]
        if header.rsv1 || self.assembly.as_ref().is_some_and(|a| a.compressed) {
            return self.inflate_frame(kind, header.fin, &payload);
        }
        let whole = match self.assembly.take() {
            None if header.fin => payload,
            None => {
                self.assembly = Some(Assembly {
                    kind,
                    data: BytesMut::from(&payload[..]),
                    compressed: false,
                });
                return Ok(None);
            }
            Some(mut assembly) => {
                assembly.data.extend_from_slice(&payload);
                if !header.fin {
                    self.assembly = Some(assembly);
                    return Ok(None);
                }
                assembly.data.freeze()
            }
        };
        self.finish_message(kind, whole).map(Some)
    }

    /// Inflates a frame of a compressed message onto the message so far; the whole message
    /// once `fin`.
    #[cfg(feature = "deflate")]
    fn inflate_frame(
        &mut self,
        kind: MessageKind,
        fin: bool,
        payload: &[u8],
    ) -> Result<Option<Inbound>, ProtocolError> {
        let Some(inflater) = &mut self.inflater else {
            return Err(ProtocolError::ReservedBits);
        };
        let mut data = self.assembly.take().map(|a| a.data).unwrap_or_default();
        let start = data.len();
        inflater.inflate(payload, &mut data, self.max_message)?;
        if fin {
            inflater.finish(&mut data, self.max_message)?;
        }
        if kind == MessageKind::Text {
            self.text
                .feed(&data[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        if fin {
            return self.finish_message(kind, data.freeze()).map(Some);
        }
        self.assembly = Some(Assembly {
            kind,
            data,
            compressed: true,
        });
        Ok(None)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ws::frame::MAX_HEADER_LEN;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    /// One frame on the wire: FIN, opcode bits, masking key, payload.
    fn frame_bytes(fin: bool, opcode: u8, mask: Option<[u8; 4]>, payload: &[u8]) -> Vec<u8> {
        let header = FrameHeader {
            fin,
            rsv1: false,
            opcode: OpCode::from_bits(opcode).unwrap_or(OpCode::Binary),
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let len = header.write(&mut head);
        // Reserved opcodes go on the wire as they are, to be refused.
        head[0] = (head[0] & 0xF0) | opcode;
        let mut bytes = head[..len].to_vec();
        let mut body = payload.to_vec();
        if let Some(key) = mask {
            apply_mask(&mut body, key);
        }
        bytes.extend_from_slice(&body);
        bytes
    }

    /// Everything `reader` yields from `wire` given in pieces of the given sizes, up to and
    /// including the first error.
    fn read_all(peer: Role, wire: &[u8], pieces: &[usize]) -> Vec<Result<Inbound, ProtocolError>> {
        let mut reader = FrameReader::new(peer, 300, 600);
        let mut items = Vec::new();
        let mut rest = wire;
        let mut sizes = pieces.iter().copied().cycle();
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(usize::MAX).clamp(1, rest.len());
            reader.extend(&rest[..n]);
            rest = &rest[n..];
            loop {
                match reader.next() {
                    Ok(Some(item)) => items.push(Ok(item)),
                    Ok(None) => break,
                    Err(error) => {
                        items.push(Err(error));
                        return items;
                    }
                }
            }
        }
        items
    }

    fn payload() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            4 => "[a-z\u{e9}\u{20ac}]{0,100}".prop_map(String::into_bytes),
            1 => proptest::collection::vec(any::<u8>(), 0..20),
            1 => "[a-z]{120,330}".prop_map(String::into_bytes),
        ]
    }

    fn frames() -> impl Strategy<Value = Vec<(bool, u8, bool, Vec<u8>)>> {
        let opcode = prop_oneof![6 => 1u8..=2, 2 => Just(0u8), 2 => 8u8..=10, 1 => 0u8..=15];
        proptest::collection::vec(
            (
                prop::bool::weighted(0.8),
                opcode,
                prop::bool::weighted(0.95),
                payload(),
            ),
            0..12,
        )
    }

    proptest! {
        /// Whole frames in one read (the fast path) give what the step-by-step path gives for
        /// the same bytes arriving in small pieces.
        #[test]
        fn whole_frames_read_as_they_do_step_by_step(
            frames in frames(),
            client in any::<bool>(),
            key in any::<[u8; 4]>(),
            pieces in proptest::collection::vec(1usize..8, 1..4),
        ) {
            let peer = if client { Role::Client } else { Role::Server };
            let mut wire = Vec::new();
            for (fin, opcode, by_the_rules, payload) in &frames {
                let masked = (peer == Role::Client) == *by_the_rules;
                wire.extend(frame_bytes(*fin, *opcode, masked.then_some(key), payload));
            }
            let whole = read_all(peer, &wire, &[usize::MAX]);
            prop_assert_eq!(&whole, &read_all(peer, &wire, &pieces));
            prop_assert_eq!(&whole, &read_all(peer, &wire, &[1]));
        }
    }

    #[test]
    fn the_buffer_is_given_back_only_when_it_holds_nothing() {
        let mut reader = FrameReader::new(Role::Server, 1 << 20, 1 << 20);
        let wire = frame_bytes(true, 1, None, "héllo".as_bytes());
        // Half a frame: its header is read, its first payload bytes are kept.
        reader.extend(&wire[..4]);
        assert_eq!(reader.next(), Ok(None));
        reader.release_buffer();
        assert_eq!(reader.buffered().len(), 2);
        let spare = reader.spare();
        spare[..wire.len() - 4].copy_from_slice(&wire[4..]);
        reader.commit(wire.len() - 4);
        assert_eq!(
            reader.next(),
            Ok(Some(Inbound::Message(Message::Text("héllo".into()))))
        );
        // Empty: the buffer goes, and the next read gets a new one.
        reader.release_buffer();
        assert_eq!(reader.buf.capacity(), 0);
        assert!(reader.spare().len() >= MIN_READ);
        reader.commit(0);
        assert_eq!(reader.next(), Ok(None));
    }

    #[test]
    fn a_whole_text_frame_is_one_step() {
        let mut reader = FrameReader::new(Role::Server, 1 << 20, 1 << 20);
        let wire = frame_bytes(true, 1, None, "héllo".as_bytes());
        reader.extend(&wire);
        assert_eq!(
            reader.next(),
            Ok(Some(Inbound::Message(Message::Text("héllo".into()))))
        );
        assert!(reader.current.is_none() && reader.buffered().is_empty());
        reader.extend(&frame_bytes(true, 1, None, b"\xff"));
        assert_eq!(reader.next(), Err(ProtocolError::InvalidUtf8));
    }
}
