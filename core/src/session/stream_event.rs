//! [`StreamEvent`]: a server event handed to the application as the frame it came in, so
//! that passing a delta on costs no allocation (the frame's buffer is shared, not copied).

use alloc::borrow::Cow;
use alloc::string::String;
use core::fmt;

use crate::wire::{EventKind, ServerEvent, UnknownEvent};
use crate::ws::Utf8Bytes;

/// One server event of a running request, kept as its text frame.
///
/// The session decodes each frame once for itself (routing, assembly); the application
/// decodes it again with [`decoded`](Self::decoded), which borrows ids and deltas from the
/// frame. Handing the event over therefore copies no string: the frame's buffer is shared
/// by reference count. [`text`](Self::text) is the frame itself, for logging or forwarding.
///
/// ```
/// use responses_ws_core::session::StreamEvent;
/// use responses_ws_core::wire::EventKind;
///
/// let event = StreamEvent::from_text(
///     r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi"}"#,
/// );
/// assert!(event.text().starts_with(r#"{"type":"response.output_text.delta""#));
/// let EventKind::OutputTextDelta(delta) = event.decoded().kind else { unreachable!() };
/// assert_eq!(delta.delta, "Hi");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct StreamEvent {
    frame: Utf8Bytes,
}

impl StreamEvent {
    /// Keeps a frame the session has decoded as a server event.
    pub(crate) fn from_frame(frame: Utf8Bytes) -> Self {
        StreamEvent { frame }
    }

    /// A stream event from text (copied); for tests and replays.
    pub fn from_text(text: &str) -> Self {
        StreamEvent::from_frame(Utf8Bytes::from(text))
    }

    /// The event, decoded from the frame (ids and deltas borrowed from it).
    ///
    /// The session decoded this same frame before handing it on, and decoding is
    /// deterministic, so this gives that event again; a frame built with
    /// [`from_text`](Self::from_text) that is not a server event comes back as
    /// [`EventKind::Unknown`] carrying the text.
    pub fn decoded(&self) -> ServerEvent<'_> {
        let text = self.frame.as_str();
        ServerEvent::from_str(text).unwrap_or_else(|_| unknown(text))
    }

    /// The event, decoded from the frame as [`decoded`](Self::decoded) does, with escaped
    /// strings of a delta unescaped into `scratch` (its content is replaced) instead of a
    /// `String` each ([`ServerEvent::from_str_in`]): with one buffer kept for the stream, reading
    /// a delta allocates nothing, escaped or not.
    ///
    /// ```
    /// use responses_ws_core::session::StreamEvent;
    /// use responses_ws_core::wire::EventKind;
    ///
    /// let mut scratch = String::new();
    /// for frame in [
    ///     r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hi\n"}"#,
    ///     r#"{"type":"response.output_text.delta","item_id":"msg_1","output_index":0,"content_index":0,"delta":"\"there\""}"#,
    /// ] {
    ///     let event = StreamEvent::from_text(frame);
    ///     let EventKind::OutputTextDelta(delta) = event.decoded_in(&mut scratch).kind else { unreachable!() };
    ///     print!("{}", delta.delta); // `Hi` and a line break, then `"there"`
    /// }
    /// ```
    pub fn decoded_in<'a>(&'a self, scratch: &'a mut String) -> ServerEvent<'a> {
        let text = self.frame.as_str();
        ServerEvent::from_str_in(text, scratch).unwrap_or_else(|_| unknown(text))
    }

    /// The frame as the server sent it (one JSON object).
    pub fn text(&self) -> &str {
        self.frame.as_str()
    }

    /// The frame, shared.
    pub fn into_frame(self) -> Utf8Bytes {
        self.frame
    }
}

/// What a frame that is not a server event decodes to: an unknown event carrying the text.
fn unknown(text: &str) -> ServerEvent<'_> {
    ServerEvent {
        stream_id: None,
        sequence_number: None,
        kind: EventKind::Unknown(UnknownEvent {
            event_type: Cow::Borrowed(""),
            raw: Cow::Borrowed(text),
        }),
    }
}

impl fmt::Debug for StreamEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StreamEvent").field(&self.text()).finish()
    }
}
