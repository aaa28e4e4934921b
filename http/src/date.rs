//! The `Date` response header (IMF-fixdate, RFC 9110 §5.6.7).
//!
//! Formatting a date costs far more than reading the clock, and the value changes only
//! once a second, so each thread keeps the last formatted value keyed on the unix second.

use std::cell::Cell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Length of an IMF-fixdate, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
pub const DATE_LEN: usize = 29;

thread_local! {
    static CACHE: Cell<(u64, [u8; DATE_LEN])> = const { Cell::new((u64::MAX, [0; DATE_LEN])) };
}

/// The current time as an IMF-fixdate, formatted at most once per second per thread.
pub fn http_date() -> [u8; DATE_LEN] {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    CACHE.with(|cache| {
        let (second, value) = cache.get();
        if second == now {
            return value;
        }
        let value = format_at(now);
        cache.set((now, value));
        value
    })
}

/// `secs` after the unix epoch as an IMF-fixdate.
pub fn format_at(secs: u64) -> [u8; DATE_LEN] {
    let formatted = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs));
    let mut out = [b' '; DATE_LEN];
    // IMF-fixdate has a fixed width for years 1000..=9999; the copy is bounded anyway so a
    // clock set to an absurd year cannot panic here.
    let n = formatted.len().min(DATE_LEN);
    out[..n].copy_from_slice(&formatted.as_bytes()[..n]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_imf_fixdate() {
        assert_eq!(&format_at(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&format_at(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }

    #[test]
    fn cached_value_is_current_and_parses_back() {
        let a = http_date();
        let b = http_date();
        let parsed = httpdate::parse_http_date(std::str::from_utf8(&b).unwrap()).unwrap();
        let now = SystemTime::now();
        let diff = now.duration_since(parsed).unwrap_or_default();
        assert!(
            diff < Duration::from_secs(5),
            "date {:?} is not now",
            std::str::from_utf8(&b)
        );
        // Two calls within the same second (or the next) give well-formed values.
        assert_eq!(a.len(), DATE_LEN);
        assert!(a.ends_with(b" GMT"));
    }
}
