//! A request path as a file path: percent-decoded, then split into segments with `.`
//! and `..` resolved, so that what is opened beneath a root can never climb out of it,
//! whatever the encoding (`%2e%2e`, `..%2f`). Fuzzed by `fuzz/fuzz_targets/router_path.rs`.

/// Decodes `%XX` escapes; None when a `%` is not followed by two hex digits. Every other
/// byte (including `+`, which means a space only in query strings) is kept as it is.
pub fn percent_decode(raw: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%' {
            let hi = hex(*raw.get(i + 1)?)?;
            let lo = hex(*raw.get(i + 2)?)?;
            out.push(hi << 4 | lo);
            i += 3;
        } else {
            out.push(raw[i]);
            i += 1;
        }
    }
    Some(out)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
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
