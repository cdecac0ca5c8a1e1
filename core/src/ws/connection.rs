//! The WebSocket connection machine: one state for the whole life of a connection, from the
//! opening handshake through messages to the close handshake, for either role.
//!
//! Driving contract (as in quinn-proto and str0m): after any input — [`Connection::commit_input`]
//! / [`Connection::handle_input`], [`Connection::handle_eof`], [`Connection::handle_timeout`] or an
//! API call — drain [`Connection::poll_event`] (which reads buffered frames lazily, one event
//! at a time, and may queue pongs and closes) and then [`Connection::poll_transmit`], until both
//! are empty, then arm a timer for [`Connection::poll_timeout`]. When [`Connection::is_finished`] says
//! so, close the transport. The machine never reads a clock, a socket or the OS RNG.
//!
//! States and transitions (the only places `state` changes are `open`, `begin_close`, `finish`):
//!
//! ```text
//! Handshake ──101 / accept()──▶ Open ──close()──▶ CloseSent ──peer close / EOF / timeout──▶ Closed
//!     │                          │  peer close: echo it ───────────────────────────────────▶ Closed
//!     │                          │  protocol error: send close(code), fail ────────────────▶ Closed
//!     └── refused / bad answer / EOF / timeout ───────────────────────────────────────────▶ Closed
//! ```

use super::close::{CloseCode, CloseFrame};
use super::config::Config;
#[cfg(feature = "deflate")]
use super::deflate::codec::Deflater;
#[cfg(feature = "deflate")]
use super::deflate::idle::IdleRelease;
use super::deflate::{negotiate, DeflateParams};
use super::error::{Error, ProtocolError, SendError};
use super::frame::{OpCode, MAX_CONTROL_PAYLOAD};
use super::handshake::client::{ClientHandshake, ResponseLimits, ResponseProgress};
use super::handshake::{server, HandshakeError, Header, RequestHead};
use super::message::{Message, MessageKind};
use super::reader::{FrameReader, Inbound};
use super::rng::MaskRng;
use super::url::WsUrl;
use super::utf8::{Utf8Bytes, Utf8Validator};
use crate::time::Instant;
use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec::Vec;
use bytes::Bytes;

/// Which end of the connection this machine plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Opens the connection and masks every frame it sends.
    Client,
    /// Accepts the connection; its frames are not masked.
    Server,
}

impl Role {
    fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// What the connection reports to the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// Server role: a valid upgrade request arrived; answer with [`Connection::accept`] or
    /// [`Connection::reject`].
    Request(RequestHead),
    /// The handshake succeeded. For a client, the headers of the server's `101` answer; for a
    /// server, empty.
    Open {
        /// Headers of the `101` response (client role).
        headers: Vec<Header>,
    },
    /// A complete data message.
    Message(Message),
    /// A ping arrived (already answered when [`Config::auto_pong`] is on).
    Ping(Bytes),
    /// A pong arrived.
    Pong(Bytes),
    /// The connection is closed: always the last event, exactly once. Once
    /// [`Connection::poll_transmit`] is empty the transport may be closed.
    Closed(Closed),
}

/// How a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Closed {
    /// The code the peer sent: [`CloseCode::NO_STATUS`] for a close frame without one,
    /// [`CloseCode::ABNORMAL`] when no close frame arrived.
    pub code: CloseCode,
    /// The reason the peer gave.
    pub reason: Utf8Bytes,
    /// The code of the close frame we sent, if we sent one.
    pub sent_code: Option<CloseCode>,
    /// Whether close frames went both ways.
    pub clean: bool,
    /// What went wrong, if anything did.
    pub error: Option<Error>,
}

/// Where the connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// The opening handshake is in progress.
    Handshake,
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    CloseSent,
    /// The WebSocket is closed; the transport may be closed once output is flushed.
    Closed,
}

#[derive(Debug)]
enum Phase {
    /// Client: waiting for the answer to our request.
    ClientHandshake(Box<ClientHandshake>),
    /// Server: waiting for a complete request.
    AwaitingRequest,
    /// Server: the application is deciding about this request.
    AwaitingDecision(Box<RequestHead>),
    Open,
    CloseSent,
    Closed,
}

/// A fragmented message being sent.
#[derive(Debug)]
struct OutgoingFragments {
    kind: MessageKind,
    utf8: Utf8Validator,
}

/// A WebSocket connection, client or server role, as a pure state machine.
///
/// ```
/// use responses_ws_core::ws::{Config, Connection, Event, Message, WsUrl};
/// use responses_ws_core::Instant;
///
/// let now = Instant::ZERO;
/// let url = WsUrl::parse("ws://127.0.0.1:9001/").unwrap();
/// let mut client = Connection::client(&url, &[], Config::default(), [1; 32], now).unwrap();
/// let mut server = Connection::server(Config::default(), [2; 32], now);
///
/// // Move bytes between the two until both are quiet, as a driver would with sockets (a real
/// // driver also takes events as they come, which lets the core read on and answer pings).
/// fn pump(a: &mut Connection, b: &mut Connection, now: Instant) {
///     loop {
///         let mut moved = false;
///         while let Some(chunk) = a.poll_transmit() { b.handle_input(&chunk, now); moved = true; }
///         while let Some(chunk) = b.poll_transmit() { a.handle_input(&chunk, now); moved = true; }
///         if !moved { break; }
///     }
/// }
///
/// pump(&mut client, &mut server, now);
/// let Some(Event::Request(request)) = server.poll_event() else { panic!() };
/// assert_eq!(request.path, "/");
/// server.accept(&[]).unwrap();
/// pump(&mut client, &mut server, now);
/// assert!(matches!(client.poll_event(), Some(Event::Open { .. })));
///
/// client.send_text("hello").unwrap();
/// pump(&mut client, &mut server, now);
/// assert!(matches!(server.poll_event(), Some(Event::Open { .. })));
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::from("hello"))));
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    phase: Phase,
    reader: FrameReader,
    writer: crate::ws::writer::FrameWriter,
    events: VecDeque<Event>,
    outgoing: Option<OutgoingFragments>,
    /// Latest time the driver told us about.
    now: Instant,
    /// When the handshake must be done by (handshake phases only).
    handshake_deadline: Option<Instant>,
    /// When something last arrived from the peer.
    last_received: Instant,
    /// Set while a keepalive ping is unanswered: the peer is dead if nothing arrives by then.
    pong_deadline: Option<Instant>,
    /// When the peer must have answered our close (CloseSent); once closed, when bytes
    /// still queued for a peer that takes nothing are given up (so that no driver waits on
    /// a write that never completes).
    close_deadline: Option<Instant>,
    sent_close: Option<CloseCode>,
    keepalive_pings: u64,
    /// The permessage-deflate parameters agreed in the handshake.
    deflate: Option<DeflateParams>,
    /// Compresses the data messages we send, once permessage-deflate is agreed.
    #[cfg(feature = "deflate")]
    deflater: Option<Deflater>,
    /// When the compression state of a quiet connection goes: restarted by every data
    /// message sent or received.
    #[cfg(feature = "deflate")]
    idle_release: IdleRelease,
}

impl Connection {
    /// A client connection to `url`: the upgrade request, with the caller's `headers`
    /// (`Authorization`, `OpenAI-Beta` …), is queued for [`poll_transmit`](Self::poll_transmit).
    ///
    /// `seed` is 32 bytes of randomness (adapters take them from the OS); it seeds the
    /// `Sec-WebSocket-Key` and the masking keys.
    pub fn client(
        url: &WsUrl,
        headers: &[(String, String)],
        config: Config,
        seed: [u8; 32],
        now: Instant,
    ) -> Result<Connection, HandshakeError> {
        let mut rng = MaskRng::new(seed);
        let limits = ResponseLimits {
            max_head: config.max_handshake_head,
            max_headers: config.max_handshake_headers,
            max_body: config.max_refusal_body,
        };
        let (handshake, request) =
            ClientHandshake::start(url, headers, rng.nonce(), limits, &config.deflate)?;
        let mut conn = Connection::new(
            Role::Client,
            config,
            rng,
            now,
            Phase::ClientHandshake(Box::new(handshake)),
        );
        conn.writer.push_raw(request);
        Ok(conn)
    }

    /// A server connection waiting for an upgrade request. `seed` is unused by the server's own
    /// frames (they are not masked) but keeps the constructor shape of the client.
    pub fn server(config: Config, seed: [u8; 32], now: Instant) -> Connection {
        Connection::new(
            Role::Server,
            config,
            MaskRng::new(seed),
            now,
            Phase::AwaitingRequest,
        )
    }

    fn new(role: Role, config: Config, rng: MaskRng, now: Instant, phase: Phase) -> Connection {
        Connection {
            role,
            reader: FrameReader::new(
                role.peer(),
                config.max_frame_payload,
                config.max_message_size,
            ),
            writer: crate::ws::writer::FrameWriter::new(role, rng),
            handshake_deadline: config.handshake_timeout.map(|t| now + t),
            #[cfg(feature = "deflate")]
            idle_release: IdleRelease::new(config.deflate.release_after, now),
            config,
            phase,
            events: VecDeque::new(),
            outgoing: None,
            now,
            last_received: now,
            pong_deadline: None,
            close_deadline: None,
            sent_close: None,
            keepalive_pings: 0,
            deflate: None,
            #[cfg(feature = "deflate")]
            deflater: None,
        }
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Where the connection stands.
    pub fn state(&self) -> State {
        match self.phase {
            Phase::ClientHandshake(_) | Phase::AwaitingRequest | Phase::AwaitingDecision(_) => {
                State::Handshake
            }
            Phase::Open => State::Open,
            Phase::CloseSent => State::CloseSent,
            Phase::Closed => State::Closed,
        }
    }

    /// The permessage-deflate parameters agreed in the handshake; `None` when messages are not
    /// compressed (not offered, declined, or the handshake is not done).
    pub fn deflate(&self) -> Option<DeflateParams> {
        self.deflate
    }

    /// Whether the connection is closed and every queued byte has been taken: the driver may
    /// close the transport.
    pub fn is_finished(&self) -> bool {
        matches!(self.phase, Phase::Closed) && self.writer.is_empty()
    }

    // ---------------------------------------------------------------- inputs

    /// Free space to read transport bytes into; report how many arrived with
    /// [`commit_input`](Self::commit_input). Reading here avoids one copy: a message that
    /// arrives whole in one read is delivered as a slice of this buffer.
    pub fn input_buffer(&mut self) -> &mut [u8] {
        self.reader.spare()
    }

    /// `n` bytes were read into [`input_buffer`](Self::input_buffer). May queue events, output
    /// and a new deadline.
    pub fn commit_input(&mut self, n: usize, now: Instant) {
        self.reader.commit(n);
        self.received(n, now);
    }

    /// Copies received transport bytes in. May queue events, output and a new deadline.
    pub fn handle_input(&mut self, data: &[u8], now: Instant) {
        self.reader.extend(data);
        self.received(data.len(), now);
    }

    /// Gives back the read buffer when it holds no received byte; the next
    /// [`input_buffer`](Self::input_buffer) allocates one again. A driver calls it when a read
    /// finds nothing to read, so that a connection waiting for the peer holds no read buffer
    /// (at least 16 KiB).
    pub fn release_input_buffer(&mut self) {
        self.reader.release_buffer();
    }

    /// Gives back the memory a quiet connection can rebuild when it is next needed: its
    /// buffers (as [`release_buffers`](Self::release_buffers) does) and, at once, its
    /// permessage-deflate state, which the connection otherwise frees by itself once quiet
    /// for [`DeflateConfig::release_after`](super::DeflateConfig::release_after): the
    /// compressor between messages (the next message we send is then compressed without
    /// reference to earlier ones, which RFC 7692 always allows) and the inflater's state when
    /// no message is arriving (it keeps only the peer's window of decompressed bytes, and
    /// nothing when the peer agreed to compress every message alone).
    /// Nothing else changes: call it when the connection is known to stay quiet.
    ///
    /// ```
    /// use responses_ws_core::ws::{Config, Connection, WsUrl};
    /// use responses_ws_core::Instant;
    ///
    /// let url = WsUrl::parse("ws://127.0.0.1:9001/")?;
    /// let mut client = Connection::client(&url, &[], Config::default(), [1; 32], Instant::ZERO)?;
    /// client.release_idle_memory();
    /// assert!(client.poll_transmit().is_some(), "the upgrade request is kept");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_idle_memory(&mut self) {
        self.release_buffers();
        #[cfg(feature = "deflate")]
        self.release_deflate_state();
    }

    /// Gives back the buffers a quiet connection can rebuild when it is next needed: the
    /// read buffer when it holds no received byte, the write buffers when nothing waits to be
    /// written, the empty event queue's capacity. Unlike
    /// [`release_idle_memory`](Self::release_idle_memory) it leaves the compression state to
    /// its timer, so that a connection quiet for a moment between two messages does not free
    /// and rebuild it.
    ///
    /// ```
    /// use responses_ws_core::ws::{Config, Connection, WsUrl};
    /// use responses_ws_core::Instant;
    ///
    /// let url = WsUrl::parse("ws://127.0.0.1:9001/")?;
    /// let mut client = Connection::client(&url, &[], Config::default(), [1; 32], Instant::ZERO)?;
    /// client.release_buffers();
    /// assert!(client.poll_transmit().is_some(), "the upgrade request is kept");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn release_buffers(&mut self) {
        self.reader.release_buffer();
        self.writer.release();
        if self.events.is_empty() {
            self.events = VecDeque::new();
        }
    }

    /// Frees the compressor and the inflater's state, each unless a message is in progress.
    #[cfg(feature = "deflate")]
    fn release_deflate_state(&mut self) {
        if let Some(deflater) = &mut self.deflater {
            // The compressor packs the inflater's history on its way out.
            let spare = deflater.release();
            self.reader.release_inflater(spare);
        }
    }

    /// Whether the compressor or the inflater's state is allocated.
    #[cfg(feature = "deflate")]
    fn holds_deflate_state(&self) -> bool {
        self.deflater.as_ref().is_some_and(Deflater::is_allocated)
            || self.reader.inflater_allocated()
    }

    /// When the compression state goes, if it is held and nothing uses it first.
    fn deflate_release_deadline(&self) -> Option<Instant> {
        #[cfg(feature = "deflate")]
        if self.holds_deflate_state() {
            return self.idle_release.deadline(self.now);
        }
        None
    }

    /// A data message arrived (with the input of `self.now`): the compression state is in use.
    fn data_received(&mut self) {
        #[cfg(feature = "deflate")]
        self.idle_release.received(self.now);
    }

    fn received(&mut self, n: usize, now: Instant) {
        self.now = now;
        #[cfg(feature = "deflate")]
        self.idle_release.tick(now);
        if n > 0 {
            self.last_received = now;
            self.pong_deadline = None;
        }
        self.process_input();
    }

    /// The transport reached end of file (the peer closed it). Queues the closing event.
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        let error = match &mut self.phase {
            Phase::Closed => return,
            Phase::ClientHandshake(hs) => match hs.read_eof(self.reader.buffered()) {
                Ok(response) => HandshakeError::Rejected(response),
                Err(e) => e,
            }
            .into(),
            Phase::AwaitingRequest | Phase::AwaitingDecision(_) => {
                HandshakeError::UnexpectedEof.into()
            }
            Phase::Open | Phase::CloseSent => {
                // Frames that arrived before the end still count (a close frame among them).
                self.process_frames(ReadUntil::Exhausted);
                if matches!(self.phase, Phase::Closed) {
                    return;
                }
                Error::ConnectionLost
            }
        };
        self.finish(None, Some(error));
    }

    /// Time has reached `now`: fires the deadlines that are due (handshake, keepalive ping, pong,
    /// close). May queue output and events.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        let due = |deadline: Option<Instant>| deadline.is_some_and(|d| d <= now);
        match self.phase {
            Phase::ClientHandshake(_) | Phase::AwaitingRequest | Phase::AwaitingDecision(_) => {
                if due(self.handshake_deadline) {
                    self.finish(None, Some(Error::HandshakeTimeout));
                }
            }
            Phase::Open => {
                if due(self.pong_deadline) {
                    self.finish(None, Some(Error::PeerTimeout));
                } else if due(self.keepalive_deadline()) {
                    self.keepalive_pings += 1;
                    let payload = Bytes::copy_from_slice(&self.keepalive_pings.to_be_bytes());
                    self.writer.push_frame(true, OpCode::Ping, payload);
                    self.pong_deadline = Some(now + self.config.pong_timeout);
                }
                #[cfg(feature = "deflate")]
                if self.holds_deflate_state() && self.idle_release.fire(now) {
                    self.release_deflate_state();
                }
            }
            Phase::CloseSent => {
                if due(self.close_deadline) {
                    self.finish(None, Some(Error::CloseTimeout));
                }
            }
            Phase::Closed => {
                if due(self.close_deadline) {
                    self.writer.discard();
                }
            }
        }
    }

    fn keepalive_deadline(&self) -> Option<Instant> {
        match self.pong_deadline {
            Some(_) => None,
            None => self
                .config
                .keepalive_interval
                .map(|i| self.last_received + i),
        }
    }

    // ---------------------------------------------------------------- outputs

    /// The next bytes to write to the transport, in order. Non-empty after the constructor
    /// (client request), any input, a timeout, or a send/accept/reject/close call.
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.writer.poll()
    }

    /// The next event for the application. Non-empty after input, EOF, a timeout or a call that
    /// ends the connection.
    ///
    /// Frames are read lazily, here: one event at a time, so that whatever the application
    /// sends in reply to a message (or the pong owed for a ping) is queued before the core
    /// even looks at the frames that follow, such as a broken one that fails the connection.
    /// This call may therefore queue output: drain [`poll_transmit`](Self::poll_transmit)
    /// after it.
    pub fn poll_event(&mut self) -> Option<Event> {
        if self.events.is_empty() && matches!(self.phase, Phase::Open) {
            // The common case, a data message while open, goes to the caller without the queue.
            match self.reader.next() {
                Ok(Some(Inbound::Message(message))) => {
                    self.data_received();
                    return Some(Event::Message(message));
                }
                Ok(Some(item)) => self.on_inbound(item),
                Ok(None) => return None,
                Err(e) => self.fail(e),
            }
        }
        if self.events.is_empty() {
            self.process_frames(ReadUntil::OneEvent);
        }
        self.events.pop_front()
    }

    /// The next deadline at which [`handle_timeout`](Self::handle_timeout) must be called, if any.
    /// Changes after any input, timeout or API call.
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.phase {
            Phase::ClientHandshake(_) | Phase::AwaitingRequest | Phase::AwaitingDecision(_) => {
                self.handshake_deadline
            }
            Phase::Open => {
                let keepalive = self.pong_deadline.or_else(|| self.keepalive_deadline());
                [keepalive, self.deflate_release_deadline()]
                    .into_iter()
                    .flatten()
                    .min()
            }
            Phase::CloseSent => self.close_deadline,
            Phase::Closed => self.close_deadline.filter(|_| !self.writer.is_empty()),
        }
    }

    /// Bytes queued for the transport and not yet taken by `poll_transmit`.
    pub fn queued_bytes(&self) -> usize {
        self.writer.queued()
    }

    // ---------------------------------------------------------------- server handshake

    /// Server role: accepts the pending [`Event::Request`], answering `101` with extra `headers`.
    pub fn accept(&mut self, headers: &[(String, String)]) -> Result<(), HandshakeError> {
        let Phase::AwaitingDecision(request) = &self.phase else {
            return Err(HandshakeError::MalformedHttp(
                "no upgrade request is waiting for a decision",
            ));
        };
        let deflate = negotiate::accept(&request.headers, &self.config.deflate);
        let extensions = deflate.as_ref().map(|(_, answer)| answer.as_str());
        let answer = server::accept_response(request, extensions, headers)?;
        self.writer.push_raw(answer);
        self.start_deflate(deflate.map(|(params, _)| params));
        self.open(Vec::new());
        self.process_input();
        Ok(())
    }

    /// Server role: refuses the pending [`Event::Request`] with an HTTP `status`, `headers` and
    /// `body` (for example 401 with a JSON error). The connection then closes.
    pub fn reject(
        &mut self,
        status: u16,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(), HandshakeError> {
        if !matches!(self.phase, Phase::AwaitingDecision(_)) {
            return Err(HandshakeError::MalformedHttp(
                "no upgrade request is waiting for a decision",
            ));
        }
        let answer = server::refusal_response(status, headers, body)?;
        self.writer.push_raw(answer);
        let error = HandshakeError::RequestRefused {
            status,
            reason: "refused by the application",
        };
        self.finish(None, Some(error.into()));
        Ok(())
    }

    // ---------------------------------------------------------------- sending

    /// Queues a whole message.
    pub fn send(&mut self, message: Message) -> Result<(), SendError> {
        if self.outgoing.is_some() {
            return Err(SendError::FragmentOutOfOrder);
        }
        let (opcode, payload) = match message {
            Message::Text(t) => (OpCode::Text, t.into_bytes()),
            Message::Binary(b) => (OpCode::Binary, b),
        };
        self.check_room(payload.len())?;
        self.push_data(true, opcode, payload);
        Ok(())
    }

    /// Queues a data frame, compressed when permessage-deflate is agreed (RSV1 on a message's
    /// first frame only) unless it is a whole message shorter than
    /// [`DeflateConfig::min_compress_len`](super::DeflateConfig::min_compress_len).
    fn push_data(&mut self, fin: bool, opcode: OpCode, payload: Bytes) {
        #[cfg(feature = "deflate")]
        if let Some(deflater) = &mut self.deflater {
            self.idle_release.sent();
            let first = opcode != OpCode::Continuation;
            let short = fin && first && payload.len() < self.config.deflate.min_compress_len;
            if !short {
                let compressed = deflater.compress(&payload, fin);
                return self.writer.push_data_frame(fin, first, opcode, compressed);
            }
        }
        self.writer.push_frame(fin, opcode, payload);
    }

    /// Queues a text message.
    pub fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), SendError> {
        self.send(Message::Text(text.into()))
    }

    /// Queues a binary message.
    pub fn send_binary(&mut self, bytes: impl Into<Bytes>) -> Result<(), SendError> {
        self.send(Message::Binary(bytes.into()))
    }

    /// Queues one fragment of a message of `kind`; `fin` marks the last. Fragments of a text
    /// message are checked to form valid UTF-8 together. Control frames and pings may be sent
    /// between fragments; other messages may not.
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        payload: impl Into<Bytes>,
        fin: bool,
    ) -> Result<(), SendError> {
        let payload = payload.into();
        let opcode = match &self.outgoing {
            None => match kind {
                MessageKind::Text => OpCode::Text,
                MessageKind::Binary => OpCode::Binary,
            },
            Some(o) if o.kind == kind => OpCode::Continuation,
            Some(_) => return Err(SendError::FragmentOutOfOrder),
        };
        self.check_room(payload.len())?;
        let state = self.outgoing.get_or_insert(OutgoingFragments {
            kind,
            utf8: Utf8Validator::default(),
        });
        if kind == MessageKind::Text {
            let mut check = state.utf8.clone();
            check.feed(&payload).map_err(|_| SendError::InvalidUtf8)?;
            if fin {
                check.finish().map_err(|_| SendError::InvalidUtf8)?;
            }
            state.utf8 = check;
        }
        if fin {
            self.outgoing = None;
        }
        self.push_data(fin, opcode, payload);
        Ok(())
    }

    /// Queues a ping (payload at most 125 bytes).
    pub fn send_ping(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::Ping, payload.into())
    }

    /// Queues a pong (payload at most 125 bytes); needed only when `auto_pong` is off.
    pub fn send_pong(&mut self, payload: impl Into<Bytes>) -> Result<(), SendError> {
        self.send_control(OpCode::Pong, payload.into())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes) -> Result<(), SendError> {
        if !matches!(self.phase, Phase::Open) {
            return Err(SendError::NotOpen);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(SendError::ControlPayloadTooLong);
        }
        self.writer.push_frame(true, opcode, payload);
        Ok(())
    }

    /// Starts the close handshake with `code` and `reason` (cut to 123 bytes). Received data
    /// messages are ignored from now on; [`Event::Closed`] follows the peer's answer, EOF, or the
    /// close timeout.
    pub fn close(&mut self, code: CloseCode, reason: &str, now: Instant) -> Result<(), SendError> {
        if !code.is_sendable() {
            return Err(SendError::InvalidCloseCode(code.0));
        }
        if !matches!(self.phase, Phase::Open) {
            return Err(SendError::NotOpen);
        }
        self.now = now;
        self.send_close(CloseFrame::new(code, reason));
        self.phase = Phase::CloseSent;
        self.close_deadline = Some(now + self.config.close_timeout);
        Ok(())
    }

    fn check_room(&self, len: usize) -> Result<(), SendError> {
        if !matches!(self.phase, Phase::Open) {
            return Err(SendError::NotOpen);
        }
        let queued = self.writer.queued();
        let limit = self.config.max_outbound_queue;
        if queued > 0 && queued + len > limit {
            return Err(SendError::QueueFull { queued, limit });
        }
        Ok(())
    }

    fn send_close(&mut self, frame: CloseFrame) {
        self.sent_close = Some(frame.code);
        self.writer
            .push_frame(true, OpCode::Close, frame.to_payload());
    }

    // ---------------------------------------------------------------- processing

    fn process_input(&mut self) {
        loop {
            match &mut self.phase {
                Phase::ClientHandshake(hs) => match hs.read_response(self.reader.buffered()) {
                    Ok(ResponseProgress::Incomplete) => return,
                    Ok(ResponseProgress::Upgraded {
                        head_len,
                        headers,
                        deflate,
                    }) => {
                        self.reader.consume(head_len);
                        self.start_deflate(deflate);
                        self.open(headers);
                    }
                    Ok(ResponseProgress::Refused(response)) => {
                        return self.finish(None, Some(HandshakeError::Rejected(response).into()));
                    }
                    Err(e) => return self.finish(None, Some(e.into())),
                },
                Phase::AwaitingRequest => {
                    let (max_head, max_headers) = (
                        self.config.max_handshake_head,
                        self.config.max_handshake_headers,
                    );
                    match server::read_request(self.reader.buffered(), max_head, max_headers) {
                        Ok(None) => return,
                        Ok(Some((request, head_len))) => {
                            self.reader.consume(head_len);
                            self.events.push_back(Event::Request(request.clone()));
                            self.phase = Phase::AwaitingDecision(Box::new(request));
                        }
                        Err(refusal) => {
                            if let Ok(answer) = server::refusal_response(
                                refusal.status,
                                &[],
                                refusal.reason.as_bytes(),
                            ) {
                                self.writer.push_raw(answer);
                            }
                            return self.finish(None, Some(HandshakeError::from(refusal).into()));
                        }
                    }
                }
                // Frames wait for `poll_event`.
                Phase::AwaitingDecision(_) | Phase::Closed | Phase::Open | Phase::CloseSent => {
                    return
                }
            }
        }
    }

    /// Reads buffered frames until `until` is met, the buffer holds no whole frame, or the
    /// connection is closed.
    fn process_frames(&mut self, until: ReadUntil) {
        if !matches!(self.phase, Phase::Open | Phase::CloseSent) {
            return;
        }
        loop {
            if until == ReadUntil::OneEvent && !self.events.is_empty() {
                return;
            }
            match self.reader.next() {
                Ok(None) => return,
                Ok(Some(item)) => self.on_inbound(item),
                Err(e) => return self.fail(e),
            }
            if matches!(self.phase, Phase::Closed) {
                return;
            }
        }
    }

    fn on_inbound(&mut self, item: Inbound) {
        let closing = matches!(self.phase, Phase::CloseSent);
        match item {
            // After our close frame, data is ignored (RFC 6455 §1.4).
            Inbound::Message(_) | Inbound::Ping(_) | Inbound::Pong(_) if closing => {}
            Inbound::Message(m) => {
                self.data_received();
                self.events.push_back(Event::Message(m));
            }
            Inbound::Ping(payload) => {
                if self.config.auto_pong {
                    self.writer.owe_pong(payload.clone());
                }
                self.events.push_back(Event::Ping(payload));
            }
            Inbound::Pong(payload) => self.events.push_back(Event::Pong(payload)),
            Inbound::Close(frame) => {
                if !closing {
                    // Echo the peer's code (or an empty close for an empty one).
                    match &frame {
                        Some(f) => self.send_close(CloseFrame::new(f.code, "")),
                        None => {
                            self.sent_close = Some(CloseCode::NO_STATUS);
                            self.writer.push_frame(true, OpCode::Close, Bytes::new());
                        }
                    }
                }
                self.finish(Some(frame), None);
            }
        }
    }

    /// The peer broke the protocol: send a close frame with the violation's code and fail the
    /// connection (RFC 6455 §7.1.7) without waiting for an answer.
    fn fail(&mut self, error: ProtocolError) {
        if matches!(self.phase, Phase::Open) {
            let frame = CloseFrame::new(error.close_code(), "");
            self.send_close(frame);
        }
        self.finish(None, Some(Error::Protocol(error)));
    }

    /// Sets up the codec for the agreed permessage-deflate parameters, if any.
    fn start_deflate(&mut self, params: Option<DeflateParams>) {
        self.deflate = params;
        #[cfg(feature = "deflate")]
        if let Some(params) = params {
            let client = (
                params.client_max_window_bits,
                params.client_no_context_takeover,
            );
            let server = (
                params.server_max_window_bits,
                params.server_no_context_takeover,
            );
            let ((bits, alone), (peer_bits, peer_alone)) = match self.role {
                Role::Client => (client, server),
                Role::Server => (server, client),
            };
            self.deflater = Some(Deflater::new(self.config.deflate.level, bits, alone));
            self.reader.inflate_messages(peer_bits, peer_alone);
        }
    }

    fn open(&mut self, headers: Vec<Header>) {
        self.phase = Phase::Open;
        self.handshake_deadline = None;
        self.last_received = self.now;
        self.events.push_back(Event::Open { headers });
    }

    /// Enters `Closed` and reports it. `received` is the peer's close frame if one arrived
    /// (`Some(None)` for an empty one).
    fn finish(&mut self, received: Option<Option<CloseFrame>>, error: Option<Error>) {
        if matches!(self.phase, Phase::Closed) {
            return;
        }
        self.phase = Phase::Closed;
        self.outgoing = None;
        // Invariant: a closed connection is finished (`is_finished`) within the close timeout.
        // A peer that let a deadline pass takes nothing more; any other peer gets that long to
        // take the last bytes (a close frame, a refusal).
        if matches!(
            error,
            Some(Error::HandshakeTimeout | Error::PeerTimeout | Error::CloseTimeout)
        ) {
            self.writer.discard();
        }
        self.close_deadline = Some(self.now + self.config.close_timeout);
        let (code, reason) = match &received {
            Some(Some(f)) => (f.code, f.reason.clone()),
            Some(None) => (CloseCode::NO_STATUS, Utf8Bytes::default()),
            None => (CloseCode::ABNORMAL, Utf8Bytes::default()),
        };
        let clean = received.is_some() && self.sent_close.is_some();
        let sent_code = self.sent_close;
        self.events.push_back(Event::Closed(Closed {
            code,
            reason,
            sent_code,
            clean,
            error,
        }));
    }
}

/// How far [`Connection::process_frames`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadUntil {
    /// Until one event is queued.
    OneEvent,
    /// Every whole frame in the buffer.
    Exhausted,
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}
