//! The inbound path: the read buffer, and turning its bytes into frames and frames into messages.
//!
//! Payloads are unmasked and (for text) validated as they arrive, even when a frame is only
//! partly received, so invalid UTF-8 is refused at the first bad byte. A message that arrives in
//! one frame is handed out as a slice of the read buffer; fragmented messages are assembled once.
//! Control frames may arrive between the fragments of a message. Frame and message size limits
//! are checked on the header, before any payload is buffered.
//!
//! A compressed message (permessage-deflate, RSV1 on its first frame) is inflated as its payload
//! arrives, even when a frame is only partly received: the compressed bytes are dropped from the
//! read buffer once inflated into the message being assembled, the message size limit applies to
//! the inflated bytes as they are produced (a deflate bomb stops at the limit with nothing more
//! buffered), and its text is validated as it inflates, so invalid UTF-8 is refused as soon as it
//! is decompressed. How the bytes are chopped into reads changes nothing (a property test).
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
    /// Payload bytes already inflated and dropped from the buffer (compressed frames only,
    /// whose `processed` stays 0): the buffer's front is payload byte `inflated`.
    inflated: usize,
    /// What the payload is.
    payload: Payload,
}

/// How a frame's payload is checked as it arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Payload {
    /// Text to validate.
    Text,
    /// Binary data or a control frame's payload: nothing to check.
    Opaque,
    /// Part of a compressed message: inflated as it arrives.
    Compressed,
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

    /// permessage-deflate was agreed: RSV1 marks compressed messages from now on, compressed
    /// by the peer with a `window_bits` window, each message alone if `no_context_takeover`.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflate_messages(&mut self, window_bits: u8, no_context_takeover: bool) {
        self.inflater = Some(Inflater::new(window_bits, no_context_takeover));
    }

    /// Gives the read buffer back when it holds no received byte; the next
    /// [`spare`](Self::spare) allocates a new one. A frame whose header is read and whose
    /// payload has not started (`current` with nothing buffered) needs no byte of it either.
    pub(crate) fn release_buffer(&mut self) {
        if self.filled == 0 {
            self.buf = BytesMut::new();
        }
    }

    /// Gives the inflater's state back when no compressed message is arriving, keeping only
    /// the window the peer's next message may refer to, packed with `spare`
    /// ([`Inflater::release`]).
    #[cfg(feature = "deflate")]
    pub(crate) fn release_inflater(&mut self, spare: Option<zlib_rs::Deflate>) {
        if let (Some(inflater), None) = (&mut self.inflater, &self.assembly) {
            inflater.release(spare);
        }
    }

    /// Whether the inflater's zlib-rs state is allocated.
    #[cfg(feature = "deflate")]
    pub(crate) fn inflater_allocated(&self) -> bool {
        self.inflater.as_ref().is_some_and(Inflater::is_allocated)
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
            (f.header.payload_len as usize - f.inflated).saturating_sub(self.filled)
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
                let payload = self.check_header(&header)?;
                self.consume(header_len);
                self.current = Some(PartialFrame {
                    header,
                    processed: 0,
                    inflated: 0,
                    payload,
                });
                continue;
            };
            #[cfg(feature = "deflate")]
            if frame.payload == Payload::Compressed {
                if let Some(item) = self.inflate_arrived(frame)? {
                    return Ok(Some(item));
                }
                if self.current.is_some() {
                    return Ok(None);
                }
                continue;
            }
            let len = frame.header.payload_len as usize;
            let available = self.filled.min(len);
            if available > frame.processed {
                let fresh = &mut self.buf[frame.processed..available];
                if let Some(key) = frame.header.mask {
                    apply_mask(fresh, rotate_key(key, frame.processed));
                }
                if frame.payload == Payload::Text {
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

    /// Checks a header against the connection's state; returns what its payload is.
    fn check_header(&self, header: &FrameHeader) -> Result<Payload, ProtocolError> {
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
        let text = match header.opcode {
            OpCode::Text => true,
            OpCode::Continuation => {
                matches!(&self.assembly, Some(a) if a.kind == MessageKind::Text)
            }
            _ => false,
        };
        Ok(match (compressed, text) {
            (true, _) => Payload::Compressed,
            (false, true) => Payload::Text,
            (false, false) => Payload::Opaque,
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

    /// Inflates the payload bytes of a compressed frame received so far onto the message being
    /// assembled and drops them from the buffer. Once the frame is complete: the message when it
    /// was the last, else `None` with the next frame to come.
    #[cfg(feature = "deflate")]
    fn inflate_arrived(
        &mut self,
        mut frame: PartialFrame,
    ) -> Result<Option<Inbound>, ProtocolError> {
        let Some(inflater) = &mut self.inflater else {
            return Err(ProtocolError::ReservedBits);
        };
        let header = frame.header;
        let mut assembly = self.assembly.take().unwrap_or_else(|| Assembly {
            kind: if header.opcode == OpCode::Text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            },
            data: BytesMut::new(),
            compressed: true,
        });
        let start = assembly.data.len();
        let len = header.payload_len as usize;
        let available = self.filled.min(len - frame.inflated);
        let fresh = &mut self.buf[..available];
        if let Some(key) = header.mask {
            apply_mask(fresh, rotate_key(key, frame.inflated));
        }
        let mut result = inflater.inflate(fresh, &mut assembly.data, self.max_message);
        frame.inflated += available;
        let complete = frame.inflated == len;
        if complete && header.fin && result.is_ok() {
            result = inflater.finish(&mut assembly.data, self.max_message);
        }
        // What did inflate is validated before an inflate error is reported, so that which
        // error a message gets does not depend on how its bytes were chopped.
        if assembly.kind == MessageKind::Text {
            self.text
                .feed(&assembly.data[start..])
                .map_err(|_| ProtocolError::InvalidUtf8)?;
        }
        result?;
        self.consume(available);
        self.current = (!complete).then_some(frame);
        if complete && header.fin {
            return self
                .finish_message(assembly.kind, assembly.data.freeze())
                .map(Some);
        }
        self.assembly = Some(assembly);
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
        read_with(FrameReader::new(peer, 300, 600), wire, pieces)
    }

    fn read_with(
        mut reader: FrameReader,
        wire: &[u8],
        pieces: &[usize],
    ) -> Vec<Result<Inbound, ProtocolError>> {
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

    /// A message a peer compresses: text or binary, its bytes, where to cut it into frames, and
    /// maybe a byte of its DEFLATE data to corrupt (offset, bits to flip).
    #[cfg(feature = "deflate")]
    type Compressed = (bool, Vec<u8>, Vec<usize>, Option<(usize, u8)>);

    /// A stream of compressed messages as a peer sends them: each message compressed by one
    /// compressor (RSV1 on its first frame), cut into frames at `cuts`, maybe corrupted at one
    /// byte, with a ping between some frames.
    #[cfg(feature = "deflate")]
    fn compressed_wire(messages: &[Compressed], mask: Option<[u8; 4]>, level: u8) -> Vec<u8> {
        use crate::ws::deflate::codec::Deflater;
        let mut deflater = Deflater::new(level, 15, false);
        let mut wire = Vec::new();
        for (text, message, cuts, corrupt) in messages {
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (message.len() + 1)).collect();
            bounds.push(message.len());
            bounds.sort_unstable();
            bounds.dedup();
            let mut start = 0;
            for (i, &end) in bounds.iter().enumerate() {
                let fin = i + 1 == bounds.len();
                let mut payload = deflater.compress(&message[start..end], fin).to_vec();
                if let Some((at, bits)) = corrupt {
                    if let Some(byte) = payload.get_mut(at % (end - start + 1)) {
                        *byte ^= bits;
                    }
                }
                let opcode = match (i, text) {
                    (0, true) => 1,
                    (0, false) => 2,
                    _ => 0,
                };
                let mut frame = frame_bytes(fin, opcode, mask, &payload);
                if i == 0 {
                    frame[0] |= 0x40;
                }
                wire.extend(frame);
                if end % 3 == 0 {
                    wire.extend(frame_bytes(true, 9, mask, b"p"));
                }
                start = end;
            }
        }
        wire
    }

    #[cfg(feature = "deflate")]
    fn inflating_reader(peer: Role) -> FrameReader {
        let mut reader = FrameReader::new(peer, 300, 600);
        reader.inflate_messages(15, false);
        reader
    }

    #[cfg(feature = "deflate")]
    fn compressed_messages() -> impl Strategy<Value = Vec<Compressed>> {
        let message = prop_oneof![
            4 => "[a-z\u{e9}\u{20ac}]{0,200}".prop_map(String::into_bytes),
            // Inflates past the 600-byte limit from a few compressed bytes.
            1 => (590usize..5000).prop_map(|n| alloc::vec![b'a'; n]),
            1 => proptest::collection::vec(any::<u8>(), 0..250),
        ];
        proptest::collection::vec(
            (
                any::<bool>(),
                message,
                proptest::collection::vec(any::<usize>(), 0..3),
                prop::option::weighted(0.15, (any::<usize>(), 1u8..)),
            ),
            1..6,
        )
    }

    #[cfg(feature = "deflate")]
    proptest! {
        /// Inflating as the bytes arrive gives what inflating whole frames gives, however the
        /// bytes are chopped: the same messages, and the same error at the same point for
        /// corrupted data, invalid UTF-8 and messages that inflate past the limit.
        #[test]
        fn compressed_frames_inflate_the_same_however_chopped(
            messages in compressed_messages(),
            client in any::<bool>(),
            key in any::<[u8; 4]>(),
            level in 0u8..=9,
            pieces in proptest::collection::vec(1usize..40, 1..4),
        ) {
            let peer = if client { Role::Client } else { Role::Server };
            let mask = (peer == Role::Client).then_some(key);
            let wire = compressed_wire(&messages, mask, level);
            let whole = read_with(inflating_reader(peer), &wire, &[usize::MAX]);
            prop_assert_eq!(&whole, &read_with(inflating_reader(peer), &wire, &pieces));
            prop_assert_eq!(&whole, &read_with(inflating_reader(peer), &wire, &[1]));
        }
    }

    #[cfg(feature = "deflate")]
    #[test]
    fn a_compressed_frame_is_not_buffered_until_it_completes() {
        use crate::ws::deflate::codec::Deflater;
        let text = "x".repeat(100) + &"é".repeat(50);
        let payload = Deflater::new(0, 15, false).compress(text.as_bytes(), true);
        let mut wire = frame_bytes(true, 1, None, &payload);
        wire[0] |= 0x40;
        let mut reader = inflating_reader(Role::Server);
        let (head, tail) = wire.split_at(wire.len() - 10);
        reader.extend(head);
        assert_eq!(reader.next(), Ok(None));
        // Everything received is inflated and dropped from the read buffer.
        assert!(reader.buffered().is_empty());
        assert!(reader.assembly.as_ref().is_some_and(|a| a.data.len() > 100));
        reader.extend(tail);
        assert_eq!(
            reader.next(),
            Ok(Some(Inbound::Message(Message::Text(text.as_str().into()))))
        );
        // Invalid UTF-8 is refused as soon as it inflates, before the frame ends.
        let payload = Deflater::new(0, 15, false).compress(b"ok \xff and more to come", true);
        let mut wire = frame_bytes(true, 1, None, &payload);
        wire[0] |= 0x40;
        let mut reader = inflating_reader(Role::Server);
        reader.extend(&wire[..wire.len() - 5]);
        assert_eq!(reader.next(), Err(ProtocolError::InvalidUtf8));
    }
}
