//! The DEFLATE codec of permessage-deflate (RFC 7692 §7.2), on zlib-rs: [`Deflater`] compresses
//! the messages we send, [`Inflater`] decompresses the ones we receive.
//!
//! A message is compressed with a sync flush and sent without the final `00 00 ff ff`; the
//! receiver appends those four bytes back before the last inflate call. With context takeover the
//! LZ77 window carries over from message to message on both sides.
//!
//! Why zlib-rs (BENCHMARKS.md, "permessage-deflate on an event stream"): on this protocol's
//! small JSON events its level 1 (zlib-ng's "quick" strategy: fixed Huffman blocks, one hash
//! probe) compresses several times faster than miniz_oxide did, and its inflater decodes fixed
//! blocks from a table built once instead of for every message; it honours every window size.
//!
//! Window bits are real on both sides: the compressor never refers further back than the
//! agreed window, and the inflater keeps no more than it between messages. An 8-bit window
//! (256 bytes) cannot be asked of zlib's compressor; it gets a 9-bit one, whose matches still
//! reach back at most 250 bytes (zlib keeps the last 262 bytes of its window for look-ahead),
//! within 8 bits (the property test below reads every window size with an inflater of exactly
//! that size, released between messages).
//!
//! The codec's state is allocated when it is first used — the compressor at the first message
//! compressed, the inflater at the first compressed frame — and given back between messages
//! ([`Deflater::release`], [`Inflater::release`]). The inflater keeps, while the peer keeps its
//! context, only the last window's worth of decompressed bytes, its dictionary when it is built
//! again: 4 KiB for a 12-bit window instead of zlib-rs's whole state (about 40 KiB, its window
//! allocated at 32 KiB whatever the agreed size).

use crate::ws::error::ProtocolError;
use alloc::boxed::Box;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};
use zlib_rs::{Deflate, DeflateFlush, Inflate, InflateFlush, Status};

/// The empty stored block a sync flush ends with; stripped by the sender, restored by the receiver.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Output space offered to one inflate call: four times the input, within these bounds.
const MIN_INFLATE_CHUNK: usize = 1 << 10;
const MAX_INFLATE_CHUNK: usize = 256 << 10;

/// zlib's `memLevel` of the compressor: 5 sizes its symbol and output buffers for 2 048
/// symbols (14 KiB) instead of the default 16 384 (112 KiB). A block then ends every 2 048
/// symbols, which costs nothing with the fixed codes of level 1 and little above it on
/// messages of this protocol's size.
const MEM_LEVEL: i32 = 5;

/// Compresses outgoing messages.
pub(crate) struct Deflater {
    /// zlib-rs's compressor: built at the first message compressed, dropped by
    /// [`release`](Self::release).
    compressor: Option<Deflate>,
    /// The compressor's parameters.
    config: zlib_rs::DeflateConfig,
    /// Start every message with an empty window (our `*_no_context_takeover`).
    no_context_takeover: bool,
    /// A message is partly compressed: its last fragment is still to come.
    mid_message: bool,
}

impl core::fmt::Debug for Deflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Deflater")
            .field("allocated", &self.compressor.is_some())
            .field("config", &self.config)
            .field("no_context_takeover", &self.no_context_takeover)
            .field("mid_message", &self.mid_message)
            .finish_non_exhaustive()
    }
}

impl Deflater {
    /// A compressor at `level` (0 to 9; more is 9) whose back-references stay within
    /// `2^window_bits` (8 to 15); nothing is allocated until the first message.
    pub(crate) fn new(level: u8, window_bits: u8, no_context_takeover: bool) -> Deflater {
        let config = zlib_rs::DeflateConfig {
            level: i32::from(level.min(9)),
            // Negative: a raw DEFLATE stream, no zlib header. 8 bits: see the module docs.
            window_bits: -i32::from(window_bits.clamp(9, 15)),
            mem_level: MEM_LEVEL,
            ..zlib_rs::DeflateConfig::default()
        };
        Deflater {
            compressor: None,
            config,
            no_context_takeover,
            mid_message: false,
        }
    }

    /// Drops the compressor between messages; the next message builds a new one. Always
    /// allowed by RFC 7692, whatever was agreed: every message ends on a flush at a byte
    /// boundary, and a message that starts with an empty window simply refers to nothing
    /// before it (the peer's window is unaffected). The cost is that message's compression
    /// (no context to refer to) and the allocation.
    ///
    /// Returns the compressor it dropped, for one more use before it goes: the inflater packs
    /// its history with it ([`Inflater::release`]).
    pub(crate) fn release(&mut self) -> Option<Deflate> {
        if self.mid_message {
            return None;
        }
        self.compressor.take()
    }

    /// Whether the compressor is allocated.
    pub(crate) fn is_allocated(&self) -> bool {
        self.compressor.is_some()
    }

    /// Compresses one frame's worth of a message; `fin` marks the message's last. The output of
    /// the last one has the trailer removed.
    pub(crate) fn compress(&mut self, input: &[u8], fin: bool) -> Bytes {
        let config = self.config;
        let compressor = self
            .compressor
            .get_or_insert_with(|| Deflate::new_with_config(config));
        self.mid_message = !fin;
        // A full flush also forgets the window: the next message refers to nothing before it.
        let flush = if fin && self.no_context_takeover {
            DeflateFlush::FullFlush
        } else {
            DeflateFlush::SyncFlush
        };
        let mut out = BytesMut::new();
        deflate_onto(compressor, input, flush, &mut out);
        if fin && out.ends_with(&TRAILER) {
            out.truncate(out.len() - TRAILER.len());
        }
        if fin && out.is_empty() {
            // zlib writes nothing for a flush with no input after a flush: the message still
            // needs its empty stored block (RFC 7692 §7.2.3.6), whose header byte is all that
            // is left once the trailer is removed. The stream is at a byte boundary after the
            // previous flush, and an empty block changes no window.
            out.extend_from_slice(&[0x00]);
        }
        out.freeze()
    }
}

/// Compresses `input` onto `out`, ending with `flush`.
fn deflate_onto(compressor: &mut Deflate, input: &[u8], flush: DeflateFlush, out: &mut BytesMut) {
    let mut rest = input;
    loop {
        let start = out.len();
        // Room for the worst case (stored blocks), so that one call normally does it all.
        let chunk = rest.len() + rest.len() / 1024 * 5 + 64;
        out.resize(start + chunk, 0);
        let (read, written) = (compressor.total_in(), compressor.total_out());
        let status = compressor.compress(rest, &mut out[start..], flush);
        let written = (compressor.total_out() - written) as usize;
        out.truncate(start + written);
        rest = &rest[(compressor.total_in() - read) as usize..];
        // A call that returns with output space left has consumed all its input and
        // finished the flush.
        if status.is_err() || written < chunk {
            debug_assert!(status.is_ok() && rest.is_empty(), "{status:?}");
            break;
        }
    }
}

/// Decompresses incoming messages.
pub(crate) struct Inflater {
    /// zlib-rs's state: built at the first compressed frame, dropped by
    /// [`release`](Self::release).
    state: Option<Inflate>,
    /// The peer's window, in bits: a message referring further back is invalid.
    window_bits: u8,
    /// While the peer keeps its context: the last window of bytes decompressed, what a
    /// rebuilt state starts from.
    context: Option<Context>,
    /// The message in progress ended its DEFLATE stream with a final block.
    ended: bool,
}

impl core::fmt::Debug for Inflater {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Inflater")
            .field("allocated", &self.state.is_some())
            .field("window_bits", &self.window_bits)
            .field("context", &self.context)
            .field("ended", &self.ended)
            .finish_non_exhaustive()
    }
}

impl Inflater {
    /// An inflater for a peer compressing with a `window_bits` window (8 to 15) that starts
    /// every message with an empty one when `no_context_takeover`; nothing is allocated until
    /// the first compressed frame.
    pub(crate) fn new(window_bits: u8, no_context_takeover: bool) -> Inflater {
        Inflater {
            state: None,
            window_bits: window_bits.clamp(8, 15),
            context: (!no_context_takeover).then(|| Context::Packed(Box::default())),
            ended: false,
        }
    }

    /// The window's size in bytes.
    fn window(&self) -> usize {
        1 << self.window_bits
    }

    /// Drops zlib-rs's state between messages, keeping only what the peer's next message may
    /// refer to (nothing if it compresses every message alone), compressed with `spare` (the
    /// compressor the connection is releasing at the same moment; without one a small one is
    /// built for it); the next compressed frame builds a new state from it. The caller makes
    /// sure no message is in progress.
    pub(crate) fn release(&mut self, spare: Option<Deflate>) {
        self.state = None;
        if let Some(context) = &mut self.context {
            context.pack(spare, self.window_bits);
        }
    }

    /// Whether zlib-rs's state is allocated.
    pub(crate) fn is_allocated(&self) -> bool {
        self.state.is_some()
    }

    /// Bytes held between messages for the peer's context: the ring's capacity, or the
    /// packed bytes once released.
    #[cfg(test)]
    pub(crate) fn context_bytes(&self) -> usize {
        match &self.context {
            None => 0,
            Some(Context::Ring(ring)) => ring.bytes.capacity(),
            Some(Context::Packed(packed)) => packed.len(),
        }
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
            let space = (input.len() * 4)
                .clamp(MIN_INFLATE_CHUNK, MAX_INFLATE_CHUNK)
                .min(limit + 1 - start);
            out.resize(start + space, 0);
            let state = match &mut self.state {
                Some(state) => state,
                None => {
                    // Rebuilt after a release: its window is what the peer may refer to.
                    let (mut state, window) =
                        (Inflate::new(false, self.window_bits), self.window());
                    if let Some(context) = &mut self.context {
                        context.unpack(&mut state, window)?;
                    }
                    self.state.insert(state)
                }
            };
            let (read, written) = (state.total_in(), state.total_out());
            let status = state.decompress(input, &mut out[start..], InflateFlush::NoFlush);
            let written = (state.total_out() - written) as usize;
            input = &input[(state.total_in() - read) as usize..];
            out.truncate(start + written);
            let window = self.window();
            if let Some(Context::Ring(ring)) = &mut self.context {
                ring.push(&out[start..], window);
            }
            match status {
                // A data error, or (not met with the global allocator) no memory for the state.
                Err(_) => return Err(ProtocolError::InvalidCompressedData),
                Ok(Status::StreamEnd) => self.ended = true,
                // Output space left: every byte given is decompressed, nothing is pending.
                Ok(_) if written < space => return Ok(()),
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
            self.state = None;
            if let Some(Context::Ring(ring)) = &mut self.context {
                ring.clear();
            }
            self.ended = false;
        }
        Ok(())
    }
}

/// The level the history is packed at when released, once per idle period: 6. On a 4 KiB
/// window of the load workload's events it packs to 795 B (level 2: 847 B, level 1 with its
/// fixed codes: 1 089 B). Level 2 costs a third fewer instructions, but with it the load
/// benchmark's idle connections measured 18.4 KiB each instead of 14.7 (glibc placed the
/// packed bytes less well, in repeated runs): BENCHMARKS.md, "Deflate memory".
const PACK_LEVEL: i32 = 6;

/// What the inflater keeps of the peer's context, while the peer keeps it.
///
/// Invariant: `Ring` while zlib-rs's state is allocated (the state's window and the ring hold
/// the same last bytes), `Packed` once it was released, until the next compressed frame.
enum Context {
    /// The last window of bytes decompressed.
    Ring(History),
    /// The released history, oldest byte first, compressed as raw DEFLATE ending on a sync
    /// flush (a byte boundary): a new state that decompresses it holds the history as its
    /// window, at the point where the peer's next message starts. Empty: no history.
    Packed(Box<[u8]>),
}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Context::Ring(ring) => write!(f, "Ring({} B)", ring.bytes.len()),
            Context::Packed(packed) => write!(f, "Packed({} B)", packed.len()),
        }
    }
}

impl Context {
    /// Compresses the ring (with `spare` if given, reset for it, else a compressor built for a
    /// `window_bits` window) and frees it. Nothing to do once packed.
    fn pack(&mut self, spare: Option<Deflate>, window_bits: u8) {
        let Context::Ring(ring) = self else {
            return;
        };
        let history = ring.in_order();
        let mut packed = BytesMut::new();
        if !history.is_empty() {
            let mut compressor = match spare {
                Some(mut spare) => {
                    spare.reset();
                    // Before any input, a level change cannot fail.
                    let set = spare.set_level(PACK_LEVEL);
                    debug_assert!(set.is_ok(), "{set:?}");
                    spare
                }
                None => Deflate::new_with_config(zlib_rs::DeflateConfig {
                    level: PACK_LEVEL,
                    // The history is at most one window long, so is every distance in it.
                    window_bits: -i32::from(window_bits.clamp(9, 15)),
                    mem_level: MEM_LEVEL,
                    ..zlib_rs::DeflateConfig::default()
                }),
            };
            deflate_onto(
                &mut compressor,
                history,
                DeflateFlush::SyncFlush,
                &mut packed,
            );
        }
        *self = Context::Packed(Box::from(&packed[..]));
    }

    /// Gives a new `state` the packed history as its window and keeps it in a ring of
    /// `window` bytes again. Nothing to do while a ring is held.
    fn unpack(&mut self, state: &mut Inflate, window: usize) -> Result<(), ProtocolError> {
        let Context::Packed(packed) = self else {
            return Ok(());
        };
        let mut ring = History::default();
        if !packed.is_empty() {
            ring.bytes = alloc::vec![0; window];
            let status = state.decompress(packed, &mut ring.bytes, InflateFlush::NoFlush);
            ring.bytes.truncate(state.total_out() as usize);
            // Our own stream of at most one window: read whole, or the state is unusable.
            if status.is_err() || state.total_in() != packed.len() as u64 {
                return Err(ProtocolError::InvalidCompressedData);
            }
        }
        *self = Context::Ring(ring);
        Ok(())
    }
}

/// The last window of decompressed bytes, in a ring of one window allocated when the state is
/// built (after a release, filled with the unpacked history) and never moved or grown while it
/// lives.
///
/// Invariant: `bytes.len()` ≤ the window; once it is full, `oldest` is where the oldest byte
/// is (and the next one goes), else 0.
#[derive(Default)]
struct History {
    bytes: Vec<u8>,
    oldest: usize,
}

impl History {
    /// Keeps the last `window` bytes of what was held followed by `fresh`.
    fn push(&mut self, fresh: &[u8], window: usize) {
        let fresh = &fresh[fresh.len().saturating_sub(window)..];
        if fresh.is_empty() {
            return;
        }
        self.bytes.reserve_exact(window - self.bytes.len());
        let (fill, mut rest) = fresh.split_at(fresh.len().min(window - self.bytes.len()));
        self.bytes.extend_from_slice(fill);
        while !rest.is_empty() {
            let n = rest.len().min(window - self.oldest);
            self.bytes[self.oldest..self.oldest + n].copy_from_slice(&rest[..n]);
            self.oldest = (self.oldest + n) % window;
            rest = &rest[n..];
        }
    }

    /// The bytes held, oldest first (turned in place once per rebuild).
    fn in_order(&mut self) -> &[u8] {
        self.bytes.rotate_left(self.oldest);
        self.oldest = 0;
        &self.bytes
    }

    /// Forgets the bytes (the peer started a new stream), keeping the allocation.
    fn clear(&mut self) {
        self.bytes.clear();
        self.oldest = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    const EVENT: &[u8] = br#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}"#;

    fn inflate_one(inflater: &mut Inflater, wire: &[u8]) -> Result<Vec<u8>, ProtocolError> {
        let mut out = BytesMut::new();
        inflater.inflate(wire, &mut out, usize::MAX - 1)?;
        inflater.finish(&mut out, usize::MAX - 1)?;
        Ok(out.to_vec())
    }

    fn round_trip(deflater: &mut Deflater, inflater: &mut Inflater, message: &[u8]) -> Vec<u8> {
        let wire = deflater.compress(message, true);
        inflate_one(inflater, &wire).unwrap()
    }

    /// `n` bytes that do not compress.
    fn noise(n: usize, mut x: u64) -> Vec<u8> {
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect()
    }

    #[test]
    fn context_takeover_shrinks_repeated_messages() {
        let (mut d, mut i) = (Deflater::new(1, 15, false), Inflater::new(15, false));
        let first = d.compress(EVENT, true).len();
        let second = d.compress(EVENT, true).len();
        assert!(second * 4 < first, "{second} vs {first}");
        let (mut d, mut i2) = (Deflater::new(1, 15, true), Inflater::new(15, true));
        let a = d.compress(EVENT, true);
        let b = d.compress(EVENT, true);
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
        assert_eq!(inflate_one(&mut i2, &a).unwrap(), EVENT);
        assert_eq!(inflate_one(&mut i2, &b).unwrap(), EVENT);
    }

    #[test]
    fn the_codec_is_allocated_at_first_use_and_can_be_given_back_between_messages() {
        let (mut d, mut i) = (Deflater::new(1, 15, false), Inflater::new(15, false));
        assert!(!d.is_allocated() && !i.is_allocated());
        assert_eq!(round_trip(&mut d, &mut i, EVENT), EVENT);
        assert!(d.is_allocated() && i.is_allocated());
        let warm = d.compress(EVENT, true);
        assert_eq!(inflate_one(&mut i, &warm).unwrap(), EVENT);
        // A released compressor starts the next message with an empty window: longer, and
        // still read by the peer's inflater, whose window carries on.
        d.release();
        assert!(!d.is_allocated());
        let cold = d.compress(EVENT, true);
        assert!(cold.len() > warm.len(), "{} vs {}", cold.len(), warm.len());
        assert_eq!(inflate_one(&mut i, &cold).unwrap(), EVENT);
        // Not in the middle of a message.
        let first = d.compress(&EVENT[..40], false);
        d.release();
        assert!(d.is_allocated());
        let last = d.compress(&EVENT[40..], true);
        let mut out = BytesMut::new();
        i.inflate(&first, &mut out, 1000).unwrap();
        i.inflate(&last, &mut out, 1000).unwrap();
        i.finish(&mut out, 1000).unwrap();
        assert_eq!(&out[..], EVENT);
        // A peer that compresses every message alone: the inflater keeps nothing.
        let (mut alone, mut i) = (Deflater::new(1, 15, true), Inflater::new(15, true));
        for _ in 0..3 {
            assert_eq!(round_trip(&mut alone, &mut i, EVENT), EVENT);
            i.release(None);
            assert!(!i.is_allocated());
            assert_eq!(i.context_bytes(), 0);
        }
    }

    #[test]
    fn a_released_inflater_keeps_the_window_the_peer_refers_to_and_no_more() {
        for bits in [8, 9, 12, 15] {
            let window = 1usize << bits;
            let (mut d, mut i) = (Deflater::new(1, bits, false), Inflater::new(bits, false));
            for round in 0..8u64 {
                // Noise, then the same again: the repeat compresses to a few bytes only by
                // referring to the message before it, kept in the released history.
                let message = noise(window / 4, round + 1);
                assert_eq!(round_trip(&mut d, &mut i, &message), message);
                // Packed with another connection's compressor (reset for it) or a new one.
                let mut other = Deflater::new(1, 15, false);
                other.compress(EVENT, true);
                i.release(other.release().filter(|_| round % 2 == 0));
                assert!(!i.is_allocated());
                // Noise hardly compresses: about the history of up to one window, and no more.
                let held = window.min(window / 4 * (round as usize + 1));
                let kept = i.context_bytes();
                assert!(
                    (held / 2..held + held / 32 + 32).contains(&kept),
                    "{bits} bits: {kept} B kept for {held} B"
                );
                let wire = d.compress(&message, true);
                assert!(
                    wire.len() < message.len() / 4,
                    "{bits} bits: {}",
                    wire.len()
                );
                assert_eq!(inflate_one(&mut i, &wire).unwrap(), message);
            }
        }
    }

    #[test]
    fn incompressible_messages_of_any_length_survive() {
        let mut deflater = Deflater::new(1, 15, false);
        let mut inflater = Inflater::new(15, false);
        for len in (0..70_000).step_by(1009) {
            let data = noise(len, len as u64 + 1);
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
        let data = noise(3000, 7).repeat(3);
        for level in 0..=9 {
            let full = Deflater::new(level, 15, false).compress(&data, true);
            let limited = Deflater::new(level, 11, false).compress(&data, true);
            assert!(
                limited.len() > 8000,
                "level {level}: {} bytes with an 11-bit window",
                limited.len()
            );
            assert!(inflate_one(&mut Inflater::new(11, false), &limited).unwrap() == data);
            assert!(
                level == 0 || full.len() < 4000,
                "level {level}: {} bytes with the full window",
                full.len()
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
    fn empty_messages_and_fragments_in_a_row_survive() {
        for no_context_takeover in [false, true] {
            let mut d = Deflater::new(1, 15, no_context_takeover);
            let mut i = Inflater::new(15, no_context_takeover);
            for message in [&b""[..], b"", EVENT, b"", b""] {
                assert_eq!(round_trip(&mut d, &mut i, message), message);
            }
            // Data, then an empty last fragment; an empty first fragment, then data.
            let mut out = BytesMut::new();
            for (fragment, fin) in [
                (EVENT, false),
                (&b""[..], true),
                (b"", false),
                (EVENT, true),
            ] {
                let wire = d.compress(fragment, fin);
                i.inflate(&wire, &mut out, 1000).unwrap();
                if fin {
                    i.finish(&mut out, 1000).unwrap();
                }
            }
            assert_eq!(&out[..], &[EVENT, EVENT].concat()[..]);
        }
    }

    #[test]
    fn a_bomb_stops_at_the_limit() {
        let mut d = Deflater::new(9, 15, false);
        let zeros = alloc::vec![0u8; 1 << 20];
        let wire = d.compress(&zeros, true);
        assert!(wire.len() < 8000, "{}", wire.len());
        let mut inflater = Inflater::new(15, false);
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
            Inflater::new(15, false).inflate(&[0xff, 0xff], &mut out, 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }

    #[test]
    fn a_final_block_ends_the_stream_and_the_next_message_starts_anew() {
        // "a" in a block with BFINAL set.
        let mut final_block = alloc::vec![0; 64];
        let mut whole = Deflate::new(1, false, 15);
        let status = whole.compress(b"a", &mut final_block, DeflateFlush::Finish);
        assert_eq!(status, Ok(Status::StreamEnd));
        final_block.truncate(whole.total_out() as usize);
        let mut inflater = Inflater::new(15, false);
        assert_eq!(inflate_one(&mut inflater, &final_block).unwrap(), b"a");
        let mut d = Deflater::new(1, 15, false);
        assert_eq!(round_trip(&mut d, &mut inflater, b"bcd"), b"bcd");
        // Bytes after a final block break the message.
        let mut out = BytesMut::new();
        let mut broken = final_block.clone();
        broken.push(0x55);
        assert_eq!(
            Inflater::new(15, false).inflate(&broken, &mut out, 100),
            Err(ProtocolError::InvalidCompressedData)
        );
    }

    proptest! {
        // The codec is slow in debug builds; the connection's property test adds more cases.
        #![proptest_config(ProptestConfig::with_cases(40))]
        #[test]
        fn messages_survive_compression_within_the_window(
            messages in proptest::collection::vec(proptest::collection::vec(prop_oneof![Just(b'a'), any::<u8>()], 0..2000), 1..5),
            level in 0u8..=9,
            bits in 8u8..=15,
            no_context_takeover: bool,
            release: bool,
            spare: bool,
        ) {
            // The inflater's window is exactly the agreed one: a reference past it would fail.
            // Released, it keeps its history packed (with the compressor released beside it,
            // as a connection does, or with one of its own) and unpacks it at the next message.
            let mut deflater = Deflater::new(level, bits, no_context_takeover);
            let mut inflater = Inflater::new(bits, no_context_takeover);
            let mut other = Deflater::new(level, 15, false);
            for message in &messages {
                prop_assert_eq!(&round_trip(&mut deflater, &mut inflater, message), message);
                if release {
                    other.compress(message, true);
                    inflater.release(other.release().filter(|_| spare));
                    deflater.release();
                }
            }
        }

        /// The ring holds the last window of everything pushed, oldest first, in one
        /// allocation of the window that never grows.
        #[test]
        fn the_history_is_the_last_window_of_what_was_pushed(
            pushes in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..40), 0..12),
            window in 1usize..32,
            peeks in proptest::collection::vec(any::<bool>(), 12),
        ) {
            let mut history = History::default();
            let mut all = Vec::new();
            for (push, peek) in pushes.iter().zip(peeks) {
                history.push(push, window);
                all.extend_from_slice(push);
                if peek {
                    prop_assert_eq!(history.in_order(), &all[all.len().saturating_sub(window)..]);
                }
                prop_assert!(history.bytes.capacity() == window || all.is_empty());
            }
            prop_assert_eq!(history.in_order(), &all[all.len().saturating_sub(window)..]);
            history.clear();
            prop_assert!(history.in_order().is_empty());
        }
    }
}
