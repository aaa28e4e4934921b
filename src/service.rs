//! The per-core application service: the server-wide middleware, the site the request's
//! host chooses, its middleware around method check, routing, then static files or PHP.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

use bytes::Bytes;
use uring_http::redirect::HttpsRedirect;
use uring_http::{Body, Headers, Method, Request, Response, Service};

use crate::middleware::{Chain, RequestCtx, RouteKind};
use crate::php_handler::PhpHandler;
use crate::response_cache::CoreCache;
use crate::router::{PhpTarget, Route};
use crate::sendfile::{KeptRequest, Sendfile};
use crate::sites::core_sites::{CoreSite, CoreSites};
use crate::sites::live::LiveSites;
use crate::static_files::FileRequest;

pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY";

/// What answers this core's PHP routes: the configured `crate::config::Executor`, built.
pub enum ScriptBackend {
    /// In an Rc: the response cache's background refreshes run PHP after the request.
    Php(Rc<PhpHandler>),
    /// EXECUTOR=stub: a fixed answer for PHP routes, to measure the HTTP layer alone.
    Stub,
}

pub struct AppService {
    /// This core's build of the sites in force.
    pub sites: RefCell<CoreSites>,
    /// The sites in force (a reload publishes a new generation there).
    pub live: Arc<LiveSites>,
    pub executor: ScriptBackend,
    /// The server-wide middleware of this core (empty when every feature is off); each
    /// site's own runs inside it.
    pub chain: Chain,
    /// REDIRECT_HTTP_TO_HTTPS: plain-HTTP requests get this redirect instead of the site
    /// (inside the chain, so they are logged, counted and rate-limited like the rest).
    pub redirect_plain: Option<HttpsRedirect>,
    /// This core's connection counters (None when metrics are off).
    pub conn_metrics: Option<std::sync::Arc<crate::metrics_registry::CoreMetrics>>,
    /// ACME HTTP-01 answers (automatic HTTPS on), served before any site.
    pub acme_http: Option<Arc<crate::acme::HttpChallenges>>,
    /// RESPONSE_CACHE_SIZE > 0: PHP routes go through the response cache.
    pub response_cache: Option<CoreCache>,
}

fn allowed(m: &Method) -> bool {
    matches!(
        m,
        Method::Get
            | Method::Head
            | Method::Post
            | Method::Put
            | Method::Patch
            | Method::Delete
            | Method::Options
            | Method::Query
    )
}

impl Service for AppService {
    async fn call(&self, mut req: Request) -> Response {
        // The request's number, taken once here for everything that names it.
        let id = crate::request_id::next();
        if self.chain.is_empty() && self.response_cache.is_none() {
            if let Some(answer) = self.acme_answer(&req) {
                return answer;
            }
            let site = match self.site_for(&req) {
                Ok(site) => site,
                Err(status) => return unknown_host(status),
            };
            if site.chain.is_empty() {
                return self.handle(&site, req, id, None).await;
            }
            let mut ctx = RequestCtx::new(&req, id);
            return self.in_site(&site, req, &mut ctx).await;
        }
        let mut ctx = RequestCtx::new(&req, id);
        if let Err((answered_by, resp)) = self.chain.on_request(&mut req, &mut ctx) {
            return self.chain.on_response(answered_by, &mut ctx, resp);
        }
        let resp = match self.acme_answer(&req) {
            Some(answer) => answer,
            None => match self.site_for(&req) {
                Ok(site) => self.in_site(&site, req, &mut ctx).await,
                Err(status) => unknown_host(status),
            },
        };
        self.chain.on_response(self.chain.len(), &mut ctx, resp)
    }

    fn http2_connection(&self, open: bool) {
        if let Some(m) = &self.conn_metrics {
            m.http2_connection(open);
        }
    }
}

/// UNKNOWN_HOST is 421 or 404: a host no site names.
fn unknown_host(status: u16) -> Response {
    match status {
        421 => Response::text(421, "Misdirected Request\n"),
        _ => Response::text(404, "Not Found\n"),
    }
}

impl AppService {
    /// The core is stopping: middleware write out what they buffer (the access log).
    pub fn finish(&self) {
        self.chain.finish();
        for site in &self.sites.borrow().sites {
            site.chain.finish();
        }
    }

    /// The answer to an ACME HTTP-01 validation, while one is expected.
    fn acme_answer(&self, req: &Request) -> Option<Response> {
        let challenges = self.acme_http.as_ref()?;
        if !req.path.starts_with(crate::acme::HTTP_CHALLENGE_PREFIX)
            || !matches!(req.method, Method::Get | Method::Head)
        {
            return None;
        }
        let key_authorization = challenges.answer(&req.path)?;
        let mut headers = Headers::new();
        headers.push("Content-Type", Bytes::from_static(b"text/plain"));
        Some(Response::new(
            200,
            headers,
            Body::Bytes(Bytes::from(key_authorization)),
        ))
    }

    /// The site for the request's host (after a reload, this core's build of the new
    /// sites first), or the status for a host no site names.
    fn site_for(&self, req: &Request) -> Result<Rc<CoreSite>, u16> {
        let generation = self.live.generation();
        if generation != self.sites.borrow().generation {
            let (generation, state) = self.live.current();
            match CoreSites::build(generation, state) {
                Ok(sites) => *self.sites.borrow_mut() = sites,
                Err(e) => {
                    // Keep serving the sites this core has; try again after the next
                    // reload.
                    tracing::error!("reloaded sites not taken on this core: {e}");
                    self.sites.borrow_mut().generation = generation;
                }
            }
        }
        let sites = self.sites.borrow();
        let index = sites.state.route(req.host.as_deref())?;
        Ok(Rc::clone(&sites.sites[index]))
    }

    /// The site's middleware around the handler.
    async fn in_site(&self, site: &CoreSite, mut req: Request, ctx: &mut RequestCtx) -> Response {
        if let Err((answered_by, resp)) = site.chain.on_request(&mut req, ctx) {
            return site.chain.on_response(answered_by, ctx, resp);
        }
        let resp = self.handle(site, req, ctx.id, Some(ctx)).await;
        site.chain.on_response(site.chain.len(), ctx, resp)
    }

    async fn serve_static(
        &self,
        site: &CoreSite,
        req: &Request,
        file: Option<std::fs::File>,
        meta: std::fs::Metadata,
        rel: std::path::PathBuf,
        ctx: Option<&mut RequestCtx>,
    ) -> Response {
        if !matches!(req.method, Method::Get | Method::Head) {
            let mut r = Response::text(405, "Method Not Allowed\n");
            r.headers.push("Allow", Bytes::from_static(b"GET, HEAD"));
            return r;
        }
        let resp = site
            .static_files
            .serve(FileRequest::of(req), file, meta, &rel)
            .await;
        if let Some(ctx) = ctx {
            ctx.route = RouteKind::Static(rel);
        }
        resp
    }

    /// Runs a PHP route (through the response cache when it is on); a response that
    /// names a file (X-Accel-Redirect, X-Sendfile) is answered with that file.
    async fn php(
        &self,
        site: &CoreSite,
        php: &Rc<PhpHandler>,
        req: Request,
        target: PhpTarget,
        id: u64,
        mut ctx: Option<&mut RequestCtx>,
    ) -> Response {
        let kept = KeptRequest::of(&req);
        let php_site = &site.shared().php;
        let cache = self
            .response_cache
            .as_ref()
            .filter(|_| site.shared().spec.response_cache);
        // The cache is on only with a middleware context (see `call`).
        let mut resp = match (cache, ctx.as_deref_mut()) {
            (Some(cache), Some(ctx)) => cache.serve(req, target, php_site, ctx, php).await,
            (_, ctx) => php.run(req, target, php_site, id, ctx).await.response,
        };
        let Some((kind, value)) = Sendfile::wanted(&resp.headers) else {
            return resp;
        };
        // The script's body (and a stream's producer, which learns the client is gone)
        // is dropped: the file is the answer.
        let headers = std::mem::take(&mut resp.headers);
        drop(resp);
        let (resp, is_file) = site
            .shared()
            .sendfile
            .respond(&site.static_files, &kept, kind, &value, headers)
            .await;
        if let Some(ctx) = ctx {
            // A 404 or 500 made here is the server's: error pages apply.
            ctx.from_app &= is_file;
        }
        resp
    }

    /// Answers the request; notes in `ctx` (when there is a chain) what answered it.
    async fn handle(
        &self,
        site: &CoreSite,
        req: Request,
        id: u64,
        ctx: Option<&mut RequestCtx>,
    ) -> Response {
        if let Some(redirect) = &self.redirect_plain {
            if !req.tls {
                return redirect.call(req).await;
            }
        }
        if !allowed(&req.method) {
            let mut r = Response::text(405, "Method Not Allowed\n");
            r.headers
                .push("Allow", Bytes::from_static(ALLOWED_METHODS.as_bytes()));
            return r;
        }
        if req.path == "*" {
            // OPTIONS * asks about the server itself.
            let mut headers = Headers::new();
            headers.push("Allow", Bytes::from_static(ALLOWED_METHODS.as_bytes()));
            return Response::new(200, headers, Body::Empty);
        }
        if site.shared().sendfile.is_internal(&req.path) {
            // Only X-Accel-Redirect reaches an internal location (nginx's `internal`).
            return Response::text(404, "Not Found\n");
        }
        // Asked once: a static file the router only knew is opened (or found in memory)
        // by the static files themselves.
        match site.router.route(&req.path, req.query.as_deref()) {
            Route::Static { file, meta, rel } => {
                self.serve_static(site, &req, Some(file), meta, rel, ctx)
                    .await
            }
            Route::StaticKnown { meta, rel } => {
                self.serve_static(site, &req, None, meta, rel, ctx).await
            }
            Route::Php(target) => match &self.executor {
                ScriptBackend::Php(php) => self.php(site, php, req, target, id, ctx).await,
                ScriptBackend::Stub => {
                    if let Some(ctx) = ctx {
                        ctx.route = RouteKind::Php;
                        ctx.from_app = true;
                    }
                    let mut headers = Headers::with_capacity(1);
                    headers.push(
                        "Content-Type",
                        Bytes::from_static(b"text/html; charset=UTF-8"),
                    );
                    Response::new(
                        200,
                        headers,
                        Body::Bytes(Bytes::from_static(b"Hello, World!")),
                    )
                }
            },
            Route::Redirect(location) => {
                let mut r = Response::text(301, "Moved Permanently\n");
                r.headers.push("Location", location);
                r
            }
            Route::NotFound => Response::text(404, "Not Found\n"),
            Route::Forbidden => Response::text(403, "Forbidden\n"),
            Route::BadRequest => Response::text(400, "Bad Request\n"),
        }
    }
}
