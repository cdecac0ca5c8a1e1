//! The byte pipe under a connection: a `std::net::TcpStream`, inside a
//! `rustls::StreamOwned` for `wss://`. This file opens it (resolve, connect with a timeout over
//! every address, TCP_NODELAY, the TLS handshake), sets its timeouts and shuts it down. It
//! knows nothing of WebSocket or of the core.

use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::{Duration, Instant};

use responses_ws_core::ws::WsUrl;
use responses_ws_tls::rustls::{ClientConfig, ClientConnection, Stream, StreamOwned};
use responses_ws_tls::TlsError;

use crate::ConnectError;

/// The shortest socket timeout set: std refuses a zero timeout.
const MIN_TIMEOUT: Duration = Duration::from_millis(1);

/// How long a TLS `close_notify` may take on the way out.
const CLOSE_NOTIFY_TIMEOUT: Duration = Duration::from_millis(200);

/// A connected socket, plain or TLS.
#[derive(Debug)]
pub(crate) struct Transport {
    stream: Inner,
    /// `host:port` of the URL, for errors.
    target: String,
    /// The socket timeout last set, to skip redundant system calls.
    timeout: Option<Option<Duration>>,
}

#[derive(Debug)]
enum Inner {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Transport {
    /// Connects to `url`'s host within `timeout` (TCP and, for `wss://`, the TLS handshake
    /// with `tls`).
    pub(crate) fn open(
        url: &WsUrl,
        tls: Option<&Arc<ClientConfig>>,
        timeout: Duration,
    ) -> Result<Transport, ConnectError> {
        let deadline = Instant::now() + timeout;
        let target = target(url);
        let tcp = connect_tcp(url.host(), url.port(), deadline, &target, timeout)?;
        let stream = match tls {
            None => Inner::Plain(tcp),
            Some(config) => {
                let handshake = TlsHandshake {
                    deadline,
                    target: &target,
                    timeout,
                };
                Inner::Tls(Box::new(handshake.run(tcp, config, url.host())?))
            }
        };
        Ok(Transport {
            stream,
            target,
            timeout: None,
        })
    }

    /// `host:port` of the URL.
    pub(crate) fn target(&self) -> &str {
        &self.target
    }

    fn tcp(&self) -> &TcpStream {
        match &self.stream {
            Inner::Plain(tcp) => tcp,
            Inner::Tls(tls) => tls.get_ref(),
        }
    }

    /// Sets the read and write timeouts (`None`: block); at least 1 ms.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        let timeout = timeout.map(|t| t.max(MIN_TIMEOUT));
        if self.timeout != Some(timeout) {
            self.tcp().set_read_timeout(timeout)?;
            self.tcp().set_write_timeout(timeout)?;
            self.timeout = Some(timeout);
        }
        Ok(())
    }

    /// Ends the connection: a TLS `close_notify` (best effort), then the TCP shutdown.
    pub(crate) fn shutdown(mut self) {
        if let Inner::Tls(tls) = &mut self.stream {
            tls.conn.send_close_notify();
            if self.set_timeout(Some(CLOSE_NOTIFY_TIMEOUT)).is_ok() {
                // The peer may be gone already; nothing to do about it.
                let _ = self.flush();
            }
        }
        let _ = self.tcp().shutdown(Shutdown::Both);
    }
}

impl Read for Transport {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.stream {
            Inner::Plain(tcp) => tcp.read(buf),
            Inner::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Transport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.stream {
            Inner::Plain(tcp) => tcp.write(buf),
            Inner::Tls(tls) => tls.write(buf),
        }
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        match &mut self.stream {
            Inner::Plain(tcp) => tcp.write_vectored(bufs),
            // `StreamOwned` does not forward `write_vectored`; the borrowed `Stream` does.
            Inner::Tls(tls) => {
                let StreamOwned { conn, sock } = tls.as_mut();
                Stream::new(conn, sock).write_vectored(bufs)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.stream {
            Inner::Plain(tcp) => tcp.flush(),
            Inner::Tls(tls) => tls.flush(),
        }
    }
}

/// `host:port`, for messages (an IPv6 host in brackets).
fn target(url: &WsUrl) -> String {
    match url.host().contains(':') {
        true => format!("[{}]:{}", url.host(), url.port()),
        false => format!("{}:{}", url.host(), url.port()),
    }
}

/// Whether an IO error is a socket timeout (`WouldBlock` on Unix, `TimedOut` on Windows).
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// Time left until `deadline`, or `None` once it has passed.
fn remaining(deadline: Instant) -> Option<Duration> {
    deadline
        .checked_duration_since(Instant::now())
        .filter(|left| !left.is_zero())
}

/// Connects to the first address of `host` that answers before `deadline`, with TCP_NODELAY.
/// Errors name `target` (`host:port`), as the other adapters do.
fn connect_tcp(
    host: &str,
    port: u16,
    deadline: Instant,
    target: &str,
    timeout: Duration,
) -> Result<TcpStream, ConnectError> {
    let timed_out = || ConnectError::Timeout {
        addr: target.into(),
        after: timeout,
    };
    let io_error = |source| ConnectError::Io {
        addr: target.into(),
        source,
    };
    let addrs = (host, port).to_socket_addrs().map_err(io_error)?;
    let mut last = None;
    for addr in addrs {
        let left = remaining(deadline).ok_or_else(timed_out)?;
        match TcpStream::connect_timeout(&addr, left) {
            Ok(tcp) => {
                tcp.set_nodelay(true).map_err(io_error)?;
                return Ok(tcp);
            }
            Err(error) if is_timeout(&error) => last = Some(timed_out()),
            Err(source) => last = Some(io_error(source)),
        }
    }
    Err(last.unwrap_or_else(|| io_error(io::Error::new(io::ErrorKind::NotFound, "no address"))))
}

/// The TLS handshake of a new TCP connection, within the connect deadline.
struct TlsHandshake<'a> {
    deadline: Instant,
    target: &'a str,
    timeout: Duration,
}

impl TlsHandshake<'_> {
    fn run(
        &self,
        mut tcp: TcpStream,
        config: &Arc<ClientConfig>,
        host: &str,
    ) -> Result<StreamOwned<ClientConnection, TcpStream>, ConnectError> {
        let name = responses_ws_tls::server_name(host).map_err(ConnectError::Tls)?;
        let mut conn = ClientConnection::new(Arc::clone(config), name)
            .map_err(|error| ConnectError::Tls(TlsError::Rustls(error)))?;
        while conn.is_handshaking() {
            let left = remaining(self.deadline).ok_or_else(|| self.timed_out())?;
            let set = tcp
                .set_read_timeout(Some(left))
                .and_then(|()| tcp.set_write_timeout(Some(left)));
            let result = set.and_then(|()| conn.complete_io(&mut tcp));
            match result {
                Ok(_) => {}
                Err(error) if is_timeout(&error) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => {
                    return Err(ConnectError::TlsHandshake {
                        addr: self.target.into(),
                        source,
                    })
                }
            }
        }
        Ok(StreamOwned::new(conn, tcp))
    }

    fn timed_out(&self) -> ConnectError {
        ConnectError::Timeout {
            addr: self.target.into(),
            after: self.timeout,
        }
    }
}
