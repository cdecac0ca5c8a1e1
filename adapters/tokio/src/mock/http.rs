//! One TCP connection of the mock server while it speaks HTTP: bytes and time between the
//! socket and the core's [`HttpConnection`], requests to the connection's [`HttpMock`], and
//! the socket to the WebSocket driver when the connection upgrades. No HTTP is parsed or
//! written here.

use std::collections::VecDeque;
use std::io;
use std::pin::pin;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use responses_ws_core::mock::{HttpConnection, HttpEvent, HttpMock, HttpReply};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::{sleep_until, Instant as TokioInstant};

use super::log::Entry;
use super::shared::{install_http_store, Shared, StoreLink, TrafficMeter};
use super::websocket::WsDriver;
use super::write::write_chunks;

/// Free space offered to each read.
const READ_CHUNK: usize = 16 << 10;

/// What woke a waiting HTTP connection.
#[derive(Debug)]
enum Wake {
    Read(io::Result<usize>),
    Timer,
}

/// Drives one connection's [`HttpConnection`] until it ends or upgrades.
#[derive(Debug)]
pub(super) struct HttpDriver {
    stream: TcpStream,
    http: HttpConnection,
    shared: Arc<Shared>,
    /// Its record in the connection log.
    entry: Entry,
    /// The responder of this connection, made at its first `POST`.
    responder: Option<HttpMachine>,
    /// One read's bytes, handed to the connection at once.
    buf: BytesMut,
    outgoing: VecDeque<Bytes>,
}

impl HttpDriver {
    pub(super) fn new(stream: TcpStream, shared: Arc<Shared>, entry: Entry) -> Self {
        HttpDriver {
            stream,
            http: HttpConnection::new().refusing_key(shared.script.faults.revoked_api_key.clone()),
            shared,
            entry,
            responder: None,
            buf: BytesMut::with_capacity(READ_CHUNK),
            outgoing: VecDeque::new(),
        }
    }

    /// Serves requests until the connection ends (its socket then closed) or becomes a
    /// WebSocket.
    pub(super) async fn serve(mut self) -> io::Result<()> {
        let mut timer = pin!(sleep_until(TokioInstant::now()));
        loop {
            while let Some(event) = self.http.poll_event() {
                match event {
                    HttpEvent::Create { body } => {
                        self.shared.received(&body);
                        let arrived = self.shared.now();
                        let reply = self.respond(&body);
                        self.http.answer(reply, arrived);
                    }
                    HttpEvent::Upgrade { received } => {
                        self.flush().await?;
                        return WsDriver::new(self.stream, self.shared, self.entry)
                            .run(&received)
                            .await;
                    }
                    _ => {}
                }
            }
            self.flush().await?;
            if self.http.is_finished() {
                return self.stream.shutdown().await;
            }
            let deadline = self.http.poll_timeout();
            if let Some(at) = deadline {
                timer.as_mut().reset(self.shared.deadline(at));
            }
            self.buf.clear();
            let woke = tokio::select! {
                read = self.stream.read_buf(&mut self.buf), if self.http.is_reading() => {
                    Wake::Read(read)
                }
                () = &mut timer, if deadline.is_some() => Wake::Timer,
                // The connection neither reads nor waits only once it is finished.
                else => return self.stream.shutdown().await,
            };
            match woke {
                Wake::Read(Ok(0)) => self.http.handle_eof(),
                Wake::Read(Ok(_)) => self.http.handle_input(&self.buf),
                Wake::Read(Err(error)) => return Err(error),
                Wake::Timer => self.http.handle_timeout(self.shared.now()),
            }
        }
    }

    /// Writes everything the connection queued.
    async fn flush(&mut self) -> io::Result<()> {
        self.outgoing
            .extend(std::iter::from_fn(|| self.http.poll_transmit()));
        write_chunks(&mut self.stream, &mut self.outgoing).await
    }

    /// The connection's responder's answer to `body`.
    fn respond(&mut self, body: &str) -> HttpReply {
        let shared = Arc::clone(&self.shared);
        let machine = self
            .responder
            .get_or_insert_with(|| HttpMachine::new(&shared));
        machine.respond(&shared, body)
    }
}

/// The [`HttpMock`] of one TCP connection, with its links to the server's store and counters.
#[derive(Debug)]
struct HttpMachine {
    mock: HttpMock,
    link: StoreLink,
    meter: TrafficMeter,
}

impl HttpMachine {
    fn new(shared: &Shared) -> Self {
        HttpMachine {
            mock: HttpMock::new(shared.script.clone(), shared.next_index()),
            link: StoreLink::new(shared),
            meter: TrafficMeter::default(),
        }
    }

    /// Answers one request with the server's latest store, and shares what it stored.
    fn respond(&mut self, shared: &Shared, body: &str) -> HttpReply {
        if let Some(store) = self.link.pull(shared, self.mock.store()) {
            install_http_store(&mut self.mock, store);
        }
        let reply = self.mock.respond(body, shared.now());
        if let Some(store) = self.link.push(shared, self.mock.store(), false) {
            install_http_store(&mut self.mock, store);
        }
        self.meter.publish(self.mock.traffic(), &shared.traffic);
        reply
    }
}
