//! An HTTP+SSE response body as a client reads it: arbitrary bytes through the chunked
//! decoder (or, with flag bit 1, taken as the raw event stream) into the SSE parser, cut into
//! arbitrary chunks, then the end of the transport. Input layout: see the `responses_ws_fuzz`
//! docs (flag bit 0: small limits; steps cut the stream, their actions are ignored).
//!
//! Besides the absence of panics it checks what the HTTP layer promises: fed in chunks, the
//! decoders give exactly what they give fed whole (the same data, the same events, the same
//! error); no data after the end of the body, whose leftover bytes are the input's tail; no
//! body past `max_body`, no event past `max_sse_event`; a parser that failed keeps failing.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use responses_ws_core::http::{
    BodyDecoder, BodyKind, BodyPart, HttpError, Limits, SseEvent, SseParser,
};
use responses_ws_fuzz::Input;

/// What a client made of the stream.
#[derive(Debug, PartialEq, Eq)]
struct Outcome {
    /// The decoded body (none after an error).
    body: Vec<u8>,
    events: Vec<SseEvent>,
    /// Bytes after the end of the body (none after an error).
    rest: Vec<u8>,
    error: Option<HttpError>,
}

/// Reads `pieces` in order, then the end of the transport.
fn read(pieces: &[&[u8]], kind: BodyKind, limits: &Limits) -> Outcome {
    let mut decoder = BodyDecoder::new(kind, limits).expect("no declared length");
    let mut parser = SseParser::new(limits);
    let mut outcome = Outcome {
        body: Vec::new(),
        events: Vec::new(),
        rest: Vec::new(),
        error: None,
    };
    let mut input = BytesMut::new();
    let mut ended = false;
    let mut step = |part: Option<BodyPart>, outcome: &mut Outcome| -> Result<bool, HttpError> {
        match part {
            Some(BodyPart::Data(data)) => {
                assert!(!ended, "data after the end of the body");
                assert!(!data.is_empty(), "empty data");
                outcome.body.extend_from_slice(&data);
                assert!(outcome.body.len() as u64 <= limits.max_body, "body past its limit");
                let mut data = &data[..];
                while let Some(event) = parser.next_event(&mut data)? {
                    // The limit covers what the stream sent: an event that named no type
                    // is handed out as "message", which it did not send.
                    let sent_type = match event.event_type.as_str() {
                        "message" => 0,
                        named => named.len(),
                    };
                    let size = sent_type + event.data.len();
                    assert!(size <= limits.max_sse_event, "event past its limit");
                    outcome.events.push(event);
                }
                assert!(data.is_empty(), "the parser left bytes unread");
                Ok(true)
            }
            Some(_) => {
                assert!(!ended, "two ends");
                ended = true;
                Ok(true)
            }
            None => Ok(false),
        }
    };
    let result = (|| {
        for piece in pieces {
            input.extend_from_slice(piece);
            while step(decoder.decode(&mut input)?, &mut outcome)? {}
        }
        step(decoder.handle_eof()?, &mut outcome)?;
        Ok(())
    })();
    match result {
        Ok(()) => outcome.rest = input.to_vec(),
        // After an error the body read so far depends on where the parser stopped inside a
        // piece, and the bytes left are never read: only the events and the error count.
        Err(error) => {
            black_box_error(&error);
            outcome.body.clear();
            outcome.error = Some(error);
        }
    }
    outcome
}

fn black_box_error(error: &HttpError) {
    std::hint::black_box(error.to_string());
    std::hint::black_box(error.status());
}

/// The stream cut as the steps say: `(s & 0x1F) + 1` bytes per step, the rest at `0x1F`.
fn pieces<'a>(stream: &'a [u8], steps: &[u8]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut rest = stream;
    let mut steps = steps.iter().cycle();
    while !rest.is_empty() {
        let size = match steps.next() {
            Some(s) if s & 0x1F != 0x1F => usize::from(s & 0x1F) + 1,
            _ => rest.len(),
        };
        let (piece, tail) = rest.split_at(size.min(rest.len()));
        out.push(piece);
        rest = tail;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let input = Input::parse(data);
    let mut limits = Limits::default();
    if input.flags & 1 != 0 {
        limits.max_body = 512;
        limits.max_chunk_line = 16;
        limits.max_trailers = 64;
        limits.max_headers = 4;
        limits.max_sse_event = 64;
    }
    let kind = if input.flags & 2 != 0 {
        BodyKind::UntilEof
    } else {
        BodyKind::Chunked
    };
    let whole = read(&[input.stream], kind, &limits);
    let cut = read(&pieces(input.stream, input.steps), kind, &limits);
    if kind == BodyKind::UntilEof {
        assert!(whole.rest.is_empty());
    }
    assert_eq!(whole, cut, "cutting the stream changed what was read");
});
