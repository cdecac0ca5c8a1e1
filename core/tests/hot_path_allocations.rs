//! Heap allocations on the hot path of a stream, counted by a counting global allocator: frames
//! of text and argument deltas arrive from the socket (read into the connection's own buffer),
//! the WebSocket layer hands them out as messages, and the wire layer decodes them into
//! `ServerEvent`s. The number of allocations per event is behaviour, asserted here; how long
//! anything takes is for the benchmarks.
//!
//! What remains per event, and what the other frames of a response cost, is printed with
//! `--nocapture` and recorded in BENCHMARKS.md.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use common::open;
use responses_ws_core::session::{Session, SessionConfig, SessionEvent};
use responses_ws_core::wire::{EventKind, ResponseCreate, ServerEvent};
use responses_ws_core::ws::{
    Config, Connection, Event, FrameHeader, Message, OpCode, Role, Utf8Bytes,
};
use responses_ws_core::Instant;

/// Counts the allocations (and reallocations) of the calling thread; tests run in threads of one
/// process under `cargo test`, so a global count would mix them.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count_one() {
    // `try_with`: the allocator may run while the thread's locals are being torn down.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every call is forwarded unchanged to the system allocator; counting touches only a
// thread-local `Cell` that never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_one();
        // SAFETY: the caller's contract is passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> u64 {
    ALLOCATIONS.with(Cell::get)
}

const NOW: Instant = Instant::ZERO;

/// A server's unmasked text frame.
fn text_frame(text: &str) -> Vec<u8> {
    let header = FrameHeader {
        fin: true,
        rsv1: false,
        opcode: OpCode::Text,
        mask: None,
        payload_len: text.len() as u64,
    };
    let mut head = [0; 14];
    let len = header.write(&mut head);
    [&head[..len], text.as_bytes()].concat()
}

fn text_delta(i: usize, escaped: bool) -> String {
    let delta = if escaped {
        r#".\n\n\"Quoted,\" she said"#
    } else {
        " token"
    };
    format!(
        r#"{{"type":"response.output_text.delta","sequence_number":{i},"item_id":"msg_0f1e2d3c4b5a69788796a5b4c3d2e1f0","output_index":0,"content_index":0,"delta":"{delta}{i}","logprobs":[],"obfuscation":"Zr2LmW1x"}}"#
    )
}

fn argument_delta(i: usize, escaped: bool) -> String {
    let delta = if escaped {
        r#"{\"path\":\"src/"#
    } else {
        "lib.rs, line "
    };
    format!(
        r#"{{"type":"response.function_call_arguments.delta","stream_id":"planner","sequence_number":{i},"item_id":"fc_0f1e2d3c4b5a69788796a5b4c3d2e1f0","output_index":1,"delta":"{delta}","obfuscation":"q8"}}"#
    )
}

/// How the read loop decodes each message.
#[derive(Clone, Copy)]
enum Decode {
    /// `ServerEvent::from_str`: an escaped string gets a `String` of its own.
    Owning,
    /// `ServerEvent::from_str_in` with one scratch buffer for the whole stream.
    IntoScratch,
}

/// The client's read loop: each batch of frames arrives in one socket read into the
/// connection's buffer; every message is decoded and dropped. Returns the allocations made
/// from the socket read to the decoded event, per event, over `batches` batches.
fn per_event(
    conn: &mut Connection,
    scratch: &mut String,
    decode: Decode,
    batch: &[u8],
    events_per_batch: usize,
    batches: usize,
) -> f64 {
    let before = allocations();
    for _ in 0..batches {
        read_batch(conn, batch, |text| {
            let event = match decode {
                Decode::Owning => ServerEvent::from_str(&text),
                Decode::IntoScratch => ServerEvent::from_str_in(&text, scratch),
            };
            let event = event.expect("a delta");
            assert!(matches!(
                event.kind,
                EventKind::OutputTextDelta(_) | EventKind::FunctionCallArgumentsDelta(_)
            ));
            std::hint::black_box(event);
        });
    }
    (allocations() - before) as f64 / (batches * events_per_batch) as f64
}

/// One socket read of `batch` into the connection's own buffer; each text message it holds
/// is handed to `on_text`.
fn read_batch(conn: &mut Connection, batch: &[u8], mut on_text: impl FnMut(Utf8Bytes)) {
    let mut rest = batch;
    while !rest.is_empty() {
        let space = conn.input_buffer();
        let n = space.len().min(rest.len());
        space[..n].copy_from_slice(&rest[..n]);
        conn.commit_input(n, NOW);
        rest = &rest[n..];
        while let Some(event) = conn.poll_event() {
            let Event::Message(Message::Text(text)) = event else {
                panic!("not a text message: {event:?}")
            };
            on_text(text);
        }
    }
}

/// Per event after warming up (the read buffer, the queues and the scratch buffer reach their
/// working size).
fn steady_state(frames: &[String], decode: Decode) -> f64 {
    let mut conn = open(Role::Client, Config::default());
    let mut scratch = String::new();
    let batch: Vec<u8> = frames.iter().flat_map(|f| text_frame(f)).collect();
    per_event(&mut conn, &mut scratch, decode, &batch, frames.len(), 3);
    per_event(&mut conn, &mut scratch, decode, &batch, frames.len(), 50)
}

/// 300 frames: 60% text deltas, 30% argument deltas, half of each escaped.
fn mixed_stream() -> Vec<String> {
    (0..300)
        .map(|i| match i % 10 {
            0..=2 => text_delta(i, false),
            3..=5 => text_delta(i, true),
            6 => argument_delta(i, false),
            _ => argument_delta(i, true),
        })
        .collect()
}

#[test]
fn text_deltas_allocate_nothing_from_socket_to_event() {
    let frames: Vec<String> = (0..64).map(|i| text_delta(i, false)).collect();
    assert_eq!(steady_state(&frames, Decode::Owning), 0.0);
}

#[test]
fn argument_deltas_without_escapes_allocate_nothing() {
    let frames: Vec<String> = (0..64).map(|i| argument_delta(i, false)).collect();
    assert_eq!(steady_state(&frames, Decode::Owning), 0.0);
}

#[test]
fn escaped_deltas_allocate_nothing_when_unescaped_into_a_kept_buffer() {
    // JSON fragments carry escaped quotes, text carries `\n`: unescaped into the scratch
    // buffer the reader keeps, they cost nothing once it has grown.
    let arguments: Vec<String> = (0..64).map(|i| argument_delta(i, true)).collect();
    assert_eq!(steady_state(&arguments, Decode::IntoScratch), 0.0);
    let text: Vec<String> = (0..64).map(|i| text_delta(i, true)).collect();
    assert_eq!(steady_state(&text, Decode::IntoScratch), 0.0);
    assert_eq!(steady_state(&mixed_stream(), Decode::IntoScratch), 0.0);
}

#[test]
fn without_a_kept_buffer_an_escaped_delta_allocates_only_its_unescaped_text() {
    let frames: Vec<String> = (0..64).map(|i| argument_delta(i, true)).collect();
    assert_eq!(steady_state(&frames, Decode::Owning), 1.0);
    let frames = mixed_stream();
    let escaped = frames.iter().filter(|f| f.contains('\\')).count();
    let expected = escaped as f64 / frames.len() as f64;
    assert_eq!(steady_state(&frames, Decode::Owning), expected);
}

/// The session's read loop: each batch arrives in one socket read and every message goes to
/// a session whose request runs on the `planner` lane; each [`SessionEvent::Stream`] it hands
/// out is decoded by the application and dropped. Returns the allocations made, per event.
fn per_session_event(
    conn: &mut Connection,
    session: &mut Session,
    scratch: &mut String,
    batches: &[Vec<u8>],
) -> f64 {
    let before = allocations();
    let mut events = 0;
    for batch in batches {
        read_batch(conn, batch, |text| {
            session.handle_frame(text, NOW);
            while let Some(event) = session.poll_event() {
                let SessionEvent::Stream { event, .. } = event else {
                    panic!("not a stream event: {event:?}")
                };
                let event = event.decoded_in(scratch);
                assert!(matches!(
                    event.kind,
                    EventKind::FunctionCallArgumentsDelta(_)
                ));
                std::hint::black_box(event);
                events += 1;
            }
        });
    }
    (allocations() - before) as f64 / events as f64
}

#[test]
fn deltas_reach_the_application_through_the_session_without_a_copy() {
    // A request runs on the `planner` lane of a session and is streaming a function call.
    let mut session = Session::new(SessionConfig::default());
    session.connected(NOW);
    let request = ResponseCreate::new("gpt-5.5")
        .input("Read the file.")
        .stream_id("planner");
    session.create(request).unwrap();
    while session.poll_transmit().is_some() {}
    for frame in [
        r#"{"type":"response.created","stream_id":"planner","sequence_number":0,"response":{"id":"resp_1","object":"response","created_at":1,"status":"in_progress","model":"gpt-5.5","output":[]}}"#,
        r#"{"type":"response.output_item.added","stream_id":"planner","sequence_number":1,"output_index":0,"item":{"type":"message","id":"msg_1","role":"assistant","status":"in_progress","content":[]}}"#,
        r#"{"type":"response.output_item.added","stream_id":"planner","sequence_number":2,"output_index":1,"item":{"type":"function_call","id":"fc_0f1e2d3c4b5a69788796a5b4c3d2e1f0","call_id":"call_1","name":"read","arguments":"","status":"in_progress"}}"#,
    ] {
        session.handle_text(frame, NOW);
    }
    while session.poll_event().is_some() {}

    // Batches of 64 deltas, numbered on from the frames above, every other one escaped: the
    // session unescapes into a buffer of its own, the application into its `scratch`.
    let batches: Vec<Vec<u8>> = (0..53)
        .map(|b| {
            (0..64)
                .flat_map(|i| text_frame(&argument_delta(3 + b * 64 + i, i % 2 == 0)))
                .collect()
        })
        .collect();
    let (warm_up, measured) = batches.split_at(3);
    let mut conn = open(Role::Client, Config::default());
    let mut scratch = String::new();
    per_session_event(&mut conn, &mut session, &mut scratch, warm_up);
    let per_event = per_session_event(&mut conn, &mut session, &mut scratch, measured);
    // What remains is the assembly's copy of the arguments growing (a string that doubles:
    // a handful of reallocations over the whole stream), not a cost per event.
    let deltas = measured.len() * 64;
    let total = per_event * deltas as f64;
    println!("{total} allocations over {deltas} deltas through the session");
    assert!(total <= 4.0, "{total} allocations over {deltas} deltas");
}

/// The allocations of decoding one frame (the frame is already a message).
fn decoding(frame: &str) -> u64 {
    let before = allocations();
    std::hint::black_box(ServerEvent::from_str(frame).expect("a server event"));
    allocations() - before
}

#[test]
fn the_other_frames_of_a_response_and_what_they_allocate() {
    // Printed for BENCHMARKS.md: the frames that are not deltas own what they carry.
    let transcripts = include_str!("../src/wire/fixtures/transcripts.txt");
    let mut by_type = std::collections::BTreeMap::<String, (u64, usize)>::new();
    for frame in transcripts.lines().filter_map(|l| l.strip_prefix("<< ")) {
        let event_type = ServerEvent::from_str(frame)
            .unwrap()
            .event_type()
            .to_owned();
        let allocated = decoding(frame);
        if event_type.ends_with(".delta") && !frame.contains('\\') {
            assert_eq!(allocated, 0, "{frame}");
        }
        let entry = by_type.entry(event_type).or_default();
        entry.0 = entry.0.max(allocated);
        entry.1 = entry.1.max(frame.len());
    }
    for (event_type, (allocated, len)) in by_type {
        println!("{event_type}: at most {allocated} allocations (frames up to {len} B)");
    }
}
