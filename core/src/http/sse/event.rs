//! One server-sent event as plain data, and how it is written.

use alloc::string::String;

use crate::http::HttpError;

/// One server-sent event: its type, its data and the last event id at its dispatch.
///
/// ```
/// use responses_ws_core::http::SseEvent;
///
/// let event = SseEvent::new("response.created", "{\"a\":1}\n{\"b\":2}");
/// let mut text = String::new();
/// event.write(&mut text)?;
/// assert_eq!(text, "event: response.created\ndata: {\"a\":1}\ndata: {\"b\":2}\n\n");
/// # Ok::<(), responses_ws_core::http::HttpError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; a parsed event without one has type `message`, as the standard says.
    pub event_type: String,
    /// The `data:` lines, joined with `\n`.
    pub data: String,
    /// The last `id:` seen in the stream up to this event, if any.
    pub id: Option<String>,
}

impl SseEvent {
    /// An event of type `event_type` carrying `data`, without an id.
    pub fn new(event_type: impl Into<String>, data: impl Into<String>) -> Self {
        SseEvent {
            event_type: event_type.into(),
            data: data.into(),
            id: None,
        }
    }

    /// Appends the event to `out`: the `event:` line (unless the type is empty), the `id:`
    /// line (if any), one `data:` line per line of the data (`\r\n`, `\n` and `\r` all break
    /// lines), and the blank line that dispatches it. Refuses (writing nothing) an event type
    /// or id that holds a line break, or an id with NUL, which no reader could get back.
    pub fn write(&self, out: &mut String) -> Result<(), HttpError> {
        let breaks = |s: &str| s.contains(['\r', '\n']);
        if breaks(&self.event_type) {
            return Err(HttpError::SseInvalidField("event"));
        }
        if self
            .id
            .as_deref()
            .is_some_and(|id| breaks(id) || id.contains('\0'))
        {
            return Err(HttpError::SseInvalidField("id"));
        }
        if !self.event_type.is_empty() {
            field(out, "event", &self.event_type);
        }
        if let Some(id) = &self.id {
            field(out, "id", id);
        }
        let mut rest = self.data.as_str();
        loop {
            let Some(end) = rest.find(['\r', '\n']) else {
                field(out, "data", rest);
                break;
            };
            field(out, "data", &rest[..end]);
            let skip = if rest[end..].starts_with("\r\n") {
                2
            } else {
                1
            };
            rest = &rest[end + skip..];
        }
        out.push('\n');
        Ok(())
    }
}

/// Appends `name: value\n`.
fn field(out: &mut String, name: &str, value: &str) {
    out.push_str(name);
    out.push_str(": ");
    out.push_str(value);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_that_would_break_the_stream_are_refused() {
        let mut out = String::new();
        let mut event = SseEvent::new("a\nb", "x");
        assert_eq!(
            event.write(&mut out),
            Err(HttpError::SseInvalidField("event"))
        );
        event.event_type = "ok".into();
        event.id = Some("1\r2".into());
        assert_eq!(event.write(&mut out), Err(HttpError::SseInvalidField("id")));
        event.id = Some("1\u{0}2".into());
        assert_eq!(event.write(&mut out), Err(HttpError::SseInvalidField("id")));
        assert!(out.is_empty());
    }

    #[test]
    fn every_line_break_of_the_data_starts_a_data_line() {
        let mut out = String::new();
        let mut event = SseEvent::new("", "a\r\nb\rc\n");
        event.id = Some("7".into());
        event.write(&mut out).unwrap();
        assert_eq!(out, "id: 7\ndata: a\ndata: b\ndata: c\ndata: \n\n");
    }
}
