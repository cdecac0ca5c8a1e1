//! A `redis-server` of a test's own: started on a free loopback port in a temporary
//! directory, stopped by its PID (SIGKILL) when dropped or asked to.
//!
//! `tests/run` installs `redis-server` from Debian. Without it the tests fail, unless
//! `RESPONSES_WS_SKIP_REDIS=1` allows them to skip (with a loud message): CI never sets it.
#![allow(dead_code, reason = "each test target uses a part of the helper")]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The variable that lets Redis tests skip when `redis-server` is not installed.
pub(crate) const SKIP_VAR: &str = "RESPONSES_WS_SKIP_REDIS";

/// How long a server may take to answer its first command.
const STARTUP: Duration = Duration::from_secs(10);

/// A running `redis-server`, killed when dropped.
pub(crate) struct RedisServer {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    /// `appendonly yes`, `appendfsync always`: every acknowledged write is on disk.
    durable: bool,
}

impl RedisServer {
    /// A server without persistence; `None` only when skipping is allowed and there is no
    /// `redis-server`.
    pub(crate) fn start() -> Option<RedisServer> {
        RedisServer::launch(false)
    }

    /// A server that fsyncs its append-only file before acknowledging each write, so that
    /// it loses nothing acknowledged when killed.
    pub(crate) fn start_durable() -> Option<RedisServer> {
        RedisServer::launch(true)
    }

    fn launch(durable: bool) -> Option<RedisServer> {
        if !installed() {
            let allowed = std::env::var(SKIP_VAR).is_ok_and(|value| value == "1");
            assert!(
                allowed,
                "redis-server is not installed: `tests/run` installs it (apt-get install \
                 redis-server), or set {SKIP_VAR}=1 to skip the Redis tests"
            );
            // Past the test harness's capture of `eprintln!`: a skip is never silent.
            let _ = writeln!(
                std::io::stderr(),
                "\n!!! SKIPPED: redis-server is not installed and {SKIP_VAR}=1: this Redis test \
                 did not run !!!\n"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("a temporary directory for redis-server");
        let mut server = RedisServer {
            child: None,
            port: 0,
            dir,
            durable,
        };
        // A port found free may be taken before the server binds it: then another one.
        for _ in 0..5 {
            server.port = free_port();
            if server.spawn() {
                return Some(server);
            }
        }
        panic!(
            "redis-server did not start; its log: {}",
            std::fs::read_to_string(server.dir.path().join("redis.log")).unwrap_or_default()
        );
    }

    /// Starts the server process on `self.port`; false if it exited before answering.
    fn spawn(&mut self) -> bool {
        let mut command = Command::new("redis-server");
        command
            .args(["--bind", "127.0.0.1", "--port", &self.port.to_string()])
            .arg("--dir")
            .arg(self.dir.path())
            .args(["--logfile", "redis.log", "--save", "", "--daemonize", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.durable {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let mut child = command.spawn().expect("redis-server starts");
        let deadline = Instant::now() + STARTUP;
        while Instant::now() < deadline {
            match server_pid(self.port) {
                Some(pid) if pid == child.id() => {
                    self.child = Some(child);
                    return true;
                }
                // Another server has the port: ours cannot bind it.
                Some(_) => break,
                None if child.try_wait().expect("redis-server's status").is_some() => break,
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        false
    }

    /// The URL to open a store on this server with.
    pub(crate) fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// The server's port.
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server with SIGKILL, by its PID, and waits for it to exit (a paused one
    /// too: SIGKILL ends a stopped process).
    pub(crate) fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGSTOP (by its PID): connections stay open, nothing answers.
    pub(crate) fn pause(&self) {
        self.signal("-STOP");
    }

    /// Lets a paused server go on with SIGCONT.
    pub(crate) fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let child = self.child.as_ref().expect("a running redis-server");
        let status = Command::new("kill")
            .arg(signal)
            .arg(child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} {}", child.id());
    }

    /// Starts the server again on the same port and directory (with what it persisted).
    pub(crate) fn restart(&mut self) {
        self.kill();
        assert!(self.spawn(), "redis-server restarts on port {}", self.port);
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

/// The process id of the server answering on `port`, once it has loaded its data (a
/// restarted server answers INFO while it still loads its append-only file, and refuses
/// other commands). A port found free may be taken by another test's server, which must
/// not be mistaken for ours: hence the process id.
fn server_pid(port: u16) -> Option<u32> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    stream.write_all(b"INFO\r\n").ok()?;
    let mut reader = BufReader::new(stream);
    let mut header = String::new();
    reader.read_line(&mut header).ok()?;
    let length: usize = header.strip_prefix('$')?.trim().parse().ok()?;
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    let info = String::from_utf8(body).ok()?;
    let field = |name: &str| {
        info.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
            .map(str::trim)
    };
    let pid = field("process_id")?.parse().ok()?;
    (field("loading") == Some("0")).then_some(pid)
}
