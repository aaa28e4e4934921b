//! A request path as a file path: percent-decoded, then split into segments with `.`
//! and `..` resolved, so that what is opened beneath a root can never climb out of it,
//! whatever the encoding (`%2e%2e`, `..%2f`). Fuzzed by `fuzz/fuzz_targets/router_path.rs`.

/// Decodes `%XX` escapes; None when a `%` is not followed by two hex digits (nginx
/// answers those with 400; the percent-encoding crate alone would pass them through, so
/// they are refused first). Every other byte (including `+`, which means a space only in
/// query strings) is kept as it is.
pub fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut i = 0;
    while let Some(p) = memchr::memchr(b'%', &raw[i..]) {
        let at = i + p;
        match raw.get(at + 1..at + 3) {
            Some([a, b]) if a.is_ascii_hexdigit() && b.is_ascii_hexdigit() => i = at + 3,
            _ => return None,
        }
    }
    Some(percent_encoding::percent_decode(raw).collect())
}

/// Splits on `/`, dropping empty and `.` segments and resolving `..`; None when `..`
/// would climb above the root.
pub fn normalize(path: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut segs: Vec<Vec<u8>> = Vec::new();
    for seg in path.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => {
                segs.pop()?;
            }
            s => segs.push(s.to_vec()),
        }
    }
    Some(segs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode(b"/a%2Fb%20c+d").unwrap(), b"/a/b c+d");
        assert_eq!(percent_decode(b"%41%6a").unwrap(), b"Aj");
        assert!(percent_decode(b"/%zz").is_none());
        assert!(percent_decode(b"/%4").is_none());
        // Non-ASCII after a '%' is refused, never split inside a UTF-8 sequence.
        assert!(percent_decode("/%é".as_bytes()).is_none());
    }

    #[test]
    fn normalising() {
        let s = |p: &[u8]| normalize(p).map(|v| v.join(&b'/'));
        assert_eq!(s(b"/a/./b//c/"), Some(b"a/b/c".to_vec()));
        assert_eq!(s(b"/a/../b"), Some(b"b".to_vec()));
        assert_eq!(s(b"/a/../../b"), None);
        assert_eq!(s(b"/"), Some(Vec::new()));
    }
}
