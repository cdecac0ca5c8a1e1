//! The incremental event-stream parser: bytes in, however they were cut, events out.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::vec::Vec;

use super::SseEvent;
use crate::http::{HttpError, Limits};

/// The UTF-8 byte order mark, skipped at the start of a stream.
const BOM: &str = "\u{feff}";

/// Reads `text/event-stream` bytes into [`SseEvent`]s as the WHATWG standard says: lines end
/// in CRLF, LF or CR (a CRLF cut between two inputs is still one line end); `event:`, `data:`
/// (several join with `\n`), `id:` and `retry:` fields; `:` comments; other fields ignored; an
/// event dispatched by a blank line, and none for a blank line without data.
///
/// Unlike a browser it is strict where a client needs it: a line that is not UTF-8 is an
/// error, and an event (its pending line, type and data together) may not grow past
/// [`Limits::max_sse_event`]. After an error every call returns it again.
///
/// ```
/// use responses_ws_core::http::{Limits, SseParser};
///
/// let mut parser = SseParser::new(&Limits::default());
/// let mut input: &[u8] = b": keep-alive\r\nevent: response.created\r\ndata: {\"a\":";
/// assert_eq!(parser.next_event(&mut input)?, None);
/// let mut input: &[u8] = b"1}\r\n\r\ndata: next";
/// let event = parser.next_event(&mut input)?.expect("dispatched");
/// assert_eq!((event.event_type.as_str(), event.data.as_str()), ("response.created", "{\"a\":1}"));
/// assert_eq!(parser.next_event(&mut input)?, None);
/// assert!(input.is_empty() && !parser.is_idle());
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
#[derive(Debug, Clone)]
pub struct SseParser {
    /// Bytes of the line being received, without its end.
    line: Vec<u8>,
    /// The last byte taken ended a line with CR: a LF right after it belongs to that end.
    after_cr: bool,
    /// No line has been completed yet (a BOM may open the first).
    at_start: bool,
    /// The `event:` of the event being built.
    event_type: String,
    /// The `data:` lines of the event being built, each followed by `\n`.
    data: String,
    /// The last `id:` of the stream; it outlives the event that set it.
    last_event_id: Option<String>,
    /// The last valid `retry:` in milliseconds.
    retry: Option<u64>,
    max_event: usize,
    /// The error that stopped the parser.
    failed: Option<HttpError>,
}

impl SseParser {
    /// A parser at the start of a stream.
    pub fn new(limits: &Limits) -> Self {
        SseParser {
            line: Vec::new(),
            after_cr: false,
            at_start: true,
            event_type: String::new(),
            data: String::new(),
            last_event_id: None,
            retry: None,
            max_event: limits.max_sse_event,
            failed: None,
        }
    }

    /// The reconnection time the server asked for with `retry:`, in milliseconds.
    pub fn retry(&self) -> Option<u64> {
        self.retry
    }

    /// The last event id the stream set.
    pub fn last_event_id(&self) -> Option<&str> {
        self.last_event_id.as_deref()
    }

    /// Whether the stream could end here without cutting an event: no pending line, type or
    /// data. A stream that ends while this is false lost an event.
    pub fn is_idle(&self) -> bool {
        self.line.is_empty() && self.event_type.is_empty() && self.data.is_empty()
    }

    /// Consumes `input` from the front up to the end of the next event and returns it, or
    /// consumes all of `input` and returns `None` when no event is complete yet. Call it until
    /// it returns `None`.
    pub fn next_event(&mut self, input: &mut &[u8]) -> Result<Option<SseEvent>, HttpError> {
        if let Some(error) = &self.failed {
            return Err(error.clone());
        }
        let parsed = self.parse(input);
        if let Err(error) = &parsed {
            self.failed = Some(error.clone());
        }
        parsed
    }

    fn parse(&mut self, input: &mut &[u8]) -> Result<Option<SseEvent>, HttpError> {
        while !input.is_empty() {
            if core::mem::take(&mut self.after_cr) && input[0] == b'\n' {
                *input = &input[1..];
                continue;
            }
            let Some(end) = input.iter().position(|&b| b == b'\r' || b == b'\n') else {
                self.extend_line(input)?;
                *input = &[];
                break;
            };
            self.extend_line(&input[..end])?;
            self.after_cr = input[end] == b'\r';
            *input = &input[end + 1..];
            if let Some(event) = self.end_line()? {
                return Ok(Some(event));
            }
        }
        Ok(None)
    }

    /// Adds bytes to the pending line, within the event's limit.
    fn extend_line(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        let size = self.line.len() + bytes.len() + self.event_type.len() + self.data.len();
        if size > self.max_event {
            return Err(HttpError::SseEventTooLarge {
                limit: self.max_event,
            });
        }
        self.line.extend_from_slice(bytes);
        Ok(())
    }

    /// Interprets the completed pending line; an event if it was the blank line ending one.
    fn end_line(&mut self) -> Result<Option<SseEvent>, HttpError> {
        let mut line = core::mem::take(&mut self.line);
        let event = self.interpret(&line);
        line.clear();
        // The buffer is kept for the next line.
        self.line = line;
        event
    }

    fn interpret(&mut self, line: &[u8]) -> Result<Option<SseEvent>, HttpError> {
        let mut line = core::str::from_utf8(line).map_err(|_| HttpError::SseInvalidUtf8)?;
        if core::mem::take(&mut self.at_start) {
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if line.is_empty() {
            return Ok(self.dispatch());
        }
        if line.starts_with(':') {
            return Ok(None);
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "event" => value.clone_into(&mut self.event_type),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
            }
            "id" if !value.contains('\0') => self.last_event_id = Some(value.into()),
            "retry" if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) => {
                // A value too large for u64 is no valid delay: ignored like any other.
                if let Ok(millis) = value.parse() {
                    self.retry = Some(millis);
                }
            }
            _ => {}
        }
        Ok(None)
    }

    /// The event built so far, if it has data; either way the next one starts empty.
    fn dispatch(&mut self) -> Option<SseEvent> {
        let event_type = core::mem::take(&mut self.event_type);
        if self.data.is_empty() {
            return None;
        }
        let mut data = core::mem::take(&mut self.data);
        data.pop();
        Some(SseEvent {
            event_type: if event_type.is_empty() {
                "message".into()
            } else {
                event_type
            },
            data,
            id: self.last_event_id.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    /// Every event of `input` fed whole.
    fn events(input: &[u8]) -> Result<Vec<SseEvent>, HttpError> {
        let mut parser = SseParser::new(&Limits::default());
        let mut rest = input;
        let mut out = Vec::new();
        while let Some(event) = parser.next_event(&mut rest)? {
            out.push(event);
        }
        Ok(out)
    }

    #[test]
    fn reads_the_fields_of_the_standard() {
        let stream = "\u{feff}: comment\nretry: 1500\nid: 7\nevent: add\ndata:a\ndata:  b\ndata\nfoo: ignored\n\n\
                      data: second\r\rid\r\ndata: third\r\n\r\n";
        let got = events(stream.as_bytes()).unwrap();
        let expected = vec![
            SseEvent {
                event_type: "add".into(),
                data: "a\n b\n".into(),
                id: Some("7".into()),
            },
            SseEvent {
                event_type: "message".into(),
                data: "second".into(),
                id: Some("7".into()),
            },
            SseEvent {
                event_type: "message".into(),
                data: "third".into(),
                id: Some(String::new()),
            },
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn blank_lines_without_data_dispatch_nothing_and_reset_the_type() {
        let got = events(b"event: lost\n\n\ndata: x\n\n").unwrap();
        assert_eq!(got, vec![SseEvent::new("message", "x")]);
    }

    #[test]
    fn retry_and_id_keep_only_valid_values() {
        let mut parser = SseParser::new(&Limits::default());
        let mut input: &[u8] = b"retry: 12\nretry: 1x\nretry:\nid: a\0b\n";
        assert_eq!(parser.next_event(&mut input), Ok(None));
        assert_eq!((parser.retry(), parser.last_event_id()), (Some(12), None));
    }

    #[test]
    fn an_event_past_the_limit_stops_the_parser() {
        let limits = Limits {
            max_sse_event: 16,
            ..Limits::default()
        };
        let mut parser = SseParser::new(&limits);
        let mut input: &[u8] = b"data: 0123456789\ndata: more";
        let error = HttpError::SseEventTooLarge { limit: 16 };
        assert_eq!(parser.next_event(&mut input), Err(error.clone()));
        assert_eq!(parser.next_event(&mut &b"\n\n"[..]), Err(error));
    }

    #[test]
    fn a_line_that_is_not_utf8_is_an_error() {
        assert_eq!(events(b"data: \xff\n\n"), Err(HttpError::SseInvalidUtf8));
    }
}
