//! The request-target (RFC 9112 §3.2) and the authority it or the Host header names.

use super::H1Error;
use crate::Method;

/// A request-target split into its parts, borrowing from the target.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Target<'a> {
    /// Still percent-encoded; `/…` or `*`.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The authority of an absolute-form target, validated.
    pub authority: Option<&'a str>,
}

/// Splits an origin-form (`/p?q`), absolute-form (`http://a/p?q`) or asterisk-form (`*`,
/// `OPTIONS` only) target. Authority-form (CONNECT) and anything else is refused: this
/// server is no proxy.
pub(crate) fn split_target<'a>(target: &'a str, method: &Method) -> Result<Target<'a>, H1Error> {
    // A fragment is never part of a request-target (RFC 9112 §3.2); clients that send one
    // anyway mean the resource without it.
    let target = match target.find('#') {
        Some(i) => &target[..i],
        None => target,
    };
    if target.starts_with('/') {
        let (path, query) = split_query(target);
        return Ok(Target {
            path,
            query,
            authority: None,
        });
    }
    if target == "*" {
        if *method == Method::Options {
            return Ok(Target {
                path: "*",
                query: None,
                authority: None,
            });
        }
        return Err(H1Error::BadRequest(
            "asterisk-form target is only for OPTIONS\n",
        ));
    }
    let rest = strip_scheme(target).ok_or(H1Error::BadRequest(
        "request-target must be origin-form or absolute-form\n",
    ))?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path_and_query) = rest.split_at(authority_end);
    if authority.is_empty() || !valid_host(authority.as_bytes()) {
        return Err(H1Error::BadRequest("invalid authority in request-target\n"));
    }
    let (path, query) = split_query(path_and_query);
    // RFC 9112 §3.2.2: an empty path in absolute-form stands for "/".
    let path = if path.is_empty() { "/" } else { path };
    Ok(Target {
        path,
        query,
        authority: Some(authority),
    })
}

fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.find('?') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    }
}

fn strip_scheme(target: &str) -> Option<&str> {
    for scheme in ["http://", "https://"] {
        if target.len() >= scheme.len()
            && target.as_bytes()[..scheme.len()].eq_ignore_ascii_case(scheme.as_bytes())
        {
            return Some(&target[scheme.len()..]);
        }
    }
    None
}

/// Whether `host` is a plausible `uri-host [":" port]`: only the characters of RFC 3986's
/// reg-name, IP-literal and port. This refuses whitespace, `/`, `\`, `@` (userinfo),
/// control and non-ASCII bytes, which are what turn a Host header into path traversal or
/// cache poisoning further down.
pub(crate) fn valid_host(host: &[u8]) -> bool {
    host.iter().all(|&b| {
        b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'-' | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b':'
                    | b'['
                    | b']'
                    | b'%'
            )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(
        path: &'static str,
        query: Option<&'static str>,
        authority: Option<&'static str>,
    ) -> Target<'static> {
        Target {
            path,
            query,
            authority,
        }
    }

    #[test]
    fn origin_form() {
        assert_eq!(split_target("/", &Method::Get), Ok(t("/", None, None)));
        assert_eq!(
            split_target("/a%20b?x=1&y", &Method::Get),
            Ok(t("/a%20b", Some("x=1&y"), None))
        );
        assert_eq!(
            split_target("/a?", &Method::Get),
            Ok(t("/a", Some(""), None))
        );
        assert_eq!(
            split_target("/a#frag?x", &Method::Get),
            Ok(t("/a", None, None))
        );
        assert_eq!(
            split_target("/a?b?c", &Method::Get),
            Ok(t("/a", Some("b?c"), None))
        );
    }

    #[test]
    fn absolute_form() {
        assert_eq!(
            split_target("http://example.com:8080/p/q?z", &Method::Get),
            Ok(t("/p/q", Some("z"), Some("example.com:8080")))
        );
        assert_eq!(
            split_target("HTTPS://h", &Method::Get),
            Ok(t("/", None, Some("h")))
        );
        assert_eq!(
            split_target("http://h?x", &Method::Get),
            Ok(t("/", Some("x"), Some("h")))
        );
        assert_eq!(
            split_target("http://[::1]:80/", &Method::Get),
            Ok(t("/", None, Some("[::1]:80")))
        );
        assert_eq!(
            split_target("http://h#/x", &Method::Get),
            Ok(t("/", None, Some("h")))
        );
        assert!(split_target("http://#/p", &Method::Get).is_err());
        assert!(split_target("http:///p", &Method::Get).is_err());
        assert!(split_target("http://user@h/p", &Method::Get).is_err());
        assert!(split_target("ftp://h/p", &Method::Get).is_err());
    }

    #[test]
    fn asterisk_and_other_forms() {
        assert_eq!(split_target("*", &Method::Options), Ok(t("*", None, None)));
        assert!(split_target("*", &Method::Get).is_err());
        assert!(split_target("example.com:443", &Method::Connect).is_err());
        assert!(split_target("index.html", &Method::Get).is_err());
    }

    #[test]
    fn host_validation() {
        for ok in [
            "example.com",
            "example.com:8080",
            "[::1]:443",
            "127.0.0.1",
            "xn--bcher-kva.ch",
            "",
        ] {
            assert!(valid_host(ok.as_bytes()), "{ok}");
        }
        for bad in [
            "a b",
            "a/b",
            "a\\b",
            "user@h",
            "h\t",
            "h\x01",
            "h\x7f",
            "caf\u{e9}",
            "a?b",
            "a#b",
        ] {
            assert!(!valid_host(bad.as_bytes()), "{bad:?}");
        }
    }
}
