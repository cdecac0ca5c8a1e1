//! Interop on loopback with real third-party peers: Python `websockets` and Node `ws`, each as an
//! echo server for our client and as a client of our server (the core driven by
//! [`WsStream`]). Install the peers first with `bash tests/interop/install.sh`; a missing peer
//! fails the test, it is never skipped.
//!
//! Every test runs the same four connections, described in `tests/interop/peer.py`:
//!
//! 1. `main`: 1,000 echoed messages of mixed sizes (text and binary, xorshift32 sizes, most under
//!    1 KiB, ~9% up to 64 KiB, ~1% near 1 MiB, plus 0/125/126/127/65535/65536/1 MiB), fragmented
//!    text split inside multi-byte characters, fragmented binary with a ping between fragments
//!    (not from the Python client), a ping each way, then the client closes with 4000.
//! 2. `server-close`: the server closes with 4001 on request.
//! 3. `invalid-to-server`: the client writes a raw text frame of invalid UTF-8; the server must
//!    fail the connection with 1007.
//! 4. `invalid-to-client`: the same from the server to the client.
//!
//! Both ends are checked: the events and [`Closed`] our core reports, and the line the peer prints
//! for each connection (`closed rcvd=CODE` or `failed sent=CODE`).
//!
//! permessage-deflate: both peers' clients offer it (their default) and our server accepts it, so
//! every message from them to our server is compressed; their echo servers run once without it
//! (our client's offer is declined: plain frames) and once with it (every message compressed both
//! ways; Node's `ws` leaves messages under 1 KiB uncompressed, so frames of both kinds mix).

use bytes::Bytes;
use responses_ws_core::ws::{
    CloseCode, Closed, Config, Error, Event, Message, MessageKind, ProtocolError,
};
use responses_ws_tests::driver::WsStream;
use std::io::{BufRead, BufReader, ErrorKind};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// A peer still running after this is killed (the test then fails on the lost connection).
const PEER_DEADLINE: Duration = Duration::from_secs(60);
/// Longest wait for one line of peer output, a port file or a connection.
const WAIT: Duration = Duration::from_secs(20);
const MESSAGES: usize = 1000;
const FIXED_SIZES: [usize; 8] = [0, 1, 125, 126, 127, 65535, 65536, 1 << 20];
const UNIT: &str = "héllo wörld ✓ 😀 0123456789 ";
/// `fragmented téxt ✓ 😀 end`, split inside é, ✓ and 😀.
const FRAG_TEXT: [&[u8]; 3] = [
    b"fragmented t\xc3",
    b"\xa9xt \xe2\x9c",
    b"\x93 \xf0\x9f\x98\x80 end",
];
/// A text frame of `\xff\xfe`, unmasked (server to client) and masked with a zero key.
const INVALID_FROM_SERVER: [u8; 4] = [0x81, 0x02, 0xff, 0xfe];
const INVALID_FROM_CLIENT: [u8; 8] = [0x81, 0x82, 0, 0, 0, 0, 0xff, 0xfe];

#[test]
fn python_echo_server_with_our_client() {
    our_client_against(Peer::Python, false);
}

#[test]
fn node_echo_server_with_our_client() {
    our_client_against(Peer::Node, false);
}

#[test]
fn python_deflate_echo_server_with_our_client() {
    our_client_against(Peer::Python, true);
}

#[test]
fn node_deflate_echo_server_with_our_client() {
    our_client_against(Peer::Node, true);
}

#[test]
fn python_client_with_our_server() {
    our_server_against(Peer::Python);
}

#[test]
fn node_client_with_our_server() {
    our_server_against(Peer::Node);
}

// ------------------------------------------------------------------------------------- scenarios

/// Our client against the peer's echo server, which accepts permessage-deflate if `deflate`.
fn our_client_against(peer: Peer, deflate: bool) {
    let port_file = std::env::temp_dir().join(format!(
        "responses-ws-interop-{}-{peer:?}-{deflate}.port",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&port_file);
    let port_arg = port_file.to_str().unwrap();
    let args: &[&str] = if deflate {
        &["echo-server", port_arg, "deflate"]
    } else {
        &["echo-server", port_arg]
    };
    let mut server = PeerProcess::spawn(peer, args);
    let url = format!("ws://127.0.0.1:{}/", server.wait_port(&port_file));
    let _ = std::fs::remove_file(&port_file);
    let connect = || {
        let mut ws = WsStream::connect(&url, &[], Config::default())
            .unwrap_or_else(|e| panic!("connect to {peer:?}: {e}"));
        assert_eq!(
            ws.connection().deflate().is_some(),
            deflate,
            "permessage-deflate agreed"
        );
        ws
    };

    let mut ws = connect();
    client_script(&mut ws);
    ws.close(CloseCode(4000), "client done").unwrap();
    assert_eq!(closed(&mut ws), clean_close(4000, "client done"));
    server.expect_line("closed rcvd=4000");

    let mut ws = connect();
    ws.send(Message::from("please-close:4001")).unwrap();
    assert_eq!(closed(&mut ws), clean_close(4001, "requested"));
    server.expect_line("closed rcvd=4001");

    let mut ws = connect();
    ws.write_raw(&INVALID_FROM_CLIENT).unwrap();
    assert_peer_failed(closed(&mut ws), CloseCode::INVALID_PAYLOAD);
    server.expect_line("failed sent=1007");

    let mut ws = connect();
    ws.send(Message::from("please-send-invalid")).unwrap();
    assert_we_failed(
        closed(&mut ws),
        CloseCode::INVALID_PAYLOAD,
        ProtocolError::InvalidUtf8,
    );
    server.expect_line("closed rcvd=1007");
}

fn our_server_against(peer: Peer) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let mut client = PeerProcess::spawn(peer, &["client", &url]);

    let expected = script().chain([
        fragmented(MessageKind::Text, &FRAG_TEXT),
        fragmented(MessageKind::Binary, &frag_binary()),
    ]);
    let main = serve(client.accept(&listener), expected);
    let mut pings = vec![Bytes::from("ping-1")];
    if peer == Peer::Node {
        pings.insert(0, Bytes::from("mid-fragment"));
    }
    assert_eq!((main.echoed, main.pings), (MESSAGES + 2, pings));
    assert_eq!(main.closed, clean_close(4000, "client done"));
    client.expect_line("main: closed rcvd=4000");

    let served = serve(client.accept(&listener), std::iter::empty());
    assert_eq!(served.closed, clean_close(4001, "requested"));
    client.expect_line("server-close: closed rcvd=4001");

    let served = serve(client.accept(&listener), std::iter::empty());
    assert_we_failed(
        served.closed,
        CloseCode::INVALID_PAYLOAD,
        ProtocolError::InvalidUtf8,
    );
    client.expect_line("invalid-to-server: closed rcvd=1007");

    let served = serve(client.accept(&listener), std::iter::empty());
    assert_peer_failed(served.closed, CloseCode::INVALID_PAYLOAD);
    client.expect_line("invalid-to-client: failed sent=1007");
    client.expect_line("PASS");
    client.wait_success();
}

/// The client side of the `main` connection, up to (not including) the close.
fn client_script(ws: &mut WsStream) {
    for (i, message) in script().enumerate() {
        ws.send(message.clone()).unwrap();
        expect_message(ws, &message, &format!("echo of message {i}"));
    }
    ws.send_fragmented(MessageKind::Text, &FRAG_TEXT).unwrap();
    expect_message(
        ws,
        &fragmented(MessageKind::Text, &FRAG_TEXT),
        "fragmented text echo",
    );

    let pieces = frag_binary();
    for (k, piece) in pieces.iter().enumerate() {
        let conn = ws.connection();
        conn.send_fragment(
            MessageKind::Binary,
            Bytes::copy_from_slice(piece),
            k + 1 == pieces.len(),
        )
        .unwrap();
        if k == 0 {
            conn.send_ping(Bytes::from("mid-fragment")).unwrap();
        }
        ws.flush().unwrap();
    }
    assert_eq!(next(ws), Event::Pong(Bytes::from("mid-fragment")));
    expect_message(
        ws,
        &fragmented(MessageKind::Binary, &pieces),
        "fragmented binary echo",
    );

    ws.ping(b"ping-1").unwrap();
    assert_eq!(next(ws), Event::Pong(Bytes::from("ping-1")));
    ws.send(Message::from("please-ping:srv-ping")).unwrap();
    assert_eq!(next(ws), Event::Ping(Bytes::from("srv-ping")));
    expect_message(ws, &Message::from("pong-ok:srv-ping"), "pong-ok");
}

/// What our server saw on one connection.
struct Served {
    closed: Closed,
    /// Data messages echoed (commands excluded).
    echoed: usize,
    /// Payloads of the pings received.
    pings: Vec<Bytes>,
}

/// Our echo server on one accepted connection: checks each data message against `expected`,
/// echoes it, obeys the `please-*` commands, and returns when the connection is closed.
fn serve(tcp: TcpStream, mut expected: impl Iterator<Item = Message>) -> Served {
    let mut ws = WsStream::accept(tcp, Config::default()).expect("handshake with the peer client");
    assert!(
        ws.connection().deflate().is_some(),
        "the peer's client offers permessage-deflate and our server accepts it"
    );
    let (mut echoed, mut pings, mut pending_ping) = (0, Vec::new(), None);
    loop {
        match next(&mut ws) {
            Event::Message(Message::Text(t)) if t.starts_with("please-") => {
                if let Some(code) = t.strip_prefix("please-close:") {
                    ws.close(CloseCode(code.parse().unwrap()), "requested")
                        .unwrap();
                } else if let Some(data) = t.strip_prefix("please-ping:") {
                    ws.ping(data.as_bytes()).unwrap();
                    pending_ping = Some(Bytes::copy_from_slice(data.as_bytes()));
                } else if t.as_str() == "please-send-invalid" {
                    ws.write_raw(&INVALID_FROM_SERVER).unwrap();
                } else {
                    panic!("unknown command {t:?}");
                }
            }
            Event::Message(message) => {
                let want = expected
                    .next()
                    .unwrap_or_else(|| panic!("unexpected {}", summary(&message)));
                assert!(
                    message == want,
                    "message {echoed}: got {}, want {}",
                    summary(&message),
                    summary(&want)
                );
                ws.send(message).unwrap();
                echoed += 1;
            }
            Event::Ping(payload) => pings.push(payload),
            Event::Pong(payload) if pending_ping.as_ref() == Some(&payload) => {
                pending_ping = None;
                ws.send(Message::from(format!(
                    "pong-ok:{}",
                    String::from_utf8_lossy(&payload)
                )))
                .unwrap();
            }
            Event::Closed(closed) => {
                assert!(
                    expected.next().is_none(),
                    "the peer closed before the end of the script"
                );
                return Served {
                    closed,
                    echoed,
                    pings,
                };
            }
            other => panic!("unexpected event {other:?}"),
        }
    }
}

// ------------------------------------------------------------------------------------- script

/// The 1,000 scripted messages (same recipe as `script()` in peer.py and peer.mjs).
fn script() -> impl Iterator<Item = Message> {
    let mut x: u32 = 0x9E37_79B9;
    let mut draw = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    };
    (0..MESSAGES).map(move |i| {
        let (a, b) = (draw(), draw());
        let band = (a >> 1) % 100;
        let size = match (FIXED_SIZES.get(i), band) {
            (Some(&size), _) => size,
            (None, 0) => (1 << 20) - (b % 4096) as usize,
            (None, 1..=9) => (b % 65536) as usize,
            (None, _) => (b % 1024) as usize,
        };
        if a & 1 == 0 {
            let mut full = format!("#{i}:").into_bytes();
            full.extend(UNIT.as_bytes().repeat(size / UNIT.len() + 1));
            let mut cut = size;
            while cut > 0 && full[cut] & 0xC0 == 0x80 {
                cut -= 1;
            }
            full.truncate(cut);
            full.resize(size, b'.');
            Message::from(String::from_utf8(full).unwrap())
        } else {
            Message::Binary(
                (0..size)
                    .map(|j| (i + 7 * j) as u8)
                    .collect::<Vec<u8>>()
                    .into(),
            )
        }
    })
}

/// The pieces of the fragmented binary message: 70,000 bytes (64-bit length), 200, and none.
fn frag_binary() -> [Vec<u8>; 3] {
    [
        (0..70_000).map(|j| (j % 251) as u8).collect(),
        b"\x00\xff".repeat(100),
        Vec::new(),
    ]
}

fn fragmented<P: AsRef<[u8]>>(kind: MessageKind, pieces: &[P]) -> Message {
    let whole: Vec<u8> = pieces
        .iter()
        .flat_map(|p| p.as_ref().iter().copied())
        .collect();
    match kind {
        MessageKind::Text => Message::from(String::from_utf8(whole).unwrap()),
        MessageKind::Binary => Message::Binary(whole.into()),
    }
}

// ------------------------------------------------------------------------------------- checks

fn next(ws: &mut WsStream) -> Event {
    ws.next_event()
        .expect("socket error")
        .expect("connection ended without Event::Closed")
}

fn expect_message(ws: &mut WsStream, want: &Message, what: &str) {
    match next(ws) {
        Event::Message(got) => assert!(
            got == *want,
            "{what}: got {}, want {}",
            summary(&got),
            summary(want)
        ),
        other => panic!("{what}: got {other:?}"),
    }
}

/// Reads until [`Event::Closed`]. A write error is tolerated: the peer may have dropped the socket
/// before our close echo went out; the event is still delivered by the next call.
fn closed(ws: &mut WsStream) -> Closed {
    for _ in 0..3 {
        match ws.next_event() {
            Ok(Some(Event::Closed(closed))) => return closed,
            Ok(other) => panic!("expected Event::Closed, got {other:?}"),
            Err(e) => eprintln!("socket error while closing (tolerated): {e}"),
        }
    }
    panic!("no Event::Closed")
}

/// A close handshake with `code` that went both ways, our echo carrying the same code.
fn clean_close(code: u16, reason: &str) -> Closed {
    Closed {
        code: CloseCode(code),
        reason: reason.into(),
        sent_code: Some(CloseCode(code)),
        clean: true,
        error: None,
    }
}

/// The peer failed the connection with `code`; we echoed it (reason is the peer's own words).
fn assert_peer_failed(closed: Closed, code: CloseCode) {
    assert_eq!(
        (closed.code, closed.sent_code, closed.clean, &closed.error),
        (code, Some(code), true, &None),
        "{closed:?}"
    );
}

/// We failed the connection with `code` for `error`, without waiting for the peer's answer.
fn assert_we_failed(closed: Closed, code: CloseCode, error: ProtocolError) {
    let expected = (
        CloseCode::ABNORMAL,
        Some(code),
        false,
        Some(Error::Protocol(error)),
    );
    assert_eq!(
        (closed.code, closed.sent_code, closed.clean, closed.error),
        expected
    );
}

/// A short description of a message (payloads may be 1 MiB).
fn summary(message: &Message) -> String {
    let bytes = message.as_bytes();
    format!(
        "{:?} of {} bytes starting {:?}",
        message.kind(),
        bytes.len(),
        &bytes[..bytes.len().min(16)]
    )
}

// ------------------------------------------------------------------------------------- peers

/// A third-party peer implementation, run from `tests/interop/`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// `peer.py` on Python `websockets`, in the venv `tests/.peers/venv`.
    Python,
    /// `peer.mjs` on Node `ws`, in `tests/interop/node_modules`.
    Node,
}

const INSTALL_HINT: &str = "install the interop peers with `bash tests/interop/install.sh`";

impl Peer {
    /// The command running this peer's script; panics if the interpreter or package is missing.
    fn command(self) -> Command {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let interop = root.join("interop");
        let (program, script, probe): (PathBuf, _, _) = match self {
            Peer::Python => (
                root.join(".peers/venv/bin/python"),
                "peer.py",
                ["-c", "import websockets"],
            ),
            Peer::Node => ("node".into(), "peer.mjs", ["-e", "require.resolve('ws')"]),
        };
        let installed = Command::new(&program)
            .args(probe)
            .current_dir(&interop)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            installed,
            "{self:?} peer missing: `{} {}` failed; {INSTALL_HINT}",
            program.display(),
            probe.join(" ")
        );
        let mut command = Command::new(program);
        command.arg(interop.join(script));
        command
    }
}

/// A running peer process: its stdout lines arrive on a channel; it is killed when dropped, or by
/// a watchdog after [`PEER_DEADLINE`].
struct PeerProcess {
    peer: Peer,
    child: Arc<Mutex<Child>>,
    lines: Receiver<String>,
    _stop_watchdog: Sender<()>,
}

impl PeerProcess {
    fn spawn(peer: Peer, args: &[&str]) -> PeerProcess {
        let mut child = peer
            .command()
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start the {peer:?} peer: {e}; {INSTALL_HINT}"));
        let stdout = BufReader::new(child.stdout.take().unwrap());
        let (line_tx, lines) = mpsc::channel();
        thread::spawn(move || {
            stdout
                .lines()
                .map_while(Result::ok)
                .try_for_each(|line| line_tx.send(line))
        });
        let child = Arc::new(Mutex::new(child));
        let (stop_watchdog, stop) = mpsc::channel::<()>();
        let watched = Arc::clone(&child);
        thread::spawn(move || {
            if stop.recv_timeout(PEER_DEADLINE) == Err(RecvTimeoutError::Timeout) {
                eprintln!("{peer:?} peer still running after {PEER_DEADLINE:?}: killing it");
                let _ = watched
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .kill();
            }
        });
        PeerProcess {
            peer,
            child,
            lines,
            _stop_watchdog: stop_watchdog,
        }
    }

    /// Panics with the peer's exit status if it has exited.
    fn check_running(&self, waiting_for: &str) {
        if let Some(status) = self
            .child
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .try_wait()
            .unwrap()
        {
            panic!("{:?} peer exited ({status}) while we waited for {waiting_for} (its stderr is above); {INSTALL_HINT}", self.peer);
        }
    }

    /// The port an echo server wrote to `port_file`.
    fn wait_port(&self, port_file: &Path) -> u16 {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Ok(text) = std::fs::read_to_string(port_file) {
                return text.trim().parse().expect("port file");
            }
            self.check_running("its port file");
            assert!(
                Instant::now() < deadline,
                "{:?} peer wrote no port file",
                self.peer
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The next connection from a peer client.
    fn accept(&self, listener: &TcpListener) -> TcpStream {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + WAIT;
        loop {
            match listener.accept() {
                Ok((tcp, _)) => {
                    tcp.set_nonblocking(false).unwrap();
                    return tcp;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    self.check_running("a connection");
                    assert!(
                        Instant::now() < deadline,
                        "{:?} peer did not connect",
                        self.peer
                    );
                    thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("accept: {e}"),
            }
        }
    }

    /// Asserts that the peer's next line of output is `want`.
    fn expect_line(&mut self, want: &str) {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => assert_eq!(line, want, "{:?} peer output", self.peer),
            Err(_) => panic!(
                "{:?} peer printed nothing (wanted {want:?}); its stderr is above",
                self.peer
            ),
        }
    }

    /// Waits for the peer to exit and asserts it succeeded.
    fn wait_success(&self) {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self
                .child
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .try_wait()
                .unwrap()
            {
                return assert!(status.success(), "{:?} peer failed: {status}", self.peer);
            }
            assert!(
                Instant::now() < deadline,
                "{:?} peer did not exit",
                self.peer
            );
            thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for PeerProcess {
    fn drop(&mut self) {
        let mut child = self.child.lock().unwrap_or_else(PoisonError::into_inner);
        let _ = child.kill();
        let _ = child.wait();
    }
}
