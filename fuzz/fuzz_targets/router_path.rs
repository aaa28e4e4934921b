//! The router's path handling: percent-decoding and normalisation of a request path
//! into the segments that are opened beneath the document root (the router refuses a
//! NUL itself). Whatever the input, no segment may climb (`..`), be empty or `.`, or hold
//! a `/` the kernel would read as a separator; normalising is idempotent; nothing panics.

#![no_main]

use libfuzzer_sys::fuzz_target;
use uring_http::path::{normalize, percent_decode};

fuzz_target!(|raw: &[u8]| {
    let Some(decoded) = percent_decode(raw) else {
        // Only a '%' not followed by two hex digits is refused.
        assert!(raw.windows(1).any(|w| w == b"%"));
        return;
    };
    assert!(decoded.len() <= raw.len());
    if !raw.contains(&b'%') {
        assert_eq!(decoded, raw);
    }
    let Some(segments) = normalize(&decoded) else {
        // Refused only when `..` climbs above the root.
        assert!(decoded.windows(2).any(|w| w == b".."));
        return;
    };
    for s in &segments {
        assert!(!s.is_empty());
        assert!(s != b"." && s != b"..");
        assert!(!s.contains(&b'/'));
    }
    // Normalising the joined result gives the same segments.
    let mut joined = Vec::new();
    for s in &segments {
        joined.push(b'/');
        joined.extend_from_slice(s);
    }
    assert_eq!(normalize(&joined).as_deref(), Some(&segments[..]));
    // A path with no `..` keeps every segment.
    if !decoded.split(|&b| b == b'/').any(|s| s == b"..") {
        let kept: Vec<&[u8]> = decoded
            .split(|&b| b == b'/')
            .filter(|s| !s.is_empty() && *s != b".")
            .collect();
        assert_eq!(kept.len(), segments.len());
    }
});
