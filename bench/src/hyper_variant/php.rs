//! The PHP hand-off, mirroring uring_php's `php_handler`: the request becomes a
//! `ScriptRequest` on the same queue; the way back is a per-request [`TokioSink`] (a
//! oneshot for the first event, plus an mpsc only when the script streams), where
//! uring_php uses its core's completion queue and eventfd.

use std::cell::Cell;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue, HOST, RETRY_AFTER};
use hyper::{Request, Response, StatusCode, Version as HyperVersion};
use tokio::sync::{mpsc, oneshot};
use uring_http::{ConnInfo, Headers, Interim, Method, RequestBody, RequestHead, Version};
use uring_php::php::{
    Job, Reply, ReplyEvent, ReplySink, RequestControl, ResponseHead, ScriptBody, ScriptResponse,
    WorkerPool,
};
use uring_php::php_handler::PhpSite;
use uring_php::router::PhpTarget;

use super::body::{FileBody, OutBody, PhpStream};
use super::responses::text;

thread_local! {
    /// The queue lane of the tokio worker this runs on (its CPU's index in CPU_AFFINITY).
    static LANE: Cell<usize> = const { Cell::new(0) };
}

pub fn set_lane(lane: usize) {
    LANE.with(|l| l.set(lane));
}

/// What the I/O driver field of `uring_server_info()` says for this front end.
const DRIVER: &str = "tokio";

pub struct Settings {
    /// DOCUMENT_ROOT and SERVER_NAME (no per-site values: the variant has one site).
    pub site: PhpSite,
    pub request_timeout: Option<Duration>,
    pub stream_timeout: Option<Duration>,
    pub stream_buffer: usize,
    pub max_body_size: u64,
}

/// The first thing a worker sends: a whole response, or the head of a stream with the
/// channel its chunks will arrive on.
enum First {
    Complete(ScriptResponse),
    Stream(ResponseHead, mpsc::UnboundedReceiver<ReplyEvent>),
}

enum SinkState {
    First(oneshot::Sender<First>),
    Streaming(mpsc::UnboundedSender<ReplyEvent>),
    Done,
}

/// One request's way back from its PHP worker.
struct TokioSink(Mutex<SinkState>);

impl ReplySink for TokioSink {
    fn deliver(&self, _token: u64, event: ReplyEvent) {
        let mut state = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match event {
            ReplyEvent::Complete(resp) => {
                if let SinkState::First(tx) = std::mem::replace(&mut *state, SinkState::Done) {
                    let _ = tx.send(First::Complete(resp));
                }
            }
            ReplyEvent::StreamStart(head) => {
                if let SinkState::First(tx) = std::mem::replace(&mut *state, SinkState::Done) {
                    let (chunks, rx) = mpsc::unbounded_channel();
                    if tx.send(First::Stream(head, rx)).is_ok() {
                        *state = SinkState::Streaming(chunks);
                    }
                }
            }
            // This variant does not send 1xx responses.
            ReplyEvent::Interim { .. } => {}
            ev @ (ReplyEvent::Chunk(_) | ReplyEvent::StreamEnd) => {
                let end = matches!(ev, ReplyEvent::StreamEnd);
                if let SinkState::Streaming(tx) = &*state {
                    let _ = tx.send(ev);
                }
                if end {
                    *state = SinkState::Done;
                }
            }
        }
    }
}

pub async fn handle(
    pool: &WorkerPool,
    settings: &Settings,
    req: Request<Incoming>,
    target: PhpTarget,
    remote: SocketAddr,
    local: SocketAddr,
) -> Response<OutBody> {
    let (parts, incoming) = req.into_parts();
    let body = match read_body(incoming, settings.max_body_size).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };

    let queued_at = Instant::now();
    let control = Arc::new(RequestControl::new(settings.request_timeout, queued_at));
    let host = match parts.uri.authority() {
        Some(a) => Some(a.as_str().to_string()),
        None => parts
            .headers
            .get(HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string),
    };
    // The same request shape uring_php's front end builds, then the same reshaping.
    let version = match parts.version {
        HyperVersion::HTTP_10 => Version::Http10,
        HyperVersion::HTTP_2 => Version::Http2,
        _ => Version::Http11,
    };
    let head = RequestHead {
        method: Method::from_token(parts.method.as_str()),
        target: parts.uri.to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        headers: headers_in(parts.headers),
        host,
    };
    let conn = ConnInfo {
        remote_addr: remote,
        local_addr: local,
        tls: false,
        fd: None,
    };
    let req = uring_http::Request::new(head, version, body, &conn, Interim::default());
    let request =
        settings
            .site
            .script_request(req, target, uring_php::request_id::next(), None, DRIVER);

    let (tx, rx) = oneshot::channel();
    let sink: Arc<dyn ReplySink> = Arc::new(TokioSink(Mutex::new(SinkState::First(tx))));
    let reply = Reply::new(sink, 0, Arc::clone(&control));
    if pool
        .submit_to(
            LANE.with(Cell::get),
            Job {
                request,
                reply,
                queued_at,
            },
        )
        .is_err()
    {
        let mut r = text(
            StatusCode::SERVICE_UNAVAILABLE,
            "Service Unavailable: all PHP workers are busy\n",
        );
        r.headers_mut()
            .insert(RETRY_AFTER, HeaderValue::from_static("1"));
        return r;
    }

    match first_event(rx, &control).await {
        Some(First::Complete(resp)) => {
            let body = match resp.body {
                ScriptBody::Bytes(b) => OutBody::full(b),
                ScriptBody::Refused => OutBody::full(Default::default()),
                ScriptBody::Spilled { file, len, .. } => OutBody::File(FileBody {
                    file: tokio::fs::File::from_std(file),
                    remaining: len,
                    buf: Default::default(),
                }),
            };
            response_out(resp.head, body)
        }
        Some(First::Stream(head, receiver)) => {
            let deadline = settings
                .stream_timeout
                .map(|t| Box::pin(tokio::time::sleep(t)));
            let stream = PhpStream {
                receiver,
                control,
                in_flight: 0,
                limit: settings.stream_buffer,
                ended: false,
                deadline,
            };
            response_out(head, OutBody::Stream(stream))
        }
        None => text(StatusCode::GATEWAY_TIMEOUT, "Gateway Timeout\n"),
    }
}

/// The whole request body in memory, or a 413/400 response.
async fn read_body(incoming: Incoming, max: u64) -> Result<RequestBody, Response<OutBody>> {
    use http_body::Body as _;
    if incoming.is_end_stream() {
        return Ok(RequestBody::Empty);
    }
    if incoming.size_hint().lower() > max {
        return Err(text(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large\n"));
    }
    match http_body_util::Limited::new(incoming, max as usize)
        .collect()
        .await
    {
        Ok(c) => {
            let b = c.to_bytes();
            Ok(if b.is_empty() {
                RequestBody::Empty
            } else {
                RequestBody::Memory(b)
            })
        }
        Err(e)
            if e.downcast_ref::<http_body_util::LengthLimitError>()
                .is_some() =>
        {
            Err(text(StatusCode::PAYLOAD_TOO_LARGE, "Payload Too Large\n"))
        }
        Err(_) => Err(text(StatusCode::BAD_REQUEST, "Bad Request\n")),
    }
}

/// hyper's header map as uring's ordered list (http 1.x offers no way to take a value's
/// bytes without copying them).
fn headers_in(map: hyper::HeaderMap) -> Headers {
    let mut out = Headers::with_capacity(map.len());
    let mut name: Option<HeaderName> = None;
    for (n, v) in map {
        if let Some(n) = n {
            name = Some(n);
        }
        if let Some(n) = &name {
            out.push(n.as_str(), Bytes::copy_from_slice(v.as_bytes()));
        }
    }
    out
}

fn response_out(head: ResponseHead, body: OutBody) -> Response<OutBody> {
    let mut r = Response::new(body);
    *r.status_mut() =
        StatusCode::from_u16(head.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = r.headers_mut();
    h.reserve(head.headers.len());
    for (name, value) in head.headers.iter() {
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(value.clone()),
        ) else {
            continue;
        };
        h.append(n, v);
    }
    r
}

/// The worker's first event, or None when the deadline (which heartbeats move) passed:
/// then the script is stopped through PHP's own timeout, as in uring_php.
async fn first_event(mut rx: oneshot::Receiver<First>, control: &RequestControl) -> Option<First> {
    loop {
        let Some(deadline) = control.deadline() else {
            return rx.await.ok();
        };
        match tokio::time::timeout_at(deadline.into(), &mut rx).await {
            Ok(r) => return r.ok(),
            Err(_) => {
                if control.deadline().is_some_and(|d| d > Instant::now()) {
                    continue; // a heartbeat moved it
                }
                control.abort();
                control.interrupt();
                return None;
            }
        }
    }
}
