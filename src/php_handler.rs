//! Hands a PHP route to the worker pool and turns what comes back into a response:
//! 503 when the queue is full, 504 past REQUEST_TIMEOUT, a streamed body after flush().
//!
//! A request whose client leaves before the answer begins is given up: an HTTP/2 reset
//! or a closed connection drops this future, an HTTP/1.x client's hang-up is seen by
//! polling its socket. Either way the request is marked aborted, so a worker skips it
//! if it is still queued, and a running script sees `connection_aborted()` at its next
//! output (and stops there unless it set `ignore_user_abort`), as under php-fpm.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use uring_http::response::NoBytes;
use uring_http::{Body, BodyStream, Headers, Request, Response};

use crate::middleware::{RequestCtx, RouteKind};
use crate::php::completion::{Completions, Receiver};
use crate::php::hangup::hung_up;
use crate::php::lane_submit::LaneSubmitter;
use crate::php::pool::PoolStats;
use crate::php::{
    Job, Reply, ReplyEvent, ReplySink, RequestControl, ResponseHead, ScriptBody, ScriptRequest,
    SiteExtras, TraceIds, WorkerPool,
};
use crate::router::PhpTarget;
use crate::worker_match::WorkerRoute;

/// What a site gives its PHP requests.
#[derive(Clone, Debug)]
pub struct PhpSite {
    /// DOCUMENT_ROOT (canonical).
    pub document_root: Arc<str>,
    /// SERVER_NAME when set; otherwise the request's host.
    pub server_name: Option<Arc<str>>,
    /// `$_SERVER` additions and php.ini values.
    pub extras: Arc<SiteExtras>,
}

impl PhpSite {
    /// The one reshaping of a request for PHP (both front ends, uring_php's and the
    /// hyper variant's, use it): the request's own parts, the script the router chose,
    /// and this site's values.
    pub fn script_request(
        &self,
        req: Request,
        target: PhpTarget,
        id: u64,
        trace: Option<TraceIds>,
        driver: &'static str,
    ) -> ScriptRequest {
        let uri = match &req.query {
            Some(q) => format!("{}?{}", req.path, q),
            None => req.path,
        };
        ScriptRequest {
            id,
            method: req.method,
            uri,
            query: req.query.unwrap_or_default(),
            script_filename: target.script_filename,
            script_name: target.script_name,
            path_info: target.path_info,
            document_root: Arc::clone(&self.document_root),
            version: req.version,
            headers: req.headers,
            host: req.host,
            body: req.body,
            remote_addr: req.remote_addr,
            local_addr: req.local_addr,
            tls: req.tls,
            server_name: self.server_name.clone(),
            trace,
            received_at: SystemTime::now(),
            driver,
            site: Arc::clone(&self.extras),
        }
    }
}

/// Settings every core's handler shares.
pub struct PhpSettings {
    pub request_timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub stream_buffer: usize,
    /// SERVER_TIMING=1: add Server-Timing to PHP responses.
    pub server_timing: bool,
}

/// Worker mode's way in: its threads' queue and which requests go there.
struct WorkerLane {
    submitter: LaneSubmitter,
    pool: WorkerPool,
    route: WorkerRoute,
}

pub struct PhpHandler {
    pool: WorkerPool,
    submitter: LaneSubmitter,
    /// Boxed: most servers run without worker mode.
    worker: Option<Box<WorkerLane>>,
    completions: Rc<Completions>,
    sink: Arc<dyn ReplySink>,
    settings: Arc<PhpSettings>,
    driver: &'static str,
}

/// Where a PHP route's response came from (for metrics and error pages).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PhpOrigin {
    /// The script's own response; `php_micros`: its execution time on the worker.
    App { php_micros: u64 },
    /// 503: every lane of the queue was full (or the output found no room under
    /// SPILL_MEMORY_LIMIT): the server turned the request away for load.
    QueueFull,
    /// 504: REQUEST_TIMEOUT passed.
    Timeout,
    /// 499 (nginx's code, for the log): the HTTP/1.x client hung up first.
    ClientGone,
    /// 500 made by the server (the worker's answer could not be used), or 503 while every
    /// worker script fails to boot.
    Failed,
}

pub struct PhpOutcome {
    pub response: Response,
    pub origin: PhpOrigin,
}

impl PhpOutcome {
    fn server(response: Response, origin: PhpOrigin) -> Self {
        PhpOutcome { response, origin }
    }
}

impl PhpHandler {
    /// The one way a request reaches PHP: runs it as request `id` and, when the request
    /// has a middleware context, notes there what answered (for the access log, metrics,
    /// error pages).
    pub async fn run(
        &self,
        req: Request,
        target: PhpTarget,
        site: &PhpSite,
        id: u64,
        ctx: Option<&mut RequestCtx>,
    ) -> PhpOutcome {
        let Some(ctx) = ctx else {
            return self.handle(req, target, site, id, None).await;
        };
        ctx.route = RouteKind::Php;
        let trace = ctx.trace.as_ref().map(|t| t.ids());
        let out = self.handle(req, target, site, id, trace).await;
        match out.origin {
            PhpOrigin::App { php_micros } => {
                ctx.from_app = true;
                ctx.php_micros = Some(php_micros);
            }
            PhpOrigin::QueueFull => ctx.dropped = true,
            PhpOrigin::Timeout | PhpOrigin::Failed | PhpOrigin::ClientGone => {}
        }
        out
    }

    pub fn new(
        pool: WorkerPool,
        completions: Rc<Completions>,
        settings: Arc<PhpSettings>,
        driver: &'static str,
        lane: usize,
    ) -> Self {
        let sink = completions.sink();
        let submitter = LaneSubmitter::new(pool.clone(), lane);
        PhpHandler {
            pool,
            submitter,
            worker: None,
            completions,
            sink,
            settings,
            driver,
        }
    }

    /// Sends the requests `route` picks to the worker-mode threads of `pool`.
    pub fn with_worker(mut self, pool: WorkerPool, route: WorkerRoute, lane: usize) -> Self {
        self.worker = Some(Box::new(WorkerLane {
            submitter: LaneSubmitter::new(pool.clone(), lane),
            pool,
            route,
        }));
        self
    }

    async fn handle(
        &self,
        req: Request,
        target: PhpTarget,
        site: &PhpSite,
        id: u64,
        trace: Option<TraceIds>,
    ) -> PhpOutcome {
        let queued_at = Instant::now();
        let is_head = req.method == uring_http::Method::Head;
        let interim = req.interim.clone();
        let conn_fd = req.conn_fd;
        let worker = self
            .worker
            .as_ref()
            .filter(|w| w.route.wants(&req.path, &target.script_filename));
        if worker.is_some_and(|w| w.pool.worker_mode().is_some_and(|m| m.unavailable())) {
            // Every worker script is failing to boot (the log says why).
            let mut r = Response::text(
                503,
                "Service Unavailable: the worker script is failing to start\n",
            );
            r.headers.push("Retry-After", Bytes::from_static(b"1"));
            return PhpOutcome::server(r, PhpOrigin::Failed);
        }
        let submitter = worker.map_or(&self.submitter, |w| &w.submitter);
        let receiver = self.completions.register();
        let control = Arc::new(RequestControl::new(
            self.settings.request_timeout,
            queued_at,
        ));
        let request = site.script_request(req, target, id, trace, self.driver);
        let reply = Reply::new(
            Arc::clone(&self.sink),
            receiver.token(),
            Arc::clone(&control),
        );
        if submitter
            .submit(Job {
                request,
                reply,
                queued_at,
            })
            .is_err()
        {
            let mut r = Response::text(503, "Service Unavailable: all PHP workers are busy\n");
            r.headers.push("Retry-After", Bytes::from_static(b"1"));
            r.refused = true;
            return PhpOutcome::server(r, PhpOrigin::QueueFull);
        }

        let mut abandon = Abandon {
            control: &control,
            stats: self.pool.stats(),
            armed: true,
        };
        let first = loop {
            match self.first_event(&receiver, &control, conn_fd).await {
                // headers_send(103): out to the client now, while the script goes on.
                Waited::Event(ReplyEvent::Interim { status, headers }) => {
                    interim.send(status, headers);
                }
                other => break other,
            }
        };
        // From here the request is answered (or timed out); only a hang-up gives it up.
        abandon.armed = matches!(first, Waited::ClientGone);
        drop(abandon);
        match first {
            Waited::ClientGone => PhpOutcome::server(
                Response::text(499, "Client Closed Request\n"),
                PhpOrigin::ClientGone,
            ),
            Waited::Event(ReplyEvent::Complete(mut resp)) => {
                self.add_server_timing(&mut resp.head, queued_at);
                let origin = PhpOrigin::App {
                    php_micros: resp.head.timing.php_micros,
                };
                let body = match resp.body {
                    ScriptBody::Refused => {
                        let mut r = Response::text(
                            503,
                            "Service Unavailable: too much output is waiting for slow clients\n",
                        );
                        r.headers.push("Retry-After", Bytes::from_static(b"1"));
                        r.refused = true;
                        return PhpOutcome::server(r, PhpOrigin::QueueFull);
                    }
                    ScriptBody::Bytes(b) => Body::Bytes(b),
                    ScriptBody::Spilled { file, len, lease } => {
                        match monoio::fs::File::from_std(file) {
                            Ok(f) => Body::File {
                                file: Rc::new(f),
                                offset: 0,
                                len,
                                // SPILL_MEMORY_LIMIT's room comes back once the body is sent.
                                guard: lease
                                    .map(|l| Box::new(l) as uring_http::response::BodyGuard),
                            },
                            Err(_) => {
                                return PhpOutcome::server(
                                    Response::text(500, "Internal Server Error\n"),
                                    PhpOrigin::Failed,
                                )
                            }
                        }
                    }
                };
                // PHP ran HEAD without output (headers_only): the real length is
                // unknown, so no Content-Length rather than a false 0 (as nginx).
                let body = if is_head {
                    Body::Stream(Box::pin(NoBytes))
                } else {
                    body
                };
                PhpOutcome {
                    response: Response::new(resp.head.status, resp.head.headers, body),
                    origin,
                }
            }
            Waited::Event(ReplyEvent::StreamStart(mut head)) => {
                self.add_server_timing(&mut head, queued_at);
                let deadline = self.settings.stream_timeout.map(|t| Instant::now() + t);
                let stream = PhpStream {
                    receiver,
                    control,
                    in_flight: 0,
                    limit: self.settings.stream_buffer,
                    ended: false,
                    deadline: deadline.map(|d| Box::pin(monoio::time::sleep_until(d.into()))),
                };
                let origin = PhpOrigin::App {
                    php_micros: head.timing.php_micros,
                };
                PhpOutcome {
                    response: Response::new(
                        head.status,
                        head.headers,
                        Body::Stream(Box::pin(stream)),
                    ),
                    origin,
                }
            }
            Waited::Event(other) => {
                tracing::error!(event = ?other, "unexpected first event from a PHP worker");
                PhpOutcome::server(
                    Response::text(500, "Internal Server Error\n"),
                    PhpOrigin::Failed,
                )
            }
            Waited::TimedOut => {
                let mut headers = Headers::new();
                headers.push(
                    "Content-Type",
                    Bytes::from_static(b"text/plain; charset=utf-8"),
                );
                let r = Response::new(
                    504,
                    headers,
                    Body::Bytes(Bytes::from_static(b"Gateway Timeout\n")),
                );
                PhpOutcome::server(r, PhpOrigin::Timeout)
            }
        }
    }

    fn add_server_timing(&self, head: &mut ResponseHead, queued_at: Instant) {
        if !self.settings.server_timing {
            return;
        }
        let ms = |us: u64| us as f64 / 1000.0;
        let t = head.timing;
        let total = queued_at.elapsed().as_micros() as u64;
        head.headers.push(
            "Server-Timing",
            format!(
                "queue;dur={:.3}, php;dur={:.3}, total;dur={:.3}",
                ms(t.queue_micros),
                ms(t.php_micros),
                ms(total)
            ),
        );
    }

    /// The worker's first event; or the deadline (which heartbeats move) passed: then
    /// the script is stopped through PHP's own timeout; or the HTTP/1.x client behind
    /// `conn_fd` hung up. One timer at a time: the deadline, or the next look at the
    /// socket when that comes first.
    async fn first_event(
        &self,
        receiver: &Receiver,
        control: &RequestControl,
        conn_fd: Option<std::os::fd::RawFd>,
    ) -> Waited {
        loop {
            let deadline = control.deadline();
            let probe = conn_fd.map(|_| Instant::now() + HANGUP_PROBE_INTERVAL);
            let wake = match (deadline, probe) {
                (Some(d), Some(p)) => d.min(p),
                (Some(t), None) | (None, Some(t)) => t,
                (None, None) => return Waited::Event(receiver.next().await),
            };
            monoio::select! {
                ev = receiver.next() => return Waited::Event(ev),
                _ = monoio::time::sleep_until(wake.into()) => {
                    if let Some(fd) = conn_fd {
                        if hung_up(fd) {
                            return Waited::ClientGone;
                        }
                    }
                    match control.deadline() {
                        // Not yet: a probe, or a heartbeat moved the deadline.
                        None => continue,
                        Some(d) if d > Instant::now() => continue,
                        Some(_) => {}
                    }
                    control.abort();
                    control.interrupt();
                    return Waited::TimedOut;
                }
            }
        }
    }
}

/// How often a waiting HTTP/1.x request looks at its socket for the client's hang-up.
const HANGUP_PROBE_INTERVAL: Duration = Duration::from_millis(200);

enum Waited {
    Event(ReplyEvent),
    TimedOut,
    ClientGone,
}

/// Gives the request up when its future is dropped before the worker's first answer:
/// the HTTP/2 stream was reset or the connection went away.
struct Abandon<'a> {
    control: &'a RequestControl,
    stats: &'a PoolStats,
    armed: bool,
}

impl Drop for Abandon<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.control.abort();
            self.stats.abandoned.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// A streamed PHP response. Taking the next chunk means the previous one was written,
/// which is what releases a worker blocked on backpressure.
struct PhpStream {
    receiver: Receiver,
    control: Arc<RequestControl>,
    in_flight: usize,
    limit: usize,
    ended: bool,
    deadline: Option<Pin<Box<monoio::time::Sleep>>>,
}

impl BodyStream for PhpStream {
    fn poll_chunk(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = &mut *self;
        if this.in_flight > 0 {
            this.control.consumed(this.in_flight, this.limit);
            this.in_flight = 0;
        }
        if this.ended {
            return Poll::Ready(None);
        }
        if let Some(d) = this.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                // SSE_TIMEOUT: end the stream; the script sees the client as gone.
                this.ended = true;
                this.control.abort();
                return Poll::Ready(None);
            }
        }
        loop {
            return match this.receiver.poll_next(cx) {
                Poll::Ready(ReplyEvent::Chunk(b)) => {
                    this.in_flight = b.len();
                    Poll::Ready(Some(b))
                }
                Poll::Ready(ReplyEvent::StreamEnd) => {
                    this.ended = true;
                    Poll::Ready(None)
                }
                // Too late for a 1xx: the final head went out (the worker sends none
                // after it; nothing to do should one come).
                Poll::Ready(ReplyEvent::Interim { .. }) => continue,
                Poll::Ready(other) => {
                    tracing::error!(event = ?other, "unexpected event in a PHP stream");
                    this.ended = true;
                    Poll::Ready(None)
                }
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

impl Drop for PhpStream {
    fn drop(&mut self) {
        if !self.ended {
            // The connection dropped the stream before its end: the client is gone.
            self.control.abort();
        }
    }
}
