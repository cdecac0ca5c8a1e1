//! One `POST /v1/responses` exchange of the HTTP + SSE transport, client side, sans-IO: the
//! request written, the answer read with the HTTP layer, and every event decoded to the same
//! [`ServerEvent`]s as over WebSocket. A refusal (4xx/5xx) becomes an [`ApiError`] with the
//! status and headers (`Retry-After` …). It never decides what to do next: retrying,
//! chaining and lanes belong to the caller.

mod error;
mod request;

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::{Bytes, BytesMut};

pub use error::ExchangeError;
pub use request::Target;

use super::{BodyDecoder, BodyPart, Limits, ResponseHead, SseParser};
use crate::wire::{ApiError, ResponseCreate, ServerEvent};

/// What an exchange reports, in order.
#[derive(Debug)]
#[non_exhaustive]
// Nearly every value is the large variant: boxing it would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum ExchangeEvent {
    /// The next server event of the stream, as its JSON text (the SSE event's data): read it
    /// with [`ServerEvent::from_str`], which borrows from it. The exchange reads only its
    /// `type`, to know when the response ends; an event whose `type` is not its first field
    /// is decoded, and one that does not decode breaks the exchange
    /// ([`ExchangeError::Decode`]).
    Event(String),
    /// The server refused the request: its error, with the answer's status and headers.
    Rejected(Box<ApiError>),
    /// The exchange broke; nothing follows.
    Failed(ExchangeError),
}

/// Where the answer is.
#[derive(Debug)]
enum State {
    /// Before the (final) response head.
    Head,
    /// Reading a `2xx` event stream.
    Events {
        body: BodyDecoder,
        parser: SseParser,
        keep_alive: bool,
        /// A terminal event (`response.completed`, `.failed`, `.incomplete`) was read.
        terminal: bool,
    },
    /// Reading the body of a refusal.
    Refusal {
        head: ResponseHead,
        body: BodyDecoder,
        received: Vec<u8>,
    },
    /// Over; `reusable` when the connection can carry another request.
    Done { reusable: bool },
}

/// One create request over HTTP/1.1 with `stream: true`, and its answer.
///
/// Driving contract: send [`poll_transmit`](Self::poll_transmit)'s bytes, feed what arrives to
/// [`handle_input`](Self::handle_input) (and the end of the transport to
/// [`handle_eof`](Self::handle_eof)), drain [`poll_event`](Self::poll_event) after each, until
/// [`is_finished`](Self::is_finished). No timers: idle and connect timeouts are the caller's.
///
/// ```
/// use responses_ws_core::http::{Exchange, ExchangeEvent, Target};
/// use responses_ws_core::wire::{ResponseCreate, ServerEvent};
///
/// let create = ResponseCreate { model: Some("gpt-5.5".into()), input: Some("Hi".into()), ..Default::default() };
/// let mut exchange = Exchange::new(&Target::new("api.openai.com", "/v1/responses"), &create)?;
/// let request = exchange.poll_transmit().expect("the request");
/// assert!(request.starts_with(b"POST /v1/responses HTTP/1.1\r\nHost: api.openai.com\r\n"));
/// assert!(request.ends_with(br#""stream":true}"#));
///
/// exchange.handle_input(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n");
/// let event = "event: response.completed\ndata: {\"type\":\"response.completed\",\"sequence_number\":0,\
///              \"response\":{\"id\":\"resp_1\",\"object\":\"response\",\"status\":\"completed\",\"output\":[]}}\n\n";
/// exchange.handle_input(format!("{:x}\r\n{event}\r\n0\r\n\r\n", event.len()).as_bytes());
/// let Some(ExchangeEvent::Event(event)) = exchange.poll_event() else { panic!("no event") };
/// assert!(ServerEvent::from_str(&event)?.is_terminal());
/// assert!(exchange.is_finished() && exchange.is_reusable());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Exchange {
    limits: Limits,
    request: Option<Bytes>,
    input: BytesMut,
    state: State,
    events: VecDeque<ExchangeEvent>,
}

impl Exchange {
    /// An exchange for `create` at `target` with the default [`Limits`].
    pub fn new(target: &Target, create: &ResponseCreate) -> Result<Self, ExchangeError> {
        Exchange::with_limits(target, create, Limits::default())
    }

    /// An exchange bounded by `limits`.
    pub fn with_limits(
        target: &Target,
        create: &ResponseCreate,
        limits: Limits,
    ) -> Result<Self, ExchangeError> {
        Ok(Exchange {
            limits,
            request: Some(Bytes::from(request::write(target, create)?)),
            input: BytesMut::new(),
            state: State::Head,
            events: VecDeque::new(),
        })
    }

    /// The request, once. Non-empty only right after construction.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.request.take()
    }

    /// The next thing the answer told. Made non-empty by [`handle_input`](Self::handle_input)
    /// and [`handle_eof`](Self::handle_eof).
    pub fn poll_event(&mut self) -> Option<ExchangeEvent> {
        self.events.pop_front()
    }

    /// Whether the answer is over (every event was queued).
    pub fn is_finished(&self) -> bool {
        matches!(self.state, State::Done { .. })
    }

    /// Whether the connection can carry the next request: the answer ended by its own
    /// framing, on a kept-alive connection, with no stray bytes after it.
    pub fn is_reusable(&self) -> bool {
        matches!(self.state, State::Done { reusable: true })
    }

    /// Takes received bytes.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if self.is_finished() {
            return;
        }
        self.input.extend_from_slice(bytes);
        if let Err(error) = self.advance(false) {
            self.fail(error);
        }
    }

    /// The transport ended.
    pub fn handle_eof(&mut self) {
        if self.is_finished() {
            return;
        }
        if let Err(error) = self.advance(true) {
            self.fail(error);
        }
    }

    fn fail(&mut self, error: ExchangeError) {
        self.events.push_back(ExchangeEvent::Failed(error));
        self.state = State::Done { reusable: false };
    }

    /// Reads as far as the input goes; `eof` when nothing more will come.
    fn advance(&mut self, eof: bool) -> Result<(), ExchangeError> {
        loop {
            match &mut self.state {
                State::Head => {
                    let Some((head, len)) = ResponseHead::parse(&self.input, &self.limits)? else {
                        return match eof {
                            true => Err(super::HttpError::UnexpectedEof.into()),
                            false => Ok(()),
                        };
                    };
                    let _ = self.input.split_to(len);
                    self.state = self.after_head(head)?;
                }
                State::Events {
                    body,
                    parser,
                    keep_alive,
                    terminal,
                } => {
                    let ended = read_body(body, &mut self.input, eof, |data| {
                        let mut data = &data[..];
                        while let Some(event) = parser.next_event(&mut data)? {
                            *terminal |= ServerEvent::ends_response(&event.data)
                                .map_err(ExchangeError::Decode)?;
                            self.events.push_back(ExchangeEvent::Event(event.data));
                        }
                        Ok(())
                    });
                    // A transport that ends after the terminal event lost nothing; before it,
                    // the response is cut.
                    let ended = match ended {
                        Err(ExchangeError::Http(super::HttpError::UnexpectedEof)) => {
                            Some(Ended::WithTransport)
                        }
                        ended => ended?,
                    };
                    let Some(by_framing) = ended else {
                        return Ok(());
                    };
                    if !*terminal {
                        return Err(ExchangeError::Truncated);
                    }
                    let reusable =
                        by_framing == Ended::ByFraming && *keep_alive && self.input.is_empty();
                    self.state = State::Done { reusable };
                }
                State::Refusal {
                    head,
                    body,
                    received,
                } => {
                    let ended = read_body(body, &mut self.input, eof, |data| {
                        received.extend_from_slice(&data);
                        Ok(())
                    });
                    // A refusal cut short still says what it refused.
                    let reusable = match ended {
                        Ok(None) if !eof => return Ok(()),
                        Ok(Some(Ended::ByFraming)) => head.keep_alive() && self.input.is_empty(),
                        _ => false,
                    };
                    let error = refusal(head, received);
                    self.events.push_back(ExchangeEvent::Rejected(error));
                    self.state = State::Done { reusable };
                }
                State::Done { .. } => return Ok(()),
            }
        }
    }

    /// What follows a response head: an event stream, a refusal, or (1xx) another head.
    fn after_head(&self, head: ResponseHead) -> Result<State, ExchangeError> {
        if (100..200).contains(&head.status) && head.status != 101 {
            return Ok(State::Head);
        }
        let body = BodyDecoder::new(head.body_kind("POST")?, &self.limits)?;
        if !(200..300).contains(&head.status) {
            return Ok(State::Refusal {
                head,
                body,
                received: Vec::new(),
            });
        }
        let streams = head.header("content-type").is_some_and(|value| {
            value
                .trim_start()
                .get(..17)
                .is_some_and(|kind| kind.eq_ignore_ascii_case("text/event-stream"))
        });
        if !streams {
            return Err(ExchangeError::NotAnEventStream);
        }
        Ok(State::Events {
            body,
            parser: SseParser::new(&self.limits),
            keep_alive: head.keep_alive(),
            terminal: false,
        })
    }
}

/// How a body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// By its own framing: the connection may carry more.
    ByFraming,
    /// With the transport.
    WithTransport,
}

/// Hands the body's data to `take` as far as the input goes: how the body ended, or `None`
/// while it goes on.
fn read_body(
    body: &mut BodyDecoder,
    input: &mut BytesMut,
    eof: bool,
    mut take: impl FnMut(Bytes) -> Result<(), ExchangeError>,
) -> Result<Option<Ended>, ExchangeError> {
    while let Some(part) = body.decode(input)? {
        match part {
            BodyPart::Data(data) => take(data)?,
            BodyPart::End => return Ok(Some(Ended::ByFraming)),
        }
    }
    if !eof {
        return Ok(None);
    }
    Ok(body.handle_eof()?.map(|_| Ended::WithTransport))
}

/// The error a refusal carries: its JSON body read leniently (or its text as the message),
/// with the answer's status and headers.
fn refusal(head: &ResponseHead, body: &[u8]) -> Box<ApiError> {
    let mut error: ApiError = serde_json::from_slice(body).unwrap_or_else(|_| ApiError {
        message: String::from_utf8_lossy(body).into_owned(),
        ..ApiError::default()
    });
    error.status = Some(head.status);
    for header in &head.headers {
        if let Some(value) = header.value_str() {
            let name = header.name.to_ascii_lowercase();
            error.headers.entry(name).or_insert_with(|| value.into());
        }
    }
    Box::new(error)
}
