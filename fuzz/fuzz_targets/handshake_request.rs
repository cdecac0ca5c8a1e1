//! A server fed arbitrary bytes as the HTTP upgrade request (then frames, if it upgraded), in
//! arbitrary chunks, then EOF. A valid request is accepted, or rejected with 401 when flag bit 4
//! is set. Input layout: see the `responses_ws_fuzz` docs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use responses_ws_fuzz::{Harness, Input, OnRequest};

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let on_request = if input.flags & 0x10 != 0 { OnRequest::Reject } else { OnRequest::Accept };
    let mut harness = Harness::server(input.config(), on_request);
    harness.run(input.steps, input.stream);
    std::hint::black_box(harness);
});
