//! One WebSocket connection of the mock server: the server-role [`ws::Connection`] with a
//! [`MockConnection`] behind it, driven over a TCP stream — bytes and time only; the script
//! and the two machines decide everything.

use std::collections::VecDeque;
use std::future::pending;
use std::io;
use std::pin::{pin, Pin};
use std::sync::Arc;

use bytes::Bytes;
use responses_ws_core::mock::{Action, MockConnection, Occupancy, Upgrade};
use responses_ws_core::ws;
use responses_ws_core::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant as TokioInstant, Sleep};

use super::log::Entry;
use super::shared::{install_store, Shared, StoreLink, TrafficMeter};
use super::write::write_chunks;
/// The WebSocket settings of the server side: the defaults, without keepalive pings.
fn server_config() -> ws::Config {
    let mut config = ws::Config::default();
    config.keepalive_interval = None;
    config
}

/// What woke a waiting WebSocket connection.
#[derive(Debug)]
enum Wake {
    Read(io::Result<usize>),
    Timer,
}

/// One WebSocket connection: the server-role [`ws::Connection`] with a [`MockConnection`]
/// behind it, over a TCP stream.
#[derive(Debug)]
pub(super) struct WsDriver {
    stream: TcpStream,
    ws: ws::Connection,
    mock: MockConnection,
    shared: Arc<Shared>,
    /// Its record in the connection log.
    entry: Entry,
    /// `error` events sent.
    errors_sent: u64,
    /// What the log has of it: (occupancy, errors sent).
    recorded: (Occupancy, u64),
    index: u32,
    link: StoreLink,
    meter: TrafficMeter,
    /// Bytes taken from the connection and not yet written.
    outgoing: VecDeque<Bytes>,
    /// The mock asked to drop the transport.
    dropping: bool,
    /// The socket reached end of file (or failed).
    eof: bool,
}

impl WsDriver {
    pub(super) fn new(stream: TcpStream, shared: Arc<Shared>, entry: Entry) -> Self {
        let now = shared.now();
        let index = shared.next_index();
        let mut link = StoreLink::new(&shared);
        let mut mock = MockConnection::new(shared.script.clone(), index, now);
        if let Some(store) = link.pull(&shared, mock.store()) {
            install_store(&mut mock, store);
        }
        WsDriver {
            stream,
            ws: ws::Connection::server(server_config(), [0; 32], now),
            mock,
            shared,
            entry,
            errors_sent: 0,
            recorded: Default::default(),
            index,
            link,
            meter: TrafficMeter::default(),
            outgoing: VecDeque::new(),
            dropping: false,
            eof: false,
        }
    }

    /// Serves the connection, starting with the bytes already read (the upgrade request), and
    /// closes the socket once it is over — after sharing what it stored, so that a client that
    /// reconnects finds it.
    pub(super) async fn run(mut self, received: &[u8]) -> io::Result<()> {
        self.ws.handle_input(received, self.shared.now());
        let served = self.drive().await;
        let _ = self.link.push(&self.shared, self.mock.store(), true);
        self.meter
            .publish(self.mock.traffic(), &self.shared.traffic);
        self.record();
        let closed = self.stream.shutdown().await;
        served.and(closed)
    }

    async fn drive(&mut self) -> io::Result<()> {
        let mut timer = pin!(sleep_until(TokioInstant::now()));
        loop {
            self.progress().await?;
            if self.dropping || self.ws.is_finished() {
                return Ok(());
            }
            self.wait(timer.as_mut()).await;
        }
    }

    /// Moves everything that can move (events to the mock, its frames and actions to the
    /// connection, bytes to the socket) until nothing does.
    async fn progress(&mut self) -> io::Result<()> {
        loop {
            let mut moved = self.take_events()?;
            moved |= self.take_frames().await?;
            moved |= self.take_action();
            moved |= self.flush().await?;
            if !moved || self.dropping {
                break;
            }
        }
        self.meter
            .publish(self.mock.traffic(), &self.shared.traffic);
        if let Some(store) = self.link.push(&self.shared, self.mock.store(), false) {
            install_store(&mut self.mock, store);
        }
        Ok(())
    }

    /// Whether to read: always during the handshake, then as long as the mock reads.
    fn reading(&self) -> bool {
        self.ws.state() == ws::State::Handshake || self.mock.is_reading()
    }

    fn take_events(&mut self) -> io::Result<bool> {
        let mut moved = false;
        while self.reading() {
            let Some(event) = self.ws.poll_event() else {
                break;
            };
            moved = true;
            self.on_event(event)?;
        }
        Ok(moved)
    }

    fn on_event(&mut self, event: ws::Event) -> io::Result<()> {
        let now = self.shared.now();
        match event {
            ws::Event::Request(request) => self.answer_upgrade(&request.headers)?,
            ws::Event::Message(ws::Message::Text(text)) => {
                if let Some(store) = self.link.pull(&self.shared, self.mock.store()) {
                    install_store(&mut self.mock, store);
                }
                self.shared.received(text.as_str());
                self.mock.handle_text(text.as_str(), now);
            }
            ws::Event::Message(ws::Message::Binary(data)) => self.mock.handle_binary(&data, now),
            _ => {}
        }
        Ok(())
    }

    /// Accepts, refuses or ignores the upgrade request (with these `headers`) as the script
    /// says.
    fn answer_upgrade(&mut self, headers: &[ws::Header]) -> io::Result<()> {
        let at = self.shared.now().elapsed();
        let answered = match self.shared.script.upgrade_request(self.index, headers) {
            Upgrade::Refuse(answer) => {
                let status = answer.status;
                self.shared
                    .log
                    .update(self.entry, |record| record.upgrade = Some((at, status)));
                self.ws
                    .reject(answer.status, &answer.headers, answer.body.as_bytes())
            }
            // Silent until the client leaves (or the handshake timeout ends it).
            Upgrade::Ignore => Ok(()),
            _ => {
                self.shared
                    .log
                    .update(self.entry, |record| record.upgrade = Some((at, 101)));
                self.mock.upgraded(headers);
                self.ws.accept(&[])
            }
        };
        answered.map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
    }

    async fn take_frames(&mut self) -> io::Result<bool> {
        let mut moved = false;
        while let Some(frame) = self.mock.poll_transmit() {
            moved = true;
            if frame.starts_with(r#"{"type":"error""#) {
                self.errors_sent += 1;
            }
            self.send_text(frame).await?;
        }
        if moved {
            self.record();
        }
        Ok(moved)
    }

    /// Brings the connection's record up to date (when it changed).
    fn record(&mut self) {
        let (occupancy, errors_sent) = (self.mock.occupancy(), self.errors_sent);
        if self.recorded == (occupancy, errors_sent) {
            return;
        }
        self.recorded = (occupancy, errors_sent);
        self.shared.log.update(self.entry, |record| {
            record.occupancy = occupancy;
            record.errors_sent = errors_sent;
        });
    }

    /// Queues one mock frame as a text message, writing the queue out first if it is full. A
    /// frame the connection no longer takes (it is closing) is dropped.
    async fn send_text(&mut self, frame: String) -> io::Result<()> {
        let text = ws::Utf8Bytes::from(frame);
        if let Err(ws::SendError::QueueFull { .. }) = self.ws.send_text(text.clone()) {
            self.flush().await?;
            // An empty queue takes any message.
            let _ = self.ws.send_text(text);
        }
        Ok(())
    }

    /// Carries out the mock's action, if any. A close code the WebSocket layer cannot send
    /// ends the transport instead.
    fn take_action(&mut self) -> bool {
        match self.mock.poll_action() {
            None => false,
            Some(Action::Close { code, reason }) => {
                let closed = self.ws.close(code, &reason, self.shared.now());
                if let Err(ws::SendError::InvalidCloseCode(_)) = closed {
                    self.dropping = true;
                }
                true
            }
            Some(Action::Drop) => {
                self.dropping = true;
                true
            }
            Some(Action::SendRaw(bytes)) => {
                // After what the connection queued, outside its framing.
                while let Some(queued) = self.ws.poll_transmit() {
                    self.outgoing.push_back(queued);
                }
                self.outgoing.push_back(Bytes::from(bytes));
                true
            }
            Some(_) => true,
        }
    }

    /// Writes everything the connection queued; false if there was nothing.
    async fn flush(&mut self) -> io::Result<bool> {
        while let Some(bytes) = self.ws.poll_transmit() {
            if !bytes.is_empty() {
                self.outgoing.push_back(bytes);
            }
        }
        if self.outgoing.is_empty() {
            return Ok(false);
        }
        write_chunks(&mut self.stream, &mut self.outgoing).await?;
        Ok(true)
    }

    /// Waits for bytes from the client or the next deadline, and hands either to the machines.
    async fn wait(&mut self, mut timer: Pin<&mut Sleep>) {
        let deadline = earliest(self.ws.poll_timeout(), self.mock.poll_timeout());
        if let Some(at) = deadline {
            timer.as_mut().reset(self.shared.deadline(at));
        }
        let reading = self.reading() && !self.eof;
        let woke = tokio::select! {
            read = self.stream.read(self.ws.input_buffer()), if reading => Wake::Read(read),
            () = &mut timer, if deadline.is_some() => Wake::Timer,
            // Not reading and no deadline: the connection waits for the server to stop.
            else => pending().await,
        };
        let now = self.shared.now();
        match woke {
            Wake::Read(Ok(0) | Err(_)) => {
                self.eof = true;
                self.ws.handle_eof(now);
            }
            Wake::Read(Ok(n)) => self.ws.commit_input(n, now),
            Wake::Timer => {
                self.ws.handle_timeout(now);
                self.mock.handle_timeout(now);
            }
        }
    }
}

/// The earlier of two optional deadlines.
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
