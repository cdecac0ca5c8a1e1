//! Properties of the HTTP layer as a whole: whatever way the bytes are cut, the parsers see the
//! same messages as when fed whole, and what the encoders write decodes back to what went in.

use alloc::string::String;
use alloc::vec::Vec;
use bytes::BytesMut;
use proptest::prelude::*;

use super::*;

/// `bytes` cut at `cuts` (positions taken modulo the length, sorted).
fn pieces<'a>(bytes: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    cuts.sort_unstable();
    let mut out = Vec::new();
    let mut start = 0;
    for cut in cuts.into_iter().chain([bytes.len()]) {
        out.push(&bytes[start..cut]);
        start = cut;
    }
    out
}

/// Feeds `pieces` to a chunked decoder; the data, whether it ended, and the bytes after it.
fn decode_chunked(pieces: &[&[u8]]) -> Result<(Vec<u8>, bool, Vec<u8>), HttpError> {
    let mut decoder = ChunkedDecoder::new(&Limits::default());
    let mut input = BytesMut::new();
    let mut data = Vec::new();
    for piece in pieces {
        input.extend_from_slice(piece);
        while let Some(part) = decoder.decode(&mut input)? {
            if let BodyPart::Data(bytes) = part {
                assert!(!bytes.is_empty());
                data.extend_from_slice(&bytes);
            }
        }
    }
    Ok((data, decoder.is_done(), input.to_vec()))
}

/// Feeds `pieces` to a chunked body decoder, then the end of the transport: the data and the
/// bytes after the body, or the data before the first error and the error.
fn decode_to_eof(pieces: &[&[u8]], limits: &Limits) -> (Vec<u8>, Vec<u8>, Option<HttpError>) {
    let mut body = BodyDecoder::new(BodyKind::Chunked, limits).unwrap();
    let mut input = BytesMut::new();
    let mut data = Vec::new();
    let mut run = || -> Result<(), HttpError> {
        for piece in pieces {
            input.extend_from_slice(piece);
            while let Some(part) = body.decode(&mut input)? {
                if let BodyPart::Data(bytes) = part {
                    data.extend_from_slice(&bytes);
                }
            }
        }
        body.handle_eof().map(drop)
    };
    match run() {
        Ok(()) => (data, input.to_vec(), None),
        // What was left after an error is nobody's business.
        Err(error) => (data, Vec::new(), Some(error)),
    }
}

/// The default limits, or limits small enough for short inputs to cross.
fn small_limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (1usize..24, 1usize..8, 1u64..32, 1usize..12, 1usize..24).prop_map(
            |(max_head, max_headers, max_body, max_chunk_line, max_trailers)| Limits {
                max_head,
                max_headers,
                max_body,
                max_chunk_line,
                max_trailers,
                ..Limits::default()
            }
        ),
    ]
}

/// Feeds `pieces` to an SSE parser; every event, and the error if one stopped it.
fn parse_sse(pieces: &[&[u8]], limits: &Limits) -> (Vec<SseEvent>, Option<HttpError>) {
    let mut parser = SseParser::new(limits);
    let mut events = Vec::new();
    for piece in pieces {
        let mut rest = *piece;
        loop {
            match parser.next_event(&mut rest) {
                Ok(Some(event)) => events.push(event),
                Ok(None) => break,
                Err(error) => return (events, Some(error)),
            }
        }
        assert!(rest.is_empty());
    }
    (events, None)
}

/// SSE-ish bytes: the characters that matter to the parser, more often than chance.
fn sse_bytes() -> impl Strategy<Value = Vec<u8>> {
    let atom = prop_oneof![
        Just(b"data: ".to_vec()),
        Just(b"event:".to_vec()),
        Just(b"id: 1".to_vec()),
        Just(b"retry: 5".to_vec()),
        Just(b":".to_vec()),
        Just(b"\r".to_vec()),
        Just(b"\n".to_vec()),
        Just(b"\r\n".to_vec()),
        Just("\u{feff}é".as_bytes().to_vec()),
        proptest::collection::vec(any::<u8>(), 0..4),
        "[a-z {}\"]{0,8}".prop_map(String::into_bytes),
    ];
    proptest::collection::vec(atom, 0..40).prop_map(|atoms| atoms.concat())
}

/// A writable event: a type and id without line breaks, data with `\n` only.
fn sse_event() -> impl Strategy<Value = SseEvent> {
    (
        "[a-z.]{1,12}",
        "[ -~\n]{0,40}",
        proptest::option::of("[ -~]{0,6}"),
    )
        .prop_map(|(event_type, data, id)| SseEvent {
            event_type,
            data,
            id,
        })
}

proptest! {
    #[test]
    fn chunked_round_trips_under_any_cut(
        body in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8),
        tail in proptest::collection::vec(any::<u8>(), 0..8),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let mut wire = Vec::new();
        for chunk in &body {
            BodyEncoder::Chunked.write(&mut wire, chunk);
        }
        BodyEncoder::Chunked.finish(&mut wire);
        wire.extend_from_slice(&tail);
        let (data, done, rest) = decode_chunked(&pieces(&wire, &cuts)).unwrap();
        prop_assert_eq!(data, body.concat());
        prop_assert!(done);
        prop_assert_eq!(rest, tail);
    }

    #[test]
    fn chunked_bytes_decode_alike_however_cut(
        wire in proptest::collection::vec(
            prop_oneof![Just(b'0'), Just(b'a'), Just(b'\r'), Just(b'\n'), Just(b';'), Just(b':'), any::<u8>()],
            0..64,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limits in small_limits(),
    ) {
        let whole = decode_to_eof(&[&wire], &limits);
        let cut = decode_to_eof(&pieces(&wire, &cuts), &limits);
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn sse_parses_alike_however_cut(
        stream in sse_bytes(),
        cuts in proptest::collection::vec(any::<usize>(), 0..12),
        max_event in prop_oneof![Just(usize::MAX), 1usize..64],
    ) {
        let limits = Limits {
            max_sse_event: max_event,
            ..Limits::default()
        };
        let whole = parse_sse(&[&stream], &limits);
        let cut = parse_sse(&pieces(&stream, &cuts), &limits);
        prop_assert_eq!(whole, cut);
    }

    #[test]
    fn sse_events_round_trip(events in proptest::collection::vec(sse_event(), 0..6),
                             cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
        let mut text = String::new();
        for event in &events {
            event.write(&mut text).unwrap();
        }
        let (parsed, error) = parse_sse(&pieces(text.as_bytes(), &cuts), &Limits::default());
        prop_assert_eq!(error, None);
        // An id, once set, stays for the events after it.
        let mut id = None;
        let expected: Vec<SseEvent> = events
            .into_iter()
            .map(|mut event| {
                id = event.id.clone().or(id.take());
                event.id = id.clone();
                event
            })
            .collect();
        prop_assert_eq!(parsed, expected);
    }

    #[test]
    fn heads_parse_alike_however_cut(
        head in proptest::collection::vec(
            prop_oneof![Just(b"HTTP/1.1 200 OK\r\n".to_vec()), Just(b"POST / HTTP/1.1\r\n".to_vec()),
                        Just(b"X: y\r\n".to_vec()), Just(b"\r\n".to_vec()), proptest::collection::vec(any::<u8>(), 0..3)],
            0..8,
        ).prop_map(|atoms| atoms.concat()),
        cut in any::<usize>(),
        limits in small_limits(),
    ) {
        let cut = cut % (head.len() + 1);
        // A prefix is either still incomplete, or already what the whole says.
        match RequestHead::parse(&head[..cut], &limits) {
            Ok(None) => {}
            prefix => prop_assert_eq!(prefix, RequestHead::parse(&head, &limits)),
        }
        match ResponseHead::parse(&head[..cut], &limits) {
            Ok(None) => {}
            prefix => prop_assert_eq!(prefix, ResponseHead::parse(&head, &limits)),
        }
    }

    #[test]
    fn written_heads_parse_back(
        method in "[A-Z]{1,7}",
        target in "/[!-~]{0,20}",
        status in 100u16..1000,
        headers in proptest::collection::vec(("[A-Za-z-]{1,10}", "[!-~]([ -~]{0,10}[!-~])?"), 0..6),
    ) {
        let limits = Limits::default();
        let mut request = RequestHead::new(method, target);
        let mut response = ResponseHead::new(status);
        for (name, value) in headers {
            request = request.with_header(name.clone(), value.clone());
            response = response.with_header(name, value);
        }
        let mut bytes = Vec::new();
        request.write(&mut bytes).unwrap();
        prop_assert_eq!(RequestHead::parse(&bytes, &limits), Ok(Some((request, bytes.len()))));
        bytes.clear();
        response.write(&mut bytes).unwrap();
        prop_assert_eq!(ResponseHead::parse(&bytes, &limits), Ok(Some((response, bytes.len()))));
    }
}
