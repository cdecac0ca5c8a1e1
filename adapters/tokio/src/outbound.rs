//! [`Outbound`]: the few chunks taken from the core and being written to the socket. It holds
//! at most [`MAX_BATCH_BYTES`] (or one larger chunk), so bytes wait in the core's bounded queue
//! rather than pile up here; several chunks go out in one vectored write. A chunk written in
//! part stays here and is finished first by the next call, whichever it is.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use responses_ws_core::client::Client;
use tokio::io::AsyncWrite;

/// Bytes taken from the core per batch (more only when one chunk is larger).
const MAX_BATCH_BYTES: usize = 64 << 10;
/// Chunks per vectored write.
const MAX_BATCH_CHUNKS: usize = 32;

/// Chunks taken from [`Client::poll_transmit`] and not yet written.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    chunks: VecDeque<Bytes>,
    len: usize,
}

impl Outbound {
    /// Whether every byte taken from the core has been written.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Forgets what was not written (the connection is gone).
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
        self.len = 0;
    }

    /// Writes until neither this batch nor the core has anything left, then flushes `io`
    /// (TLS records may wait in the session). `Pending` when the socket is full.
    pub(crate) fn poll_drain<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        client: &mut Client,
        io: &mut W,
    ) -> Poll<io::Result<()>> {
        loop {
            self.refill(client);
            if self.chunks.is_empty() {
                return Pin::new(&mut *io).poll_flush(cx);
            }
            ready!(self.poll_write_batch(cx, io))?;
        }
    }

    /// Takes chunks from the core while the batch has room.
    fn refill(&mut self, client: &mut Client) {
        while self.len < MAX_BATCH_BYTES && self.chunks.len() < MAX_BATCH_CHUNKS {
            let Some(chunk) = client.poll_transmit() else {
                return;
            };
            self.push(chunk);
        }
    }

    fn push(&mut self, chunk: Bytes) {
        self.len += chunk.len();
        self.chunks.push_back(chunk);
    }

    /// Writes the batch out, front first; what is written stays written if a later write is
    /// `Pending`.
    fn poll_write_batch<W: AsyncWrite + Unpin>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<io::Result<()>> {
        while !self.chunks.is_empty() {
            let written = ready!(self.poll_write_some(cx, io))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.advance(written);
        }
        Poll::Ready(Ok(()))
    }

    /// One write: vectored when there are several chunks and the stream supports it.
    fn poll_write_some<W: AsyncWrite + Unpin>(
        &self,
        cx: &mut Context<'_>,
        io: &mut W,
    ) -> Poll<io::Result<usize>> {
        let io = Pin::new(io);
        if self.chunks.len() == 1 || !io.is_write_vectored() {
            return io.poll_write(cx, &self.chunks[0]);
        }
        let mut slices = [IoSlice::new(&[]); MAX_BATCH_CHUNKS];
        for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
            *slice = IoSlice::new(chunk);
        }
        io.poll_write_vectored(cx, &slices[..self.chunks.len()])
    }

    /// Drops `n` written bytes from the front.
    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Waker;

    /// A socket that takes at most `room` bytes per write, then is full once.
    struct Socket {
        vectored: bool,
        room: usize,
        full_next: bool,
        bytes: Vec<u8>,
        writes: Vec<(usize, usize)>,
    }

    impl Socket {
        fn new(vectored: bool, room: usize) -> Self {
            Socket {
                vectored,
                room,
                full_next: false,
                bytes: Vec::new(),
                writes: Vec::new(),
            }
        }
    }

    impl AsyncWrite for Socket {
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
            let mut taken = 0;
            for buf in bufs {
                let n = buf.len().min(this.room - taken);
                this.bytes.extend_from_slice(&buf[..n]);
                taken += n;
            }
            this.writes.push((bufs.len(), taken));
            Poll::Ready(Ok(taken))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn batch(chunks: &[&'static [u8]]) -> Outbound {
        let mut out = Outbound::default();
        for chunk in chunks {
            out.push(Bytes::from_static(chunk));
        }
        out
    }

    #[test]
    fn several_chunks_go_out_in_one_vectored_write_and_a_partial_one_is_finished_first() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = batch(&[b"abc", b"defg", b"hi"]);
        let mut socket = Socket::new(true, 5);
        // One write takes "abcde", then the socket is full: "fg" of the second chunk waits.
        assert!(out.poll_write_batch(&mut cx, &mut socket).is_pending());
        assert_eq!((out.len, out.chunks.len()), (4, 2));
        assert_eq!(&out.chunks[0][..], b"fg");
        // The next call finishes the partial chunk first, with the rest in the same write.
        assert!(out.poll_write_batch(&mut cx, &mut socket).is_ready());
        assert_eq!(socket.bytes, b"abcdefghi");
        assert_eq!(socket.writes, [(3, 5), (2, 4)]);
        assert!(out.is_empty());
        assert_eq!(out.len, 0);
    }

    #[test]
    fn without_vectored_io_chunks_are_written_one_at_a_time() {
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = batch(&[b"abc", b"defg"]);
        let mut socket = Socket::new(false, 100);
        while out.poll_write_batch(&mut cx, &mut socket).is_pending() {}
        assert_eq!(socket.bytes, b"abcdefg");
        assert_eq!(socket.writes, [(1, 3), (1, 4)]);
    }
}
