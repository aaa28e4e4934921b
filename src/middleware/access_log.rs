//! Access log (`ACCESS_LOG=1`): one JSON object per request, to `ACCESS_LOG_FILE` or
//! standard output.
//!
//! The core never blocks on it: each core formats its lines into its own buffer and hands
//! full buffers (32 KiB, or whatever gathered within 100 ms) to a writer thread through a
//! bounded channel. When the writer falls behind and the channel is full, the batch is
//! dropped and its lines are counted (`uring_php_access_log_dropped_total`). Streamed
//! responses are logged when the stream ends, with the bytes the connection wrote.

use std::cell::{Cell, RefCell};
use std::fs::OpenOptions;
use std::future::poll_fn;
use std::io::{self, Write};
use std::net::IpAddr;
use std::path::Path;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use uring_http::{Body, Method, Request, Response, Version};

use super::{body_bytes, Middleware, ObservedStream, RequestCtx};

/// A core hands its buffer over once it holds this much.
const BATCH_BYTES: usize = 32 * 1024;
/// ... or this long after its first line.
const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// Batches that may wait for the writer (8 MiB of lines at most).
const QUEUE_BATCHES: usize = 256;

enum Msg {
    Batch(Vec<u8>),
    Stop,
}

/// The writer thread and its channel.
pub struct AccessLogWriter {
    tx: SyncSender<Msg>,
    thread: JoinHandle<()>,
    dropped: Arc<AtomicU64>,
}

impl AccessLogWriter {
    /// Opens the target (appending) and starts the writer thread.
    pub fn start(path: Option<&Path>) -> io::Result<AccessLogWriter> {
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(OpenOptions::new().create(true).append(true).open(p)?),
            None => Box::new(io::stdout()),
        };
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let thread = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out))?;
        Ok(AccessLogWriter {
            tx,
            thread,
            dropped: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Lines dropped so far.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }

    /// A core's end of the log, with its flush task. Must run on the core's runtime.
    pub fn core(&self) -> Rc<AccessLogCore> {
        let core = Rc::new(AccessLogCore {
            tx: self.tx.clone(),
            buf: RefCell::new(Vec::with_capacity(BATCH_BYTES + 1024)),
            lines: Cell::new(0),
            waker: Cell::new(None),
            dropped: Arc::clone(&self.dropped),
        });
        monoio::spawn(Rc::clone(&core).flusher());
        core
    }

    /// Writes out what was sent and stops the thread, waiting at most `timeout` (a
    /// writer stuck on a full pipe must not hold the shutdown).
    pub fn finish(self, timeout: Duration) {
        if let Err(TrySendError::Full(msg)) = self.tx.try_send(Msg::Stop) {
            let tx = self.tx.clone();
            let _ = std::thread::Builder::new()
                .name("access-log-stop".into())
                .spawn(move || tx.send(msg));
        }
        let deadline = Instant::now() + timeout;
        while !self.thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        if self.thread.is_finished() {
            let _ = self.thread.join();
        } else {
            tracing::warn!("access log writer did not finish in time; some lines may be lost");
        }
    }
}

fn write_loop(rx: Receiver<Msg>, mut out: Box<dyn Write + Send>) {
    let mut failed = false;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Batch(data) => {
                if let Err(e) = out.write_all(&data) {
                    if !failed {
                        tracing::error!(error = %e, "writing the access log failed");
                        failed = true;
                    }
                }
            }
            Msg::Stop => break,
        }
    }
    let _ = out.flush();
}

/// A core's buffer of formatted lines.
pub struct AccessLogCore {
    tx: SyncSender<Msg>,
    buf: RefCell<Vec<u8>>,
    lines: Cell<u64>,
    /// The flush task, parked while the buffer is empty.
    waker: Cell<Option<Waker>>,
    dropped: Arc<AtomicU64>,
}

impl AccessLogCore {
    fn push(&self, entry: &Entry, bytes: u64, duration: Duration) {
        let len = {
            let mut buf = self.buf.borrow_mut();
            entry.write_json(&mut buf, bytes, duration, SystemTime::now());
            buf.len()
        };
        self.lines.set(self.lines.get() + 1);
        if len >= BATCH_BYTES {
            self.flush();
        } else if let Some(w) = self.waker.take() {
            w.wake();
        }
    }

    /// Hands the buffer to the writer; never blocks (a full channel drops the batch).
    pub fn flush(&self) {
        let data = {
            let mut buf = self.buf.borrow_mut();
            if buf.is_empty() {
                return;
            }
            std::mem::replace(&mut *buf, Vec::with_capacity(BATCH_BYTES + 1024))
        };
        let lines = self.lines.replace(0);
        match self.tx.try_send(Msg::Batch(data)) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(lines, Ordering::Relaxed);
            }
        }
    }

    /// Flushes lines at most FLUSH_AFTER after they were written; sleeps (no timer)
    /// while there is nothing to write.
    async fn flusher(self: Rc<Self>) {
        loop {
            poll_fn(|cx| {
                if self.buf.borrow().is_empty() {
                    self.waker.set(Some(cx.waker().clone()));
                    Poll::Pending
                } else {
                    Poll::Ready(())
                }
            })
            .await;
            monoio::time::sleep(FLUSH_AFTER).await;
            self.flush();
        }
    }

    /// At shutdown: hand over the rest, waiting for room if need be.
    fn flush_blocking(&self) {
        let data = std::mem::take(&mut *self.buf.borrow_mut());
        let lines = self.lines.replace(0);
        if !data.is_empty() && self.tx.send(Msg::Batch(data)).is_err() {
            self.dropped.fetch_add(lines, Ordering::Relaxed);
        }
    }
}

impl Drop for AccessLogCore {
    fn drop(&mut self) {
        self.flush_blocking();
    }
}

/// What the request flow captures (the request itself moves on to the handler).
pub struct Captured {
    path: String,
    query: Option<String>,
    user_agent: Option<Bytes>,
    referer: Option<Bytes>,
}

/// Everything a line needs but the byte count and duration.
struct Entry {
    captured: Box<Captured>,
    method: Method,
    version: Version,
    tls: bool,
    ip: IpAddr,
    status: u16,
    request_id: Option<Bytes>,
    id: u64,
    trace_id: Option<[u8; 16]>,
}

impl Entry {
    fn write_json(&self, o: &mut Vec<u8>, bytes: u64, duration: Duration, now: SystemTime) {
        use std::io::Write as _;
        o.extend_from_slice(b"{\"ts\":\"");
        write_timestamp(o, now);
        o.extend_from_slice(b"\",\"method\":");
        json_str(o, self.method.as_str().as_bytes());
        o.extend_from_slice(b",\"path\":");
        json_str(o, self.captured.path.as_bytes());
        o.extend_from_slice(b",\"query\":");
        json_opt(o, self.captured.query.as_ref().map(|q| q.as_bytes()));
        o.extend_from_slice(b",\"protocol\":\"");
        o.extend_from_slice(self.version.as_str().as_bytes());
        let _ = write!(
            o,
            "\",\"status\":{},\"bytes\":{},\"duration_ms\":{:.3},\"ip\":\"{}\",\"user_agent\":",
            self.status,
            bytes,
            duration.as_secs_f64() * 1000.0,
            self.ip
        );
        json_opt(o, self.captured.user_agent.as_deref());
        o.extend_from_slice(b",\"referer\":");
        json_opt(o, self.captured.referer.as_deref());
        o.extend_from_slice(b",\"request_id\":");
        match &self.request_id {
            Some(r) => json_str(o, r),
            None => {
                let _ = write!(o, "\"{}\"", self.id);
            }
        }
        o.extend_from_slice(b",\"trace_id\":");
        match &self.trace_id {
            Some(t) => {
                o.push(b'"');
                o.extend_from_slice(crate::trace_context::hex(t).as_bytes());
                o.push(b'"');
            }
            None => o.extend_from_slice(b"null"),
        }
        o.extend_from_slice(if self.tls {
            b",\"tls\":true}\n"
        } else {
            b",\"tls\":false}\n"
        });
    }
}

fn json_opt(o: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => json_str(o, v),
        None => o.extend_from_slice(b"null"),
    }
}

/// A JSON string; bytes that are not UTF-8 become U+FFFD.
pub fn json_str(o: &mut Vec<u8>, v: &[u8]) {
    o.push(b'"');
    let s = String::from_utf8_lossy(v);
    for c in s.chars() {
        match c {
            '"' => o.extend_from_slice(b"\\\""),
            '\\' => o.extend_from_slice(b"\\\\"),
            '\n' => o.extend_from_slice(b"\\n"),
            '\r' => o.extend_from_slice(b"\\r"),
            '\t' => o.extend_from_slice(b"\\t"),
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                use std::io::Write as _;
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => {
                let mut b = [0u8; 4];
                o.extend_from_slice(c.encode_utf8(&mut b).as_bytes());
            }
        }
    }
    o.push(b'"');
}

/// RFC 3339 in UTC with milliseconds: `2025-01-15T10:30:00.123Z`.
fn write_timestamp(o: &mut Vec<u8>, t: SystemTime) {
    use std::io::Write as _;
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let (y, m, day) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    let _ = write!(
        o,
        "{y:04}-{m:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        d.subsec_millis()
    );
}

/// Days since 1970-01-01 to (year, month, day) — Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The middleware (priority 0: it sees the final response).
pub struct AccessLog {
    core: Rc<AccessLogCore>,
}

impl AccessLog {
    pub fn new(core: Rc<AccessLogCore>) -> AccessLog {
        AccessLog { core }
    }
}

impl Middleware for AccessLog {
    fn name(&self) -> &'static str {
        "access_log"
    }

    fn priority(&self) -> i32 {
        0
    }

    fn on_request(&self, req: &mut Request, ctx: &mut RequestCtx) -> Option<Response> {
        ctx.log = Some(Box::new(Captured {
            path: req.path.clone(),
            query: req.query.clone(),
            user_agent: req.headers.get("User-Agent").cloned(),
            referer: req.headers.get("Referer").cloned(),
        }));
        None
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        let Some(captured) = ctx.log.take() else {
            return;
        };
        let entry = Entry {
            captured,
            method: ctx.method.clone(),
            version: ctx.version,
            tls: ctx.tls,
            ip: ctx.remote.ip(),
            status: resp.status,
            request_id: ctx.request_id.clone(),
            id: ctx.id,
            trace_id: ctx.trace.as_ref().map(|t| t.trace_id),
        };
        let started = ctx.started;
        match body_bytes(ctx, resp) {
            Some(bytes) => self.core.push(&entry, bytes, started.elapsed()),
            None => {
                let Body::Stream(inner) = std::mem::replace(&mut resp.body, Body::Empty) else {
                    return;
                };
                let core = Rc::clone(&self.core);
                let observed = ObservedStream::new(inner, move |sent, _complete| {
                    core.push(&entry, sent, started.elapsed());
                });
                resp.body = Body::Stream(Box::pin(observed));
            }
        }
    }

    fn finish(&self) {
        self.core.flush_blocking();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(19_782), (2024, 2, 29));
        let mut o = Vec::new();
        write_timestamp(
            &mut o,
            UNIX_EPOCH + Duration::from_millis(1_736_937_000_123),
        );
        assert_eq!(String::from_utf8(o).unwrap(), "2025-01-15T10:30:00.123Z");
    }

    #[test]
    fn lines_are_json() {
        let entry = Entry {
            captured: Box::new(Captured {
                path: "/a\"b\\c".into(),
                query: Some("x=1&y=\u{1}".into()),
                user_agent: Some(Bytes::from_static(b"curl/8 \xff")),
                referer: None,
            }),
            method: Method::Get,
            version: Version::Http11,
            tls: false,
            ip: "127.0.0.1".parse().unwrap(),
            status: 200,
            request_id: None,
            id: 42,
            trace_id: Some([0xab; 16]),
        };
        let mut o = Vec::new();
        entry.write_json(&mut o, 13, Duration::from_micros(1500), UNIX_EPOCH);
        assert!(o.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&o).unwrap();
        assert_eq!(v["path"], "/a\"b\\c");
        assert_eq!(v["query"], "x=1&y=\u{1}");
        assert_eq!(v["user_agent"], "curl/8 \u{fffd}");
        assert_eq!(v["referer"], serde_json::Value::Null);
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 13);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["request_id"], "42");
        assert_eq!(v["trace_id"], "ab".repeat(16));
        assert_eq!(v["tls"], false);
        assert_eq!(v["protocol"], "HTTP/1.1");
        assert_eq!(v["ts"], "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn a_full_channel_drops_and_counts_without_blocking() {
        let (tx, rx) = sync_channel(1);
        let core = AccessLogCore {
            tx,
            buf: RefCell::new(Vec::new()),
            lines: Cell::new(0),
            waker: Cell::new(None),
            dropped: Arc::new(AtomicU64::new(0)),
        };
        core.buf.borrow_mut().extend_from_slice(b"{}\n{}\n");
        core.lines.set(2);
        core.flush();
        core.buf.borrow_mut().extend_from_slice(b"{}\n");
        core.lines.set(1);
        core.flush();
        assert_eq!(core.dropped.load(Ordering::Relaxed), 1);
        assert!(matches!(rx.try_recv(), Ok(Msg::Batch(d)) if d == b"{}\n{}\n"));
        drop(rx);
    }
}
