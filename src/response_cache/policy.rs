//! RFC 9111 for a shared cache: what a response's Cache-Control, Expires and Vary allow,
//! and which requests the cache must not answer.

use std::time::{Duration, SystemTime};

use uring_http::{Headers, Method, Request};

/// The directives of a response's Cache-Control fields that matter to a shared cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CacheControl {
    pub no_store: bool,
    pub no_cache: bool,
    pub private: bool,
    pub public: bool,
    pub must_revalidate: bool,
    pub max_age: Option<u64>,
    pub s_maxage: Option<u64>,
    pub stale_while_revalidate: Option<u64>,
    pub stale_if_error: Option<u64>,
}

impl CacheControl {
    pub fn parse(headers: &Headers) -> CacheControl {
        let mut cc = CacheControl::default();
        for value in headers.get_all("Cache-Control") {
            let Ok(value) = std::str::from_utf8(value) else {
                // Unreadable: the safe reading is "do not store".
                cc.no_store = true;
                continue;
            };
            for directive in split_directives(value) {
                let (name, arg) = match directive.split_once('=') {
                    Some((n, a)) => (n.trim(), Some(a.trim().trim_matches('"'))),
                    None => (directive.trim(), None),
                };
                let secs = || arg.and_then(|a| a.parse::<u64>().ok());
                match name.to_ascii_lowercase().as_str() {
                    "no-store" => cc.no_store = true,
                    // A field-qualified no-cache or private ("private=Set-Cookie") lets a
                    // cache store the rest; not storing at all is the simple safe reading.
                    "no-cache" => cc.no_cache = true,
                    "private" => cc.private = true,
                    "public" => cc.public = true,
                    "must-revalidate" | "proxy-revalidate" => cc.must_revalidate = true,
                    // An invalid delta-seconds makes the response stale (RFC 9111 §1.2.2).
                    "max-age" => cc.max_age = Some(secs().unwrap_or(0)),
                    "s-maxage" => cc.s_maxage = Some(secs().unwrap_or(0)),
                    "stale-while-revalidate" => cc.stale_while_revalidate = secs(),
                    "stale-if-error" => cc.stale_if_error = secs(),
                    _ => {}
                }
            }
        }
        cc
    }
}

/// Splits on commas outside quoted strings.
fn split_directives(s: &str) -> impl Iterator<Item = &str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, b) in s.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts.into_iter().filter(|p| !p.trim().is_empty())
}

/// How long a response stays fresh, and how long past that it may be served stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lifetime {
    pub fresh: Duration,
    pub stale_while_revalidate: Duration,
    pub stale_if_error: Duration,
}

impl Lifetime {
    /// Whether there is any time the entry could be served in.
    pub fn useful(&self) -> bool {
        !self.fresh.is_zero()
            || !self.stale_while_revalidate.is_zero()
            || !self.stale_if_error.is_zero()
    }
}

/// The freshness lifetime (RFC 9111 §4.2.1: s-maxage, max-age, Expires - Date), else
/// `default_ttl` (RESPONSE_CACHE_TTL, as nginx's fastcgi_cache_valid) when the response
/// states none.
pub fn lifetime(headers: &Headers, cc: &CacheControl, default_ttl: Duration) -> Lifetime {
    let fresh = if let Some(s) = cc.s_maxage.or(cc.max_age) {
        Duration::from_secs(s)
    } else if let Some(expires) = headers.get("Expires") {
        let at = std::str::from_utf8(expires)
            .ok()
            .and_then(|s| httpdate::parse_http_date(s).ok());
        let date = headers
            .get_str("Date")
            .and_then(|s| httpdate::parse_http_date(s).ok())
            .unwrap_or_else(SystemTime::now);
        // An Expires that does not parse ("0", "-1") means "already expired".
        at.and_then(|at| at.duration_since(date).ok())
            .unwrap_or(Duration::ZERO)
    } else {
        default_ttl
    };
    // must-revalidate / proxy-revalidate forbid serving it stale.
    let stale = |v: Option<u64>| match cc.must_revalidate {
        true => Duration::ZERO,
        false => Duration::from_secs(v.unwrap_or(0)),
    };
    Lifetime {
        fresh,
        stale_while_revalidate: stale(cc.stale_while_revalidate),
        stale_if_error: stale(cc.stale_if_error),
    }
}

/// Why a response is not stored (for logs and tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotStored {
    Status,
    SetCookie,
    NoStore,
    Private,
    NoCache,
    VaryStar,
    Authorization,
    NoLifetime,
    Streamed,
    TooLarge,
    Purged,
}

/// A cookie-name pattern of RESPONSE_CACHE_BYPASS_COOKIES: a prefix, or with a leading
/// `*` a suffix (`*_session`; `*` alone matches any cookie).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CookiePattern {
    Prefix(String),
    Suffix(String),
}

impl CookiePattern {
    pub fn parse(s: &str) -> CookiePattern {
        match s.strip_prefix('*') {
            Some(suffix) => CookiePattern::Suffix(suffix.to_string()),
            None => CookiePattern::Prefix(s.to_string()),
        }
    }

    fn matches(&self, name: &str) -> bool {
        match self {
            CookiePattern::Prefix(p) => name.starts_with(p.as_str()),
            CookiePattern::Suffix(s) => name.ends_with(s.as_str()),
        }
    }
}

/// Why the cache steps aside for a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bypass {
    /// Not GET or HEAD (or a GET with a body).
    Method,
    /// A cookie named by RESPONSE_CACHE_BYPASS_COOKIES (a session, a logged-in user).
    Cookie,
}

pub fn bypass(req: &Request, cookies: &[CookiePattern]) -> Option<Bypass> {
    if !matches!(req.method, Method::Get | Method::Head) || !req.body.is_empty() {
        return Some(Bypass::Method);
    }
    if !cookies.is_empty() && has_bypass_cookie(&req.headers, cookies) {
        return Some(Bypass::Cookie);
    }
    None
}

fn has_bypass_cookie(headers: &Headers, patterns: &[CookiePattern]) -> bool {
    headers.get_all("Cookie").any(|v| {
        v.split(|&b| b == b';').any(|pair| {
            let name = pair.split(|&b| b == b'=').next().unwrap_or(b"");
            let name = String::from_utf8_lossy(name);
            let name = name.trim();
            !name.is_empty() && patterns.iter().any(|p| p.matches(name))
        })
    })
}

/// The names a response varies on, lowercased; None for `Vary: *` (never stored).
pub fn vary_names(headers: &Headers) -> Option<Vec<Box<str>>> {
    let mut names: Vec<Box<str>> = Vec::new();
    for v in headers.get_all("Vary") {
        for name in String::from_utf8_lossy(v).split(',') {
            let name = name.trim().to_ascii_lowercase();
            if name == "*" {
                return None;
            }
            if !name.is_empty() && !names.iter().any(|n| **n == *name) {
                names.push(name.into());
            }
        }
    }
    Some(names)
}

/// A request header's value as Vary compares it (RFC 9111 §4.1): every field of the name
/// joined, whitespace around commas dropped; cookies sorted by name, so the same cookies
/// in another order are the same variant. None when the request has no such header.
pub fn vary_value(headers: &Headers, name: &str) -> Option<Box<[u8]>> {
    let mut fields = headers.get_all(name).peekable();
    fields.peek()?;
    if name == "cookie" {
        let mut pairs: Vec<&[u8]> = Vec::new();
        for f in fields {
            pairs.extend(f.split(|&b| b == b';').map(trim).filter(|p| !p.is_empty()));
        }
        pairs.sort_unstable();
        return Some(pairs.join(&b"; "[..]).into_boxed_slice());
    }
    let mut out: Vec<u8> = Vec::new();
    for f in fields {
        for item in f.split(|&b| b == b',').map(trim).filter(|p| !p.is_empty()) {
            if !out.is_empty() {
                out.push(b',');
            }
            out.extend_from_slice(item);
        }
    }
    Some(out.into_boxed_slice())
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end]
}

/// Tags of a response: `Cache-Tag` (comma-separated, as Cloudflare) and `Surrogate-Key`
/// (space-separated, as Fastly).
pub fn tags(headers: &Headers) -> Vec<Box<str>> {
    const MAX_TAGS: usize = 128;
    const MAX_TAG_LEN: usize = 1024;
    let mut tags: Vec<Box<str>> = Vec::new();
    for name in ["Cache-Tag", "Surrogate-Key"] {
        for v in headers.get_all(name) {
            for t in String::from_utf8_lossy(v).split(|c: char| c == ',' || c.is_ascii_whitespace())
            {
                if !t.is_empty()
                    && t.len() <= MAX_TAG_LEN
                    && tags.len() < MAX_TAGS
                    && !tags.iter().any(|x| **x == *t)
                {
                    tags.push(t.into());
                }
            }
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn h(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.push(*n, Bytes::copy_from_slice(v.as_bytes()));
        }
        h
    }

    #[test]
    fn cache_control() {
        let cc = CacheControl::parse(&h(&[
            ("Cache-Control", "public, max-age=60, S-MAXAGE=\"120\""),
            (
                "cache-control",
                "stale-while-revalidate=30, stale-if-error=600, x=\"a,b\"",
            ),
        ]));
        assert!(cc.public && !cc.private && !cc.no_store);
        assert_eq!(cc.max_age, Some(60));
        assert_eq!(cc.s_maxage, Some(120));
        assert_eq!(cc.stale_while_revalidate, Some(30));
        assert_eq!(cc.stale_if_error, Some(600));
        let cc = CacheControl::parse(&h(&[(
            "Cache-Control",
            "no-store, no-cache, must-revalidate",
        )]));
        assert!(cc.no_store && cc.no_cache && cc.must_revalidate);
        assert!(CacheControl::parse(&h(&[("Cache-Control", "private=\"Set-Cookie\"")])).private);
        assert_eq!(
            CacheControl::parse(&h(&[("Cache-Control", "max-age=abc")])).max_age,
            Some(0)
        );
    }

    #[test]
    fn lifetimes() {
        let ttl = Duration::from_secs(7);
        let lt = |pairs: &[(&str, &str)]| {
            let headers = h(pairs);
            lifetime(&headers, &CacheControl::parse(&headers), ttl)
        };
        assert_eq!(lt(&[]).fresh, ttl);
        assert_eq!(
            lt(&[("Cache-Control", "max-age=5, s-maxage=9")])
                .fresh
                .as_secs(),
            9
        );
        assert_eq!(lt(&[("Expires", "0")]).fresh, Duration::ZERO);
        let l = lt(&[
            ("Date", "Wed, 21 Oct 2015 07:28:00 GMT"),
            ("Expires", "Wed, 21 Oct 2015 08:28:00 GMT"),
        ]);
        assert_eq!(l.fresh.as_secs(), 3600);
        let l = lt(&[(
            "Cache-Control",
            "max-age=0, stale-if-error=60, must-revalidate",
        )]);
        assert!(!l.useful());
        let l = lt(&[("Cache-Control", "max-age=0, stale-while-revalidate=60")]);
        assert!(l.useful());
    }

    #[test]
    fn cookies_and_vary() {
        let pats: Vec<_> = ["wordpress_logged_in_", "*_session", "PHPSESSID"]
            .iter()
            .map(|s| CookiePattern::parse(s))
            .collect();
        assert!(has_bypass_cookie(
            &h(&[("Cookie", "a=1; wordpress_logged_in_abc=x")]),
            &pats
        ));
        assert!(has_bypass_cookie(
            &h(&[("Cookie", "wikidb_session=1")]),
            &pats
        ));
        assert!(!has_bypass_cookie(
            &h(&[("Cookie", "_ga=1; wordpress_test_cookie=WP")]),
            &pats
        ));
        assert!(has_bypass_cookie(
            &h(&[("Cookie", "x=1"), ("cookie", "PHPSESSID=2")]),
            &pats
        ));
        assert_eq!(
            vary_names(&h(&[
                ("Vary", "Accept-Encoding, Cookie"),
                ("Vary", "accept")
            ]))
            .unwrap()
            .len(),
            3
        );
        assert!(vary_names(&h(&[("Vary", "Accept, *")])).is_none());
        assert_eq!(
            vary_value(&h(&[("Cookie", "b=2; a=1")]), "cookie"),
            vary_value(&h(&[("Cookie", "a=1"), ("Cookie", "b=2")]), "cookie")
        );
        assert_eq!(
            &*vary_value(&h(&[("Accept", "text/html , */*")]), "accept").unwrap(),
            b"text/html,*/*"
        );
        assert_eq!(vary_value(&h(&[]), "accept"), None);
        assert_eq!(
            tags(&h(&[("Cache-Tag", "a, b"), ("Surrogate-Key", "b c")])),
            vec!["a".into(), "b".into(), "c".into()] as Vec<Box<str>>
        );
    }
}
