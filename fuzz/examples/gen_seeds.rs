//! Writes the seed corpus to `fuzz/seeds/<target>/` (run from anywhere):
//!
//! ```text
//! cargo run --manifest-path fuzz/Cargo.toml --example gen_seeds
//! ```
//!
//! Each seed is `[flags, step count, steps…, stream…]` as the `responses_ws_fuzz` docs describe.
//! Frames are encoded with the core's own `FrameHeader::write` and masking.

use responses_ws_core::ws::mask::apply_mask;
use responses_ws_core::ws::{CloseCode, Config, Connection, Event, FrameHeader, MessageKind, OpCode, WsUrl, MAX_HEADER_LEN};
use responses_ws_core::Instant;
use responses_ws_fuzz::{deflate_request, upgrade_response_with, DEFLATE_SETS, REQUEST, URL};
use std::path::Path;

/// A frame; masked with a fixed key when `masked` (client to server).
fn frame(masked: bool, fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mask = masked.then_some([0x37, 0xfa, 0x21, 0x3d]);
    let header = FrameHeader { fin, rsv1: false, opcode, mask, payload_len: payload.len() as u64 };
    let mut head = [0u8; MAX_HEADER_LEN];
    let len = header.write(&mut head);
    let mut out = head[..len].to_vec();
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key);
    }
    out
}

/// A seed: flags, steps, then the stream.
fn seed(flags: u8, steps: &[u8], stream: &[u8]) -> Vec<u8> {
    assert!(steps.len() <= 15);
    [&[flags, steps.len() as u8][..], steps, stream].concat()
}

/// Seeds for a peer that sends frames (`masked` for a client peer).
fn frame_seeds(m: bool) -> Vec<(&'static str, Vec<u8>)> {
    use OpCode::*;
    let f = |fin, op, p: &[u8]| frame(m, fin, op, p);
    let close = |code: u16, reason: &str| frame(m, true, Close, &[&code.to_be_bytes()[..], reason.as_bytes()].concat());
    let text = f(true, Text, b"{\"type\":\"response.created\"}");
    let mut long_len = f(true, Binary, b"12345");
    // The same frame with a (non-minimal) 64-bit length.
    long_len.splice(1..2, [long_len[1] & 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 5]);
    let mut unmasked_peer = frame(!m, true, Text, b"wrong masking");
    unmasked_peer.extend(close(1000, ""));
    vec![
        ("text", seed(0, &[], &text)),
        ("binary", seed(0, &[], &f(true, Binary, &[0, 1, 2, 0xff]))),
        ("binary-16bit-len", seed(0, &[], &f(true, Binary, &[0x5a; 300]))),
        ("binary-64bit-len", seed(0, &[], &long_len)),
        ("empty-messages", seed(0, &[], &[f(true, Text, b""), f(true, Binary, b"")].concat())),
        ("fragmented-text", seed(0, &[], &[f(false, Text, "héll".as_bytes()), f(true, Ping, b"mid"), f(false, Continuation, b"o w"), f(true, Continuation, b"orld")].concat())),
        ("fragmented-binary", seed(0, &[], &[f(false, Binary, b"ab"), f(true, Continuation, b"cd")].concat())),
        ("ping-pong", seed(0, &[], &[f(true, Ping, b"hi"), f(true, Pong, b"1"), f(true, Ping, b"")].concat())),
        ("ping-manual-pong", seed(1, &[], &f(true, Ping, b"no auto pong"))),
        ("close-1000", seed(0, &[], &close(1000, "bye"))),
        ("close-empty", seed(0, &[], &f(true, Close, b""))),
        ("close-4000-utf8", seed(0, &[], &close(4000, "déjà vu"))),
        ("close-bad-code", seed(0, &[], &close(1005, ""))),
        ("text-then-close-bytewise", seed(0, &[0x00], &[text.clone(), close(1001, "going")].concat())),
        ("text-in-3-byte-chunks", seed(0, &[0x02, 0x00, 0x04], &[text.clone(), text.clone()].concat())),
        ("we-close-then-peer-answers", seed(0, &[0xC0 | 0x1F], &[text.clone(), close(1000, "")].concat())),
        ("we-close-then-data", seed(0, &[0xC0 | 1, 0x1F], &[f(true, Text, b"a"), f(true, Text, b"late"), close(1000, "")].concat())),
        ("we-close-timeout", seed(0, &[0xC0 | 1, 0x80 | 0x1F], &[f(true, Text, b"a"), f(true, Text, b"b")].concat())),
        ("sends-between-chunks", seed(0, &[0xA0 | 1, 0xA0 | 1, 0xA0 | 1, 0x1F], &[f(true, Ping, b""), f(true, Text, b"x"), f(true, Binary, b"y")].concat())),
        ("keepalive-and-pong-timeout", seed(8, &[0x80 | 1, 0x80 | 1, 0xE0 | 1], &[f(true, Text, b"a"), f(true, Pong, b""), f(true, Text, b"b")].concat())),
        ("timer-steps", seed(0, &[0x60 | 1, 0x60 | 3, 0x1F], &[f(true, Text, b"a"), f(true, Text, b"bc"), f(true, Text, b"d")].concat())),
        ("invalid-utf8", seed(0, &[], &f(true, Text, b"ok \xc3\x28"))),
        ("invalid-utf8-split", seed(0, &[], &[f(false, Text, b"\xe2\x82"), f(true, Continuation, b"\xac\xff")].concat())),
        ("reserved-bits", seed(0, &[], &[0xC1, 0x80, 0, 0, 0, 0])),
        ("reserved-opcode", seed(0, &[], &[&[0x83][..], &f(true, Text, b"x")[1..]].concat())),
        ("continuation-without-start", seed(0, &[], &f(true, Continuation, b"x"))),
        ("text-during-fragments", seed(0, &[], &[f(false, Text, b"a"), f(true, Text, b"b")].concat())),
        ("fragmented-ping", seed(0, &[], &f(false, Ping, b"x"))),
        ("wrong-masking", seed(0, &[], &unmasked_peer)),
        ("small-limits-frame-too-large", seed(2, &[], &f(true, Binary, &[1; 300]))),
        ("small-limits-message-too-large", seed(2, &[], &[f(false, Binary, &[1; 250]), f(false, Continuation, &[1; 250]), f(false, Continuation, &[1; 250]), f(false, Continuation, &[1; 250]), f(true, Continuation, &[1; 250])].concat())),
        ("garbage", seed(0, &[], b"\x00\xff\x13\x37 not a frame \r\n\x7f")),
    ]
}

fn handshake_response_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let ok = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n";
    let with = |extra: &str, after: &[u8]| [format!("{ok}{extra}\r\n").as_bytes(), after].concat();
    let hello = frame(false, true, OpCode::Text, b"hello");
    let body = br#"{"error":{"type":"invalid_request_error","code":"invalid_api_key","message":"Incorrect API key"}}"#;
    let unauthorized = [format!("HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(), body].concat();
    let chunked = b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3\r\nTransfer-Encoding: chunked\r\n\r\n4;ext=1\r\nslow\r\n5\r\n down\r\n0\r\n\r\n";
    vec![
        ("101", seed(0, &[], &with("", &hello))),
        ("101-headers-and-frames", seed(0, &[], &with("x-request-id: req_123\r\nSec-WebSocket-Protocol: v2", &[hello.clone(), frame(false, true, OpCode::Close, b"\x03\xe8")].concat()))),
        ("101-bytewise", seed(0, &[0x00], &with("", &hello))),
        ("101-wrong-accept", seed(0, &[], ok.replace("{accept}", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=").as_bytes())),
        ("101-extension", seed(0, &[], &with("Sec-WebSocket-Extensions: permessage-deflate", b""))),
        ("101-unknown-protocol", seed(0, &[], &with("Sec-WebSocket-Protocol: chat", b""))),
        ("101-missing-upgrade", seed(0, &[], format!("{}\r\n", ok.replace("Upgrade: websocket\r\n", "")).as_bytes())),
        ("401-json-body", seed(0, &[], &unauthorized)),
        ("401-small-limits", seed(2, &[0x03], &unauthorized)),
        ("429-chunked", seed(0, &[0x05], chunked)),
        ("426-until-eof", seed(0, &[], b"HTTP/1.1 426 Upgrade Required\r\nConnection: close\r\n\r\nuse https")),
        ("handshake-timeout", seed(0, &[0x80 | 4], b"HTTP/1.1 101 Swi")),
        ("head-too-large", seed(2, &[], format!("HTTP/1.1 200 OK\r\nX: {}\r\n\r\n", "a".repeat(600)).as_bytes())),
        ("garbage", seed(0, &[], b"SSH-2.0-OpenSSH_9.6\r\n\r\n")),
    ]
}

fn handshake_request_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let request = std::str::from_utf8(REQUEST).unwrap();
    let hello = frame(true, true, OpCode::Text, b"hello");
    let bye = frame(true, true, OpCode::Close, b"\x03\xe8bye");
    let headers = (0..70).map(|i| format!("X-H{i}: v\r\n")).collect::<String>();
    vec![
        ("request", seed(0, &[], REQUEST)),
        ("request-then-frames", seed(0, &[], &[REQUEST, &hello, &bye].concat())),
        ("request-bytewise", seed(0, &[0x00], &[REQUEST, &hello].concat())),
        ("request-rejected", seed(0x10, &[], &[REQUEST, &hello].concat())),
        ("post", seed(0, &[], request.replacen("GET", "POST", 1).as_bytes())),
        ("http-1.0", seed(0, &[], request.replace("HTTP/1.1", "HTTP/1.0").as_bytes())),
        ("no-upgrade", seed(0, &[], request.replace("Upgrade: websocket\r\n", "").as_bytes())),
        ("version-8", seed(0, &[], request.replace("Version: 13", "Version: 8").as_bytes())),
        ("bad-key", seed(0, &[], request.replace("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=").as_bytes())),
        ("too-many-headers", seed(0, &[], request.replace("Host:", &format!("{headers}Host:")).as_bytes())),
        ("handshake-timeout", seed(0, &[0x80 | 4], &REQUEST[..20])),
        ("tls-client-hello", seed(0, &[], b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n")),
    ]
}

/// Everything a connection queued, as one byte string.
fn drain(conn: &mut Connection) -> Vec<u8> {
    std::iter::from_fn(|| conn.poll_transmit()).flat_map(|b| b.to_vec()).collect()
}

/// The peer of a `ws_deflate_frames` harness: a server when the harness is a client, and the
/// other way round, past a handshake with the parameters of `set`. Its frames are what the
/// harness must read, compressed as the agreed parameters say.
fn deflate_peer(harness_is_server: bool, set: usize) -> Connection {
    let (offer, answer) = DEFLATE_SETS[set];
    let t0 = Instant::ZERO;
    let mut peer = if harness_is_server {
        let url = WsUrl::parse(URL).unwrap();
        let mut peer = Connection::client(&url, &[], Config::default(), [3; 32], t0).unwrap();
        let request = String::from_utf8(drain(&mut peer)).unwrap();
        let key = request.split("\r\n").find_map(|l| l.strip_prefix("Sec-WebSocket-Key: ")).unwrap().to_owned();
        peer.handle_input(&upgrade_response_with(&key, &format!("Sec-WebSocket-Extensions: {answer}\r\n")), t0);
        peer
    } else {
        let mut peer = Connection::server(Config::default(), [3; 32], t0);
        peer.handle_input(&deflate_request(offer), t0);
        assert!(matches!(peer.poll_event(), Some(Event::Request(_))));
        peer.accept(&[]).unwrap();
        drain(&mut peer);
        peer
    };
    assert!(matches!(peer.poll_event(), Some(Event::Open { .. })));
    assert!(peer.deflate().is_some());
    peer
}

/// Seeds for `ws_deflate_frames`: compressed frames from a real peer for each role and parameter
/// set, plus broken ones (corrupted DEFLATE data, RSV1 on a continuation, a bomb for the small
/// limits).
fn deflate_seeds() -> Vec<(String, Vec<u8>)> {
    let events = [
        r#"{"type":"response.created","sequence_number":0,"response":{"id":"resp_1","status":"in_progress"}}"#,
        r#"{"type":"response.output_text.delta","sequence_number":1,"item_id":"msg_1","output_index":0,"content_index":0,"delta":"Hello"}"#,
        r#"{"type":"response.output_text.delta","sequence_number":2,"item_id":"msg_1","output_index":0,"content_index":0,"delta":" world"}"#,
    ];
    let mut seeds = Vec::new();
    for harness_is_server in [false, true] {
        let role = if harness_is_server { "server" } else { "client" };
        for set in 0..DEFLATE_SETS.len() {
            let flags = (set as u8) << 6 | u8::from(harness_is_server) << 5;
            let mut peer = deflate_peer(harness_is_server, set);
            for event in events {
                peer.send_text(event).unwrap();
            }
            let stream = drain(&mut peer);
            seeds.push((format!("{role}-set{set}-events"), seed(flags, &[], &stream)));
            seeds.push((format!("{role}-set{set}-events-bytewise"), seed(flags, &[0x00], &stream)));
            if set != 0 {
                continue;
            }
            let mut peer = deflate_peer(harness_is_server, set);
            peer.send_fragment(MessageKind::Text, "fragmented tëxt, ".repeat(20), false).unwrap();
            peer.send_ping(&b"mid"[..]).unwrap();
            peer.send_fragment(MessageKind::Text, "end".repeat(10), true).unwrap();
            peer.send_binary(vec![0u8; 20_000]).unwrap();
            peer.close(CloseCode::NORMAL, "bye", Instant::ZERO).unwrap();
            let stream = drain(&mut peer);
            seeds.push((format!("{role}-fragments-zeros-close"), seed(flags, &[], &stream)));
            // The 20 000 zeros inflate past the 1 KiB of the small limits.
            seeds.push((format!("{role}-bomb-small-limits"), seed(flags | 2, &[], &stream)));
            // Sends between chunks compress our own messages too.
            seeds.push((format!("{role}-sends-between-chunks"), seed(flags, &[0xA0 | 7, 0xA0 | 7, 0x1F], &stream)));
            let mut corrupt = stream.clone();
            let at = corrupt.len() / 3;
            corrupt[at] ^= 0x5A;
            seeds.push((format!("{role}-corrupted"), seed(flags, &[], &corrupt)));
            let masked = harness_is_server;
            let bad = [frame(masked, false, OpCode::Text, b"a"), {
                let mut f = frame(masked, true, OpCode::Continuation, b"\x00");
                f[0] |= 0x40;
                f
            }]
            .concat();
            seeds.push((format!("{role}-rsv1-on-continuation"), seed(flags, &[], &bad)));
        }
    }
    seeds
}

/// Seeds for `session_server_stream`: each session transcript of `core/tests/transcripts/` as
/// steps (server frames as they are, application lines as `!` calls), plus one raw stream.
fn session_seeds() -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../core/tests/transcripts");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|path| path.extension().is_some_and(|e| e == "txt"));
    files.sort();
    let mut seeds: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|path| {
            let text = std::fs::read_to_string(path).unwrap();
            let steps: Vec<String> = text.lines().filter_map(session_step).collect();
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            (name, [&[0u8][..], steps.join("\n").as_bytes()].concat())
        })
        .collect();
    let created = r#"{"type":"response.created","response":{"id":"resp_1","object":"response","created_at":1,"model":"m","output":[]}}"#;
    seeds.push(("raw-frames".into(), [&[1u8][..], &frame(false, true, OpCode::Text, created.as_bytes())].concat()));
    seeds
}

/// One transcript line as a fuzz step, if it is one.
fn session_step(line: &str) -> Option<String> {
    // The lane of a request body (after the fork's source lane, if any).
    let lane = |args: &str| {
        let body = args.find('{').map_or("{}", |at| &args[at..]);
        let value: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        value["stream_id"].as_str().unwrap_or("-").to_owned()
    };
    let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
    let (verb, args) = rest.split_once(' ').unwrap_or((rest, ""));
    match (tag, verb) {
        ("<<", _) => Some(rest.to_owned()),
        ("!", "create" | "warm_up" | "fork") => Some(format!("!c{}", lane(args))),
        ("!", "output" | "approve" | "deny") => Some("!o".into()),
        ("!", "steer") => Some("!s".into()),
        ("!", "disconnect") => Some("!r".into()),
        ("!", "advance") => Some("!t".into()),
        _ => None,
    }
}

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds");
    let targets = [
        ("ws_client_frames", frame_seeds(false)),
        ("ws_server_frames", frame_seeds(true)),
        ("handshake_response", handshake_response_seeds()),
        ("handshake_request", handshake_request_seeds()),
    ];
    for (target, seeds) in targets {
        let dir = root.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
        println!("{target}: {} seeds", seeds.len());
    }
    for (target, seeds) in [("session_server_stream", session_seeds()), ("ws_deflate_frames", deflate_seeds())] {
        let dir = root.join(target);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &seeds {
            std::fs::write(dir.join(format!("seed-{name}")), bytes).unwrap();
        }
        println!("{target}: {} seeds", seeds.len());
    }
}
