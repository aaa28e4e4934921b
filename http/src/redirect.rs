//! The plain-HTTP listener's answer when the site lives on HTTPS
//! (`REDIRECT_HTTP_TO_HTTPS`): every request is sent to the same host and path on the
//! TLS port — 301 for GET and HEAD (what browsers and crawlers expect, cached), 308 for
//! the other methods (which keeps the method and body, RFC 9110 §15.4.9).

use bytes::Bytes;

use crate::{Headers, Method, Request, Response, Service};

/// Redirects every request to `https://HOST[:https_port]/path?query`.
#[derive(Clone, Copy, Debug)]
pub struct HttpsRedirect {
    /// The TLS port; omitted from the Location when it is 443.
    pub https_port: u16,
}

impl HttpsRedirect {
    /// The Location for a request to `host` (which may carry a port) and `path`/`query`.
    pub fn location(&self, host: &str, path: &str, query: Option<&str>) -> String {
        let name = host_without_port(host);
        let mut out = String::with_capacity(16 + name.len() + path.len());
        out.push_str("https://");
        out.push_str(name);
        if self.https_port != 443 {
            out.push(':');
            out.push_str(&self.https_port.to_string());
        }
        out.push_str(if path.starts_with('/') { path } else { "/" });
        if let Some(q) = query {
            out.push('?');
            out.push_str(q);
        }
        out
    }
}

impl Service for HttpsRedirect {
    async fn call(&self, req: Request) -> Response {
        let Some(host) = req.host.as_deref().filter(|h| !h.is_empty()) else {
            return Response::text(400, "a Host header is required\n");
        };
        let location = self.location(host, &req.path, req.query.as_deref());
        let (status, text) = match req.method {
            Method::Get | Method::Head => (301, "Moved Permanently\n"),
            _ => (308, "Permanent Redirect\n"),
        };
        let mut headers = Headers::with_capacity(2);
        headers.push("Location", Bytes::from(location));
        headers.push(
            "Content-Type",
            Bytes::from_static(b"text/plain; charset=utf-8"),
        );
        Response::new(
            status,
            headers,
            crate::Body::Bytes(Bytes::from_static(text.as_bytes())),
        )
    }
}

/// `example.com:80` → `example.com`; `[::1]:80` → `[::1]`.
fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return match host.find(']') {
            Some(i) => &host[..=i],
            None => host,
        };
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let r = HttpsRedirect { https_port: 8443 };
        assert_eq!(
            r.location("example.com:8080", "/a/b", Some("x=1")),
            "https://example.com:8443/a/b?x=1"
        );
        assert_eq!(r.location("[::1]:80", "/", None), "https://[::1]:8443/");
        assert_eq!(r.location("h", "*", None), "https://h:8443/");
        let r = HttpsRedirect { https_port: 443 };
        assert_eq!(
            r.location("example.com", "/p", None),
            "https://example.com/p"
        );
    }
}
