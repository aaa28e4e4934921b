//! The per-core application service: the middleware chain around method check, routing,
//! then static files or PHP.

use std::rc::Rc;

use bytes::Bytes;
use uring_http::redirect::HttpsRedirect;
use uring_http::{Body, Headers, Method, Request, Response, Service};

use crate::middleware::{Chain, RequestCtx, RouteKind};
use crate::php_handler::{next_request_id, PhpHandler};
use crate::response_cache::{self, CoreCache};
use crate::router::{Route, Router};
use crate::static_files::StaticFiles;

pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY";

pub enum Executor {
    /// In an Rc: the response cache's background refreshes run PHP after the request.
    Php(Rc<PhpHandler>),
    /// EXECUTOR=stub: a fixed answer for PHP routes, to measure the HTTP layer alone.
    Stub,
}

pub struct AppService {
    pub router: Rc<Router>,
    pub static_files: StaticFiles,
    pub executor: Executor,
    /// The middleware of this core (empty when every feature is off).
    pub chain: Chain,
    /// REDIRECT_HTTP_TO_HTTPS: plain-HTTP requests get this redirect instead of the site
    /// (inside the chain, so they are logged, counted and rate-limited like the rest).
    pub redirect_plain: Option<HttpsRedirect>,
    /// This core's connection counters (None when metrics are off).
    pub conn_metrics: Option<std::sync::Arc<crate::metrics::CoreMetrics>>,
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
        if self.chain.is_empty() && self.response_cache.is_none() {
            return self.handle(req, None).await;
        }
        let mut ctx = RequestCtx::new(&req, next_request_id());
        if let Err((answered_by, resp)) = self.chain.on_request(&mut req, &mut ctx) {
            return self.chain.on_response(answered_by, &mut ctx, resp);
        }
        let resp = self.handle(req, Some(&mut ctx)).await;
        self.chain.on_response(self.chain.len(), &mut ctx, resp)
    }

    fn http2_connection(&self, open: bool) {
        if let Some(m) = &self.conn_metrics {
            m.http2_connection(open);
        }
    }
}

impl AppService {
    /// The core is stopping: middleware write out what they buffer (the access log).
    pub fn finish(&self) {
        self.chain.finish();
    }

    async fn serve_static(
        &self,
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
        let resp = self.static_files.serve(req, file, meta, &rel).await;
        if let Some(ctx) = ctx {
            ctx.route = RouteKind::Static(rel);
        }
        resp
    }

    /// Answers the request; notes in `ctx` (when there is a chain) what answered it.
    async fn handle(&self, req: Request, ctx: Option<&mut RequestCtx>) -> Response {
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
        let route = match self.router.route(&req.path, req.query.as_deref()) {
            // Known but not in this core's memory cache: open it for real.
            Route::StaticKnown { meta, rel } if !self.static_files.is_cached(&rel, &meta) => {
                self.router.route_uncached(&req.path, req.query.as_deref())
            }
            other => other,
        };
        match route {
            Route::Static { file, meta, rel } => {
                self.serve_static(&req, Some(file), meta, rel, ctx).await
            }
            Route::StaticKnown { meta, rel } => self.serve_static(&req, None, meta, rel, ctx).await,
            Route::Php(target) => match &self.executor {
                Executor::Php(php) => match ctx {
                    None => {
                        php.handle(req, target, next_request_id(), None)
                            .await
                            .response
                    }
                    Some(ctx) => match &self.response_cache {
                        Some(cache) => cache.serve(req, target, ctx, php).await,
                        None => {
                            response_cache::run_php(php, req, target, ctx)
                                .await
                                .response
                        }
                    },
                },
                Executor::Stub => {
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
