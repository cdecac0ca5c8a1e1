//! [`MockPeer`]: the scripted server of one WebSocket connection wired straight to a
//! [`Client`] in memory — the server-role [`ws::Connection`] and a [`MockConnection`] behind
//! it — for examples and tests that want a whole exchange without sockets or threads.

use alloc::vec::Vec;

use super::connection::{Action, MockConnection};
use super::handshake::Upgrade;
use super::script::Script;
use crate::client::{Client, ClientEvent};
use crate::time::Instant;
use crate::ws::{self, Connection};

/// The server end of one in-memory connection to a [`Client`].
///
/// Call [`Client::connect`] first, then [`exchange`](Self::exchange) after every call that
/// queues something; a paced script (`Script::with_delta_delay`) also needs the clock moved to
/// [`poll_timeout`](Self::poll_timeout). A new connection of the client needs a new peer (the
/// next `connection_index`).
///
/// ```
/// use responses_ws_core::client::{Client, ClientConfig, ClientEvent};
/// use responses_ws_core::mock::{MockPeer, Script};
/// use responses_ws_core::session::SessionEvent;
/// use responses_ws_core::wire::ResponseCreate;
/// use responses_ws_core::ws::WsUrl;
/// use responses_ws_core::Instant;
///
/// let mut client = Client::new(ClientConfig::new(WsUrl::parse("ws://127.0.0.1/v1/responses")?));
/// let mut server = MockPeer::new(Script::new().text("Hello there!", 3), 0, Instant::ZERO);
/// client.connect([1; 32], Instant::ZERO)?;
/// client.create(ResponseCreate::new("gpt-5.5").input("Hi"))?;
///
/// let events = server.exchange(&mut client, Instant::ZERO);
/// assert!(matches!(events[0], ClientEvent::Connected { .. }));
/// let text = events.iter().find_map(|event| match event {
///     ClientEvent::Session(SessionEvent::Completed { response, .. }) => Some(response.all_output_text()),
///     _ => None,
/// });
/// assert_eq!(text.as_deref(), Some("Hello there!"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MockPeer {
    script: Script,
    ws: Connection,
    mock: MockConnection,
    /// False once the mock dropped the transport: nothing crosses any more.
    link_up: bool,
}

impl MockPeer {
    /// The server side of the client's connection number `connection_index` (0 for the first),
    /// opened at `now`.
    pub fn new(script: Script, connection_index: u32, now: Instant) -> MockPeer {
        let mock = MockConnection::new(script.clone(), connection_index, now);
        let seed = [connection_index as u8; 32];
        MockPeer {
            script,
            ws: Connection::server(ws::Config::default(), seed, now),
            mock,
            link_up: true,
        }
    }

    /// The mock behind the WebSocket (its traffic, occupancy and stored responses).
    pub fn mock(&self) -> &MockConnection {
        &self.mock
    }

    /// Moves bytes both ways at `now` until nothing moves, and returns what the client
    /// reported meanwhile, in order.
    pub fn exchange(&mut self, client: &mut Client, now: Instant) -> Vec<ClientEvent> {
        let mut events = Vec::new();
        loop {
            let mut moved = false;
            while let Some(event) = client.poll_event() {
                moved = true;
                events.push(event);
            }
            moved |= self.move_bytes(client, now);
            if !moved {
                return events;
            }
        }
    }

    /// The next moment the server side has something to do (the next paced event, a
    /// keepalive); pass it to [`handle_timeout`](Self::handle_timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        [self.ws.poll_timeout(), self.mock.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// Time has reached `now` on the server side; follow with [`exchange`](Self::exchange).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.ws.handle_timeout(now);
        self.mock.handle_timeout(now);
    }

    /// One round: the client's bytes in, the mock's frames and action out, the server's bytes
    /// to the client. True when anything moved.
    fn move_bytes(&mut self, client: &mut Client, now: Instant) -> bool {
        let mut moved = false;
        while let Some(bytes) = client.poll_transmit() {
            moved = true;
            if self.link_up {
                self.ws.handle_input(&bytes, now);
            }
        }
        while self.mock.is_reading() {
            let Some(event) = self.ws.poll_event() else {
                break;
            };
            moved = true;
            match event {
                ws::Event::Request(request) => self.answer_upgrade(&request.headers),
                ws::Event::Message(ws::Message::Text(text)) => {
                    self.mock.handle_text(text.as_str(), now)
                }
                ws::Event::Message(ws::Message::Binary(data)) => {
                    self.mock.handle_binary(&data, now)
                }
                _ => {}
            }
        }
        while let Some(frame) = self.mock.poll_transmit() {
            moved = true;
            // The connection may be closing: the frame is then not sent, as on a socket.
            let _ = self.ws.send_text(frame);
        }
        let mut raw = None;
        match self.mock.poll_action() {
            Some(Action::Close { code, reason }) => {
                moved = true;
                let _ = self.ws.close(code, &reason, now);
            }
            Some(Action::Drop) => {
                moved = true;
                self.flush(client, now);
                self.link_up = false;
                client.handle_eof(now);
            }
            Some(Action::SendRaw(bytes)) => raw = Some(bytes),
            _ => {}
        }
        moved |= self.flush(client, now);
        if let Some(bytes) = raw.filter(|_| self.link_up) {
            moved = true;
            client.handle_input(&bytes, now);
        }
        if self.link_up && self.ws.is_finished() && client.is_finished() {
            self.link_up = false;
        }
        moved
    }

    /// The server's pending bytes to the client; true when there were any.
    fn flush(&mut self, client: &mut Client, now: Instant) -> bool {
        let mut moved = false;
        while let Some(bytes) = self.ws.poll_transmit() {
            if self.link_up {
                moved = true;
                client.handle_input(&bytes, now);
            }
        }
        moved
    }

    /// Accepts or refuses the upgrade request (with these `headers`) as the script says;
    /// an ignored one gets no answer.
    fn answer_upgrade(&mut self, headers: &[ws::Header]) {
        // The request was just read: answering it cannot fail.
        let _ = match (self.script).upgrade_request(self.mock.connection_index(), headers) {
            Upgrade::Accept => {
                self.mock.upgraded(headers);
                self.ws.accept(&[])
            }
            Upgrade::Refuse(answer) => {
                self.ws
                    .reject(answer.status, &answer.headers, answer.body.as_bytes())
            }
            _ => Ok(()),
        };
    }
}
