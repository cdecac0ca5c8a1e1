//! A small scripted Responses server for the adapter's tests: real loopback TCP (optionally
//! TLS), the core's WebSocket server role, and a script that answers each client frame with
//! JSON events. It records every upgrade request, client frame and connection ending.

#![allow(dead_code)] // Each test binary uses a part of it.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use responses_ws_core::ws::{self, Closed, Event, Message, RequestHead, SendError};
use responses_ws_core::Instant;
use responses_ws_tokio::ClientEvent;
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;

/// What the server does after a client frame.
#[derive(Debug, Clone)]
pub(crate) enum Reply {
    /// Send a text frame.
    Text(String),
    /// Stop (neither read nor write) for a while.
    Pause(Duration),
    /// Drop the TCP connection without a close frame.
    Drop,
}

/// A refusal of the upgrade: status, headers, body.
pub(crate) type Refusal = (u16, Vec<(String, String)>, Vec<u8>);

type ScriptFn = dyn FnMut(usize, &Value) -> Vec<Reply> + Send;
type UpgradeFn = dyn Fn(usize) -> Option<Refusal> + Send + Sync;

/// What the server saw.
#[derive(Default)]
struct Record {
    heads: Mutex<Vec<(usize, RequestHead)>>,
    frames: Mutex<Vec<(usize, Value)>>,
    closes: Mutex<Vec<(usize, Closed)>>,
    bytes_written: AtomicUsize,
}

/// Socket options of the listening socket (inherited by accepted sockets).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct SocketOptions {
    pub(crate) send_buffer: Option<u32>,
    pub(crate) recv_buffer: Option<u32>,
}

/// A running scripted server; the accept task ends when this is dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    record: Arc<Record>,
    task: JoinHandle<()>,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to build a server.
pub(crate) struct Builder {
    script: Box<ScriptFn>,
    upgrade: Box<UpgradeFn>,
    tls: Option<TlsAcceptor>,
    options: SocketOptions,
}

impl Server {
    /// A server that accepts every upgrade and answers frames with `script(connection, frame)`.
    pub(crate) fn builder(
        script: impl FnMut(usize, &Value) -> Vec<Reply> + Send + 'static,
    ) -> Builder {
        Builder {
            script: Box::new(script),
            upgrade: Box::new(|_| None),
            tls: None,
            options: SocketOptions::default(),
        }
    }

    /// `ws://127.0.0.1:port/v1/responses`.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}/v1/responses", self.addr)
    }

    /// The client frames received so far: (connection index, JSON).
    pub(crate) fn frames(&self) -> Vec<(usize, Value)> {
        self.record.frames.lock().unwrap().clone()
    }

    /// The upgrade requests received so far.
    pub(crate) fn heads(&self) -> Vec<(usize, RequestHead)> {
        self.record.heads.lock().unwrap().clone()
    }

    /// How the server's connections ended so far.
    pub(crate) fn closes(&self) -> Vec<(usize, Closed)> {
        self.record.closes.lock().unwrap().clone()
    }

    /// Bytes the server has written to its sockets.
    pub(crate) fn bytes_written(&self) -> usize {
        self.record.bytes_written.load(Ordering::SeqCst)
    }

    /// Waits (up to 5 s) until `done` holds.
    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&Server) -> bool) {
        for _ in 0..500 {
            if done(self) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("timed out waiting for {what}");
    }
}

impl Builder {
    /// Refuses the upgrade of connection `n` when `upgrade(n)` says so.
    pub(crate) fn upgrade(
        mut self,
        upgrade: impl Fn(usize) -> Option<Refusal> + Send + Sync + 'static,
    ) -> Self {
        self.upgrade = Box::new(upgrade);
        self
    }

    /// Serves TLS.
    pub(crate) fn tls(mut self, acceptor: TlsAcceptor) -> Self {
        self.tls = Some(acceptor);
        self
    }

    /// Socket buffer sizes.
    pub(crate) fn options(mut self, options: SocketOptions) -> Self {
        self.options = options;
        self
    }

    /// Listens on 127.0.0.1 and serves connections (each on its own task, numbered from 0).
    pub(crate) async fn start(self) -> Server {
        let socket = TcpSocket::new_v4().unwrap();
        if let Some(size) = self.options.send_buffer {
            socket.set_send_buffer_size(size).unwrap();
        }
        if let Some(size) = self.options.recv_buffer {
            socket.set_recv_buffer_size(size).unwrap();
        }
        socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let listener: TcpListener = socket.listen(16).unwrap();
        let addr = listener.local_addr().unwrap();
        let record = Arc::new(Record::default());
        let shared = Arc::new(Shared {
            script: Mutex::new(self.script),
            upgrade: self.upgrade,
            record: Arc::clone(&record),
        });
        let tls = self.tls;
        let task = tokio::spawn(async move {
            let mut index = 0;
            let mut connections = Vec::new();
            while let Ok((tcp, _)) = listener.accept().await {
                tcp.set_nodelay(true).unwrap();
                let shared = Arc::clone(&shared);
                let tls = tls.clone();
                connections.push(AbortOnDrop(tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(tcp).await {
                                serve(stream, index, shared).await;
                            }
                        }
                        None => serve(tcp, index, shared).await,
                    }
                })));
                index += 1;
            }
        });
        Server { addr, record, task }
    }
}

/// Aborts a connection task when the accept task ends.
struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

struct Shared {
    script: Mutex<Box<ScriptFn>>,
    upgrade: Box<UpgradeFn>,
    record: Arc<Record>,
}

fn server_config() -> ws::Config {
    let mut config = ws::Config::default();
    config.keepalive_interval = None;
    config
}

/// Serves one connection until it is finished (or dropped by the script).
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(mut io: S, index: usize, shared: Arc<Shared>) {
    let origin = tokio::time::Instant::now();
    let now = || Instant::from_elapsed(origin.elapsed());
    let mut conn = ws::Connection::server(server_config(), [9; 32], now());
    let mut pending: VecDeque<Reply> = VecDeque::new();
    loop {
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Request(head) => {
                    shared.record.heads.lock().unwrap().push((index, head));
                    match (shared.upgrade)(index) {
                        None => conn
                            .accept(&[("X-Test".into(), format!("conn-{index}"))])
                            .unwrap(),
                        Some((status, headers, body)) => {
                            conn.reject(status, &headers, &body).unwrap()
                        }
                    }
                }
                Event::Message(Message::Text(text)) => {
                    let frame: Value = serde_json::from_str(text.as_str()).unwrap();
                    shared
                        .record
                        .frames
                        .lock()
                        .unwrap()
                        .push((index, frame.clone()));
                    let replies = (shared.script.lock().unwrap())(index, &frame);
                    pending.extend(replies);
                }
                Event::Closed(closed) => shared.record.closes.lock().unwrap().push((index, closed)),
                _ => {}
            }
        }
        while let Some(reply) = pending.front() {
            match reply {
                Reply::Text(text) => match conn.send_text(text.as_str()) {
                    Ok(()) => {
                        pending.pop_front();
                    }
                    Err(SendError::QueueFull { .. }) => break,
                    Err(_) => pending.clear(),
                },
                Reply::Pause(duration) => {
                    let duration = *duration;
                    if !write_all(&mut io, &mut conn, &shared).await {
                        return;
                    }
                    pending.pop_front();
                    tokio::time::sleep(duration).await;
                }
                Reply::Drop => {
                    let _ = write_all(&mut io, &mut conn, &shared).await;
                    return;
                }
            }
        }
        if !write_all(&mut io, &mut conn, &shared).await {
            return;
        }
        if conn.is_finished() {
            let _ = io.shutdown().await;
            return;
        }
        if !pending.is_empty() {
            continue;
        }
        match io.read(conn.input_buffer()).await {
            Ok(0) | Err(_) => conn.handle_eof(now()),
            Ok(n) => conn.commit_input(n, now()),
        }
    }
}

/// Writes everything the server connection queued; false when the socket broke.
async fn write_all<S: AsyncWrite + Unpin>(
    io: &mut S,
    conn: &mut ws::Connection,
    shared: &Shared,
) -> bool {
    while let Some(chunk) = conn.poll_transmit() {
        if io.write_all(&chunk).await.is_err() {
            return false;
        }
        shared
            .record
            .bytes_written
            .fetch_add(chunk.len(), Ordering::SeqCst);
    }
    true
}

/// The server events of one scripted response.
pub(crate) struct Turn {
    lane: Option<String>,
    id: String,
    seq: u64,
}

impl Turn {
    /// Response `id` on `lane` (`None`: the default lane).
    pub(crate) fn new(lane: Option<&str>, id: &str) -> Turn {
        Turn {
            lane: lane.map(String::from),
            id: id.into(),
            seq: 0,
        }
    }

    fn event(&mut self, mut event: Value) -> Reply {
        if let Some(lane) = &self.lane {
            event["stream_id"] = json!(lane);
        }
        event["sequence_number"] = json!(self.seq);
        self.seq += 1;
        Reply::Text(event.to_string())
    }

    fn response(&self, status: &str, output: Value) -> Value {
        json!({"id": self.id, "object": "response", "created_at": 1, "status": status, "model": "m", "output": output})
    }

    /// `response.created`.
    pub(crate) fn created(&mut self) -> Reply {
        let response = self.response("in_progress", json!([]));
        self.event(json!({"type": "response.created", "response": response}))
    }

    /// `response.output_text.delta`.
    pub(crate) fn delta(&mut self, text: &str) -> Reply {
        let item = format!("msg_{}", self.id);
        self.event(json!({"type": "response.output_text.delta", "item_id": item, "output_index": 0, "content_index": 0, "delta": text}))
    }

    /// `response.completed` with one assistant message.
    pub(crate) fn completed_text(&mut self, text: &str) -> Reply {
        let message = json!({"type": "message", "id": format!("msg_{}", self.id), "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": []}]});
        let response = self.response("completed", json!([message]));
        self.event(json!({"type": "response.completed", "response": response}))
    }

    /// `response.completed` with function calls `(call_id, name, arguments)`.
    pub(crate) fn completed_calls(&mut self, calls: &[(&str, &str, String)]) -> Reply {
        let output: Vec<Value> = calls
            .iter()
            .map(|(call_id, name, arguments)| {
                json!({"type": "function_call", "id": format!("fc_{call_id}"), "status": "completed",
                    "call_id": call_id, "name": name, "arguments": arguments})
            })
            .collect();
        let response = self.response("completed", json!(output));
        self.event(json!({"type": "response.completed", "response": response}))
    }

    /// A whole text answer: created, one delta per piece, completed.
    pub(crate) fn text(lane: Option<&str>, id: &str, pieces: &[&str]) -> Vec<Reply> {
        let mut turn = Turn::new(lane, id);
        let mut replies = vec![turn.created()];
        replies.extend(pieces.iter().map(|piece| turn.delta(piece)));
        replies.push(turn.completed_text(&pieces.concat()));
        replies
    }
}

/// A compact view of an event for exact assertions.
pub(crate) fn describe(event: &ClientEvent) -> String {
    use responses_ws_core::wire::EventKind;
    use responses_ws_tokio::SessionEvent;
    let lane = |lane: &responses_ws_tokio::Lane| lane.stream_id().unwrap_or("-").to_owned();
    match event {
        ClientEvent::Connected { .. } => "connected".into(),
        ClientEvent::Disconnected { closed } => format!("disconnected {}", closed.code),
        ClientEvent::Reconnecting { attempt, .. } => format!("reconnecting {attempt}"),
        ClientEvent::GaveUp(gave_up) => format!("gave up {}", gave_up.attempts),
        ClientEvent::Session(SessionEvent::Retrying {
            lane: l,
            attempt,
            safety,
            ..
        }) => format!("{} retrying {attempt} {safety:?}", lane(l)),
        ClientEvent::Session(SessionEvent::Started {
            lane: l,
            response_id,
            ..
        }) => {
            format!("{} started {response_id}", lane(l))
        }
        ClientEvent::Session(SessionEvent::Stream { lane: l, event, .. }) => {
            match &event.decoded().kind {
                EventKind::OutputTextDelta(delta) => format!("{} delta {}", lane(l), delta.delta),
                _ => format!("{} {}", lane(l), event.decoded().event_type()),
            }
        }
        ClientEvent::Session(SessionEvent::Completed {
            lane: l, response, ..
        }) => {
            format!(
                "{} completed {} {:?}",
                lane(l),
                response.id,
                response.all_output_text()
            )
        }
        ClientEvent::Session(SessionEvent::FullContext {
            lane: l, reason, ..
        }) => {
            format!("{} full context {reason:?}", lane(l))
        }
        ClientEvent::Session(SessionEvent::ToolCalls { lane: l, calls, .. }) => {
            let ids: Vec<&str> = calls.iter().map(|c| c.call_id.as_str()).collect();
            format!("{} tool calls {}", lane(l), ids.join(","))
        }
        ClientEvent::Session(SessionEvent::Failed { lane: l, error, .. }) => {
            format!("{} failed {error}", lane(l))
        }
        ClientEvent::Session(SessionEvent::Reconnect { reason }) => format!("reconnect {reason:?}"),
        other => format!("{other:?}"),
    }
}
