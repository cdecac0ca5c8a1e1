//! The client with a journaled lane over an in-memory WebSocket connection: the request's
//! bytes are not handed to the socket until its write-ahead records were taken.

use responses_ws_core::client::{Client, ClientConfig};
use responses_ws_core::persist::{replay, Entry};
use responses_ws_core::session::Lane;
use responses_ws_core::wire::ResponseCreate;
use responses_ws_core::ws::{self, Connection, WsUrl};
use responses_ws_core::Instant;

const NOW: Instant = Instant::ZERO;

/// Moves bytes both ways until neither side has any; returns the text frames the server got.
fn exchange(client: &mut Client, server: &mut Connection) -> Vec<String> {
    let mut frames = Vec::new();
    loop {
        let mut moved = false;
        while client.poll_event().is_some() {
            moved = true;
        }
        while let Some(bytes) = client.poll_transmit() {
            moved = true;
            server.handle_input(&bytes, NOW);
        }
        while let Some(event) = server.poll_event() {
            moved = true;
            match event {
                ws::Event::Request(_) => server.accept(&[]).unwrap(),
                ws::Event::Message(ws::Message::Text(text)) => frames.push(text.to_string()),
                _ => {}
            }
        }
        while let Some(bytes) = server.poll_transmit() {
            moved = true;
            client.handle_input(&bytes, NOW);
        }
        if !moved {
            return frames;
        }
    }
}

#[test]
fn a_request_waits_on_the_wire_until_its_records_are_taken() {
    let url = WsUrl::parse("ws://127.0.0.1:1/v1/responses").unwrap();
    let mut client = Client::new(ClientConfig::new(url));
    let mut server = Connection::server(ws::Config::default(), [0; 32], NOW);
    client.connect([1; 32], NOW).unwrap();
    client.journal(&Lane::Default, "conv-7").unwrap();
    client
        .create(ResponseCreate::new("m").input("Pay the bill."))
        .unwrap();
    assert!(
        exchange(&mut client, &mut server).is_empty(),
        "held for its records"
    );

    let records: Vec<_> = std::iter::from_fn(|| client.poll_record()).collect();
    let kinds: Vec<_> = records
        .iter()
        .map(|record| std::mem::discriminant(&record.entry))
        .collect();
    let input = Entry::InputAppended { items: vec![] };
    assert_eq!(kinds.last(), Some(&std::mem::discriminant(&input)));
    assert_eq!(replay(&records).unwrap().ledger.items().len(), 1);

    let frames = exchange(&mut client, &mut server);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].contains("Pay the bill."));
}
