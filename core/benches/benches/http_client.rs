//! The client's cost per event on each transport: one streamed answer of 1000 text deltas
//! (1008 events, as the mock plans them), read by a fresh client from the bytes of one answer
//! and every event the session hands out taken.
//!
//! - `http`: an `HttpClient` reading the whole HTTP response (head, SSE body) in 16 KiB reads:
//!   SSE parsing, the session's decode and assembly of each event.
//! - `session`: a `Session` reading the same events as WebSocket text frames
//!   (`handle_frame`), the same work without HTTP and SSE; the difference is the HTTP
//!   transport's own cost per event.
//!
//! Run with `cargo bench -p responses-ws-benches --bench http_client`; `callgrind.sh` counts the
//! instructions of one case (see `src/lib.rs`).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use responses_ws_core::http::Target;
use responses_ws_core::http_client::{HttpClient, HttpClientConfig, HttpClientEvent};
use responses_ws_core::mock::{HttpMock, HttpReply, Script};
use responses_ws_core::session::{Session, SessionConfig, SessionEvent};
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::ws::Utf8Bytes;
use responses_ws_core::Instant;

const NOW: Instant = Instant::ZERO;
const DELTAS: u32 = 1000;
const READ: usize = 16 * 1024;

/// One iteration of one case: reads one answer, returns how many session events it gave.
type Read = Box<dyn FnMut() -> usize>;

fn request() -> ResponseCreate {
    ResponseCreate::new("gpt-5.5")
        .input("Tell me a long story.")
        .store(false)
}

/// The events of the answer, as SSE data (one JSON object each).
fn answer() -> Vec<String> {
    let story: String = (0..DELTAS).map(|i| format!("word{i} ")).collect();
    let mut mock = HttpMock::new(Script::new().text(story, DELTAS), 0);
    let mut body = serde_json::to_value(request()).expect("JSON");
    body["stream"] = true.into();
    let HttpReply::Stream(stream) = mock.respond(&body.to_string(), NOW) else {
        panic!("not streamed")
    };
    stream.events.into_iter().map(|event| event.data).collect()
}

/// The whole HTTP response carrying `events`.
fn http_response(events: &[String]) -> Vec<u8> {
    let mut body = String::new();
    for data in events {
        let event = responses_ws_core::http::SseEvent::new("message", data.as_str());
        event.write(&mut body).expect("an SSE event");
    }
    let head = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    [head.into_bytes(), body.into_bytes()].concat()
}

fn stream_events(events: impl Iterator<Item = SessionEvent>) -> usize {
    events
        .filter(|event| matches!(event, SessionEvent::Stream { .. }))
        .map(black_box)
        .count()
}

fn cases() -> Vec<(&'static str, Read)> {
    let events = answer();
    let bytes = http_response(&events);
    let frames: Vec<Utf8Bytes> = events.iter().map(|e| Utf8Bytes::from(e.as_str())).collect();
    let target = Target::new("api.openai.com", "/v1/responses");
    vec![
        (
            "http",
            Box::new(move || {
                let config = HttpClientConfig::new(target.clone()).api_key("sk-test");
                let mut client = HttpClient::new(config, NOW);
                client.create(request()).expect("a request");
                let Some(HttpClientEvent::Dial { socket }) = client.poll_event() else {
                    panic!("no dial")
                };
                black_box(client.poll_transmit(socket));
                let mut taken = 0;
                for read in bytes.chunks(READ) {
                    client.handle_input(socket, black_box(read), NOW);
                    taken += stream_events(std::iter::from_fn(|| match client.poll_event()? {
                        HttpClientEvent::Session(event) => Some(event),
                        _ => None,
                    }));
                }
                taken
            }),
        ),
        (
            "session",
            Box::new(move || {
                let mut session = Session::new(SessionConfig::default());
                session.connected(NOW);
                session.create(request()).expect("a request");
                while session.poll_transmit().is_some() {}
                let mut taken = 0;
                for frame in &frames {
                    session.handle_frame(black_box(frame.clone()), NOW);
                    taken += stream_events(std::iter::from_fn(|| session.poll_event()));
                }
                taken
            }),
        ),
    ]
}

fn reading(c: &mut Criterion) {
    let mut group = c.benchmark_group("http_client");
    for (name, mut read) in cases() {
        let events = read();
        group.throughput(Throughput::Elements(events as u64));
        group.bench_function(BenchmarkId::new(name, format!("{DELTAS}_deltas")), |b| {
            b.iter(|| assert_eq!(read(), events))
        });
    }
    group.finish();
}

fn main() {
    // `callgrind.sh` runs one case a fixed number of times instead of measuring with criterion.
    if let Some(run) = responses_ws_benches::FixedRun::from_env() {
        for (name, mut read) in cases() {
            if run.selects("http_client", name, &format!("{DELTAS}_deltas")) {
                run.run(Box::new(move || {
                    read();
                }));
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, reading);
