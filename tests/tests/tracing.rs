//! The `tracing` spans and events of a plain `Connection` (feature `tracing`), async (smol,
//! which runs on the test's thread) and blocking, seen by a recording subscriber set as the
//! thread's default: one `connection` span (server, transport, upgrades) across a refused
//! upgrade and its retry with fresh credentials, one `turn` span per turn (on two lanes) with
//! its lane, last response id and the responses it started (a tool round is one turn of two
//! responses), and
//! never the API key, the fresh one, an input or an output in a span or an event.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use responses_ws_tokio::mock::{
    MockServer, MockServerThread, Refusal, Script, ScriptedCall, UpgradeFault,
};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const KEY: &str = "sk-first-secret";
const FRESH_KEY: &str = "sk-fresh-secret";
const INPUT: &str = "private question";
const OUTPUT: &str = "private tool output";

/// What the subscriber saw: spans by id (name, fields, parent), and events (fields).
#[derive(Debug, Default)]
struct Seen {
    spans: BTreeMap<u64, Span>,
    events: Vec<BTreeMap<String, String>>,
}

#[derive(Debug)]
struct Span {
    name: String,
    fields: BTreeMap<String, String>,
    parent: Option<u64>,
}

#[derive(Clone, Default)]
struct Recorder {
    seen: Arc<Mutex<Seen>>,
    next: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let mut fields = BTreeMap::new();
        span.record(&mut Fields(&mut fields));
        let span = Span {
            name: span.metadata().name().to_owned(),
            fields,
            parent: span.parent().map(Id::into_u64),
        };
        self.seen.lock().unwrap().spans.insert(id, span);
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some(span) = seen.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.seen.lock().unwrap().events.push(fields);
    }

    fn enter(&self, _: &Id) {}

    fn exit(&self, _: &Id) {}
}

/// The first upgrade refused with a 401 (the retry fetches a fresh key), then a tool round
/// on each lane (the mock plays the script on each).
fn server() -> MockServerThread {
    let script = Script::new()
        .with_upgrade_refusal(UpgradeFault::new(Refusal::Unauthorized).first(1))
        .tool_calls([ScriptedCall::new("lookup", "{}")])
        .text("Done.", 2);
    MockServer::start_in_thread(script).unwrap()
}

/// What both drivers must have traced.
fn check(seen: &Seen, server: &MockServerThread) {
    let connections: Vec<(&u64, &Span)> = (seen.spans.iter())
        .filter(|(_, span)| span.name == "connection")
        .collect();
    assert_eq!(connections.len(), 1, "{seen:?}");
    let (connection_id, connection) = connections[0];
    let url = server.url();
    let port = url.split(':').nth(2).unwrap().split('/').next().unwrap();
    let fields = &connection.fields;
    assert_eq!(fields["server"], format!("127.0.0.1:{port}"));
    assert_eq!(fields["transport"], "\"websocket\"");
    assert_eq!(fields["connections"], "1", "one upgrade succeeded");

    let turns: BTreeMap<&str, &Span> = (seen.spans.values())
        .filter(|span| span.name == "turn")
        .map(|span| (span.fields["lane"].as_str(), span))
        .collect();
    assert_eq!(turns.len(), 2, "{turns:?}");
    for turn in [turns["(default lane)"], turns["side"]] {
        assert_eq!(turn.fields["attempts"], "2", "a tool round: {turn:?}");
        assert!(turn.fields["response_id"].contains("resp_"), "{turn:?}");
        assert_eq!(turn.parent, Some(*connection_id), "{turn:?}");
    }

    let messages: Vec<&str> = (seen.events.iter())
        .filter_map(|fields| fields.get("message").map(String::as_str))
        .collect();
    for message in [
        "connection lost",
        "reconnecting",
        "connected",
        "turn completed",
    ] {
        assert!(messages.contains(&message), "{message} in {messages:?}");
    }
    let reconnecting = (seen.events.iter())
        .find(|fields| fields.get("message").map(String::as_str) == Some("reconnecting"))
        .unwrap();
    assert_eq!(
        reconnecting["refresh_credentials"], "true",
        "{reconnecting:?}"
    );

    let everything = format!("{seen:?}");
    for secret in [KEY, FRESH_KEY, INPUT, OUTPUT] {
        assert!(!everything.contains(secret), "{secret} in {everything}");
    }
    assert!(!everything.to_lowercase().contains("authorization"));
}

#[test]
fn an_async_connection_has_a_span_and_one_per_turn_with_no_secret() {
    use responses_ws_futures::{runtime, Config, Connection, ResponseCreate, ToolCall};

    let server = server();
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    smol::block_on(async {
        let config = Config::new(&server.url())
            .unwrap()
            .api_key(KEY)
            .credentials(|| Some(FRESH_KEY.into()))
            .runtime(runtime::Smol);
        let mut conn = Connection::connect(config).await.unwrap();
        let tool = |_call: ToolCall| async { OUTPUT.to_string() };
        let request = ResponseCreate::new("m").input(INPUT);
        conn.run_tool_loop(request, tool).await.unwrap();
        let side = ResponseCreate::new("m").input(INPUT).stream_id("side");
        conn.run_tool_loop(side, tool).await.unwrap();
        conn.close().await.unwrap();
    });
    check(&recorder.seen.lock().unwrap(), &server);
    server.shutdown();
}

#[test]
fn a_blocking_connection_has_a_span_and_one_per_turn_with_no_secret() {
    use responses_ws_blocking::{Config, Connection, ResponseCreate, ToolCall};

    let server = server();
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let config = Config::new(&server.url())
        .unwrap()
        .api_key(KEY)
        .credentials(|| Some(FRESH_KEY.into()));
    let mut conn = Connection::connect(config).unwrap();
    let tool = |_call: &ToolCall| OUTPUT.to_string();
    let request = ResponseCreate::new("m").input(INPUT);
    conn.run_tool_loop(request, tool).unwrap();
    let side = ResponseCreate::new("m").input(INPUT).stream_id("side");
    conn.run_tool_loop(side, tool).unwrap();
    conn.close().unwrap();
    check(&recorder.seen.lock().unwrap(), &server);
    server.shutdown();
}
