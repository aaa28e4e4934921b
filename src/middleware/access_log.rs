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
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use crossbeam_queue::ArrayQueue;
use uring_http::{Body, Method, Request, Response, Version};

use super::{body_bytes, Middleware, ObservedStream, RequestCtx};

/// A core hands its buffer over once it holds this much.
const BATCH_BYTES: usize = 32 * 1024;
/// ... or this long after its first line.
const FLUSH_AFTER: Duration = Duration::from_millis(100);
/// Batches that may wait for the writer (8 MiB of lines at most).
const QUEUE_BATCHES: usize = 256;

enum Msg {
    /// Lines, and where to give the emptied buffer back (the core that filled it reuses
    /// it: no allocation per batch, and no buffer freed on another thread).
    Batch(Vec<u8>, Arc<ArrayQueue<Vec<u8>>>),
    /// Open the file again (SIGHUP, after logrotate moved it away).
    Reopen,
    Stop,
}

/// Emptied buffers waiting for their core.
const SPARE_BUFFERS: usize = 4;

/// The writer thread and its channel.
pub struct AccessLogWriter {
    tx: SyncSender<Msg>,
    thread: JoinHandle<()>,
    dropped: Arc<AtomicU64>,
    /// Writing to a file (not standard output), which SIGHUP reopens.
    to_file: bool,
}

impl AccessLogWriter {
    /// Opens the target (appending) and starts the writer thread.
    pub fn start(path: Option<&Path>) -> io::Result<AccessLogWriter> {
        let out: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(open_append(p)?),
            None => Box::new(io::stdout()),
        };
        let path = path.map(Path::to_path_buf);
        let to_file = path.is_some();
        let (tx, rx) = sync_channel(QUEUE_BATCHES);
        let thread = std::thread::Builder::new()
            .name("access-log".into())
            .spawn(move || write_loop(rx, out, path))?;
        Ok(AccessLogWriter {
            tx,
            thread,
            dropped: Arc::new(AtomicU64::new(0)),
            to_file,
        })
    }

    /// Something that asks the writer to reopen its file (for the SIGHUP handler); None
    /// when it writes to standard output.
    pub fn reopener(&self) -> Option<impl Fn() + Send + 'static> {
        let tx = self.tx.clone();
        self.to_file.then_some(move || {
            // Queued behind the lines already handed over, which go to the old file.
            if tx.try_send(Msg::Reopen).is_err() {
                tracing::warn!("access log writer is behind; not reopening its file now");
            }
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
            spare: Arc::new(ArrayQueue::new(SPARE_BUFFERS)),
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

fn open_append(path: &Path) -> io::Result<std::fs::File> {
    OpenOptions::new().create(true).append(true).open(path)
}

fn write_loop(rx: Receiver<Msg>, mut out: Box<dyn Write + Send>, path: Option<PathBuf>) {
    let mut failed = false;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Reopen => {
                let Some(path) = &path else { continue };
                let _ = out.flush();
                match open_append(path) {
                    Ok(f) => {
                        out = Box::new(f);
                        failed = false;
                        tracing::info!(path = %path.display(), "SIGHUP: access log reopened");
                    }
                    Err(e) => tracing::error!(
                        path = %path.display(),
                        error = %e,
                        "SIGHUP: cannot reopen the access log; writing to the old file"
                    ),
                }
            }
            Msg::Batch(mut data, back) => {
                if let Err(e) = out.write_all(&data) {
                    if !failed {
                        tracing::error!(error = %e, "writing the access log failed");
                        failed = true;
                    }
                }
                data.clear();
                let _ = back.push(data);
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
    spare: Arc<ArrayQueue<Vec<u8>>>,
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
            let next = self
                .spare
                .pop()
                .unwrap_or_else(|| Vec::with_capacity(BATCH_BYTES + 1024));
            std::mem::replace(&mut *buf, next)
        };
        let lines = self.lines.replace(0);
        match self.tx.try_send(Msg::Batch(data, Arc::clone(&self.spare))) {
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
        if !data.is_empty()
            && self
                .tx
                .send(Msg::Batch(data, Arc::clone(&self.spare)))
                .is_err()
        {
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
    captured: Captured,
    method: Method,
    version: Version,
    tls: bool,
    ip: IpAddr,
    status: u16,
    request_id: Option<Bytes>,
    id: u64,
    trace_hex: Option<[u8; 32]>,
    /// What the response cache did (the field is left out while the cache is off).
    cache: Option<crate::response_cache::CacheStatus>,
}

impl Entry {
    fn write_json(&self, o: &mut Vec<u8>, bytes: u64, duration: Duration, now: SystemTime) {
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
        o.extend_from_slice(b"\",\"status\":");
        push_u64(o, self.status as u64);
        o.extend_from_slice(b",\"bytes\":");
        push_u64(o, bytes);
        o.extend_from_slice(b",\"duration_ms\":");
        let us = duration.as_micros() as u64;
        push_u64(o, us / 1000);
        let frac = us % 1000;
        o.extend_from_slice(&[
            b'.',
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ]);
        o.extend_from_slice(b",\"ip\":\"");
        push_ip(o, self.ip);
        o.extend_from_slice(b"\",\"user_agent\":");
        json_opt(o, self.captured.user_agent.as_deref());
        o.extend_from_slice(b",\"referer\":");
        json_opt(o, self.captured.referer.as_deref());
        o.extend_from_slice(b",\"request_id\":");
        match &self.request_id {
            Some(r) => json_str(o, r),
            None => {
                o.push(b'"');
                push_u64(o, self.id);
                o.push(b'"');
            }
        }
        o.extend_from_slice(b",\"trace_id\":");
        match &self.trace_hex {
            Some(t) => {
                o.push(b'"');
                o.extend_from_slice(t);
                o.push(b'"');
            }
            None => o.extend_from_slice(b"null"),
        }
        if let Some(c) = self.cache {
            o.extend_from_slice(b",\"cache\":\"");
            o.extend_from_slice(c.as_str().as_bytes());
            o.push(b'"');
        }
        o.extend_from_slice(if self.tls {
            b",\"tls\":true}\n"
        } else {
            b",\"tls\":false}\n"
        });
    }
}

/// A number in decimal (itoa: no `core::fmt` on the per-request path).
pub fn push_u64(o: &mut Vec<u8>, n: u64) {
    o.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn push_ip(o: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            for (i, octet) in v4.octets().iter().enumerate() {
                if i > 0 {
                    o.push(b'.');
                }
                push_u64(o, *octet as u64);
            }
        }
        IpAddr::V6(v6) => {
            use std::io::Write as _;
            let _ = write!(o, "{v6}");
        }
    }
}

fn json_opt(o: &mut Vec<u8>, v: Option<&[u8]>) {
    match v {
        Some(v) => json_str(o, v),
        None => o.extend_from_slice(b"null"),
    }
}

/// Bytes a JSON string cannot hold as they are (controls, `"`, `\\`), and non-ASCII, which
/// must be checked for valid UTF-8.
static NEEDS_ESCAPE: [bool; 256] = {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = i < 0x20 || i >= 0x7f || i == b'"' as usize || i == b'\\' as usize;
        i += 1;
    }
    t
};

/// A JSON string; bytes that are not UTF-8 become U+FFFD.
pub fn json_str(o: &mut Vec<u8>, v: &[u8]) {
    if !v.iter().any(|&b| NEEDS_ESCAPE[b as usize]) {
        // The common case: printable ASCII that needs no escape.
        o.push(b'"');
        o.extend_from_slice(v);
        o.push(b'"');
    } else {
        // Writing into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *o, &String::from_utf8_lossy(v));
    }
}

thread_local! {
    /// The date and time part of the last timestamp: (unix second, `YYYY-MM-DDTHH:MM:SS`).
    static SECOND: Cell<(u64, [u8; 19])> = const { Cell::new((u64::MAX, [0; 19])) };
}

/// RFC 3339 in UTC with milliseconds: `2025-01-15T10:30:00.123Z`.
fn write_timestamp(o: &mut Vec<u8>, t: SystemTime) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let prefix = SECOND.with(|c| {
        let (at, text) = c.get();
        if at == secs {
            return text;
        }
        let dt = time::OffsetDateTime::from_unix_timestamp(secs as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        let s = format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        );
        let mut text = [b'0'; 19];
        let n = s.len().min(19);
        text[..n].copy_from_slice(&s.as_bytes()[..n]);
        c.set((secs, text));
        text
    });
    o.extend_from_slice(&prefix);
    let ms = d.subsec_millis();
    o.extend_from_slice(&[
        b'.',
        b'0' + (ms / 100) as u8,
        b'0' + (ms / 10 % 10) as u8,
        b'0' + (ms % 10) as u8,
        b'Z',
    ]);
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
        ctx.log = Some(Captured {
            path: req.path.clone(),
            query: req.query.clone(),
            user_agent: req.headers.get("User-Agent").cloned(),
            referer: req.headers.get("Referer").cloned(),
        });
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
            trace_hex: ctx.trace.as_ref().map(|t| *t.trace_hex_bytes()),
            cache: ctx.cache,
        };
        let started = ctx.started;
        match body_bytes(ctx, resp) {
            Some(bytes) => self.core.push(&entry, bytes, ctx.elapsed()),
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
    fn numbers() {
        for n in [0u64, 7, 10, 99, 100, 404, 999, 1000, 65_535, u64::MAX] {
            let mut o = Vec::new();
            push_u64(&mut o, n);
            assert_eq!(String::from_utf8(o).unwrap(), n.to_string());
        }
    }

    #[test]
    fn dates() {
        let mut o = Vec::new();
        write_timestamp(
            &mut o,
            UNIX_EPOCH + Duration::from_secs(19_782 * 86_400 + 61),
        );
        assert_eq!(String::from_utf8(o).unwrap(), "2024-02-29T00:01:01.000Z");
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
            captured: Captured {
                path: "/a\"b\\c".into(),
                query: Some("x=1&y=\u{1}".into()),
                user_agent: Some(Bytes::from_static(b"curl/8 \xff")),
                referer: None,
            },
            method: Method::Get,
            version: Version::Http11,
            tls: false,
            ip: "127.0.0.1".parse().unwrap(),
            status: 200,
            request_id: None,
            id: 42,
            trace_hex: Some([b'a'; 32]),
            cache: Some(crate::response_cache::CacheStatus::Hit),
        };
        let mut o = Vec::new();
        entry.write_json(&mut o, 13, Duration::from_micros(1500), UNIX_EPOCH);
        assert!(o.ends_with(b"}\n"));
        let v: serde_json::Value = serde_json::from_slice(&o).unwrap();
        assert_eq!(v["path"], "/a\"b\\c");
        assert_eq!(v["query"], "x=1&y=\u{1}");
        assert_eq!(v["user_agent"], "curl/8 \u{fffd}");
        assert_eq!(v["cache"], "HIT");
        assert_eq!(v["referer"], serde_json::Value::Null);
        assert_eq!(v["status"], 200);
        assert_eq!(v["bytes"], 13);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["request_id"], "42");
        assert_eq!(v["trace_id"], "a".repeat(32));
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
            spare: Arc::new(ArrayQueue::new(SPARE_BUFFERS)),
        };
        core.buf.borrow_mut().extend_from_slice(b"{}\n{}\n");
        core.lines.set(2);
        core.flush();
        core.buf.borrow_mut().extend_from_slice(b"{}\n");
        core.lines.set(1);
        core.flush();
        assert_eq!(core.dropped.load(Ordering::Relaxed), 1);
        assert!(matches!(rx.try_recv(), Ok(Msg::Batch(d, _)) if d == b"{}\n{}\n"));
        drop(rx);
    }
}
