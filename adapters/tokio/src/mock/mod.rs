//! A real mock Responses server on loopback: the tokio runner of the core's sans-IO mock
//! ([`responses_ws_core::mock`]), for our tests, the CLI's `mock` subcommand, the benchmarks and
//! users' own test suites. Behind the `mock` cargo feature.
//!
//! This module owns the listener and its tasks, and moves bytes and time between sockets and
//! the core's machines. It makes no protocol decision: the script, [`MockConnection`],
//! [`HttpMock`], the core's [`HttpConnection`] (every HTTP head, body and SSE frame) and the
//! server-role [`ws::Connection`] decide everything. One port serves both transports:
//!
//! - `GET …/responses` (any path ending in `/responses`, as SDKs derive it from their base URL;
//!   the query is ignored) goes to the WebSocket layer. The upgrade is answered as
//!   [`Script::upgrade_request`] says: accepted, or refused with 401 (also for a revoked API
//!   key), 429 (`Retry-After`) or 426 and a JSON body, after which the connection closes. An
//!   accepted connection is served by a [`MockConnection`], told the request's headers (the
//!   multi-agent beta). A GET without `Upgrade: websocket` is refused by the WebSocket layer.
//! - `POST …/responses` is answered by an [`HttpMock`] (a revoked API key gets 401 first): a
//!   JSON body, or `text/event-stream`
//!   with every event written after its delay. The SSE body is **chunked** (one chunk per
//!   batch of events due at the same time), so that HTTP/1.1 connections stay alive and
//!   clients such as reqwest reuse them; HTTP/1.0 clients get a close-delimited body.
//! - Anything else gets a JSON 404 or 405 (a malformed or oversized request a 400, 413, 431 or
//!   501), and the connection is closed.
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
//! Files: `shared` holds what every connection shares (store, counters, clock origin),
//! `http` drives an [`HttpConnection`], `websocket` a [`ws::Connection`] with a
//! [`MockConnection`] behind it, `write` the vectored writes.
//!
//! Each connection runs one task with one timer (a WebSocket connection's set to the earlier
//! of the connection's and the mock's deadline, an HTTP one's to the next SSE event). Time is [`tokio::time::Instant`], so paused test time
//! works. The server's WebSocket layer sends no keepalive pings (clients ping if they wish).

mod http;
mod log;
mod shared;
mod websocket;
mod write;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

#[cfg(doc)]
use responses_ws_core::mock::{HttpConnection, HttpMock, MockConnection};
#[cfg(doc)]
use responses_ws_core::ws;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::sleep;

use shared::Shared;

pub use log::{ConnectionRecord, MAX_RECORDS};

pub use responses_ws_core::mock::{
    AgeLimit, BreakKind, DropFault, FaultOutcome, Faults, Limits, Occupancy, ProtocolBreak,
    Refusal, Script, ScriptedCall, StopReading, Traffic, Turn, TurnFault, UpgradeFault,
};

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
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// let response = conn.run_tool_loop(request, |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// conn.close().await?;
    /// server.shutdown().await;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn start(script: Script) -> io::Result<MockServer> {
        MockServer::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), script).await
    }

    /// Starts a server for `script` on `addr` (port 0 picks a free port). Must be called within
    /// a tokio runtime with IO and time enabled.
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::bind("127.0.0.1:0".parse()?, Script::new()).await?;
    /// assert!(server.addr().ip().is_loopback());
    /// assert_ne!(server.addr().port(), 0);
    /// # Ok(())
    /// # }
    /// ```
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
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::bind_in_thread("127.0.0.1:0".parse()?, Script::new())?;
    /// assert!(server.url().starts_with("ws://127.0.0.1:"));
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new()).await?;
    /// let tcp = tokio::net::TcpStream::connect(server.addr()).await?;
    /// assert_eq!(tcp.peer_addr()?, server.addr());
    /// # Ok(())
    /// # }
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The WebSocket endpoint: `ws://127.0.0.1:PORT/v1/responses`.
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// let response = conn.run_tool_loop(request, |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// # Ok(())
    /// # }
    /// ```
    pub fn url(&self) -> String {
        format!("ws://{}/v1/responses", connectable(self.addr))
    }

    /// The HTTP base URL as SDKs take it: `http://127.0.0.1:PORT/v1` (requests go to
    /// `{http_base}/responses`).
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new()).await?;
    /// assert_eq!(server.http_base(), format!("http://{}/v1", server.addr()));
    /// # Ok(())
    /// # }
    /// ```
    pub fn http_base(&self) -> String {
        format!("http://{}/v1", connectable(self.addr))
    }

    /// What the mock received and sent so far, summed over every connection (WebSocket frames
    /// and HTTP bodies or SSE events, without framing or HTTP headers; see [`Traffic`]).
    /// Updated as connections make progress.
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// let response = conn.run_tool_loop(request, |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// assert_eq!(server.traffic().frames_received, 1); // one response.create
    /// assert!(server.traffic().frames_sent > 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn traffic(&self) -> Traffic {
        self.shared.traffic.total()
    }

    /// TCP connections accepted so far (WebSocket and HTTP alike; refused upgrades included).
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// let response = conn.run_tool_loop(request, |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// assert_eq!(server.connections(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn connections(&self) -> u64 {
        self.shared.connections.load(Ordering::Relaxed)
    }

    /// The connection log: what the server saw of each connection (accepted, upgrade answer,
    /// closed, occupancy, errors sent), in the order they were accepted; the first
    /// [`MAX_RECORDS`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// let request = ResponseCreate::new("gpt-5.5").input("Hi");
    /// let response = conn.run_tool_loop(request, |_call| async { String::new() }).await?;
    /// assert_eq!(response.all_output_text(), "Hello!");
    /// let log = server.connection_log();
    /// assert_eq!(log[0].upgrade.map(|(_, status)| status), Some(101));
    /// # Ok(())
    /// # }
    /// ```
    pub fn connection_log(&self) -> Vec<ConnectionRecord> {
        self.shared.log.records()
    }

    /// Starts keeping every request the server receives — WebSocket text frames and the
    /// bodies of `POST …/responses` — (off by default, so that a long-running server keeps
    /// nothing): [`requests`](Self::requests) gives them.
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// server.record_requests();
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// conn.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert!(server.requests()[0].contains(r#""type":"response.create""#));
    /// # Ok(())
    /// # }
    /// ```
    pub fn record_requests(&self) {
        self.shared.record_requests();
    }

    /// The requests received since [`record_requests`](Self::record_requests) (WebSocket
    /// text frames and HTTP request bodies), in the order the server read them (those of
    /// concurrent connections interleave).
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # use responses_ws_tokio::{Config, Connection, ResponseCreate};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new().text("Hello!", 2)).await?;
    /// assert!(server.requests().is_empty()); // nothing is kept until asked
    /// server.record_requests();
    /// let mut conn = Connection::connect(Config::new(&server.url())?).await?;
    /// conn.run_tool_loop(ResponseCreate::new("gpt-5.5").input("Hi"), |_call| async { String::new() }).await?;
    /// assert_eq!(server.requests().len(), 1);
    /// # Ok(())
    /// # }
    /// ```
    pub fn requests(&self) -> Vec<String> {
        self.shared.recorded()
    }

    /// Stops the server and waits until it is over: the listener is closed (the port refuses
    /// connections) and every connection task has ended, its socket closed without a close
    /// frame. Dropping the server does the same without waiting.
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let server = MockServer::start(Script::new()).await?;
    /// let addr = server.addr();
    /// server.shutdown().await;
    /// assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    /// # Ok(())
    /// # }
    /// ```
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
///
/// ```
/// # use responses_ws_tokio::mock::{MockServer, Script};
/// # // One hand-written HTTP request for the JSON answer.
/// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
/// #     use std::io::{Read as _, Write as _};
/// #     let mut tcp = std::net::TcpStream::connect(addr)?;
/// #     let body = r#"{"input":"Hello"}"#;
/// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
/// #     let mut answer = String::new();
/// #     tcp.read_to_string(&mut answer)?;
/// #     Ok(answer)
/// # }
/// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
/// assert!(post(server.addr())?.contains(r#""status":"completed""#));
/// server.shutdown();
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct MockServerThread {
    server: MockServer,
    thread: Option<thread::JoinHandle<()>>,
}

impl MockServerThread {
    /// See [`MockServer::addr`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// assert!(post(server.addr())?.starts_with("HTTP/1.1 200 OK\r\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn addr(&self) -> SocketAddr {
        self.server.addr()
    }

    /// See [`MockServer::url`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// assert_eq!(server.url(), format!("ws://{}/v1/responses", server.addr()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn url(&self) -> String {
        self.server.url()
    }

    /// See [`MockServer::http_base`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// assert_eq!(server.http_base(), format!("http://{}/v1", server.addr()));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn http_base(&self) -> String {
        self.server.http_base()
    }

    /// See [`MockServer::traffic`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// post(server.addr())?;
    /// assert_eq!(server.traffic().frames_received, 1); // the request body
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn traffic(&self) -> Traffic {
        self.server.traffic()
    }

    /// See [`MockServer::connections`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// post(server.addr())?;
    /// post(server.addr())?;
    /// assert_eq!(server.connections(), 2);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connections(&self) -> u64 {
        self.server.connections()
    }

    /// See [`MockServer::connection_log`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// post(server.addr())?;
    /// let log = server.connection_log();
    /// assert_eq!(log.len(), 1);
    /// assert!(log[0].upgrade.is_none()); // plain HTTP, no WebSocket upgrade
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn connection_log(&self) -> Vec<ConnectionRecord> {
        self.server.connection_log()
    }

    /// See [`MockServer::record_requests`].
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// server.record_requests();
    /// assert!(server.requests().is_empty(), "nothing received yet");
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_requests(&self) {
        self.server.record_requests()
    }

    /// See [`MockServer::requests`]: HTTP request bodies too.
    ///
    /// ```
    /// # use std::io::{Read as _, Write as _};
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// server.record_requests();
    /// let mut tcp = std::net::TcpStream::connect(server.addr())?;
    /// let body = r#"{"input":"Hello"}"#;
    /// write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// tcp.read_to_string(&mut String::new())?;
    /// assert_eq!(server.requests(), [body]);
    /// server.shutdown();
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn requests(&self) -> Vec<String> {
        self.server.requests()
    }

    /// Stops the server and joins its thread: the port refuses connections and every
    /// connection is closed when this returns. A panic of the server thread is resumed here.
    ///
    /// ```
    /// # use responses_ws_tokio::mock::{MockServer, Script};
    /// # // One hand-written HTTP request for the JSON answer.
    /// # fn post(addr: std::net::SocketAddr) -> std::io::Result<String> {
    /// #     use std::io::{Read as _, Write as _};
    /// #     let mut tcp = std::net::TcpStream::connect(addr)?;
    /// #     let body = r#"{"input":"Hello"}"#;
    /// #     write!(tcp, "POST /v1/responses HTTP/1.1\r\nHost: mock\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())?;
    /// #     let mut answer = String::new();
    /// #     tcp.read_to_string(&mut answer)?;
    /// #     Ok(answer)
    /// # }
    /// let server = MockServer::start_in_thread(Script::new().text("Hi!", 1))?;
    /// let addr = server.addr();
    /// server.shutdown();
    /// assert!(std::net::TcpStream::connect(addr).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
/// Every connection starts as HTTP; a WebSocket upgrade hands it over to the WebSocket driver.
async fn serve_connection(stream: TcpStream, shared: Arc<Shared>) {
    let _ = stream.set_nodelay(true);
    let entry = shared.log.open(shared.now().elapsed());
    let _ = http::HttpDriver::new(stream, Arc::clone(&shared), entry)
        .serve()
        .await;
    let closed = shared.now().elapsed();
    shared
        .log
        .update(entry, |record| record.closed = Some(closed));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unspecified_addresses_are_dialled_on_loopback() {
        assert_eq!(
            connectable("0.0.0.0:80".parse().unwrap()),
            "127.0.0.1:80".parse().unwrap()
        );
        assert_eq!(
            connectable("[::]:80".parse().unwrap()),
            "[::1]:80".parse().unwrap()
        );
    }
}
