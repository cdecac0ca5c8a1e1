//! Memory a connection holds for permessage-deflate, counted by a global allocator that tracks
//! the live heap bytes of the calling thread: a client with and without the extension agreed,
//! after the handshake and after a stream of events. Printed with `--nocapture` and recorded in
//! BENCHMARKS.md; the bounds asserted here are what the docs promise.
#![cfg(feature = "deflate")]

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::{events, transmitted, Pair, T0};
use responses_ws_core::ws::{Config, DeflateConfig};

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

/// Live heap bytes of a connected pair (both ends), after the handshake and after 1000 events
/// each way.
fn pair_bytes(config: Config) -> (isize, isize) {
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
    let streamed = live() - before;
    drop(pair);
    (connected, streamed)
}

#[test]
fn what_a_connection_holds_for_deflate() {
    let mut plain = Config::default();
    plain.deflate = DeflateConfig::disabled();
    let (plain_connected, plain_streamed) = pair_bytes(plain);
    let (deflate_connected, deflate_streamed) = pair_bytes(Config::default());
    // Per connection: half of the pair's difference.
    let per_connection = (deflate_connected - plain_connected) / 2;
    println!(
        "live heap of a client + server pair: plain {plain_connected} B after the handshake, \
         {plain_streamed} B after 1000 events each way; deflate {deflate_connected} B / \
         {deflate_streamed} B; permessage-deflate adds {per_connection} B per connection"
    );
    // A compressor (miniz_oxide's 32 KiB window, hash chains and output buffer) and an
    // inflater (32 KiB window) per connection; the messages themselves add nothing lasting.
    assert!(
        (32 << 10..512 << 10).contains(&per_connection),
        "{per_connection} B per connection"
    );
    assert!(
        deflate_streamed - deflate_connected <= plain_streamed - plain_connected + (64 << 10),
        "streaming kept {} B with deflate, {} B without",
        deflate_streamed - deflate_connected,
        plain_streamed - plain_connected
    );
}
