//! Durable conversations over a real socket (the blocking driver against the mock server in
//! a thread), on WebSocket mode and over HTTP + SSE alike: a finished conversation is not
//! sent again, a store that is down stops the turn with a typed error and loses nothing, and
//! a worker whose lease was taken over is fenced.

use std::sync::Arc;
use std::time::Duration;

use responses_ws_blocking::{
    Config, Connection, Error, FileStore, MemoryStore, ResponseCreate, Store, StoreError, Transport,
};
use responses_ws_core::mock::{Script, ScriptedCall};
use responses_ws_core::persist::replay;
use responses_ws_store::testing::Instrumented;
use responses_ws_tokio::mock::{MockServer, Refusal, UpgradeFault};

fn script() -> Script {
    Script::new()
        .tool_calls([ScriptedCall::new("add", r#"{"a":1,"b":2}"#)])
        .tool_calls([
            ScriptedCall::new("add", r#"{"a":3,"b":4}"#),
            ScriptedCall::new("add", r#"{"a":5,"b":6}"#),
        ])
        .text("Sums done.", 2)
}

fn request() -> ResponseCreate {
    ResponseCreate::new("m").input("Add up.")
}

fn connect(
    url: &str,
    store: Arc<dyn Store + Send + Sync>,
    worker: &str,
    transport: Transport,
) -> Connection {
    let config = Config::new(url).unwrap().store(store, worker);
    Connection::connect(config.transport(transport)).unwrap()
}

/// `$case` as one test per transport.
macro_rules! on_both_transports {
    ($case:ident: $websocket:ident, $http:ident) => {
        #[test]
        fn $websocket() {
            $case(Transport::WebSocket);
        }
        #[test]
        fn $http() {
            $case(Transport::Http);
        }
    };
}

on_both_transports!(finished_conversation:
    a_finished_conversation_is_answered_from_the_store_without_a_frame,
    over_http_a_finished_conversation_is_answered_from_the_store_without_a_request);
on_both_transports!(store_down:
    a_store_that_is_down_holds_the_turn_and_loses_nothing,
    over_http_a_store_that_is_down_holds_the_turn_and_loses_nothing);
on_both_transports!(lease_taken_over:
    a_worker_whose_lease_was_taken_over_is_fenced,
    over_http_a_worker_whose_lease_was_taken_over_is_fenced);

fn finished_conversation(transport: Transport) {
    let server = MockServer::start_in_thread(script()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(FileStore::open(dir.path().join("c.sqlite")).unwrap());
    let mut conn = connect(&server.url(), store.clone(), "w1", transport);
    let mut runs = 0;
    let response = conn
        .run_durable("conv", request(), |call| {
            runs += 1;
            format!("ran {}", call.call_id)
        })
        .unwrap();
    assert_eq!(response.all_output_text(), "Sums done.");
    assert_eq!(runs, 3);
    let frames = server.traffic().frames_received;
    assert_eq!(frames, 3, "the request and two continuations");
    assert!(replay(&store.read("conv").unwrap()).unwrap().is_finished());

    // Another process (another connection, the same file) asks again: nothing runs or goes out.
    let reopened = Arc::new(FileStore::open(dir.path().join("c.sqlite")).unwrap());
    let mut again = connect(&server.url(), reopened, "w2", transport);
    let response = again
        .run_durable("conv", request(), |_| -> String { panic!("ran again") })
        .unwrap();
    assert_eq!(response.all_output_text(), "Sums done.");
    assert_eq!(server.traffic().frames_received, frames);
    server.shutdown();
}

#[test]
fn a_426_moves_a_durable_conversation_to_http_with_its_journal() {
    let refusing = script().with_upgrade_refusal(UpgradeFault::new(Refusal::UpgradeRequired));
    let server = MockServer::start_in_thread(refusing).unwrap();
    server.record_requests();
    let store = Arc::new(MemoryStore::default());
    let mut conn = connect(&server.url(), store.clone(), "w1", Transport::WebSocket);
    assert_eq!(conn.transport(), Transport::Http, "moved by the 426");
    let response = conn
        .run_durable("conv", request(), |call| format!("ran {}", call.call_id))
        .unwrap();
    assert_eq!(response.all_output_text(), "Sums done.");
    assert_eq!(server.requests().len(), 3, "three POSTs");
    let replayed = replay(&store.read("conv").unwrap()).unwrap();
    assert!(replayed.is_finished());
    let outputs = (replayed.ledger.items().iter())
        .filter(|item| matches!(item, responses_ws_core::wire::Item::FunctionCallOutput(_)))
        .count();
    assert_eq!(outputs, 3, "every output journaled once");
    server.shutdown();
}

fn store_down(transport: Transport) {
    let server = MockServer::start_in_thread(script()).unwrap();
    let store = Arc::new(Instrumented::default());
    let mut conn = connect(&server.url(), store.clone(), "w1", transport);
    conn.journal(&Default::default(), "conv").unwrap();
    store.set_down(true);
    let error = conn.create(request()).unwrap_err();
    assert!(
        matches!(error, Error::Store(StoreError::Unavailable(_))),
        "{error}"
    );
    assert_eq!(server.traffic().frames_received, 0, "nothing went out");
    assert!(matches!(conn.next_event(), Err(Error::Store(_))));
    assert_eq!(server.traffic().frames_received, 0);

    // Back up: the held records are stored, then the request goes out and the turn goes on.
    store.set_down(false);
    let mut outputs = 0;
    loop {
        match conn.next_event().unwrap() {
            Some(responses_ws_blocking::ClientEvent::Session(
                responses_ws_blocking::SessionEvent::ToolCalls { lane, calls, .. },
            )) => {
                for call in calls {
                    outputs += 1;
                    conn.submit_tool_output(&lane, &call.call_id, "ok").unwrap();
                }
            }
            Some(responses_ws_blocking::ClientEvent::Session(
                responses_ws_blocking::SessionEvent::Completed { response, .. },
            )) if response.tool_calls().next().is_none() => break,
            Some(_) => {}
            None => panic!("the connection ended"),
        }
    }
    assert_eq!(outputs, 3);
    let replayed = replay(&store.read("conv").unwrap()).unwrap();
    assert!(replayed.is_finished());
    assert_eq!(
        replayed.ledger.items()[0],
        responses_ws_core::wire::Item::user_message("Add up.")
    );
    server.shutdown();
}

fn lease_taken_over(transport: Transport) {
    let server = MockServer::start_in_thread(script()).unwrap();
    let store = Arc::new(MemoryStore::default());
    let config = Config::new(&server.url()).unwrap().transport(transport);
    let config = config
        .store(store.clone(), "w1")
        .lease_ttl(Duration::from_secs(1));
    let mut first = Connection::connect(config).unwrap();
    first.journal(&Default::default(), "conv").unwrap();
    // While its lease runs, no other worker gets the conversation.
    let mut second = connect(&server.url(), store.clone(), "w2", transport);
    let held = second.run_durable("conv", request(), |_| "never".to_string());
    assert!(matches!(held, Err(Error::Store(StoreError::Held { .. }))));
    // The first worker stalls past its lease; the second takes the conversation over.
    std::thread::sleep(Duration::from_millis(1100));
    let response = second
        .run_durable("conv", request(), |call| format!("ran {}", call.call_id))
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(response.all_output_text(), "Sums done.");
    let frames = server.traffic().frames_received;
    // The stalled worker wakes up: its writes are refused, so nothing of it goes out.
    let error = first.create(request()).unwrap_err();
    assert!(
        matches!(error, Error::Store(StoreError::Fenced { .. })),
        "{error}"
    );
    assert_eq!(server.traffic().frames_received, frames);
    server.shutdown();
}
