//! Error pages (`ERROR_PAGES_DIR`): 4xx and 5xx responses that the server made (404 from
//! the router, 503 for a full queue, 504 past REQUEST_TIMEOUT, ...) or that PHP sent
//! with an empty body get `{dir}/{code}.html` when the client accepts `text/html`, and a
//! short plain-text status line otherwise. A PHP application's own error page (a body
//! with content) is left alone, and no internal error text ever reaches the client.
//!
//! The pages are read once at start-up (only `NNN.html` files, up to 1 MiB each).

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use uring_http::{Body, Method, Request, Response};

use super::{Middleware, RequestCtx};

const MAX_PAGE: u64 = 1 << 20;

pub struct ErrorPages {
    pages: HashMap<u16, Bytes>,
}

impl ErrorPages {
    pub fn load(dir: &Path) -> std::io::Result<ErrorPages> {
        let mut pages = HashMap::new();
        for entry in std::fs::read_dir(dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(code) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".html"))
                .and_then(|c| c.parse::<u16>().ok())
            else {
                continue;
            };
            if !(400..=599).contains(&code) {
                continue;
            }
            let meta = std::fs::metadata(entry.path())?;
            if !meta.is_file() || meta.len() > MAX_PAGE {
                tracing::warn!(file = %entry.path().display(), "error page skipped: not a regular file of at most 1 MiB");
                continue;
            }
            pages.insert(code, Bytes::from(std::fs::read(entry.path())?));
        }
        tracing::info!(dir = %dir.display(), pages = pages.len(), "error pages loaded");
        Ok(ErrorPages { pages })
    }

    pub fn get(&self, code: u16) -> Option<&Bytes> {
        self.pages.get(&code)
    }
}

/// Whether an Accept header lists text/html (or text/*) with a non-zero q.
pub fn accepts_html(accept: &[u8]) -> bool {
    let Ok(accept) = std::str::from_utf8(accept) else {
        return false;
    };
    accept.split(',').any(|item| {
        let mut parts = item.split(';');
        let range = parts.next().unwrap_or("").trim();
        if !(range.eq_ignore_ascii_case("text/html") || range.eq_ignore_ascii_case("text/*")) {
            return false;
        }
        !parts.any(|p| {
            p.trim()
                .strip_prefix("q=")
                .is_some_and(|q| q.trim().parse::<f32>().is_ok_and(|q| q <= 0.0))
        })
    })
}

pub struct ErrorPagesMiddleware {
    pages: Arc<ErrorPages>,
}

impl ErrorPagesMiddleware {
    pub fn new(pages: Arc<ErrorPages>) -> ErrorPagesMiddleware {
        ErrorPagesMiddleware { pages }
    }
}

impl Middleware for ErrorPagesMiddleware {
    fn name(&self) -> &'static str {
        "error_pages"
    }

    fn priority(&self) -> i32 {
        90
    }

    fn on_request(&self, req: &mut Request, ctx: &mut RequestCtx) -> Option<Response> {
        ctx.accept = req.headers.get("Accept").cloned();
        None
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        if !(400..=599).contains(&resp.status) {
            return;
        }
        if ctx.from_app && (!resp.body.is_empty() || ctx.method == Method::Head) {
            // The application's own page (for HEAD PHP sends no body: keep GET's headers).
            return;
        }
        let (content_type, body) = match self.pages.get(resp.status) {
            Some(page) if ctx.accept.as_deref().is_some_and(accepts_html) => {
                (&b"text/html; charset=utf-8"[..], page.clone())
            }
            _ => {
                let reason = uring_http::h1::reason_phrase(resp.status);
                let text = if reason.is_empty() {
                    format!("{}\n", resp.status)
                } else {
                    format!("{} {reason}\n", resp.status)
                };
                (&b"text/plain; charset=utf-8"[..], Bytes::from(text))
            }
        };
        for h in [
            "Content-Encoding",
            "Content-Length",
            "Content-Range",
            "ETag",
            "Last-Modified",
        ] {
            resp.headers.remove(h);
        }
        resp.headers
            .set("Content-Type", Bytes::from_static(content_type));
        resp.body = Body::Bytes(body);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_html() {
        assert!(accepts_html(b"text/html,application/xhtml+xml,*/*;q=0.8"));
        assert!(accepts_html(b"text/*"));
        assert!(!accepts_html(b"*/*"));
        assert!(!accepts_html(b"application/json"));
        assert!(!accepts_html(b"text/html;q=0"));
    }
}
