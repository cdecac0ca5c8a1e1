//! [`Link`]: one pool connection's socket, shared by the thread that reads it and the threads
//! that write to it. The TCP stream is cloned: reads block on one clone without any lock;
//! writes go through the other under the link's write lock, which is taken before the core's
//! bytes are (so chunks go out in the core's order whoever writes them). For `wss://` the TLS
//! session sits behind its own short lock: a reader decrypts under it, a writer encrypts under
//! it, and neither does socket IO while holding it.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::{Mutex, MutexGuard, PoisonError};

use bytes::Bytes;
use responses_ws_core::pool::ConnId;
use responses_ws_tls::rustls::ClientConnection;

/// Bytes read at once from the socket.
const READ_CHUNK: usize = 16 << 10;

/// One connection's socket.
#[derive(Debug)]
pub(crate) struct Link {
    /// The pool's connection.
    pub(crate) conn: ConnId,
    /// The write half; the lock orders writers.
    writer: Mutex<Writer>,
    tls: Option<Mutex<ClientConnection>>,
}

#[derive(Debug)]
struct Writer {
    tcp: TcpStream,
    /// A write failed: output is dropped from now on.
    broken: bool,
}

/// The read half, owned by the connection's thread.
#[derive(Debug)]
pub(crate) struct Reader {
    tcp: TcpStream,
    buf: Box<[u8]>,
    /// Decrypted bytes, for `wss://`.
    plain: Vec<u8>,
}

/// The writer's turn: held while the core's bytes are taken and written.
pub(crate) struct WriteTurn<'a> {
    link: &'a Link,
    writer: MutexGuard<'a, Writer>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Link {
    /// A link over `tcp`, with the TLS session `tls` for `wss://`.
    pub(crate) fn new(
        conn: ConnId,
        tcp: TcpStream,
        tls: Option<ClientConnection>,
    ) -> io::Result<(Link, Reader)> {
        let reader = Reader {
            tcp: tcp.try_clone()?,
            buf: vec![0; READ_CHUNK].into_boxed_slice(),
            plain: Vec::new(),
        };
        let link = Link {
            conn,
            writer: Mutex::new(Writer { tcp, broken: false }),
            tls: tls.map(Mutex::new),
        };
        Ok((link, reader))
    }

    /// Waits for the writer's turn.
    pub(crate) fn write_turn(&self) -> WriteTurn<'_> {
        WriteTurn {
            link: self,
            writer: lock(&self.writer),
        }
    }

    /// Ends the socket both ways: the reading thread sees the end of the stream.
    pub(crate) fn shut(&self) {
        let writer = lock(&self.writer);
        if let Some(tls) = &self.tls {
            let mut tls = lock(tls);
            tls.send_close_notify();
            let mut out = Vec::new();
            while tls.wants_write() && tls.write_tls(&mut out).is_ok() {}
            drop(tls);
            let _ = (&writer.tcp).write_all(&out);
        }
        let _ = writer.tcp.shutdown(Shutdown::Both);
    }
}

impl WriteTurn<'_> {
    /// Writes `chunks` (blocking); `Err` once the socket is broken.
    pub(crate) fn write(&mut self, chunks: &[Bytes]) -> io::Result<()> {
        if self.writer.broken {
            return Err(io::ErrorKind::BrokenPipe.into());
        }
        let result = match &self.link.tls {
            None => chunks
                .iter()
                .try_for_each(|chunk| self.writer.tcp.write_all(chunk)),
            Some(tls) => {
                let mut cipher = Vec::new();
                {
                    let mut tls = lock(tls);
                    for chunk in chunks {
                        tls.writer().write_all(chunk)?;
                    }
                    while tls.wants_write() {
                        tls.write_tls(&mut cipher)?;
                    }
                }
                self.writer.tcp.write_all(&cipher)
            }
        };
        if result.is_err() {
            self.writer.broken = true;
        }
        result
    }
}

impl Reader {
    /// Blocks until bytes arrive and hands the plain ones to `input`; `Ok(false)` at the end
    /// of the stream.
    pub(crate) fn read(&mut self, link: &Link, input: impl FnOnce(&[u8])) -> io::Result<bool> {
        let n = loop {
            match self.tcp.read(&mut self.buf) {
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                read => break read?,
            }
        };
        if n == 0 {
            return Ok(false);
        }
        let Some(tls) = &link.tls else {
            input(&self.buf[..n]);
            return Ok(true);
        };
        self.plain.clear();
        {
            let mut tls = lock(tls);
            let mut received = &self.buf[..n];
            while !received.is_empty() {
                tls.read_tls(&mut received)?;
                tls.process_new_packets()
                    .map_err(|error| io::Error::new(io::ErrorKind::InvalidData, error))?;
                match tls.reader().read_to_end(&mut self.plain) {
                    Ok(_) => {}
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(error) => return Err(error),
                }
            }
        }
        input(&self.plain);
        Ok(true)
    }
}
