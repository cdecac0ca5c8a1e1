//! [`Socket`]: the byte stream of one connection and the chunks of the core's output being
//! written to it. Writes are vectored when several chunks wait; a chunk partly written stays
//! here, its written part cut off, and is finished first by the next call (so a cancelled
//! write loses nothing). Reads go straight into the core's buffer: a read lands there or not
//! at all; a read that would wait lets the core give that buffer back while it is idle. A socket serves a [`Wire`]: one connection's client, or one connection of a pool.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_io::{AsyncRead, AsyncWrite};
use responses_ws_core::client::Client;
use responses_ws_core::pool::{ConnId, Pool};
use responses_ws_core::Instant;

use crate::runtime::AsyncIo;

/// Chunks taken from the core ahead of the socket, at most: the rest waits in the core's
/// bounded queue, so the core's backpressure (`QueueFull`) still holds.
const MAX_CHUNKS: usize = 16;

/// The machine a socket feeds and drains: a connection's [`Client`], or one connection of
/// a [`Pool`].
pub(crate) trait Wire {
    /// The next bytes to write.
    fn poll_transmit(&mut self) -> Option<Bytes>;
    /// Free space to read into.
    fn input_buffer(&mut self) -> &mut [u8];
    /// A read found nothing to read: the buffer may be given back while the wire is idle.
    fn release_input_buffer(&mut self);
    /// `n` bytes were read into the input buffer.
    fn commit_input(&mut self, n: usize, now: Instant);
    /// The stream ended or failed.
    fn handle_eof(&mut self, now: Instant);
}

impl Wire for Client {
    fn poll_transmit(&mut self) -> Option<Bytes> {
        Client::poll_transmit(self)
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        Client::input_buffer(self)
    }
    fn release_input_buffer(&mut self) {
        Client::release_input_buffer(self)
    }
    fn commit_input(&mut self, n: usize, now: Instant) {
        Client::commit_input(self, n, now)
    }
    fn handle_eof(&mut self, now: Instant) {
        Client::handle_eof(self, now)
    }
}

/// One connection of a pool, as a [`Wire`].
pub(crate) struct PoolWire<'a> {
    pub(crate) pool: &'a mut Pool,
    pub(crate) conn: ConnId,
}

impl Wire for PoolWire<'_> {
    fn poll_transmit(&mut self) -> Option<Bytes> {
        self.pool.poll_transmit(self.conn)
    }
    fn input_buffer(&mut self) -> &mut [u8] {
        self.pool.input_buffer(self.conn)
    }
    fn release_input_buffer(&mut self) {
        self.pool.release_input_buffer(self.conn)
    }
    fn commit_input(&mut self, n: usize, now: Instant) {
        self.pool.commit_input(self.conn, n, now)
    }
    fn handle_eof(&mut self, now: Instant) {
        self.pool.handle_eof(self.conn, now)
    }
}

/// What a read did.
pub(crate) enum ReadOutcome {
    /// Bytes arrived and were committed to the core.
    Data,
    /// The stream ended (or failed); the core was told.
    Ended,
}

/// One connection's byte stream and its pending output.
pub(crate) struct Socket {
    io: Box<dyn AsyncIo>,
    /// Output taken from the core and not yet written; the front may be partly written.
    chunks: VecDeque<Bytes>,
    /// Bytes were written since the last flush of `io` (TLS buffers records).
    unflushed: bool,
    /// The stream ended or failed: no more reads.
    read_closed: bool,
    /// A write failed: output is dropped from now on.
    write_failed: bool,
    /// The core reported this connection's end.
    ended: bool,
}

impl Socket {
    pub(crate) fn new(io: Box<dyn AsyncIo>) -> Socket {
        Socket {
            io,
            chunks: VecDeque::new(),
            unflushed: false,
            read_closed: false,
            write_failed: false,
            ended: false,
        }
    }

    /// Notes that the core reported the end of this connection.
    pub(crate) fn mark_ended(&mut self) {
        self.ended = true;
    }

    /// Whether the core reported the end of this connection.
    pub(crate) fn ended(&self) -> bool {
        self.ended
    }

    /// Whether the stream has ended for reading.
    pub(crate) fn read_closed(&self) -> bool {
        self.read_closed
    }

    /// Writes everything the core has to send, then flushes. `Ready(Ok)` when all is out,
    /// `Pending` when the stream is full, `Ready(Err)` when a write failed (the caller then
    /// tells the core the connection is lost; output is dropped from then on).
    pub(crate) fn poll_write_all(
        &mut self,
        client: &mut impl Wire,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.write_failed {
                self.chunks.clear();
                while client.poll_transmit().is_some() {}
                return Poll::Ready(Ok(()));
            }
            self.take_output(client);
            if self.chunks.is_empty() {
                if self.unflushed {
                    ready!(self.poll_io(|io, cx| io.poll_flush(cx), cx))?;
                    self.unflushed = false;
                }
                return Poll::Ready(Ok(()));
            }
            match ready!(self.poll_write_chunks(cx)) {
                Ok(written) => self.advance(written),
                Err(error) => {
                    self.write_failed = true;
                    return Poll::Ready(Err(error));
                }
            }
            self.unflushed = true;
        }
    }

    fn take_output(&mut self, client: &mut impl Wire) {
        while self.chunks.len() < MAX_CHUNKS {
            match client.poll_transmit() {
                Some(chunk) if chunk.is_empty() => {}
                Some(chunk) => self.chunks.push_back(chunk),
                None => break,
            }
        }
    }

    /// One write of the waiting chunks: vectored when there are several.
    fn poll_write_chunks(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let result = if self.chunks.len() == 1 {
            Pin::new(&mut self.io).poll_write(cx, &self.chunks[0])
        } else {
            let mut slices = [IoSlice::new(&[]); MAX_CHUNKS];
            for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
                *slice = IoSlice::new(chunk);
            }
            let count = self.chunks.len().min(MAX_CHUNKS);
            Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count])
        };
        match ready!(result) {
            Ok(0) => Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Ok(n) => Poll::Ready(Ok(n)),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
            Err(error) => Poll::Ready(Err(error)),
        }
    }

    /// Drops `n` written bytes from the front of the chunks.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n >= front.len() {
                n -= front.len();
                self.chunks.pop_front();
            } else {
                front.advance(n);
                n = 0;
            }
        }
    }

    fn poll_io(
        &mut self,
        op: impl FnOnce(Pin<&mut dyn AsyncIo>, &mut Context<'_>) -> Poll<io::Result<()>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let result = ready!(op(Pin::new(&mut *self.io), cx));
        if result.is_err() {
            self.write_failed = true;
        }
        Poll::Ready(result)
    }

    /// Reads once into the core's buffer and tells the core (`now` gives the time after the
    /// read). The end of the stream or a read error is reported to the core as end of file.
    pub(crate) fn poll_read(
        &mut self,
        client: &mut impl Wire,
        now: impl Fn() -> Instant,
        cx: &mut Context<'_>,
    ) -> Poll<ReadOutcome> {
        loop {
            let Poll::Ready(result) = Pin::new(&mut self.io).poll_read(cx, client.input_buffer())
            else {
                // Nothing to read: an idle connection holds no read buffer while it waits.
                client.release_input_buffer();
                return Poll::Pending;
            };
            match result {
                Ok(0) => {}
                Ok(n) => {
                    client.commit_input(n, now());
                    return Poll::Ready(ReadOutcome::Data);
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => {}
            }
            self.read_closed = true;
            client.handle_eof(now());
            return Poll::Ready(ReadOutcome::Ended);
        }
    }

    /// Shuts the stream down (TLS `close_notify`, TCP FIN). Errors are of no interest: the
    /// connection is over.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if self.write_failed {
            return Poll::Ready(());
        }
        let _ = ready!(Pin::new(&mut self.io).poll_close(cx));
        Poll::Ready(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use std::task::Waker;

    /// What the socket saw: the bytes, and (slices given, bytes taken) per write.
    #[derive(Default)]
    struct Seen {
        bytes: Vec<u8>,
        writes: Vec<(usize, usize)>,
    }

    /// A stream that takes at most `room` bytes per write, then is full once.
    struct Stream {
        vectored: bool,
        room: usize,
        full_next: bool,
        seen: Arc<Mutex<Seen>>,
    }

    impl AsyncWrite for Stream {
        fn poll_write(
            self: Pin<&mut Self>,
            cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.poll_write_vectored(cx, &[IoSlice::new(buf)])
        }

        fn poll_write_vectored(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let this = self.get_mut();
            if std::mem::take(&mut this.full_next) {
                return Poll::Pending;
            }
            this.full_next = true;
            let bufs = if this.vectored { bufs } else { &bufs[..1] };
            let mut seen = this.seen.lock().unwrap();
            let mut taken = 0;
            for buf in bufs {
                let n = buf.len().min(this.room - taken);
                seen.bytes.extend_from_slice(&buf[..n]);
                taken += n;
            }
            seen.writes.push((bufs.len(), taken));
            Poll::Ready(Ok(taken))
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Stream {
        fn poll_read(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            _: &mut [u8],
        ) -> Poll<io::Result<usize>> {
            Poll::Pending
        }
    }

    fn socket(vectored: bool, room: usize, chunks: &[&'static [u8]]) -> (Socket, Arc<Mutex<Seen>>) {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let stream = Stream {
            vectored,
            room,
            full_next: false,
            seen: Arc::clone(&seen),
        };
        let mut socket = Socket::new(Box::new(stream));
        socket
            .chunks
            .extend(chunks.iter().map(|c| Bytes::from_static(c)));
        (socket, seen)
    }

    /// Writes until the chunks are out, as the driver does: one write per poll.
    fn write_out(socket: &mut Socket, cx: &mut Context<'_>) {
        while !socket.chunks.is_empty() {
            if let Poll::Ready(written) = socket.poll_write_chunks(cx) {
                socket.advance(written.unwrap());
            }
        }
    }

    #[test]
    fn several_chunks_go_out_in_one_vectored_write_and_a_partial_one_is_finished_first() {
        let mut cx = Context::from_waker(Waker::noop());
        let (mut socket, seen) = socket(true, 5, &[b"abc", b"defg", b"hi"]);
        // One write takes "abcde": "fg" of the second chunk waits, its written part cut off.
        let Poll::Ready(Ok(written)) = socket.poll_write_chunks(&mut cx) else {
            panic!("the first write is taken");
        };
        socket.advance(written);
        assert_eq!(&socket.chunks[0][..], b"fg");
        // The socket is full once; the next write finishes the partial chunk with the rest.
        assert!(socket.poll_write_chunks(&mut cx).is_pending());
        write_out(&mut socket, &mut cx);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.bytes, b"abcdefghi");
        assert_eq!(seen.writes, [(3, 5), (2, 4)]);
    }

    #[test]
    fn without_vectored_io_the_chunks_still_all_go_out_in_order() {
        let mut cx = Context::from_waker(Waker::noop());
        let (mut socket, seen) = socket(false, 100, &[b"abc", b"defg"]);
        write_out(&mut socket, &mut cx);
        let seen = seen.lock().unwrap();
        assert_eq!(seen.bytes, b"abcdefg");
        assert_eq!(seen.writes, [(1, 3), (1, 4)]);
    }
}
