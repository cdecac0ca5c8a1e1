//! Memory a connection holds for permessage-deflate, counted by a global allocator that tracks
//! the live heap bytes of the calling thread: a client with and without the extension agreed,
//! after the handshake, after a stream of events, and once it gave back what an idle
//! connection can rebuild (`Connection::release_idle_memory`), and when a quiet connection
//! frees its codec by itself (`DeflateConfig::release_after`). Printed with `--nocapture` and
//! recorded in BENCHMARKS.md; the bounds asserted here are what the docs promise.
#![cfg(feature = "deflate")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{events, transmitted, Pair, T0};
use core::time::Duration;
use responses_ws_core::client::{Client, ClientConfig, ClientEvent, CodecRelease};
use responses_ws_core::mock::{MockPeer, Script};
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::ws::{Config, DeflateConfig, Event, Message, Role, WsUrl};

struct Counting;

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
}

fn add(n: isize) {
    // `try_with`: the allocator may run while the thread's locals are being torn down.
    let _ = LIVE.try_with(|live| live.set(live.get() + n));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        add(layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        add(new_size as isize - layout.size() as isize);
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        add(-(layout.size() as isize));
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.with(Cell::get)
}

const EVENT: &str = r#"{"type":"response.output_text.delta","sequence_number":17,"item_id":"msg_67ccd3acc8d48190a77525dc6de64b4104becb25c1d2d4a1","output_index":0,"content_index":0,"delta":" the"}"#;

/// Live heap bytes of a connected pair (both ends): after the handshake, after 1000 events
/// each way, and after both ends gave back what an idle connection can rebuild
/// (`release_idle_memory`).
fn pair_bytes(config: Config) -> (isize, isize, isize) {
    let before = live();
    let mut pair = Pair::connected(config);
    let connected = live() - before;
    for _ in 0..1000 {
        pair.server.send_text(EVENT).unwrap();
        pair.client.send_text(EVENT).unwrap();
    }
    let down = transmitted(&mut pair.server);
    let up = transmitted(&mut pair.client);
    pair.client.handle_input(&down, T0);
    pair.server.handle_input(&up, T0);
    assert_eq!(events(&mut pair.client).len(), 1000);
    assert_eq!(events(&mut pair.server).len(), 1000);
    drop((down, up));
    let streamed = live() - before;
    pair.client.release_idle_memory();
    pair.server.release_idle_memory();
    let released = live() - before;
    // What was given back is built again: the connection goes on as before.
    pair.server.send_text(EVENT).unwrap();
    let down = transmitted(&mut pair.server);
    pair.client.handle_input(&down, T0);
    assert_eq!(events(&mut pair.client).len(), 1);
    drop(pair);
    (connected, streamed, released)
}

#[test]
fn what_a_connection_holds_for_deflate() {
    let mut plain = Config::default();
    plain.deflate = DeflateConfig::disabled();
    let (plain_connected, plain_streamed, plain_released) = pair_bytes(plain);
    let (connected, streamed, released) = pair_bytes(Config::default());
    let mut alone = Config::default();
    alone.deflate.server_no_context_takeover = true;
    alone.deflate.client_no_context_takeover = true;
    let (_, alone_streamed, alone_released) = pair_bytes(alone);
    // Per connection: half of the pair's difference.
    let kept = (released - plain_released) / 2;
    let kept_alone = (alone_released - plain_released) / 2;
    println!(
        "live heap of a client + server pair: plain {plain_connected} B after the handshake, \
         {plain_streamed} B after 1000 events each way, {plain_released} B once released; \
         deflate {connected} / {streamed} / {released} B; without context takeover \
         {alone_streamed} / {alone_released} B. Per connection the codec keeps {kept} B once \
         released with context takeover, {kept_alone} B without"
    );
    // Nothing of the codec is allocated before a message needs it.
    assert!(
        (connected - plain_connected).abs() < 1024,
        "deflate adds {} B after the handshake",
        connected - plain_connected
    );
    // Released: the compressor goes (a fresh one refers to nothing, always allowed); of the
    // inflater only the peer's window of history stays while the peer keeps its context (the
    // client's 4 KiB of the server's 12-bit window, the server's 32 KiB of the client's full
    // one), packed: the same event over and over packs to a few hundred bytes; nothing
    // when the peer does not keep its context.
    assert!(
        (1..1024).contains(&kept),
        "{kept} B kept with context takeover"
    );
    assert!(
        kept_alone < 1024,
        "{kept_alone} B kept without context takeover"
    );
    // The read and write buffers go too: a released pair holds what it held after the
    // handshake, or less.
    assert!(
        plain_released <= plain_connected,
        "{plain_released} B released vs {plain_connected} B after the handshake"
    );
}

/// The `n`th text delta of a streamed answer, as the API sends it: a word, and the
/// `obfuscation` padding of random characters that does not compress.
fn delta(n: usize) -> String {
    const WORDS: [&str; 12] = [
        "the", "order", "A-1042", "has", "shipped", "and", "arrives", "in", "three", "days",
        "thank", "you",
    ];
    let pad: String = (0..4 + n % 11)
        .map(|i| char::from(b'a' + ((n * 31 + i * 17) % 26) as u8))
        .collect();
    format!(
        r#"{{"type":"response.output_text.delta","sequence_number":{n},"item_id":"msg_67ccd3acc8d48190a77525dc6de64b4104becb25c1d2d4a1","output_index":0,"content_index":0,"delta":" {}","logprobs":[],"obfuscation":"{pad}"}}"#,
        WORDS[n % WORDS.len()]
    )
}

/// Live heap bytes a client connection keeps once released (`release_idle_memory`), after
/// 1000 events from the server and 10 requests to it.
fn client_kept(config: Config) -> isize {
    let before = live();
    let mut pair = Pair::connected(config);
    for n in 0..1000 {
        pair.server.send_text(delta(n)).unwrap();
    }
    for _ in 0..10 {
        pair.client.send_text(EVENT).unwrap();
    }
    let down = transmitted(&mut pair.server);
    let up = transmitted(&mut pair.client);
    pair.client.handle_input(&down, T0);
    pair.server.handle_input(&up, T0);
    assert_eq!(events(&mut pair.client).len(), 1000);
    drop((down, up));
    pair.client.release_idle_memory();
    // The client alone: the server is swapped for a fresh one, whose own bytes are not counted.
    let with_server = live();
    let fresh = responses_ws_core::ws::Connection::server(Config::default(), [3; 32], T0);
    let fresh_bytes = live() - with_server;
    drop(std::mem::replace(&mut pair.server, fresh));
    let kept = live() - before - fresh_bytes;
    drop(pair);
    kept
}

#[test]
fn what_an_idle_client_keeps_per_server_window() {
    let mut plain = Config::default();
    plain.deflate = DeflateConfig::disabled();
    let plain = client_kept(plain);
    let mut line = format!("client kept once released: plain {plain} B;");
    for bits in (8..=15).rev() {
        let mut config = Config::default();
        config.deflate.server_max_window_bits = Some(bits);
        let kept = client_kept(config) - plain;
        line += &format!(" deflate, server window {bits} bits: +{kept} B;");
        // The history of the server's window, packed, and nothing of the codec's state:
        // these events (a quarter of each is random padding) to well under half.
        assert!(
            (0..1 << bits).contains(&kept) && (bits < 10 || kept < (1 << bits) * 45 / 100),
            "{kept} B kept for a {bits}-bit window"
        );
    }
    println!("{line}");
}

/// The compressor and inflater states of both ends of a pair, at the least: the client's
/// compressor with a 15-bit window (about 270 KiB) and the server's with a 12-bit one (about
/// 160 KiB), zlib-rs's hash table being 128 KiB whatever the window.
const PAIR_CODECS: isize = 400 << 10;

/// One event each way, delivered.
fn exchange(pair: &mut Pair) {
    pair.client.send_text(EVENT).unwrap();
    pair.server.send_text(EVENT).unwrap();
    pair.drive();
    for role in [Role::Client, Role::Server] {
        assert_eq!(
            pair.take_events(role),
            [Event::Message(Message::from(EVENT))]
        );
    }
}

/// Moves the pair's clock to `at`, firing what is due on the way.
fn advance_to(pair: &mut Pair, at: responses_ws_core::Instant) {
    while pair.now < at && pair.advance(at.saturating_duration_since(pair.now)) {}
}

#[test]
fn a_quiet_connection_frees_its_codec_on_its_timer_and_not_before() {
    let delay = Duration::from_secs(5);
    let mut config = Config::default();
    config.deflate.release_after = Some(delay);
    let before = live();
    let mut pair = Pair::connected(config);
    exchange(&mut pair);
    let busy = live() - before;
    assert!(busy > PAIR_CODECS, "{busy} B with both codecs built");
    // Messages closer together than the delay: nothing is freed and built again.
    for _ in 0..3 {
        let at = pair.now + (delay - Duration::from_millis(1));
        advance_to(&mut pair, at);
        exchange(&mut pair);
        let now = live() - before;
        assert!((now - busy).abs() < 1024, "{now} B vs {busy} B while busy");
    }
    // Quiet for the delay: both ends free their codec at that deadline, by themselves.
    let quiet_from = pair.now;
    let deadline = [pair.client.poll_timeout(), pair.server.poll_timeout()];
    assert_eq!(deadline, [Some(quiet_from + delay); 2]);
    advance_to(&mut pair, quiet_from + delay);
    let released = live() - before;
    println!("a pair's live heap: {busy} B busy, {released} B once quiet for {delay:?}");
    assert!(
        busy - released > PAIR_CODECS,
        "{released} B left of {busy} B"
    );
    // Nothing more is due before the keepalive ping.
    let keepalive = Config::default().keepalive_interval.unwrap();
    for conn in [&pair.client, &pair.server] {
        assert!(conn.poll_timeout() >= Some(quiet_from + keepalive));
    }
    // Built again at the next message, each end's context intact for the other.
    exchange(&mut pair);
    exchange(&mut pair);
}

/// A [`Client`] connected to a [`MockPeer`], and a function running one turn on it at a time.
fn client_and_turns(
    codec_release: CodecRelease,
) -> (Client, impl FnMut(&mut Client, responses_ws_core::Instant)) {
    let url = WsUrl::parse("ws://127.0.0.1/v1/responses").unwrap();
    let mut config = ClientConfig::new(url);
    config.codec_release = codec_release;
    let mut client = Client::new(config);
    let mut server = MockPeer::new(Script::new().text("Hello!", 2), 0, T0);
    client.connect([1; 32], T0).unwrap();
    server.exchange(&mut client, T0);
    let turn = move |client: &mut Client, at| {
        client
            .create(ResponseCreate::new("gpt-5.5").input("Hi"))
            .unwrap();
        let events = server.exchange(client, at);
        assert!(events.iter().any(|e| matches!(e, ClientEvent::Session(_))));
        assert!(client.session().is_idle());
    };
    (client, turn)
}

/// A client whose driver stops with the application (the default): the codec goes as soon as
/// a turn ends, since no timer would free it later.
#[test]
fn a_client_frees_its_codec_when_its_session_is_idle_by_default() {
    let (mut client, mut turn) = client_and_turns(CodecRelease::WhenIdle);
    let before = live();
    turn(&mut client, T0);
    let after = live() - before;
    let (mut timed, mut timed_turn) = client_and_turns(CodecRelease::OnTimer);
    let timed_before = live();
    timed_turn(&mut timed, T0);
    let kept = live() - timed_before;
    println!("a client + mock after a turn: {after} B freed when idle, {kept} B on the timer");
    // The mock's codec stays in both; the client's went in the first.
    assert!(kept - after > 250 << 10, "{after} B vs {kept} B");
}

/// A client whose driver runs its timers (the pool's): the codec stays from turn to turn and
/// goes once quiet for `release_after`. Its heap beyond its peer's, a turn at a time.
#[test]
fn a_client_on_the_timer_keeps_its_codec_from_turn_to_turn_and_frees_it_once_quiet() {
    let (mut client, mut turn) = client_and_turns(CodecRelease::OnTimer);
    let delay = client.config().ws.deflate.release_after.unwrap();
    let before = live();
    turn(&mut client, T0);
    let after_one = live() - before;
    // The response ended and the session is idle: the buffers went, the codec stays.
    assert!(after_one > 250 << 10, "{after_one} B after a turn");
    let second = T0 + delay / 2;
    client.handle_timeout(second);
    turn(&mut client, second);
    let after_two = live() - before;
    assert!(
        (after_two - after_one).abs() < 4096,
        "{after_two} vs {after_one} B"
    );
    // Quiet for the delay after the second turn: its own timer frees it.
    let due = client.poll_timeout().unwrap();
    assert_eq!(due, second + delay);
    client.handle_timeout(due);
    let quiet = live() - before;
    println!("a client's live heap: {after_one} B after a turn, {quiet} B once quiet");
    assert!(
        after_two - quiet > 250 << 10,
        "{quiet} B left of {after_two} B"
    );
}

#[test]
fn short_messages_go_out_as_they_are_and_build_no_compressor() {
    // Live bytes of both ends once the client queued 100 short messages, and what the server
    // heard.
    let sent = |min_compress_len: usize| {
        let mut config = Config::default();
        config.deflate.min_compress_len = min_compress_len;
        let before = live();
        let mut pair = Pair::connected(config);
        for _ in 0..100 {
            pair.client.send_text(EVENT).unwrap();
        }
        let held = live() - before;
        let up = transmitted(&mut pair.client);
        pair.server.handle_input(&up, T0);
        let heard = events(&mut pair.server);
        assert_eq!(heard, vec![Event::Message(Message::from(EVENT)); 100]);
        held
    };
    let compressed = sent(0);
    let plain = sent(1024);
    println!("100 short messages queued: {compressed} B compressed, {plain} B sent as they are");
    assert!(compressed > 200_000, "a compressor was built: {compressed}");
    assert!(plain < 64_000, "no compressor: {plain}");
}
