//! An HTTP/2 request head (pseudo-header fields and the header map `h2` decoded) turned
//! into the protocol-independent [`Request`] parts.

use bytes::Bytes;
use http::request::Parts;

use crate::h1::target::valid_host;
use crate::{Headers, Method, RequestHead};

/// The head of a request, everything but the body.
pub(crate) struct Head {
    /// What becomes the request.
    pub request: RequestHead,
    /// The client sent `expect: 100-continue`.
    pub expect_continue: bool,
    /// The declared body length, when the client sent `content-length`.
    pub content_length: Option<u64>,
}

impl std::ops::Deref for Head {
    type Target = RequestHead;
    fn deref(&self) -> &RequestHead {
        &self.request
    }
}

/// Why a request head is refused: answered with this status and text, never a panic.
pub(crate) type Refusal = (u16, &'static str);

/// Converts what `h2` decoded. `h2` has already checked the pseudo-header fields
/// (present, known, before regular fields), refused connection-specific fields
/// (RFC 9113 §8.2.2) and upper-case names, so what is left is the server's own
/// validation: the target form and the authority.
pub(crate) fn convert_head(parts: Parts) -> Result<Head, Refusal> {
    let method = Method::from_token(parts.method.as_str());
    let Some(pq) = parts.uri.path_and_query() else {
        // Only CONNECT has no :path; this server is no proxy (as on HTTP/1.1).
        return Err((400, "CONNECT is not supported\n"));
    };
    let raw = pq.as_str();
    // A fragment is never part of a request-target; clients that send one mean the
    // resource without it.
    let target = raw.split_once('#').map_or(raw, |(t, _)| t);
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    if path == "*" {
        if method != Method::Options {
            return Err((400, "asterisk-form target is only for OPTIONS\n"));
        }
    } else if !path.starts_with('/') {
        return Err((400, "request-target must be origin-form\n"));
    }

    // :authority wins; a `host` field is the fallback (RFC 9113 §8.3.1).
    let host = match parts.uri.authority() {
        Some(a) => Some(a.as_str()),
        None => parts
            .headers
            .get(http::header::HOST)
            .map(|v| v.to_str().unwrap_or("\u{0}")),
    };
    let host = match host {
        Some(h) if h.is_empty() || !valid_host(h.as_bytes()) => {
            return Err((400, "invalid authority\n"));
        }
        Some(h) => Some(h.to_owned()),
        None => None,
    };

    let mut headers = Headers::with_capacity(parts.headers.len());
    let mut expect_continue = false;
    let mut content_length = None;
    // The map yields every value of a name together, names in the order they first
    // appeared; a cookie split over several fields (RFC 9113 §8.2.3) stays several
    // entries, which the application joins with "; ".
    for (name, value) in parts.headers.iter() {
        if name == http::header::HOST && parts.uri.authority().is_some() {
            // The authority already names the host; a second spelling would only let the
            // two disagree further down.
            continue;
        }
        if name == http::header::EXPECT {
            if value.as_bytes().eq_ignore_ascii_case(b"100-continue") {
                expect_continue = true;
            }
        } else if name == http::header::CONTENT_LENGTH {
            // h2 itself refuses a body whose DATA disagrees with this value.
            match std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|s| s.parse::<u64>().ok())
            {
                Some(n) => content_length = Some(n),
                None => return Err((400, "invalid content-length\n")),
            }
        }
        headers.push(name.as_str(), Bytes::copy_from_slice(value.as_bytes()));
    }

    Ok(Head {
        request: RequestHead {
            method,
            target: target.to_owned(),
            path: path.to_owned(),
            query: query.map(str::to_owned),
            headers,
            host,
        },
        expect_continue,
        content_length,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&str, &str)]) -> Parts {
        let mut b = http::Request::builder().method("GET").uri(uri);
        for (n, v) in headers {
            b = b.header(*n, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn splits_target_and_keeps_cookie_crumbs() {
        let h = convert_head(parts(
            "https://example.com:8443/a/b.php?x=1&y",
            &[("cookie", "a=1"), ("user-agent", "t"), ("cookie", "b=2")],
        ))
        .unwrap();
        assert_eq!(h.path, "/a/b.php");
        assert_eq!(h.query.as_deref(), Some("x=1&y"));
        assert_eq!(h.target, "/a/b.php?x=1&y");
        assert_eq!(h.host.as_deref(), Some("example.com:8443"));
        let cookies: Vec<_> = h.headers.get_all("cookie").collect();
        assert_eq!(cookies, [&Bytes::from("a=1"), &Bytes::from("b=2")]);
        assert_eq!(h.headers.get_str("user-agent"), Some("t"));
    }

    #[test]
    fn host_header_is_the_fallback_and_is_validated() {
        let h = convert_head(parts("/x", &[("host", "h.test")])).unwrap();
        assert_eq!(h.host.as_deref(), Some("h.test"));
        assert!(convert_head(parts("/x", &[("host", "a/b")])).is_err());
        assert!(convert_head(parts("/x", &[])).unwrap().host.is_none());
    }

    #[test]
    fn content_length_and_expect() {
        let h = convert_head(parts(
            "/u",
            &[("content-length", "12"), ("expect", "100-continue")],
        ))
        .unwrap();
        assert_eq!(h.content_length, Some(12));
        assert!(h.expect_continue);
        assert!(convert_head(parts("/u", &[("content-length", "x")])).is_err());
    }

    #[test]
    fn asterisk_only_for_options() {
        let mut p = parts("*", &[]);
        assert!(convert_head(p.clone()).is_err());
        p.method = http::Method::OPTIONS;
        assert_eq!(convert_head(p).unwrap().path, "*");
    }
}
