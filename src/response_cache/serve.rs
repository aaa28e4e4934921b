//! The cache on a core's request path: PHP routes go through [`CoreCache::serve`], which
//! answers from the cache, waits for a miss in flight, or runs PHP and stores the answer.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use uring_http::{Body, Headers, Method, Request, RequestBody, Response};

use super::coalesce::{Joined, Leader, Outcome};
use super::entry::{Entry, Freshness};
use super::policy::{self, Bypass};
use super::{key, read_file, CacheCounters, CacheStatus, ResponseCache};
use crate::compression::{negotiate, CompressionConfig};
use crate::metrics_registry::CoreMetrics;
use crate::middleware::{RequestCtx, RouteKind};
use crate::php_handler::{PhpHandler, PhpOrigin, PhpOutcome, PhpSite};
use crate::router::PhpTarget;

/// One core's handle on the shared cache.
pub struct CoreCache {
    cache: Arc<ResponseCache>,
    metrics: Option<Arc<CoreMetrics>>,
    /// COMPRESSION's settings: hits are compressed here, once per coding and entry.
    compression: Option<CompressionConfig>,
}

impl CoreCache {
    pub fn new(
        cache: Arc<ResponseCache>,
        metrics: Option<Arc<CoreMetrics>>,
        compression: Option<CompressionConfig>,
    ) -> CoreCache {
        CoreCache {
            cache,
            metrics,
            compression,
        }
    }

    fn counters(&self) -> Option<&CacheCounters> {
        self.metrics.as_ref().map(|m| &m.response_cache)
    }

    /// Answers a PHP route: from the cache when it may, else through `php` (storing
    /// the answer when HTTP's rules allow).
    pub async fn serve(
        &self,
        req: Request,
        target: PhpTarget,
        site: &PhpSite,
        ctx: &mut RequestCtx,
        php: &Rc<PhpHandler>,
    ) -> Response {
        ctx.route = RouteKind::Php;
        let cache = &self.cache;
        if let Some(why) = policy::bypass(&req, &cache.settings.bypass_cookies) {
            // RFC 9111 §4.4: a successful unsafe method invalidates the target URI.
            let invalidates = why == Bypass::Method
                && !matches!(req.method, Method::Get | Method::Head | Method::Options);
            let key = invalidates.then(|| key::request_key(&req));
            let out = php.run(req, target, site, ctx.id, Some(ctx)).await;
            if let Some(key) = key {
                if (200..400).contains(&out.response.status) {
                    cache.invalidate(&key);
                }
            }
            return self.finish(out.response, CacheStatus::Bypass, ctx);
        }

        let key = key::request_key(&req);
        let has_auth = req.headers.contains("Authorization");
        let mut status = CacheStatus::Miss;
        let mut stale: Option<Arc<Entry>> = None;
        if let Some(entry) = cache.lookup(&key, &req.headers, has_auth) {
            match entry.freshness(Instant::now()) {
                Freshness::Fresh => return self.hit(&entry, ctx, CacheStatus::Hit),
                Freshness::StaleRevalidate => {
                    self.refresh(&key, &req, target, site, php, has_auth);
                    return self.hit(&entry, ctx, CacheStatus::Stale);
                }
                Freshness::Expired => {
                    status = CacheStatus::Expired;
                    stale = Some(entry);
                }
            }
        }

        // Requests with credentials are not coalesced: their answers are rarely shared.
        let mut leader = None;
        if !has_auth {
            match cache.flights.join(&key) {
                Joined::Leader(l) => leader = Some(l),
                Joined::Waiter(flight) => {
                    if let Some(c) = self.counters() {
                        c.coalesced.inc();
                    }
                    let outcome = flight.wait(cache.settings.lock_timeout).await;
                    if outcome.is_none() {
                        if let Some(c) = self.counters() {
                            c.lock_timeouts.inc();
                        }
                    }
                    let now = Instant::now();
                    if let Some(entry) = cache.lookup(&key, &req.headers, false) {
                        match entry.freshness(now) {
                            Freshness::Expired => stale = Some(entry),
                            _ => return self.hit(&entry, ctx, CacheStatus::Hit),
                        }
                    }
                    if outcome == Some(Outcome::Failed) {
                        if let Some(e) = stale.as_ref().filter(|e| e.usable_on_error(now)) {
                            return self.hit(e, ctx, CacheStatus::Stale);
                        }
                    }
                    // Not stored for this request's variant: PHP answers it, uncoalesced.
                }
            }
        }
        self.miss(
            req, target, site, ctx, php, key, has_auth, leader, stale, status,
        )
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn miss(
        &self,
        mut req: Request,
        target: PhpTarget,
        site: &PhpSite,
        ctx: &mut RequestCtx,
        php: &Rc<PhpHandler>,
        key: String,
        has_auth: bool,
        mut leader: Option<Leader>,
        stale: Option<Arc<Entry>>,
        status: CacheStatus,
    ) -> Response {
        let generation = self.cache.generation();
        let req_headers = req.headers.clone();
        // As nginx's fastcgi_cache_convert_head: PHP renders the page for a HEAD miss
        // as for GET, so the answer can be stored (the client still gets no body).
        req.method = Method::Get;
        let out = php.run(req, target, site, ctx.id, Some(ctx)).await;
        if failed(&out) {
            if let Some(l) = leader.as_mut() {
                l.set_outcome(Outcome::Failed);
            }
            if let Some(e) = stale.filter(|e| e.usable_on_error(Instant::now())) {
                // stale-if-error: the client gets the stored page, not the failure.
                ctx.dropped = false;
                return self.hit(&e, ctx, CacheStatus::Stale);
            }
            return self.finish(out.response, status, ctx);
        }
        let mut resp = out.response;
        let stored = self
            .store(&key, &req_headers, has_auth, &mut resp, generation)
            .await;
        if let Some(mut l) = leader {
            l.set_outcome(if stored {
                Outcome::Stored
            } else {
                Outcome::NotStored
            });
        }
        self.finish(resp, status, ctx)
    }

    async fn store(
        &self,
        key: &str,
        req_headers: &Headers,
        has_auth: bool,
        resp: &mut Response,
        generation: u64,
    ) -> bool {
        let cache = &self.cache;
        if let Body::File {
            file, offset, len, ..
        } = &resp.body
        {
            if *len <= cache.settings.max_entry && cache.may_store(resp.status, &resp.headers) {
                match read_file(file, *offset, *len).await {
                    Ok(b) => resp.body = Body::Bytes(b),
                    Err(e) => {
                        tracing::warn!(error = %e, "reading spilled PHP output for the cache failed")
                    }
                }
            }
        }
        match cache.store(key, req_headers, has_auth, resp, generation) {
            Ok(()) => {
                if let Some(c) = self.counters() {
                    c.stored.inc();
                }
                true
            }
            Err(why) => {
                tracing::trace!(key, ?why, "response not stored");
                false
            }
        }
    }

    /// stale-while-revalidate: PHP renders the page again in the background (once per
    /// key at a time, across cores) while clients get the stale copy.
    fn refresh(
        &self,
        key: &str,
        req: &Request,
        target: PhpTarget,
        site: &PhpSite,
        php: &Rc<PhpHandler>,
        has_auth: bool,
    ) {
        let Some(mut leader) = self.cache.flights.lead(key) else {
            return;
        };
        if let Some(c) = self.counters() {
            c.refreshes.inc();
        }
        let cache = Arc::clone(&self.cache);
        let metrics = self.metrics.clone();
        let compression = self.compression.clone();
        let php = Rc::clone(php);
        let site = site.clone();
        let key = key.to_string();
        let req = Request {
            method: Method::Get,
            target: req.target.clone(),
            path: req.path.clone(),
            query: req.query.clone(),
            version: req.version,
            headers: req.headers.clone(),
            host: req.host.clone(),
            body: RequestBody::Empty,
            remote_addr: req.remote_addr,
            local_addr: req.local_addr,
            tls: req.tls,
            // A background refresh has no client that could leave.
            conn_fd: None,
            interim: Default::default(),
        };
        monoio::spawn(async move {
            let this = CoreCache::new(cache, metrics, compression);
            let generation = this.cache.generation();
            let req_headers = req.headers.clone();
            let out = php
                .run(req, target, &site, crate::request_id::next(), None)
                .await;
            if failed(&out) {
                leader.set_outcome(Outcome::Failed);
                return;
            }
            let mut resp = out.response;
            let stored = this
                .store(&key, &req_headers, has_auth, &mut resp, generation)
                .await;
            leader.set_outcome(if stored {
                Outcome::Stored
            } else {
                Outcome::NotStored
            });
        });
    }

    fn hit(&self, entry: &Entry, ctx: &mut RequestCtx, status: CacheStatus) -> Response {
        ctx.from_app = true;
        let compression = self.compression.as_ref().map(|cfg| {
            let accepted = ctx
                .accept_encoding
                .as_deref()
                .map(negotiate)
                .unwrap_or_default();
            (cfg, accepted.best())
        });
        let resp = entry.respond(Instant::now(), compression);
        self.finish(resp, status, ctx)
    }

    fn finish(&self, mut resp: Response, status: CacheStatus, ctx: &mut RequestCtx) -> Response {
        resp.headers.remove("Cache-Tag");
        resp.headers.remove("Surrogate-Key");
        if self.cache.settings.header {
            resp.headers
                .push("X-Cache", Bytes::from_static(status.as_str().as_bytes()));
        }
        ctx.cache = Some(status);
        if let Some(c) = self.counters() {
            c.count(status);
        }
        resp
    }
}

/// PHP did not give a usable answer: a server error, a timeout, a full queue.
fn failed(out: &PhpOutcome) -> bool {
    !matches!(out.origin, PhpOrigin::App { .. }) || out.response.status >= 500
}
