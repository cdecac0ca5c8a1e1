//! A client fed arbitrary bytes as the server's HTTP answer (then frames, if it upgraded), in
//! arbitrary chunks, then EOF. `{accept}` in the stream becomes the right
//! `Sec-WebSocket-Accept`, so the fuzzer reaches the checks past the key. Input layout: see the
//! `responses_ws_fuzz` docs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use responses_ws_core::ws::accept_key;
use responses_ws_fuzz::{Harness, Input};

/// Replaced by the accept key of the client's request.
const MARKER: &[u8] = b"{accept}";

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let (mut harness, key) = Harness::client(input.config());
    let accept = accept_key(&key);
    let mut stream = Vec::with_capacity(input.stream.len());
    let mut rest = input.stream;
    while !rest.is_empty() {
        if rest.starts_with(MARKER) {
            stream.extend_from_slice(accept.as_bytes());
            rest = &rest[MARKER.len()..];
        } else {
            stream.push(rest[0]);
            rest = &rest[1..];
        }
    }
    harness.run(input.steps, &stream);
    std::hint::black_box(harness);
});
