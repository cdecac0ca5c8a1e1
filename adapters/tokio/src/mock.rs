//! A real mock Responses server on loopback: the tokio runner of the core's sans-IO mock
//! ([`responses_ws_core::mock`]), for our tests, the CLI's `mock` subcommand, the benchmarks and
//! users' own test suites. Behind the `mock` cargo feature.
//!
//! This file owns the listener and its tasks, and moves bytes and time between sockets and the
//! core's machines. It makes no protocol decision: the script, [`MockConnection`],
//! [`HttpMock`] and the server-role [`ws::Connection`] decide everything. One port serves both
//! transports:
//!
//! - `GET …/responses` (any path ending in `/responses`, as SDKs derive it from their base URL;
//!   the query is ignored) goes to the WebSocket layer. The upgrade is answered as
//!   [`Script::upgrade`] says: accepted, or refused with 401, 429 (`Retry-After`) or 426 and a
//!   JSON body, after which the connection closes. An accepted connection is served by a
//!   [`MockConnection`]. A GET without `Upgrade: websocket` is refused by the WebSocket layer.
//! - `POST …/responses` is answered by an [`HttpMock`]: a JSON body, or `text/event-stream`
//!   with every event written after its delay. The SSE body is **chunked** (one chunk per
//!   batch of events due at the same time), so that HTTP/1.1 connections stay alive and
//!   clients such as reqwest reuse them; HTTP/1.0 clients get a close-delimited body.
//! - Anything else gets a JSON 404 or 405, and the connection is closed.
//!
//! Faults: `Action::Close` sends a close frame with the script's code; `Action::Drop` writes
//! the frames polled before, then ends the TCP connection without a close frame (a FIN rather
//! than a reset, so that every event sent before the drop reaches the client); an HTTP stream
//! cut by a drop fault ends without its last chunk. When [`MockConnection::is_reading`] turns
//! false the socket is no longer read, so backpressure builds up in TCP.
//!
//! Connection indices (which scope ids and the script's connection-scoped faults) are handed
//! out from 0 in the order in which TCP connections make their first request to
//! `…/responses`; WebSocket and HTTP connections share the count, and each TCP connection is
//! one connection for the script (an [`HttpMock`] per connection, kept across keep-alive
//! requests). The `store: true` responses are shared by the whole server: every connection
//! starts from the server's store and folds its new responses back as they appear, and always
//! before its socket closes, so chains survive reconnects. Requests that store nothing cost
//! nothing; a stored response costs one fold, linear in the size of the store.
//!
//! Each WebSocket connection runs one task with one timer, set to the earlier of the
//! connection's and the mock's deadline. Time is [`tokio::time::Instant`], so paused test time
//! works. The server's WebSocket layer sends no keepalive pings (clients ping if they wish).

use std::collections::VecDeque;
use std::future::pending;
use std::io::{self, IoSlice};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use responses_ws_core::mock::{
    Action, HttpAnswer, HttpMock, HttpReply, MockConnection, ResponseStore, SseStream, Upgrade,
};
use responses_ws_core::ws;
use responses_ws_core::Instant;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{sleep, sleep_until, Instant as TokioInstant, Sleep};

pub use responses_ws_core::mock::{
    AgeLimit, BreakKind, DropFault, FaultOutcome, Faults, Limits, ProtocolBreak, Refusal, Script,
    ScriptedCall, StopReading, Traffic, Turn, TurnFault, UpgradeFault,
};

/// Largest HTTP request head read.
const MAX_HEAD: usize = 16 << 10;
/// Most headers in an HTTP request head.
const MAX_HEADERS: usize = 64;
/// Largest HTTP request body read.
const MAX_BODY: usize = 64 << 20;
/// Free space offered to each read of an HTTP connection.
const READ_CHUNK: usize = 16 << 10;
/// Most buffers handed to one vectored write.
const MAX_IOV: usize = 64;
/// Pause after a failed `accept` (out of file descriptors, say) before the next one.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(10);

// ==================================================================== the server handle

/// A mock Responses API server on a TCP port, serving a [`Script`] over WebSocket
/// ([`url`](Self::url)) and HTTP ([`http_base`](Self::http_base)) until it is shut down or
/// dropped. Its tasks run on the tokio runtime that started it; see
/// [`start_in_thread`](Self::start_in_thread) for code without a runtime.
///
/// ```
/// use responses_ws_tokio::mock::{MockServer, Script};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> std::io::Result<()> {
///     let server = MockServer::start(Script::new().text("Hello there!", 3)).await?;
///     assert!(server.url().starts_with("ws://127.0.0.1:"));
///
///     // Any HTTP client works too; here a hand-written request for the JSON answer.
///     let mut tcp = tokio::net::TcpStream::connect(server.addr()).await?;
///     let body = r#"{"model":"gpt-5.5","input":"Hi"}"#;
///     let request = format!(
///         "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Type: application/json\r\n\
///          Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
///         body.len()
///     );
///     tcp.write_all(request.as_bytes()).await?;
///     let mut answer = String::new();
///     tcp.read_to_string(&mut answer).await?;
///     assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
///     assert!(answer.contains("Hello there!"));
///
///     assert_eq!(server.connections(), 1);
///     assert_eq!(server.traffic().frames_received, 1);
///     server.shutdown().await;
///     Ok(())
/// }
/// ```
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    /// Dropping or sending stops the accept loop.
    stop: Option<oneshot::Sender<()>>,
    /// The accept loop; `None` when a thread of [`MockServerThread`] awaits it.
    task: Option<JoinHandle<()>>,
}

impl MockServer {
    /// Starts a server for `script` on `127.0.0.1` and a free port. Must be called within a
    /// tokio runtime with IO and time enabled.
    pub async fn start(script: Script) -> io::Result<MockServer> {
        MockServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), script).await
    }

    /// Starts a server for `script` on `addr` (port 0 picks a free port). Must be called within
    /// a tokio runtime with IO and time enabled.
    pub async fn bind(addr: SocketAddr, script: Script) -> io::Result<MockServer> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(script));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept_loop(listener, Arc::clone(&shared), stopped));
        Ok(MockServer {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// Starts a server for `script` on `127.0.0.1` and a free port, on a new thread running a
    /// current-thread tokio runtime: for blocking code, other runtimes and tests without
    /// tokio. The thread ends when the returned handle is shut down or dropped.
    ///
    /// ```
    /// use std::io::{Read, Write};
    /// use responses_ws_tokio::mock::{MockServer, Script};
    ///
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// let mut tcp = std::net::TcpStream::connect(server.addr())?;
    /// let body = r#"{"input":"Hello"}"#;
    /// write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// let mut answer = String::new();
    /// tcp.read_to_string(&mut answer)?;
    /// assert!(answer.contains(r#""status":"completed""#));
    /// server.shutdown();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn start_in_thread(script: Script) -> io::Result<MockServerThread> {
        MockServer::bind_in_thread(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), script)
    }

    /// Like [`start_in_thread`](Self::start_in_thread), on `addr`.
    pub fn bind_in_thread(addr: SocketAddr, script: Script) -> io::Result<MockServerThread> {
        let (ready, started) = sync_channel(1);
        let thread = thread::Builder::new()
            .name("responses-ws-mock".into())
            .spawn(move || run_in_thread(addr, script, ready))?;
        let started = started.recv();
        match started {
            Ok(Ok(server)) => Ok(MockServerThread {
                server,
                thread: Some(thread),
            }),
            Ok(Err(error)) => {
                let _ = thread.join();
                Err(error)
            }
            Err(_) => {
                let _ = thread.join();
                Err(io::Error::other(
                    "the mock server thread ended before it started",
                ))
            }
        }
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket endpoint: `ws://127.0.0.1:PORT/v1/responses`.
    pub fn url(&self) -> String {
        format!("ws://{}/v1/responses", connectable(self.addr))
    }

    /// The HTTP base URL as SDKs take it: `http://127.0.0.1:PORT/v1` (requests go to
    /// `{http_base}/responses`).
    pub fn http_base(&self) -> String {
        format!("http://{}/v1", connectable(self.addr))
    }

    /// What the mock received and sent so far, summed over every connection (WebSocket frames
    /// and HTTP bodies or SSE events, without framing or HTTP headers; see [`Traffic`]).
    /// Updated as connections make progress.
    pub fn traffic(&self) -> Traffic {
        self.shared.traffic.total()
    }

    /// TCP connections accepted so far (WebSocket and HTTP alike; refused upgrades included).
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// Stops the server and waits until it is over: the listener is closed (the port refuses
    /// connections) and every connection task has ended, its socket closed without a close
    /// frame. Dropping the server does the same without waiting.
    pub async fn shutdown(mut self) {
        self.signal_stop();
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                if error.is_panic() {
                    std::panic::resume_unwind(error.into_panic());
                }
            }
        }
    }

    fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

impl Drop for MockServer {
    /// Stops the server; its tasks end on their own.
    fn drop(&mut self) {
        self.signal_stop();
    }
}

/// A [`MockServer`] running on its own thread (see [`MockServer::start_in_thread`]). Shutting
/// it down or dropping it stops the server and joins the thread.
#[derive(Debug)]
pub struct MockServerThread {
    server: MockServer,
    thread: Option<thread::JoinHandle<()>>,
}

impl MockServerThread {
    /// See [`MockServer::addr`].
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// See [`MockServer::url`].
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// See [`MockServer::http_base`].
    pub fn http_base(&self) -> String {
        self.server.http_base()
    }

    /// See [`MockServer::traffic`].
    pub fn traffic(&self) -> Traffic {
        self.server.traffic()
    }

    /// See [`MockServer::connections`].
    pub fn connections(&self) -> u64 {
        self.server.connections()
    }

    /// Stops the server and joins its thread: the port refuses connections and every
    /// connection is closed when this returns. A panic of the server thread is resumed here.
    pub fn shutdown(mut self) {
        if let Err(panic) = self.stop_and_join() {
            std::panic::resume_unwind(panic);
        }
    }

    fn stop_and_join(&mut self) -> thread::Result<()> {
        self.server.signal_stop();
        match self.thread.take() {
            Some(thread) => thread.join(),
            None => Ok(()),
        }
    }
}

impl Drop for MockServerThread {
    /// Stops the server and joins its thread (a panic of the thread is ignored here).
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}

/// The body of a [`MockServerThread`]'s thread: a current-thread runtime that binds, hands the
/// server back through `ready`, and runs the accept loop until it is stopped.
fn run_in_thread(addr: SocketAddr, script: Script, ready: SyncSender<io::Result<MockServer>>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(runtime) => runtime,
        Err(error) => {
            let _ = ready.send(Err(error));
            return;
        }
    };
    runtime.block_on(async move {
        let mut server = match MockServer::bind(addr, script).await {
            Ok(server) => server,
            Err(error) => {
                let _ = ready.send(Err(error));
                return;
            }
        };
        let task = server.task.take();
        // If nobody waits any more, the server is dropped with the message: it stops.
        let _ = ready.send(Ok(server));
        if let Some(task) = task {
            let _ = task.await;
        }
    });
}

/// `addr` as clients should dial it: an unspecified address (`0.0.0.0`, `::`) becomes the
/// loopback address of its family.
fn connectable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port()))
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

// ==================================================================== shared state

/// What every task of a server shares.
#[derive(Debug)]
struct Shared {
    script: Script,
    /// Where the core's time starts.
    origin: TokioInstant,
    /// TCP connections accepted.
    connections: AtomicU64,
    /// The next connection index for the script.
    next_index: AtomicU32,
    traffic: Counters,
    store: Mutex<SharedStore>,
}

impl Shared {
    fn new(script: Script) -> Self {
        let store = SharedStore {
            store: ResponseStore::new(script.limits.max_stored),
            generation: 0,
        };
        Shared {
            script,
            origin: TokioInstant::now(),
            connections: AtomicU64::new(0),
            next_index: AtomicU32::new(0),
            traffic: Counters::default(),
            store: Mutex::new(store),
        }
    }

    /// The core's time now.
    fn now(&self) -> Instant {
        Instant::from_elapsed(self.origin.elapsed())
    }

    /// The core's instant `at` as a tokio deadline.
    fn deadline(&self, at: Instant) -> TokioInstant {
        self.origin + at.elapsed()
    }

    /// The index of a new connection.
    fn next_index(&self) -> u32 {
        self.next_index.fetch_add(1, Ordering::Relaxed)
    }

    fn store(&self) -> MutexGuard<'_, SharedStore> {
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The server's [`Traffic`], summed over connections as they publish.
#[derive(Debug, Default)]
struct Counters {
    frames_received: AtomicU64,
    bytes_received: AtomicU64,
    frames_sent: AtomicU64,
    bytes_sent: AtomicU64,
}

impl Counters {
    /// Adds what happened between `before` and `now` (one machine's counts).
    fn add(&self, now: Traffic, before: Traffic) {
        let pairs = [
            (
                &self.frames_received,
                now.frames_received,
                before.frames_received,
            ),
            (
                &self.bytes_received,
                now.bytes_received,
                before.bytes_received,
            ),
            (&self.frames_sent, now.frames_sent, before.frames_sent),
            (&self.bytes_sent, now.bytes_sent, before.bytes_sent),
        ];
        for (counter, now, before) in pairs {
            counter.fetch_add(now.saturating_sub(before), Ordering::Relaxed);
        }
    }

    fn total(&self) -> Traffic {
        let mut traffic = Traffic::default();
        traffic.frames_received = self.frames_received.load(Ordering::Relaxed);
        traffic.bytes_received = self.bytes_received.load(Ordering::Relaxed);
        traffic.frames_sent = self.frames_sent.load(Ordering::Relaxed);
        traffic.bytes_sent = self.bytes_sent.load(Ordering::Relaxed);
        traffic
    }
}

/// One machine's share of the server's [`Counters`]: what it has published so far.
#[derive(Debug, Default)]
struct TrafficMeter {
    published: Traffic,
}

impl TrafficMeter {
    fn publish(&mut self, traffic: Traffic, counters: &Counters) {
        if traffic != self.published {
            counters.add(traffic, self.published);
            self.published = traffic;
        }
    }
}

/// The server's store of `store: true` responses, with a generation that counts changes.
#[derive(Debug)]
struct SharedStore {
    store: ResponseStore,
    generation: u64,
}

impl SharedStore {
    fn fold(&mut self, other: &ResponseStore) {
        self.store.merge(other);
        self.generation += 1;
    }
}

/// How one machine's own store stands against the server's: the generation it last took and
/// its size since, so that only a stored response costs a fold.
///
/// A machine's own store is a copy of the server's with twice its capacity, so that nothing
/// is evicted from it between two folds and its size grows exactly when it stores a response.
/// Once it holds one and a half times the server's capacity it is replaced by a fresh copy.
#[derive(Debug)]
struct StoreLink {
    synced: Option<u64>,
    len: usize,
    /// Capacity of the machine's copies.
    capacity: usize,
    /// Size at which the machine's copy is replaced.
    rebase_at: usize,
}

impl StoreLink {
    fn new(shared: &Shared) -> Self {
        let max_stored = shared.script.limits.max_stored;
        StoreLink {
            synced: None,
            len: 0,
            capacity: max_stored.saturating_mul(2),
            rebase_at: max_stored.saturating_add(max_stored / 2),
        }
    }

    /// A fresh copy of the server's store for the machine (always, the first time: the
    /// machine's own store has the server's capacity, too small for exact change counts).
    fn pull(&mut self, shared: &Shared, local: &ResponseStore) -> Option<ResponseStore> {
        let mut server = shared.store();
        if self.synced == Some(server.generation) {
            return None;
        }
        if local.len() != self.len {
            server.fold(local);
        }
        Some(self.copy(&server))
    }

    /// Folds `local` into the server's store if it stored a response since the last fold (or
    /// always, with `force`). Returns a fresh copy to install when `local` is getting full.
    fn push(
        &mut self,
        shared: &Shared,
        local: &ResponseStore,
        force: bool,
    ) -> Option<ResponseStore> {
        if !force && local.len() == self.len {
            return None;
        }
        let mut server = shared.store();
        let in_sync = self.synced == Some(server.generation);
        server.fold(local);
        self.len = local.len();
        if in_sync {
            self.synced = Some(server.generation);
        }
        (local.len() >= self.rebase_at).then(|| self.copy(&server))
    }

    fn copy(&mut self, server: &SharedStore) -> ResponseStore {
        let mut copy = ResponseStore::new(self.capacity);
        copy.merge(&server.store);
        self.synced = Some(server.generation);
        self.len = copy.len();
        copy
    }
}

/// Puts `store` into `mock` (whose `with_store` takes it by value).
fn install_store(mock: &mut MockConnection, store: ResponseStore) {
    // A script-less connection allocates nothing: it only holds the place.
    let placeholder = MockConnection::new(Script::new(), 0, Instant::ZERO);
    let current = std::mem::replace(mock, placeholder);
    *mock = current.with_store(store);
}

/// Puts `store` into `mock` (whose `with_store` takes it by value).
fn install_http_store(mock: &mut HttpMock, store: ResponseStore) {
    let current = std::mem::replace(mock, HttpMock::new(Script::new(), 0));
    *mock = current.with_store(store);
}

// ==================================================================== accepting

/// Accepts connections until `stop` fires (or its sender is dropped), then closes the listener
/// and ends every connection task.
async fn accept_loop(listener: TcpListener, shared: Arc<Shared>, mut stop: oneshot::Receiver<()>) {
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stop => break,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    tasks.spawn(serve_connection(stream, Arc::clone(&shared)));
                }
                Err(_) => sleep(ACCEPT_BACKOFF).await,
            },
        }
    }
    drop(listener);
    tasks.shutdown().await;
}

/// Serves one TCP connection to its end; an IO error means the client is gone.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let peer = Peer {
        stream,
        buf: BytesMut::with_capacity(READ_CHUNK),
        shared,
        http: None,
    };
    let _ = peer.serve().await;
}

// ==================================================================== HTTP

/// What the runner needs of an HTTP request head.
#[derive(Debug)]
struct Head {
    method: String,
    path: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    minor_version: u8,
    content_length: Option<usize>,
    chunked: bool,
    keep_alive: bool,
    expect_continue: bool,
    /// Bytes of the head, the blank line included.
    len: usize,
}

/// A request the runner answers itself, with an error status, before closing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refused {
    Malformed,
    BadLength,
    HeadTooLarge,
    LengthRequired,
    BodyTooLarge,
    NotFound,
    MethodNotAllowed,
    NoAnswer,
}

impl Refused {
    fn status(self) -> u16 {
        match self {
            Refused::Malformed | Refused::BadLength => 400,
            Refused::NotFound => 404,
            Refused::MethodNotAllowed => 405,
            Refused::LengthRequired => 411,
            Refused::BodyTooLarge => 413,
            Refused::HeadTooLarge => 431,
            Refused::NoAnswer => 500,
        }
    }

    fn message(self) -> &'static str {
        match self {
            Refused::Malformed => "Malformed HTTP request.",
            Refused::BadLength => "Invalid Content-Length.",
            Refused::HeadTooLarge => "Request head too large.",
            Refused::LengthRequired => "Send the body with a Content-Length.",
            Refused::BodyTooLarge => "Request body too large.",
            Refused::NotFound => {
                "Unknown path: this mock serves POST and WebSocket GET on /v1/responses."
            }
            Refused::MethodNotAllowed => "Use POST, or GET with Upgrade: websocket.",
            Refused::NoAnswer => "The mock has no answer for this request.",
        }
    }

    /// The whole answer: a JSON error shaped like the API's, then the connection closes.
    fn answer(self) -> Vec<u8> {
        let body = format!(
            r#"{{"error":{{"message":"{}","type":"invalid_request_error","param":null,"code":null}}}}"#,
            self.message()
        );
        let mut head = status_line(self.status());
        push_header(&mut head, "content-type", "application/json");
        if self == Refused::MethodNotAllowed {
            push_header(&mut head, "allow", "GET, POST");
        }
        finish_head(&mut head, body.len(), false);
        head.push_str(&body);
        head.into_bytes()
    }
}

/// What an HTTP connection does with a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    WebSocket,
    Create,
    Refuse(Refused),
}

fn route(head: &Head) -> Route {
    if !is_responses_path(&head.path) {
        return Route::Refuse(Refused::NotFound);
    }
    match head.method.as_str() {
        "GET" => Route::WebSocket,
        "POST" => Route::Create,
        _ => Route::Refuse(Refused::MethodNotAllowed),
    }
}

/// Whether the request target names the responses endpoint: any path ending in `/responses`
/// (an optional trailing `/`, the query and fragment ignored).
fn is_responses_path(target: &str) -> bool {
    let path = target.split(['?', '#']).next().unwrap_or_default();
    let path = path.strip_suffix('/').unwrap_or(path);
    path.ends_with("/responses")
}

/// Reads a request head from `buf`; `Ok(None)` when more bytes are needed.
fn parse_head(buf: &[u8]) -> Result<Option<Head>, Refused> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) if len <= MAX_HEAD => len,
        Ok(httparse::Status::Partial) if buf.len() <= MAX_HEAD => return Ok(None),
        Ok(_) | Err(httparse::Error::TooManyHeaders) => return Err(Refused::HeadTooLarge),
        Err(_) => return Err(Refused::Malformed),
    };
    let headers: &[httparse::Header<'_>] = request.headers;
    let minor_version = request.version.unwrap_or(1);
    let keep_alive = match minor_version {
        0 => has_token(headers, "connection", "keep-alive"),
        _ => !has_token(headers, "connection", "close"),
    };
    Ok(Some(Head {
        method: request.method.unwrap_or_default().to_owned(),
        path: request.path.unwrap_or_default().to_owned(),
        minor_version,
        content_length: content_length(headers)?,
        chunked: has_token(headers, "transfer-encoding", "chunked"),
        keep_alive,
        expect_continue: has_token(headers, "expect", "100-continue"),
        len,
    }))
}

/// The `Content-Length`, if given; several that disagree, or one that is not a number, are
/// refused.
fn content_length(headers: &[httparse::Header<'_>]) -> Result<Option<usize>, Refused> {
    let mut length = None;
    for header in headers {
        if !header.name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        let value = std::str::from_utf8(header.value)
            .ok()
            .and_then(|value| value.trim().parse::<usize>().ok())
            .ok_or(Refused::BadLength)?;
        if length.is_some_and(|length| length != value) {
            return Err(Refused::BadLength);
        }
        length = Some(value);
    }
    Ok(length)
}

/// Whether a header named `name` lists `token` (comma-separated, case-insensitive).
fn has_token(headers: &[httparse::Header<'_>], name: &str, token: &str) -> bool {
    headers
        .iter()
        .filter(|header| header.name.eq_ignore_ascii_case(name))
        .filter_map(|header| std::str::from_utf8(header.value).ok())
        .flat_map(|value| value.split(','))
        .any(|item| item.trim().eq_ignore_ascii_case(token))
}

/// `HTTP/1.1 {status} {reason}\r\n`.
fn status_line(status: u16) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };
    format!("HTTP/1.1 {status} {reason}\r\n")
}

fn push_header(head: &mut String, name: &str, value: &str) {
    head.push_str(name);
    head.push_str(": ");
    head.push_str(value);
    head.push_str("\r\n");
}

/// Ends a head whose body is `len` bytes long.
fn finish_head(head: &mut String, len: usize, keep_alive: bool) {
    push_header(head, "content-length", &len.to_string());
    finish_stream_head(head, keep_alive);
}

/// Ends a head with the `connection` header and the blank line.
fn finish_stream_head(head: &mut String, keep_alive: bool) {
    let connection = if keep_alive { "keep-alive" } else { "close" };
    push_header(head, "connection", connection);
    head.push_str("\r\n");
}

/// The whole answer to a JSON reply.
fn json_answer(answer: &HttpAnswer, keep_alive: bool) -> Vec<u8> {
    let mut head = status_line(answer.status);
    for (name, value) in &answer.headers {
        push_header(&mut head, name, value);
    }
    finish_head(&mut head, answer.body.len(), keep_alive);
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(answer.body.as_bytes());
    bytes
}

/// The head of an SSE answer, chunked or close-delimited.
fn sse_head(chunked: bool, keep_alive: bool) -> Vec<u8> {
    let mut head = status_line(200);
    push_header(
        &mut head,
        "content-type",
        "text/event-stream; charset=utf-8",
    );
    push_header(&mut head, "cache-control", "no-cache");
    if chunked {
        push_header(&mut head, "transfer-encoding", "chunked");
    }
    finish_stream_head(&mut head, keep_alive);
    head.into_bytes()
}

/// Appends one SSE event, as a chunk when `chunked`.
fn push_event(out: &mut Vec<u8>, event: &str, chunked: bool) {
    if chunked {
        out.extend_from_slice(format!("{:x}\r\n", event.len()).as_bytes());
    }
    out.extend_from_slice(event.as_bytes());
    if chunked {
        out.extend_from_slice(b"\r\n");
    }
}

/// What arrives next on an HTTP connection.
#[derive(Debug)]
enum Incoming {
    Request(Head),
    Refuse(Refused),
    Closed,
}

/// One TCP connection before it is known to be WebSocket or while it serves HTTP.
#[derive(Debug)]
struct Peer {
    stream: TcpStream,
    /// Bytes read and not yet used.
    buf: BytesMut,
    shared: Arc<Shared>,
    /// The responder of this connection, made at its first `POST`.
    http: Option<HttpMachine>,
}

impl Peer {
    /// Serves requests until the connection ends or becomes a WebSocket.
    async fn serve(mut self) -> io::Result<()> {
        loop {
            let head = match self.next_request().await? {
                Incoming::Request(head) => head,
                Incoming::Refuse(refused) => return self.refuse(refused).await,
                Incoming::Closed => return self.close().await,
            };
            match route(&head) {
                Route::WebSocket => return self.upgrade().await,
                Route::Refuse(refused) => return self.refuse(refused).await,
                Route::Create => {
                    if !self.serve_create(&head).await? {
                        return self.close().await;
                    }
                }
            }
        }
    }

    /// Reads until a whole request head is buffered.
    async fn next_request(&mut self) -> io::Result<Incoming> {
        loop {
            match parse_head(&self.buf) {
                Ok(Some(head)) => return Ok(Incoming::Request(head)),
                Ok(None) => {}
                Err(refused) => return Ok(Incoming::Refuse(refused)),
            }
            if !self.fill().await? {
                return Ok(Incoming::Closed);
            }
        }
    }

    /// Reads more bytes into the buffer; false at end of file.
    async fn fill(&mut self) -> io::Result<bool> {
        self.buf.reserve(READ_CHUNK);
        Ok(self.stream.read_buf(&mut self.buf).await? > 0)
    }

    /// Answers `refused` and closes.
    async fn refuse(mut self, refused: Refused) -> io::Result<()> {
        self.stream.write_all(&refused.answer()).await?;
        self.close().await
    }

    async fn close(mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }

    /// Hands the connection, with the bytes read so far, to the WebSocket layer.
    async fn upgrade(self) -> io::Result<()> {
        let Peer {
            stream,
            buf,
            shared,
            ..
        } = self;
        WsDriver::new(stream, shared).run(&buf).await
    }

    /// Serves one `POST`; true when the connection stays open for the next request.
    async fn serve_create(&mut self, head: &Head) -> io::Result<bool> {
        let refused = match (head.chunked, head.content_length.unwrap_or(0)) {
            (true, _) => Some(Refused::LengthRequired),
            (false, len) if len > MAX_BODY => Some(Refused::BodyTooLarge),
            _ => None,
        };
        if let Some(refused) = refused {
            self.stream.write_all(&refused.answer()).await?;
            return Ok(false);
        }
        let Some(body) = self.read_body(head).await? else {
            return Ok(false);
        };
        let arrived = TokioInstant::now();
        let reply = self.respond(&body);
        match reply {
            HttpReply::Json(answer) => {
                let keep_alive = head.keep_alive;
                self.stream
                    .write_all(&json_answer(&answer, keep_alive))
                    .await?;
                Ok(keep_alive)
            }
            HttpReply::Stream(stream) => self.write_sse(stream, head, arrived).await,
            _ => {
                self.stream.write_all(&Refused::NoAnswer.answer()).await?;
                Ok(false)
            }
        }
    }

    /// The request's body (`Content-Length` bytes, none if absent); `None` if the connection
    /// ended first.
    async fn read_body(&mut self, head: &Head) -> io::Result<Option<BytesMut>> {
        let len = head.content_length.unwrap_or(0);
        self.buf.advance(head.len);
        if head.expect_continue && self.buf.len() < len {
            self.stream
                .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
                .await?;
        }
        while self.buf.len() < len {
            if !self.fill().await? {
                return Ok(None);
            }
        }
        Ok(Some(self.buf.split_to(len)))
    }

    /// The connection's responder's answer to `body`.
    fn respond(&mut self, body: &[u8]) -> HttpReply {
        let shared = Arc::clone(&self.shared);
        let machine = self.http.get_or_insert_with(|| HttpMachine::new(&shared));
        machine.respond(&shared, &String::from_utf8_lossy(body))
    }

    /// Writes an SSE answer, each event once its delay (counted from `arrived`) has passed;
    /// true when the connection stays open.
    async fn write_sse(
        &mut self,
        stream: SseStream,
        head: &Head,
        arrived: TokioInstant,
    ) -> io::Result<bool> {
        let chunked = head.minor_version >= 1;
        let keep_alive = chunked && head.keep_alive && !stream.dropped;
        let mut batch = sse_head(chunked, keep_alive);
        let mut due = arrived;
        for event in &stream.events {
            due += event.delay;
            if due > TokioInstant::now() {
                self.stream.write_all(&batch).await?;
                batch.clear();
                sleep_until(due).await;
            }
            push_event(&mut batch, &event.to_sse(), chunked);
        }
        // A dropped stream ends without its last chunk: the connection just closes.
        if chunked && !stream.dropped {
            batch.extend_from_slice(b"0\r\n\r\n");
        }
        self.stream.write_all(&batch).await?;
        Ok(keep_alive)
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

// ==================================================================== WebSocket

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
struct WsDriver {
    stream: TcpStream,
    ws: ws::Connection,
    mock: MockConnection,
    shared: Arc<Shared>,
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
    fn new(stream: TcpStream, shared: Arc<Shared>) -> Self {
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
    async fn run(mut self, received: &[u8]) -> io::Result<()> {
        self.ws.handle_input(received, self.shared.now());
        let served = self.drive().await;
        let _ = self.link.push(&self.shared, self.mock.store(), true);
        self.meter
            .publish(self.mock.traffic(), &self.shared.traffic);
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
            ws::Event::Request(_) => self.answer_upgrade()?,
            ws::Event::Message(ws::Message::Text(text)) => {
                if let Some(store) = self.link.pull(&self.shared, self.mock.store()) {
                    install_store(&mut self.mock, store);
                }
                self.mock.handle_text(text.as_str(), now);
            }
            ws::Event::Message(ws::Message::Binary(data)) => self.mock.handle_binary(&data, now),
            _ => {}
        }
        Ok(())
    }

    /// Accepts, refuses or ignores the upgrade as the script says.
    fn answer_upgrade(&mut self) -> io::Result<()> {
        let answered = match self.shared.script.upgrade(self.index) {
            Upgrade::Refuse(answer) => {
                self.ws
                    .reject(answer.status, &answer.headers, answer.body.as_bytes())
            }
            // Silent until the client leaves (or the handshake timeout ends it).
            Upgrade::Ignore => Ok(()),
            _ => self.ws.accept(&[]),
        };
        answered.map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))
    }

    async fn take_frames(&mut self) -> io::Result<bool> {
        let mut moved = false;
        while let Some(frame) = self.mock.poll_transmit() {
            moved = true;
            self.send_text(frame).await?;
        }
        Ok(moved)
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

/// Writes `chunks` out with vectored writes, emptying the queue.
async fn write_chunks(stream: &mut TcpStream, chunks: &mut VecDeque<Bytes>) -> io::Result<()> {
    while !chunks.is_empty() {
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let mut count = 0;
        for (slot, chunk) in slices.iter_mut().zip(chunks.iter()) {
            *slot = IoSlice::new(chunk);
            count += 1;
        }
        let written = stream.write_vectored(&slices[..count]).await?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        consume(chunks, written);
    }
    Ok(())
}

/// Drops the first `n` written bytes of `chunks`.
fn consume(chunks: &mut VecDeque<Bytes>, mut n: usize) {
    while n > 0 {
        let Some(front) = chunks.front_mut() else {
            return;
        };
        if front.len() <= n {
            n -= front.len();
            chunks.pop_front();
        } else {
            front.advance(n);
            n = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_paths_are_recognised() {
        for path in [
            "/v1/responses",
            "/responses",
            "/openai/v1/responses/",
            "/v1/responses?api-version=1",
        ] {
            assert!(is_responses_path(path), "{path}");
        }
        for path in [
            "/",
            "/v1/responses/resp_1",
            "/v1/chat/completions",
            "/v1/myresponses",
        ] {
            assert!(!is_responses_path(path), "{path}");
        }
    }

    #[test]
    fn heads_are_parsed_and_bounded() {
        let head = parse_head(b"POST /v1/responses HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\nConnection: Keep-Alive\r\n\r\n{").unwrap().unwrap();
        assert_eq!(
            (head.method.as_str(), head.path.as_str()),
            ("POST", "/v1/responses")
        );
        assert_eq!(head.content_length, Some(12));
        assert!(head.keep_alive && !head.chunked && !head.expect_continue);
        assert_eq!(route(&head), Route::Create);

        let old = parse_head(b"POST /responses HTTP/1.0\r\n\r\n")
            .unwrap()
            .unwrap();
        assert!(!old.keep_alive);
        assert!(parse_head(b"POST /v1/responses HTTP/1.1\r\nHost:")
            .unwrap()
            .is_none());
        let two = b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n";
        assert_eq!(parse_head(two).unwrap_err(), Refused::BadLength);
        let huge = vec![b'a'; MAX_HEAD + 1];
        assert_eq!(parse_head(&huge).unwrap_err(), Refused::HeadTooLarge);
        let bad = b"GET / HTTP/1.1\r\nBad Header\r\n\r\n";
        assert_eq!(parse_head(bad).unwrap_err(), Refused::Malformed);
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_HEAD));
        assert_eq!(parse_head(&long).unwrap_err(), Refused::HeadTooLarge);
    }

    #[test]
    fn consume_advances_across_chunks() {
        let mut chunks: VecDeque<Bytes> = ["abc", "de", "fgh"].map(Bytes::from).into();
        consume(&mut chunks, 4);
        assert_eq!(chunks, ["e", "fgh"].map(Bytes::from));
        consume(&mut chunks, 4);
        assert!(chunks.is_empty());
    }

    #[test]
    fn refusals_are_json_and_close() {
        let answer = String::from_utf8(Refused::NotFound.answer()).unwrap();
        assert!(answer.starts_with("HTTP/1.1 404 Not Found\r\n"));
        assert!(answer.contains("connection: close\r\n"));
        let body = answer.split("\r\n\r\n").nth(1).unwrap();
        assert!(body.starts_with(r#"{"error":{"message":"#));
        assert_eq!(
            connectable("0.0.0.0:80".parse().unwrap()),
            "127.0.0.1:80".parse().unwrap()
        );
    }
}
