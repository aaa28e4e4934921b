//! The cache key: scheme + host + path + query, as one string (`https://example.com/a?b`).
//!
//! Normalisation: the host is lowercased and loses a default port (`:80` on http, `:443`
//! on https); path and query are taken as the client sent them, still percent-encoded,
//! so `/a%2Fb` and `/a/b`, or `?a=1&b=2` and `?b=2&a=1`, are different keys (as nginx's
//! `$scheme$host$request_uri`). A `?` with nothing after it is dropped. The method is not
//! part of the string: only GET is stored, and HEAD is answered from GET's entry.

use uring_http::Request;

pub fn request_key(req: &Request) -> String {
    build(
        req.tls,
        req.host.as_deref().unwrap_or(""),
        &req.path,
        req.query.as_deref(),
    )
}

pub fn build(tls: bool, host: &str, path: &str, query: Option<&str>) -> String {
    let scheme = if tls { "https" } else { "http" };
    let host = strip_default_port(host, tls);
    let q = query.filter(|q| !q.is_empty());
    let mut key = String::with_capacity(
        scheme.len() + 3 + host.len() + path.len() + q.map_or(0, |q| q.len() + 1),
    );
    key.push_str(scheme);
    key.push_str("://");
    for c in host.chars() {
        key.push(c.to_ascii_lowercase());
    }
    key.push_str(path);
    if let Some(q) = q {
        key.push('?');
        key.push_str(q);
    }
    key
}

fn strip_default_port(host: &str, tls: bool) -> &str {
    let default = if tls { ":443" } else { ":80" };
    host.strip_suffix(default).unwrap_or(host)
}

/// The key of an absolute URL given to a purge (`https://example.com/a?b`), or None when
/// it is not one.
pub fn from_url(url: &str) -> Option<String> {
    let (tls, rest) = if let Some(r) = url.strip_prefix("https://") {
        (true, r)
    } else if let Some(r) = url.strip_prefix("http://") {
        (false, r)
    } else {
        return None;
    };
    let rest = rest.split('#').next().unwrap_or("");
    let (authority, path_query) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if authority.is_empty() {
        return None;
    }
    let (path, query) = match path_query.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path_query, None),
    };
    Some(build(tls, authority, path, query))
}

/// The path-and-query part of a key (what a purge by path names).
pub fn path_label(path: &str, query: Option<&str>) -> String {
    let q = query.filter(|q| !q.is_empty());
    // NUL cannot occur in a tag taken from a header, so paths and tags never collide.
    let mut l = String::with_capacity(1 + path.len() + q.map_or(0, |q| q.len() + 1));
    l.push('\0');
    l.push_str(path);
    if let Some(q) = q {
        l.push('?');
        l.push_str(q);
    }
    l
}

/// The path label of a stored key (`https://host/a?b` → `\0/a?b`).
pub fn path_label_of_key(key: &str) -> String {
    let rest = key.find("://").map_or(key, |i| &key[i + 3..]);
    let path_query = rest.find('/').map_or("", |i| &rest[i..]);
    let mut l = String::with_capacity(1 + path_query.len());
    l.push('\0');
    l.push_str(path_query);
    l
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalised() {
        assert_eq!(
            build(false, "Example.COM:80", "/a", Some("x=1")),
            "http://example.com/a?x=1"
        );
        assert_eq!(
            build(true, "example.com:443", "/", Some("")),
            "https://example.com/"
        );
        assert_eq!(
            build(true, "example.com:80", "/", None),
            "https://example.com:80/"
        );
        assert_eq!(
            from_url("https://Example.com:443/a?b=1#frag").unwrap(),
            "https://example.com/a?b=1"
        );
        assert_eq!(
            from_url("http://example.com").unwrap(),
            "http://example.com/"
        );
        assert_eq!(from_url("/a"), None);
        assert_eq!(from_url("https:///a"), None);
        assert_eq!(path_label("/a", Some("b")), "\0/a?b");
        assert_eq!(path_label("/a", Some("")), "\0/a");
        assert_eq!(
            path_label_of_key("https://h:1/a?b"),
            path_label("/a", Some("b"))
        );
    }
}
