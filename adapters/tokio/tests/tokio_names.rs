//! What a tokio user writes: the crate's own names inside `#[tokio::test]`, the runtime taken
//! from the context (no `Config::runtime`). Every scenario runs on tokio in
//! `responses-ws-futures`' suite; this shows only that the names and the default hold.

use responses_ws_tokio::mock::{MockServer, Script};
use responses_ws_tokio::{ClientEvent, Config, Connection, ResponseCreate, SessionEvent};

#[tokio::test]
async fn a_turn_on_the_runtime_the_connection_is_made_in() {
    let server = MockServer::start(Script::new().text("Hello from tokio.", 3))
        .await
        .unwrap();
    let mut conn = Connection::connect(Config::new(&server.url()).unwrap())
        .await
        .unwrap();
    conn.create(ResponseCreate::new("gpt-5.5").input("Hi"))
        .await
        .unwrap();
    let response = loop {
        let event = conn.next_event().await.unwrap().expect("an event");
        if let ClientEvent::Session(SessionEvent::Completed { response, .. }) = event {
            break response;
        }
    };
    assert_eq!(response.all_output_text(), "Hello from tokio.");
    conn.close().await.unwrap();
    server.shutdown().await;
}
