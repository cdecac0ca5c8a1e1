//! Decoding Responses server events (the JSON text of one WebSocket message) into typed events:
//! ours against async-openai's event types and an untyped `serde_json::Value`, on the same
//! frames in the same run.
//!
//! Corpora, built once before measuring:
//!
//! - `mixed`: 1000 frames in the proportions of a tool-calling agent's stream: 60%
//!   `response.output_text.delta`, 30% `response.function_call_arguments.delta` (generated, with
//!   realistic ids, `obfuscation` padding, short token-sized deltas; argument deltas are JSON
//!   fragments, so most carry escaped quotes), and 10% every other event, drawn from the server
//!   frames (`<< ` lines) of `core/src/wire/fixtures/transcripts.txt`: `output_item.added/done`,
//!   `content_part.*`, `*.done`, `created`/`in_progress`/`completed` (about 1 KiB each),
//!   errors, steering events. 20% of the frames carry a `stream_id` (a named lane).
//! - `deltas`: 500 text deltas (`text`) and 500 argument deltas (`args`) alone.
//! - `completed`: one large `response.completed` (about 20 KiB: long instructions, eight
//!   function tools, a reasoning item with encrypted content, six function calls and a long
//!   message), the frame that ends every turn of an agent loop.
//!
//! async-openai does not accept every frame (event types it does not know, such as the
//! WebSocket-only steering events, and shapes it does not expect). Its frames are therefore
//! measured on `accepted`, the frames that both of its types decode, and ours and
//! `serde_json::Value` are measured on that same subset, so the ratios compare equal work;
//! `all` measures ours and `Value` on every frame, and async-openai's WebSocket type when it
//! accepts every frame. What is rejected, and why, is printed on stderr before the measurements.
//!
//! One iteration decodes every frame of the corpus once and drops the result; throughput is in
//! events (or bytes for `completed`), so the time per event is the inverse of the throughput.
//!
//! - `ours`: `ServerEvent::from_str`, which borrows ids and unescaped strings from the frame.
//! - `ours_scratch`: `ServerEvent::from_str_in`, the same with escaped strings of deltas
//!   unescaped into one buffer kept for the whole corpus (what the session does).
//! - `ours_owned`: the same as `ours` followed by `into_owned()` (every string copied), the cost of an
//!   event that outlives its frame, as async-openai's always do.
//! - `async-openai`: `serde_json::from_str::<types::responses::ResponseStreamEvent>`, the type of
//!   its HTTP (SSE) stream, which ignores `stream_id`.
//! - `async-openai-ws`: `serde_json::from_str::<types::responses::websocket::ResponsesServerEvent>`,
//!   its WebSocket-mode type (adds `error`, the steering events and `stream_id`).
//! - `serde_json_value`: `serde_json::from_str::<serde_json::Value>`, a lower bound for any
//!   decoder that builds owned data from the whole frame.
//!
//! Run with `cargo bench -p responses-ws-benches --bench wire_decode`; `callgrind.sh` counts the
//! instructions of one case (see `src/lib.rs`).

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use std::collections::BTreeMap;

use async_openai::types::responses::websocket::ResponsesServerEvent;
use async_openai::types::responses::ResponseStreamEvent;
use criterion::{black_box, criterion_group, BenchmarkId, Criterion, Throughput};
use responses_ws_core::wire::{EventKind, ServerEvent};

const TRANSCRIPTS: &str = include_str!("../../src/wire/fixtures/transcripts.txt");

/// Frames in the `mixed` corpus, and in each `deltas` corpus.
const MIXED_LEN: usize = 1000;
const DELTAS_LEN: usize = 500;

/// The server frames of the transcripts.
fn transcript_frames() -> impl Iterator<Item = &'static str> {
    TRANSCRIPTS
        .lines()
        .filter_map(|line| line.strip_prefix("<< "))
}

/// A small deterministic generator (xorshift64*), so every run measures the same corpus.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'t, T>(&mut self, items: &'t [T]) -> &'t T {
        &items[self.below(items.len())]
    }

    /// `len` characters of `[A-Za-z0-9]`, like the `obfuscation` padding and ids.
    fn alnum(&mut self, len: usize) -> String {
        const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(*self.pick(CHARS))).collect()
    }

    /// `len` lowercase hex digits.
    fn hex(&mut self, len: usize) -> String {
        (0..len)
            .map(|_| char::from(b"0123456789abcdef"[self.below(16)]))
            .collect()
    }
}

/// A JSON string literal (quoted and escaped).
fn quote(text: &str) -> String {
    serde_json::to_string(text).expect("strings serialise")
}

/// Token-sized pieces of model output text: words, punctuation, line breaks, code, some
/// non-ASCII (raw UTF-8 in the frame) and quotes (escaped in the frame).
const TEXT_TOKENS: &[&str] = &[
    " the",
    " a",
    " to",
    " of",
    " and",
    " is",
    " in",
    " that",
    " it",
    " for",
    " with",
    " file",
    " function",
    " returns",
    " error",
    " value",
    " test",
    " build",
    " deploy",
    " request",
    " response",
    " connection",
    " because",
    " We",
    " I",
    "'ll",
    " update",
    " config",
    ".",
    ",",
    ":",
    ";",
    "\n",
    "\n\n",
    "- ",
    "**",
    "`",
    "```rust\n",
    "fn",
    " main",
    "()",
    " {",
    "}\n",
    "    ",
    "let",
    " mut",
    " =",
    " Some",
    "(",
    ")",
    "?",
    "’s",
    " café",
    " 14",
    " °C",
    " —",
    " é",
    " \"",
    "\"",
    " naïve",
    " über",
    " ✓",
    " 🚀",
    "1",
    "2",
    "0",
    "%",
    "/",
    "src",
    "/lib",
    ".rs",
];

/// Function call arguments, streamed in fragments.
const ARGUMENTS: &[&str] = &[
    r#"{"path":"src/session/lane.rs","old_string":"    fn poll(&mut self) -> Option<Event> {\n        self.queue.pop_front()\n    }","new_string":"    fn poll(&mut self) -> Option<Event> {\n        let event = self.queue.pop_front()?;\n        self.delivered += 1;\n        Some(event)\n    }"}"#,
    r#"{"command":["cargo","test","-p","responses-ws-core","--","wire::server"],"timeout_ms":120000,"workdir":"."}"#,
    r#"{"city":"Paris","unit":"celsius","days":3}"#,
    r#"{"query":"site:docs.rs serde borrow Cow<'a, str> from_str","max_results":5}"#,
    r#"{"project":"task-tracker","fields":["status","owner","due_date"],"include_history":false}"#,
];

/// Cuts `text` into token-sized pieces (1 to 6 characters) at character boundaries.
fn fragments(text: &str, rng: &mut Rng) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut start = 0;
    while start < chars.len() {
        let end = (start + 1 + rng.below(6)).min(chars.len());
        out.push(chars[start..end].iter().collect());
        start = end;
    }
    out
}

/// Builds delta frames as the server writes them: `type` first, ids of the real length.
struct DeltaMaker {
    rng: Rng,
    sequence_number: u64,
    message_id: String,
    call_id: String,
    arguments: Vec<String>,
}

impl DeltaMaker {
    fn new(seed: u64) -> Self {
        let mut rng = Rng(seed);
        DeltaMaker {
            message_id: format!("msg_{}", rng.hex(48)),
            call_id: format!("fc_{}", rng.hex(48)),
            rng,
            sequence_number: 4,
            arguments: Vec::new(),
        }
    }

    /// `,"stream_id":"…"` on one frame in five.
    fn lane(&mut self) -> String {
        if self.rng.below(5) == 0 {
            format!(r#","stream_id":"agent_{}""#, self.rng.below(8))
        } else {
            String::new()
        }
    }

    /// The `obfuscation` value: 1 to 15 random characters.
    fn padding(&mut self) -> String {
        let len = 1 + self.rng.below(15);
        self.rng.alnum(len)
    }

    fn text_delta(&mut self) -> String {
        self.sequence_number += 1;
        let pieces = 1 + self.rng.below(3);
        let delta: String = (0..pieces).map(|_| *self.rng.pick(TEXT_TOKENS)).collect();
        let lane = self.lane();
        let padding = self.padding();
        format!(
            r#"{{"type":"response.output_text.delta"{lane},"sequence_number":{},"item_id":"{}","output_index":0,"content_index":0,"delta":{},"logprobs":[],"obfuscation":"{padding}"}}"#,
            self.sequence_number,
            self.message_id,
            quote(&delta),
        )
    }

    fn arguments_delta(&mut self) -> String {
        if self.arguments.is_empty() {
            let arguments = *self.rng.pick(ARGUMENTS);
            self.arguments = fragments(arguments, &mut self.rng);
            self.arguments.reverse();
            self.call_id = format!("fc_{}", self.rng.hex(48));
        }
        let delta = self.arguments.pop().expect("refilled above");
        self.sequence_number += 1;
        let lane = self.lane();
        let padding = self.padding();
        format!(
            r#"{{"type":"response.function_call_arguments.delta"{lane},"sequence_number":{},"item_id":"{}","output_index":1,"delta":{},"obfuscation":"{padding}"}}"#,
            self.sequence_number,
            self.call_id,
            quote(&delta),
        )
    }
}

/// 60% text deltas, 30% argument deltas, 10% the transcripts' other frames.
fn mixed_corpus() -> Vec<String> {
    let others: Vec<&str> = transcript_frames()
        .filter(|frame| !frame.contains(r#""type":"response.output_text.delta""#))
        .filter(|frame| !frame.contains(r#""type":"response.function_call_arguments.delta""#))
        .collect();
    let mut maker = DeltaMaker::new(0x5EED_0001);
    let mut rng = Rng(0x5EED_0002);
    (0..MIXED_LEN)
        .map(|_| match rng.below(100) {
            0..60 => maker.text_delta(),
            60..90 => maker.arguments_delta(),
            _ => (*rng.pick(&others)).to_owned(),
        })
        .collect()
}

/// A large `response.completed`, in the transcripts' field order (`type` first).
fn large_completed() -> String {
    let mut rng = Rng(0x5EED_0003);
    let paragraph = "You are a coding agent working in a Rust repository. Read the relevant files \
        before editing, keep changes minimal, run the tests that cover what you touched, and \
        explain what you changed and why. Never print secrets; \"sk-\" keys must stay redacted.\n";
    let instructions = paragraph.repeat(24);
    let tools: Vec<String> = [
        "read_file",
        "write_file",
        "edit_file",
        "list_dir",
        "search",
        "run_command",
        "get_weather",
        "get_project_status",
    ]
    .iter()
    .map(|name| {
        format!(
            r#"{{"type":"function","name":"{name}","description":"{name}: see the tool guide for when to use it and what it returns.","strict":true,"parameters":{{"type":"object","properties":{{"path":{{"type":"string","description":"Path relative to the repository root."}},"limit":{{"type":"integer","minimum":1}},"options":{{"type":"array","items":{{"type":"string","enum":["recursive","hidden","follow_links"]}}}}}},"required":["path","limit","options"],"additionalProperties":false}}}}"#
        )
    })
    .collect();
    let mut output = vec![format!(
        r#"{{"id":"rs_{}","type":"reasoning","summary":[{{"type":"summary_text","text":{}}}],"encrypted_content":"gAAAAAB{}"}}"#,
        rng.hex(48),
        quote("**Planning the change**\n\nThe lane queue drops events when the session is closed; I will check the ledger first, then edit the poll loop and rerun the wire tests."),
        rng.alnum(6000),
    )];
    for arguments in ARGUMENTS.iter().chain(&ARGUMENTS[..1]) {
        output.push(format!(
            r#"{{"id":"fc_{}","type":"function_call","status":"completed","call_id":"call_{}","name":"edit_file","arguments":{}}}"#,
            rng.hex(48),
            rng.alnum(24),
            quote(arguments),
        ));
    }
    let answer = TEXT_TOKENS.concat().repeat(6);
    output.push(format!(
        r#"{{"id":"msg_{}","type":"message","status":"completed","role":"assistant","phase":"final_answer","content":[{{"type":"output_text","text":{},"annotations":[],"logprobs":[]}}]}}"#,
        rng.hex(48),
        quote(&answer),
    ));
    format!(
        r#"{{"type":"response.completed","sequence_number":412,"response":{{"id":"resp_{}","object":"response","created_at":1771850100,"status":"completed","completed_at":1771850131,"error":null,"incomplete_details":null,"instructions":{},"model":"gpt-5.5","output":[{}],"parallel_tool_calls":true,"previous_response_id":"resp_{}","reasoning":{{"effort":"medium","summary":"auto"}},"store":false,"temperature":1.0,"text":{{"format":{{"type":"text"}},"verbosity":"medium"}},"tool_choice":"auto","tools":[{}],"top_p":1.0,"truncation":"disabled","usage":{{"input_tokens":18211,"input_tokens_details":{{"cached_tokens":16384}},"output_tokens":1422,"output_tokens_details":{{"reasoning_tokens":512}},"total_tokens":19633}},"user":null,"metadata":{{}}}}}}"#,
        rng.hex(48),
        quote(&instructions),
        output.join(","),
        rng.hex(48),
        tools.join(","),
    )
}

/// Whether both async-openai types decode `frame`; prints why not the first time an event type
/// is rejected.
fn accepted_by_async_openai(frame: &str, reported: &mut BTreeMap<String, ()>) -> bool {
    let sse = serde_json::from_str::<ResponseStreamEvent>(frame);
    let ws = serde_json::from_str::<ResponsesServerEvent>(frame);
    if let (Ok(_), Ok(_)) = (&sse, &ws) {
        return true;
    }
    let event = ServerEvent::from_str(frame).expect("ours decodes every frame");
    let name = event.event_type().to_owned();
    if reported.insert(name.clone(), ()).is_none() {
        let why = |result: Result<(), serde_json::Error>| match result {
            Ok(()) => "ok".to_owned(),
            Err(error) => {
                // serde lists every variant it expects: keep the start.
                let error = error.to_string();
                match error.char_indices().nth(100) {
                    Some((cut, _)) => format!("{}…", &error[..cut]),
                    None => error,
                }
            }
        };
        eprintln!(
            "  rejected `{name}`: ResponseStreamEvent: {}; ResponsesServerEvent: {}",
            why(sse.map(drop)),
            why(ws.map(drop)),
        );
    }
    false
}

/// The frames async-openai accepts, with a report of the others on stderr.
fn accepted(label: &str, frames: &[String]) -> Vec<String> {
    let mut reported = BTreeMap::new();
    let subset: Vec<String> = frames
        .iter()
        .filter(|frame| accepted_by_async_openai(frame, &mut reported))
        .cloned()
        .collect();
    let bytes = |frames: &[String]| frames.iter().map(String::len).sum::<usize>();
    eprintln!(
        "wire_decode {label}: {} frames ({} B); async-openai accepts {} ({} B)",
        frames.len(),
        bytes(frames),
        subset.len(),
        bytes(&subset),
    );
    subset
}

/// Checks that ours decodes every frame to a known event.
fn check_ours(frames: &[String]) {
    for frame in frames {
        let event = ServerEvent::from_str(frame).unwrap_or_else(|e| panic!("{e}: {frame}"));
        assert!(!matches!(event.kind, EventKind::Unknown(_)), "{frame}");
    }
}

/// One iteration of one decoder: decodes every frame of a corpus once.
type Decoder = Box<dyn FnMut()>;

/// Every decoder on `frames`, each result dropped; `peers` adds `ours_owned` and the
/// async-openai types.
fn decoders(frames: Vec<String>, peers: bool) -> Vec<(&'static str, Decoder)> {
    // Leaked so that every decoder can hold the frames for the whole run.
    let frames: &'static [String] = frames.leak();
    let mut decoders: Vec<(&'static str, Decoder)> = vec![(
        "ours",
        Box::new(move || {
            for frame in frames {
                black_box(ServerEvent::from_str(black_box(frame)).expect("ours"));
            }
        }),
    )];
    if peers {
        decoders.push((
            "ours_scratch",
            Box::new(move || {
                let mut scratch = String::new();
                for frame in frames {
                    let event = ServerEvent::from_str_in(black_box(frame), &mut scratch);
                    black_box(event.expect("ours"));
                }
            }),
        ));
        decoders.push((
            "ours_owned",
            Box::new(move || {
                for frame in frames {
                    let event = ServerEvent::from_str(black_box(frame)).expect("ours");
                    black_box(event.into_owned());
                }
            }),
        ));
        decoders.push((
            "async-openai",
            Box::new(move || {
                for frame in frames {
                    let event = serde_json::from_str::<ResponseStreamEvent>(black_box(frame));
                    black_box(event.expect("accepted frame"));
                }
            }),
        ));
        decoders.push(("async-openai-ws", async_openai_ws(frames)));
    }
    decoders.push((
        "serde_json_value",
        Box::new(move || {
            for frame in frames {
                let value = serde_json::from_str::<serde_json::Value>(black_box(frame));
                black_box(value.expect("JSON"));
            }
        }),
    ));
    decoders
}

fn async_openai_ws(frames: &'static [String]) -> Decoder {
    Box::new(move || {
        for frame in frames {
            let event = serde_json::from_str::<ResponsesServerEvent>(black_box(frame));
            black_box(event.expect("accepted frame"));
        }
    })
}

/// One corpus in one group: its throughput and its decoders.
struct Case {
    group: &'static str,
    corpus: &'static str,
    throughput: Throughput,
    decoders: Vec<(&'static str, Decoder)>,
}

/// Every case that `wanted(group, corpus)` selects.
fn cases(wanted: impl Fn(&str, &str) -> bool) -> Vec<Case> {
    let mut cases = Vec::new();
    if wanted("wire_decode_mixed", "accepted") || wanted("wire_decode_mixed", "all") {
        mixed_cases(&mut cases);
    }
    let mut maker = DeltaMaker::new(0x5EED_0004);
    let text: Vec<String> = (0..DELTAS_LEN).map(|_| maker.text_delta()).collect();
    let args: Vec<String> = (0..DELTAS_LEN).map(|_| maker.arguments_delta()).collect();
    for (corpus, frames) in [("text", text), ("args", args)] {
        if !wanted("wire_decode_deltas", corpus) {
            continue;
        }
        check_ours(&frames);
        let subset = accepted(corpus, &frames);
        assert_eq!(
            subset.len(),
            frames.len(),
            "async-openai rejects {corpus} deltas"
        );
        cases.push(Case {
            group: "wire_decode_deltas",
            corpus,
            throughput: Throughput::Elements(frames.len() as u64),
            decoders: decoders(frames, true),
        });
    }

    if wanted("wire_decode_completed", "large") {
        let completed = vec![large_completed()];
        check_ours(&completed);
        let subset = accepted("completed", &completed);
        assert_eq!(subset.len(), 1, "async-openai rejects the large completed");
        cases.push(Case {
            group: "wire_decode_completed",
            corpus: "large",
            throughput: Throughput::Bytes(completed[0].len() as u64),
            decoders: decoders(completed, true),
        });
    }
    cases
}

fn mixed_cases(cases: &mut Vec<Case>) {
    let mixed = mixed_corpus();
    check_ours(&mixed);
    let mixed_accepted = accepted("mixed", &mixed);
    cases.push(Case {
        group: "wire_decode_mixed",
        corpus: "accepted",
        throughput: Throughput::Elements(mixed_accepted.len() as u64),
        decoders: decoders(mixed_accepted, true),
    });
    let mut all = Case {
        group: "wire_decode_mixed",
        corpus: "all",
        throughput: Throughput::Elements(mixed.len() as u64),
        decoders: decoders(mixed.clone(), false),
    };
    // Its WebSocket type knows every event of the corpus; measure it on all of them when so.
    if mixed
        .iter()
        .all(|frame| serde_json::from_str::<ResponsesServerEvent>(frame).is_ok())
    {
        all.decoders
            .push(("async-openai-ws", async_openai_ws(mixed.leak())));
    }
    cases.push(all);
}

fn decoding(c: &mut Criterion) {
    for case in cases(|_, _| true) {
        let mut group = c.benchmark_group(case.group);
        group.throughput(case.throughput);
        for (decoder, mut decode) in case.decoders {
            group.bench_function(BenchmarkId::new(decoder, case.corpus), |b| {
                b.iter(&mut decode)
            });
        }
        group.finish();
    }
}

fn main() {
    // `callgrind.sh` runs one case a fixed number of times instead of measuring with criterion.
    if let Some(run) = responses_ws_benches::FixedRun::from_env() {
        for case in cases(|group, corpus| run.wants(group, corpus)) {
            for (decoder, decode) in case.decoders {
                if run.selects(case.group, decoder, case.corpus) {
                    run.run(decode);
                }
            }
        }
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(benches, decoding);
