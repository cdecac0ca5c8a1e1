//! The same script over HTTP: `POST /v1/responses` answered with SSE (`stream: true`) or a
//! JSON body, so that WebSocket mode and HTTP can be compared on equal terms.
//!
//! HTTP has no connection-local cache: `previous_response_id` works only for stored responses
//! (`store` absent or `true`); with `store: false` the client must send the full context, and
//! the turn is counted from it. So with a [`ServerCost`](super::ServerCost) every chained HTTP
//! request pays the stored lookup and every full-context one its whole input. The WebSocket-only fields `stream_id` and `generate` are
//! refused as unknown parameters.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::time::Duration;

use serde_json::Value;

use super::cache::ResponseStore;
use super::cost::Found;
use super::errors;
use super::faults::on_connection;
use super::model::{Begun, Model, NotStarted};
use super::script::Script;
use super::traffic::Traffic;
use crate::http;
use crate::time::Instant;
use crate::wire::{ApiError, ResponseCreate};

/// An HTTP answer with a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// Status code.
    pub status: u16,
    /// Headers (lower-case names), `content-type` first.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

impl HttpAnswer {
    /// A JSON body with this status.
    fn json(status: u16, body: String) -> Self {
        HttpAnswer {
            status,
            headers: vec![("content-type".into(), "application/json".into())],
            body,
        }
    }

    /// `{"error":{…}}` with the error's status (500 if it has none).
    pub(crate) fn error(error: &ApiError) -> Self {
        HttpAnswer::json(error.status.unwrap_or(500), errors::http_body(error))
    }
}

/// The answer to one `POST /v1/responses`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpReply {
    /// A JSON answer: an error (4xx/5xx), or `200` with the final response object (completed,
    /// or failed by a [`TurnFault`](super::TurnFault)) when the request did not ask for
    /// `stream: true`.
    Json(HttpAnswer),
    /// `200` with `content-type: text/event-stream`: send each event after its delay.
    Stream(SseStream),
}

/// A streamed answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseStream {
    /// The events, in order.
    pub events: Vec<SseEvent>,
    /// True when a [`DropFault`](super::DropFault) cut the stream: drop the transport after the
    /// last event instead of ending the body.
    pub dropped: bool,
}

/// One server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// Time to wait after the previous event (or the request) before sending it: the
    /// streaming pace, plus the script's [`ServerCost`](super::ServerCost) (a stored lookup
    /// before the first event, the input before the first output event).
    pub delay: Duration,
    /// The `event:` line (the event's `type`).
    pub event_type: String,
    /// The `data:` line: the event JSON, exactly as over WebSocket minus `stream_id`.
    pub data: String,
}

impl SseEvent {
    /// The event in SSE form: `event: …\ndata: …\n\n` (a `data:` line per line of the data).
    /// A type that no `event:` line can hold (one with a line break, from a script's unknown
    /// event) is left out: the data's JSON still names it.
    pub fn to_sse(&self) -> String {
        let mut event = http::SseEvent::new(self.event_type.as_str(), self.data.as_str());
        let mut text = String::new();
        if event.write(&mut text).is_err() {
            event.event_type.clear();
            // Without a type or an id, nothing is left that could be refused.
            let _ = event.write(&mut text);
        }
        text
    }
}

/// The scripted model behind `POST /v1/responses`: one per server (or per TCP connection; the
/// index scopes ids and connection-scoped faults as for [`MockConnection`](super::MockConnection)).
///
/// ```
/// use responses_ws_core::mock::{HttpMock, HttpReply, Script};
/// use responses_ws_core::Instant;
///
/// let mut http = HttpMock::new(Script::new().text("Hi!", 1), 0);
/// let HttpReply::Stream(stream) =
///     http.respond(r#"{"model":"gpt-5.5","store":false,"stream":true,"input":"Hello"}"#, Instant::ZERO)
/// else {
///     panic!("not streamed")
/// };
/// assert_eq!(stream.events[0].event_type, "response.created");
/// assert!(stream.events[0].to_sse().starts_with("event: response.created\ndata: {\"type\":\"response.created\",\"sequence_number\":0,"));
/// assert_eq!(stream.events.last().unwrap().event_type, "response.completed");
/// ```
#[derive(Debug)]
pub struct HttpMock {
    model: Model,
    traffic: Traffic,
}

impl HttpMock {
    /// The responder with index `connection_index`.
    pub fn new(script: Script, connection_index: u32) -> Self {
        HttpMock {
            model: Model::new(script, connection_index),
            traffic: Traffic::default(),
        }
    }

    /// Starts with the stored responses of `store`.
    pub fn with_store(mut self, store: ResponseStore) -> Self {
        self.model.store = store;
        self
    }

    /// The stored responses.
    pub fn store(&self) -> &ResponseStore {
        &self.model.store
    }

    /// What was received and sent so far (SSE text or JSON bodies).
    pub fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Answers one request; `body` is the create request JSON (no `type`). Never fails: bad
    /// bodies get a 400 answer.
    pub fn respond(&mut self, body: &str, now: Instant) -> HttpReply {
        self.traffic.received(body.len());
        match self.begin(body, now) {
            Err(NotStarted::Rejected(error)) => self.json(HttpAnswer::error(&error)),
            // Over HTTP there is no WebSocket to close: a 500 instead.
            Err(NotStarted::Closed { .. }) => self.json(HttpAnswer::error(&errors::server_error())),
            Ok((begun, true)) => HttpReply::Stream(self.stream(begun)),
            Ok((begun, false)) => self.complete(begun),
        }
    }

    /// Parses and places the request; the flag says whether it asked for `stream: true`.
    fn begin(&mut self, body: &str, now: Instant) -> Result<(Begun, bool), NotStarted> {
        let request: ResponseCreate =
            serde_json::from_str(body).map_err(|error| errors::invalid_body(&error))?;
        if request.stream_id.is_some() {
            return Err(errors::unknown_parameter("stream_id").into());
        }
        if request.generate.is_some() {
            return Err(errors::unknown_parameter("generate").into());
        }
        let parent = match request.previous_response_id.as_deref() {
            None => None,
            Some(id) => Some(
                self.model
                    .store
                    .get(id)
                    .cloned()
                    .ok_or_else(|| errors::previous_response_not_found(id))?,
            ),
        };
        let parent = parent.as_ref().map(|parent| (parent, Found::Store));
        let begun = self.model.begin(&request, parent, false, now)?;
        let stream = request.extra.get("stream") == Some(&Value::Bool(true));
        Ok((begun, stream))
    }

    /// The plan as SSE events, cut short by a due drop fault.
    fn stream(&mut self, begun: Begun) -> SseStream {
        let drop_after = self
            .model
            .script
            .faults
            .drop
            .as_ref()
            .filter(|drop| on_connection(drop.connection, self.model.connection))
            .map(|drop| drop.after_events.max(1));
        let mut events = Vec::with_capacity(begun.events.len());
        let mut dropped = begun.stalls;
        for (sequence_number, planned) in (0u64..).zip(begun.events) {
            let event = SseEvent {
                delay: planned.delay,
                event_type: planned.event_type().into(),
                data: planned.to_json(None, Some(sequence_number)),
            };
            self.traffic.sent(event.to_sse().len());
            events.push(event);
            if drop_after.is_some_and(|after| self.traffic.frames_sent >= after) {
                dropped = true;
                break;
            }
        }
        if let Some(result) = begun.result.as_ref().filter(|_| !dropped) {
            self.model.remember(result, begun.store);
        }
        SseStream { events, dropped }
    }

    /// `200` with the final response object.
    fn complete(&mut self, begun: Begun) -> HttpReply {
        if let Some(result) = &begun.result {
            self.model.remember(result, begun.store);
        }
        let response = begun
            .events
            .last()
            .and_then(|planned| serde_json::to_string(planned.response()?).ok());
        self.json(HttpAnswer::json(200, response.unwrap_or_default()))
    }

    fn json(&mut self, answer: HttpAnswer) -> HttpReply {
        self.traffic.sent(answer.body.len());
        HttpReply::Json(answer)
    }
}
