//! `Sender::reunite` / `EventStream::reunite`: the halves of a split connection go back into
//! one `Connection` that goes on where they left off, against the scripted mock on loopback;
//! halves of two connections, or a sender with a live clone, are refused with a typed error
//! that hands both halves back, and reuniting them afterwards still works.

use futures_util::StreamExt;
use responses_ws_futures::runtime::Smol;
use responses_ws_futures::{
    ClientEvent, Config, Connection, ResponseCreate, ReuniteRefusal, SessionEvent,
};
use responses_ws_tokio::mock::{MockServer, MockServerThread, Script};

fn server() -> MockServerThread {
    let script = Script::new().text("Hello there!", 3).text("Again!", 1);
    MockServer::start_in_thread(script).unwrap()
}

async fn connect(server: &MockServerThread) -> Connection {
    let config = Config::new(&server.url()).unwrap().runtime(Smol);
    Connection::connect(config).await.unwrap()
}

fn ask(text: &str) -> ResponseCreate {
    ResponseCreate::new("gpt-5.5").input(text)
}

/// The text of a completed response, if `event` is one.
fn completed(event: &ClientEvent) -> Option<String> {
    match event {
        ClientEvent::Session(SessionEvent::Completed { response, .. }) => {
            Some(response.all_output_text())
        }
        _ => None,
    }
}

#[test]
fn the_reunited_connection_goes_on_where_the_halves_left_off() {
    let server = server();
    smol::block_on(async {
        let (sender, mut events) = connect(&server).await.split();
        sender.create(ask("Hi")).await.unwrap();
        // The stream reads the start of the response; the rest is still to come.
        loop {
            let event = events.next().await.unwrap().unwrap();
            assert_eq!(completed(&event), None);
            if let ClientEvent::Session(SessionEvent::Started { .. }) = event {
                break;
            }
        }
        let mut conn = sender.reunite(events).unwrap();
        let mut text = None;
        while text.is_none() {
            let event = conn
                .next_event()
                .await
                .unwrap()
                .expect("the rest of the response");
            text = completed(&event);
        }
        assert_eq!(text.as_deref(), Some("Hello there!"));
        // The conversation goes on: the next turn chains from the first.
        let response = conn
            .run_tool_loop(ask("More"), |_| async { String::new() })
            .await
            .unwrap();
        assert_eq!(response.all_output_text(), "Again!");
        conn.close().await.unwrap();
    });
    assert_eq!(server.connections(), 1);
    server.shutdown();
}

#[test]
fn halves_of_two_connections_are_refused_and_handed_back() {
    let server = server();
    smol::block_on(async {
        let (sender_a, events_a) = connect(&server).await.split();
        let (sender_b, events_b) = connect(&server).await.split();
        let refused = sender_a.reunite(events_b).unwrap_err();
        assert_eq!(refused.reason, ReuniteRefusal::DifferentConnections);
        assert_eq!(
            refused.to_string(),
            "cannot reunite halves of two different connections"
        );
        // Nothing was lost: each half goes back with its own partner.
        let mut a = refused.sender.reunite(events_a).unwrap();
        let mut b = refused.events.reunite(sender_b).unwrap();
        for conn in [&mut a, &mut b] {
            let response = conn
                .run_tool_loop(ask("Hi"), |_| async { String::new() })
                .await
                .unwrap();
            assert_eq!(response.all_output_text(), "Hello there!");
        }
    });
    server.shutdown();
}

#[test]
fn a_live_clone_of_the_sender_keeps_the_halves_apart_until_it_is_dropped() {
    let server = server();
    smol::block_on(async {
        let (sender, events) = connect(&server).await.split();
        let clone = sender.clone();
        let refused = sender.reunite(events).unwrap_err();
        assert_eq!(refused.reason, ReuniteRefusal::SenderStillShared);
        // The halves handed back still work as halves.
        refused.sender.create(ask("Hi")).await.unwrap();
        drop(clone);
        let mut conn = refused.sender.reunite(refused.events).unwrap();
        let mut text = None;
        while text.is_none() {
            text = completed(&conn.next_event().await.unwrap().expect("the response"));
        }
        assert_eq!(text.as_deref(), Some("Hello there!"));
    });
    server.shutdown();
}
