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
//! `ws_deflate_wake/{context,no_context}/turn`: what an idle period costs a client with
//! deflate agreed. Each iteration is a small turn of the rollout below (the client sends a
//! request, the server answers with two events), after which the client gives back its codec
//! (`release_idle_memory`, as at the end of every turn of a connection per agent); the next
//! iteration builds it again. With `context` (the defaults: the server keeps its 12-bit
//! window) the client packs the server's history at the release and unpacks it at the next
//! event; `no_context` (`server_no_context_takeover`) keeps no history: the difference is
//! what keeping the history packed costs per idle period.
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
    let pair = pair_with(config);
    assert_eq!(pair.1.deflate().is_some(), deflate);
    pair
}

/// A server and a client joined in memory, both with `config`.
fn pair_with(config: Config) -> (Connection, Connection) {
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

// ---------------------------------------------------------------- the codecs alone

/// Turns of the load benchmark's workload in the rollout (`rollout`).
const ROLLOUT_TURNS: u32 = 4;

/// What one connection carries for `ROLLOUT_TURNS` turns of `responses-ws load`'s workload
/// (a user message, one tool call answered, a short text answer), played by the mock:
/// the server's events and the client's requests, as JSON text.
fn rollout() -> (Vec<String>, Vec<String>) {
    use responses_ws_core::mock::{MockConnection, Script, ScriptedCall, Turn};
    use serde_json::{json, Value};
    let mut script = Script::new();
    for turn in 0..ROLLOUT_TURNS {
        let arguments = format!(r#"{{"order":"A-{}"}}"#, 1000 + turn);
        script = script
            .turn(Turn::tool_calls([ScriptedCall::new(
                "lookup_order",
                arguments,
            )
            .with_deltas(2)]))
            .text("Order A-1042 has shipped and arrives in three days.", 4);
    }
    let tools = json!([{"type": "function", "name": "lookup_order",
        "description": "Looks an order up by its id.", "strict": true,
        "parameters": {"type": "object", "properties": {"order": {"type": "string"}},
            "required": ["order"], "additionalProperties": false}}]);
    let mut mock = MockConnection::new(script, 0, NOW);
    let (mut down, mut up) = (Vec::new(), Vec::new());
    let mut previous: Option<String> = None;
    let mut input = Vec::new();
    for turn in 0..ROLLOUT_TURNS * 2 {
        if turn % 2 == 0 {
            input.push(json!({"type": "message", "role": "user",
                "content": format!("Agent 7, turn {}: where is my order?", turn / 2)}));
        }
        let mut create = json!({"type": "response.create", "model": "gpt-5.5", "store": false,
            "tools": tools, "input": input});
        if let Some(id) = &previous {
            create["previous_response_id"] = json!(id);
        }
        let create = create.to_string();
        mock.handle_text(&create, NOW);
        up.push(create);
        input.clear();
        while let Some(frame) = mock.poll_transmit() {
            let event: Value = serde_json::from_str(&frame).expect("JSON event");
            if event["type"] == "response.completed" {
                let response = &event["response"];
                previous = response["id"].as_str().map(String::from);
                for call in response["output"].as_array().into_iter().flatten() {
                    if call["type"] == "function_call" {
                        input.push(json!({"type": "function_call_output",
                            "call_id": call["call_id"], "output": r#"{"status":"shipped","eta_days":3}"#}));
                    }
                }
            }
            assert_ne!(event["type"], "error", "{frame}");
            down.push(frame);
        }
    }
    (down, up)
}

/// The trailer a sync flush ends with, stripped by the sender and given back by the receiver.
const TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// Room for any decompressed message of the streams here.
const OUT: usize = 1 << 16;

/// One side of permessage-deflate as the core does it: raw DEFLATE, a sync flush at the end
/// of every message with its trailer removed, context kept from message to message.
trait Codec {
    /// Compresses one message onto `out` (cleared first).
    fn compress(&mut self, message: &[u8], out: &mut Vec<u8>);
    /// Decompresses one message's payload into `out` (at least `OUT` long); returns its length.
    fn inflate(&mut self, payload: &[u8], out: &mut [u8]) -> usize;
    /// Starts a new stream on the inflating side.
    fn reset_inflater(&mut self);
}

/// miniz_oxide with the settings the core had: fixed Huffman blocks, 32 KiB window.
struct Miniz {
    compressor: Box<miniz_oxide::deflate::core::CompressorOxide>,
    inflater: Box<miniz_oxide::inflate::stream::InflateState>,
}

impl Miniz {
    fn new(level: u8) -> Miniz {
        use miniz_oxide::deflate::core::{create_comp_flags_from_zip_params, CompressionStrategy};
        let flags = create_comp_flags_from_zip_params(
            i32::from(level),
            -15,
            CompressionStrategy::Fixed as i32,
        );
        Miniz {
            compressor: Box::new(miniz_oxide::deflate::core::CompressorOxide::new(flags)),
            inflater: miniz_oxide::inflate::stream::InflateState::new_boxed(
                miniz_oxide::DataFormat::Raw,
            ),
        }
    }
}

impl Codec for Miniz {
    fn compress(&mut self, message: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.resize(message.len() + 64, 0);
        let result = miniz_oxide::deflate::stream::deflate(
            &mut self.compressor,
            message,
            out,
            miniz_oxide::MZFlush::Sync,
        );
        out.truncate(result.bytes_written);
        assert!(out.ends_with(&TRAILER));
        out.truncate(out.len() - TRAILER.len());
    }

    fn inflate(&mut self, payload: &[u8], out: &mut [u8]) -> usize {
        use miniz_oxide::inflate::stream::inflate;
        let a = inflate(&mut self.inflater, payload, out, miniz_oxide::MZFlush::None);
        let b = inflate(
            &mut self.inflater,
            &TRAILER,
            &mut out[a.bytes_written..],
            miniz_oxide::MZFlush::None,
        );
        a.bytes_written + b.bytes_written
    }

    fn reset_inflater(&mut self) {
        self.inflater.reset(miniz_oxide::DataFormat::Raw);
    }
}

/// zlib-rs at `level` with a `bits`-bit window on both sides.
struct Zlib {
    deflate: zlib_rs::Deflate,
    inflate: zlib_rs::Inflate,
    bits: u8,
}

impl Zlib {
    fn new(level: u8, bits: u8) -> Zlib {
        Zlib {
            deflate: zlib_rs::Deflate::new(i32::from(level), false, bits),
            inflate: zlib_rs::Inflate::new(false, bits),
            bits,
        }
    }
}

impl Codec for Zlib {
    fn compress(&mut self, message: &[u8], out: &mut Vec<u8>) {
        out.clear();
        out.resize(message.len() + 64, 0);
        let before = self.deflate.total_out();
        let status = self
            .deflate
            .compress(message, out, zlib_rs::DeflateFlush::SyncFlush)
            .expect("compress");
        assert_eq!(status, zlib_rs::Status::Ok);
        out.truncate((self.deflate.total_out() - before) as usize);
        assert!(out.ends_with(&TRAILER));
        out.truncate(out.len() - TRAILER.len());
    }

    fn inflate(&mut self, payload: &[u8], out: &mut [u8]) -> usize {
        use zlib_rs::InflateFlush::NoFlush;
        let before = self.inflate.total_out();
        self.inflate
            .decompress(payload, out, NoFlush)
            .expect("inflate");
        let n = (self.inflate.total_out() - before) as usize;
        self.inflate
            .decompress(&TRAILER, &mut out[n..], NoFlush)
            .expect("inflate");
        (self.inflate.total_out() - before) as usize
    }

    fn reset_inflater(&mut self) {
        self.inflate = zlib_rs::Inflate::new(false, self.bits);
    }
}

/// Builds a codec.
type MakeCodec = fn() -> Box<dyn Codec>;

/// The codecs compared, by name.
fn codecs() -> Vec<(&'static str, MakeCodec)> {
    vec![
        ("miniz_oxide", || Box::new(Miniz::new(1))),
        ("zlib-rs", || Box::new(Zlib::new(1, 15))),
    ]
}

/// Every message of `messages` compressed in turn by a fresh `codec`.
fn compressed(codec: &mut dyn Codec, messages: &[String]) -> Vec<Vec<u8>> {
    messages
        .iter()
        .map(|message| {
            let mut out = Vec::new();
            codec.compress(message.as_bytes(), &mut out);
            out
        })
        .collect()
}

/// The codec cases: `ws_deflate_codec/{codec}/{deflate,inflate}_{stream,rollout}`, per message.
/// Compressing goes on from iteration to iteration (steady state); inflating replays one
/// compressed stream, from a reset inflater each iteration.
fn codec_cases(
    streams: &'static [(&'static str, Vec<String>)],
) -> Vec<(&'static str, String, usize, Run)> {
    let mut cases: Vec<(&'static str, String, usize, Run)> = Vec::new();
    for (name, make) in codecs() {
        for (stream, messages) in streams {
            let mut codec = make();
            let mut out = Vec::with_capacity(OUT);
            cases.push((
                name,
                format!("deflate_{stream}"),
                messages.len(),
                Box::new(move || {
                    for message in messages {
                        codec.compress(black_box(message.as_bytes()), &mut out);
                    }
                    black_box(&out);
                }),
            ));
            let mut codec = make();
            let wire = compressed(&mut *codec, messages);
            let total: usize = messages.iter().map(String::len).sum();
            let mut out = vec![0; OUT];
            cases.push((
                name,
                format!("inflate_{stream}"),
                messages.len(),
                Box::new(move || {
                    codec.reset_inflater();
                    let mut n = 0;
                    for payload in &wire {
                        n += codec.inflate(black_box(payload), &mut out);
                    }
                    assert_eq!(n, total);
                }),
            ));
        }
    }
    cases
}

/// Bytes each codec sends for each stream, and zlib-rs's by window bits; checks every codec
/// reads what every other wrote.
fn report_codecs(streams: &[(&'static str, Vec<String>)]) {
    for (stream, messages) in streams {
        let json: usize = messages.iter().map(String::len).sum();
        let mut line = format!(
            "ws_deflate_codec {stream}: {} messages, {json} bytes of JSON;",
            messages.len()
        );
        let mut variants: Vec<(String, Box<dyn Codec>)> = codecs()
            .into_iter()
            .map(|(name, make)| (format!("{name} level 1"), make()))
            .collect();
        for level in [2, 6] {
            variants.push((
                format!("zlib-rs level {level}"),
                Box::new(Zlib::new(level, 15)),
            ));
        }
        for bits in 9..15 {
            variants.push((
                format!("zlib-rs level 1 {bits} bits"),
                Box::new(Zlib::new(1, bits)),
            ));
        }
        for (name, mut codec) in variants {
            let wire = compressed(&mut *codec, messages);
            let bytes: usize = wire.iter().map(Vec::len).sum();
            for (_, make) in codecs() {
                let mut reader = make();
                let mut out = vec![0; OUT];
                for (payload, message) in wire.iter().zip(messages) {
                    let n = reader.inflate(payload, &mut out);
                    assert_eq!(&out[..n], message.as_bytes(), "{name}");
                }
            }
            line += &format!(
                " {name} {bytes} ({:.1}%);",
                100.0 * bytes as f64 / json as f64
            );
        }
        eprintln!("{line}");
    }
}

/// The streams the codecs are compared on: the event stream above, and the rollout's
/// events (down) and requests (up).
fn codec_streams() -> &'static [(&'static str, Vec<String>)] {
    let (down, up) = rollout();
    vec![
        ("stream", events()),
        ("rollout_down", down),
        ("rollout_up", up),
    ]
    .leak()
}

fn codec(c: &mut Criterion) {
    let streams = codec_streams();
    report_codecs(streams);
    let mut group = c.benchmark_group("ws_deflate_codec");
    for (library, label, messages, mut run) in codec_cases(streams) {
        group.throughput(Throughput::Elements(messages as u64));
        group.bench_function(BenchmarkId::new(library, label), |b| b.iter(&mut run));
    }
    group.finish();
}

/// The wake cases (see the module docs): the client and server with context takeover or
/// not, having carried the rollout once, and the iteration.
fn wake_cases() -> Vec<(&'static str, Run)> {
    let (down, up) = rollout();
    let (down, up): (&'static [String], &'static [String]) = (down.leak(), up.leak());
    let mut cases: Vec<(&'static str, Run)> = Vec::new();
    for (label, no_context) in [("context", false), ("no_context", true)] {
        let mut config = Config::default();
        config.deflate.server_no_context_takeover = no_context;
        let (mut server, mut client) = pair_with(config);
        // The history is a full window of the rollout's events.
        for chunk in send_all(&mut server, down) {
            client.handle_input(&chunk, NOW);
        }
        while client.poll_event().is_some() {}
        let mut turn = 0;
        cases.push((
            label,
            Box::new(move || {
                client
                    .send_text(up[turn % up.len()].as_str())
                    .expect("open");
                while let Some(chunk) = client.poll_transmit() {
                    server.handle_input(&chunk, NOW);
                }
                while server.poll_event().is_some() {}
                let events = &down[(turn * 2) % (down.len() - 1)..][..2];
                for chunk in send_all(&mut server, events) {
                    client.handle_input(black_box(&chunk), NOW);
                }
                let mut n = 0;
                while client.poll_event().is_some() {
                    n += 1;
                }
                assert_eq!(n, 2);
                client.release_idle_memory();
                turn += 1;
            }),
        ));
    }
    cases
}

fn wake(c: &mut Criterion) {
    let mut group = c.benchmark_group("ws_deflate_wake");
    for (label, mut run) in wake_cases() {
        group.bench_function(BenchmarkId::new(label, "turn"), |b| b.iter(&mut run));
    }
    group.finish();
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
        for (library, label, _, iteration) in codec_cases(codec_streams()) {
            if run.selects("ws_deflate_codec", library, &label) {
                run.run(iteration);
            }
        }
        for (label, iteration) in wake_cases() {
            if run.selects("ws_deflate_wake", label, "turn") {
                run.run(iteration);
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, codec, streaming, wake);
