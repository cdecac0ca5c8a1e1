//! A server that accepted a valid upgrade request, fed arbitrary client frames (masked or not)
//! in arbitrary chunks, with timers, sends and `close()` interleaved, then EOF. Input layout: see
//! the `responses_ws_fuzz` docs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use responses_ws_fuzz::{Harness, Input};

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let mut harness = Harness::open_server(input.config());
    harness.run(input.steps, input.stream);
    std::hint::black_box(harness);
});
