//! The whole client (WebSocket layer and session) past a valid `101`, driven by an arbitrary
//! server, with application calls interleaved.
//!
//! Input: byte 0 chooses the mode. Odd: the rest is the raw byte stream of the server, fed in
//! one piece (the WebSocket layer's own targets cover chunking). Even: the rest is split at
//! `\n` into steps; a step starting with `!` is an application call (`!c<lane>` create on lane
//! `-` or a name, `!o` answer every pending tool call, `!s` steer the default lane, `!r` drop
//! the connection and connect again, `!t` let an hour pass), anything else is one server text
//! frame (a binary frame when it is not UTF-8).
//!
//! Checked: no panic, every request ends at most once, stream events are on their own lane.
#![no_main]

use std::collections::BTreeSet;
use std::hint::black_box;
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
use responses_ws_core::session::{Lane, SessionEvent};
use responses_ws_core::wire::{ResponseCreate, ToolOutput};
use responses_ws_core::ws::{FrameHeader, OpCode, WsUrl, MAX_HEADER_LEN};
use responses_ws_core::Instant;
use responses_ws_fuzz::{upgrade_response, URL};

/// A client and what the checks remember.
struct Run {
    client: Client,
    now: Instant,
    ended: BTreeSet<u64>,
    connections: u8,
}

impl Run {
    fn new() -> Run {
        let config = ClientConfig::new(WsUrl::parse(URL).unwrap());
        let mut run = Run { client: Client::new(config), now: Instant::ZERO, ended: BTreeSet::new(), connections: 0 };
        run.reconnect();
        run
    }

    /// A new connection, upgraded with a valid `101`.
    fn reconnect(&mut self) {
        self.connections = self.connections.wrapping_add(1);
        self.client.connect([self.connections; 32], self.now).unwrap();
        let request = self.client.poll_transmit().expect("an upgrade request");
        let request = String::from_utf8(request.to_vec()).unwrap();
        let key = request
            .lines()
            .find_map(|line| line.strip_prefix("Sec-WebSocket-Key: "))
            .expect("a key");
        self.client.handle_input(&upgrade_response(key), self.now);
        self.drain();
    }

    /// Takes every event and byte, checking the invariants.
    fn drain(&mut self) {
        loop {
            let mut moved = false;
            while let Some(event) = self.client.poll_event() {
                moved = true;
                if let ClientEvent::Session(event) = &event {
                    match event {
                        SessionEvent::Completed { request, .. } | SessionEvent::Failed { request, .. } => {
                            assert!(self.ended.insert(request.0), "{request} ended twice");
                        }
                        SessionEvent::Stream { lane, event, .. } => {
                            assert_eq!(*lane, Lane::from_stream_id(event.decoded().stream_id.as_deref()));
                        }
                        _ => {}
                    }
                }
                black_box(event);
            }
            while let Some(bytes) = self.client.poll_transmit() {
                moved = true;
                black_box(bytes);
            }
            if !moved {
                return;
            }
        }
    }

    fn act(&mut self, step: &[u8]) {
        let lane = |name: &[u8]| match std::str::from_utf8(name) {
            Ok("-") | Ok("") | Err(_) => None,
            Ok(name) => Some(name.to_owned()),
        };
        match step.get(1) {
            Some(b'c') => {
                let request = ResponseCreate {
                    stream_id: lane(&step[2..]),
                    model: Some("m".into()),
                    input: Some("go".into()),
                    ..ResponseCreate::default()
                };
                let _ = self.client.create(request);
            }
            Some(b'o') => {
                for name in [None, Some("a"), Some("b")] {
                    let lane = Lane::from_stream_id(name);
                    let _ = self.client.answer_tool_calls(&lane, |call| ToolOutput::Text(call.name.clone()));
                }
            }
            Some(b's') => {
                let _ = self.client.steer(&Lane::Default, "steer");
            }
            Some(b'r') => {
                self.client.handle_eof(self.now);
                self.drain();
                self.reconnect();
            }
            Some(b't') => {
                self.now = self.now + Duration::from_secs(3600);
                self.client.handle_timeout(self.now);
            }
            _ => {}
        }
        self.drain();
    }

    /// One server frame (text when UTF-8, else binary), unmasked as a server sends it.
    fn serve(&mut self, payload: &[u8]) {
        let opcode = if std::str::from_utf8(payload).is_ok() { OpCode::Text } else { OpCode::Binary };
        let header = FrameHeader { fin: true, rsv1: false, opcode, mask: None, payload_len: payload.len() as u64 };
        let mut head = [0u8; MAX_HEADER_LEN];
        let len = header.write(&mut head);
        self.client.handle_input(&head[..len], self.now);
        self.client.handle_input(payload, self.now);
        self.drain();
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let mut run = Run::new();
    if mode & 1 == 1 {
        run.client.handle_input(rest, run.now);
        run.drain();
    } else {
        for step in rest.split(|&b| b == b'\n') {
            if step.first() == Some(&b'!') {
                run.act(step);
            } else {
                run.serve(step);
            }
        }
    }
    run.client.handle_eof(run.now);
    run.drain();
    black_box(run.client.session().ledger());
});
