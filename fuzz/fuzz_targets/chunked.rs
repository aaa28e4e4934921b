//! The chunked body decoder alone: however the input is split into reads, the decoder
//! must give the same body and end at the same byte (or fail the same way), never
//! consume more than it was given, and never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use uring_http::h1::{ChunkedDecoder, Decoded};

fuzz_target!(|input: &[u8]| {
    // The first byte picks an uneven split and the trailer limit, the rest is the body.
    let Some((&knob, data)) = input.split_first() else {
        return;
    };
    let trailer_limit = 16 + (knob as usize & 0x3f) * 16;
    let whole = decode(data, &[data.len().max(1)], trailer_limit);
    let bytewise = decode(data, &[1], trailer_limit);
    let uneven = decode(data, &[1 + (knob as usize >> 4), 7, 2, 31], trailer_limit);
    assert_eq!(whole, bytewise);
    assert_eq!(whole, uneven);
    if let (_, Ok(Some(end))) = &whole {
        assert!(*end <= data.len());
        // Bytes after the end of the body are never looked at: the same prefix with
        // anything after it decodes the same.
        let mut more = data[..*end].to_vec();
        more.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(decode(&more, &[5], trailer_limit), whole);
    }
});

/// Decodes `data` fed in pieces whose sizes cycle through `steps`; returns the body and
/// where it ended (`None` when it needs more input) or the error's status.
fn decode(
    data: &[u8],
    steps: &[usize],
    trailer_limit: usize,
) -> (Vec<u8>, Result<Option<usize>, u16>) {
    let mut decoder = ChunkedDecoder::new(trailer_limit);
    let mut body = Vec::new();
    let mut offset = 0;
    let mut k = 0;
    while offset < data.len() {
        let step = steps[k % steps.len()].max(1);
        k += 1;
        let piece = &data[offset..(offset + step).min(data.len())];
        let mut at = 0;
        loop {
            match decoder.decode(&piece[at..]) {
                Err(e) => return (body, Err(e.status())),
                Ok(Decoded::Data { data, consumed }) => {
                    assert!(!data.is_empty());
                    assert!(consumed <= piece.len() - at);
                    body.extend_from_slice(data);
                    at += consumed;
                }
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Done { consumed }) => {
                    assert!(consumed <= piece.len() - at);
                    assert!(decoder.is_done());
                    return (body, Ok(Some(offset + at + consumed)));
                }
            }
        }
        offset += piece.len();
    }
    (body, Ok(None))
}
