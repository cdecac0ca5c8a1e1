//! The fast path of [`ServerEvent::from_str`](super::ServerEvent::from_str) for the events that
//! make up most of a stream: the text, argument and summary deltas.
//!
//! A delta is a flat object of strings and small integers, with `type` first. This module reads
//! exactly that shape in one forward scan, without serde: the tag, the envelope, the payload's
//! fields, and unknown fields whose values are plain strings or integers (`obfuscation`). Strings
//! without escapes are borrowed from the frame; escaped ones are unescaped once.
//!
//! It never decides anything the serde path would decide differently: whenever the frame is not
//! of that shape (another event type, `type` not first, a nested or repeated field, a number that
//! is not a plain unsigned integer, a missing field, anything malformed) it answers `None`
//! having produced nothing, and the caller decodes the frame with serde, which also writes the
//! error if there is one. The tests check that both paths agree on every frame the fast one
//! takes, on the fixtures and on generated frames.

use alloc::borrow::Cow;
use alloc::string::String;
use alloc::vec::Vec;
use core::mem;
use core::ops::Range;

use super::events::{ItemDelta, SummaryTextDelta, TextDelta};
use super::server::{EventKind, ServerEvent};

/// Decodes `text` if it is a delta of the shape this module reads; `None` otherwise. An escaped
/// string is unescaped into a `String` of its own.
pub(super) fn decode(text: &str) -> Option<ServerEvent<'_>> {
    let mut scratch = String::new();
    let scanned = scan(text, &mut scratch)?;
    Some(scanned.build(|string| match string {
        Str::Frame(text) => Cow::Borrowed(text),
        // The only escaped string takes the buffer as it is; strings are never empty once
        // unescaped (an escape gives a character), so no other one can be in it.
        Str::Scratch(range) if range.start == 0 && range.end == scratch.len() => {
            Cow::Owned(mem::take(&mut scratch))
        }
        Str::Scratch(range) => Cow::Owned(String::from(scratch.get(range).unwrap_or_default())),
    }))
}

/// Decodes `text` as [`decode`] does, but unescapes into `scratch` (cleared first) and borrows
/// from it: once `scratch` has grown to the frames' size, decoding a delta allocates nothing.
pub(super) fn decode_in<'a>(text: &'a str, scratch: &'a mut String) -> Option<ServerEvent<'a>> {
    scratch.clear();
    let scanned = scan(text, scratch)?;
    let scratch: &'a str = scratch;
    Some(scanned.build(|string| match string {
        Str::Frame(text) => Cow::Borrowed(text),
        Str::Scratch(range) => Cow::Borrowed(scratch.get(range).unwrap_or_default()),
    }))
}

/// The `type` of an event object whose first field it is, without escapes; `None` otherwise
/// (nothing else of the frame is read).
pub(super) fn leading_type(text: &str) -> Option<&str> {
    let mut scratch = String::new();
    let mut scan = Scan {
        text,
        pos: 0,
        scratch: &mut scratch,
    };
    scan.expect(b'{')?;
    if scan.key()? != "type" {
        return None;
    }
    scan.plain_string()
}

/// Reads the fields of a delta, unescaping escaped strings to the end of `scratch`.
fn scan<'a>(text: &'a str, scratch: &mut String) -> Option<Scanned<'a>> {
    let mut scan = Scan {
        text,
        pos: 0,
        scratch,
    };
    let hot = scan.hot_type()?;
    let mut fields = Fields::default();
    while scan.comma_or_end()? {
        match scan.field()? {
            Field::StreamId => once(&mut fields.stream_id, scan.nullable_string()?)?,
            Field::SequenceNumber => once(&mut fields.sequence_number, scan.nullable_uint()?)?,
            Field::ItemId => once(&mut fields.item_id, scan.string()?)?,
            Field::OutputIndex => once(&mut fields.output_index, scan.u32()?)?,
            Field::ContentIndex => once(&mut fields.content_index, scan.u32()?)?,
            Field::SummaryIndex => once(&mut fields.summary_index, scan.u32()?)?,
            Field::Delta => once(&mut fields.delta, scan.string()?)?,
            Field::Logprobs => once(&mut fields.logprobs, scan.empty_logprobs()?)?,
            // An unknown field; serde skips it too (any repeat of it included).
            Field::Other => scan.skip_plain_value()?,
        }
    }
    scan.skip_whitespace();
    if scan.pos != text.len() {
        return None;
    }
    // The fields its type requires (a missing one: serde says which). Fields another shape has
    // are unknown to this one and were only checked.
    Some(Scanned {
        hot,
        stream_id: fields.stream_id.flatten(),
        sequence_number: fields.sequence_number.flatten(),
        item_id: fields.item_id?,
        output_index: fields.output_index?,
        content_index: fields.content_index.unwrap_or(0),
        summary_index: match hot {
            Hot::ReasoningSummaryText => fields.summary_index?,
            _ => 0,
        },
        delta: fields.delta?,
    })
}

/// A string value as scanned: a slice of the frame, or the range of `scratch` it was
/// unescaped to.
#[derive(Debug)]
enum Str<'a> {
    Frame(&'a str),
    Scratch(Range<usize>),
}

/// A delta read from its frame, its strings not yet placed.
struct Scanned<'a> {
    hot: Hot,
    stream_id: Option<Str<'a>>,
    sequence_number: Option<u64>,
    item_id: Str<'a>,
    output_index: u32,
    content_index: u32,
    summary_index: u32,
    delta: Str<'a>,
}

impl<'a> Scanned<'a> {
    /// The event, each string made a `Cow` by `place`.
    fn build(self, mut place: impl FnMut(Str<'a>) -> Cow<'a, str>) -> ServerEvent<'a> {
        let stream_id = self.stream_id.map(&mut place);
        let item_id = place(self.item_id);
        let delta = place(self.delta);
        let output_index = self.output_index;
        let text = |item_id, delta| TextDelta {
            item_id,
            output_index,
            content_index: self.content_index,
            delta,
            logprobs: Vec::new(),
        };
        let item = |item_id, delta| ItemDelta {
            item_id,
            output_index,
            delta,
        };
        let kind = match self.hot {
            Hot::OutputText => EventKind::OutputTextDelta(text(item_id, delta)),
            Hot::ReasoningText => EventKind::ReasoningTextDelta(text(item_id, delta)),
            Hot::Refusal => EventKind::RefusalDelta(text(item_id, delta)),
            Hot::FunctionCallArguments => {
                EventKind::FunctionCallArgumentsDelta(item(item_id, delta))
            }
            Hot::CustomToolCallInput => EventKind::CustomToolCallInputDelta(item(item_id, delta)),
            Hot::McpCallArguments => EventKind::McpCallArgumentsDelta(item(item_id, delta)),
            Hot::CodeInterpreterCallCode => {
                EventKind::CodeInterpreterCallCodeDelta(item(item_id, delta))
            }
            Hot::ReasoningSummaryText => EventKind::ReasoningSummaryTextDelta(SummaryTextDelta {
                item_id,
                output_index,
                summary_index: self.summary_index,
                delta,
            }),
        };
        ServerEvent {
            stream_id,
            sequence_number: self.sequence_number,
            kind,
        }
    }
}

/// Sets a field seen for the first time; a repeated field is left to serde (`None`).
fn once<T>(slot: &mut Option<T>, value: T) -> Option<()> {
    match slot {
        Some(_) => None,
        None => {
            *slot = Some(value);
            Some(())
        }
    }
}

/// The high bit of each byte of `word` that is `"`, `\` or below 0x20 may be set, and the lowest
/// bit set is always the first such byte (little-endian order). Each test is the classic
/// "has a zero byte" trick: its false positives only ever sit above a true one.
fn special_bytes(word: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let quote = zero_byte(word ^ (ONES * u64::from(b'"')));
    let backslash = zero_byte(word ^ (ONES * u64::from(b'\\')));
    let control = word.wrapping_sub(ONES * 0x20) & !word & HIGHS;
    quote | backslash | control
}

/// The position of the first byte at or after `from` that a JSON string cannot hold as it is
/// (`"`, `\\` or below 0x20), or the length of `bytes`.
pub(super) fn plain_run(bytes: &[u8], from: usize) -> usize {
    let mut pos = from;
    // Eight bytes at a time while they last (SWAR: a byte-wise test on a `u64`).
    while let Some(chunk) = bytes.get(pos..pos + 8) {
        let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let stops = special_bytes(word);
        if stops != 0 {
            return pos + (stops.trailing_zeros() / 8) as usize;
        }
        pos += 8;
    }
    while let Some(&byte) = bytes.get(pos) {
        if byte == b'"' || byte == b'\\' || byte < 0x20 {
            break;
        }
        pos += 1;
    }
    pos
}

/// The delta event types this module reads.
#[derive(Debug, Clone, Copy)]
enum Hot {
    OutputText,
    ReasoningText,
    Refusal,
    FunctionCallArguments,
    CustomToolCallInput,
    McpCallArguments,
    CodeInterpreterCallCode,
    ReasoningSummaryText,
}

/// The hot event types as they follow `"response.` in a frame, closing quote included.
const HOT_TYPES: [(&[u8], Hot); 8] = [
    (b"output_text.delta\"", Hot::OutputText),
    (
        b"function_call_arguments.delta\"",
        Hot::FunctionCallArguments,
    ),
    (b"reasoning_summary_text.delta\"", Hot::ReasoningSummaryText),
    (b"reasoning_text.delta\"", Hot::ReasoningText),
    (b"refusal.delta\"", Hot::Refusal),
    (b"custom_tool_call_input.delta\"", Hot::CustomToolCallInput),
    (b"mcp_call_arguments.delta\"", Hot::McpCallArguments),
    (
        b"code_interpreter_call_code.delta\"",
        Hot::CodeInterpreterCallCode,
    ),
];

/// The fields of a delta, by key.
#[derive(Debug, Clone, Copy)]
enum Field {
    StreamId,
    SequenceNumber,
    ItemId,
    OutputIndex,
    ContentIndex,
    SummaryIndex,
    Delta,
    Logprobs,
    /// Any other key (written without escapes): `obfuscation`, which the API adds to every
    /// delta, and whatever else.
    Other,
}

/// The keys of [`Field`] as they follow their opening quote, closing quote included, by their
/// first letter.
fn known_keys(first: u8) -> &'static [(&'static [u8], Field)] {
    match first {
        b'i' => &[(b"item_id\"", Field::ItemId)],
        b'd' => &[(b"delta\"", Field::Delta)],
        b'o' => &[
            (b"output_index\"", Field::OutputIndex),
            (b"obfuscation\"", Field::Other),
        ],
        b'c' => &[(b"content_index\"", Field::ContentIndex)],
        b's' => &[
            (b"sequence_number\"", Field::SequenceNumber),
            (b"stream_id\"", Field::StreamId),
            (b"summary_index\"", Field::SummaryIndex),
        ],
        b'l' => &[(b"logprobs\"", Field::Logprobs)],
        _ => &[],
    }
}

/// The fields read so far; `Some` once seen (a nullable one may be `Some(None)`).
#[derive(Default)]
struct Fields<'a> {
    stream_id: Option<Option<Str<'a>>>,
    sequence_number: Option<Option<u64>>,
    item_id: Option<Str<'a>>,
    output_index: Option<u32>,
    content_index: Option<u32>,
    summary_index: Option<u32>,
    delta: Option<Str<'a>>,
    logprobs: Option<()>,
}

/// A forward reader of JSON text. Every method either consumes what it reads and answers
/// `Some`, or answers `None`, after which the scan is abandoned.
struct Scan<'a, 's> {
    text: &'a str,
    /// Invariant: at a character boundary of `text` (the scan stops only at ASCII bytes).
    pos: usize,
    /// Where escaped strings are unescaped to, one after the other.
    scratch: &'s mut String,
}

impl<'a> Scan<'a, '_> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.pos += 1;
        }
    }

    fn expect(&mut self, byte: u8) -> Option<()> {
        self.skip_whitespace();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// After a value: `true` at a comma (another entry follows), `false` at the closing brace.
    fn comma_or_end(&mut self) -> Option<bool> {
        self.skip_whitespace();
        let more = match self.peek()? {
            b',' => true,
            b'}' => false,
            _ => return None,
        };
        self.pos += 1;
        Some(more)
    }

    /// An object key (without escapes) and its colon.
    fn key(&mut self) -> Option<&'a str> {
        let key = self.plain_string()?;
        self.expect(b':')?;
        Some(key)
    }

    /// The opening brace and the `type` of a hot delta, its first field. Compares the bytes
    /// with each known type instead of reading the string first: as the server writes it,
    /// `{"type":"response.` is one comparison.
    fn hot_type(&mut self) -> Option<Hot> {
        const PREFIX: &[u8] = b"{\"type\":\"response.";
        if self.text.as_bytes().starts_with(PREFIX) {
            self.pos = PREFIX.len();
        } else {
            self.expect(b'{')?;
            if self.key()? != "type" {
                return None;
            }
            self.expect(b'"')?;
            self.expect_raw_bytes(b"response.")?;
        }
        let rest = self.rest();
        let first = *rest.first()?;
        let (name, hot) = HOT_TYPES
            .iter()
            .find(|(name, _)| name[0] == first && rest.starts_with(name))?;
        self.pos += name.len();
        Some(*hot)
    }

    /// An object key and its colon, as the [`Field`] it names: a known key is recognised by
    /// comparing the bytes with it, any other is read as a string without escapes.
    fn field(&mut self) -> Option<Field> {
        self.expect(b'"')?;
        let rest = self.rest();
        let found = known_keys(*rest.first()?)
            .iter()
            .find(|(key, _)| rest.starts_with(key));
        let field = match found {
            Some((key, field)) => {
                self.pos += key.len();
                *field
            }
            None => {
                self.pos -= 1; // back to the opening quote
                self.plain_string()?;
                Field::Other
            }
        };
        self.expect(b':')?;
        Some(field)
    }

    /// The text from the current position on.
    fn rest(&self) -> &'a [u8] {
        let text: &'a str = self.text;
        text.as_bytes().get(self.pos..).unwrap_or_default()
    }

    /// `bytes` at the current position, with no whitespace before them.
    fn expect_raw_bytes(&mut self, bytes: &[u8]) -> Option<()> {
        self.rest()
            .starts_with(bytes)
            .then(|| self.pos += bytes.len())
    }

    /// Skips the bytes of a string that need no unescaping; stops at `"`, `\` or a control
    /// character (which JSON does not allow in a string), or at the end.
    fn skip_plain_run(&mut self) {
        self.pos = plain_run(self.text.as_bytes(), self.pos);
    }

    /// A string value with no escapes.
    fn plain_string(&mut self) -> Option<&'a str> {
        self.expect(b'"')?;
        let start = self.pos;
        self.skip_plain_run();
        let text = self.text.get(start..self.pos)?;
        self.expect_raw(b'"')?;
        Some(text)
    }

    /// `byte` at the current position, with no whitespace before it.
    fn expect_raw(&mut self, byte: u8) -> Option<()> {
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// A string value: borrowed from the text when it has no escapes, unescaped to the end of
    /// the scratch buffer otherwise.
    fn string(&mut self) -> Option<Str<'a>> {
        self.expect(b'"')?;
        let start = self.pos;
        self.skip_plain_run();
        let plain = self.text.get(start..self.pos)?;
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                Some(Str::Frame(plain))
            }
            b'\\' => self.unescape(plain).map(Str::Scratch),
            _ => None,
        }
    }

    /// The rest of a string that has an escape at the current position; `plain` is what came
    /// before it. Answers where in the scratch buffer the string is.
    fn unescape(&mut self, plain: &str) -> Option<Range<usize>> {
        let start = self.scratch.len();
        // Room for the longest it can be (the rest of the frame): one allocation at most.
        self.scratch
            .reserve(plain.len() + (self.text.len() - self.pos));
        self.scratch.push_str(plain);
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(start..self.scratch.len());
                }
                b'\\' => {
                    let escape = *self.text.as_bytes().get(self.pos + 1)?;
                    self.pos += 2;
                    let unescaped = match escape {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return None,
                    };
                    self.scratch.push(unescaped);
                }
                _ => {
                    let start = self.pos;
                    self.skip_plain_run();
                    if self.pos == start {
                        return None; // a control character
                    }
                    let run = self.text.get(start..self.pos)?;
                    self.scratch.push_str(run);
                }
            }
        }
    }

    /// The character of a `\u` escape whose `\u` is consumed; a surrogate pair takes the second
    /// escape too. A lone surrogate is left to serde.
    fn unicode_escape(&mut self) -> Option<char> {
        let first = self.hex4()?;
        let code = match first {
            0xD800..=0xDBFF => {
                self.expect_raw(b'\\')?;
                self.expect_raw(b'u')?;
                let second = self.hex4()?;
                if !(0xDC00..=0xDFFF).contains(&second) {
                    return None;
                }
                0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00)
            }
            0xDC00..=0xDFFF => return None,
            _ => first,
        };
        char::from_u32(code)
    }

    fn hex4(&mut self) -> Option<u32> {
        let digits = self.text.get(self.pos..self.pos + 4)?;
        if !digits.bytes().all(|byte| byte.is_ascii_hexdigit()) {
            return None;
        }
        self.pos += 4;
        u32::from_str_radix(digits, 16).ok()
    }

    /// A JSON integer made of digits only (no sign, fraction or exponent; no leading zero).
    fn uint(&mut self) -> Option<u64> {
        self.skip_whitespace();
        let start = self.pos;
        let mut value: u64 = 0;
        while let Some(byte @ b'0'..=b'9') = self.peek() {
            value = value.checked_mul(10)?.checked_add(u64::from(byte - b'0'))?;
            self.pos += 1;
        }
        let len = self.pos - start;
        let leading_zero = len > 1 && self.text.as_bytes()[start] == b'0';
        (len > 0 && !leading_zero).then_some(value)
    }

    fn u32(&mut self) -> Option<u32> {
        self.uint()?.try_into().ok()
    }

    /// `null`, answered as `true`, or nothing consumed and `false`.
    fn null(&mut self) -> bool {
        self.skip_whitespace();
        let found = self.text.as_bytes()[self.pos..].starts_with(b"null");
        if found {
            self.pos += 4;
        }
        found
    }

    fn nullable_string(&mut self) -> Option<Option<Str<'a>>> {
        if self.null() {
            return Some(None);
        }
        self.string().map(Some)
    }

    fn nullable_uint(&mut self) -> Option<Option<u64>> {
        if self.null() {
            return Some(None);
        }
        self.uint().map(Some)
    }

    /// `logprobs` when it holds nothing: `[]` or `null`.
    fn empty_logprobs(&mut self) -> Option<()> {
        if !self.null() {
            self.expect(b'[')?;
            self.expect(b']')?;
        }
        Some(())
    }

    /// The value of an unknown field, when it is a string without escapes or an integer.
    fn skip_plain_value(&mut self) -> Option<()> {
        self.skip_whitespace();
        match self.peek()? {
            b'"' => self.plain_string().map(drop),
            _ => self.uint().map(drop),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::format;
    use alloc::string::ToString;
    use proptest::prelude::*;

    const TRANSCRIPTS: &str = include_str!("fixtures/transcripts.txt");

    /// Both paths on one frame: the fast one, when it takes the frame, must give what serde
    /// gives, with the same strings borrowed. Returns whether the fast path took it.
    fn agree(frame: &str) -> Result<bool, TestCaseError> {
        let Some(fast) = decode(frame) else {
            return Ok(false);
        };
        let slow = match ServerEvent::from_str_with_serde(frame) {
            Ok(slow) => slow,
            Err(error) => {
                return Err(TestCaseError::fail(format!(
                    "serde refuses {frame}: {error}"
                )))
            }
        };
        prop_assert_eq!(&fast, &slow, "{}", frame);
        let borrowed = |event: &ServerEvent<'_>| {
            let strings: [Option<&Cow<'_, str>>; 3] = match &event.kind {
                EventKind::OutputTextDelta(d)
                | EventKind::ReasoningTextDelta(d)
                | EventKind::RefusalDelta(d) => [Some(&d.item_id), Some(&d.delta), None],
                EventKind::FunctionCallArgumentsDelta(d)
                | EventKind::CustomToolCallInputDelta(d)
                | EventKind::McpCallArgumentsDelta(d)
                | EventKind::CodeInterpreterCallCodeDelta(d) => {
                    [Some(&d.item_id), Some(&d.delta), None]
                }
                EventKind::ReasoningSummaryTextDelta(d) => [Some(&d.item_id), Some(&d.delta), None],
                _ => [None; 3],
            };
            let mut strings = strings.to_vec();
            strings[2] = event.stream_id.as_ref();
            strings
                .into_iter()
                .map(|s| matches!(s, Some(Cow::Borrowed(_))))
                .collect::<Vec<_>>()
        };
        prop_assert_eq!(borrowed(&fast), borrowed(&slow), "{}", frame);
        // Into a scratch buffer (here one that held an earlier frame): the same event, every
        // string borrowed.
        let mut scratch = String::from("left over");
        let reused = decode_in(frame, &mut scratch);
        prop_assert_eq!(reused.as_ref(), Some(&fast), "{}", frame);
        let reused = reused.unwrap_or(fast);
        prop_assert!(borrowed(&reused).iter().take(2).all(|b| *b), "{}", frame);
        Ok(true)
    }

    proptest! {
        #[test]
        fn the_word_test_finds_the_first_special_byte(bytes: [u8; 8]) {
            let first = bytes.iter().position(|&b| b == b'"' || b == b'\\' || b < 0x20);
            let stops = special_bytes(u64::from_le_bytes(bytes));
            let found = (stops != 0).then(|| (stops.trailing_zeros() / 8) as usize);
            prop_assert_eq!(found, first);
        }
    }

    #[test]
    fn every_fixture_frame_agrees_and_every_delta_is_fast() {
        let mut deltas = 0;
        for frame in TRANSCRIPTS
            .lines()
            .filter_map(|line| line.strip_prefix("<< "))
        {
            let fast = agree(frame).unwrap();
            let hot = decode(frame).is_some();
            assert_eq!(fast, hot);
            if frame.contains(".delta\"") {
                assert!(fast, "not taken by the fast path: {frame}");
                deltas += 1;
            }
        }
        assert!(deltas > 5, "the fixtures hold {deltas} deltas");
    }

    #[test]
    fn unusual_but_valid_frames_agree() {
        for frame in [
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00"}"#,
            r#" { "type" : "response.function_call_arguments.delta" , "item_id" : "fc" , "output_index" : 4294967295 , "delta" : "" } "#,
            r#"{"type":"response.output_text.delta","stream_id":null,"sequence_number":null,"item_id":"m","output_index":0,"content_index":2,"delta":"x","logprobs":null,"obfuscation":"abc","extra":7}"#,
            r#"{"type":"response.reasoning_summary_text.delta","item_id":"rs","output_index":1,"summary_index":3,"delta":"why","content_index":9}"#,
            r#"{"type":"response.function_call_arguments.delta","item_id":"fc","output_index":0,"delta":"{","type":"x","logprobs":[]}"#,
        ] {
            assert!(agree(frame).unwrap(), "not taken: {frame}");
        }
        for refused in [
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"\ud83d"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":01,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":4294967296,"delta":"x"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"x","delta":"y"}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0}"#,
            r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"delta":"x"} x"#,
            r#"{"item_id":"m","type":"response.output_text.delta","output_index":0,"delta":"x"}"#,
            "{\"type\":\"response.output_text.delta\",\"item_id\":\"m\",\"output_index\":0,\"delta\":\"\t\"}",
        ] {
            assert_eq!(decode(refused), None, "{refused}");
        }
    }

    /// A JSON value as text, of the kinds a delta's fields may hold, and a few they may not.
    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
            3 => "[a-z_0-9]{0,12}".prop_map(|s| format!("\"{s}\"")),
            2 => any::<u64>().prop_map(|n| n.to_string()),
            2 => (0u32..4).prop_map(|n| n.to_string()),
            1 => prop_oneof![
                Just("null".to_string()),
                Just("[]".to_string()),
                Just("-1".to_string()),
                Just("1.5".to_string()),
                Just("1e2".to_string()),
                Just("007".to_string()),
                Just("true".to_string()),
                Just("{\"a\":[1]}".to_string()),
                Just("\"\\ud800\"".to_string()),
                Just("\"\\x\"".to_string()),
            ],
        ]
    }

    /// Delta-like frames: a hot or other type, the fields a delta needs (mostly with good
    /// values) and others, in any order, some repeated, with any whitespace, sometimes damaged.
    fn frame() -> impl Strategy<Value = String> {
        let event_type = prop_oneof![
            Just("response.output_text.delta"),
            Just("response.function_call_arguments.delta"),
            Just("response.reasoning_summary_text.delta"),
            Just("response.refusal.delta"),
            Just("response.mcp_call_arguments.delta"),
            Just("response.output_text.done"),
        ];
        let good_string = prop_oneof![
            3 => "[a-z_0-9 ]{0,12}".prop_map(|s| format!("\"{s}\"")),
            1 => any::<String>().prop_map(|s| serde_json::to_string(&s).unwrap()),
        ];
        let good_index = (0u32..4).prop_map(|n| n.to_string());
        let needed = |good: BoxedStrategy<String>| prop_oneof![9 => good, 1 => value()];
        let required = (
            needed(good_string.clone().boxed()),
            needed(good_index.clone().boxed()),
            needed(good_string.boxed()),
            needed(good_index.boxed()),
        )
            .prop_map(|(item_id, output_index, delta, summary_index)| {
                alloc::vec![
                    ("item_id", item_id),
                    ("output_index", output_index),
                    ("delta", delta),
                    ("summary_index", summary_index),
                ]
            });
        let key = prop_oneof![
            Just("stream_id"),
            Just("sequence_number"),
            Just("item_id"),
            Just("content_index"),
            Just("delta"),
            Just("logprobs"),
            Just("obfuscation"),
            Just("type"),
        ];
        let extra = prop::collection::vec((key, value()), 0..4);
        let space = prop_oneof![3 => Just(""), 1 => Just(" "), 1 => Just("\n\t")];
        (
            event_type,
            (required, extra)
                .prop_map(|(mut required, extra)| {
                    required.extend(extra);
                    required
                })
                .prop_shuffle(),
            space,
            any::<bool>(),
            prop::option::weighted(0.1, (any::<prop::sample::Index>(), any::<char>())),
        )
            .prop_map(|(event_type, entries, space, type_first, damage)| {
                let mut parts: Vec<String> = entries
                    .into_iter()
                    .map(|(key, value)| format!("{space}\"{key}\"{space}:{space}{value}"))
                    .collect();
                let tag = format!("\"type\":\"{event_type}\"");
                parts.insert(usize::from(!type_first), tag);
                let mut frame = format!("{{{}}}", parts.join(","));
                if let Some((at, c)) = damage {
                    let mut i = at.index(frame.len());
                    while !frame.is_char_boundary(i) {
                        i -= 1;
                    }
                    frame.insert(i, c);
                }
                frame
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn generated_frames_agree(frame in frame()) {
            agree(&frame)?;
        }
    }

    #[test]
    fn the_generated_frames_reach_the_fast_path() {
        // Not a property: a guard that the generator above does exercise the fast path.
        use proptest::strategy::ValueTree;
        use proptest::test_runner::TestRunner;
        let mut runner = TestRunner::deterministic();
        let strategy = frame();
        let taken = (0..2000)
            .filter(|_| decode(&strategy.new_tree(&mut runner).unwrap().current()).is_some())
            .count();
        assert!(
            taken > 200,
            "only {taken} of 2000 generated frames were fast"
        );
    }
}
