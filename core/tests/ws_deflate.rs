//! permessage-deflate on whole connections: negotiation through the handshake of both roles,
//! compressed frames on the wire (RSV1 on a message's first frame only, never on control
//! frames), the rules a peer's frames must follow, the limits that bound inflation, and the
//! codec a quiet connection frees on its timer and builds again.
#![cfg(feature = "deflate")]

mod common;

use common::{decode_frames, events, peer_frame, request_key, transmitted, Pair, T0};
use core::time::Duration;
use proptest::prelude::*;
use responses_ws_core::ws::{
    accept_key, CloseCode, Config, Connection, DeflateConfig, DeflateParams, Error, Event,
    HandshakeError, Message, MessageKind, ProtocolError, Role, WsUrl,
};

/// A Responses event, as the stream carries hundreds of them.
const DELTA: &str = r#"{"type":"response.output_text.delta","sequence_number":17,"item_id":"msg_67ccd3acc8d48190a77525dc6de64b4104becb25c1d2d4a1","output_index":0,"content_index":0,"delta":" the"}"#;

fn deflate_config(edit: impl FnOnce(&mut DeflateConfig)) -> Config {
    let mut config = Config::default();
    edit(&mut config.deflate);
    config
}

/// A connection of `role` whose peer agreed to permessage-deflate with `extension` (the
/// `Sec-WebSocket-Extensions` value of the request or the answer), past its handshake.
fn open_with(role: Role, config: Config, extension: &str) -> Connection {
    let mut conn = match role {
        Role::Client => {
            let url = WsUrl::parse("ws://example/chat").unwrap();
            let mut conn = Connection::client(&url, &[], config, [9; 32], T0).unwrap();
            let request = transmitted(&mut conn);
            let answer = format!(
                "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {extension}\r\n\r\n",
                accept_key(&request_key(&request))
            );
            conn.handle_input(answer.as_bytes(), T0);
            conn
        }
        Role::Server => {
            let mut conn = Connection::server(config, [9; 32], T0);
            let request = format!("GET /chat HTTP/1.1\r\nHost: example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Extensions: {extension}\r\n\r\n");
            conn.handle_input(request.as_bytes(), T0);
            assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
            conn.accept(&[]).unwrap();
            conn
        }
    };
    assert!(matches!(conn.poll_event(), Some(Event::Open { .. })));
    transmitted(&mut conn);
    conn
}

/// How the connection ended, after `frames` arrived.
fn fail_with(role: Role, frames: &[u8]) -> (Option<Error>, Vec<(u8, Vec<u8>)>) {
    let mut conn = open_with(role, Config::default(), "permessage-deflate");
    conn.handle_input(frames, T0);
    let closed = events(&mut conn).into_iter().find_map(|e| match e {
        Event::Closed(closed) => Some(closed),
        _ => None,
    });
    (
        closed.and_then(|c| c.error),
        decode_frames(&transmitted(&mut conn)),
    )
}

#[test]
fn both_roles_agree_by_default_and_compress_on_the_wire() {
    let mut pair = Pair::connected(Config::default());
    let agreed = pair.client.deflate().expect("negotiated");
    assert_eq!(pair.server.deflate(), Some(agreed));
    assert_eq!(
        (
            agreed.client_max_window_bits,
            agreed.server_max_window_bits,
            agreed.client_no_context_takeover,
            agreed.server_no_context_takeover
        ),
        (15, 12, false, false)
    );
    // The same event twice: RSV1 set, and the second costs a fraction of the first.
    let mut sizes = Vec::new();
    for _ in 0..2 {
        pair.server.send_text(DELTA).unwrap();
        let wire = transmitted(&mut pair.server);
        let frames = decode_frames(&wire);
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].0, 0xC1, "FIN, RSV1, text");
        sizes.push(frames[0].1.len());
        pair.client.handle_input(&wire, T0);
        assert_eq!(
            events(&mut pair.client),
            [Event::Message(Message::from(DELTA))]
        );
    }
    assert!(
        sizes[0] < DELTA.len() && sizes[1] * 5 < sizes[0],
        "{sizes:?}"
    );
}

#[test]
fn whole_messages_shorter_than_the_threshold_go_out_uncompressed() {
    let mut pair = Pair::connected(deflate_config(|d| d.min_compress_len = 1024));
    let long = DELTA.repeat(8);
    let mut firsts = Vec::new();
    for text in [DELTA, long.as_str(), DELTA] {
        pair.client.send_text(text).unwrap();
        let wire = transmitted(&mut pair.client);
        firsts.extend(decode_frames(&wire).iter().map(|f| f.0));
        pair.server.handle_input(&wire, T0);
        assert_eq!(
            events(&mut pair.server),
            [Event::Message(Message::from(text))]
        );
    }
    assert_eq!(firsts, [0x81, 0xC1, 0x81], "RSV1 on the long one only");
    // A fragmented message is compressed whatever its length: the choice is made at its
    // first fragment.
    pair.client
        .send_fragment(MessageKind::Text, &b"sh"[..], false)
        .unwrap();
    pair.client
        .send_fragment(MessageKind::Text, &b"ort"[..], true)
        .unwrap();
    let wire = transmitted(&mut pair.client);
    let firsts: Vec<u8> = decode_frames(&wire).iter().map(|f| f.0).collect();
    assert_eq!(firsts, [0x41, 0x80]);
    pair.server.handle_input(&wire, T0);
    assert_eq!(
        events(&mut pair.server),
        [Event::Message(Message::from("short"))]
    );
}

#[test]
fn control_frames_are_never_compressed_and_fragments_mark_only_the_first() {
    let mut pair = Pair::connected(Config::default());
    let text = DELTA.repeat(3);
    let (a, b) = text.split_at(100);
    pair.client
        .send_fragment(MessageKind::Text, a.as_bytes().to_vec(), false)
        .unwrap();
    pair.client.send_ping(&b"ping"[..]).unwrap();
    pair.client
        .send_fragment(MessageKind::Text, b.as_bytes().to_vec(), true)
        .unwrap();
    let wire = transmitted(&mut pair.client);
    let firsts: Vec<u8> = decode_frames(&wire).iter().map(|f| f.0).collect();
    assert_eq!(
        firsts,
        [0x41, 0x89, 0x80],
        "RSV1 on the first fragment only"
    );
    pair.server.handle_input(&wire, T0);
    assert_eq!(
        events(&mut pair.server),
        [
            Event::Ping(b"ping"[..].into()),
            Event::Message(Message::from(text.as_str()))
        ]
    );
    // The pong and the close go out plain.
    pair.server.close(CloseCode::NORMAL, "bye", T0).unwrap();
    let firsts: Vec<u8> = decode_frames(&transmitted(&mut pair.server))
        .iter()
        .map(|f| f.0)
        .collect();
    assert_eq!(firsts, [0x8A, 0x88]);
}

#[test]
fn nothing_is_offered_or_accepted_when_switched_off() {
    let off = deflate_config(|d| *d = DeflateConfig::disabled());
    let url = WsUrl::parse("ws://example/chat").unwrap();
    let mut client = Connection::client(&url, &[], off.clone(), [1; 32], T0).unwrap();
    let request = String::from_utf8(transmitted(&mut client)).unwrap();
    assert!(!request
        .to_ascii_lowercase()
        .contains("sec-websocket-extensions"));

    // A client that offers, a server that declines: plain frames both ways.
    let mut pair = Pair::connected(Config::default());
    let mut declined = Connection::server(off, [2; 32], T0);
    std::mem::swap(&mut pair.server, &mut declined);
    let url = WsUrl::parse("ws://127.0.0.1:1/").unwrap();
    pair.client = Connection::client(&url, &[], Config::default(), [1; 32], T0).unwrap();
    pair.drive();
    let [Event::Request(request)] = &pair.take_events(Role::Server)[..] else {
        panic!("no request")
    };
    assert_eq!(
        request.header("sec-websocket-extensions"),
        Some("permessage-deflate; server_max_window_bits=12; client_max_window_bits, permessage-deflate; client_max_window_bits")
    );
    pair.server.accept(&[]).unwrap();
    pair.drive();
    assert_eq!((pair.client.deflate(), pair.server.deflate()), (None, None));
    pair.take_events(Role::Client);
    pair.client.send_text(DELTA).unwrap();
    assert_eq!(decode_frames(&transmitted(&mut pair.client))[0].0, 0x81);
}

#[test]
fn the_client_takes_the_servers_limits() {
    let client = open_with(
        Role::Client,
        Config::default(),
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9",
    );
    assert_eq!(
        client.deflate().map(|p| (
            p.server_no_context_takeover,
            p.client_no_context_takeover,
            p.server_max_window_bits,
            p.client_max_window_bits
        )),
        Some((true, true, 10, 9))
    );
}

#[test]
fn a_bad_answer_fails_the_handshake_with_a_typed_error() {
    for answer in [
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; mystery",
        "permessage-deflate, permessage-deflate",
        "x-webkit-deflate-frame",
    ] {
        let url = WsUrl::parse("ws://example/chat").unwrap();
        let mut conn = Connection::client(&url, &[], Config::default(), [9; 32], T0).unwrap();
        let request = transmitted(&mut conn);
        let response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\nSec-WebSocket-Extensions: {answer}\r\n\r\n",
            accept_key(&request_key(&request))
        );
        conn.handle_input(response.as_bytes(), T0);
        let Some(Event::Closed(closed)) = conn.poll_event() else {
            panic!("{answer}: not closed")
        };
        assert!(
            matches!(
                closed.error,
                Some(Error::Handshake(HandshakeError::Extension(_)))
            ),
            "{answer}: {:?}",
            closed.error
        );
    }
    // Out-of-range settings never reach the wire.
    let url = WsUrl::parse("ws://example/chat").unwrap();
    let bad = deflate_config(|d| d.client_max_window_bits = Some(7));
    assert!(matches!(
        Connection::client(&url, &[], bad, [9; 32], T0),
        Err(HandshakeError::Extension(_))
    ));
}

#[test]
fn a_peer_that_breaks_the_rsv1_rules_gets_1002() {
    let compressed_hi = {
        let mut pair = Pair::connected(Config::default());
        pair.client.send_text("hi").unwrap();
        decode_frames(&transmitted(&mut pair.client)).remove(0).1
    };
    let cases = [
        // RSV1 on a continuation frame.
        [
            peer_frame(Role::Server, 0x41, &compressed_hi),
            peer_frame(Role::Server, 0xC0, &[0x00]),
        ]
        .concat(),
        // RSV1 on a ping.
        peer_frame(Role::Server, 0xC9, b""),
        // RSV2.
        peer_frame(Role::Server, 0xA1, b"x"),
    ];
    for frames in cases {
        let (error, sent) = fail_with(Role::Server, &frames);
        assert_eq!(error, Some(Error::Protocol(ProtocolError::ReservedBits)));
        assert_eq!(
            sent.last().map(|f| &f.1[..2]),
            Some(&[0x03, 0xEA][..]),
            "1002"
        );
    }
    // Without the extension, RSV1 itself is the violation.
    let mut plain = common::open(Role::Server, Config::default());
    plain.handle_input(&peer_frame(Role::Server, 0xC1, &compressed_hi), T0);
    assert!(events(&mut plain).iter().any(|e| matches!(
        e,
        Event::Closed(c) if c.error == Some(Error::Protocol(ProtocolError::ReservedBits))
    )));
}

#[test]
fn invalid_compressed_data_gets_1007() {
    // BTYPE 11 is reserved in DEFLATE.
    let (error, sent) = fail_with(Role::Client, &peer_frame(Role::Client, 0xC2, &[0xff, 0xff]));
    assert_eq!(
        error,
        Some(Error::Protocol(ProtocolError::InvalidCompressedData))
    );
    assert_eq!(
        sent.last().map(|f| &f.1[..2]),
        Some(&[0x03, 0xEF][..]),
        "1007"
    );
}

#[test]
fn a_deflate_bomb_gets_1009_without_growing_past_the_limit() {
    // 16 MiB of zeros compress to about 100 KiB (fixed Huffman codes: 13 bits per 258 bytes).
    let bomb = {
        let mut pair = Pair::connected(deflate_config(|d| d.level = 9));
        pair.server.send_binary(vec![0u8; 16 << 20]).unwrap();
        transmitted(&mut pair.server)
    };
    assert!(bomb.len() < 120_000, "{}", bomb.len());
    let mut small = Config::default();
    small.max_message_size = 1 << 20;
    let mut conn = open_with(Role::Client, small, "permessage-deflate");
    conn.handle_input(&bomb, T0);
    let closed = events(&mut conn).into_iter().find_map(|e| match e {
        Event::Closed(closed) => Some(closed),
        _ => None,
    });
    assert_eq!(
        closed.and_then(|c| c.error),
        Some(Error::Protocol(ProtocolError::MessageTooLarge {
            len: (1 << 20) + 1,
            limit: 1 << 20
        }))
    );
    assert_eq!(
        decode_frames(&transmitted(&mut conn))
            .last()
            .map(|f| f.1[..2].to_vec()),
        Some(vec![0x03, 0xF1]),
        "1009"
    );
}

#[test]
fn invalid_utf8_inside_a_compressed_text_message_gets_1007() {
    let compressed = {
        let mut pair = Pair::connected(Config::default());
        pair.server.send_binary(&b"ok \xff"[..]).unwrap();
        decode_frames(&transmitted(&mut pair.server)).remove(0).1
    };
    let (error, _) = fail_with(Role::Client, &peer_frame(Role::Client, 0xC1, &compressed));
    assert_eq!(error, Some(Error::Protocol(ProtocolError::InvalidUtf8)));
}

fn params(p: Option<DeflateParams>) -> Option<(bool, bool, u8, u8)> {
    p.map(|p| {
        (
            p.server_no_context_takeover,
            p.client_no_context_takeover,
            p.server_max_window_bits,
            p.client_max_window_bits,
        )
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// compress → frame → parse → decompress: messages of any kind and size, cut into any
    /// fragments and carried in any chops, arrive unchanged under every agreed parameter set.
    #[test]
    fn compressed_messages_arrive_unchanged(
        messages in proptest::collection::vec(
            (any::<bool>(), prop_oneof![
                Just(DELTA.as_bytes().to_vec()),
                proptest::collection::vec(any::<u8>(), 0..3000),
                "[a-z \u{e9}\u{20ac}]{0,4000}".prop_map(String::into_bytes),
            ], proptest::collection::vec(any::<usize>(), 0..3)),
            1..8,
        ),
        chop in 1usize..5000,
        client_sends: bool,
        server_nct: bool,
        client_nct: bool,
        client_bits in prop::option::of(8u8..=15),
        server_bits in prop::option::of(8u8..=15),
        level in 0u8..=9,
        release: bool,
    ) {
        let config = deflate_config(|d| {
            d.server_no_context_takeover = server_nct;
            d.client_no_context_takeover = client_nct;
            d.client_max_window_bits = client_bits;
            d.server_max_window_bits = server_bits;
            d.level = level;
        });
        let mut pair = Pair::connected(config);
        prop_assert_eq!(params(pair.client.deflate()), params(pair.server.deflate()));
        let (from, to) = if client_sends {
            (&mut pair.client, &mut pair.server)
        } else {
            (&mut pair.server, &mut pair.client)
        };
        let mut expected = Vec::new();
        for (text, payload, cuts) in &messages {
            let payload = if *text {
                String::from_utf8_lossy(payload).into_owned().into_bytes()
            } else {
                payload.clone()
            };
            let kind = if *text { MessageKind::Text } else { MessageKind::Binary };
            // Cut at character boundaries for text (the sender checks each fragment).
            let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (payload.len() + 1)).collect();
            bounds.push(payload.len());
            bounds.sort_unstable();
            bounds.dedup();
            let mut start = 0;
            for (i, &end) in bounds.iter().enumerate() {
                from.send_fragment(kind, payload[start..end].to_vec(), i + 1 == bounds.len()).unwrap();
                start = end;
            }
            expected.push(Event::Message(match kind {
                MessageKind::Text => Message::from(String::from_utf8(payload).unwrap()),
                MessageKind::Binary => Message::Binary(payload.into()),
            }));
            // Both ends give back what an idle connection can rebuild between messages.
            if release {
                for piece in transmitted(from).chunks(chop) {
                    to.handle_input(piece, T0);
                }
                from.release_idle_memory();
                to.release_idle_memory();
            }
        }
        let wire = transmitted(from);
        for piece in wire.chunks(chop) {
            to.handle_input(piece, T0);
        }
        prop_assert_eq!(events(to), expected);
    }
}

/// Without keepalive pings, the only deadline of an open connection is the release of the
/// codec state it holds.
fn holds_codec_state(conn: &Connection) -> bool {
    conn.poll_timeout().is_some()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, ..ProptestConfig::default() })]

    /// A quiet connection frees its codec after `release_after` and builds it again at its
    /// next message, on either end, while the other end keeps its context: messages both
    /// ways, with quiet gaps shorter and longer than the delay, arrive unchanged under every
    /// agreed parameter set — a compressor built again refers to nothing before it, and an
    /// inflater built again starts from the history the peer may still refer to.
    #[test]
    fn messages_arrive_unchanged_across_releases_on_the_timer(
        steps in proptest::collection::vec(
            (any::<bool>(), prop_oneof![
                Just(DELTA.to_string()),
                "[a-z \u{e9}{}\"]{0,3000}",
            ], 0u64..2500),
            1..16,
        ),
        server_nct: bool,
        client_nct: bool,
        client_bits in prop::option::of(8u8..=15),
        server_bits in prop::option::of(8u8..=15),
        level in 0u8..=9,
    ) {
        let delay = Duration::from_secs(1);
        let mut config = deflate_config(|d| {
            d.server_no_context_takeover = server_nct;
            d.client_no_context_takeover = client_nct;
            d.client_max_window_bits = client_bits;
            d.server_max_window_bits = server_bits;
            d.level = level;
            d.release_after = Some(delay);
        });
        config.keepalive_interval = None;
        let mut pair = Pair::connected(config);
        prop_assert!(!holds_codec_state(&pair.client) && !holds_codec_state(&pair.server));
        for (client_sends, text, gap) in steps {
            let (from, to) = if client_sends {
                (&mut pair.client, Role::Server)
            } else {
                (&mut pair.server, Role::Client)
            };
            from.send_text(text.clone()).unwrap();
            pair.drive();
            prop_assert_eq!(pair.take_events(to), [Event::Message(Message::from(text))]);
            // Quiet for `gap`: each end's timers fire as a driver would fire them.
            let quiet_since = pair.now;
            let until = quiet_since + Duration::from_millis(gap);
            while pair.now < until && pair.advance(until.saturating_duration_since(pair.now)) {}
            // Within the delay both ends keep their state (the sender its compressor, the
            // receiver its inflater). After twice the delay both have freed it: a send is
            // dated when the driver next reports the time (here the first timeout, at the
            // delay), never earlier.
            for conn in [&pair.client, &pair.server] {
                if gap < 1000 {
                    prop_assert!(holds_codec_state(conn));
                } else if gap >= 2000 {
                    prop_assert!(!holds_codec_state(conn));
                }
            }
        }
    }
}

/// A message whose sending or arrival is in progress keeps the codec's state past the delay,
/// and the timer does not fire at every call meanwhile: it tries again one delay later.
#[test]
fn a_message_in_progress_keeps_the_codec_without_spinning_the_timer() {
    let delay = Duration::from_secs(1);
    let mut pair = Pair::connected(deflate_config(|d| d.release_after = Some(delay)));
    pair.client
        .send_fragment(MessageKind::Text, "{\"type\":", false)
        .unwrap();
    pair.server
        .send_fragment(MessageKind::Text, "{\"type\":", false)
        .unwrap();
    pair.drive();
    let start = pair.now;
    let mut wakeups = 0;
    while pair.now < start + Duration::from_secs(10) && pair.advance(Duration::from_secs(60)) {
        wakeups += 1;
    }
    // One attempt per delay on each end (both at the same moments), no more.
    assert!((9..=11).contains(&wakeups), "{wakeups} wake-ups in 10 s");
    pair.client
        .send_fragment(MessageKind::Text, "\"done\"}", true)
        .unwrap();
    pair.server
        .send_fragment(MessageKind::Text, "\"done\"}", true)
        .unwrap();
    pair.drive();
    let done = [Event::Message(Message::from("{\"type\":\"done\"}"))];
    assert_eq!(pair.take_events(Role::Server), done);
    assert_eq!(pair.take_events(Role::Client), done);
}
