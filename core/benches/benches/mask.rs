//! Throughput of payload masking: `apply_mask` (SIMD where the CPU has it) against the
//! byte-by-byte reference `apply_mask_scalar`, on a small frame (128 B), a large event
//! (16 KiB) and a buffer larger than L2 on many CPUs (1 MiB).
//!
//! Each payload sits where it would in a client frame that starts on a 64-byte boundary: after
//! a 6, 8 or 14 byte header, so misaligned. Small payloads are masked in turn from a few copies,
//! because masking one misaligned buffer back to back stalls on store forwarding (each call
//! reads bytes the previous call has just written with differently placed stores), which
//! doubled the time of a 128 B call and measures the benchmark rather than the masking.
//!
//! tungstenite's masking is not public, so no peer is measured here.
//!
//! Run with `cargo bench -p responses-ws-benches --bench mask`.

#![allow(
    missing_docs,
    reason = "criterion_group! generates an undocumented pub fn"
)]

use criterion::{black_box, criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use responses_ws_core::ws::mask::{apply_mask, apply_mask_scalar};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// Payload length, label, and the length of a masked client frame's header before it.
const SIZES: [(usize, &str, usize); 3] = [
    (128, "128B", 2 + 4),
    (16 * 1024, "16KiB", 2 + 2 + 4),
    (1024 * 1024, "1MiB", 2 + 8 + 4),
];

/// Copies of one payload, each `offset` bytes past a 64-byte boundary, handed out in turn.
struct Payloads {
    bytes: Vec<u8>,
    first: usize,
    stride: usize,
    len: usize,
    copies: usize,
    next: usize,
}

impl Payloads {
    fn new(len: usize, offset: usize) -> Self {
        // As many copies as fit in 32 KiB (a common L1 data cache), from 1 to 8.
        let copies = (32 * 1024 / len).clamp(1, 8);
        let stride = (offset + len).next_multiple_of(64);
        let bytes: Vec<u8> = (0..stride * copies + 64).map(|i| i as u8).collect();
        let first = bytes.as_ptr().align_offset(64) + offset;
        Payloads {
            bytes,
            first,
            stride,
            len,
            copies,
            next: 0,
        }
    }

    fn next(&mut self) -> &mut [u8] {
        let start = self.first + self.next * self.stride;
        self.next = (self.next + 1) % self.copies;
        &mut self.bytes[start..start + self.len]
    }
}

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for (len, label, offset) in SIZES {
        let mut payloads = Payloads::new(len, offset);
        group.throughput(Throughput::Bytes(len as u64));
        group.bench_function(BenchmarkId::new("apply_mask", label), |b| {
            b.iter(|| apply_mask(black_box(payloads.next()), black_box(KEY)));
        });
        group.bench_function(BenchmarkId::new("apply_mask_scalar", label), |b| {
            b.iter(|| apply_mask_scalar(black_box(payloads.next()), black_box(KEY)));
        });
    }
    group.finish();
}

criterion_group!(benches, masking);
criterion_main!(benches);
