//! Throughput of payload masking: `apply_mask` (SIMD where the CPU has it) against the
//! byte-by-byte reference `apply_mask_scalar`, on a small frame (128 B), a typical large
//! event (16 KiB) and a buffer larger than L2 on many CPUs (1 MiB).
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
const SIZES: [(usize, &str); 3] = [(128, "128B"), (16 * 1024, "16KiB"), (1024 * 1024, "1MiB")];

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for (size, label) in SIZES {
        let mut buf = vec![0x5au8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_function(BenchmarkId::new("apply_mask", label), |b| {
            b.iter(|| apply_mask(black_box(&mut buf), black_box(KEY)));
        });
        group.bench_function(BenchmarkId::new("apply_mask_scalar", label), |b| {
            b.iter(|| apply_mask_scalar(black_box(&mut buf), black_box(KEY)));
        });
    }
    group.finish();
}

criterion_group!(benches, masking);
criterion_main!(benches);
