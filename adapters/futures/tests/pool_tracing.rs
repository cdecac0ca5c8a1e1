//! The pool's `tracing` spans and events (feature `tracing`), seen by a recording subscriber:
//! a span per connection and per turn with their fields, events for dials and closes, and
//! never the API key. Everything runs on the test's thread (driver included), so the
//! subscriber is the thread's default.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use futures_util::future::join;
use responses_ws_futures::pool::Pool;
use responses_ws_futures::{runtime, Config, ResponseCreate, ToolCall};
use responses_ws_tokio::mock::{MockServer, Script, ScriptedCall};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// What the subscriber saw: spans by id (name, fields), and events (message, fields).
#[derive(Default)]
struct Seen {
    spans: BTreeMap<u64, (String, BTreeMap<String, String>)>,
    events: Vec<BTreeMap<String, String>>,
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
        self.seen.lock().unwrap().spans.insert(id, (name, fields));
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut seen = self.seen.lock().unwrap();
        if let Some((_, fields)) = seen.spans.get_mut(&span.into_u64()) {
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

#[test]
fn connections_and_turns_have_spans_with_their_fields_and_no_secret() {
    let script = Script::new()
        .tool_calls([ScriptedCall::new("lookup", "{}")])
        .text("Done.", 1);
    let server = MockServer::start_in_thread(script).unwrap();
    let recorder = Recorder::default();
    let _default = tracing::subscriber::set_default(recorder.clone());
    smol::block_on(async {
        let config = Config::new(&server.url())
            .unwrap()
            .api_key("sk-very-secret")
            .runtime(runtime::Smol);
        let (pool, driver) = Pool::builder(config).max_connections(2).build().unwrap();
        let work = async {
            let agents: Vec<_> = (0..3).map(|_| pool.conversation().unwrap()).collect();
            for agent in &agents {
                let handler = |call: ToolCall| async move { call.call_id };
                agent
                    .run_tool_loop(ResponseCreate::new("m").input("Hi"), handler)
                    .await
                    .unwrap();
            }
            pool.close().await;
        };
        join(driver, work).await;
    });
    let seen = recorder.seen.lock().unwrap();
    let named = |name: &'static str| seen.spans.values().filter(move |(n, _)| n == name);
    assert!(named("pool.connection").count() >= 1);
    let turns: Vec<_> = named("pool.turn").map(|(_, fields)| fields).collect();
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
