//! Transcript tests of the WebSocket layer's rules: for each rule, the exact events and the exact
//! bytes (close code) the connection answers with.

mod common;

use common::*;
use core::time::Duration;
use responses_ws_core::ws::{
    CloseCode, Closed, Config, Connection, Error, Event, HandshakeError, Message, MessageKind,
    ProtocolError, Role, SendError, State,
};

/// Feeds `bytes` and returns the events and the frames sent back.
fn feed(conn: &mut Connection, bytes: &[u8]) -> (Vec<Event>, Vec<(u8, Vec<u8>)>) {
    conn.handle_input(bytes, T0);
    (events(conn), decode_frames(&transmitted(conn)))
}

/// The close frame a connection sent: (code, reason).
fn close_frame(code: u16) -> (u8, Vec<u8>) {
    (0x88, code.to_be_bytes().to_vec())
}

fn failed(error: ProtocolError) -> Event {
    let sent = error.close_code();
    Event::Closed(Closed {
        code: CloseCode::ABNORMAL,
        reason: Default::default(),
        sent_code: Some(sent),
        clean: false,
        error: Some(Error::Protocol(error)),
    })
}

/// Asserts that `bytes` from the peer make a connection of `role` fail with `error` and `code`.
fn assert_fails(role: Role, bytes: &[u8], error: ProtocolError, code: u16) {
    let mut conn = open(role, Config::default());
    let (events, frames) = feed(&mut conn, bytes);
    assert_eq!(events, vec![failed(error)], "{role:?}");
    assert_eq!(frames, vec![close_frame(code)], "{role:?}");
    assert!(conn.is_finished());
}

#[test]
fn reserved_bits_fail_with_1002() {
    for role in [Role::Client, Role::Server] {
        for first in [0xC1, 0xA1, 0x91] {
            assert_fails(
                role,
                &peer_frame(role, first, b"x"),
                ProtocolError::ReservedBits,
                1002,
            );
        }
    }
}

#[test]
fn reserved_opcodes_fail_with_1002() {
    for role in [Role::Client, Role::Server] {
        for op in [3u8, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            assert_fails(
                role,
                &peer_frame(role, 0x80 | op, b""),
                ProtocolError::ReservedOpcode(op),
                1002,
            );
        }
    }
}

#[test]
fn masking_rules_per_role_fail_with_1002() {
    assert_fails(
        Role::Server,
        &raw_frame(0x81, b"hi", None),
        ProtocolError::UnmaskedFrame,
        1002,
    );
    assert_fails(
        Role::Client,
        &raw_frame(0x81, b"hi", Some([1, 2, 3, 4])),
        ProtocolError::MaskedFrame,
        1002,
    );
}

#[test]
fn control_frames_are_short_and_never_fragmented() {
    for role in [Role::Client, Role::Server] {
        assert_fails(
            role,
            &peer_frame(role, 0x89, &[0; 126]),
            ProtocolError::ControlFrameTooLong,
            1002,
        );
        assert_fails(
            role,
            &peer_frame(role, 0x09, b""),
            ProtocolError::FragmentedControlFrame,
            1002,
        );
        assert_fails(
            role,
            &peer_frame(role, 0x88, &[0; 126]),
            ProtocolError::ControlFrameTooLong,
            1002,
        );
    }
}

#[test]
fn continuation_rules_fail_with_1002() {
    for role in [Role::Client, Role::Server] {
        assert_fails(
            role,
            &peer_frame(role, 0x80, b"x"),
            ProtocolError::UnexpectedContinuation,
            1002,
        );
        let mut bytes = peer_frame(role, 0x01, b"a");
        bytes.extend(peer_frame(role, 0x81, b"b"));
        assert_fails(role, &bytes, ProtocolError::ExpectedContinuation, 1002);
    }
}

#[test]
fn control_frames_interleave_with_fragments() {
    for role in [Role::Client, Role::Server] {
        let mut conn = open(role, Config::default());
        let mut bytes = peer_frame(role, 0x01, b"Hel");
        bytes.extend(peer_frame(role, 0x89, b"p1"));
        bytes.extend(peer_frame(role, 0x00, "lo wö".as_bytes()));
        bytes.extend(peer_frame(role, 0x8A, b"p2"));
        bytes.extend(peer_frame(role, 0x80, b"rld"));
        let (events, frames) = feed(&mut conn, &bytes);
        assert_eq!(
            events,
            vec![
                Event::Ping(bytes_of(b"p1")),
                Event::Pong(bytes_of(b"p2")),
                Event::Message(Message::from("Hello wörld")),
            ]
        );
        assert_eq!(
            frames,
            vec![(0x8A, b"p1".to_vec())],
            "automatic pong with the ping's payload"
        );
    }
}

fn bytes_of(b: &[u8]) -> bytes::Bytes {
    bytes::Bytes::copy_from_slice(b)
}

#[test]
fn binary_fragments_assemble() {
    let mut conn = open(Role::Client, Config::default());
    let mut bytes = peer_frame(Role::Client, 0x02, &[1, 2]);
    bytes.extend(peer_frame(Role::Client, 0x00, &[]));
    bytes.extend(peer_frame(Role::Client, 0x80, &[3]));
    let (events, _) = feed(&mut conn, &bytes);
    assert_eq!(
        events,
        vec![Event::Message(Message::Binary(bytes_of(&[1, 2, 3])))]
    );
}

#[test]
fn invalid_utf8_fails_fast_inside_a_partly_received_frame() {
    for role in [Role::Client, Role::Server] {
        let mut conn = open(role, Config::default());
        let mut payload = b"valid text, then ".to_vec();
        payload.extend_from_slice(&[0xF8]);
        payload.extend_from_slice(&[b'z'; 1000]);
        let frame = peer_frame(role, 0x81, &payload);
        // Only the header and the first 30 payload bytes arrive: the bad byte is among them.
        let header_len = if role == Role::Server { 8 } else { 4 };
        let (events, frames) = feed(&mut conn, &frame[..header_len + 30]);
        assert_eq!(events, vec![failed(ProtocolError::InvalidUtf8)]);
        assert_eq!(frames, vec![close_frame(1007)]);
    }
}

#[test]
fn invalid_utf8_fails_fast_across_fragments() {
    let mut conn = open(Role::Client, Config::default());
    // "κόσμε" then a fragment starting with a stray continuation byte.
    let (events, frames) = feed(&mut conn, &raw_frame(0x01, "κόσμε".as_bytes(), None));
    assert_eq!((events, frames), (vec![], vec![]));
    let (events, frames) = feed(&mut conn, &raw_frame(0x00, &[0x80, b'a'], None));
    assert_eq!(events, vec![failed(ProtocolError::InvalidUtf8)]);
    assert_eq!(frames, vec![close_frame(1007)]);
}

#[test]
fn a_code_point_split_across_fragments_is_fine_but_an_unfinished_one_is_not() {
    let euro = "€".as_bytes();
    let mut conn = open(Role::Client, Config::default());
    let mut bytes = raw_frame(0x01, &euro[..1], None);
    bytes.extend(raw_frame(0x80, &euro[1..], None));
    assert_eq!(
        feed(&mut conn, &bytes).0,
        vec![Event::Message(Message::from("€"))]
    );
    let (events, frames) = feed(&mut conn, &raw_frame(0x81, &euro[..2], None));
    assert_eq!(events, vec![failed(ProtocolError::InvalidUtf8)]);
    assert_eq!(frames, vec![close_frame(1007)]);
}

#[test]
fn close_payloads_are_checked() {
    for role in [Role::Client, Role::Server] {
        assert_fails(
            role,
            &peer_frame(role, 0x88, &[0x03]),
            ProtocolError::CloseFrameTooShort,
            1002,
        );
        for bad in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            assert_fails(
                role,
                &peer_frame(role, 0x88, &bad.to_be_bytes()),
                ProtocolError::InvalidCloseCode(bad),
                1002,
            );
        }
        assert_fails(
            role,
            &peer_frame(role, 0x88, b"\x03\xe8\xff\xfe"),
            ProtocolError::InvalidUtf8,
            1007,
        );
    }
}

#[test]
fn a_peer_close_is_answered_once_with_its_code() {
    for role in [Role::Client, Role::Server] {
        let mut conn = open(role, Config::default());
        let mut bytes = peer_frame(role, 0x88, b"\x0f\xa0bye");
        bytes.extend(peer_frame(role, 0x88, b"\x03\xe8"));
        bytes.extend(peer_frame(role, 0x81, b"late"));
        let (events, frames) = feed(&mut conn, &bytes);
        let closed = Closed {
            code: CloseCode(4000),
            reason: "bye".into(),
            sent_code: Some(CloseCode(4000)),
            clean: true,
            error: None,
        };
        assert_eq!(events, vec![Event::Closed(closed)]);
        assert_eq!(frames, vec![close_frame(4000)]);
        assert!(conn.is_finished());
        assert_eq!(conn.send_text("more"), Err(SendError::NotOpen));
    }
}

#[test]
fn an_empty_close_is_answered_with_an_empty_close() {
    let mut conn = open(Role::Client, Config::default());
    let (events, frames) = feed(&mut conn, &raw_frame(0x88, b"", None));
    let closed = Closed {
        code: CloseCode::NO_STATUS,
        reason: Default::default(),
        sent_code: Some(CloseCode::NO_STATUS),
        clean: true,
        error: None,
    };
    assert_eq!(events, vec![Event::Closed(closed)]);
    assert_eq!(frames, vec![(0x88, vec![])]);
}

#[test]
fn after_our_close_data_is_ignored_until_the_peer_answers() {
    let mut conn = open(Role::Server, Config::default());
    conn.close(CloseCode::GOING_AWAY, "rotating", T0).unwrap();
    assert_eq!(
        decode_frames(&transmitted(&mut conn)),
        vec![(0x88, b"\x03\xe9rotating".to_vec())]
    );
    assert_eq!(conn.state(), State::CloseSent);
    let mut bytes = peer_frame(Role::Server, 0x81, b"ignored");
    bytes.extend(peer_frame(Role::Server, 0x89, b"ignored"));
    bytes.extend(peer_frame(Role::Server, 0x88, b"\x03\xe9"));
    let (events, frames) = feed(&mut conn, &bytes);
    let closed = Closed {
        code: CloseCode::GOING_AWAY,
        reason: Default::default(),
        sent_code: Some(CloseCode::GOING_AWAY),
        clean: true,
        error: None,
    };
    assert_eq!(events, vec![Event::Closed(closed)]);
    assert_eq!(
        frames,
        vec![],
        "no pong and no second close after our close"
    );
    assert!(conn.is_finished());
}

#[test]
fn the_close_handshake_times_out() {
    let mut conn = open(Role::Client, Config::default());
    conn.close(CloseCode::NORMAL, "", T0).unwrap();
    transmitted(&mut conn);
    let deadline = conn.poll_timeout().unwrap();
    assert_eq!(deadline, T0 + Duration::from_secs(5));
    conn.handle_timeout(deadline);
    let Some(Event::Closed(closed)) = conn.poll_event() else {
        panic!()
    };
    assert_eq!(
        (closed.error, closed.clean, closed.code),
        (Some(Error::CloseTimeout), false, CloseCode::ABNORMAL)
    );
    assert!(conn.is_finished());
}

#[test]
fn automatic_pong_can_be_turned_off() {
    let mut config = Config::default();
    config.auto_pong = false;
    let mut conn = open(Role::Client, config);
    let (events, frames) = feed(&mut conn, &raw_frame(0x89, b"hi", None));
    assert_eq!(
        (events, frames),
        (vec![Event::Ping(bytes_of(b"hi"))], vec![])
    );
    conn.send_pong(bytes_of(b"hi")).unwrap();
    assert_eq!(
        decode_frames(&transmitted(&mut conn)),
        vec![(0x8A, b"hi".to_vec())]
    );
}

#[test]
fn only_the_latest_unwritten_ping_is_answered() {
    let mut conn = open(Role::Server, Config::default());
    let mut bytes = peer_frame(Role::Server, 0x89, b"1");
    bytes.extend(peer_frame(Role::Server, 0x89, b"2"));
    let (_, frames) = feed(&mut conn, &bytes);
    assert_eq!(frames, vec![(0x8A, b"2".to_vec())]);
}

#[test]
fn oversized_frames_fail_with_1009_before_buffering() {
    let mut config = Config::default();
    config.max_frame_payload = 1000;
    let mut conn = open(Role::Client, config);
    // Only the header of a 1001-byte frame arrives.
    let frame = raw_frame(0x82, &[0; 1001], None);
    let (events, frames) = feed(&mut conn, &frame[..4]);
    assert_eq!(
        events,
        vec![failed(ProtocolError::FrameTooLarge {
            len: 1001,
            limit: 1000
        })]
    );
    assert_eq!(frames, vec![close_frame(1009)]);
}

#[test]
fn oversized_messages_fail_with_1009_at_the_fragment_that_overflows() {
    let mut config = Config::default();
    config.max_message_size = 10;
    let mut conn = open(Role::Client, config);
    let mut bytes = raw_frame(0x01, b"123456", None);
    bytes.extend(&raw_frame(0x80, b"7890X", None)[..2]);
    let (events, frames) = feed(&mut conn, &bytes);
    assert_eq!(
        events,
        vec![failed(ProtocolError::MessageTooLarge {
            len: 11,
            limit: 10
        })]
    );
    assert_eq!(frames, vec![close_frame(1009)]);
}

#[test]
fn every_length_encoding_is_read() {
    for len in [0usize, 125, 126, 65535, 65536, 200_000] {
        let mut conn = open(Role::Client, Config::default());
        let payload = vec![b'a'; len];
        let (events, _) = feed(&mut conn, &raw_frame(0x82, &payload, None));
        assert_eq!(
            events,
            vec![Event::Message(Message::Binary(payload.into()))],
            "{len}"
        );
    }
}

#[test]
fn every_length_encoding_is_written_and_masked_by_a_client() {
    let mut conn = open(Role::Client, Config::default());
    for len in [0usize, 125, 126, 65535, 65536] {
        conn.send_binary(vec![7u8; len]).unwrap();
        let sent = transmitted(&mut conn);
        assert_eq!(sent[1] & 0x80, 0x80, "client frames are masked");
        assert_eq!(decode_frames(&sent), vec![(0x82, vec![7u8; len])]);
    }
}

#[test]
fn a_message_in_one_read_is_a_slice_of_the_read_buffer() {
    let mut conn = open(Role::Client, Config::default());
    let frame = raw_frame(0x81, b"zero copy", None);
    let buffer = conn.input_buffer();
    buffer[..frame.len()].copy_from_slice(&frame);
    let payload_addr = buffer.as_ptr() as usize + 2;
    conn.commit_input(frame.len(), T0);
    let Some(Event::Message(Message::Text(text))) = conn.poll_event() else {
        panic!()
    };
    assert_eq!(text, "zero copy");
    assert_eq!(
        text.as_ptr() as usize,
        payload_addr,
        "the message points into the read buffer"
    );
}

#[test]
fn the_outbound_queue_is_bounded() {
    let mut config = Config::default();
    config.max_outbound_queue = 1000;
    let mut conn = open(Role::Server, config);
    conn.send_binary(vec![0u8; 1500]).unwrap(); // alone, a big message is accepted
    assert!(matches!(
        conn.send_binary(vec![0u8; 10]),
        Err(SendError::QueueFull { limit: 1000, .. })
    ));
    transmitted(&mut conn);
    conn.send_binary(vec![0u8; 10]).unwrap();
}

#[test]
fn fragmented_sends_follow_the_rules() {
    let mut conn = open(Role::Server, Config::default());
    assert_eq!(
        conn.send_fragment(MessageKind::Text, &b"\xe2\x82"[..], false),
        Ok(())
    );
    assert_eq!(
        conn.send_text("interleaved"),
        Err(SendError::FragmentOutOfOrder)
    );
    assert_eq!(
        conn.send_fragment(MessageKind::Binary, &b"x"[..], true),
        Err(SendError::FragmentOutOfOrder)
    );
    conn.send_ping(&b"p"[..]).unwrap();
    assert_eq!(
        conn.send_fragment(MessageKind::Text, &b"\xac!"[..], true),
        Ok(())
    );
    assert_eq!(
        decode_frames(&transmitted(&mut conn)),
        vec![
            (0x01, b"\xe2\x82".to_vec()),
            (0x89, b"p".to_vec()),
            (0x80, b"\xac!".to_vec())
        ]
    );
    assert_eq!(
        conn.send_fragment(MessageKind::Text, &b"\xff"[..], true),
        Err(SendError::InvalidUtf8)
    );
    assert_eq!(
        conn.send_ping(vec![0u8; 126]),
        Err(SendError::ControlPayloadTooLong)
    );
    assert_eq!(
        conn.close(CloseCode::ABNORMAL, "", T0),
        Err(SendError::InvalidCloseCode(1006))
    );
}

#[test]
fn eof_without_a_close_is_a_lost_connection() {
    let mut conn = open(Role::Client, Config::default());
    conn.handle_eof(T0);
    let closed = Closed {
        code: CloseCode::ABNORMAL,
        reason: Default::default(),
        sent_code: None,
        clean: false,
        error: Some(Error::ConnectionLost),
    };
    assert_eq!(events(&mut conn), vec![Event::Closed(closed)]);
    conn.handle_eof(T0);
    assert_eq!(events(&mut conn), vec![], "Closed is reported once");
}

#[test]
fn frames_in_the_same_read_as_the_101_are_kept() {
    let url = responses_ws_core::ws::WsUrl::parse("ws://example/").unwrap();
    let mut conn = Connection::client(&url, &[], Config::default(), [3; 32], T0).unwrap();
    let request = transmitted(&mut conn);
    let mut answer = upgrade_answer(&request).into_bytes();
    answer.extend(raw_frame(0x81, b"first", None));
    for chunk in answer.chunks(1) {
        conn.handle_input(chunk, T0);
    }
    let evs = events(&mut conn);
    assert!(matches!(evs[0], Event::Open { .. }));
    assert_eq!(evs[1], Event::Message(Message::from("first")));

    let mut conn = Connection::client(&url, &[], Config::default(), [3; 32], T0).unwrap();
    let request = transmitted(&mut conn);
    let mut answer = upgrade_answer(&request).into_bytes();
    answer.extend(raw_frame(0x81, b"same read", None));
    conn.handle_input(&answer, T0);
    assert_eq!(
        events(&mut conn)[1],
        Event::Message(Message::from("same read"))
    );
}

#[test]
fn a_refused_upgrade_reports_status_headers_and_body() {
    let url = responses_ws_core::ws::WsUrl::parse("ws://example/").unwrap();
    let headers = [("Authorization".to_string(), "Bearer sk-secret".to_string())];
    let mut conn = Connection::client(&url, &headers, Config::default(), [3; 32], T0).unwrap();
    assert!(
        !format!("{conn:?}").contains("sk-secret"),
        "the API key never shows in Debug"
    );
    transmitted(&mut conn);
    let body = r#"{"error":{"message":"Rate limit","type":"rate_limit_error"}}"#;
    let answer = format!(
        "HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    conn.handle_input(answer.as_bytes(), T0);
    let Some(Event::Closed(Closed {
        error: Some(Error::Handshake(e)),
        ..
    })) = conn.poll_event()
    else {
        panic!()
    };
    let response = e.response().unwrap();
    assert_eq!(
        (
            response.status,
            response.header("retry-after"),
            &response.body[..]
        ),
        (429, Some("7"), body.as_bytes())
    );
    assert!(
        !format!("{conn:?}").contains("sk-secret"),
        "the API key never shows in Debug"
    );
    assert!(conn.is_finished());
}

#[test]
fn the_server_refuses_bad_requests_and_the_app_can_refuse_good_ones() {
    let mut conn = Connection::server(Config::default(), [0; 32], T0);
    conn.handle_input(REQUEST.replace("Version: 13", "Version: 7").as_bytes(), T0);
    let sent = String::from_utf8(transmitted(&mut conn)).unwrap();
    assert!(
        sent.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{sent}"
    );
    let Some(Event::Closed(closed)) = conn.poll_event() else {
        panic!()
    };
    assert_eq!(
        closed.error,
        Some(Error::Handshake(HandshakeError::RequestRefused {
            status: 426,
            reason: "unsupported WebSocket version (13 is supported)"
        }))
    );

    let mut conn = Connection::server(Config::default(), [0; 32], T0);
    conn.handle_input(REQUEST.as_bytes(), T0);
    assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
    conn.reject(
        401,
        &[("Content-Type".into(), "application/json".into())],
        b"{}",
    )
    .unwrap();
    let sent = String::from_utf8(transmitted(&mut conn)).unwrap();
    assert_eq!(sent, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}");
    assert!(conn.is_finished());
}

#[test]
fn the_handshake_times_out() {
    let mut conn = Connection::server(Config::default(), [0; 32], T0);
    assert_eq!(conn.poll_timeout(), Some(T0 + Duration::from_secs(15)));
    conn.handle_timeout(T0 + Duration::from_secs(14));
    assert_eq!(conn.poll_event(), None);
    conn.handle_timeout(T0 + Duration::from_secs(15));
    let Some(Event::Closed(closed)) = conn.poll_event() else {
        panic!()
    };
    assert_eq!(closed.error, Some(Error::HandshakeTimeout));
}

#[test]
fn frames_are_read_one_event_at_a_time_so_replies_precede_a_later_failure() {
    for role in [Role::Client, Role::Server] {
        // A text message, two pings and a frame with a reserved bit, all in one read.
        let mut input = peer_frame(role, 0x81, b"hello");
        input.extend(peer_frame(role, 0x89, b"p1"));
        input.extend(peer_frame(role, 0x89, b"p2"));
        input.extend(peer_frame(role, 0xC1, b"x"));
        let mut conn = open(role, Config::default());
        conn.handle_input(&input, T0);
        assert!(
            transmitted(&mut conn).is_empty(),
            "nothing is read before the app asks"
        );

        assert_eq!(
            conn.poll_event(),
            Some(Event::Message(Message::from("hello")))
        );
        conn.send_text("echo").unwrap();
        assert_eq!(conn.poll_event(), Some(Event::Ping(bytes(b"p1"))));
        let first = decode_frames(&transmitted(&mut conn));
        assert_eq!(
            first,
            vec![(0x81, b"echo".to_vec()), (0x8A, b"p1".to_vec())],
            "{role:?}"
        );
        assert_eq!(conn.poll_event(), Some(Event::Ping(bytes(b"p2"))));
        assert_eq!(conn.poll_event(), Some(failed(ProtocolError::ReservedBits)));
        let rest = decode_frames(&transmitted(&mut conn));
        assert_eq!(
            rest,
            vec![(0x8A, b"p2".to_vec()), close_frame(1002)],
            "{role:?}"
        );
    }
}

#[test]
fn frames_buffered_before_eof_are_still_read() {
    for role in [Role::Client, Role::Server] {
        let mut input = peer_frame(role, 0x81, b"last words");
        input.extend(peer_frame(role, 0x88, &1000u16.to_be_bytes()));
        let mut conn = open(role, Config::default());
        conn.handle_input(&input, T0);
        conn.handle_eof(T0);
        let events = events(&mut conn);
        assert_eq!(
            events[0],
            Event::Message(Message::from("last words")),
            "{role:?}"
        );
        let Event::Closed(closed) = &events[1] else {
            panic!("{events:?}")
        };
        assert_eq!(
            (closed.code, closed.error.as_ref()),
            (CloseCode::NORMAL, None),
            "{role:?}"
        );
    }
}
