//! Decoding received WebSocket frames into messages: ours against tungstenite, fastwebsockets and
//! tokio-websockets, on the same bytes in the same run.
//!
//! Inputs, pre-encoded once: 1000 text frames of 128 B, 64 of 16 KiB and 4 of 1 MiB, each a
//! whole message (FIN set), of JSON-like text that is mostly ASCII with some two-byte characters.
//! `unmasked` is what a client decodes (server→client frames); `masked` is what a server decodes
//! (client→server frames, a different key per frame). Masking alone is the `mask` bench.
//!
//! One iteration decodes one buffer's worth of messages. Every library reads the same bytes from
//! [`Replay`], an in-memory stream that repeats the buffer forever and fills each read completely
//! (a socket with data always waiting), and each connection lives across iterations, so the
//! numbers are steady state: no handshake, no connection setup. What every measurement includes:
//! one copy of each byte into the library's own read buffer, frame parsing, unmasking (`masked`),
//! UTF-8 validation of each text message, and handing out the message, which is then dropped.
//!
//! - `ours_copy`: `Connection::handle_input(&buffer)` with the whole buffer, then
//!   `poll_event` until empty.
//! - `ours_read`: the zero-copy driver path: `Replay` reads into `input_buffer()`,
//!   `commit_input`, `poll_event` until empty; repeated until the buffer's message count.
//! - `tungstenite`: `WebSocket::from_raw_socket` (default config) and `read()`.
//! - `fastwebsockets`: `FragmentCollector` over `WebSocket::after_handshake`, auto close and pong
//!   off, `read_frame()`. It validates text with simdutf8; it does not check that frames are
//!   masked (or unmasked) as the role requires, which the others do.
//! - `tokio-websockets`: `ClientBuilder::take_over` / `ServerBuilder::serve` (its codec is private)
//!   and `Stream::poll_next`. Validates text with simdutf8.
//!
//! The async peers' futures are polled directly with a no-op waker (the stream is never pending),
//! so no runtime overhead is measured. Ours, fastwebsockets and tokio-websockets validate text
//! with simdutf8, tungstenite with `std::str::from_utf8`.
//!
//! Run with `cargo bench -p responses-ws-benches --bench ws_decode`; `callgrind.sh` counts the
//! instructions of one case (see `src/lib.rs`).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use responses_ws_core::ws::mask::apply_mask;
use responses_ws_core::ws::{
    accept_key, Config, Connection, Event, FrameHeader, OpCode, Role, WsUrl, MAX_HEADER_LEN,
};
use responses_ws_core::Instant;
use std::future::{poll_fn, Future};
use std::io::{self, Read, Write};
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

/// Message size, message count per buffer, label.
const CASES: [(usize, usize, &str); 3] = [
    (128, 1000, "128B"),
    (16 << 10, 64, "16KiB"),
    (1 << 20, 4, "1MiB"),
];
const NOW: Instant = Instant::ZERO;

/// `len` bytes of valid UTF-8, JSON-like and mostly ASCII, as a Responses API event is.
fn text(len: usize) -> String {
    const PIECE: &str =
        r#"{"type":"response.output_text.delta","delta":"Le café était déjà prêt, "},"#;
    let mut out = String::with_capacity(len);
    for c in PIECE.chars().cycle() {
        if out.len() + c.len_utf8() > len {
            break;
        }
        out.push(c);
    }
    while out.len() < len {
        out.push(' ');
    }
    out
}

/// `count` text frames of `size` bytes, masked with a different key each when `masked`.
fn encode(size: usize, count: usize, masked: bool) -> Vec<u8> {
    let payload = text(size);
    let mut out = Vec::with_capacity(count * (size + MAX_HEADER_LEN));
    for i in 0..count as u32 {
        let mask = masked.then(|| i.wrapping_mul(0x9E37_79B9).wrapping_add(1).to_le_bytes());
        let header = FrameHeader {
            fin: true,
            rsv1: false,
            opcode: OpCode::Text,
            mask,
            payload_len: size as u64,
        };
        let mut head = [0; MAX_HEADER_LEN];
        let head_len = header.write(&mut head);
        out.extend_from_slice(&head[..head_len]);
        let start = out.len();
        out.extend_from_slice(payload.as_bytes());
        if let Some(key) = mask {
            apply_mask(&mut out[start..], key);
        }
    }
    out
}

/// An in-memory transport that repeats `data` forever; every read is filled completely. Writes
/// are discarded (nothing is written: no pings or closes arrive).
struct Replay {
    data: &'static [u8],
    pos: usize,
}

impl Replay {
    fn new(data: &'static [u8]) -> Self {
        Replay { data, pos: 0 }
    }

    /// The next at most `max` bytes, without wrapping.
    fn take(&mut self, max: usize) -> &'static [u8] {
        let rest = &self.data[self.pos..];
        let chunk = &rest[..rest.len().min(max)];
        self.pos = (self.pos + chunk.len()) % self.data.len();
        chunk
    }
}

impl Read for Replay {
    fn read(&mut self, dst: &mut [u8]) -> io::Result<usize> {
        let mut n = 0;
        while n < dst.len() {
            let chunk = self.take(dst.len() - n);
            dst[n..n + chunk.len()].copy_from_slice(chunk);
            n += chunk.len();
        }
        Ok(n)
    }
}

impl Write for Replay {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl tokio::io::AsyncRead for Replay {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while buf.remaining() > 0 {
            // put_slice writes into the unfilled part without zeroing it first.
            buf.put_slice(this.take(buf.remaining()));
        }
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Replay {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Runs a future that never waits (its stream is always ready) to completion in one poll.
fn ready<F: Future>(future: F) -> F::Output {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the in-memory stream is never pending"),
    }
}

/// Our connection in `role`, past its opening handshake.
fn open_ours(role: Role) -> Connection {
    let mut conn = match role {
        Role::Client => {
            let url = WsUrl::parse("ws://127.0.0.1/").expect("url");
            let mut conn =
                Connection::client(&url, &[], Config::default(), [7; 32], NOW).expect("client");
            let request = conn.poll_transmit().expect("request");
            let request = std::str::from_utf8(&request).expect("ASCII request");
            let key = request
                .lines()
                .filter_map(|line| line.split_once(':'))
                .find(|(name, _)| name.eq_ignore_ascii_case("sec-websocket-key"))
                .map(|(_, value)| value.trim())
                .expect("key");
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                 Sec-WebSocket-Accept: {}\r\n\r\n",
                accept_key(key)
            );
            conn.handle_input(answer.as_bytes(), NOW);
            conn
        }
        Role::Server => {
            let mut conn = Connection::server(Config::default(), [7; 32], NOW);
            let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                           Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
            conn.handle_input(request.as_bytes(), NOW);
            assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
            conn.accept(&[]).expect("accept");
            while conn.poll_transmit().is_some() {}
            conn
        }
    };
    assert!(matches!(conn.poll_event(), Some(Event::Open { .. })));
    conn
}

/// Takes every queued event, which must be text messages; returns how many.
fn drain(conn: &mut Connection) -> usize {
    let mut n = 0;
    while let Some(event) = conn.poll_event() {
        match event {
            Event::Message(message) => {
                black_box(message);
                n += 1;
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
    n
}

/// One iteration of one library: decodes a buffer's worth of messages.
type Decoder = Box<dyn FnMut()>;

/// Every library's decoder of `count` frames of `data`, in the role that reads `masked` frames.
fn decoders(masked: bool, count: usize, data: &'static [u8]) -> Vec<(&'static str, Decoder)> {
    // Decoding masked frames is the server's job.
    let role = if masked { Role::Server } else { Role::Client };
    let mut decoders: Vec<(&'static str, Decoder)> = Vec::new();

    let mut conn = open_ours(role);
    decoders.push((
        "ours_copy",
        Box::new(move || {
            conn.handle_input(black_box(data), NOW);
            assert_eq!(drain(&mut conn), count);
        }),
    ));

    let mut conn = open_ours(role);
    let mut stream = Replay::new(data);
    // Reads do not stop at the buffer's end: messages past `count` count for the next
    // iteration.
    let mut carry = 0;
    decoders.push((
        "ours_read",
        Box::new(move || {
            let mut got = carry;
            while got < count {
                let n = stream.read(conn.input_buffer()).expect("in-memory read");
                conn.commit_input(n, NOW);
                got += drain(&mut conn);
            }
            carry = got - count;
        }),
    ));

    let tungstenite_role = if masked {
        tungstenite::protocol::Role::Server
    } else {
        tungstenite::protocol::Role::Client
    };
    let mut ws = tungstenite::WebSocket::from_raw_socket(Replay::new(data), tungstenite_role, None);
    decoders.push((
        "tungstenite",
        Box::new(move || {
            for _ in 0..count {
                match ws.read().expect("tungstenite read") {
                    tungstenite::Message::Text(text) => black_box(text),
                    other => panic!("unexpected message {other:?}"),
                };
            }
        }),
    ));

    let fast_role = if masked {
        fastwebsockets::Role::Server
    } else {
        fastwebsockets::Role::Client
    };
    let mut ws = fastwebsockets::WebSocket::after_handshake(Replay::new(data), fast_role);
    ws.set_auto_close(false);
    ws.set_auto_pong(false);
    let mut ws = fastwebsockets::FragmentCollector::new(ws);
    decoders.push((
        "fastwebsockets",
        Box::new(move || {
            ready(async {
                for _ in 0..count {
                    let frame = ws.read_frame().await.expect("fastwebsockets read");
                    assert_eq!(frame.opcode, fastwebsockets::OpCode::Text);
                    black_box(frame.payload);
                }
            });
        }),
    ));

    let mut ws = if masked {
        tokio_websockets::ServerBuilder::new().serve(Replay::new(data))
    } else {
        tokio_websockets::ClientBuilder::new().take_over(Replay::new(data))
    };
    decoders.push((
        "tokio-websockets",
        Box::new(move || {
            ready(async {
                for _ in 0..count {
                    let next =
                        poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut ws), cx)).await;
                    let message = next.expect("stream open").expect("tokio-websockets read");
                    assert!(message.is_text());
                    black_box(message);
                }
            });
        }),
    ));
    decoders
}

/// A case: group name, label, messages per iteration, decoders.
type Case = (
    &'static str,
    &'static str,
    usize,
    Vec<(&'static str, Decoder)>,
);

/// Every case that `wanted(group, label)` selects.
fn cases(wanted: impl Fn(&str, &str) -> bool) -> Vec<Case> {
    let mut cases = Vec::new();
    for (masked, group) in [(false, "ws_decode_unmasked"), (true, "ws_decode_masked")] {
        for (size, count, label) in CASES {
            if wanted(group, label) {
                // Leaked so that every stream can hold it for the whole run.
                let data: &'static [u8] = encode(size, count, masked).leak();
                cases.push((group, label, count, decoders(masked, count, data)));
            }
        }
    }
    cases
}

fn decoding(c: &mut Criterion) {
    for (group_name, label, count, decoders) in cases(|_, _| true) {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(count as u64));
        for (library, mut decode) in decoders {
            group.bench_function(BenchmarkId::new(library, label), |b| b.iter(&mut decode));
        }
        group.finish();
    }
}

fn main() {
    // `callgrind.sh` runs one case a fixed number of times instead of measuring with criterion.
    if let Some(run) = responses_ws_benches::FixedRun::from_env() {
        for (group, label, _, decoders) in cases(|group, label| run.wants(group, label)) {
            for (library, decode) in decoders {
                if run.selects(group, library, label) {
                    run.run(decode);
                }
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, decoding);
