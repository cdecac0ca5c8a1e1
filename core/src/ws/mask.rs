//! Payload masking (RFC 6455 §5.3): XOR with a repeating 4-byte key, in place.
//!
//! Owns the masking transform and the choice of its fastest implementation for the CPU: AVX2
//! (detected at run time under `std`, or enabled at compile time) and SSE2 on x86_64, NEON on
//! aarch64, and 8 bytes at a time with safe code everywhere else and below 32 bytes.
//! [`apply_mask_scalar`] is the byte-by-byte reference every fast path is tested against.
//!
//! This is the only module of the crate with `unsafe` code: the SIMD loads and stores, and the
//! calls into functions compiled for a CPU feature after checking that the CPU has it.
//!
//! It never chooses keys (the caller brings its own randomness), never parses frames, never
//! remembers where a payload stopped (a caller resuming mid-payload rotates the key with
//! [`rotate_key`]), and never allocates.

/// XOR `buf` in place with the 4-byte masking `key`, as if `buf` began at payload offset 0.
///
/// Masking and unmasking are the same operation, so applying the same key twice restores the
/// bytes. To continue a payload that was cut at offset `n`, pass `rotate_key(key, n)`.
///
/// Uses the widest SIMD the CPU offers (see the [module docs](self)); the result is always that
/// of [`apply_mask_scalar`].
///
/// # Example
///
/// The example of RFC 6455 §5.7, a masked "Hello" from a client:
///
/// ```
/// use responses_ws_core::ws::mask::{apply_mask, rotate_key};
///
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut payload = *b"Hello";
/// apply_mask(&mut payload, key);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
///
/// // Unmasking in two pieces: the second piece starts at payload offset 3.
/// let (head, tail) = payload.split_at_mut(3);
/// apply_mask(head, key);
/// apply_mask(tail, rotate_key(key, 3));
/// assert_eq!(&payload, b"Hello");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    if buf.len() < WIDE_MIN_LEN {
        mask_words(buf, key);
    } else {
        mask_wide(buf, key);
    }
}

/// XOR `buf` in place with `key`, one byte at a time, as if `buf` began at payload offset 0.
///
/// The reference implementation that [`apply_mask`] is tested against; prefer [`apply_mask`].
///
/// ```
/// # use responses_ws_core::ws::mask::{apply_mask, apply_mask_scalar};
/// let key = [0x12, 0x34, 0x56, 0x78];
/// let mut slow = b"Hello, WebSocket".to_vec();
/// let mut fast = slow.clone();
/// apply_mask_scalar(&mut slow, key);
/// apply_mask(&mut fast, key);
/// assert_eq!(slow, fast);
/// apply_mask_scalar(&mut slow, key); // masking twice gives the payload back
/// assert_eq!(slow, b"Hello, WebSocket");
/// ```
#[inline]
pub fn apply_mask_scalar(buf: &mut [u8], key: [u8; 4]) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[i % 4];
    }
}

/// The key to mask with from payload offset `offset` on, given the frame's masking `key`.
///
/// Masking byte `i` of a payload uses `key[i % 4]`, so a buffer that starts at payload offset
/// `offset` must be masked with `key` rotated left by `offset % 4`.
///
/// ```
/// use responses_ws_core::ws::mask::rotate_key;
///
/// assert_eq!(rotate_key([1, 2, 3, 4], 0), [1, 2, 3, 4]);
/// assert_eq!(rotate_key([1, 2, 3, 4], 1), [2, 3, 4, 1]);
/// assert_eq!(rotate_key([1, 2, 3, 4], 7), [4, 1, 2, 3]);
/// ```
#[inline]
#[must_use]
pub const fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Little-endian: byte 0 is the low byte, so rotating the bytes left rotates the word right.
    let shift = (offset % 4) as u32 * 8;
    u32::from_le_bytes(key).rotate_right(shift).to_le_bytes()
}

/// Below this length [`mask_words`] is as fast as any SIMD path: skip the feature dispatch.
const WIDE_MIN_LEN: usize = 32;

/// Masks 8 bytes at a time with safe code.
///
/// The last 8 bytes are read before the loop writes anything and written back last, masked
/// with the key of their own offset: they cover the 0 to 7 bytes the loop leaves, and where
/// they overlap the loop's last word they write the same values. The SIMD paths use the same
/// idea at their own width, and this function for buffers shorter than one of their registers.
#[inline]
fn mask_words(buf: &mut [u8], key: [u8; 4]) {
    let len = buf.len();
    if len < 16 {
        mask_short(buf, key);
        return;
    }
    let tail = read_u64(&buf[len - 8..]) ^ repeat_u64(rotate_key(key, len - 8));
    let word = repeat_u64(key);
    for chunk in buf.chunks_exact_mut(8) {
        let masked = read_u64(chunk) ^ word;
        chunk.copy_from_slice(&masked.to_ne_bytes());
    }
    buf[len - 8..].copy_from_slice(&tail.to_ne_bytes());
}

/// Masks fewer than 16 bytes: two overlapping words of 8 (or of 4) bytes, each read before
/// either is written, and one byte at a time below 4 bytes.
#[inline]
fn mask_short(buf: &mut [u8], key: [u8; 4]) {
    let len = buf.len();
    debug_assert!(len < 16);
    if len >= 8 {
        let head = read_u64(buf) ^ repeat_u64(key);
        let tail = read_u64(&buf[len - 8..]) ^ repeat_u64(rotate_key(key, len - 8));
        buf[len - 8..].copy_from_slice(&tail.to_ne_bytes());
        buf[..8].copy_from_slice(&head.to_ne_bytes());
    } else if len >= 4 {
        let head = read_u32(buf) ^ u32::from_ne_bytes(key);
        let tail = read_u32(&buf[len - 4..]) ^ u32::from_ne_bytes(rotate_key(key, len - 4));
        buf[len - 4..].copy_from_slice(&tail.to_ne_bytes());
        buf[..4].copy_from_slice(&head.to_ne_bytes());
    } else {
        apply_mask_scalar(buf, key);
    }
}

/// The key twice, as one native-endian word whose bytes in memory order are the key's.
#[inline]
fn repeat_u64(key: [u8; 4]) -> u64 {
    let [a, b, c, d] = key;
    u64::from_ne_bytes([a, b, c, d, a, b, c, d])
}

/// The first 8 bytes of `bytes` (which must have at least 8).
#[inline]
fn read_u64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_ne_bytes(word)
}

/// The first 4 bytes of `bytes` (which must have at least 4).
#[inline]
fn read_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_ne_bytes(word)
}

// --- Dispatch: exactly one `mask_wide` is compiled for a given target and feature set. -------

/// AVX2 is enabled at compile time (`-C target-cpu=...` or `-C target-feature=+avx2`).
#[cfg(all(target_arch = "x86_64", target_feature = "avx2"))]
#[inline]
fn mask_wide(buf: &mut [u8], key: [u8; 4]) {
    // SAFETY: this function is only compiled when AVX2 is enabled for the whole target, so
    // every CPU this binary may run on has it.
    unsafe { x86::mask_avx2(buf, key) }
}

/// AVX2 detected at run time, SSE2 (or 8 bytes at a time) otherwise.
///
/// `is_x86_feature_detected!` reads a cache that std fills on first use: one relaxed atomic
/// load and a bit test per call, which measured no slower than a cache of our own.
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2"), feature = "std"))]
#[inline]
fn mask_wide(buf: &mut [u8], key: [u8; 4]) {
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU was just checked to support AVX2.
        unsafe { x86::mask_avx2(buf, key) }
    } else {
        mask_narrow(buf, key);
    }
}

/// `no_std`, AVX2 not enabled at compile time: SSE2 if the target has it.
#[cfg(all(
    target_arch = "x86_64",
    not(target_feature = "avx2"),
    not(feature = "std")
))]
#[inline]
fn mask_wide(buf: &mut [u8], key: [u8; 4]) {
    mask_narrow(buf, key);
}

/// SSE2 is in the baseline of every x86_64 target with an OS; some bare-metal targets
/// (`x86_64-unknown-none`) turn it off, and there the 8-byte path is used.
#[cfg(all(target_arch = "x86_64", not(target_feature = "avx2")))]
#[inline]
fn mask_narrow(buf: &mut [u8], key: [u8; 4]) {
    #[cfg(target_feature = "sse2")]
    x86::mask_sse2(buf, key);
    #[cfg(not(target_feature = "sse2"))]
    mask_words(buf, key);
}

/// NEON is part of every aarch64 target with an OS, so it is chosen at compile time.
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
#[inline]
fn mask_wide(buf: &mut [u8], key: [u8; 4]) {
    neon::mask_neon(buf, key);
}

/// Any other target: 8 bytes at a time.
#[cfg(not(any(
    target_arch = "x86_64",
    all(target_arch = "aarch64", target_feature = "neon")
)))]
#[inline]
fn mask_wide(buf: &mut [u8], key: [u8; 4]) {
    mask_words(buf, key);
}

/// The body every SIMD path shares, for buffers of at least one register, in three parts: the
/// first register's worth of bytes (unaligned), an aligned body in a loop of two registers,
/// and the last register's worth (unaligned). Head and tail are loaded before the loop stores
/// anything and stored after it, masked with the key of their own offset, so where the parts
/// overlap they store the same bytes. The overlapping head and tail replace byte loops at both
/// ends, and aligning the body took a misaligned 16 KiB buffer from about 40 to about 85 GiB/s
/// with AVX2 (a payload behind a 2 to 14 byte frame header is misaligned; unaligned 32-byte
/// accesses split cache lines every other time).
///
/// `$vector` is the register type of `$width` bytes; `$load`, `$store` and `$xor` are its
/// unaligned load (from `*const $vector`), unaligned store (to `*mut $vector`) and XOR. The
/// function it expands in must have the instruction set enabled (for the target, or by
/// `#[target_feature]` after the caller checked the CPU).
macro_rules! mask_simd {
    ($buf:ident, $key:ident, $width:literal, $vector:ty, $load:ident, $store:ident, $xor:ident) => {{
        const WIDTH: usize = $width;
        let len = $buf.len();
        if len < WIDTH {
            super::mask_words($buf, $key);
            return;
        }
        // Where the body starts: the first register boundary, or WIDTH if none is reachable.
        let body_start = $buf.as_ptr().align_offset(WIDTH).min(WIDTH);
        let tail_start = len - WIDTH;
        let patterns = [
            [$key; WIDTH / 4],
            [super::rotate_key($key, tail_start); WIDTH / 4],
            [super::rotate_key($key, body_start); WIDTH / 4],
        ];
        // SAFETY: each pattern is WIDTH initialised bytes, and `buf[..WIDTH]` and
        // `buf[tail_start..]` are WIDTH readable bytes since `len >= WIDTH`; the loads accept
        // any alignment; the instruction set is enabled (see the macro's contract).
        let (head, tail, mask) = unsafe {
            let head_mask = $load(patterns[0].as_ptr().cast::<$vector>());
            let tail_mask = $load(patterns[1].as_ptr().cast::<$vector>());
            let mask = $load(patterns[2].as_ptr().cast::<$vector>());
            let head = $load($buf[..WIDTH].as_ptr().cast::<$vector>());
            let tail = $load($buf[tail_start..].as_ptr().cast::<$vector>());
            ($xor(head, head_mask), $xor(tail, tail_mask), mask)
        };

        let mut blocks = $buf[body_start..].chunks_exact_mut(2 * WIDTH);
        for block in &mut blocks {
            let p = block.as_mut_ptr();
            // SAFETY: `block` is exactly two registers' worth of bytes we may read and write,
            // so `p` and `p.add(WIDTH)` point to one register each; loads and stores accept
            // any alignment; the instruction set is enabled.
            unsafe {
                let v0 = $xor($load(p.cast::<$vector>()), mask);
                let v1 = $xor($load(p.add(WIDTH).cast::<$vector>()), mask);
                $store(p.cast::<$vector>(), v0);
                $store(p.add(WIDTH).cast::<$vector>(), v1);
            }
        }
        if let Some(chunk) = blocks.into_remainder().get_mut(..WIDTH) {
            let p = chunk.as_mut_ptr().cast::<$vector>();
            // SAFETY: `chunk` is exactly one register's worth of bytes we may read and write;
            // loads and stores accept any alignment; the instruction set is enabled.
            unsafe { $store(p, $xor($load(p), mask)) };
        }

        // Where head, body and tail overlap, they hold the same bytes, each masked once from
        // the original data, since head and tail were loaded before the loop wrote anything.
        // SAFETY: the same two ranges as the loads above, which we may write; stores accept
        // any alignment; the instruction set is enabled.
        unsafe {
            $store($buf[tail_start..].as_mut_ptr().cast::<$vector>(), tail);
            $store($buf[..WIDTH].as_mut_ptr().cast::<$vector>(), head);
        }
    }};
}

/// The x86_64 paths.
#[cfg(target_arch = "x86_64")]
mod x86 {
    /// AVX2: 64 bytes per iteration.
    ///
    /// # Safety
    ///
    /// The CPU must support AVX2.
    #[cfg(any(feature = "std", target_feature = "avx2", test))]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn mask_avx2(buf: &mut [u8], key: [u8; 4]) {
        use core::arch::x86_64::{
            __m256i, _mm256_loadu_si256, _mm256_storeu_si256, _mm256_xor_si256,
        };
        mask_simd!(
            buf,
            key,
            32,
            __m256i,
            _mm256_loadu_si256,
            _mm256_storeu_si256,
            _mm256_xor_si256
        )
    }

    /// SSE2: 32 bytes per iteration. Safe to call: only compiled when SSE2 is enabled for the
    /// whole target (it is in every x86_64 target with an OS).
    #[cfg(all(target_feature = "sse2", any(test, not(target_feature = "avx2"))))]
    pub(super) fn mask_sse2(buf: &mut [u8], key: [u8; 4]) {
        use core::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_storeu_si128, _mm_xor_si128};
        mask_simd!(
            buf,
            key,
            16,
            __m128i,
            _mm_loadu_si128,
            _mm_storeu_si128,
            _mm_xor_si128
        )
    }
}

/// The aarch64 path. `vld1q_u8`/`vst1q_u8` have no alignment requirement beyond a byte's.
#[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
mod neon {
    use core::arch::aarch64::{veorq_u8, vld1q_u8, vst1q_u8};

    /// NEON: 32 bytes per iteration. Safe to call: only compiled when NEON is enabled for the
    /// whole target.
    pub(super) fn mask_neon(buf: &mut [u8], key: [u8; 4]) {
        mask_simd!(buf, key, 16, u8, vld1q_u8, vst1q_u8, veorq_u8)
    }
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    type MaskFn = fn(&mut [u8], [u8; 4]);

    /// Every implementation this CPU can run, by name, including the ones `apply_mask` would
    /// not pick here, so that each is checked against the reference.
    fn implementations() -> Vec<(&'static str, MaskFn)> {
        let mut all: Vec<(&'static str, MaskFn)> = Vec::new();
        all.push(("apply_mask", apply_mask));
        all.push(("words", mask_words));
        all.push(("wide", mask_wide));
        #[cfg(target_arch = "x86_64")]
        {
            #[cfg(target_feature = "sse2")]
            all.push(("sse2", x86::mask_sse2));
            if std::is_x86_feature_detected!("avx2") {
                fn avx2(buf: &mut [u8], key: [u8; 4]) {
                    // SAFETY: only listed after checking that the CPU supports AVX2.
                    unsafe { x86::mask_avx2(buf, key) }
                }
                all.push(("avx2", avx2));
            }
        }
        #[cfg(all(target_arch = "aarch64", target_feature = "neon"))]
        all.push(("neon", neon::mask_neon));
        all
    }

    /// Deterministic filler, so that failures reproduce without a seed.
    fn pattern_bytes(len: usize, salt: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(salt) ^ (i >> 8) as u8)
            .collect()
    }

    /// Masks `buf[offset..offset + len]` of a copy of `whole` with `f`, and checks that the
    /// bytes around it are untouched and the slice equals the reference.
    fn check_against_scalar(
        name: &str,
        f: MaskFn,
        whole: &[u8],
        offset: usize,
        len: usize,
        key: [u8; 4],
    ) {
        let mut expected = whole.to_vec();
        apply_mask_scalar(&mut expected[offset..offset + len], key);
        let mut actual = whole.to_vec();
        f(&mut actual[offset..offset + len], key);
        assert!(
            actual == expected,
            "{name} differs from scalar: len {len}, offset {offset}, key {key:02x?}"
        );
    }

    #[test]
    fn rfc6455_hello_example() {
        let key = [0x37, 0xfa, 0x21, 0x3d];
        for (name, f) in implementations() {
            let mut payload = *b"Hello";
            f(&mut payload, key);
            assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58], "{name}");
            f(&mut payload, key);
            assert_eq!(&payload, b"Hello", "{name}");
        }
        let mut payload = *b"Hello";
        apply_mask_scalar(&mut payload, key);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn zero_key_is_identity_and_empty_buffer_is_fine() {
        for (name, f) in implementations() {
            let original = pattern_bytes(300, 7);
            let mut buf = original.clone();
            f(&mut buf, [0; 4]);
            assert_eq!(buf, original, "{name}");
            f(&mut [], [1, 2, 3, 4]);
        }
    }

    #[test]
    fn known_vector_across_every_width() {
        // 0x00 bytes masked give the key repeated, whatever path handles which byte.
        let key = [0xde, 0xad, 0xbe, 0xef];
        for (name, f) in implementations() {
            for len in [
                1, 7, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 1000,
            ] {
                let mut buf = alloc::vec![0u8; len];
                f(&mut buf, key);
                let expected: Vec<u8> = key.iter().copied().cycle().take(len).collect();
                assert_eq!(buf, expected, "{name}, len {len}");
            }
        }
    }

    #[test]
    fn rotate_key_continues_a_split_payload() {
        let key = [0x11, 0x22, 0x33, 0x44];
        let original = pattern_bytes(200, 3);
        let mut whole = original.clone();
        apply_mask(&mut whole, key);
        for cut in 0..=original.len() {
            let mut pieces = original.clone();
            let (head, tail) = pieces.split_at_mut(cut);
            apply_mask(head, key);
            apply_mask(tail, rotate_key(key, cut));
            assert_eq!(pieces, whole, "cut at {cut}");
        }
        assert_eq!(rotate_key(key, 4), key);
        assert_eq!(rotate_key(key, 2), [0x33, 0x44, 0x11, 0x22]);
        assert_eq!(rotate_key(key, usize::MAX), [0x44, 0x11, 0x22, 0x33]);
    }

    /// Deterministic and exhaustive over short lengths and every alignment within 32 bytes.
    #[test]
    fn every_implementation_matches_scalar_exhaustively() {
        let implementations = implementations();
        let keys = [[0x37, 0xfa, 0x21, 0x3d], [0xff, 0x00, 0x80, 0x01]];
        let whole = pattern_bytes(32 + 300 + 32, 0x5a);
        for len in 0..=300 {
            for offset in 0..32 {
                for key in keys {
                    for &(name, f) in &implementations {
                        check_against_scalar(name, f, &whole, offset, len, key);
                    }
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

        #[test]
        fn fast_paths_match_scalar(
            data in proptest::collection::vec(any::<u8>(), 0..=1100),
            offset in 0usize..64,
            key in any::<[u8; 4]>(),
        ) {
            // The slice sits at `offset` inside a larger buffer, with guard bytes after it.
            let mut whole = pattern_bytes(offset, 0xa5);
            whole.extend_from_slice(&data);
            whole.extend_from_slice(&[0xa5; 64]);
            for (name, f) in implementations() {
                check_against_scalar(name, f, &whole, offset, data.len(), key);
            }
        }

        #[test]
        fn applying_twice_is_identity(
            data in proptest::collection::vec(any::<u8>(), 0..=1100),
            offset in 0usize..64,
            key in any::<[u8; 4]>(),
        ) {
            let mut whole = pattern_bytes(offset, 0x3c);
            whole.extend_from_slice(&data);
            let mut buf = whole.clone();
            apply_mask(&mut buf[offset..], key);
            // Some byte changes unless every key byte that is used is zero.
            if key.iter().take(data.len()).any(|&k| k != 0) {
                prop_assert_ne!(&buf[offset..], &data[..]);
            }
            apply_mask(&mut buf[offset..], key);
            prop_assert_eq!(buf, whole);
        }
    }
}
