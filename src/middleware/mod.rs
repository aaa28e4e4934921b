//! The middleware chain: what runs around every request of a core, ordered by priority.
//!
//! A request passes the middleware in ascending priority, the response in reverse.
//! A middleware may answer early (rate limit's 429): that response then passes back
//! through the middleware that already saw the request, and no further. Every piece is
//! built per core from what [`Operations`] shares; a feature that is off is simply not in
//! the chain, and an empty chain costs the service one branch.
//!
//! | priority | middleware | request flow | response flow |
//! |---|---|---|---|
//! | -10 | real IP | client address from a trusted proxy's header | — |
//! | 0 | access log | captures path, agent, referer | writes the line (streams: at their end) |
//! | 5 | metrics | counts body bytes in | counts by method/status, durations, bytes out |
//! | 10 | trace context | traceparent, X-Request-ID | traceparent, X-Request-ID |
//! | 20 | rate limit | 429 when over the limit | X-RateLimit-* |
//! | 70 | compression | notes Accept-Encoding | br / zstd / gzip, precompressed files |
//! | 80 | static cache | — | Cache-Control, Expires |
//! | 90 | error pages | notes Accept | HTML page or a plain status line |
//!
//! The first four are server-wide ([`Operations::chain_for_core`]); the others belong
//! to a site ([`SiteMiddleware`], src/sites/), whose chain runs inside the server-wide
//! one once the request's host chose the site: the order above holds either way.

pub mod access_log;
pub mod compression;
pub mod error_pages;
pub mod metrics;
pub mod rate_limit;
pub mod real_ip;
pub mod static_cache;
pub mod trace;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use uring_http::{BodyStream, Method, Request, Response, Version};

use crate::config::Config;
use crate::metrics_registry::{CoreMetrics, Metrics};
use crate::php::WorkerPool;
use crate::trace_context::TraceContext;

/// What a middleware may look at and note down about one request, from its arrival
/// until its response leaves the chain.
pub struct RequestCtx {
    pub started: Instant,
    /// The server's own number for the request (`uring_request_id()`).
    pub id: u64,
    pub method: Method,
    pub version: Version,
    pub tls: bool,
    pub remote: SocketAddr,
    /// What answered it (set by the service).
    pub route: RouteKind,
    /// Whether the response is the application's own (PHP output), as opposed to one the
    /// server made (404 from the router, 503 queue full, 504 timeout, ...).
    pub from_app: bool,
    /// PHP execution time, when PHP answered.
    pub php_micros: Option<u64>,
    /// 503: the PHP queue was full.
    pub dropped: bool,
    /// 429 from the rate limit.
    pub rate_limited: bool,
    /// Set by the trace middleware.
    pub trace: Option<TraceContext>,
    /// X-Request-ID as sent back (the client's, or derived from the trace).
    pub request_id: Option<Bytes>,
    /// The `traceparent` sent back.
    pub traceparent: Option<Bytes>,
    /// Scratch space of the individual middleware.
    pub rate: Option<rate_limit::Allowance>,
    pub accept_encoding: Option<Bytes>,
    /// The request's Accept header (error pages parse it only for an error).
    pub accept: Option<Bytes>,
    pub log: Option<access_log::Captured>,
    /// What the response cache did (None when it is off or the route is not PHP).
    pub cache: Option<crate::response_cache::CacheStatus>,
    /// Time from arrival to the response flow, read once (see [`RequestCtx::elapsed`]).
    elapsed: Option<Duration>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RouteKind {
    /// Refused before routing, or routed to an error.
    Other,
    /// A static file, by its path under the document root.
    Static(PathBuf),
    Php,
}

impl RequestCtx {
    pub fn new(req: &Request, id: u64) -> RequestCtx {
        RequestCtx {
            started: Instant::now(),
            id,
            method: req.method.clone(),
            version: req.version,
            tls: req.tls,
            remote: req.remote_addr,
            route: RouteKind::Other,
            from_app: false,
            php_micros: None,
            dropped: false,
            rate_limited: false,
            trace: None,
            request_id: None,
            traceparent: None,
            rate: None,
            accept_encoding: None,
            accept: None,
            log: None,
            cache: None,
            elapsed: None,
        }
    }

    /// Time from the request's arrival until its response came back through the chain
    /// (the clock is read once, by whichever middleware asks first).
    pub fn elapsed(&mut self) -> Duration {
        *self.elapsed.get_or_insert_with(|| self.started.elapsed())
    }
}

/// One step of the chain. Both hooks are synchronous: they run on the core, between the
/// connection and the handler, and must stay cheap.
pub trait Middleware {
    fn name(&self) -> &'static str;

    /// Lower runs first on the request, last on the response.
    fn priority(&self) -> i32;

    /// Request flow. Returning a response answers the request here: the handler and the
    /// middleware of higher priority never see it.
    fn on_request(&self, _req: &mut Request, _ctx: &mut RequestCtx) -> Option<Response> {
        None
    }

    /// Response flow.
    fn on_response(&self, _ctx: &mut RequestCtx, _resp: &mut Response) {}

    /// The core is shutting down: write out anything buffered.
    fn finish(&self) {}
}

/// The middleware of one core, in priority order.
#[derive(Default)]
pub struct Chain {
    items: Vec<Box<dyn Middleware>>,
}

impl Chain {
    pub fn new(mut items: Vec<Box<dyn Middleware>>) -> Chain {
        items.sort_by_key(|m| m.priority());
        Chain { items }
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// The middleware, in priority order (to combine chains, as bench/'s middleware_bench
    /// does).
    pub fn into_items(self) -> Vec<Box<dyn Middleware>> {
        self.items
    }

    /// Names in request order (for logs and tests).
    pub fn names(&self) -> Vec<&'static str> {
        self.items.iter().map(|m| m.name()).collect()
    }

    /// Runs the request flow; `Err((i, response))` when middleware `i` answered.
    pub fn on_request(
        &self,
        req: &mut Request,
        ctx: &mut RequestCtx,
    ) -> Result<(), (usize, Response)> {
        for (i, m) in self.items.iter().enumerate() {
            if let Some(resp) = m.on_request(req, ctx) {
                return Err((i, resp));
            }
        }
        Ok(())
    }

    /// Runs the response flow through the first `upto` middleware, in reverse.
    pub fn on_response(&self, upto: usize, ctx: &mut RequestCtx, mut resp: Response) -> Response {
        for m in self.items[..upto.min(self.items.len())].iter().rev() {
            m.on_response(ctx, &mut resp);
        }
        resp
    }

    pub fn finish(&self) {
        for m in &self.items {
            m.finish();
        }
    }
}

/// A body stream that reports, once, how many bytes the connection wrote of it and
/// whether it reached its end. A chunk counts as written when the connection asks for
/// the next one (it asks only then), so a client that leaves mid-stream is not credited
/// with the chunk that failed.
pub struct ObservedStream<F: FnOnce(u64, bool)> {
    inner: Pin<Box<dyn BodyStream>>,
    sent: u64,
    pending: u64,
    on_end: Option<F>,
}

impl<F: FnOnce(u64, bool)> ObservedStream<F> {
    pub fn new(inner: Pin<Box<dyn BodyStream>>, on_end: F) -> Self {
        ObservedStream {
            inner,
            sent: 0,
            pending: 0,
            on_end: Some(on_end),
        }
    }
}

impl<F: FnOnce(u64, bool) + Unpin> BodyStream for ObservedStream<F> {
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        this.sent += std::mem::take(&mut this.pending);
        match this.inner.as_mut().poll_chunk(cx) {
            Poll::Ready(Some(chunk)) => {
                this.pending = chunk.len() as u64;
                Poll::Ready(Some(chunk))
            }
            Poll::Ready(None) => {
                if let Some(f) = this.on_end.take() {
                    f(this.sent, true);
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<F: FnOnce(u64, bool)> Drop for ObservedStream<F> {
    fn drop(&mut self) {
        if let Some(f) = self.on_end.take() {
            f(self.sent, false);
        }
    }
}

/// The bytes of a response body the client gets (0 for HEAD, 204, 304), when known now.
pub fn body_bytes(ctx: &RequestCtx, resp: &Response) -> Option<u64> {
    if ctx.method == Method::Head || resp.status == 204 || resp.status == 304 || resp.status < 200 {
        return Some(0);
    }
    resp.body.len()
}

/// What every core's server-wide chain is built from: settings, and the state shared
/// between cores (the access log writer, the metrics registry). The middleware a site
/// configures (rate limit, compression, static cache, error pages) is [`SiteMiddleware`].
pub struct Operations {
    pub metrics: Option<Arc<Metrics>>,
    access_log: Mutex<Option<access_log::AccessLogWriter>>,
    trace: bool,
    /// Trusted proxy networks and the header they name the client in.
    real_ip: Option<(Vec<ipnet::IpNet>, String)>,
    /// RESPONSE_CACHE_SIZE > 0 (shared by every core; src/response_cache/).
    pub response_cache: Option<Arc<crate::response_cache::ResponseCache>>,
    /// How the response cache compresses what it serves: the server-wide COMPRESSION
    /// (the store is shared by every site).
    cache_compression: Option<crate::compression::CompressionConfig>,
}

impl Operations {
    /// What SIGHUP should do for the operations layer: reopen the access log file.
    pub fn on_sighup(&self) -> Option<Box<dyn Fn() + Send>> {
        let guard = self.access_log.lock().unwrap_or_else(|e| e.into_inner());
        let reopen = guard.as_ref()?.reopener()?;
        Some(Box::new(reopen))
    }

    /// Sets up what the configuration turns on. `cores`: how many chains will be built.
    pub fn start(
        cfg: &Config,
        pool: Option<WorkerPool>,
        worker_pool: Option<WorkerPool>,
        cores: usize,
    ) -> Result<Operations, String> {
        let access_log = match cfg.access_log {
            true => Some(
                access_log::AccessLogWriter::start(cfg.access_log_file.as_deref()).map_err(
                    |e| match &cfg.access_log_file {
                        Some(p) => format!("ACCESS_LOG_FILE={}: {e}", p.display()),
                        None => format!("ACCESS_LOG: {e}"),
                    },
                )?,
            ),
            false => None,
        };
        let response_cache = crate::response_cache::CacheSettings::from_config(cfg)
            .map(|s| crate::response_cache::ResponseCache::new(s, cfg.compression));
        if let Some(c) = &response_cache {
            c.install();
        }
        let metrics = cfg.internal_addr.map(|_| {
            let mut m = Metrics::new(cores, pool);
            m.worker_pool = worker_pool;
            m.access_log_dropped = access_log.as_ref().map(|a| a.dropped());
            m.response_cache = response_cache.clone();
            Arc::new(m)
        });
        Ok(Operations {
            metrics,
            access_log: Mutex::new(access_log),
            trace: cfg.trace_context,
            real_ip: cfg
                .trusted_proxies
                .as_ref()
                .filter(|t| !t.0.is_empty())
                .map(|t| (t.0.clone(), cfg.real_ip_header.clone())),
            response_cache,
            cache_compression: cfg
                .compression
                .then(|| crate::compression::CompressionConfig::from_config(cfg)),
        })
    }

    /// Settings that turn every feature off (tests, tools).
    pub fn off() -> Operations {
        Operations {
            metrics: None,
            access_log: Mutex::new(None),
            trace: false,
            real_ip: None,
            response_cache: None,
            cache_compression: None,
        }
    }

    /// Core `core`'s handle on the response cache, when it is on.
    pub fn response_cache_for_core(&self, core: usize) -> Option<crate::response_cache::CoreCache> {
        self.response_cache.as_ref().map(|c| {
            crate::response_cache::CoreCache::new(
                Arc::clone(c),
                self.core_metrics(core),
                self.cache_compression.clone(),
            )
        })
    }

    pub fn core_metrics(&self, core: usize) -> Option<Arc<CoreMetrics>> {
        self.metrics.as_ref().map(|m| m.core(core))
    }

    /// Builds core `core`'s server-wide chain: it runs before any site's (its
    /// priorities are all lower). Must run on that core's runtime (the access log starts
    /// its flush task there).
    pub fn chain_for_core(&self, core: usize) -> Chain {
        let mut items: Vec<Box<dyn Middleware>> = Vec::new();
        if let Some((trusted, header)) = &self.real_ip {
            items.push(Box::new(real_ip::RealIp::new(
                trusted.clone(),
                header.clone(),
            )));
        }
        if let Some(w) = self
            .access_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
        {
            items.push(Box::new(access_log::AccessLog::new(w.core())));
        }
        if let Some(m) = self.core_metrics(core) {
            items.push(Box::new(metrics::MetricsMiddleware::new(m)));
        }
        if self.trace {
            items.push(Box::new(trace::Trace));
        }
        Chain::new(items)
    }

    /// After the cores stopped: writes out the access log (waits a little for its writer).
    pub fn finish(&self) {
        let writer = self
            .access_log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(w) = writer {
            w.finish(Duration::from_secs(5));
        }
    }
}

/// The middleware one site configures, and the state its cores share (the rate
/// limiter's buckets, the loaded error pages). Runs after the server-wide chain.
#[derive(Clone, Default)]
pub struct SiteMiddleware {
    rate_limiter: Option<Arc<rate_limit::RateLimiter>>,
    /// (limit, window secs, max clients) the limiter was made for, to keep it (and its
    /// buckets) across a reload that does not change them.
    rate_settings: (u32, u32, usize),
    error_pages: Option<Arc<error_pages::ErrorPages>>,
    compression: Option<crate::compression::CompressionConfig>,
    static_cache_ttl: Option<Duration>,
}

impl SiteMiddleware {
    /// `previous`: the same site's before a reload, whose rate limiter is kept when its
    /// settings did not change.
    pub fn start(
        site: &crate::sites::SiteSpec,
        cfg: &Config,
        previous: Option<&SiteMiddleware>,
    ) -> Result<SiteMiddleware, String> {
        let error_pages = match &site.error_pages_dir {
            Some(dir) => Some(Arc::new(
                error_pages::ErrorPages::load(dir)
                    .map_err(|e| format!("error pages {}: {e}", dir.display()))?,
            )),
            None => None,
        };
        let rate_settings = (
            site.rate_limit,
            site.rate_window.as_secs().max(1) as u32,
            cfg.rate_limit_max_clients,
        );
        let rate_limiter = match previous {
            Some(p) if p.rate_settings == rate_settings => p.rate_limiter.clone(),
            _ => (site.rate_limit > 0).then(|| {
                Arc::new(rate_limit::RateLimiter::new(
                    rate_settings.0,
                    rate_settings.1,
                    rate_settings.2,
                ))
            }),
        };
        Ok(SiteMiddleware {
            rate_limiter,
            rate_settings,
            error_pages,
            compression: site
                .compression
                .then(|| crate::compression::CompressionConfig::from_config(cfg)),
            static_cache_ttl: site.static_cache_ttl,
        })
    }

    /// The site's compression settings, when compression is on (its static files serve
    /// precompressed variants with them).
    pub fn compression(&self) -> Option<&crate::compression::CompressionConfig> {
        self.compression.as_ref()
    }

    /// A core's chain for this site.
    pub fn chain(&self) -> Chain {
        let mut items: Vec<Box<dyn Middleware>> = Vec::new();
        if let Some(rl) = &self.rate_limiter {
            items.push(Box::new(rate_limit::RateLimit::new(Arc::clone(rl))));
        }
        if let Some(c) = &self.compression {
            items.push(Box::new(compression::Compression::new(c.clone())));
        }
        if let Some(ttl) = self.static_cache_ttl {
            items.push(Box::new(static_cache::StaticCache::new(ttl)));
        }
        if let Some(pages) = &self.error_pages {
            items.push(Box::new(error_pages::ErrorPagesMiddleware::new(
                Arc::clone(pages),
            )));
        }
        Chain::new(items)
    }
}
