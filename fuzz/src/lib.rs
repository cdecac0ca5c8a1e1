//! The harness the fuzz targets share: it drives one [`Connection`] the way a driver would and
//! checks, after every input, the invariants the connection promises.
//!
//! # Input layout
//!
//! Every target reads its input the same way, so one seed format serves all four:
//!
//! ```text
//! byte 0    flags: bit 0 auto_pong off, bit 1 small limits, bit 2 no keepalive,
//!           bit 3 no handshake timeout, bit 4 handshake_request rejects instead of accepting;
//!           `ws_deflate_frames` only: bit 5 server role (else client), bits 6–7 the
//!           permessage-deflate parameters ([`DEFLATE_SETS`])
//! byte 1    n = byte & 0x0F: the number of step bytes that follow
//! n bytes   steps, used in turn (cycling) for each chunk of the stream
//! the rest  the bytes the peer sends
//! ```
//!
//! A step byte `s` cuts the next chunk of `(s & 0x1F) + 1` bytes (the whole rest when
//! `s & 0x1F == 0x1F`), then does action `s >> 5` after the chunk: 0–2 nothing, 3 advance 1 s
//! and `handle_timeout`, 4 jump to `poll_timeout()` and `handle_timeout`, 5 send (text, ping or
//! a 5000-byte binary in turn), 6 `close(1000)`, 7 advance 100 s and `handle_timeout`. With no
//! step byte the stream arrives in one chunk. The end of the stream is EOF.
//!
//! # Invariants checked
//!
//! No panic; every event is consistent with the state (no data before `Open`, at most one
//! `Request` and one `Open`, text is UTF-8, sizes within limits, no data after our `close()`);
//! nothing after `Closed`, which comes exactly once and matches `state()`; after a drain nothing
//! is queued, `is_finished()` matches `state()`, and the output is whole, well-formed frames
//! (masked by a client only), nothing after our close frame, whose code is `Closed::sent_code`;
//! after EOF the connection is finished and later input changes nothing.

use core::time::Duration;
use responses_ws_core::ws::{accept_key, CloseCode, Closed, Config, Connection, Event, FrameHeader, Message, OpCode, State, WsUrl};
use responses_ws_core::Instant;
use std::hint::black_box;

/// A fuzz input split into its parts (see the [crate docs](crate)).
#[derive(Debug, Clone, Copy)]
pub struct Input<'a> {
    /// Byte 0.
    pub flags: u8,
    /// Chunk sizes and actions.
    pub steps: &'a [u8],
    /// What the peer sends.
    pub stream: &'a [u8],
}

impl<'a> Input<'a> {
    /// Splits `data`; missing header bytes count as zero.
    pub fn parse(data: &'a [u8]) -> Input<'a> {
        let flags = data.first().copied().unwrap_or(0);
        let n = usize::from(data.get(1).copied().unwrap_or(0) & 0x0F);
        let rest = data.get(2..).unwrap_or(&[]);
        let (steps, stream) = rest.split_at(n.min(rest.len()));
        Input { flags, steps, stream }
    }

    /// The connection settings the flags ask for.
    pub fn config(&self) -> Config {
        let mut config = Config::default();
        config.auto_pong = self.flags & 1 == 0;
        if self.flags & 2 != 0 {
            config.max_frame_payload = 256;
            config.max_message_size = 1024;
            config.max_handshake_head = 512;
            config.max_handshake_headers = 8;
            config.max_refusal_body = 32;
        }
        if self.flags & 4 != 0 {
            config.keepalive_interval = None;
        }
        if self.flags & 8 != 0 {
            config.handshake_timeout = None;
        }
        config
    }
}

/// The server-role answer to an `Event::Request`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnRequest {
    /// `accept(&[])`.
    Accept,
    /// `reject(401, …)` with a JSON body.
    Reject,
    /// A request is a bug (client role, or a second request).
    Unexpected,
}

/// The URL the client connects to.
pub const URL: &str = "ws://fuzz.test:8080/v1/responses?model=m";

/// A valid upgrade request for the server role.
pub const REQUEST: &[u8] = b"GET /v1/responses HTTP/1.1\r\nHost: fuzz.test\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
Authorization: Bearer sk-fuzz\r\n\r\n";

/// The `101` answer to a client request whose key is `key`.
pub fn upgrade_response(key: &str) -> Vec<u8> {
    upgrade_response_with(key, "")
}

/// The `101` answer to a client request whose key is `key`, with `headers` (each ending in CRLF).
pub fn upgrade_response_with(key: &str, headers: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n{headers}\r\n",
        accept_key(key)
    )
    .into_bytes()
}

/// The permessage-deflate parameter sets of `ws_deflate_frames`, chosen by flag bits 6–7: a
/// client's offer and a server's answer (context takeover, window limits, both).
pub const DEFLATE_SETS: [(&str, &str); 4] = [
    ("permessage-deflate; client_max_window_bits", "permessage-deflate"),
    (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
    ),
    (
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits",
        "permessage-deflate; server_max_window_bits=10; client_max_window_bits=9",
    ),
    (
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
    ),
];

/// [`REQUEST`] offering permessage-deflate with `offer`.
pub fn deflate_request(offer: &str) -> Vec<u8> {
    let head = &REQUEST[..REQUEST.len() - 2];
    [head, b"Sec-WebSocket-Extensions: ", offer.as_bytes(), b"\r\n\r\n"].concat()
}

/// Drives one connection and checks it.
#[derive(Debug)]
pub struct Harness {
    /// The machine under test.
    pub conn: Connection,
    /// The time the driver last told it.
    pub now: Instant,
    config: Config,
    /// What to do with an `Event::Request`.
    pub on_request: OnRequest,
    requests: usize,
    opened: bool,
    close_called: bool,
    sends: usize,
    closed: Option<Closed>,
    out: OutputCheck,
}

impl Harness {
    fn new(conn: Connection, config: Config, out: OutputCheck, on_request: OnRequest) -> Harness {
        Harness {
            conn,
            now: Instant::ZERO,
            config,
            on_request,
            requests: 0,
            opened: false,
            close_called: false,
            sends: 0,
            closed: None,
            out,
        }
    }

    /// A client whose upgrade request was taken; returns it with its `Sec-WebSocket-Key`.
    pub fn client(config: Config) -> (Harness, String) {
        let url = WsUrl::parse(URL).expect("valid URL");
        let headers = [("Authorization", "Bearer sk-fuzz"), ("Sec-WebSocket-Protocol", "v1, v2")].map(|(n, v)| (n.to_owned(), v.to_owned()));
        let mut conn = Connection::client(&url, &headers, config.clone(), [7; 32], Instant::ZERO).expect("valid request");
        let request = conn.poll_transmit().expect("the upgrade request is queued");
        assert!(conn.poll_transmit().is_none(), "the request is one chunk");
        let request = std::str::from_utf8(&request).expect("the request is ASCII");
        let key = request
            .split("\r\n")
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .expect("the request carries a key")
            .to_owned();
        (Harness::new(conn, config, OutputCheck::new(true, false), OnRequest::Unexpected), key)
    }

    /// A server waiting for a request, answering it with `on_request`.
    pub fn server(config: Config, on_request: OnRequest) -> Harness {
        let conn = Connection::server(config.clone(), [9; 32], Instant::ZERO);
        Harness::new(conn, config, OutputCheck::new(false, true), on_request)
    }

    /// A client that received a valid `101`: messages flow.
    pub fn open_client(config: Config) -> Harness {
        let (mut h, key) = Harness::client(config);
        h.feed(&upgrade_response(&key));
        assert!(h.opened && h.conn.state() == State::Open, "a valid 101 opens the client");
        h
    }

    /// A server that accepted a valid request: messages flow.
    pub fn open_server(config: Config) -> Harness {
        let mut h = Harness::server(config, OnRequest::Accept);
        h.feed(REQUEST);
        assert!(h.opened && h.conn.state() == State::Open, "a valid request opens the server");
        h.on_request = OnRequest::Unexpected;
        h
    }

    /// A connection that agreed to permessage-deflate with the parameter set of `flags` bits
    /// 6–7, in the server role if bit 5 is set, else the client role.
    pub fn open_deflate(flags: u8, config: Config) -> Harness {
        let (offer, answer) = DEFLATE_SETS[usize::from(flags >> 6)];
        let h = if flags & 0x20 != 0 {
            let mut h = Harness::server(config, OnRequest::Accept);
            h.feed(&deflate_request(offer));
            h.on_request = OnRequest::Unexpected;
            h
        } else {
            let (mut h, key) = Harness::client(config);
            h.feed(&upgrade_response_with(&key, &format!("Sec-WebSocket-Extensions: {answer}\r\n")));
            h
        };
        assert!(h.opened && h.conn.state() == State::Open, "the handshake opens the connection");
        assert!(h.conn.deflate().is_some(), "permessage-deflate is agreed");
        h
    }

    /// Feeds `stream` cut and interleaved with actions by `steps`, then EOF; checks everything.
    pub fn run(&mut self, steps: &[u8], mut stream: &[u8]) {
        let mut steps = steps.iter().copied().cycle();
        while !stream.is_empty() {
            let step = steps.next().unwrap_or(0x1F);
            let len = match step & 0x1F {
                0x1F => stream.len(),
                n => usize::from(n) + 1,
            };
            let (chunk, rest) = stream.split_at(len.min(stream.len()));
            stream = rest;
            self.feed(chunk);
            self.act(step >> 5);
        }
        self.eof();
    }

    /// Delivers received bytes 1 ms after the previous input.
    pub fn feed(&mut self, chunk: &[u8]) {
        self.now = self.now + Duration::from_millis(1);
        self.conn.handle_input(chunk, self.now);
        self.drain();
    }

    /// One action of a step byte (see the [crate docs](crate)).
    fn act(&mut self, action: u8) {
        let open = self.conn.state() == State::Open;
        match action {
            3 => self.timeout(self.now + Duration::from_secs(1)),
            4 => self.timeout(self.conn.poll_timeout().unwrap_or(self.now)),
            5 => {
                self.sends += 1;
                let sent = match self.sends % 3 {
                    0 => self.conn.send_text("fuzz"),
                    1 => self.conn.send_ping(&b"ping"[..]),
                    _ => self.conn.send_binary(vec![0xAB; 5000]),
                };
                assert_eq!(sent.is_ok(), open, "a send succeeds exactly when open: {sent:?}");
                self.drain();
            }
            6 => {
                let closed = self.conn.close(CloseCode::NORMAL, "bye", self.now);
                assert_eq!(closed.is_ok(), open, "close() succeeds exactly when open: {closed:?}");
                self.close_called |= closed.is_ok();
                self.drain();
            }
            7 => self.timeout(self.now + Duration::from_secs(100)),
            _ => {}
        }
    }

    /// Time moves to `at` (never backwards) and the due timers fire.
    fn timeout(&mut self, at: Instant) {
        self.now = self.now.max(at);
        self.conn.handle_timeout(self.now);
        self.drain();
    }

    /// The transport ends: the connection must close and finish, then ignore everything.
    pub fn eof(&mut self) {
        self.now = self.now + Duration::from_millis(1);
        self.conn.handle_eof(self.now);
        self.drain();
        assert!(self.closed.is_some(), "EOF closes the connection");
        assert!(self.conn.is_finished(), "finished once closed and drained");
        // Anything after the end: no event, no output, no timer (checked by `drain`).
        self.conn.handle_input(b"\x81\x00\x88\x00", self.now);
        self.conn.handle_timeout(self.now + Duration::from_secs(1000));
        self.conn.handle_eof(self.now);
        assert!(self.conn.poll_transmit().is_none(), "no output after the end");
        self.drain();
    }

    /// Takes every output chunk and event until both are empty, then checks the quiet state.
    pub fn drain(&mut self) {
        loop {
            let mut busy = false;
            while let Some(chunk) = self.conn.poll_transmit() {
                busy = true;
                self.out.push(&chunk);
                black_box(chunk);
            }
            while let Some(event) = self.conn.poll_event() {
                busy = true;
                self.event(event);
            }
            if !busy {
                break;
            }
        }
        self.check_quiet();
    }

    fn event(&mut self, event: Event) {
        assert!(self.closed.is_none(), "event after Closed: {event:?}");
        let state = self.conn.state();
        match &event {
            Event::Request(request) => {
                assert_eq!(self.requests, 0, "a second request");
                assert_eq!(state, State::Handshake);
                self.requests += 1;
                black_box(request.header("authorization"));
                match self.on_request {
                    OnRequest::Accept => self.conn.accept(&[]).expect("accept() after a Request"),
                    OnRequest::Reject => {
                        let headers = [("Content-Type".to_owned(), "application/json".to_owned())];
                        self.conn.reject(401, &headers, br#"{"error":"no"}"#).expect("reject() after a Request")
                    }
                    OnRequest::Unexpected => panic!("unexpected request: {event:?}"),
                }
            }
            Event::Open { .. } => {
                assert!(!self.opened, "a second Open");
                assert!(self.requests == 1 || self.on_request == OnRequest::Unexpected, "Open without a request");
                self.opened = true;
            }
            Event::Message(message) => {
                self.check_data();
                assert!(message.as_bytes().len() <= self.config.max_message_size, "message over the limit");
                if let Message::Text(text) = message {
                    assert!(std::str::from_utf8(text.as_bytes()).is_ok(), "text message is not UTF-8");
                }
            }
            Event::Ping(payload) | Event::Pong(payload) => {
                self.check_data();
                assert!(payload.len() <= 125, "control payload over 125 bytes");
            }
            Event::Closed(closed) => {
                assert_eq!(state, State::Closed, "Closed while {state:?}");
                assert!(!closed.clean || closed.sent_code.is_some(), "clean without our close frame");
                self.closed = Some(closed.clone());
            }
            other => panic!("unknown event {other:?}"),
        }
        black_box(event);
    }

    fn check_data(&self) {
        assert!(self.opened, "data before Open");
        assert!(!self.close_called, "data reported after our close()");
    }

    /// What must hold once `poll_transmit` and `poll_event` are empty.
    fn check_quiet(&self) {
        let state = self.conn.state();
        assert_eq!(self.conn.queued_bytes(), 0, "bytes queued after a full drain");
        assert_eq!(self.closed.is_some(), state == State::Closed, "Closed event vs state {state:?}");
        assert_eq!(self.conn.is_finished(), state == State::Closed, "is_finished vs state {state:?}");
        if state == State::Closed {
            assert_eq!(self.conn.poll_timeout(), None, "a timer after Closed");
        }
        if matches!(state, State::Open | State::CloseSent) {
            assert!(self.opened, "{state:?} without Open");
        }
        self.out.check_whole();
        if let Some(closed) = &self.closed {
            let wire = self.out.close.map(|code| code.unwrap_or(CloseCode::NO_STATUS));
            assert_eq!(closed.sent_code, wire, "Closed::sent_code vs the close frame on the wire");
        }
    }
}

/// Where the output stream stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OutPart {
    /// An HTTP answer (server role) may come first.
    Head,
    Frames,
    /// After a refusal: its body, which is not parsed.
    Body,
}

/// Parses what the connection sends: whole, well-formed frames, nothing after a close frame.
#[derive(Debug)]
struct OutputCheck {
    part: OutPart,
    /// Frames must be masked (client role) or not (server).
    masked: bool,
    buf: Vec<u8>,
    /// Our close frame, once sent: its code, `None` for an empty one.
    close: Option<Option<CloseCode>>,
}

impl OutputCheck {
    fn new(masked: bool, http_head: bool) -> Self {
        let part = if http_head { OutPart::Head } else { OutPart::Frames };
        OutputCheck { part, masked, buf: Vec::new(), close: None }
    }

    fn push(&mut self, chunk: &[u8]) {
        self.buf.extend_from_slice(chunk);
        if self.part == OutPart::Head {
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else { return };
            self.part = if self.buf.starts_with(b"HTTP/1.1 101 ") { OutPart::Frames } else { OutPart::Body };
            self.buf.drain(..end + 4);
        }
        if self.part == OutPart::Body {
            self.buf.clear();
            return;
        }
        while let Some((header, len)) = FrameHeader::parse(&self.buf).expect("we sent an invalid frame header") {
            assert_eq!(header.mask.is_some(), self.masked, "wrong masking for the role");
            assert!(self.close.is_none(), "a frame after our close frame: {header:?}");
            let end = len + usize::try_from(header.payload_len).expect("payload fits");
            let Some(payload) = self.buf.get_mut(len..end) else { return };
            if let Some(key) = header.mask {
                responses_ws_core::ws::mask::apply_mask(payload, key);
            }
            if header.opcode == OpCode::Close {
                self.close = Some(match payload {
                    [] => None,
                    [hi, lo, reason @ ..] => {
                        let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                        assert!(code.is_sendable(), "we sent close code {code}");
                        assert!(std::str::from_utf8(reason).is_ok(), "our close reason is not UTF-8");
                        Some(code)
                    }
                    [_] => panic!("we sent a 1-byte close payload"),
                });
            }
            self.buf.drain(..end);
        }
    }

    /// After a drain the output ends on a frame boundary.
    fn check_whole(&self) {
        if self.part == OutPart::Frames {
            assert!(self.buf.is_empty(), "output ends inside a frame: {:02x?}", &self.buf[..self.buf.len().min(32)]);
        }
    }
}
