//! Writing server events as frames: the envelope every event starts with, and the fast path of
//! [`ServerEvent::to_json`](super::ServerEvent::to_json) for the deltas that make up most of a
//! stream, whose whole frame is written here directly, strings escaped a run at a time.
//!
//! The output is exactly what serde writes for the same event (the tests compare both on every
//! fixture and on generated deltas and strings); any other event, or a delta carrying log
//! probabilities, is left to serde.

use alloc::string::String;

use super::events::{ItemDelta, SummaryTextDelta, TextDelta};
use super::fast::plain_run;
use super::server::EventKind;

/// Writes `{"type":…` and the envelope's fields, leaving the object open. `event_type` is a
/// known type name (plain ASCII, nothing to escape).
pub(super) fn envelope(
    out: &mut String,
    event_type: &str,
    stream_id: Option<&str>,
    sequence_number: Option<u64>,
) {
    out.push_str("{\"type\":\"");
    out.push_str(event_type);
    out.push('"');
    if let Some(stream_id) = stream_id {
        out.push_str(",\"stream_id\":");
        string(out, stream_id);
    }
    if let Some(sequence_number) = sequence_number {
        out.push_str(",\"sequence_number\":");
        uint(out, sequence_number);
    }
}

/// The frame of a delta without log probabilities; `None` for any other event.
pub(super) fn delta(
    kind: &EventKind<'_>,
    stream_id: Option<&str>,
    sequence_number: Option<u64>,
) -> Option<String> {
    // The fields between `output_index` and `delta`, and what follows `delta`.
    let (item_id, output_index, index, delta, tail) = match kind {
        EventKind::OutputTextDelta(text)
        | EventKind::ReasoningTextDelta(text)
        | EventKind::RefusalDelta(text) => {
            let TextDelta {
                item_id,
                output_index,
                content_index,
                delta,
                logprobs,
            } = text;
            if !logprobs.is_empty() {
                return None;
            }
            let index = Some(("content_index", *content_index));
            (item_id, *output_index, index, delta, ",\"logprobs\":[]}")
        }
        EventKind::FunctionCallArgumentsDelta(item)
        | EventKind::CustomToolCallInputDelta(item)
        | EventKind::McpCallArgumentsDelta(item)
        | EventKind::CodeInterpreterCallCodeDelta(item) => {
            let ItemDelta {
                item_id,
                output_index,
                delta,
            } = item;
            (item_id, *output_index, None, delta, "}")
        }
        EventKind::ReasoningSummaryTextDelta(summary) => {
            let SummaryTextDelta {
                item_id,
                output_index,
                summary_index,
                delta,
            } = summary;
            let index = Some(("summary_index", *summary_index));
            (item_id, *output_index, index, delta, "}")
        }
        _ => return None,
    };
    let escapes = 16; // room for a few escapes before the buffer grows
    let len = 120 + stream_id.map_or(0, str::len) + item_id.len() + delta.len() + escapes;
    let mut out = String::with_capacity(len);
    envelope(&mut out, kind.event_type(), stream_id, sequence_number);
    out.push_str(",\"item_id\":");
    string(&mut out, item_id);
    out.push_str(",\"output_index\":");
    uint(&mut out, u64::from(output_index));
    if let Some((name, index)) = index {
        out.push_str(",\"");
        out.push_str(name);
        out.push_str("\":");
        uint(&mut out, u64::from(index));
    }
    out.push_str(",\"delta\":");
    string(&mut out, delta);
    out.push_str(tail);
    Some(out)
}

/// Appends `text` as a JSON string, escaped as serde_json escapes it: `"` and `\` with a
/// backslash, the usual control characters by letter, the others as `\u00xx`.
pub(super) fn string(out: &mut String, text: &str) {
    out.push('"');
    let mut rest = text;
    loop {
        // The run ends at an ASCII byte (or the end), so both sides are whole characters.
        let run = plain_run(rest.as_bytes(), 0);
        let (plain, special) = rest.split_at_checked(run).unwrap_or((rest, ""));
        out.push_str(plain);
        let Some(&byte) = special.as_bytes().first() else {
            break;
        };
        match byte {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.push_str("\\u00");
                out.push(char::from(HEX[usize::from(byte >> 4)]));
                out.push(char::from(HEX[usize::from(byte & 0xf)]));
            }
        }
        rest = special.get(1..).unwrap_or_default();
    }
    out.push('"');
}

/// Appends `n` in decimal.
fn uint(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Digits only: always UTF-8.
    out.push_str(core::str::from_utf8(&digits[at..]).unwrap_or_default());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ServerEvent;
    use alloc::borrow::Cow;
    use alloc::string::ToString;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn strings_are_escaped_as_serde_escapes_them(text: String) {
            let mut out = String::new();
            string(&mut out, &text);
            prop_assert_eq!(out, serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn numbers_are_written_as_serde_writes_them(n: u64) {
            let mut out = String::new();
            uint(&mut out, n);
            prop_assert_eq!(out, n.to_string());
        }

        #[test]
        fn deltas_are_written_as_serde_writes_them(
            kind in 0..8usize,
            item_id: String,
            delta: String,
            output_index: u32,
            index: u32,
            stream_id in prop::option::of(any::<String>()),
            sequence_number: Option<u64>,
        ) {
            let (item_id, delta): (Cow<'_, str>, Cow<'_, str>) = (item_id.into(), delta.into());
            let text = TextDelta {
                item_id: item_id.clone(),
                output_index,
                content_index: index,
                delta: delta.clone(),
                logprobs: Vec::new(),
            };
            let item = ItemDelta { item_id: item_id.clone(), output_index, delta: delta.clone() };
            let kind = match kind {
                0 => EventKind::OutputTextDelta(text),
                1 => EventKind::ReasoningTextDelta(text),
                2 => EventKind::RefusalDelta(text),
                3 => EventKind::FunctionCallArgumentsDelta(item),
                4 => EventKind::CustomToolCallInputDelta(item),
                5 => EventKind::McpCallArgumentsDelta(item),
                6 => EventKind::CodeInterpreterCallCodeDelta(item),
                _ => EventKind::ReasoningSummaryTextDelta(SummaryTextDelta {
                    item_id,
                    output_index,
                    summary_index: index,
                    delta,
                }),
            };
            let event = ServerEvent {
                stream_id: stream_id.map(Cow::Owned),
                sequence_number,
                kind,
            };
            let fast = delta_frame(&event).expect("a delta");
            let serde = event
                .kind
                .to_json_with_serde(event.stream_id.as_deref(), event.sequence_number);
            prop_assert_eq!(&fast, &serde);
            prop_assert_eq!(ServerEvent::from_str(&fast).unwrap(), event);
        }
    }

    fn delta_frame(event: &ServerEvent<'_>) -> Option<String> {
        delta(
            &event.kind,
            event.stream_id.as_deref(),
            event.sequence_number,
        )
    }

    #[test]
    fn other_events_and_deltas_with_log_probabilities_are_left_to_serde() {
        let frame = r#"{"type":"response.output_text.delta","item_id":"m","output_index":0,"content_index":0,"delta":"x","logprobs":[{"token":"x","logprob":-0.5,"bytes":[120],"top_logprobs":[]}]}"#;
        assert_eq!(delta_frame(&ServerEvent::from_str(frame).unwrap()), None);
        let done = r#"{"type":"response.output_text.done","item_id":"m","output_index":0,"content_index":0,"text":"x"}"#;
        assert_eq!(delta_frame(&ServerEvent::from_str(done).unwrap()), None);
    }
}
