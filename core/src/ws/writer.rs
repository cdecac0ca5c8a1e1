//! The outbound path: frames queued for the transport, masked when the client sends them.
//!
//! Small frames are packed into one buffer so a driver writes them with one call; a large
//! unmasked payload is queued as its own `Bytes` without copying. At most one pong waits at a
//! time (the latest ping's, as RFC 6455 §5.5.3 allows), and nothing is queued after a close frame.

use super::frame::{FrameHeader, OpCode, MAX_HEADER_LEN};
use super::mask::apply_mask;
use super::rng::MaskRng;
use super::Role;
use alloc::collections::VecDeque;
use bytes::{Bytes, BytesMut};

/// Unmasked payloads at least this long are queued by reference rather than copied.
const ZERO_COPY_MIN: usize = 4096;

/// Queues outbound frames.
pub(crate) struct FrameWriter {
    /// Our role: a client masks every frame.
    role: Role,
    rng: MaskRng,
    /// Chunks ready for the transport, oldest first.
    queue: VecDeque<Bytes>,
    /// Frames written since the last chunk was cut; goes to the back of `queue`.
    packing: BytesMut,
    /// Bytes in `queue` and `packing`.
    queued: usize,
    /// The pong owed for the latest ping, written at the next poll.
    pending_pong: Option<Bytes>,
    /// Invariant: once true, nothing more is queued.
    close_queued: bool,
}

/// Shows sizes only: queued bytes may hold credentials (the upgrade request's headers).
impl core::fmt::Debug for FrameWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("FrameWriter")
            .field("role", &self.role)
            .field("queued", &self.queued)
            .field("pending_pong", &self.pending_pong.is_some())
            .field("close_queued", &self.close_queued)
            .finish()
    }
}

impl FrameWriter {
    pub(crate) fn new(role: Role, rng: MaskRng) -> Self {
        FrameWriter {
            role,
            rng,
            queue: VecDeque::new(),
            packing: BytesMut::new(),
            queued: 0,
            pending_pong: None,
            close_queued: false,
        }
    }

    /// Bytes waiting to be written.
    pub(crate) fn queued(&self) -> usize {
        self.queued
            + self
                .pending_pong
                .as_ref()
                .map_or(0, |p| p.len() + MAX_HEADER_LEN)
    }

    /// Whether nothing waits to be written.
    pub(crate) fn is_empty(&self) -> bool {
        self.queued == 0 && self.pending_pong.is_none()
    }

    /// Queues raw bytes (the handshake).
    pub(crate) fn push_raw(&mut self, bytes: Bytes) {
        self.cut_packing();
        self.queued += bytes.len();
        self.queue.push_back(bytes);
    }

    /// Queues one frame. Ignored after a close frame.
    pub(crate) fn push_frame(&mut self, fin: bool, opcode: OpCode, payload: Bytes) {
        self.push_data_frame(fin, false, opcode, payload);
    }

    /// Queues one frame with RSV1 as given (a compressed message's first frame). Ignored after a
    /// close frame.
    pub(crate) fn push_data_frame(
        &mut self,
        fin: bool,
        rsv1: bool,
        opcode: OpCode,
        payload: Bytes,
    ) {
        if self.close_queued {
            return;
        }
        if opcode == OpCode::Close {
            self.write_pending_pong();
            self.close_queued = true;
        }
        let mask = (self.role == Role::Client).then(|| self.rng.mask_key());
        let header = FrameHeader {
            fin,
            rsv1,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.write(&mut head);
        self.packing.extend_from_slice(&head[..head_len]);
        self.queued += head_len + payload.len();
        match mask {
            Some(key) => {
                let start = self.packing.len();
                self.packing.extend_from_slice(&payload);
                apply_mask(&mut self.packing[start..], key);
            }
            None if payload.len() >= ZERO_COPY_MIN => {
                self.cut_packing();
                self.queue.push_back(payload);
            }
            None => self.packing.extend_from_slice(&payload),
        }
    }

    /// Owes a pong for a ping; replaces a pong not yet written.
    pub(crate) fn owe_pong(&mut self, payload: Bytes) {
        if !self.close_queued {
            self.pending_pong = Some(payload);
        }
    }

    /// Drops everything not yet written and takes nothing more: the peer is gone.
    pub(crate) fn discard(&mut self) {
        self.queue.clear();
        self.packing.clear();
        self.queued = 0;
        self.pending_pong = None;
        self.close_queued = true;
    }

    /// Gives the buffers' memory back when nothing waits to be written (an idle connection).
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            self.queue = VecDeque::new();
            self.packing = BytesMut::new();
        }
    }

    /// The next chunk to write.
    pub(crate) fn poll(&mut self) -> Option<Bytes> {
        self.write_pending_pong();
        self.cut_packing();
        let chunk = self.queue.pop_front()?;
        self.queued -= chunk.len();
        Some(chunk)
    }

    fn write_pending_pong(&mut self) {
        if let Some(payload) = self.pending_pong.take() {
            self.push_frame(true, OpCode::Pong, payload);
        }
    }

    fn cut_packing(&mut self) {
        if !self.packing.is_empty() {
            self.queue.push_back(self.packing.split().freeze());
        }
    }
}
