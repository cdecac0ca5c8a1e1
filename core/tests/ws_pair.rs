//! A client and a server core joined in memory with a simulated clock: handshake, messages both
//! ways, keepalive against a silent peer, and close from either side. Plus the round-trip
//! property: any messages, fragmented any way, fed in any chop sizes, arrive unchanged.

mod common;

use common::*;
use core::time::Duration;
use proptest::prelude::*;
use responses_ws_core::ws::{
    CloseCode, Closed, Config, Connection, Error, Event, Message, MessageKind, Role,
};

#[test]
fn messages_flow_both_ways() {
    let mut pair = Pair::connected(Config::default());
    pair.client.send_text("from client").unwrap();
    pair.server.send_binary(vec![1u8, 2, 3]).unwrap();
    pair.drive();
    assert_eq!(
        pair.take_events(Role::Server),
        vec![Event::Message(Message::from("from client"))]
    );
    assert_eq!(
        pair.take_events(Role::Client),
        vec![Event::Message(Message::Binary(bytes(&[1, 2, 3])))]
    );
}

#[test]
fn keepalive_pings_a_quiet_peer_and_a_live_one_answers() {
    let mut pair = Pair::connected(Config::default());
    // 30 s of silence: the client pings, the server answers, nobody is declared dead.
    assert_eq!(
        pair.client.poll_timeout(),
        Some(T0 + Duration::from_secs(30))
    );
    for _ in 0..10 {
        pair.advance(Duration::from_secs(3600));
    }
    assert!(pair.now >= T0 + Duration::from_secs(60));
    let client_events = pair.take_events(Role::Client);
    assert!(
        client_events
            .iter()
            .all(|e| matches!(e, Event::Pong(_) | Event::Ping(_))),
        "{client_events:?}"
    );
    assert!(client_events.iter().any(|e| matches!(e, Event::Pong(_))));
    assert_eq!(pair.client.state(), responses_ws_core::ws::State::Open);
}

#[test]
fn a_silent_peer_is_detected_by_the_pong_deadline() {
    let mut pair = Pair::connected(Config::default());
    pair.server_link_up = false; // the server's bytes never arrive
    pair.advance(Duration::from_secs(3600)); // 30 s: ping
    assert_eq!(
        pair.client.poll_timeout(),
        Some(T0 + Duration::from_secs(45))
    );
    pair.advance(Duration::from_secs(3600)); // 45 s: no answer
    let closed = Closed {
        code: CloseCode::ABNORMAL,
        reason: Default::default(),
        sent_code: None,
        clean: false,
        error: Some(Error::PeerTimeout),
    };
    assert_eq!(
        pair.take_events(Role::Client).last(),
        Some(&Event::Closed(closed))
    );
    assert_eq!(
        pair.now,
        T0 + Duration::from_secs(45),
        "dead within interval + pong timeout, not half an hour"
    );
    assert!(pair.client.is_finished());
}

#[test]
fn a_peer_that_times_out_is_not_waited_on_for_unwritten_bytes() {
    let mut pair = Pair::connected(Config::default());
    // Deaf and mute: the client's bytes are never taken, nothing arrives.
    let ping_at = pair.client.poll_timeout().unwrap();
    pair.client.handle_timeout(ping_at);
    assert!(
        pair.client.queued_bytes() > 0,
        "the ping waits to be written"
    );
    let dead_at = pair.client.poll_timeout().unwrap();
    pair.client.handle_timeout(dead_at);
    assert!(
        pair.client.is_finished(),
        "the transport may be dropped at once"
    );
    assert_eq!(pair.client.queued_bytes(), 0);
    assert_eq!(pair.client.poll_timeout(), None);
}

#[test]
fn a_close_frame_the_peer_never_takes_is_given_up_after_the_close_timeout() {
    let config = Config::default();
    let mut pair = Pair::connected(config.clone());
    // A masked frame from the server breaks the protocol: the client queues a 1002 close.
    pair.client
        .handle_input(&[0x81, 0x81, 1, 2, 3, 4, b'x' ^ 1], pair.now);
    while pair.client.poll_event().is_some() {}
    assert_eq!(pair.client.state(), responses_ws_core::ws::State::Closed);
    assert!(!pair.client.is_finished(), "the close frame waits");
    // The peer never takes it: the client does not wait for ever.
    let give_up = pair
        .client
        .poll_timeout()
        .expect("a deadline for the last write");
    assert_eq!(give_up, pair.now + config.close_timeout);
    pair.client.handle_timeout(give_up);
    assert!(pair.client.is_finished());
    assert_eq!(pair.client.poll_transmit(), None);
    assert_eq!(pair.client.poll_timeout(), None);
}

#[test]
fn either_side_can_close_cleanly() {
    for closer in [Role::Client, Role::Server] {
        let mut pair = Pair::connected(Config::default());
        let closing = if closer == Role::Client {
            &mut pair.client
        } else {
            &mut pair.server
        };
        closing.close(CloseCode::NORMAL, "done", T0).unwrap();
        pair.drive();
        let peer = match closer {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        };
        let closer_saw = Closed {
            code: CloseCode::NORMAL,
            reason: Default::default(),
            sent_code: Some(CloseCode::NORMAL),
            clean: true,
            error: None,
        };
        let peer_saw = Closed {
            code: CloseCode::NORMAL,
            reason: "done".into(),
            sent_code: Some(CloseCode::NORMAL),
            clean: true,
            error: None,
        };
        assert_eq!(
            pair.take_events(closer),
            vec![Event::Closed(closer_saw)],
            "{closer:?}"
        );
        assert_eq!(
            pair.take_events(peer),
            vec![Event::Closed(peer_saw)],
            "{closer:?}"
        );
        assert!(pair.client.is_finished() && pair.server.is_finished());
        let closing = if closer == Role::Client {
            &pair.client
        } else {
            &pair.server
        };
        assert_eq!(closing.poll_timeout(), None);
    }
}

/// One message to send: its kind, payload and how to cut it into fragments.
#[derive(Debug, Clone)]
enum Step {
    Message {
        kind: MessageKind,
        payload: Vec<u8>,
        cuts: Vec<usize>,
    },
    Ping(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    let size = prop_oneof![8 => 0usize..300, 3 => 300usize..70_000, 1 => 70_000usize..=200 * 1024];
    let message = (
        any::<bool>(),
        size,
        any::<u64>(),
        proptest::collection::vec(any::<usize>(), 0..4),
    )
        .prop_map(|(text, len, seed, cuts)| {
            let kind = if text {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            Step::Message {
                kind,
                payload: payload(text, len, seed),
                cuts,
            }
        });
    prop_oneof![6 => message, 1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Step::Ping)]
}

/// Deterministic content: multi-byte text (so fragment cuts split code points) or bytes.
fn payload(text: bool, len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    if text {
        let alphabet = ['a', 'Z', ' ', 'é', '€', '😀', '\n'];
        let mut s = String::with_capacity(len);
        while s.len() < len {
            s.push(alphabet[(next() % alphabet.len() as u64) as usize]);
        }
        s.into_bytes()
    } else {
        (0..len).map(|_| next() as u8).collect()
    }
}

/// Sends the steps from `from`, carries the bytes to `to` in chops, and returns what `to` saw.
fn carry(
    from: &mut Connection,
    to: &mut Connection,
    steps: &[Step],
    chops: &[usize],
) -> Vec<Event> {
    for step in steps {
        match step {
            Step::Ping(p) => from.send_ping(p.clone()).unwrap(),
            Step::Message {
                kind,
                payload,
                cuts,
            } => {
                // Boundaries 0 < p1 < p2 < … < len cut the payload into fragments.
                let mut bounds: Vec<usize> = cuts
                    .iter()
                    .map(|c| c % (payload.len() + 1))
                    .filter(|&p| p > 0 && p < payload.len())
                    .collect();
                bounds.sort_unstable();
                bounds.dedup();
                bounds.push(payload.len());
                let mut start = 0;
                for (i, &end) in bounds.iter().enumerate() {
                    from.send_fragment(*kind, payload[start..end].to_vec(), i + 1 == bounds.len())
                        .unwrap();
                    start = end;
                }
            }
        }
    }
    let wire: Vec<u8> = transmitted(from);
    let mut at = 0;
    let mut i = 0;
    while at < wire.len() {
        let n = chops[i % chops.len()].clamp(1, wire.len() - at);
        to.handle_input(&wire[at..at + n], T0);
        at += n;
        i += 1;
    }
    events(to)
}

fn expected(steps: &[Step]) -> Vec<Event> {
    steps
        .iter()
        .map(|s| match s {
            Step::Ping(p) => Event::Ping(bytes(p)),
            Step::Message {
                kind: MessageKind::Text,
                payload,
                ..
            } => Event::Message(Message::from(std::str::from_utf8(payload).unwrap())),
            Step::Message { payload, .. } => Event::Message(Message::Binary(bytes(payload))),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_messages_in_any_chops_arrive_unchanged(
        steps in proptest::collection::vec(step(), 1..12),
        chops in proptest::collection::vec(prop_oneof![1usize..4, 1usize..200, 1usize..100_000], 1..16),
        client_sends: bool,
    ) {
        let mut pair = Pair::connected(Config::default());
        let (from, to) = if client_sends { (&mut pair.client, &mut pair.server) } else { (&mut pair.server, &mut pair.client) };
        let seen = carry(from, to, &steps, &chops);
        prop_assert_eq!(seen, expected(&steps));
        prop_assert!(to.state() == responses_ws_core::ws::State::Open);
    }
}

#[test]
fn one_byte_at_a_time_both_ways() {
    let steps = vec![
        Step::Message {
            kind: MessageKind::Text,
            payload: payload(true, 3000, 7),
            cuts: vec![1, 2, 1500],
        },
        Step::Ping(b"hello".to_vec()),
        Step::Message {
            kind: MessageKind::Binary,
            payload: payload(false, 70_000, 9),
            cuts: vec![],
        },
    ];
    for client_sends in [true, false] {
        let mut pair = Pair::connected(Config::default());
        let (from, to) = if client_sends {
            (&mut pair.client, &mut pair.server)
        } else {
            (&mut pair.server, &mut pair.client)
        };
        assert_eq!(carry(from, to, &steps, &[1]), expected(&steps));
    }
}
