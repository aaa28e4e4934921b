//! Browser caching of static files (`STATIC_CACHE_TTL`, e.g. `1h`, `7d`; 0 or unset = off):
//! `Cache-Control: public, max-age=N` and `Expires` on static-file responses (200, 206
//! and 304), unless the response already has a Cache-Control. PHP responses are left to
//! the application.

use std::cell::RefCell;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use uring_http::Response;

use super::{Middleware, RequestCtx, RouteKind};

pub struct StaticCache {
    ttl: u64,
    cache_control: Bytes,
    /// The Expires value, formatted at most once a second: (unix second, value).
    expires: RefCell<(u64, Bytes)>,
}

impl StaticCache {
    pub fn new(ttl: Duration) -> StaticCache {
        StaticCache {
            ttl: ttl.as_secs(),
            cache_control: Bytes::from(format!("public, max-age={}", ttl.as_secs())),
            expires: RefCell::new((u64::MAX, Bytes::new())),
        }
    }

    fn expires(&self) -> Bytes {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut cached = self.expires.borrow_mut();
        if cached.0 != now {
            *cached = (
                now,
                Bytes::copy_from_slice(&uring_http::date::format_at(now + self.ttl)),
            );
        }
        cached.1.clone()
    }
}

impl Middleware for StaticCache {
    fn name(&self) -> &'static str {
        "static_cache"
    }

    fn priority(&self) -> i32 {
        80
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        if !matches!(ctx.route, RouteKind::Static(_)) || !matches!(resp.status, 200 | 206 | 304) {
            return;
        }
        if resp.headers.contains("Cache-Control") {
            return;
        }
        resp.headers
            .push("Cache-Control", self.cache_control.clone());
        resp.headers.set("Expires", self.expires());
    }
}
