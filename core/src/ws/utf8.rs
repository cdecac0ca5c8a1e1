//! UTF-8 for text messages: an incremental validator that accepts a payload in arbitrary pieces
//! (so invalid text is refused as soon as the offending byte arrives, not when the message ends),
//! and [`Utf8Bytes`], a `Bytes` buffer known to hold valid UTF-8.
//!
//! Validation is simdutf8's SIMD validator (AVX2 or SSE4.2 detected at run time under `std`, the
//! compile-time CPU features otherwise), which gives the same verdict and the same error position
//! as `core::str::from_utf8`; the tests check that on every input they generate. This module never
//! copies payload bytes: validation reads them where they lie.

use bytes::Bytes;
use core::fmt;
use core::ops::Deref;

/// Validates UTF-8 fed in pieces; a code point may be split across pieces.
#[derive(Debug, Clone, Default)]
pub(crate) struct Utf8Validator {
    /// Bytes of a code point begun in an earlier piece (never a complete code point).
    partial: [u8; 4],
    partial_len: u8,
}

/// The text is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct InvalidUtf8;

/// Why a piece of text is not (yet) valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// A byte no valid text can have at its position.
    Invalid,
    /// Valid up to this offset, then a code point that the piece cuts short.
    Incomplete(usize),
}

impl Stop {
    fn new(valid_up_to: usize, error_len: Option<usize>) -> Stop {
        match error_len {
            Some(_) => Stop::Invalid,
            None => Stop::Incomplete(valid_up_to),
        }
    }
}

/// Checks a piece of text with the SIMD validator.
///
/// The piece is split before a code point it may cut short (at most its last 3 bytes): the body
/// goes through simdutf8's `basic` validator, which only says yes or no and is the fastest, the
/// short tail through `core::str::from_utf8`, which tells an invalid sequence from an unfinished
/// one. The body ends just before a byte that is not a continuation byte (or at the end), so its
/// verdict does not depend on what follows.
#[inline]
fn check(piece: &[u8]) -> Result<(), Stop> {
    let split = unfinished_tail_start(piece);
    let (body, tail) = piece.split_at(split);
    if !is_valid(body) {
        return Err(Stop::Invalid);
    }
    match core::str::from_utf8(tail) {
        Ok(_) => Ok(()),
        Err(e) => Err(Stop::new(split + e.valid_up_to(), e.error_len())),
    }
}

/// Where the code point that `piece` may end in the middle of begins: the last lead byte among
/// the final 3 bytes when its code point needs more bytes than follow it, else `piece.len()`.
fn unfinished_tail_start(piece: &[u8]) -> usize {
    let len = piece.len();
    let is_continuation = |byte: u8| byte & 0xC0 == 0x80;
    (len.saturating_sub(3)..len)
        .rev()
        .find(|&i| !is_continuation(piece[i]))
        .filter(|&i| utf8_width(piece[i]) > len - i)
        .unwrap_or(len)
}

/// Whether `text` is valid UTF-8 as a whole (the verdict of `core::str::from_utf8`, faster).
#[inline]
pub(crate) fn is_valid(text: &[u8]) -> bool {
    simdutf8::basic::from_utf8(text).is_ok()
}

impl Utf8Validator {
    /// Accepts the next piece. Fails as soon as the bytes seen so far cannot begin valid UTF-8.
    pub(crate) fn feed(&mut self, mut piece: &[u8]) -> Result<(), InvalidUtf8> {
        if self.partial_len > 0 {
            piece = self.complete_partial(piece)?;
        }
        match check(piece) {
            Ok(()) => Ok(()),
            Err(Stop::Invalid) => Err(InvalidUtf8),
            Err(Stop::Incomplete(valid_up_to)) => {
                // The piece ends inside a code point whose prefix is valid so far.
                let tail = &piece[valid_up_to..];
                self.partial[..tail.len()].copy_from_slice(tail);
                self.partial_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Completes the code point begun earlier with bytes from `piece`; returns the rest of `piece`.
    fn complete_partial<'a>(&mut self, piece: &'a [u8]) -> Result<&'a [u8], InvalidUtf8> {
        let have = self.partial_len as usize;
        let need = utf8_width(self.partial[0]);
        let take = (need - have).min(piece.len());
        self.partial[have..have + take].copy_from_slice(&piece[..take]);
        let filled = have + take;
        match core::str::from_utf8(&self.partial[..filled]) {
            Ok(_) => {
                self.partial_len = 0;
                Ok(&piece[take..])
            }
            Err(e) if e.error_len().is_none() => {
                // Still incomplete: only possible when the piece ran out.
                self.partial_len = filled as u8;
                Ok(&piece[take..])
            }
            Err(_) => Err(InvalidUtf8),
        }
    }

    /// Ends the text: fails if it stops inside a code point. Resets the validator.
    pub(crate) fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.partial_len == 0;
        self.partial_len = 0;
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

/// Length of the code point that `lead` begins (1 for bytes that cannot lead one: they fail later).
fn utf8_width(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

/// An immutable, cheaply cloned byte buffer that holds valid UTF-8.
///
/// Text messages arrive as `Utf8Bytes`; when a message came in one frame within one read it is a
/// slice of the connection's read buffer, not a copy.
///
/// ```
/// use responses_ws_core::ws::Utf8Bytes;
///
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert!(Utf8Bytes::try_from(bytes::Bytes::from_static(b"\xff")).is_err());
/// ```
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps bytes the caller has already validated.
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        debug_assert!(core::str::from_utf8(&bytes).is_ok());
        Utf8Bytes(bytes)
    }

    /// A `Utf8Bytes` that points at static text.
    pub const fn from_static(text: &'static str) -> Self {
        Utf8Bytes(Bytes::from_static(text.as_bytes()))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor either validates the bytes or takes them from a `str`, and the
        // buffer is immutable, so the bytes are valid UTF-8.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives up the UTF-8 guarantee and returns the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<&str> for Utf8Bytes {
    fn from(text: &str) -> Self {
        Utf8Bytes(Bytes::copy_from_slice(text.as_bytes()))
    }
}

impl From<alloc::string::String> for Utf8Bytes {
    fn from(text: alloc::string::String) -> Self {
        Utf8Bytes(Bytes::from(text.into_bytes()))
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    type Error = core::str::Utf8Error;
    fn try_from(bytes: Bytes) -> Result<Self, Self::Error> {
        core::str::from_utf8(&bytes)?;
        Ok(Utf8Bytes(bytes))
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn feed_in_pieces(bytes: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::default();
        let mut start = 0;
        for &cut in cuts {
            let end = cut.clamp(start, bytes.len());
            v.feed(&bytes[start..end])?;
            start = end;
        }
        v.feed(&bytes[start..])?;
        v.finish()
    }

    #[test]
    fn accepts_code_points_split_at_every_byte() {
        let text = "aé€😀z".as_bytes();
        let cuts: alloc::vec::Vec<usize> = (0..=text.len()).collect();
        assert_eq!(feed_in_pieces(text, &cuts), Ok(()));
    }

    #[test]
    fn fails_fast_on_a_bad_continuation_byte() {
        let mut v = Utf8Validator::default();
        v.feed(b"ok \xce").unwrap();
        assert_eq!(v.feed(b"\x41"), Err(InvalidUtf8));
    }

    #[test]
    fn fails_fast_on_a_prefix_no_code_point_can_have() {
        // 0xF4 0x90 starts a code point above U+10FFFF: refused before the rest arrives.
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"\xf4\x90"), Err(InvalidUtf8));
        // A surrogate (ED A0 ..) is refused at its second byte too.
        let mut v = Utf8Validator::default();
        assert_eq!(v.feed(b"\xed\xa0"), Err(InvalidUtf8));
    }

    #[test]
    fn refuses_text_that_ends_inside_a_code_point() {
        let mut v = Utf8Validator::default();
        v.feed(b"\xe2\x82").unwrap();
        assert_eq!(v.finish(), Err(InvalidUtf8));
    }

    /// The verdict of the standard library's validator, the reference for [`check`].
    fn check_std(piece: &[u8]) -> Result<(), Stop> {
        core::str::from_utf8(piece)
            .map(drop)
            .map_err(|e| Stop::new(e.valid_up_to(), e.error_len()))
    }

    /// Mostly valid text of every width, long enough for the SIMD loops, with a few bytes
    /// overwritten by arbitrary ones.
    fn long_text() -> impl Strategy<Value = alloc::vec::Vec<u8>> {
        (
            "[a-z\\u{e9}\\u{20ac}\\u{1f600}\"]{0,300}",
            proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 0..3),
        )
            .prop_map(|(text, edits)| {
                let mut bytes = text.into_bytes();
                for (at, byte) in edits {
                    if !bytes.is_empty() {
                        let i = at.index(bytes.len());
                        bytes[i] = byte;
                    }
                }
                bytes
            })
    }

    proptest! {
        #[test]
        fn simd_agrees_with_std(bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..200),
            long_text(),
        ]) {
            prop_assert_eq!(check(&bytes), check_std(&bytes));
            prop_assert_eq!(is_valid(&bytes), core::str::from_utf8(&bytes).is_ok());
            // Every prefix ends either in the middle of a code point or at a boundary.
            for cut in [bytes.len() / 3, bytes.len() / 2, bytes.len().saturating_sub(1)] {
                prop_assert_eq!(check(&bytes[..cut]), check_std(&bytes[..cut]));
            }
        }

        #[test]
        fn long_pieces_agree_with_whole_validation(bytes in long_text(),
                                                   cuts in proptest::collection::vec(0usize..1300, 0..6)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let whole = core::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(feed_in_pieces(&bytes, &cuts).is_ok(), whole);
        }

        #[test]
        fn pieces_agree_with_whole_validation(bytes in proptest::collection::vec(any::<u8>(), 0..64),
                                              cuts in proptest::collection::vec(0usize..64, 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let whole = core::str::from_utf8(&bytes).is_ok();
            prop_assert_eq!(feed_in_pieces(&bytes, &cuts).is_ok(), whole);
        }

        #[test]
        fn valid_text_in_any_pieces_is_accepted(text in "\\PC{0,40}", cuts in proptest::collection::vec(0usize..200, 0..8)) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            prop_assert_eq!(feed_in_pieces(text.as_bytes(), &cuts), Ok(()));
        }
    }
}
