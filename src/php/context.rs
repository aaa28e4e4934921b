//! One request on a PHP thread: the state the SAPI callbacks work on, from startup to
//! the final event sent back to the core.

use std::time::{Instant, UNIX_EPOCH};

use uring_http::Headers;

use super::ffi;
use super::output::Output;
use super::reply::ReplyEvent;
use super::request::Job;
use super::response::{ResponseHead, ScriptResponse, WorkerTiming};
use super::server_vars::ServerVars;

/// Settings a worker applies to every request.
#[derive(Clone, Debug)]
pub struct ExecLimits {
    /// Buffered output above this many bytes spills to a memfd.
    pub spill_threshold: usize,
    /// Streamed bytes allowed to wait unsent before flush() blocks.
    pub stream_buffer: usize,
    /// Longest flush() blocks on a client that takes nothing (None: no bound of its own).
    pub stream_send_timeout: Option<std::time::Duration>,
    /// The server-wide bound on memory held in memfds (None: unbounded).
    pub spill_budget: Option<std::sync::Arc<super::SpillBudget>>,
}

impl Default for ExecLimits {
    fn default() -> Self {
        ExecLimits {
            spill_threshold: 1 << 20,
            stream_buffer: 1 << 20,
            stream_send_timeout: Some(std::time::Duration::from_secs(10)),
            spill_budget: None,
        }
    }
}

#[derive(PartialEq, Eq)]
enum Mode {
    /// Output accumulates; one Complete event at the end.
    Buffering,
    /// flush() was called: chunks go out as they come.
    Streaming,
    /// The response went out (finish_request, or the client left); output is dropped.
    Done,
}

/// The state of the request a PHP thread is running: what the SAPI callbacks read and
/// write (output, response head, `$_SERVER`) from startup to the final reply. Not the
/// middleware chain's `crate::middleware::RequestCtx`, which lives on the core.
pub(crate) struct PhpRequestState {
    pub(crate) job: Job,
    pub(crate) worker_id: usize,
    output: Output,
    head: Option<ResponseHead>,
    mode: Mode,
    post_offset: u64,
    limits: ExecLimits,
    vars: Option<ServerVars>,
    /// `$_SERVER` entries before the request's own (a worker script's boot request gets
    /// the process environment, as the CLI does).
    extra_vars: Vec<(String, Vec<u8>)>,
    server_info: Option<Vec<u8>>,
    started: Instant,
}

impl PhpRequestState {
    // ---- SAPI callbacks ----

    /// Returns false when the client is gone.
    pub fn write(&mut self, data: &[u8]) -> bool {
        if self.mode == Mode::Done {
            // After finish_request (or once an abort was reported) output goes nowhere.
            return true;
        }
        if self.job.reply.control.is_aborted() {
            // The client left or the request timed out: PHP decides what that means
            // (ignore_user_abort), as php-fpm's failed write would make it.
            self.mode = Mode::Done;
            return false;
        }
        if let Err(e) = self.output.write(data) {
            tracing::error!(error = %e, "could not buffer PHP output");
        }
        if self.mode == Mode::Streaming && self.output.len() >= self.limits.stream_buffer as u64 {
            // Bound what one request holds between flushes.
            return self.send_chunk();
        }
        true
    }

    /// flush(): the response becomes a stream (headers now, then each flushed chunk).
    pub fn flush(&mut self) -> bool {
        match self.mode {
            Mode::Done => true,
            Mode::Buffering => {
                self.mode = Mode::Streaming;
                self.output.set_unbounded();
                let mut head = self.head.take().unwrap_or_else(default_head);
                head.timing = self.timing();
                self.job.reply.send(ReplyEvent::StreamStart(head));
                self.send_chunk()
            }
            Mode::Streaming => self.send_chunk(),
        }
    }

    fn send_chunk(&mut self) -> bool {
        // Output that spilled to a file before the response became a stream goes first,
        // in pieces no bigger than what may wait unsent.
        loop {
            match self.output.take_spilled(self.limits.stream_buffer) {
                Ok(Some(piece)) => {
                    let n = piece.len();
                    self.job.reply.send(ReplyEvent::Chunk(piece));
                    if !self.job.reply.control.stream_sent(
                        n,
                        self.limits.stream_buffer,
                        self.limits.stream_send_timeout,
                    ) {
                        self.mode = Mode::Done;
                        return false;
                    }
                }
                Ok(None) => break,
                Err(e) => {
                    // The stream ends here (Reply ends it when the job is dropped).
                    tracing::error!(error = %e, "reading spilled PHP output back");
                    self.mode = Mode::Done;
                    return false;
                }
            }
        }
        let chunk = self.output.take_chunk();
        let n = chunk.len();
        if n > 0 {
            self.job.reply.send(ReplyEvent::Chunk(chunk));
        }
        let control = &self.job.reply.control;
        let alive = control.stream_sent(
            n,
            self.limits.stream_buffer,
            self.limits.stream_send_timeout,
        );
        if !alive {
            self.mode = Mode::Done;
        }
        alive
    }

    pub fn send_headers(&mut self, code: i32, status_line: Option<&[u8]>, lines: &[&[u8]]) {
        if self.mode == Mode::Buffering {
            self.head = Some(super::response_head::build(code, status_line, lines));
        }
    }

    /// headers_send(1xx): an informational response with the Link headers set so far,
    /// while the script goes on. False when it cannot go out: the final head already
    /// left (flush, finish_request), an HTTP/1.0 client (RFC 9110 §15.2), a status
    /// other than 102..=199 except 101, or no Link header to send.
    pub fn send_interim(&mut self, status: i32, lines: &[&[u8]]) -> bool {
        if self.mode != Mode::Buffering
            || self.job.request.version == uring_http::Version::Http10
            || !(102..=199).contains(&status)
            || status == 101
        {
            return false;
        }
        let headers = super::response_head::interim_headers(lines);
        if headers.is_empty() {
            return false;
        }
        self.job.reply.send(ReplyEvent::Interim {
            status: status as u16,
            headers,
        });
        true
    }

    pub fn read_post(&mut self, buf: &mut [u8]) -> usize {
        match self.job.request.body.read_at(self.post_offset, buf) {
            Ok(n) => {
                self.post_offset += n as u64;
                n
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                // A streaming body the client cut short: PHP sees its end, as under
                // php-fpm when nginx's upstream body ends early.
                tracing::debug!(error = %e, "request body ended early");
                0
            }
            Err(e) => {
                tracing::error!(error = %e, "reading the request body for PHP");
                0
            }
        }
    }

    pub fn server_vars(&mut self) -> &[ffi::uring_var] {
        if self.vars.is_none() {
            self.vars = Some(ServerVars::build_with(
                &self.job.request,
                self.worker_id,
                &self.extra_vars,
            ));
        }
        self.vars.as_ref().map_or(&[], |v| v.as_slice())
    }

    pub fn request_time(&self) -> f64 {
        self.job
            .request
            .received_at
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }

    /// uring_finish_request(): PHP already flushed its buffers and sent the headers.
    pub fn finish_request(&mut self) -> bool {
        match self.mode {
            Mode::Done => false,
            Mode::Streaming => {
                self.send_chunk();
                self.job.reply.send(ReplyEvent::StreamEnd);
                self.job.reply.control.mark_finished_early();
                self.mode = Mode::Done;
                true
            }
            Mode::Buffering => {
                self.send_complete();
                self.job.reply.control.mark_finished_early();
                self.mode = Mode::Done;
                true
            }
        }
    }

    pub fn server_info(&mut self) -> *const libc::c_char {
        if self.server_info.is_none() {
            let mut s = Vec::new();
            for (k, v) in [
                ("server", "uring_php"),
                ("version", env!("CARGO_PKG_VERSION")),
                ("sapi", "uring_php"),
                ("zts", "1"),
                ("php_version", super::engine::Engine::php_version()),
                ("php_build", super::engine::Engine::php_build()),
                ("driver", self.job.request.driver),
            ] {
                s.extend_from_slice(k.as_bytes());
                s.push(0);
                s.extend_from_slice(v.as_bytes());
                s.push(0);
            }
            s.push(0);
            self.server_info = Some(s);
        }
        self.server_info
            .as_ref()
            .map_or(std::ptr::null(), |s| s.as_ptr() as *const libc::c_char)
    }

    // ---- the request's end ----

    fn timing(&self) -> WorkerTiming {
        WorkerTiming {
            queue_micros: self
                .started
                .saturating_duration_since(self.job.queued_at)
                .as_micros() as u64,
            php_micros: self.started.elapsed().as_micros() as u64,
        }
    }

    fn send_complete(&mut self) {
        let mut head = self.head.take().unwrap_or_else(default_head);
        head.timing = self.timing();
        let output = std::mem::replace(&mut self.output, Output::new(0));
        self.job.reply.send(ReplyEvent::Complete(ScriptResponse {
            head,
            body: output.into_body(),
        }));
    }

    /// Output written so far, at most `max` bytes of it shown, and forgotten (output of a
    /// worker script outside any request, which goes to the log).
    pub(crate) fn drain_output(&mut self, max: usize) -> Option<String> {
        let len = self.output.len();
        if len == 0 {
            return None;
        }
        let out = std::mem::replace(&mut self.output, Output::new(self.limits.spill_threshold));
        let bytes = out.into_body().to_vec().unwrap_or_default();
        let shown = &bytes[..bytes.len().min(max)];
        let mut text = String::from_utf8_lossy(shown).into_owned();
        if len as usize > max {
            text.push_str(&format!("… ({len} bytes)"));
        }
        Some(text)
    }

    pub(crate) fn end(mut self, ran: bool) {
        match self.mode {
            Mode::Done => {}
            Mode::Streaming => {
                self.send_chunk();
                self.job.reply.send(ReplyEvent::StreamEnd);
            }
            Mode::Buffering if ran => self.send_complete(),
            Mode::Buffering => {
                let mut r = ScriptResponse::internal_error();
                r.head.timing = self.timing();
                self.job.reply.send(ReplyEvent::Complete(r));
            }
        }
    }
}

fn default_head() -> ResponseHead {
    ResponseHead {
        status: 200,
        headers: Headers::new(),
        timing: WorkerTiming::default(),
    }
}

/// The C strings of `uring_request_info`, NUL-terminated in one buffer (one allocation
/// per request instead of one per string), alive for the duration of the request.
struct InfoStrings {
    buf: Vec<u8>,
    method: usize,
    uri: usize,
    query: usize,
    script: usize,
    content_type: Option<usize>,
    cookie: Option<usize>,
    authorization: Option<usize>,
}

impl InfoStrings {
    /// Appends `parts` joined by `sep` and a NUL; returns the start offset. Bytes after an
    /// embedded NUL are cut: C would stop reading there anyway.
    fn push<'b>(buf: &mut Vec<u8>, parts: impl Iterator<Item = &'b [u8]>, sep: &[u8]) -> usize {
        let start = buf.len();
        for (i, p) in parts.enumerate() {
            if i > 0 {
                buf.extend_from_slice(sep);
            }
            buf.extend_from_slice(p);
        }
        if let Some(nul) = buf[start..].iter().position(|&b| b == 0) {
            buf.truncate(start + nul);
        }
        buf.push(0);
        start
    }

    fn new(job: &Job) -> InfoStrings {
        let r = &job.request;
        let mut buf = Vec::with_capacity(
            16 + r.script_name.len()
                + r.query.len()
                + r.script_filename.len()
                + r.headers.len() * 16,
        );
        fn one(s: &str) -> std::iter::Once<&[u8]> {
            std::iter::once(s.as_bytes())
        }
        let method = Self::push(&mut buf, one(r.method.as_str()), b"");
        let uri = Self::push(&mut buf, one(&r.script_name), b"");
        let query = Self::push(&mut buf, one(&r.query), b"");
        let script = Self::push(&mut buf, one(&r.script_filename), b"");
        let content_type = r
            .headers
            .get("Content-Type")
            .map(|v| Self::push(&mut buf, std::iter::once(v.as_ref()), b""));
        // HTTP/2 sends each cookie as its own header field (RFC 9113 §8.2.3): join them.
        let cookie = r.headers.contains("Cookie").then(|| {
            Self::push(
                &mut buf,
                r.headers.get_all("Cookie").map(|v| v.as_ref()),
                b"; ",
            )
        });
        let authorization = r
            .headers
            .get("Authorization")
            .map(|v| Self::push(&mut buf, std::iter::once(v.as_ref()), b""));
        InfoStrings {
            buf,
            method,
            uri,
            query,
            script,
            content_type,
            cookie,
            authorization,
        }
    }

    fn ptr(&self, offset: usize) -> *const libc::c_char {
        self.buf[offset..].as_ptr() as *const libc::c_char
    }

    fn opt(&self, offset: Option<usize>) -> *const libc::c_char {
        offset.map_or(std::ptr::null(), |o| self.ptr(o))
    }
}

/// A request ready for C: its context and the `uring_request_info` C reads, boxed so
/// both keep their addresses while PHP holds pointers to them.
pub(crate) struct Prepared {
    pub(crate) ctx: PhpRequestState,
    info: ffi::uring_request_info,
    _strings: InfoStrings,
    /// The site's php.ini values C applies; `info.ini` points into this Vec's buffer.
    ini: Vec<ffi::uring_ini>,
}

impl Prepared {
    pub(crate) fn new(job: Job, worker_id: usize, limits: &ExecLimits) -> Box<Prepared> {
        Self::with_vars(job, worker_id, limits, Vec::new())
    }

    pub(crate) fn with_vars(
        job: Job,
        worker_id: usize,
        limits: &ExecLimits,
        extra_vars: Vec<(String, Vec<u8>)>,
    ) -> Box<Prepared> {
        let strings = InfoStrings::new(&job);
        let r = &job.request;
        let has_body = !r.body.is_empty() || r.headers.contains("Content-Length");
        let mut ini: Vec<ffi::uring_ini> = r
            .site
            .ini
            .iter()
            .map(|e| ffi::uring_ini {
                name: e.name.as_ptr(),
                value: e.value.as_ptr(),
                admin: e.admin as libc::c_int,
                applied: 0,
            })
            .collect();
        let info = ffi::uring_request_info {
            method: strings.ptr(strings.method),
            request_uri: strings.ptr(strings.uri),
            query_string: strings.ptr(strings.query),
            script_filename: strings.ptr(strings.script),
            content_type: strings.opt(strings.content_type),
            content_length: match r.body.known_len() {
                Some(n) if has_body => n as i64,
                _ => -1,
            },
            cookie: strings.opt(strings.cookie),
            authorization: strings.opt(strings.authorization),
            ini: if ini.is_empty() {
                std::ptr::null_mut()
            } else {
                ini.as_mut_ptr()
            },
            ini_count: ini.len(),
        };
        let output = Output::with_budget(
            limits.spill_threshold,
            limits.spill_budget.as_ref(),
            &job.reply.control,
        );
        Box::new(Prepared {
            ctx: PhpRequestState {
                job,
                worker_id,
                output,
                head: None,
                mode: Mode::Buffering,
                post_offset: 0,
                limits: limits.clone(),
                vars: None,
                extra_vars,
                server_info: None,
                started: Instant::now(),
            },
            info,
            // The info's pointers point into this buffer's heap allocation, which moving
            // the Vec does not move.
            _strings: strings,
            ini,
        })
    }

    /// What C gets as SG(server_context).
    pub(crate) fn ctx_ptr(&mut self) -> *mut libc::c_void {
        &mut self.ctx as *mut PhpRequestState as *mut libc::c_void
    }

    pub(crate) fn info_ptr(&self) -> *const ffi::uring_request_info {
        &self.info
    }

    /// Logs the site's php.ini values PHP refused to apply (after the request ran).
    pub(crate) fn report_refused_ini(&self) {
        for (e, set) in self.ctx.job.request.site.ini.iter().zip(&self.ini) {
            if set.applied == 0 {
                refused_ini(e);
            }
        }
    }

    /// Sends what is still owed for the request; `ran`: PHP ran it (else a 500).
    pub(crate) fn finish(self: Box<Self>, ran: bool) {
        let Prepared { ctx, .. } = *self;
        ctx.end(ran);
    }
}

/// A site's php.ini value PHP refused (unknown directive, or one a site may not set):
/// logged once per directive and value, not per request.
fn refused_ini(e: &super::request::SiteIniValue) {
    static SEEN: std::sync::Mutex<Vec<(std::ffi::CString, std::ffi::CString)>> =
        std::sync::Mutex::new(Vec::new());
    let mut seen = SEEN.lock().unwrap_or_else(|p| p.into_inner());
    if seen.iter().any(|(n, v)| *n == e.name && *v == e.value) {
        return;
    }
    seen.push((e.name.clone(), e.value.clone()));
    tracing::error!(
        directive = %e.name.to_string_lossy(),
        value = %e.value.to_string_lossy(),
        kind = if e.admin { "php_admin_value" } else { "php_value" },
        "PHP refused a site's php.ini value (unknown, or not settable per request); it has no effect"
    );
}

/// Runs one job to completion on the current (PHP) thread and sends its reply.
pub(crate) fn execute(
    job: Job,
    worker_id: usize,
    limits: &ExecLimits,
    interrupt_flags: *mut libc::c_void,
) {
    let mut p = Prepared::new(job, worker_id, limits);
    let control = std::sync::Arc::clone(&p.ctx.job.reply.control);
    control.set_running(interrupt_flags);
    let opcache_guard = super::opcache_restart::enter();
    // SAFETY: `p` (context and info, boxed) outlives the call and is only reached through
    // the callbacks this thread runs during it.
    let status = unsafe { ffi::uring_execute(p.ctx_ptr(), p.info_ptr()) };
    drop(opcache_guard);
    control.clear_running();
    p.report_refused_ini();
    if status > 0 {
        tracing::debug!(
            request_id = p.ctx.job.request.id,
            exit_status = status,
            "script exited with a status"
        );
    }
    p.finish(status >= 0);
}
