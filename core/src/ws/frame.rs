//! Frame headers (RFC 6455 §5.2): the opcode set, parsing a header from the front of a buffer and
//! writing one. The header rules that need no connection state — reserved opcodes, RSV2/RSV3,
//! control-frame size, fragmentation and RSV1, the 64-bit length's top bit — are enforced here.
//! Whether RSV1 (permessage-deflate's "compressed" bit) is allowed on a data frame depends on the
//! handshake, so the reader decides.
//!
//! Payloads are not touched: they stay in the caller's buffer.

use super::error::ProtocolError;

/// A frame's opcode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continues a fragmented message.
    Continuation,
    /// 0x1: the first frame of a text message.
    Text,
    /// 0x2: the first frame of a binary message.
    Binary,
    /// 0x8: close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// The opcode for a 4-bit value, or `None` for the reserved values.
    pub const fn from_bits(bits: u8) -> Option<OpCode> {
        Some(match bits {
            0x0 => OpCode::Continuation,
            0x1 => OpCode::Text,
            0x2 => OpCode::Binary,
            0x8 => OpCode::Close,
            0x9 => OpCode::Ping,
            0xA => OpCode::Pong,
            _ => return None,
        })
    }

    /// The 4-bit wire value.
    pub const fn bits(self) -> u8 {
        match self {
            OpCode::Continuation => 0x0,
            OpCode::Text => 0x1,
            OpCode::Binary => 0x2,
            OpCode::Close => 0x8,
            OpCode::Ping => 0x9,
            OpCode::Pong => 0xA,
        }
    }

    /// Close, ping and pong are control frames.
    pub const fn is_control(self) -> bool {
        matches!(self, OpCode::Close | OpCode::Ping | OpCode::Pong)
    }
}

/// The largest payload a control frame may carry.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// The longest possible header: 2 fixed bytes, an 8-byte length and a 4-byte masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// A parsed frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Whether this is the final frame of its message.
    pub fin: bool,
    /// RSV1: with permessage-deflate, the message this frame starts is compressed.
    pub rsv1: bool,
    /// The frame's opcode.
    pub opcode: OpCode,
    /// The masking key, present on frames a client sends.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Parses a header from the front of `buf`.
    ///
    /// Returns `Ok(None)` when `buf` does not yet hold the whole header, otherwise the header and
    /// its length in bytes. RSV2 and RSV3 are errors (no extension uses them), and so is RSV1 on a
    /// control frame.
    ///
    /// ```
    /// use responses_ws_core::ws::{FrameHeader, OpCode};
    ///
    /// let (header, len) = FrameHeader::parse(&[0x81, 0x05, b'h']).unwrap().unwrap();
    /// assert_eq!((header.opcode, header.fin, header.payload_len, len), (OpCode::Text, true, 5, 2));
    /// assert!(FrameHeader::parse(&[0xC1, 0x05]).unwrap().unwrap().0.rsv1);
    /// assert_eq!(FrameHeader::parse(&[0x81]).unwrap(), None);
    /// ```
    pub fn parse(buf: &[u8]) -> Result<Option<(FrameHeader, usize)>, ProtocolError> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        if b0 & 0x30 != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        let rsv1 = b0 & 0x40 != 0;
        let opcode =
            OpCode::from_bits(b0 & 0x0F).ok_or(ProtocolError::ReservedOpcode(b0 & 0x0F))?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let (payload_len, len_bytes) = match b1 & 0x7F {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 2),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => {
                    let mut be = [0u8; 8];
                    be.copy_from_slice(b);
                    let len = u64::from_be_bytes(be);
                    if len >> 63 != 0 {
                        return Err(ProtocolError::InvalidLength);
                    }
                    (len, 8)
                }
                None => return Ok(None),
            },
            short => (u64::from(short), 0),
        };
        if opcode.is_control() {
            if rsv1 {
                return Err(ProtocolError::ReservedBits);
            }
            if !fin {
                return Err(ProtocolError::FragmentedControlFrame);
            }
            if payload_len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(ProtocolError::ControlFrameTooLong);
            }
        }
        let mut header_len = 2 + len_bytes;
        let mask = if masked {
            let Some(key) = buf.get(header_len..header_len + 4) else {
                return Ok(None);
            };
            header_len += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        Ok(Some((
            FrameHeader {
                fin,
                rsv1,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// Writes the header into `dst` and returns how many bytes it took (at most
    /// [`MAX_HEADER_LEN`]). The length uses the shortest encoding, as RFC 6455 requires.
    ///
    /// ```
    /// use responses_ws_core::ws::{FrameHeader, OpCode};
    ///
    /// let header = FrameHeader { fin: true, rsv1: false, opcode: OpCode::Binary, mask: None, payload_len: 300 };
    /// let mut buf = [0u8; 14];
    /// let len = header.write(&mut buf);
    /// assert_eq!(&buf[..len], &[0x82, 126, 0x01, 0x2C]);
    /// ```
    pub fn write(&self, dst: &mut [u8; MAX_HEADER_LEN]) -> usize {
        dst[0] = (u8::from(self.fin) << 7) | (u8::from(self.rsv1) << 6) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut len = 2;
        match self.payload_len {
            n @ 0..=125 => dst[1] = mask_bit | n as u8,
            n @ 126..=0xFFFF => {
                dst[1] = mask_bit | 126;
                dst[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                len = 4;
            }
            n => {
                dst[1] = mask_bit | 127;
                dst[2..10].copy_from_slice(&n.to_be_bytes());
                len = 10;
            }
        }
        if let Some(key) = self.mask {
            dst[len..len + 4].copy_from_slice(&key);
            len += 4;
        }
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn refuses_reserved_bits_and_opcodes() {
        assert_eq!(
            FrameHeader::parse(&[0xA1, 0x00]),
            Err(ProtocolError::ReservedBits)
        );
        assert_eq!(
            FrameHeader::parse(&[0xC9, 0x00]),
            Err(ProtocolError::ReservedBits)
        );
        assert_eq!(
            FrameHeader::parse(&[0x93, 0x00]),
            Err(ProtocolError::ReservedBits)
        );
        assert_eq!(
            FrameHeader::parse(&[0x83, 0x00]),
            Err(ProtocolError::ReservedOpcode(3))
        );
        assert_eq!(
            FrameHeader::parse(&[0x8B, 0x00]),
            Err(ProtocolError::ReservedOpcode(0xB))
        );
    }

    #[test]
    fn refuses_bad_control_frames() {
        assert_eq!(
            FrameHeader::parse(&[0x09, 0x00]),
            Err(ProtocolError::FragmentedControlFrame)
        );
        assert_eq!(
            FrameHeader::parse(&[0x89, 126, 0, 126]),
            Err(ProtocolError::ControlFrameTooLong)
        );
        assert!(FrameHeader::parse(&[0x89, 125]).unwrap().is_some());
    }

    #[test]
    fn refuses_a_length_with_the_top_bit_set() {
        let buf = [0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(FrameHeader::parse(&buf), Err(ProtocolError::InvalidLength));
    }

    #[test]
    fn waits_for_every_header_byte() {
        let header = FrameHeader {
            fin: false,
            rsv1: true,
            opcode: OpCode::Text,
            mask: Some([1, 2, 3, 4]),
            payload_len: 70_000,
        };
        let mut buf = [0u8; MAX_HEADER_LEN];
        let len = header.write(&mut buf);
        assert_eq!(len, 14);
        for cut in 0..len {
            assert_eq!(FrameHeader::parse(&buf[..cut]), Ok(None), "cut at {cut}");
        }
        assert_eq!(FrameHeader::parse(&buf[..len]), Ok(Some((header, len))));
    }

    proptest! {
        #[test]
        fn write_then_parse_round_trips(fin: bool, rsv1: bool, op in 0usize..3, mask: Option<[u8; 4]>, payload_len in prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x10000u64..(1 << 63)]) {
            let opcode = [OpCode::Continuation, OpCode::Text, OpCode::Binary][op];
            let header = FrameHeader { fin, rsv1, opcode, mask, payload_len };
            let mut buf = [0u8; MAX_HEADER_LEN];
            let len = header.write(&mut buf);
            prop_assert_eq!(FrameHeader::parse(&buf[..len]), Ok(Some((header, len))));
        }
    }
}
