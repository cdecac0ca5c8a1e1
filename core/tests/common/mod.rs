//! Test helpers: raw frame builders, connections past their handshake, and an in-memory pair
//! driven by a simulated clock (as quinn-proto's `Pair`).
#![allow(dead_code, unreachable_pub)]

use bytes::Bytes;
use core::time::Duration;
use responses_ws_core::ws::{accept_key, Config, Connection, Event, Role};
use responses_ws_core::Instant;

pub const T0: Instant = Instant::ZERO;

/// Encodes one frame by hand: `first` is the first header byte (FIN, RSV, opcode).
pub fn raw_frame(first: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![first];
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A frame as the peer of `our_role` must send it (masked when the peer is a client).
pub fn peer_frame(our_role: Role, first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = (our_role == Role::Server).then_some([0x12, 0x34, 0x56, 0x78]);
    raw_frame(first, payload, mask)
}

/// Drains every event.
pub fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Drains every transmitted byte.
pub fn transmitted(conn: &mut Connection) -> Vec<u8> {
    std::iter::from_fn(|| conn.poll_transmit())
        .flat_map(|b| b.to_vec())
        .collect()
}

/// Frames sent by a connection of `role`, decoded: (first header byte, unmasked payload).
pub fn decode_frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !bytes.is_empty() {
        let (header, len) = responses_ws_core::ws::FrameHeader::parse(bytes)
            .unwrap()
            .unwrap();
        let n = header.payload_len as usize;
        let mut payload = bytes[len..len + n].to_vec();
        if let Some(key) = header.mask {
            responses_ws_core::ws::mask::apply_mask(&mut payload, key);
        }
        frames.push((bytes[0], payload));
        bytes = &bytes[len + n..];
    }
    frames
}

/// The `Sec-WebSocket-Key` in a request.
pub fn request_key(request: &[u8]) -> String {
    let text = std::str::from_utf8(request).unwrap();
    let line = text
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("sec-websocket-key:"))
        .unwrap();
    line.split_once(':').unwrap().1.trim().to_string()
}

/// A valid `101` answer to `request`.
pub fn upgrade_answer(request: &[u8]) -> String {
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&request_key(request))
    )
}

pub const REQUEST: &str = "GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

/// A connection of `role` past its handshake, with its events and output drained.
pub fn open(role: Role, config: Config) -> Connection {
    let mut conn = match role {
        Role::Client => {
            let url = responses_ws_core::ws::WsUrl::parse("ws://example/chat").unwrap();
            let mut conn = Connection::client(&url, &[], config, [9; 32], T0).unwrap();
            let request = transmitted(&mut conn);
            conn.handle_input(upgrade_answer(&request).as_bytes(), T0);
            conn
        }
        Role::Server => {
            let mut conn = Connection::server(config, [9; 32], T0);
            conn.handle_input(REQUEST.as_bytes(), T0);
            assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
            conn.accept(&[]).unwrap();
            conn
        }
    };
    assert!(matches!(conn.poll_event(), Some(Event::Open { .. })));
    transmitted(&mut conn);
    conn
}

/// A client and a server joined in memory, with a simulated clock.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
    pub now: Instant,
    /// When false, bytes from the server are dropped (a silent peer).
    pub server_link_up: bool,
    /// Events each side produced while `drive` ran, oldest first.
    client_events: Vec<Event>,
    server_events: Vec<Event>,
}

impl Pair {
    /// A pair with its handshake done.
    pub fn connected(config: Config) -> Pair {
        let url = responses_ws_core::ws::WsUrl::parse("ws://127.0.0.1:1/").unwrap();
        let client = Connection::client(&url, &[], config.clone(), [1; 32], T0).unwrap();
        let server = Connection::server(config, [2; 32], T0);
        let mut pair = Pair {
            client,
            server,
            now: T0,
            server_link_up: true,
            client_events: Vec::new(),
            server_events: Vec::new(),
        };
        pair.drive();
        let [Event::Request(_)] = &pair.take_events(Role::Server)[..] else {
            panic!("no request")
        };
        pair.server.accept(&[]).unwrap();
        pair.drive();
        assert!(matches!(
            pair.take_events(Role::Client)[..],
            [Event::Open { .. }]
        ));
        assert!(matches!(
            pair.take_events(Role::Server)[..],
            [Event::Open { .. }]
        ));
        pair
    }

    /// The events one side produced since the last call.
    pub fn take_events(&mut self, role: Role) -> Vec<Event> {
        match role {
            Role::Client => std::mem::take(&mut self.client_events),
            Role::Server => std::mem::take(&mut self.server_events),
        }
    }

    /// Moves bytes both ways, taking each side's events as a driver would (which lets the
    /// cores read their frames and answer pings and closes), until nothing moves.
    pub fn drive(&mut self) {
        loop {
            let mut moved = false;
            while let Some(event) = self.client.poll_event() {
                self.client_events.push(event);
                moved = true;
            }
            while let Some(event) = self.server.poll_event() {
                self.server_events.push(event);
                moved = true;
            }
            while let Some(chunk) = self.client.poll_transmit() {
                self.server.handle_input(&chunk, self.now);
                moved = true;
            }
            while let Some(chunk) = self.server.poll_transmit() {
                if self.server_link_up {
                    self.client.handle_input(&chunk, self.now);
                }
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Jumps the clock to the earliest deadline of either side (no further than `limit` from now),
    /// fires it, and moves bytes. Returns false when no deadline is set.
    pub fn advance(&mut self, limit: Duration) -> bool {
        let next = [self.client.poll_timeout(), self.server.poll_timeout()]
            .into_iter()
            .flatten()
            .min();
        let Some(next) = next else { return false };
        let next = next.min(self.now + limit);
        self.now = self.now.max(next);
        self.client.handle_timeout(self.now);
        self.server.handle_timeout(self.now);
        self.drive();
        true
    }
}

pub fn bytes(b: &[u8]) -> Bytes {
    Bytes::copy_from_slice(b)
}
