//! W3C Trace Context (<https://www.w3.org/TR/trace-context/>): parsing `traceparent`,
//! new span ids, the `traceparent` sent back, and request ids. Random ids come from
//! fastrand's per-thread generator (wyrand, seeded once by the OS), so a request costs
//! no syscall.

use bytes::Bytes;

use crate::php::TraceIds;

/// The ids of one request's span.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceContext {
    pub trace_id: [u8; 16],
    /// This request's own span (new for every request).
    pub span_id: [u8; 8],
    /// The caller's span, from a valid incoming `traceparent`.
    pub parent_id: Option<[u8; 8]>,
    /// trace-flags: the caller's, or `01` (sampled) for a trace started here.
    pub flags: u8,
    /// The incoming `tracestate`, kept only when `traceparent` was valid (as the spec says).
    pub tracestate: Option<Bytes>,
    /// `trace_id` and `span_id` in lowercase hex, formatted once.
    trace_hex: [u8; 32],
    span_hex: [u8; 16],
}

impl TraceContext {
    /// Continues the trace of a valid `traceparent`, or starts a new one.
    pub fn from_headers(traceparent: Option<&[u8]>, tracestate: Option<&Bytes>) -> TraceContext {
        match traceparent.and_then(parse_traceparent) {
            Some(p) => Self::new(
                p.trace_id,
                new_span_id(),
                Some(p.parent_id),
                p.flags,
                tracestate.cloned(),
            ),
            None => Self::new(new_trace_id(), new_span_id(), None, 0x01, None),
        }
    }

    fn new(
        trace_id: [u8; 16],
        span_id: [u8; 8],
        parent_id: Option<[u8; 8]>,
        flags: u8,
        tracestate: Option<Bytes>,
    ) -> Self {
        let mut trace_hex = [0u8; 32];
        let mut span_hex = [0u8; 16];
        hex_into(&trace_id, &mut trace_hex);
        hex_into(&span_id, &mut span_hex);
        TraceContext {
            trace_id,
            span_id,
            parent_id,
            flags,
            tracestate,
            trace_hex,
            span_hex,
        }
    }

    /// The trace id in hex (32 characters).
    pub fn trace_hex_bytes(&self) -> &[u8; 32] {
        &self.trace_hex
    }

    pub fn trace_hex(&self) -> String {
        ascii_string(&self.trace_hex)
    }

    pub fn span_hex(&self) -> String {
        ascii_string(&self.span_hex)
    }

    /// `00-{trace}-{span}-{flags}`, with this request's span as the parent of whatever
    /// the client does next.
    pub fn traceparent(&self) -> Bytes {
        let mut out = [b'-'; 55];
        out[..2].copy_from_slice(b"00");
        out[3..35].copy_from_slice(&self.trace_hex);
        out[36..52].copy_from_slice(&self.span_hex);
        hex_into(&[self.flags], &mut out[53..55]);
        // One allocation that slices share (see `request_id_of`).
        Bytes::from_owner(out)
    }

    /// The request id derived from a `traceparent` made by [`Self::traceparent`]:
    /// `{trace_id}-{span_id}`, a slice of it (no allocation).
    pub fn request_id_of(traceparent: &Bytes) -> Bytes {
        traceparent.slice(3..52)
    }

    /// The ids PHP sees as `$_SERVER` TRACE_ID, SPAN_ID and PARENT_SPAN_ID (empty when
    /// the trace started here).
    pub fn ids(&self) -> TraceIds {
        TraceIds {
            trace_id: self.trace_hex(),
            span_id: self.span_hex(),
            parent_span_id: self.parent_id.map(|p| hex(&p)).unwrap_or_default(),
        }
    }

    /// A request id derived from the trace: `{trace_id}-{span_id}`, unique per request.
    pub fn request_id(&self) -> Bytes {
        let mut out = [b'-'; 49];
        out[..32].copy_from_slice(&self.trace_hex);
        out[33..].copy_from_slice(&self.span_hex);
        Bytes::copy_from_slice(&out)
    }
}

/// Hex digits are ASCII, so this never loses anything.
fn ascii_string(hex: &[u8]) -> String {
    std::str::from_utf8(hex)
        .map(str::to_owned)
        .unwrap_or_default()
}

/// The fields of a valid `traceparent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceParent {
    pub version: u8,
    pub trace_id: [u8; 16],
    pub parent_id: [u8; 8],
    pub flags: u8,
}

/// Parses `traceparent`: version `00` is exactly 55 characters of lowercase hex and
/// dashes; a later version may carry more fields after a dash (read the first four);
/// version `ff`, uppercase hex, wrong lengths and all-zero ids are invalid.
pub fn parse_traceparent(v: &[u8]) -> Option<TraceParent> {
    let v = trim(v);
    if v.len() < 55 {
        return None;
    }
    let version = parse_hex::<1>(&v[0..2])?[0];
    if version == 0xff || (version == 0 && v.len() != 55) || (v.len() > 55 && v[55] != b'-') {
        return None;
    }
    if v[2] != b'-' || v[35] != b'-' || v[52] != b'-' {
        return None;
    }
    let trace_id = parse_hex::<16>(&v[3..35])?;
    let parent_id = parse_hex::<8>(&v[36..52])?;
    let flags = parse_hex::<1>(&v[53..55])?[0];
    if trace_id == [0; 16] || parent_id == [0; 8] {
        return None;
    }
    Some(TraceParent {
        version,
        trace_id,
        parent_id,
        flags,
    })
}

/// Whether a client's X-Request-ID may be echoed: 1 to 128 printable ASCII characters.
pub fn valid_request_id(v: &[u8]) -> bool {
    !v.is_empty() && v.len() <= 128 && v.iter().all(|&b| (0x20..=0x7e).contains(&b))
}

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Lowercase hex only (the spec forbids uppercase; the hex crate accepts both).
fn parse_hex<const N: usize>(s: &[u8]) -> Option<[u8; N]> {
    if s.len() != 2 * N || s.iter().any(u8::is_ascii_uppercase) {
        return None;
    }
    let mut out = [0u8; N];
    hex::decode_to_slice(s, &mut out).ok()?;
    Some(out)
}

/// Writes `bytes` as lowercase hex into `out` (twice as long).
pub fn hex_into(bytes: &[u8], out: &mut [u8]) {
    // Only a length mismatch fails, and every caller sizes `out` from `bytes`.
    let _ = hex::encode_to_slice(bytes, out);
}

pub fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// Ids only, never secrets: fastrand is fast, not cryptographic.
pub fn random_u64() -> u64 {
    fastrand::u64(..)
}

pub fn new_trace_id() -> [u8; 16] {
    loop {
        let mut id = [0u8; 16];
        id[..8].copy_from_slice(&random_u64().to_ne_bytes());
        id[8..].copy_from_slice(&random_u64().to_ne_bytes());
        if id != [0; 16] {
            return id;
        }
    }
}

pub fn new_span_id() -> [u8; 8] {
    loop {
        let id = random_u64().to_ne_bytes();
        if id != [0; 8] {
            return id;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &[u8] = b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn parses_a_valid_traceparent() {
        let p = parse_traceparent(GOOD).unwrap();
        assert_eq!(hex(&p.trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&p.parent_id), "00f067aa0ba902b7");
        assert_eq!(p.flags, 1);
        // Surrounding whitespace (OWS) is allowed.
        assert!(
            parse_traceparent(b" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00 ")
                .is_some()
        );
        // A later version may append fields.
        assert!(parse_traceparent(
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra"
        )
        .is_some());
    }

    #[test]
    fn rejects_invalid_traceparents() {
        for bad in [
            &b"00-00000000000000000000000000000000-00f067aa0ba902b7-01"[..],
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            b"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            b"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
            b"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",
            b"",
            b"garbage",
        ] {
            assert!(
                parse_traceparent(bad).is_none(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn continues_or_starts_a_trace() {
        let state = Bytes::from_static(b"congo=t61rcWkgMzE");
        let t = TraceContext::from_headers(Some(GOOD), Some(&state));
        assert_eq!(t.trace_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(
            t.parent_id.map(|p| hex(&p)).as_deref(),
            Some("00f067aa0ba902b7")
        );
        assert_ne!(t.span_hex(), "00f067aa0ba902b7");
        assert_eq!(t.tracestate.as_ref(), Some(&state));
        let tp = t.traceparent();
        let back = parse_traceparent(&tp).unwrap();
        assert_eq!(
            (back.trace_id, back.parent_id, back.flags),
            (t.trace_id, t.span_id, 1)
        );
        let ids = t.ids();
        assert_eq!(
            (
                ids.trace_id.len(),
                ids.span_id.len(),
                ids.parent_span_id.len()
            ),
            (32, 16, 16)
        );

        let fresh = TraceContext::from_headers(Some(b"nonsense"), Some(&state));
        assert_ne!(fresh.trace_id, t.trace_id);
        assert!(fresh.parent_id.is_none() && fresh.tracestate.is_none());
        assert_eq!(fresh.ids().parent_span_id, "");
        assert_eq!(fresh.request_id().len(), 49);
    }

    #[test]
    fn ids_differ() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..10_000 {
            assert!(seen.insert(new_span_id()));
        }
    }

    #[test]
    fn request_ids() {
        assert!(valid_request_id(b"abc-123 x"));
        assert!(!valid_request_id(b""));
        assert!(!valid_request_id(&[b'a'; 129]));
        assert!(!valid_request_id(b"a\tb"));
        assert!(!valid_request_id("é".as_bytes()));
    }
}
