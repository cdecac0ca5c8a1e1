//! Server-sent events (the `text/event-stream` format of the WHATWG HTML standard, §9.2): the
//! [`SseEvent`] and its writer, and the incremental [`SseParser`].

mod event;
mod parser;

pub use event::SseEvent;
pub use parser::SseParser;
