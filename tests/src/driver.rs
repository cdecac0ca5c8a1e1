//! A minimal blocking driver of the core's WebSocket [`Connection`] over `std::net::TcpStream`,
//! for conformance and interop tests (the product's blocking adapter lives in `adapters/`).
//!
//! It does what every driver does: read into the core's buffer, drain events and output, honour
//! the core's deadlines, and close the socket when the core says the connection is finished.

use responses_ws_core::ws::{
    CloseCode, Config, Connection, Event, Message, MessageKind, SendError, WsUrl,
};
use responses_ws_core::Instant;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant as StdInstant};

/// A WebSocket over a blocking TCP stream.
#[derive(Debug)]
pub struct WsStream {
    conn: Connection,
    tcp: TcpStream,
    origin: StdInstant,
    eof: bool,
}

/// 32 bytes of OS randomness for the core's seed.
pub fn os_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).expect("OS randomness");
    seed
}

impl WsStream {
    /// Connects to `url` (plain `ws://` only) and completes the handshake.
    pub fn connect(
        url: &str,
        headers: &[(String, String)],
        config: Config,
    ) -> io::Result<WsStream> {
        let url = WsUrl::parse(url).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let tcp = TcpStream::connect((url.host(), url.port()))?;
        let origin = StdInstant::now();
        let conn = Connection::client(&url, headers, config, os_seed(), Instant::ZERO)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let mut ws = WsStream::new(conn, tcp, origin)?;
        match ws.next_event()? {
            Some(Event::Open { .. }) => Ok(ws),
            other => Err(io::Error::other(format!("handshake failed: {other:?}"))),
        }
    }

    /// Serves the handshake on an accepted TCP stream, accepting any valid request.
    pub fn accept(tcp: TcpStream, config: Config) -> io::Result<WsStream> {
        let conn = Connection::server(config, os_seed(), Instant::ZERO);
        let mut ws = WsStream::new(conn, tcp, StdInstant::now())?;
        match ws.next_event()? {
            Some(Event::Request(_)) => {
                ws.conn.accept(&[]).map_err(io::Error::other)?;
                ws.flush()?;
            }
            other => return Err(io::Error::other(format!("no upgrade request: {other:?}"))),
        }
        match ws.next_event()? {
            Some(Event::Open { .. }) => Ok(ws),
            other => Err(io::Error::other(format!("handshake failed: {other:?}"))),
        }
    }

    fn new(conn: Connection, tcp: TcpStream, origin: StdInstant) -> io::Result<WsStream> {
        tcp.set_nodelay(true)?;
        let mut ws = WsStream {
            conn,
            tcp,
            origin,
            eof: false,
        };
        ws.flush()?;
        Ok(ws)
    }

    /// The core's view of "now".
    pub fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// The connection machine, for calls this driver does not wrap.
    pub fn connection(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// Writes everything the core has queued.
    pub fn flush(&mut self) -> io::Result<()> {
        while let Some(chunk) = self.conn.poll_transmit() {
            self.tcp.write_all(&chunk)?;
        }
        if self.conn.is_finished() {
            // Best effort: the peer may already be gone.
            let _ = self.tcp.shutdown(Shutdown::Both);
        }
        Ok(())
    }

    /// Sends a message (retrying after a flush when the outbound queue is full).
    pub fn send(&mut self, message: Message) -> io::Result<()> {
        match self.conn.send(message.clone()) {
            Err(SendError::QueueFull { .. }) => {
                self.flush()?;
                self.conn.send(message).map_err(io::Error::other)?;
            }
            other => other.map_err(io::Error::other)?,
        }
        self.flush()
    }

    /// Sends `parts` as one fragmented message.
    pub fn send_fragmented(&mut self, kind: MessageKind, parts: &[&[u8]]) -> io::Result<()> {
        for (i, part) in parts.iter().enumerate() {
            let fin = i + 1 == parts.len();
            self.conn
                .send_fragment(kind, bytes::Bytes::copy_from_slice(part), fin)
                .map_err(io::Error::other)?;
            self.flush()?;
        }
        Ok(())
    }

    /// Sends a ping.
    pub fn ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.conn
            .send_ping(bytes::Bytes::copy_from_slice(payload))
            .map_err(io::Error::other)?;
        self.flush()
    }

    /// Starts the close handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        let now = self.now();
        self.conn
            .close(code, reason, now)
            .map_err(io::Error::other)?;
        self.flush()
    }

    /// Writes raw bytes straight to the socket, bypassing the core (to play a misbehaving peer).
    pub fn write_raw(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.tcp.write_all(bytes)
    }

    /// The next event, reading the socket as needed; `None` once the connection is over and
    /// every event was taken.
    pub fn next_event(&mut self) -> io::Result<Option<Event>> {
        loop {
            // One event at a time: the caller's reply to it is queued before the core reads on.
            let event = self.conn.poll_event();
            self.flush()?;
            if let Some(event) = event {
                return Ok(Some(event));
            }
            if self.eof || self.conn.is_finished() {
                return Ok(None);
            }
            self.read_once()?;
        }
    }

    fn read_once(&mut self) -> io::Result<()> {
        let timeout = self
            .conn
            .poll_timeout()
            .map(|deadline| deadline - self.now());
        if timeout == Some(Duration::ZERO) {
            let now = self.now();
            self.conn.handle_timeout(now);
            return Ok(());
        }
        self.tcp.set_read_timeout(timeout)?;
        let result = self.tcp.read(self.conn.input_buffer());
        let now = self.now();
        match result {
            Ok(0) => {
                self.eof = true;
                self.conn.handle_eof(now);
            }
            Ok(n) => self.conn.commit_input(n, now),
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                self.conn.handle_timeout(now)
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => {
                self.eof = true;
                self.conn.handle_eof(now);
            }
        }
        Ok(())
    }
}
