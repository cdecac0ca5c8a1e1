//! permessage-deflate on a Responses event stream: the CPU it costs and the bytes it saves.
//!
//! The stream is what one streamed answer of about 600 tokens looks like on the wire, in the
//! API's own event shapes: `response.created`, `response.in_progress`, `output_item.added`,
//! `content_part.added`, one `response.output_text.delta` per token (each with the
//! `obfuscation` padding the API adds to deltas, random characters that do not compress), the
//! `done` events and a `response.completed` that repeats the whole text — followed by the server
//! frames of the protocol transcripts (`core/src/wire/fixtures/transcripts.txt`): tool calls,
//! reasoning items, errors.
//!
//! A server and a client connection are joined in memory, once with permessage-deflate agreed
//! (context takeover, level 1, the defaults) and once without; they live across iterations, so
//! the numbers are steady state, compression context included. Cases, per iteration of the
//! whole stream:
//!
//! - `ws_deflate_send/{plain,deflate}/events`: the server queues every event (`send_text`,
//!   compressing when agreed) and its output is taken and dropped: the sender's cost.
//! - `ws_deflate_stream/{plain,deflate}/events`: the same, then the client reads the bytes
//!   (`handle_input`, `poll_event` until every message is out, inflating when agreed): the
//!   receiver's cost is this minus the sender's.
//!
//! The bytes on the wire of both, per event and in total, are printed once at start.
//!
//! Run with `cargo bench -p responses-ws-benches --bench ws_deflate`; `callgrind.sh` counts the
//! instructions of one case (see `src/lib.rs`).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use responses_ws_core::ws::{Config, Connection, DeflateConfig, Event, WsUrl};
use responses_ws_core::Instant;

const NOW: Instant = Instant::ZERO;
const TOKENS: usize = 600;

/// The event stream (see the module docs).
fn events() -> Vec<String> {
    let words = "The quick brown fox jumps over the lazy dog while the café owner, déjà tired, \
                 counts the receipts of a long day; tomorrow the weather in Paris and Tokyo \
                 will decide whether the terrace opens again"
        .split(' ')
        .collect::<Vec<_>>();
    let mut x = 0x9E37_79B9_u32;
    let mut random = move |n: usize| -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                char::from(ALPHABET[x as usize % ALPHABET.len()])
            })
            .collect()
    };
    let (resp, item) = (
        "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "msg_67ccd2bf17f0819081ff3bb2cf6508e60bb6a6b452d3795b",
    );
    let response = |status: &str, output: &str| {
        format!(
            r#"{{"id":"{resp}","object":"response","created_at":1741476542,"status":"{status}","model":"gpt-5.5","output":[{output}],"parallel_tool_calls":true,"store":false,"temperature":1.0,"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":null}}"#
        )
    };
    let mut seq = 0;
    let mut next = || {
        seq += 1;
        seq - 1
    };
    let mut out = vec![
        format!(
            r#"{{"type":"response.created","sequence_number":{},"response":{}}}"#,
            next(),
            response("in_progress", "")
        ),
        format!(
            r#"{{"type":"response.in_progress","sequence_number":{},"response":{}}}"#,
            next(),
            response("in_progress", "")
        ),
        format!(
            r#"{{"type":"response.output_item.added","sequence_number":{},"output_index":0,"item":{{"id":"{item}","type":"message","status":"in_progress","content":[],"role":"assistant"}}}}"#,
            next()
        ),
        format!(
            r#"{{"type":"response.content_part.added","sequence_number":{},"item_id":"{item}","output_index":0,"content_index":0,"part":{{"type":"output_text","annotations":[],"text":""}}}}"#,
            next()
        ),
    ];
    let mut text = String::new();
    for i in 0..TOKENS {
        let delta = format!(" {}", words[i % words.len()]);
        text.push_str(&delta);
        let pad = random(4 + i % 11);
        out.push(format!(r#"{{"type":"response.output_text.delta","sequence_number":{},"item_id":"{item}","output_index":0,"content_index":0,"delta":"{delta}","logprobs":[],"obfuscation":"{pad}"}}"#, next()));
    }
    let message = format!(
        r#"{{"id":"{item}","type":"message","status":"completed","content":[{{"type":"output_text","annotations":[],"logprobs":[],"text":"{text}"}}],"role":"assistant"}}"#
    );
    out.push(format!(r#"{{"type":"response.output_text.done","sequence_number":{},"item_id":"{item}","output_index":0,"content_index":0,"text":"{text}","logprobs":[]}}"#, next()));
    out.push(format!(r#"{{"type":"response.content_part.done","sequence_number":{},"item_id":"{item}","output_index":0,"content_index":0,"part":{{"type":"output_text","annotations":[],"text":"{text}"}}}}"#, next()));
    out.push(format!(r#"{{"type":"response.output_item.done","sequence_number":{},"output_index":0,"item":{message}}}"#, next()));
    out.push(format!(
        r#"{{"type":"response.completed","sequence_number":{},"response":{}}}"#,
        next(),
        response("completed", &message)
    ));
    let fixtures = include_str!("../../src/wire/fixtures/transcripts.txt");
    out.extend(
        fixtures
            .lines()
            .filter_map(|line| line.strip_prefix("<< "))
            .map(String::from),
    );
    out
}

/// A server and a client joined in memory, with permessage-deflate agreed when `deflate`.
fn pair(deflate: bool) -> (Connection, Connection) {
    let mut config = Config::default();
    if !deflate {
        config.deflate = DeflateConfig::disabled();
    }
    let url = WsUrl::parse("ws://127.0.0.1/").expect("url");
    let mut client = Connection::client(&url, &[], config.clone(), [7; 32], NOW).expect("client");
    let mut server = Connection::server(config, [8; 32], NOW);
    while let Some(chunk) = client.poll_transmit() {
        server.handle_input(&chunk, NOW);
    }
    assert!(matches!(server.poll_event(), Some(Event::Request(_))));
    server.accept(&[]).expect("accept");
    while let Some(chunk) = server.poll_transmit() {
        client.handle_input(&chunk, NOW);
    }
    assert!(matches!(server.poll_event(), Some(Event::Open { .. })));
    assert!(matches!(client.poll_event(), Some(Event::Open { .. })));
    assert_eq!(client.deflate().is_some(), deflate);
    (server, client)
}

/// The server queues every event; returns its output.
fn send_all(server: &mut Connection, events: &[String]) -> Vec<bytes::Bytes> {
    for event in events {
        server.send_text(event.as_str()).expect("open");
    }
    std::iter::from_fn(|| server.poll_transmit()).collect()
}

type Run = Box<dyn FnMut()>;

/// Every case: group, library (`plain` / `deflate`), the iteration.
fn cases(events: &'static [String]) -> Vec<(&'static str, &'static str, Run)> {
    let mut cases: Vec<(&'static str, &'static str, Run)> = Vec::new();
    for (library, deflate) in [("plain", false), ("deflate", true)] {
        let (mut server, _) = pair(deflate);
        cases.push((
            "ws_deflate_send",
            library,
            Box::new(move || {
                black_box(send_all(&mut server, events));
            }),
        ));
        let (mut server, mut client) = pair(deflate);
        cases.push((
            "ws_deflate_stream",
            library,
            Box::new(move || {
                for chunk in send_all(&mut server, events) {
                    client.handle_input(black_box(&chunk), NOW);
                }
                let mut n = 0;
                while let Some(event) = client.poll_event() {
                    black_box(event);
                    n += 1;
                }
                assert_eq!(n, events.len());
            }),
        ));
    }
    cases
}

/// Bytes on the wire for the stream, plain and compressed (steady state: the second pass).
fn report_bytes(events: &[String]) {
    let payload: usize = events.iter().map(String::len).sum();
    for deflate in [false, true] {
        let (mut server, _) = pair(deflate);
        send_all(&mut server, events);
        let wire: usize = send_all(&mut server, events).iter().map(|b| b.len()).sum();
        eprintln!(
            "ws_deflate: {} events, {payload} bytes of JSON; {}: {wire} bytes on the wire ({:.1} per event, {:.1}% of the JSON)",
            events.len(),
            if deflate { "deflate" } else { "plain" },
            wire as f64 / events.len() as f64,
            100.0 * wire as f64 / payload as f64
        );
    }
}

fn streaming(c: &mut Criterion) {
    let events: &'static [String] = events().leak();
    report_bytes(events);
    for (group_name, library, mut run) in cases(events) {
        let mut group = c.benchmark_group(group_name);
        group.throughput(Throughput::Elements(events.len() as u64));
        group.bench_function(BenchmarkId::new(library, "events"), |b| b.iter(&mut run));
        group.finish();
    }
}

fn main() {
    // `callgrind.sh` runs one case a fixed number of times instead of measuring with criterion.
    if let Some(run) = responses_ws_benches::FixedRun::from_env() {
        let events: &'static [String] = events().leak();
        for (group, library, iteration) in cases(events) {
            if run.selects(group, library, "events") {
                run.run(iteration);
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, streaming);
