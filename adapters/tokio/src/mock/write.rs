//! Writing queued buffers to a socket with vectored writes.

use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

/// Most buffers handed to one vectored write.
const MAX_IOV: usize = 64;

/// Writes `chunks` out with vectored writes, emptying the queue.
pub(super) async fn write_chunks(
    stream: &mut TcpStream,
    chunks: &mut VecDeque<Bytes>,
) -> io::Result<()> {
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
    fn consume_advances_across_chunks() {
        let mut chunks: VecDeque<Bytes> = ["abc", "de", "fgh"].map(Bytes::from).into();
        consume(&mut chunks, 4);
        assert_eq!(chunks, ["e", "fgh"].map(Bytes::from));
        consume(&mut chunks, 4);
        assert!(chunks.is_empty());
    }
}
