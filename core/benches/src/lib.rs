//! Benchmarks of responses-ws-core; see `benches/`.
