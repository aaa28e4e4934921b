//! Per-request dispatch, as uring_php's `AppService`: method check, routing with
//! uring_php's own `Router`, then a static file or PHP.

use std::cell::OnceCell;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, ALLOW, CONTENT_TYPE, LOCATION, SERVER};
use hyper::{Method, Request, Response, StatusCode};
use uring_php::config::{Config, Executor};
use uring_php::php::WorkerPool;
use uring_php::php_handler::PhpSite;
use uring_php::router::{Route, Router};

use super::body::OutBody;
use super::responses::text;
use super::{php, static_file};

pub const ALLOWED_METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, QUERY";
pub const SERVER_NAME: &str = "uring_php-hyper-variant";

thread_local! {
    /// uring_php's router keeps a per-core cache of PHP routes and is not shared between
    /// threads: the hyper variant gives each tokio worker thread its own, the nearest
    /// equivalent. Routing is synchronous, so a task never holds it across an await.
    static ROUTER: OnceCell<Router> = const { OnceCell::new() };
}

/// What every connection shares.
pub struct App {
    document_root: PathBuf,
    index_file: Option<String>,
    /// None with EXECUTOR=stub.
    pool: Option<WorkerPool>,
    pub(super) settings: php::Settings,
}

impl App {
    /// Fails when the document root cannot be opened.
    pub fn new(cfg: &Config, pool: Option<WorkerPool>) -> std::io::Result<App> {
        let router = Router::new(&cfg.document_root, cfg.index_file.clone())?;
        let settings = php::Settings {
            site: PhpSite {
                document_root: Arc::from(router.root().to_string_lossy().as_ref()),
                server_name: cfg.server_name.as_deref().map(Arc::from),
                extras: Default::default(),
            },
            request_timeout: cfg.request_timeout(),
            stream_timeout: cfg.sse_timeout(),
            stream_buffer: cfg.exec_limits().stream_buffer,
            max_body_size: cfg.max_body_size,
        };
        let pool = if cfg.executor() == Executor::Php {
            pool
        } else {
            None
        };
        Ok(App {
            document_root: router.root().to_path_buf(),
            index_file: cfg.index_file.clone(),
            pool,
            settings,
        })
    }

    fn route(&self, path: &str, query: Option<&str>) -> Route {
        ROUTER.with(|cell| {
            if cell.get().is_none() {
                match Router::new(&self.document_root, self.index_file.clone()) {
                    Ok(r) => {
                        let _ = cell.set(r);
                    }
                    Err(e) => {
                        tracing::error!("opening the document root: {e}");
                        return Route::Forbidden;
                    }
                }
            }
            // This variant keeps no in-memory file cache, so a file the router knows
            // still has to be opened.
            cell.get()
                .map_or(Route::Forbidden, |r| match r.route(path, query) {
                    Route::StaticKnown { .. } => r.route_uncached(path, query),
                    other => other,
                })
        })
    }

    pub async fn call(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> Response<OutBody> {
        let mut resp = self.dispatch(req, remote, local).await;
        resp.headers_mut()
            .insert(SERVER, HeaderValue::from_static(SERVER_NAME));
        resp
    }

    async fn dispatch(
        &self,
        req: Request<Incoming>,
        remote: SocketAddr,
        local: SocketAddr,
    ) -> Response<OutBody> {
        if !allowed(req.method()) {
            let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            return r;
        }
        let uri = req.uri();
        match self.route(uri.path(), uri.query()) {
            Route::Php(target) => match &self.pool {
                Some(pool) => php::handle(pool, &self.settings, req, target, remote, local).await,
                None => {
                    let mut r = Response::new(OutBody::full(Bytes::from_static(b"Hello, World!")));
                    r.headers_mut().insert(
                        CONTENT_TYPE,
                        HeaderValue::from_static("text/html; charset=UTF-8"),
                    );
                    r
                }
            },
            Route::StaticKnown { .. } => text(StatusCode::NOT_FOUND, "Not Found\n"),
            Route::Static { file, meta, rel } => {
                if !matches!(*req.method(), Method::GET | Method::HEAD) {
                    let mut r = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
                    r.headers_mut()
                        .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
                    return r;
                }
                static_file::serve(req.method() == Method::HEAD, file, meta, &rel).await
            }
            Route::Redirect(location) => {
                let mut r = text(StatusCode::MOVED_PERMANENTLY, "Moved Permanently\n");
                if let Ok(v) = HeaderValue::from_str(&location) {
                    r.headers_mut().insert(LOCATION, v);
                }
                r
            }
            Route::NotFound => text(StatusCode::NOT_FOUND, "Not Found\n"),
            Route::Forbidden => text(StatusCode::FORBIDDEN, "Forbidden\n"),
            Route::BadRequest => text(StatusCode::BAD_REQUEST, "Bad Request\n"),
        }
    }
}

fn allowed(m: &Method) -> bool {
    matches!(
        m.as_str(),
        "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" | "QUERY"
    )
}
