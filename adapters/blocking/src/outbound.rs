//! Bytes on their way to the socket: the chunks the core handed over and not yet written,
//! written with one vectored write when several wait, and the bookkeeping of partial writes.
//! It holds at most [`MAX_CHUNKS`] chunks; the rest wait in the core, which bounds them.

use std::collections::VecDeque;
use std::io::{self, IoSlice, Write};

use bytes::Bytes;

/// Chunks taken from the core at a time (and slices per vectored write).
pub(crate) const MAX_CHUNKS: usize = 64;

/// Chunks waiting for the socket, in order.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    chunks: VecDeque<Bytes>,
}

impl Outbound {
    /// Queues a chunk (empty ones are skipped).
    pub(crate) fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.chunks.push_back(chunk);
        }
    }

    /// Whether nothing waits.
    pub(crate) fn is_empty(&self) -> bool {
        self.chunks.is_empty()
    }

    /// Whether no more chunks should be taken before writing some.
    pub(crate) fn is_full(&self) -> bool {
        self.chunks.len() >= MAX_CHUNKS
    }

    /// Drops everything (the socket is gone).
    pub(crate) fn clear(&mut self) {
        self.chunks.clear();
    }

    /// Bytes waiting.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.chunks.iter().map(Bytes::len).sum()
    }

    /// One write: a plain one for a single chunk, a vectored one for several. Returns the
    /// bytes written; a writer that takes nothing is an error (`WriteZero`).
    pub(crate) fn write_to(&mut self, writer: &mut impl Write) -> io::Result<usize> {
        let written = match self.chunks.len() {
            0 => return Ok(0),
            1 => writer.write(&self.chunks[0])?,
            _ => {
                let mut slices = [IoSlice::new(&[]); MAX_CHUNKS];
                let count = self.chunks.len().min(MAX_CHUNKS);
                for (slice, chunk) in slices.iter_mut().zip(&self.chunks) {
                    *slice = IoSlice::new(chunk);
                }
                writer.write_vectored(&slices[..count])?
            }
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        self.advance(written);
        Ok(written)
    }

    /// Forgets the first `n` bytes.
    fn advance(&mut self, mut n: usize) {
        while n > 0 {
            let Some(front) = self.chunks.front_mut() else {
                return;
            };
            if n < front.len() {
                *front = front.slice(n..);
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

    /// A writer that takes at most `limit` bytes per call and counts vectored calls.
    struct Trickle {
        written: Vec<u8>,
        limit: usize,
        vectored_calls: usize,
    }

    impl Write for Trickle {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(self.limit);
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }

        fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
            self.vectored_calls += 1;
            let mut n = 0;
            for buf in bufs {
                let take = buf.len().min(self.limit - n);
                self.written.extend_from_slice(&buf[..take]);
                n += take;
                if n == self.limit {
                    break;
                }
            }
            Ok(n)
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn partial_vectored_writes_keep_order_and_count_exactly() {
        let mut outbound = Outbound::default();
        for chunk in ["hello ", "", "vectored ", "world"] {
            outbound.push(Bytes::from(chunk));
        }
        assert_eq!(outbound.len(), 20);
        let mut writer = Trickle {
            written: Vec::new(),
            limit: 7,
            vectored_calls: 0,
        };
        let mut calls = Vec::new();
        while !outbound.is_empty() {
            calls.push(outbound.write_to(&mut writer).unwrap());
        }
        assert_eq!(calls, [7, 7, 6]);
        assert_eq!(writer.written, b"hello vectored world");
        assert_eq!(writer.vectored_calls, 3);

        outbound.push(Bytes::from_static(b"!"));
        assert_eq!(outbound.write_to(&mut writer).unwrap(), 1);
        assert_eq!(writer.vectored_calls, 3, "a single chunk is a plain write");
        assert_eq!(writer.written, b"hello vectored world!");
    }

    #[test]
    fn a_writer_that_takes_nothing_is_an_error() {
        let mut outbound = Outbound::default();
        outbound.push(Bytes::from_static(b"x"));
        let mut full: &mut [u8] = &mut [];
        let error = outbound.write_to(&mut full).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::WriteZero);
        assert_eq!(outbound.len(), 1);
    }

    #[test]
    fn at_most_max_chunks_are_taken() {
        let mut outbound = Outbound::default();
        for _ in 0..MAX_CHUNKS {
            assert!(!outbound.is_full());
            outbound.push(Bytes::from_static(b"ab"));
        }
        assert!(outbound.is_full());
        outbound.clear();
        assert!(outbound.is_empty());
    }
}
