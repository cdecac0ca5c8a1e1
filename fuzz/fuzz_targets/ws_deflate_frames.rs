//! A connection past a handshake that agreed to permessage-deflate (client or server role, one of
//! four parameter sets), fed arbitrary peer frames — compressed messages among them, whose
//! DEFLATE data the fuzzer mutates — in arbitrary chunks, with timers, sends and `close()`
//! interleaved, then EOF. The harness checks the connection's promises after every input; the
//! inflate path must also keep every message within `max_message_size` (the small-limits flag
//! sets 1 KiB) however far its data would inflate. Input layout: see the `responses_ws_fuzz`
//! docs (flag bits 5–7 choose the role and the parameters).
#![no_main]

use libfuzzer_sys::fuzz_target;
use responses_ws_fuzz::{Harness, Input};

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let mut harness = Harness::open_deflate(input.flags, input.config());
    harness.run(input.steps, input.stream);
    std::hint::black_box(harness);
});
