//! Test support: a scripted Responses server on loopback TCP, built on the core's WebSocket
//! server role and driven by blocking std IO in its own thread (so it is the same peer under
//! every client runtime), JSON builders for the server's events, and the runtime switch the
//! suite is instantiated with.

#![allow(dead_code, unreachable_pub)]

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant as StdInstant};

use responses_ws_core::ws::{
    self, Closed, Connection as WsConnection, Event, Message, RequestHead,
};
use responses_ws_core::Instant;
use responses_ws_futures::runtime::{self, AsyncIo, Runtime};
use responses_ws_futures::{responses_ws_core, Config};
use serde_json::{json, Value};

/// How long a server waits for anything before failing the test (so no thread outlives it).
pub const PATIENCE: Duration = Duration::from_secs(20);

/// The client runtime a test body runs under.
#[derive(Debug, Clone, Copy)]
pub enum Rt {
    AsyncStd,
    Smol,
    Tokio,
}

impl Rt {
    /// A config on this runtime without retries (tests that retry set their own budget).
    pub fn config(self, url: &str) -> Config {
        let config = Config::new(url)
            .unwrap()
            .retry(responses_ws_futures::RetryPolicy::never());
        match self {
            Rt::AsyncStd => config.runtime(runtime::AsyncStd),
            Rt::Smol => config.runtime(runtime::Smol),
            Rt::Tokio => config.runtime(runtime::Tokio),
        }
    }

    fn runtime(self) -> Box<dyn Runtime> {
        match self {
            Rt::AsyncStd => Box::new(runtime::AsyncStd),
            Rt::Smol => Box::new(runtime::Smol),
            Rt::Tokio => Box::new(runtime::Tokio),
        }
    }

    /// Runs `future` as a task of its own on this runtime.
    pub fn spawn<T: Send + 'static>(
        self,
        future: impl std::future::Future<Output = T> + Send + 'static,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>> {
        match self {
            Rt::AsyncStd => Box::pin(async_std::task::spawn(future)),
            Rt::Smol => Box::pin(smol::spawn(future)),
            Rt::Tokio => {
                let task = tokio::spawn(future);
                Box::pin(async move { task.await.unwrap() })
            }
        }
    }

    /// Sleeps on this runtime's timer.
    pub async fn sleep(self, duration: Duration) {
        let deadline = StdInstant::now() + duration;
        self.runtime().sleep_until(deadline).await
    }

    /// A TCP stream to the test server on 127.0.0.1 at `port`, opened by this runtime.
    pub async fn tcp(self, port: u16) -> Box<dyn AsyncIo> {
        self.runtime()
            .connect("127.0.0.1".into(), port)
            .await
            .unwrap()
    }
}

/// A scripted server: a listener on 127.0.0.1 and the thread that plays the script.
pub struct Server {
    pub port: u16,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds a port and runs `script` with the listener in a new thread.
    pub fn start(script: impl FnOnce(TcpListener) + Send + 'static) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let thread = thread::spawn(move || script(listener));
        Server {
            port,
            thread: Some(thread),
        }
    }

    /// `ws://127.0.0.1:<port>/v1/responses`.
    pub fn url(&self) -> String {
        format!("ws://127.0.0.1:{}/v1/responses", self.port)
    }

    /// Waits for the script to end; its panics fail the test.
    pub fn join(mut self) {
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                std::panic::resume_unwind(panic);
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A test that failed early still waits for its server (which gives up after PATIENCE).
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts one TCP connection, failing after [`PATIENCE`].
pub fn accept_tcp(listener: &TcpListener) -> TcpStream {
    listener.set_nonblocking(true).unwrap();
    let deadline = StdInstant::now() + PATIENCE;
    loop {
        match listener.accept() {
            Ok((tcp, _)) => {
                tcp.set_nonblocking(false).unwrap();
                // Each event goes out at once, as from a real server (no Nagle delay).
                tcp.set_nodelay(true).unwrap();
                tcp.set_read_timeout(Some(PATIENCE)).unwrap();
                tcp.set_write_timeout(Some(PATIENCE)).unwrap();
                return tcp;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock && StdInstant::now() < deadline => {
                thread::sleep(Duration::from_millis(2));
            }
            Err(e) => panic!("no client connected: {e}"),
        }
    }
}

/// Anything the server can talk over: TCP, or TLS over TCP.
pub trait Duplex: Read + Write + Send {}
impl<T: Read + Write + Send> Duplex for T {}

/// The server's end of one WebSocket connection.
pub struct Peer {
    conn: WsConnection,
    stream: Box<dyn Duplex>,
    tcp: TcpStream,
    origin: StdInstant,
    /// Bytes written to the stream so far.
    pub written: Arc<AtomicUsize>,
}

impl Peer {
    /// Accepts a TCP connection and reads its upgrade request (not yet answered).
    pub fn accept_request(listener: &TcpListener) -> (Peer, RequestHead) {
        let tcp = accept_tcp(listener);
        let stream = Box::new(tcp.try_clone().unwrap());
        Peer::over(stream, tcp)
    }

    /// Accepts a TCP connection and its upgrade.
    pub fn accept(listener: &TcpListener) -> (Peer, RequestHead) {
        let (mut peer, request) = Peer::accept_request(listener);
        peer.upgrade();
        (peer, request)
    }

    /// Reads the upgrade request over `stream` (whose TCP socket is `tcp`).
    pub fn over(stream: Box<dyn Duplex>, tcp: TcpStream) -> (Peer, RequestHead) {
        let mut config = ws::Config::default();
        config.keepalive_interval = None;
        let mut peer = Peer {
            conn: WsConnection::server(config, [9; 32], Instant::ZERO),
            stream,
            tcp,
            origin: StdInstant::now(),
            written: Arc::new(AtomicUsize::new(0)),
        };
        match peer.next_event() {
            Event::Request(request) => (peer, request),
            other => panic!("expected an upgrade request, got {other:?}"),
        }
    }

    /// Answers the pending upgrade with 101.
    pub fn upgrade(&mut self) {
        self.upgrade_with(&[]);
    }

    /// Answers the pending upgrade with 101 and extra `headers`.
    pub fn upgrade_with(&mut self, headers: &[(&str, &str)]) {
        let headers: Vec<(String, String)> =
            headers.iter().map(|&(n, v)| (n.into(), v.into())).collect();
        self.conn.accept(&headers).unwrap();
        self.flush();
        match self.next_event() {
            Event::Open { .. } => {}
            other => panic!("expected the connection to open, got {other:?}"),
        }
    }

    /// Refuses the pending upgrade and ends the connection.
    pub fn reject(mut self, status: u16, headers: &[(&str, &str)], body: &str) {
        let headers: Vec<(String, String)> =
            headers.iter().map(|&(n, v)| (n.into(), v.into())).collect();
        self.conn.reject(status, &headers, body.as_bytes()).unwrap();
        self.flush();
        let _ = self.tcp.shutdown(Shutdown::Both);
    }

    /// The next client text frame, as JSON.
    pub fn recv(&mut self) -> Value {
        loop {
            match self.next_event() {
                Event::Message(Message::Text(text)) => {
                    return serde_json::from_str(text.as_str()).unwrap();
                }
                Event::Ping(_) | Event::Pong(_) => {}
                other => panic!("expected a text frame, got {other:?}"),
            }
        }
    }

    /// Sends one event.
    pub fn send(&mut self, event: &Value) {
        self.conn.send_text(event.to_string()).unwrap();
        self.flush();
    }

    /// Sends one event; false once the client is gone (its socket closed or reset).
    pub fn try_send(&mut self, event: &Value) -> bool {
        self.conn.send_text(event.to_string()).unwrap();
        self.write_queued().is_ok()
    }

    /// Plays dead: whatever arrives is thrown away unread by the WebSocket (so no pong
    /// answers a ping) until the client goes away.
    pub fn play_dead(mut self) {
        let mut sink = [0; 4096];
        while matches!(self.tcp.read(&mut sink), Ok(n) if n > 0) {}
    }

    /// Sends events in order.
    pub fn send_all(&mut self, events: &[Value]) {
        for event in events {
            self.send(event);
        }
    }

    /// Drops the TCP connection without a close frame.
    pub fn drop_connection(self) {
        let _ = self.tcp.shutdown(Shutdown::Both);
    }

    /// Waits for the client's close and answers it; returns how the connection ended.
    pub fn expect_close(&mut self) -> Closed {
        loop {
            match self.next_event() {
                Event::Closed(closed) => {
                    self.flush();
                    let _ = self.tcp.shutdown(Shutdown::Both);
                    return closed;
                }
                Event::Ping(_) | Event::Pong(_) => {}
                other => panic!("expected a close, got {other:?}"),
            }
        }
    }

    fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    fn flush(&mut self) {
        self.write_queued().unwrap();
        self.stream.flush().unwrap();
    }

    /// Writes what the connection queued, counting it.
    fn write_queued(&mut self) -> io::Result<()> {
        while let Some(chunk) = self.conn.poll_transmit() {
            self.stream.write_all(&chunk)?;
            self.written.fetch_add(chunk.len(), Ordering::SeqCst);
        }
        Ok(())
    }

    fn next_event(&mut self) -> Event {
        loop {
            let event = self.conn.poll_event();
            self.flush();
            if let Some(event) = event {
                return event;
            }
            let n = self.stream.read(self.conn.input_buffer()).unwrap_or(0);
            let now = self.now();
            if n == 0 {
                self.conn.handle_eof(now);
            } else {
                self.conn.commit_input(n, now);
            }
        }
    }
}

// --- The server's events ------------------------------------------------------------------

fn on_lane(mut event: Value, lane: Option<&str>) -> Value {
    if let Some(lane) = lane {
        event["stream_id"] = json!(lane);
    }
    event
}

/// A response object.
pub fn response(id: &str, status: &str, output: Vec<Value>) -> Value {
    json!({
        "id": id, "object": "response", "created_at": 1, "status": status,
        "model": "m", "output": output
    })
}

/// `response.created` (sequence number 0).
pub fn created(lane: Option<&str>, id: &str) -> Value {
    on_lane(
        json!({"type": "response.created", "sequence_number": 0, "response": response(id, "in_progress", vec![])}),
        lane,
    )
}

/// `response.output_text.delta` of item `item`.
pub fn delta(lane: Option<&str>, item: &str, seq: u64, text: &str) -> Value {
    on_lane(
        json!({
            "type": "response.output_text.delta", "sequence_number": seq, "item_id": item,
            "output_index": 0, "content_index": 0, "delta": text
        }),
        lane,
    )
}

/// `response.completed` with `output`.
pub fn completed(lane: Option<&str>, id: &str, seq: u64, output: Vec<Value>) -> Value {
    on_lane(
        json!({"type": "response.completed", "sequence_number": seq, "response": response(id, "completed", output)}),
        lane,
    )
}

/// An assistant message output item.
pub fn message(id: &str, text: &str) -> Value {
    json!({
        "id": id, "type": "message", "status": "completed", "role": "assistant",
        "content": [{"type": "output_text", "text": text, "annotations": []}]
    })
}

/// A function call output item.
pub fn function_call(call_id: &str, name: &str, arguments: Value) -> Value {
    json!({
        "id": format!("fc_{call_id}"), "type": "function_call", "status": "completed",
        "call_id": call_id, "name": name, "arguments": arguments.to_string()
    })
}

/// What the client sends for a user message.
pub fn user(text: &str) -> Value {
    json!({"type": "message", "role": "user", "content": text})
}

/// An assistant message as the client resends it in a full context (no id, no status),
/// compared through [`replayed`].
pub fn assistant(text: &str) -> Value {
    json!({"type": "message", "role": "assistant", "content": text})
}

/// A received `response.create` with every replayed assistant message of one plain
/// `output_text` part written in the short form (its text as `content`): the two forms are
/// the same input, and which one the core sends is the core's choice.
pub fn replayed(mut frame: Value) -> Value {
    if let Some(items) = frame["input"].as_array_mut() {
        for item in items.iter_mut().filter(|item| item["role"] == "assistant") {
            let parts = item["content"].as_array().cloned().unwrap_or_default();
            if let [part] = parts.as_slice() {
                let plain = part["type"] == "output_text"
                    && part["annotations"].as_array().is_none_or(Vec::is_empty)
                    && part.get("logprobs").is_none();
                if plain {
                    item["content"] = part["text"].clone();
                }
            }
        }
    }
    frame
}

/// A function call output as the client sends it.
pub fn call_output(call_id: &str, output: &str) -> Value {
    json!({"type": "function_call_output", "call_id": call_id, "output": output})
}

/// A counter shared between the server thread and the test.
pub fn counter() -> Arc<AtomicUsize> {
    Arc::new(AtomicUsize::new(0))
}

/// Instantiates each async test body once per runtime (tokio with two workers), as
/// `#[test]`s in the modules `async_std_runtime`, `smol_runtime` and `tokio_runtime`; the
/// bodies take the [`Rt`] they run under.
#[allow(unused_macros)] // not every test file runs on every runtime
macro_rules! on_every_runtime {
    ($($name:ident),* $(,)?) => {
        mod async_std_runtime {
            $(#[test]
            fn $name() {
                async_std::task::block_on(super::$name(super::Rt::AsyncStd));
            })*
        }
        mod smol_runtime {
            $(#[test]
            fn $name() {
                smol::block_on(super::$name(super::Rt::Smol));
            })*
        }
        mod tokio_runtime {
            $(#[test]
            fn $name() {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build();
                runtime.unwrap().block_on(super::$name(super::Rt::Tokio));
            })*
        }
    };
}
#[allow(unused_imports)]
pub(crate) use on_every_runtime;
