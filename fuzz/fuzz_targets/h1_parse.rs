//! Feeds arbitrary bytes to the HTTP/1.1 head parser and the chunked decoder; neither may
//! panic, and what they return must be consistent with their input.

#![no_main]

use libfuzzer_sys::fuzz_target;
use uring_http::h1::{parse_head, ChunkedDecoder, Decoded, H1Config};

fuzz_target!(|data: &[u8]| {
    // Small limits so the fuzzer reaches the limit checks with short inputs, and the
    // defaults for the common paths.
    let small = H1Config {
        max_header_bytes: 256,
        max_uri_len: 64,
        max_headers: 4,
        ..H1Config::default()
    };
    for cfg in [&small, &H1Config::default()] {
        if let Ok(Some(head)) = parse_head(data, cfg) {
            assert!(head.len <= data.len());
            assert!(head.len <= cfg.max_header_bytes);
            assert!(head.target.len() <= cfg.max_uri_len);
            assert!(head.headers.len() <= cfg.max_headers);
            assert!(head.path.starts_with('/') || head.path == "*");
        }
        // Every prefix of a complete head is incomplete or an error, never a different
        // complete head.
        if let Ok(Some(head)) = parse_head(data, cfg) {
            if head.len > 1 {
                if let Ok(Some(_)) = parse_head(&data[..head.len - 1], cfg) {
                    panic!("a strict prefix of a head parsed as complete");
                }
            }
        }
    }

    // The chunked decoder, fed in two different splits, must agree with itself.
    let whole = decode(data, data.len().max(1));
    let split = decode(data, 3);
    assert_eq!(whole, split);
});

/// Decodes `data` in pieces of `step` bytes; returns the body and where it ended (or
/// `None` with an error or when more input was needed).
fn decode(data: &[u8], step: usize) -> (Vec<u8>, Result<Option<usize>, u16>) {
    let mut decoder = ChunkedDecoder::new(1024);
    let mut body = Vec::new();
    let mut offset = 0;
    for piece in data.chunks(step) {
        let mut at = 0;
        loop {
            match decoder.decode(&piece[at..]) {
                Err(e) => return (body, Err(e.status())),
                Ok(Decoded::Data { data, consumed }) => {
                    assert!(!data.is_empty());
                    body.extend_from_slice(data);
                    at += consumed;
                }
                Ok(Decoded::NeedMore) => break,
                Ok(Decoded::Done { consumed }) => {
                    assert!(decoder.is_done());
                    return (body, Ok(Some(offset + at + consumed)));
                }
            }
        }
        offset += piece.len();
    }
    (body, Ok(None))
}
