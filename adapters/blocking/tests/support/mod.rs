//! A scripted Responses server for the loopback tests: the core's WebSocket server role over
//! any blocking stream (TCP, or rustls for the TLS test), answering client frames with JSON
//! events written by each test, plus JSON builders and an event summary for exact asserts.

#![allow(dead_code, unreachable_pub)]

use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant as StdInstant};

use responses_ws_blocking::responses_ws_core::ws::{
    self, Closed, Connection as WsConnection, Event, Message, RequestHead,
};
use responses_ws_blocking::responses_ws_core::Instant;
use responses_ws_blocking::{ClientEvent, SessionEvent};
use serde_json::Value;

/// How long a server waits for the client before the test fails.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A listener on a free loopback port and its `ws://` URL.
pub fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "ws://127.0.0.1:{}/v1/responses",
        listener.local_addr().unwrap().port()
    );
    (listener, url)
}

/// Accepts one TCP connection, with the test's patience as read timeout.
pub fn accept_tcp(listener: &TcpListener) -> TcpStream {
    let (tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(PATIENCE)).unwrap();
    tcp.set_nodelay(true).unwrap();
    tcp
}

/// One server-side WebSocket connection over a blocking stream.
pub struct Peer<S> {
    conn: WsConnection,
    io: S,
    origin: StdInstant,
    eof: bool,
}

impl<S: Read + Write> Peer<S> {
    /// A server connection waiting for the upgrade request.
    pub fn new(io: S) -> Self {
        Peer {
            conn: WsConnection::server(ws::Config::default(), [9; 32], Instant::ZERO),
            io,
            origin: StdInstant::now(),
            eof: false,
        }
    }

    /// Reads the upgrade request and accepts it.
    pub fn accept(io: S) -> (Self, RequestHead) {
        let mut peer = Peer::new(io);
        let request = peer.request();
        peer.conn.accept(&[]).unwrap();
        peer.flush();
        match peer.next_event() {
            Some(Event::Open { .. }) => {}
            other => panic!("server: expected the open event, got {other:?}"),
        }
        (peer, request)
    }

    /// Reads until the upgrade request arrives.
    pub fn request(&mut self) -> RequestHead {
        match self.next_event() {
            Some(Event::Request(request)) => request,
            other => panic!("server: expected an upgrade request, got {other:?}"),
        }
    }

    /// Refuses the upgrade request with an HTTP answer.
    pub fn reject(&mut self, status: u16, headers: &[(&str, &str)], body: &str) {
        let headers: Vec<(String, String)> =
            headers.iter().map(|&(n, v)| (n.into(), v.into())).collect();
        self.conn.reject(status, &headers, body.as_bytes()).unwrap();
        self.flush();
    }

    /// The next text message, as JSON.
    pub fn recv(&mut self) -> Value {
        loop {
            match self.next_event() {
                Some(Event::Message(Message::Text(text))) => {
                    return serde_json::from_str(text.as_str()).unwrap()
                }
                Some(Event::Ping(_) | Event::Pong(_)) => {}
                other => panic!("server: expected a text message, got {other:?}"),
            }
        }
    }

    /// Sends one text message.
    pub fn send(&mut self, text: &str) {
        self.conn.send_text(text.to_owned()).unwrap();
        self.flush();
    }

    /// Queues a text message without writing it (see [`poll_transmit`](Self::poll_transmit)).
    pub fn queue(&mut self, text: &str) {
        self.conn.send_text(text.to_owned()).unwrap();
    }

    /// Bytes the connection wants written, for tests that write them themselves.
    pub fn poll_transmit(&mut self) -> Option<bytes::Bytes> {
        self.conn.poll_transmit()
    }

    /// Sends text messages in order.
    pub fn send_all(&mut self, texts: &[String]) {
        for text in texts {
            self.send(text);
        }
    }

    /// Reads until the connection is closed; returns how.
    pub fn expect_closed(&mut self) -> Closed {
        loop {
            match self.next_event() {
                Some(Event::Closed(closed)) => {
                    self.flush();
                    return closed;
                }
                Some(Event::Message(message)) => {
                    panic!("server: expected the close, got {message:?}")
                }
                Some(_) => {}
                None => panic!("server: the stream ended without a close event"),
            }
        }
    }

    /// The stream under the connection (to drop it, or write raw bytes).
    pub fn io(&mut self) -> &mut S {
        &mut self.io
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    fn flush(&mut self) {
        while let Some(chunk) = self.conn.poll_transmit() {
            if self
                .io
                .write_all(&chunk)
                .and_then(|()| self.io.flush())
                .is_err()
            {
                return;
            }
        }
    }

    fn next_event(&mut self) -> Option<Event> {
        loop {
            let event = self.conn.poll_event();
            self.flush();
            if event.is_some() {
                return event;
            }
            if self.eof {
                return None;
            }
            let result = self.io.read(self.conn.input_buffer());
            let now = self.now();
            match result {
                Ok(0) => {
                    self.eof = true;
                    self.conn.handle_eof(now);
                }
                Ok(n) => self.conn.commit_input(n, now),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    panic!("server: the client went silent for {PATIENCE:?}")
                }
                Err(_) => {
                    self.eof = true;
                    self.conn.handle_eof(now);
                }
            }
        }
    }
}

// --- JSON events --------------------------------------------------------------------------

/// A response object.
pub fn response(id: &str, status: &str, output: &str) -> String {
    format!(
        r#"{{"id":"{id}","object":"response","created_at":1,"status":"{status}","model":"m","output":{output}}}"#
    )
}

/// `response.created`.
pub fn created(id: &str) -> String {
    format!(
        r#"{{"type":"response.created","response":{}}}"#,
        response(id, "in_progress", "[]")
    )
}

/// `response.completed` with output items (a JSON array).
pub fn completed(id: &str, output: &str) -> String {
    format!(
        r#"{{"type":"response.completed","response":{}}}"#,
        response(id, "completed", output)
    )
}

/// An assistant message item.
pub fn message(id: &str, text: &str) -> String {
    format!(
        r#"{{"id":"{id}","type":"message","status":"completed","role":"assistant","content":[{{"type":"output_text","text":"{text}","annotations":[]}}]}}"#
    )
}

/// A function call item; `arguments` is JSON text (escaped here).
pub fn function_call(call_id: &str, name: &str, arguments: &str) -> String {
    let arguments = serde_json::to_string(arguments).unwrap();
    format!(
        r#"{{"id":"fc_{call_id}","type":"function_call","status":"completed","call_id":"{call_id}","name":"{name}","arguments":{arguments}}}"#
    )
}

/// `response.output_text.delta`.
pub fn delta(item_id: &str, text: &str) -> String {
    format!(
        r#"{{"type":"response.output_text.delta","item_id":"{item_id}","output_index":0,"content_index":0,"delta":"{text}"}}"#
    )
}

/// The same event on lane `stream_id`.
pub fn on_lane(event: &str, stream_id: &str) -> String {
    format!(r#"{{"stream_id":"{stream_id}",{}"#, &event[1..])
}

// --- Client-side summaries ------------------------------------------------------------------

/// A one-line summary of a client event, for exact comparisons.
pub fn summary(event: &ClientEvent) -> String {
    match event {
        ClientEvent::Connected { .. } => "connected".into(),
        ClientEvent::Disconnected { closed } => format!("disconnected {}", closed.code.0),
        ClientEvent::Reconnecting { attempt, .. } => format!("reconnecting {attempt}"),
        ClientEvent::GaveUp(gave_up) => format!("gave up {}", gave_up.attempts),
        ClientEvent::UnexpectedBinary { len } => format!("binary {len}"),
        ClientEvent::Session(event) => session_summary(event),
        other => format!("{other:?}"),
    }
}

fn lane_name(lane: &responses_ws_blocking::Lane) -> &str {
    lane.stream_id().unwrap_or("-")
}

fn session_summary(event: &SessionEvent) -> String {
    match event {
        SessionEvent::FullContext {
            lane,
            request,
            reason,
        } => format!("full {} #{} {reason:?}", lane_name(lane), request.0),
        SessionEvent::Started {
            lane,
            request,
            response_id,
        } => format!("started {} #{} {response_id}", lane_name(lane), request.0),
        SessionEvent::Stream {
            lane,
            request,
            event,
        } => format!(
            "stream {} #{} {}",
            lane_name(lane),
            request.0,
            event.decoded().event_type()
        ),
        SessionEvent::Completed {
            lane,
            request,
            response,
            ..
        } => format!(
            "completed {} #{} {} {:?}",
            lane_name(lane),
            request.0,
            response.id,
            response.all_output_text()
        ),
        SessionEvent::ToolCalls { lane, calls, .. } => {
            let calls: Vec<&str> = calls.iter().map(|c| c.call_id.as_str()).collect();
            format!("tools {} {}", lane_name(lane), calls.join(","))
        }
        SessionEvent::Failed {
            lane,
            request,
            error,
        } => format!("failed {} #{} {error}", lane_name(lane), request.0),
        other => format!("{other:?}"),
    }
}
