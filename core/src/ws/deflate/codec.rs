//! The DEFLATE codec of permessage-deflate (RFC 7692 §7.2), on miniz_oxide: [`Deflater`]
//! compresses the messages we send, [`Inflater`] decompresses the ones we receive.
//!
//! A message is compressed with a sync flush and sent without the final `00 00 ff ff`; the
//! receiver appends those four bytes back before the last inflate call. With context takeover the
//! LZ77 window carries over from message to message on both sides.
//!
//! Blocks use the fixed Huffman codes of DEFLATE: the events of this protocol are short, and for a
//! short message the code tables of a dynamic block cost more bytes than they save, and more time
//! to build on both sides (measured in BENCHMARKS.md: a fifth fewer bytes and a third of the
//! compression time on an event stream than dynamic blocks).
//!
//! The codec's state is allocated when it is first used — the compressor at the first message
//! compressed, the inflater's window at the first compressed frame — and can be given back
//! between messages ([`Deflater::release`], [`Inflater::release`]): most of a connection's
//! memory once permessage-deflate is agreed (BENCHMARKS.md), and none of it is needed by a
//! connection that sends or receives nothing compressed.
//!
//! miniz_oxide's compressor always searches a 32 KiB window. When the peer limits our window
//! below 15 bits, the compressor only looks for runs of the previous byte (distance 1), which
//! fits any window, with dynamic Huffman codes (which then do most of the compression). The inflater always keeps a 32 KiB window, which
//! reads every valid stream whatever window the peer used.

use crate::ws::error::ProtocolError;
use alloc::boxed::Box;
use bytes::{Bytes, BytesMut};
use miniz_oxide::deflate::core::{
    create_comp_flags_from_zip_params, CompressionStrategy, CompressorOxide,
};
use miniz_oxide::inflate::stream::InflateState;
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

/// The empty stored block a sync flush ends with; stripped by the sender, restored by the receiver.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output space offered to one inflate call: four times the input, within these bounds.
const MIN_INFLATE_CHUNK: usize = 1 << 10;
const MAX_INFLATE_CHUNK: usize = 256 << 10;

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    /// miniz_oxide's compressor (about 300 KiB): built at the first message compressed, dropped
    /// by [`release`](Self::release).
    compressor: Option<Box<CompressorOxide>>,
    /// The compressor's parameters.
    flags: u32,
    /// Start every message with an empty window (our `*_no_context_takeover`).
    no_context_takeover: bool,
    /// A message is partly compressed: its last fragment is still to come.
    mid_message: bool,
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater")
            .field("allocated", &self.compressor.is_some())
            .field("no_context_takeover", &self.no_context_takeover)
            .field("mid_message", &self.mid_message)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor at `level` (0 to 10) whose back-references stay within `2^window_bits`;
    /// nothing is allocated until the first message.
    pub(crate) fn new(level: u8, window_bits: u8, no_context_takeover: bool) -> Deflater {
        let (level, strategy) = match (level, window_bits) {
            (_, 15) => (level, CompressionStrategy::Fixed),
            // miniz_oxide 0.9 takes its fast path at level 1 even when asked for runs only,
            // and that path searches the whole window: level 2 keeps the runs-only search.
            (0, _) => (0, CompressionStrategy::RLE),
            (level, _) => (level.max(2), CompressionStrategy::RLE),
        };
        // Negative window bits: a raw DEFLATE stream, no zlib header.
        let flags = create_comp_flags_from_zip_params(i32::from(level), -15, strategy as i32);
        Deflater {
            compressor: None,
            flags,
            no_context_takeover,
            mid_message: false,
        }
    }

    /// Drops the compressor between messages; the next message builds a new one. Always
    /// allowed by RFC 7692, whatever was agreed: every message ends on a flush at a byte
    /// boundary, and a message that starts with an empty window simply refers to nothing
    /// before it (the peer's window is unaffected). The cost is that message's compression
    /// (no context to refer to) and the allocation.
    pub(crate) fn release(&mut self) {
        if !self.mid_message {
            self.compressor = None;
        }
    }

    /// Whether the compressor is allocated.
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.compressor.is_some()
    }

    /// Compresses one frame's worth of a message; `fin` marks the message's last. The output of
    /// the last one has the trailer removed.
    pub(crate) fn compress(&mut self, input: &[u8], fin: bool) -> Bytes {
        let flags = self.flags;
        let compressor = self
            .compressor
            .get_or_insert_with(|| Box::new(CompressorOxide::new(flags)));
        self.mid_message = !fin;
        let flush = if fin && self.no_context_takeover {
            MZFlush::Full
        } else {
            MZFlush::Sync
        };
        let mut out = BytesMut::new();
        let mut rest = input;
        loop {
            let start = out.len();
            // Room for the worst case (stored blocks), so that one call normally does it all.
            let chunk = rest.len() + rest.len() / 1024 * 5 + 64;
            out.resize(start + chunk, 0);
            let result =
                miniz_oxide::deflate::stream::deflate(compressor, rest, &mut out[start..], flush);
            out.truncate(start + result.bytes_written);
            rest = &rest[result.bytes_consumed..];
            // A call that filled its space may have returned before the flush itself; the
            // flush is done once a call ends, with room to spare, on its empty stored block.
            let flushed = result.bytes_written < chunk && out.ends_with(&TRAILER);
            if result.status.is_err() || (rest.is_empty() && flushed) {
                debug_assert!(result.status.is_ok(), "{:?}", result.status);
                break;
            }
        }
        if fin && out.ends_with(&TRAILER) {
            out.truncate(out.len() - TRAILER.len());
        }
        out.freeze()
    }
}

/// Decompresses incoming messages.
pub(crate) struct Inflater {
    /// miniz_oxide's state with its 32 KiB window (about 43 KiB): built at the first compressed
    /// frame, dropped by [`release`](Self::release).
    state: Option<Box<InflateState>>,
    /// The message in progress ended its DEFLATE stream with a final block.
    ended: bool,
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.state.is_some())
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater; nothing is allocated until the first compressed frame.
    pub(crate) fn new() -> Inflater {
        Inflater {
            state: None,
            ended: false,
        }
    }

    /// Drops the window between messages; the next compressed frame builds a new one. The
    /// caller makes sure no message is in progress and the peer starts every message with an
    /// empty window (its `*_no_context_takeover`): otherwise its next message may refer to the
    /// bytes dropped here.
    pub(crate) fn release(&mut self) {
        self.state = None;
        self.ended = false;
    }

    /// Whether the window is allocated.
    #[cfg(test)]
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Decompresses one frame's payload onto `out`. `out` never grows past `limit + 1` bytes:
    /// a message that would is [`ProtocolError::MessageTooLarge`] with nothing more buffered.
    pub(crate) fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ProtocolError> {
        loop {
            let start = out.len();
            if start > limit {
                return Err(ProtocolError::MessageTooLarge {
                    len: start as u64,
                    limit,
                });
            }
            if self.ended {
                // After a final block only our own trailer may follow.
                return if input.is_empty() {
                    Ok(())
                } else {
                    Err(ProtocolError::InvalidCompressedData)
                };
            }
            let room = limit + 1 - start;
            let chunk = (input.len() * 4).clamp(MIN_INFLATE_CHUNK, MAX_INFLATE_CHUNK);
            out.resize(start + chunk.min(room), 0);
            let state = self
                .state
                .get_or_insert_with(|| InflateState::new_boxed(DataFormat::Raw));
            let result = miniz_oxide::inflate::stream::inflate(
                state,
                input,
                &mut out[start..],
                MZFlush::None,
            );
            out.truncate(start + result.bytes_written);
            input = &input[result.bytes_consumed..];
            match result.status {
                // Everything given is decompressed and nothing is pending.
                Err(MZError::Buf) => return Ok(()),
                Err(_) => return Err(ProtocolError::InvalidCompressedData),
                Ok(MZStatus::StreamEnd) => self.ended = true,
                Ok(_) if result.bytes_written == 0 && result.bytes_consumed == 0 => return Ok(()),
                Ok(_) => {}
            }
        }
    }

    /// Ends a message: inflates the trailer the sender removed. After a final block the next
    /// message starts a new DEFLATE stream, with an empty window.
    pub(crate) fn finish(&mut self, out: &mut BytesMut, limit: usize) -> Result<(), ProtocolError> {
        if !self.ended {
            self.inflate(&TRAILER, out, limit)?;
        }
        if self.ended {
            if let Some(state) = &mut self.state {
                state.reset(DataFormat::Raw);
            }
            self.ended = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    fn round_trip(deflater: &mut Deflater, inflater: &mut Inflater, message: &[u8]) -> Vec<u8> {
        let wire = deflater.compress(message, true);
        let mut out = BytesMut::new();
        inflater.inflate(&wire, &mut out, usize::MAX - 1).unwrap();
        inflater.finish(&mut out, usize::MAX - 1).unwrap();
        out.to_vec()
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages() {
        let event = br#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}"#;
        let (mut d, mut i) = (Deflater::new(1, 15, false), Inflater::new());
        let first = d.compress(event, true).len();
        let second = d.compress(event, true).len();
        assert!(second * 4 < first, "{second} vs {first}");
        let (mut d, mut i2) = (Deflater::new(1, 15, true), Inflater::new());
        let a = d.compress(event, true);
        let b = d.compress(event, true);
        assert_eq!(
            a, b,
            "no context takeover: every message is compressed alone"
        );
        for _ in 0..3 {
            assert_eq!(
                round_trip(&mut Deflater::new(1, 15, false), &mut i, b""),
                b""
            );
        }
        let mut out = BytesMut::new();
        i2.inflate(&a, &mut out, 1000).unwrap();
        i2.finish(&mut out, 1000).unwrap();
        assert_eq!(&out[..], &event[..]);
    }

    #[test]
    fn the_codec_is_allocated_at_first_use_and_can_be_given_back_between_messages() {
        let event = br#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}"#;
        let (mut d, mut i) = (Deflater::new(1, 15, false), Inflater::new());
        assert!(!d.is_allocated() && !i.is_allocated());
        assert_eq!(round_trip(&mut d, &mut i, event), event);
        assert!(d.is_allocated() && i.is_allocated());
        let warm = d.compress(event, true);
        let mut out = BytesMut::new();
        i.inflate(&warm, &mut out, 1000).unwrap();
        i.finish(&mut out, 1000).unwrap();
        // A released compressor starts the next message with an empty window: longer, and
        // still read by the peer's inflater, whose window carries on.
        d.release();
        assert!(!d.is_allocated());
        let cold = d.compress(event, true);
        assert!(cold.len() > warm.len(), "{} vs {}", cold.len(), warm.len());
        assert_eq!(round_trip(&mut d, &mut i, b""), b"");
        let mut out = BytesMut::new();
        i.inflate(&cold, &mut out, 1000).unwrap();
        i.finish(&mut out, 1000).unwrap();
        assert_eq!(&out[..], &event[..]);
        // Not in the middle of a message.
        let first = d.compress(&event[..40], false);
        d.release();
        assert!(d.is_allocated());
        let last = d.compress(&event[40..], true);
        let mut out = BytesMut::new();
        i.inflate(&first, &mut out, 1000).unwrap();
        i.inflate(&last, &mut out, 1000).unwrap();
        i.finish(&mut out, 1000).unwrap();
        assert_eq!(&out[..], &event[..]);
        // A peer that compresses every message alone: the inflater's window can go too.
        let mut alone = Deflater::new(1, 15, true);
        for _ in 0..3 {
            i.release();
            assert!(!i.is_allocated());
            assert_eq!(round_trip(&mut alone, &mut i, event), event);
        }
    }

    #[test]
    fn incompressible_messages_of_any_length_survive() {
        let mut deflater = Deflater::new(1, 15, false);
        let mut inflater = Inflater::new();
        let mut x = 1u64;
        for len in (0..70_000).step_by(1009) {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            assert!(
                round_trip(&mut deflater, &mut inflater, &data) == data,
                "{len}"
            );
        }
    }

    #[test]
    fn a_limited_window_never_reaches_back_further() {
        // 3 000 random bytes three times: with the full window the repeats cost a few bytes,
        // with any smaller one they cannot be referenced at all.
        let mut x = 7u64;
        let block: Vec<u8> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        let data = block.repeat(3);
        for level in 0..=10 {
            let full = Deflater::new(level, 15, false).compress(&data, true).len();
            let limited = Deflater::new(level, 11, false).compress(&data, true).len();
            assert!(
                limited > 8000,
                "level {level}: {limited} bytes with an 11-bit window"
            );
            assert!(
                level == 0 || full < 4000,
                "level {level}: {full} bytes with the full window"
            );
        }
    }

    #[test]
    fn the_empty_message_is_one_zero_byte() {
        assert_eq!(
            &Deflater::new(1, 15, false).compress(b"", true)[..],
            &[0x00]
        );
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let mut d = Deflater::new(10, 15, false);
        let zeros = alloc::vec![0u8; 1 << 20];
        let wire = d.compress(&zeros, true);
        assert!(wire.len() < 8000, "{}", wire.len());
        let mut inflater = Inflater::new();
        let mut out = BytesMut::new();
        let error = inflater.inflate(&wire, &mut out, 4096).unwrap_err();
        assert_eq!(
            error,
            ProtocolError::MessageTooLarge {
                len: 4097,
                limit: 4096
            }
        );
        assert_eq!(out.len(), 4097);
    }

    #[test]
    fn garbage_is_invalid_compressed_data() {
        let mut out = BytesMut::new();
        // BTYPE 11 is reserved.
        assert_eq!(
            Inflater::new().inflate(&[0xff, 0xff], &mut out, 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }

    #[test]
    fn a_final_block_ends_the_stream_and_the_next_message_starts_anew() {
        // "a" as a fixed Huffman block with BFINAL set.
        let final_block = miniz_oxide::deflate::compress_to_vec(b"a", 1);
        let mut inflater = Inflater::new();
        let mut out = BytesMut::new();
        inflater.inflate(&final_block, &mut out, 100).unwrap();
        inflater.finish(&mut out, 100).unwrap();
        assert_eq!(&out[..], b"a");
        let mut d = Deflater::new(1, 15, false);
        assert_eq!(round_trip(&mut d, &mut inflater, b"bcd"), b"bcd");
        // Bytes after a final block break the message.
        let mut out = BytesMut::new();
        let mut broken = final_block.clone();
        broken.push(0x55);
        assert_eq!(
            Inflater::new().inflate(&broken, &mut out, 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }

    proptest! {
        // The codec is slow in debug builds; the connection's property test adds more cases.
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn messages_survive_compression(
            messages in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(b'a'), any::<u8>()], 0..2000), 1..5),
            level in 0u8..=10,
            bits in 8u8..=15,
            no_context_takeover: bool,
        ) {
            let mut deflater = Deflater::new(level, bits, no_context_takeover);
            let mut inflater = Inflater::new();
            for message in &messages {
                prop_assert_eq!(&round_trip(&mut deflater, &mut inflater, message), message);
            }
        }
    }
}
