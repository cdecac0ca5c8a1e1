//! `ServerEvent::from_str` fed arbitrary text (inputs that are not UTF-8 are skipped: the
//! WebSocket layer hands the wire layer validated text only). No panic on any input; an error
//! formats; and every decoded event keeps the promises the wire tests assert:
//!
//! - `to_json()` decodes again to an equal event (unknown events are written back as their raw
//!   frame, which is the whole input);
//! - `into_owned()` gives an equal event, which writes the same JSON;
//! - a terminal event carries its response snapshot.
#![no_main]

use libfuzzer_sys::fuzz_target;
use responses_ws_core::wire::{EventKind, ServerEvent};
use std::hint::black_box;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let event = match ServerEvent::from_str(text) {
        Ok(event) => event,
        Err(error) => {
            black_box(error.to_string());
            return;
        }
    };

    if let EventKind::Unknown(unknown) = &event.kind {
        assert_eq!(unknown.raw, text, "an unknown event keeps its raw frame");
        assert_eq!(unknown.event_type, event.event_type());
    }
    if event.is_terminal() {
        assert!(
            event.response().is_some(),
            "a terminal event without its response"
        );
    }

    let written = event.to_json();
    let again = ServerEvent::from_str(&written)
        .unwrap_or_else(|error| panic!("written event does not decode: {error}\n{written}"));
    assert_eq!(again, event, "to_json does not round-trip\n{written}");

    let owned = event.clone().into_owned();
    assert_eq!(owned, event, "into_owned changes the event");
    assert_eq!(
        owned.to_json(),
        written,
        "the owned event writes different JSON"
    );

    black_box((event.event_type(), event.is_terminal(), event.response()));
    black_box(again);
    black_box(owned);
});
