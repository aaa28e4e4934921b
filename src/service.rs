//! The per-core application service: method check, routing, then static files or PHP.

use std::rc::Rc;

use bytes::Bytes;
use uring_http::{Body, Headers, Method, Request, Response, Service};

use crate::php_handler::{next_request_id, PhpHandler};
use crate::router::{Route, Router};
use crate::static_files::StaticFiles;

pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY";

pub enum Executor {
    Php(PhpHandler),
    /// EXECUTOR=stub: a fixed answer for PHP routes, to measure the HTTP layer alone.
    Stub,
}

pub struct AppService {
    pub router: Rc<Router>,
    pub static_files: StaticFiles,
    pub executor: Executor,
}

fn allowed(m: &Method) -> bool {
    matches!(
        m,
        Method::Get | Method::Head | Method::Post | Method::Put | Method::Patch | Method::Delete | Method::Options | Method::Query
    )
}

impl Service for AppService {
    async fn call(&self, req: Request) -> Response {
        if !allowed(&req.method) {
            let mut r = Response::text(405, "Method Not Allowed\n");
            r.headers.push("Allow", Bytes::from_static(ALLOWED_METHODS.as_bytes()));
            return r;
        }
        if req.path == "*" {
            // OPTIONS * asks about the server itself.
            let mut headers = Headers::new();
            headers.push("Allow", Bytes::from_static(ALLOWED_METHODS.as_bytes()));
            return Response::new(200, headers, Body::Empty);
        }
        match self.router.route(&req.path, req.query.as_deref()) {
            Route::Php(target) => match &self.executor {
                Executor::Php(php) => php.handle(req, target, next_request_id(), None).await,
                Executor::Stub => {
                    let mut headers = Headers::with_capacity(1);
                    headers.push("Content-Type", Bytes::from_static(b"text/html; charset=UTF-8"));
                    Response::new(200, headers, Body::Bytes(Bytes::from_static(b"Hello, World!")))
                }
            },
            Route::Static { file, meta, rel } => {
                if !matches!(req.method, Method::Get | Method::Head) {
                    let mut r = Response::text(405, "Method Not Allowed\n");
                    r.headers.push("Allow", Bytes::from_static(b"GET, HEAD"));
                    return r;
                }
                self.static_files.serve(&req, file, meta, &rel).await
            }
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
