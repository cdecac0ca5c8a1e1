//! One TCP connection of the mock server until it turns out to be a WebSocket: HTTP/1.1
//! requests read, routed and answered, sans-IO. It owns the mock's HTTP decisions — which
//! paths and methods it serves, the refusals and their JSON bodies, `100 Continue`,
//! keep-alive, SSE pacing and framing (chunked, or close-delimited for HTTP/1.0) — and leaves
//! what a request means to [`HttpMock`](super::HttpMock) and the WebSocket to
//! [`ws::Connection`](crate::ws::Connection).
//!
//! Invariants: at most one request is between its head and the end of its answer; input
//! after it waits in the buffer (pipelining) and is not read while [`is_reading`] is false;
//! once [`is_finished`] the transport closes after the queued bytes are written.
//!
//! [`is_reading`]: HttpConnection::is_reading
//! [`is_finished`]: HttpConnection::is_finished

use alloc::collections::VecDeque;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

use super::errors::{self, api_error, Rejection};
use super::handshake::carries_key;
use super::http::{HttpAnswer, HttpReply, SseEvent};
use crate::http::{
    BodyDecoder, BodyEncoder, BodyPart, HttpError, Limits, RequestHead, ResponseHead, Version,
};
use crate::time::Instant;

/// What the driver must do for the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HttpEvent {
    /// A `POST …/responses` arrived with this body (invalid UTF-8 replaced): answer it with
    /// [`HttpConnection::answer`], for instance with [`HttpMock::respond`](super::HttpMock::respond).
    Create {
        /// The request body, the create request's JSON.
        body: String,
    },
    /// A `GET …/responses`: the connection is a WebSocket from here on. Hand these bytes
    /// (the upgrade request and anything after it) to a server-role
    /// [`ws::Connection`](crate::ws::Connection); this machine is done.
    Upgrade {
        /// Every byte received and not yet used, from the upgrade request on.
        received: Bytes,
    },
}

/// Where the connection is.
#[derive(Debug)]
enum State {
    /// Waiting for a request head.
    Head,
    /// Reading the body of a `POST`.
    Body {
        head: RequestHead,
        body: BodyDecoder,
        received: Vec<u8>,
        /// `100 Continue` is owed if the body does not arrive with the head.
        continue_owed: bool,
    },
    /// A [`HttpEvent::Create`] is out; waiting for [`HttpConnection::answer`].
    Answering { version: Version, keep_alive: bool },
    /// Writing an SSE answer, each event once it is due.
    Streaming(Stream),
    /// Handed to the WebSocket layer, or closing after the queued bytes.
    Done,
}

/// An SSE answer in progress.
#[derive(Debug)]
struct Stream {
    events: VecDeque<SseEvent>,
    /// When the front event is due.
    due: Instant,
    encoder: BodyEncoder,
    keep_alive: bool,
    /// A drop fault cut the stream: no end of body, the transport just closes.
    dropped: bool,
}

/// The mock's HTTP/1.1 side of one transport: bytes in, bytes and [`HttpEvent`]s out.
///
/// ```
/// use responses_ws_core::mock::{HttpConnection, HttpEvent, HttpMock, Script};
/// use responses_ws_core::Instant;
///
/// let mut http = HttpConnection::new();
/// let mut mock = HttpMock::new(Script::new().text("Hi!", 1), 0);
/// let body = r#"{"stream":true,"input":"Hello"}"#;
/// let request = format!("POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\n\r\n{body}", body.len());
/// http.handle_input(request.as_bytes());
/// let Some(HttpEvent::Create { body }) = http.poll_event() else { panic!("no request") };
/// http.answer(mock.respond(&body, Instant::ZERO), Instant::ZERO);
/// while let Some(at) = http.poll_timeout() {
///     http.handle_timeout(at);
/// }
/// let mut answer = Vec::new();
/// while let Some(bytes) = http.poll_transmit() {
///     answer.extend_from_slice(&bytes);
/// }
/// let answer = String::from_utf8(answer).unwrap();
/// assert!(answer.starts_with("HTTP/1.1 200 OK\r\ncontent-type: text/event-stream"));
/// assert!(answer.contains("event: response.completed\ndata: {"));
/// assert!(answer.ends_with("\r\n0\r\n\r\n"), "the last chunk ends the body");
/// assert!(http.is_reading() && !http.is_finished());
/// ```
#[derive(Debug)]
pub struct HttpConnection {
    limits: Limits,
    state: State,
    /// Bytes received and not yet used.
    input: BytesMut,
    /// Bytes to write, in order.
    output: Vec<u8>,
    events: VecDeque<HttpEvent>,
    /// The client ended its side.
    eof: bool,
    /// A `POST` with this API key is refused with `401`.
    revoked_key: Option<String>,
}

impl Default for HttpConnection {
    fn default() -> Self {
        HttpConnection::new()
    }
}

impl HttpConnection {
    /// A connection with the default [`Limits`] (16 KiB heads, 64 headers, 64 MiB bodies).
    pub fn new() -> Self {
        HttpConnection::with_limits(Limits::default())
    }

    /// A connection bounded by `limits`.
    pub fn with_limits(limits: Limits) -> Self {
        HttpConnection {
            limits,
            state: State::Head,
            input: BytesMut::new(),
            output: Vec::new(),
            events: VecDeque::new(),
            eof: false,
            revoked_key: None,
        }
    }

    /// Refuses every `POST` that carries API key `key` (`Authorization: Bearer <key>`) with
    /// `401 invalid_api_key`, then closes, as the script's
    /// [`revoked_api_key`](super::Faults::revoked_api_key) asks; `None` refuses none.
    pub fn refusing_key(mut self, key: Option<String>) -> Self {
        self.revoked_key = key;
        self
    }

    /// Whether the driver should read the transport: while a request is being received, not
    /// while one is answered (backpressure reaches the client through TCP).
    pub fn is_reading(&self) -> bool {
        matches!(self.state, State::Head | State::Body { .. }) && !self.eof
    }

    /// Whether the connection is over: once [`poll_transmit`](Self::poll_transmit) is empty,
    /// close the transport (or, after [`HttpEvent::Upgrade`], leave it to the WebSocket).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done)
    }

    /// Takes received bytes. Can queue events and bytes to write.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.is_finished() {
            return;
        }
        self.input.extend_from_slice(bytes);
        self.advance();
    }

    /// The client ended its side: an unfinished request is dropped; an answer in progress
    /// still goes out, then the connection ends.
    pub fn handle_eof(&mut self) {
        self.eof = true;
        self.advance();
    }

    /// Sends the events that are due. Can queue bytes to write.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let State::Streaming(_) = self.state {
            self.stream(now);
        }
    }

    /// When the next SSE event is due. Made non-empty by [`answer`](Self::answer).
    pub fn poll_timeout(&self) -> Option<Instant> {
        match &self.state {
            State::Streaming(stream) => Some(stream.due),
            _ => None,
        }
    }

    /// The next thing to do for the driver. Made non-empty by
    /// [`handle_input`](Self::handle_input) and [`answer`](Self::answer) (pipelined requests).
    pub fn poll_event(&mut self) -> Option<HttpEvent> {
        self.events.pop_front()
    }

    /// Bytes to write. Made non-empty by every `handle_*` call and by [`answer`](Self::answer).
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        if self.output.is_empty() {
            return None;
        }
        Some(Bytes::from(core::mem::take(&mut self.output)))
    }

    /// Answers the request of the last [`HttpEvent::Create`] with `reply`, received at `now`
    /// (SSE delays count from then). Ignored when no request waits for an answer.
    pub fn answer(&mut self, reply: HttpReply, now: Instant) {
        let State::Answering {
            version,
            keep_alive,
        } = self.state
        else {
            return;
        };
        let keep_alive = keep_alive && !self.eof;
        match reply {
            HttpReply::Json(answer) => {
                self.write_json(&answer, keep_alive);
                // Unless the answer could not be written and was refused instead.
                if !self.is_finished() {
                    self.next_request(keep_alive);
                }
            }
            HttpReply::Stream(stream) => self.start_stream(stream, version, keep_alive, now),
        }
    }

    /// Moves through the buffered input as far as it goes.
    fn advance(&mut self) {
        loop {
            let progressed = match self.state {
                State::Head => self.read_head(),
                State::Body { .. } => self.read_body(),
                _ => false,
            };
            if !progressed {
                break;
            }
        }
        let waiting = matches!(self.state, State::Head | State::Body { .. });
        if waiting && self.eof {
            self.state = State::Done;
        }
    }

    /// Reads and routes a request head; true if the state changed.
    fn read_head(&mut self) -> bool {
        let (head, len) = match RequestHead::parse(&self.input, &self.limits) {
            Ok(Some(parsed)) => parsed,
            Ok(None) => return false,
            Err(error) => {
                self.refuse(Refusal::Http(error));
                return true;
            }
        };
        if !is_responses_path(&head.target) {
            self.refuse(Refusal::NotFound);
            return true;
        }
        match head.method.as_str() {
            "GET" => {
                let received = self.input.split().freeze();
                self.events.push_back(HttpEvent::Upgrade { received });
                self.state = State::Done;
            }
            "POST"
                if (self.revoked_key.as_deref())
                    .is_some_and(|key| carries_key(&head.headers, key)) =>
            {
                self.refuse(Refusal::RevokedKey)
            }
            "POST" => {
                let body = head
                    .body_kind()
                    .and_then(|kind| BodyDecoder::new(kind, &self.limits));
                match body {
                    Ok(body) => {
                        let _ = self.input.split_to(len);
                        self.state = State::Body {
                            continue_owed: head.expects_continue(),
                            head,
                            body,
                            received: Vec::new(),
                        };
                    }
                    Err(error) => self.refuse(Refusal::Http(error)),
                }
            }
            _ => self.refuse(Refusal::MethodNotAllowed),
        }
        true
    }

    /// Reads the body of a `POST`; true if the state changed.
    fn read_body(&mut self) -> bool {
        let State::Body {
            head,
            body,
            received,
            continue_owed,
        } = &mut self.state
        else {
            return false;
        };
        loop {
            match body.decode(&mut self.input) {
                Ok(Some(BodyPart::Data(data))) => received.extend_from_slice(&data),
                Ok(Some(BodyPart::End)) => break,
                Ok(None) => {
                    if core::mem::take(continue_owed) {
                        write_head(&mut self.output, &ResponseHead::new(100));
                    }
                    return false;
                }
                Err(error) => {
                    self.refuse(Refusal::Http(error));
                    return true;
                }
            }
        }
        let body = String::from_utf8_lossy(received).into_owned();
        self.state = State::Answering {
            version: head.version,
            keep_alive: head.keep_alive(),
        };
        self.events.push_back(HttpEvent::Create { body });
        true
    }

    /// After an answer: the next request on a kept connection, else the end.
    fn next_request(&mut self, keep_alive: bool) {
        if keep_alive {
            self.state = State::Head;
            self.advance();
        } else {
            self.state = State::Done;
        }
    }

    fn write_json(&mut self, answer: &HttpAnswer, keep_alive: bool) {
        let mut head = ResponseHead::new(answer.status);
        for (name, value) in &answer.headers {
            head = head.with_header(name.as_str(), value.as_str());
        }
        let head = head
            .with_header("content-length", format!("{}", answer.body.len()))
            .with_header("connection", connection(keep_alive));
        let mut out = Vec::new();
        if head.write(&mut out).is_err() {
            // A script's status outside 100–999 cannot be written: the mock's own fault, 500.
            self.refuse(Refusal::NoAnswer);
            return;
        }
        self.output.extend_from_slice(&out);
        self.output.extend_from_slice(answer.body.as_bytes());
    }

    fn start_stream(
        &mut self,
        stream: super::http::SseStream,
        version: Version,
        keep_alive: bool,
        now: Instant,
    ) {
        let encoder = BodyEncoder::for_version(version);
        let keep_alive = keep_alive && encoder.keeps_connection() && !stream.dropped;
        let mut head = ResponseHead::new(200)
            .with_header("content-type", "text/event-stream; charset=utf-8")
            .with_header("cache-control", "no-cache");
        if let Some((name, value)) = encoder.header() {
            head = head.with_header(name, value);
        }
        write_head(
            &mut self.output,
            &head.with_header("connection", connection(keep_alive)),
        );
        let events: VecDeque<SseEvent> = stream.events.into();
        let due = now + events.front().map(|event| event.delay).unwrap_or_default();
        self.state = State::Streaming(Stream {
            events,
            due,
            encoder,
            keep_alive,
            dropped: stream.dropped,
        });
        self.stream(now);
    }

    /// Writes every event due by `now` as one piece of the body; ends the body after the last.
    fn stream(&mut self, now: Instant) {
        let State::Streaming(stream) = &mut self.state else {
            return;
        };
        let mut batch = String::new();
        while stream.due <= now {
            let Some(event) = stream.events.pop_front() else {
                break;
            };
            batch.push_str(&event.to_sse());
            if let Some(next) = stream.events.front() {
                stream.due = stream.due + next.delay;
            }
        }
        stream.encoder.write(&mut self.output, batch.as_bytes());
        if !stream.events.is_empty() {
            return;
        }
        let keep_alive = stream.keep_alive;
        if !stream.dropped {
            stream.encoder.finish(&mut self.output);
        }
        self.next_request(keep_alive);
    }

    /// Answers with an error status and a JSON body shaped like the API's, then closes.
    fn refuse(&mut self, refusal: Refusal) {
        let mut answer = HttpAnswer::error(&refusal.error());
        if refusal == Refusal::MethodNotAllowed {
            answer.headers.push(("allow".into(), "GET, POST".into()));
        }
        let mut head = ResponseHead::new(answer.status);
        for (name, value) in answer.headers {
            head = head.with_header(name, value);
        }
        let head = head
            .with_header("content-length", format!("{}", answer.body.len()))
            .with_header("connection", "close");
        write_head(&mut self.output, &head);
        self.output.extend_from_slice(answer.body.as_bytes());
        self.state = State::Done;
    }
}

/// A request the connection answers itself, with an error, before closing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    /// The bytes broke HTTP, or a limit.
    Http(HttpError),
    NotFound,
    MethodNotAllowed,
    /// The responder gave no answer the connection knows how to send.
    NoAnswer,
    /// The request carries the revoked API key.
    RevokedKey,
}

impl Refusal {
    fn error(&self) -> Rejection {
        let (status, message) = match self {
            Refusal::Http(error) => (error.status(), format!("Bad HTTP request: {error}.")),
            Refusal::NotFound => (
                404,
                "Unknown path: this mock serves POST and WebSocket GET on /v1/responses.".into(),
            ),
            Refusal::MethodNotAllowed => (405, "Use POST, or GET with Upgrade: websocket.".into()),
            Refusal::NoAnswer => (500, "The mock has no answer for this request.".into()),
            Refusal::RevokedKey => return errors::unauthorized(),
        };
        api_error(status, "invalid_request_error", None, message, None)
    }
}

/// Whether the request target names the responses endpoint: any path ending in `/responses`
/// (an optional trailing `/`, the query and fragment ignored), as SDKs derive it from their
/// base URL.
fn is_responses_path(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_suffix('/').unwrap_or(path);
    path.ends_with("/responses")
}

/// The `connection` header value.
fn connection(keep_alive: bool) -> &'static str {
    if keep_alive {
        "keep-alive"
    } else {
        "close"
    }
}

/// Appends a head the mock built from its own names and values.
fn write_head(out: &mut Vec<u8>, head: &ResponseHead) {
    // Every name and value here is the mock's own constant text or a number: always valid.
    let _ = head.write(out);
}

#[cfg(test)]
mod tests {
    use super::is_responses_path;

    #[test]
    fn responses_paths_are_recognised() {
        for path in [
            "/v1/responses",
            "/responses",
            "/openai/v1/responses/",
            "/v1/responses?api-version=1",
        ] {
            assert!(is_responses_path(path), "{path}");
        }
        for path in [
            "/",
            "/v1/responses/resp_1",
            "/v1/chat/completions",
            "/v1/myresponses",
        ] {
            assert!(!is_responses_path(path), "{path}");
        }
    }
}
