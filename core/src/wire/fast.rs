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

use super::events::{ItemDelta, SummaryTextDelta, TextDelta};
use super::server::{EventKind, ServerEvent};

/// Decodes `text` if it is a delta of the shape this module reads; `None` otherwise.
pub(super) fn decode(text: &str) -> Option<ServerEvent<'_>> {
    let mut scan = Scan { text, pos: 0 };
    scan.expect(b'{')?;
    if scan.key()? != "type" {
        return None;
    }
    let hot = Hot::from_type(scan.plain_string()?)?;
    let mut fields = Fields::default();
    while scan.comma_or_end()? {
        match scan.key()? {
            "stream_id" => once(&mut fields.stream_id, scan.nullable_string()?)?,
            "sequence_number" => once(&mut fields.sequence_number, scan.nullable_uint()?)?,
            "item_id" => once(&mut fields.item_id, scan.string()?)?,
            "output_index" => once(&mut fields.output_index, scan.u32()?)?,
            "content_index" => once(&mut fields.content_index, scan.u32()?)?,
            "summary_index" => once(&mut fields.summary_index, scan.u32()?)?,
            "delta" => once(&mut fields.delta, scan.string()?)?,
            "logprobs" => once(&mut fields.logprobs, scan.empty_logprobs()?)?,
            // An unknown field; serde skips it too (any repeat of it included).
            _ => scan.skip_plain_value()?,
        }
    }
    scan.skip_whitespace();
    if scan.pos != text.len() {
        return None;
    }
    let kind = hot.build(&mut fields)?;
    Some(ServerEvent {
        stream_id: fields.stream_id.flatten(),
        sequence_number: fields.sequence_number.flatten(),
        kind,
    })
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

impl Hot {
    fn from_type(event_type: &str) -> Option<Hot> {
        Some(match event_type {
            "response.output_text.delta" => Hot::OutputText,
            "response.function_call_arguments.delta" => Hot::FunctionCallArguments,
            "response.reasoning_summary_text.delta" => Hot::ReasoningSummaryText,
            "response.reasoning_text.delta" => Hot::ReasoningText,
            "response.refusal.delta" => Hot::Refusal,
            "response.custom_tool_call_input.delta" => Hot::CustomToolCallInput,
            "response.mcp_call_arguments.delta" => Hot::McpCallArguments,
            "response.code_interpreter_call_code.delta" => Hot::CodeInterpreterCallCode,
            _ => return None,
        })
    }

    /// The payload, from the fields its type requires (`None` if one is missing: serde says
    /// which). Fields another shape has are unknown to this one and were only checked.
    fn build<'a>(self, fields: &mut Fields<'a>) -> Option<EventKind<'a>> {
        let item_id = fields.item_id.take()?;
        let output_index = fields.output_index?;
        let delta = fields.delta.take()?;
        let content_index = fields.content_index.unwrap_or(0);
        let text = |item_id, delta| TextDelta {
            item_id,
            output_index,
            content_index,
            delta,
            logprobs: Vec::new(),
        };
        let item = |item_id, delta| ItemDelta {
            item_id,
            output_index,
            delta,
        };
        Some(match self {
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
                summary_index: fields.summary_index?,
                delta,
            }),
        })
    }
}

/// The fields read so far; `Some` once seen (a nullable one may be `Some(None)`).
#[derive(Default)]
struct Fields<'a> {
    stream_id: Option<Option<Cow<'a, str>>>,
    sequence_number: Option<Option<u64>>,
    item_id: Option<Cow<'a, str>>,
    output_index: Option<u32>,
    content_index: Option<u32>,
    summary_index: Option<u32>,
    delta: Option<Cow<'a, str>>,
    logprobs: Option<()>,
}

/// A forward reader of JSON text. Every method either consumes what it reads and answers
/// `Some`, or answers `None`, after which the scan is abandoned.
struct Scan<'a> {
    text: &'a str,
    /// Invariant: at a character boundary of `text` (the scan stops only at ASCII bytes).
    pos: usize,
}

impl<'a> Scan<'a> {
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

    /// Skips the bytes of a string that need no unescaping; stops at `"`, `\` or a control
    /// character (which JSON does not allow in a string), or at the end.
    fn skip_plain_run(&mut self) {
        let bytes = self.text.as_bytes();
        let mut pos = self.pos;
        // Eight bytes at a time while they last (SWAR: a byte-wise test on a `u64`).
        while let Some(chunk) = bytes.get(pos..pos + 8) {
            let word = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
            let stops = special_bytes(word);
            if stops != 0 {
                self.pos = pos + (stops.trailing_zeros() / 8) as usize;
                return;
            }
            pos += 8;
        }
        while let Some(&byte) = bytes.get(pos) {
            if byte == b'"' || byte == b'\\' || byte < 0x20 {
                break;
            }
            pos += 1;
        }
        self.pos = pos;
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

    /// A string value: borrowed from the text when it has no escapes, unescaped otherwise.
    fn string(&mut self) -> Option<Cow<'a, str>> {
        self.expect(b'"')?;
        let start = self.pos;
        self.skip_plain_run();
        let plain = self.text.get(start..self.pos)?;
        match self.peek()? {
            b'"' => {
                self.pos += 1;
                Some(Cow::Borrowed(plain))
            }
            b'\\' => self.unescape(plain).map(Cow::Owned),
            _ => None,
        }
    }

    /// The rest of a string that has an escape at the current position; `plain` is what came
    /// before it.
    fn unescape(&mut self, plain: &str) -> Option<String> {
        let mut out = String::with_capacity(plain.len() + 16);
        out.push_str(plain);
        loop {
            match self.peek()? {
                b'"' => {
                    self.pos += 1;
                    return Some(out);
                }
                b'\\' => {
                    let escape = *self.text.as_bytes().get(self.pos + 1)?;
                    self.pos += 2;
                    out.push(match escape {
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
                    });
                }
                _ => {
                    let start = self.pos;
                    self.skip_plain_run();
                    if self.pos == start {
                        return None; // a control character
                    }
                    out.push_str(self.text.get(start..self.pos)?);
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

    fn nullable_string(&mut self) -> Option<Option<Cow<'a, str>>> {
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
