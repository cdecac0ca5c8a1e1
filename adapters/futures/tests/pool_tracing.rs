//! The pool's `tracing` spans and events (feature `tracing`), seen by a recording subscriber:
//! a span per connection and per turn with their fields, events for dials and closes, and
//! never the API key. Everything runs on the test's thread (driver included), so the
//! subscriber is the thread's default.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::{join, join_all};
use responses_ws_futures::pool::Pool;
use responses_ws_futures::{runtime, Config, ResponseCreate, ToolCall, Transport};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span's or an event's fields, by name, their values as `Debug` prints them.
type FieldMap = BTreeMap<String, String>;

/// What the subscriber saw: spans by id (name, fields, explicit parent), and events
/// (message, fields).
#[derive(Default)]
struct Seen {
    spans: BTreeMap<u64, (String, FieldMap, Option<u64>)>,
    events: Vec<BTreeMap<String, String>>,
}

impl Seen {
    /// The fields of the spans named `name`, with their parent's id.
    fn named<'a>(
        &'a self,
        name: &'a str,
    ) -> impl Iterator<Item = (&'a FieldMap, Option<u64>)> + 'a {
        (self.spans.values())
            .filter(move |(n, _, _)| n == name)
            .map(|(_, fields, parent)| (fields, *parent))
    }
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
        let name = span.metadata().name().to_owned();
        let parent = span.parent().map(Id::into_u64);
        (self.seen.lock().unwrap().spans).insert(id, (name, fields, parent));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some((_, fields, _)) = seen.spans.get_mut(&span.into_u64()) {
            values.record(&mut Fields(fields));
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

/// Three agents' tool rounds at once on a pool of `max_connections` built from `config` (its
/// runtime smol) against the mock, every span and event recorded.
fn record_three_agents(config: Config, max_connections: usize) -> Recorder {
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    let (pool, driver) = Pool::builder(config.runtime(runtime::Smol))
        .max_connections(max_connections)
        .build()
        .unwrap();
    let work = async {
        let agents: Vec<_> = (0..3).map(|_| pool.conversation().unwrap()).collect();
        let handler = |call: ToolCall| async move { call.call_id };
        let runs = (agents.iter())
            .map(|agent| agent.run_tool_loop(ResponseCreate::new("m").input("Hi"), handler));
        for response in join_all(runs).await {
            assert_eq!(response.unwrap().all_output_text(), "Done.");
        }
        pool.close().await;
    };
    smol::block_on(join(driver, work));
    recorder
}

fn tool_round() -> Script {
    Script::new()
        .tool_calls([ScriptedCall::new("lookup", "{}")])
        .text("Done.", 1)
}

#[test]
fn connections_and_turns_have_spans_with_their_fields_and_no_secret() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let config = Config::new(&server.url()).unwrap();
    let recorder = record_three_agents(config.api_key("sk-very-secret"), 2);
    let seen = recorder.seen.lock().unwrap();
    assert!(seen.named("pool.connection").count() >= 1);
    let turns: Vec<_> = seen.named("pool.turn").map(|(fields, _)| fields).collect();
    assert_eq!(turns.len(), 3);
    for fields in turns {
        for field in [
            "conversation",
            "turn",
            "conn",
            "lane",
            "response_id",
            "attempts",
        ] {
            assert!(fields.contains_key(field), "{field} in {fields:?}");
        }
        assert!(fields["response_id"].contains("resp_"), "{fields:?}");
        assert_eq!(
            fields["attempts"], "2",
            "a tool round: two responses: {fields:?}"
        );
    }
    let messages: Vec<&str> = seen
        .events
        .iter()
        .filter_map(|fields| fields.get("message").map(String::as_str))
        .collect();
    assert!(messages.contains(&"dial"), "{messages:?}");
    assert!(messages.contains(&"connection closed"), "{messages:?}");
    let everything = format!(
        "{:?} {:?}",
        seen.spans.values().collect::<Vec<_>>(),
        seen.events
    );
    assert!(!everything.contains("sk-very-secret"));
    assert!(!everything.to_lowercase().contains("authorization"));
    server.shutdown();
}

#[test]
fn over_http_turns_and_sockets_are_traced_under_their_connection() {
    let server = MockServer::start_in_thread(tool_round()).unwrap();
    let config = Config::new(&server.url()).unwrap();
    let recorder = record_three_agents(config.transport(Transport::Http), 1);
    let seen = recorder.seen.lock().unwrap();
    let connections: Vec<u64> = (seen.spans.iter())
        .filter(|(_, (name, fields, _))| {
            name == "pool.connection" && fields["transport"] == "\"http\""
        })
        .map(|(&id, _)| id)
        .collect();
    assert_eq!(connections.len(), 1, "one HTTP connection: {connections:?}");
    let turns: Vec<_> = seen.named("pool.turn").collect();
    assert_eq!(turns.len(), 3);
    for (fields, parent) in turns {
        assert_eq!(parent, Some(connections[0]), "{fields:?}");
        assert_eq!(fields["attempts"], "2", "{fields:?}");
    }
    let sockets: Vec<_> = seen.named("pool.socket").collect();
    assert!(
        sockets.len() >= 3,
        "a socket per request at once: {}",
        sockets.len()
    );
    assert!(sockets
        .iter()
        .all(|(_, parent)| *parent == Some(connections[0])));
    server.shutdown();
}
