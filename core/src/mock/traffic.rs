//! Byte and frame counters of one connection (or one [`HttpMock`](super::HttpMock)), so that a
//! benchmark can report what went up and down.

/// What a mock connection received and sent, counted at the message level: JSON text of
/// WebSocket frames (without frame headers), request bodies and SSE text over HTTP (without
/// HTTP headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Traffic {
    /// Client frames (HTTP: requests) received.
    pub frames_received: u64,
    /// Their bytes.
    pub bytes_received: u64,
    /// Server frames (HTTP: SSE events or JSON bodies) sent.
    pub frames_sent: u64,
    /// Their bytes.
    pub bytes_sent: u64,
}

impl Traffic {
    /// Counts one received message of `len` bytes.
    pub(crate) fn received(&mut self, len: usize) {
        self.frames_received += 1;
        self.bytes_received += len as u64;
    }

    /// Counts one sent message of `len` bytes.
    pub(crate) fn sent(&mut self, len: usize) {
        self.frames_sent += 1;
        self.bytes_sent += len as u64;
    }
}
