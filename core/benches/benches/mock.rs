//! The mock server's own throughput: how many events per second one core of `core::mock` writes,
//! so that a load benchmark can tell whether its mock outruns the client it measures.
//!
//! One iteration: a fresh `MockConnection` answers one `response.create` with a scripted text
//! answer streamed as 1000 deltas, and every frame it queues is taken (1008 frames: the
//! lifecycle events, the item and part events, the deltas and the final `response.completed`).
//!
//! - `events`: the mock alone, frames as JSON text.
//! - `framed`: the same frames also written as WebSocket text frames by a server-role
//!   `ws::Connection` and taken as bytes, what a driver sends to the socket.
//!
//! Run with `cargo bench -p responses-ws-benches --bench mock`; `callgrind.sh` counts the
//! instructions of one case (see `src/lib.rs`).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use responses_ws_core::mock::{MockConnection, Script};
use responses_ws_core::ws::{Config, Connection, Event};
use responses_ws_core::Instant;

const NOW: Instant = Instant::ZERO;
const DELTAS: u32 = 1000;
const CREATE: &str =
    r#"{"type":"response.create","model":"gpt-5.5","store":false,"input":"Tell me a long story."}"#;

/// One iteration of one case: serves one response, returns how many frames it took.
type Serve = Box<dyn FnMut() -> usize>;

fn script() -> Script {
    let story: String = (0..DELTAS).map(|i| format!("word{i} ")).collect();
    Script::new().text(story, DELTAS)
}

/// A server-role connection past its handshake.
fn open_server() -> Connection {
    let mut conn = Connection::server(Config::default(), [7; 32], NOW);
    let request = "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                   Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    conn.handle_input(request.as_bytes(), NOW);
    assert!(matches!(conn.poll_event(), Some(Event::Request(_))));
    conn.accept(&[]).expect("accept");
    assert!(matches!(conn.poll_event(), Some(Event::Open { .. })));
    while conn.poll_transmit().is_some() {}
    conn
}

fn cases() -> Vec<(&'static str, Serve)> {
    let events_script = script();
    let framed_script = script();
    let mut ws = open_server();
    vec![
        (
            "events",
            Box::new(move || {
                let mut mock = MockConnection::new(events_script.clone(), 0, NOW);
                mock.handle_text(black_box(CREATE), NOW);
                let mut frames = 0;
                while let Some(frame) = mock.poll_transmit() {
                    black_box(frame);
                    frames += 1;
                }
                frames
            }),
        ),
        (
            "framed",
            Box::new(move || {
                let mut mock = MockConnection::new(framed_script.clone(), 0, NOW);
                mock.handle_text(black_box(CREATE), NOW);
                let mut frames = 0;
                while let Some(frame) = mock.poll_transmit() {
                    ws.send_text(frame).expect("open");
                    while let Some(bytes) = ws.poll_transmit() {
                        black_box(bytes);
                    }
                    frames += 1;
                }
                frames
            }),
        ),
    ]
}

fn serving(c: &mut Criterion) {
    let mut group = c.benchmark_group("mock");
    for (name, mut serve) in cases() {
        let frames = serve();
        group.throughput(Throughput::Elements(frames as u64));
        group.bench_function(BenchmarkId::new(name, format!("{DELTAS}_deltas")), |b| {
            b.iter(|| assert_eq!(serve(), frames))
        });
    }
    group.finish();
}

fn main() {
    // `callgrind.sh` runs one case a fixed number of times instead of measuring with criterion.
    if let Some(run) = responses_ws_benches::FixedRun::from_env() {
        for (name, mut serve) in cases() {
            if run.selects("mock", name, &format!("{DELTAS}_deltas")) {
                run.run(Box::new(move || {
                    serve();
                }));
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, serving);
