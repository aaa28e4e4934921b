//! The way back from a PHP worker to the core that submitted the request, and the
//! state both sides share while it runs (abort, backpressure, deadline).

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uring_http::Headers;

use super::ffi;
use super::response::{ResponseHead, ScriptResponse};

/// What a worker sends about a request. A request produces either one `Complete`, or
/// `StreamStart`, any number of `Chunk`s and `StreamEnd` (after `flush()`); any number
/// of `Interim`s may come before the first of those.
#[derive(Debug)]
pub enum ReplyEvent {
    /// An informational response (headers_send(103)): the script goes on.
    Interim {
        status: u16,
        headers: Headers,
    },
    Complete(ScriptResponse),
    StreamStart(ResponseHead),
    Chunk(Bytes),
    StreamEnd,
}

/// Where events go: a core's completion queue (server) or a channel (other front ends).
pub trait ReplySink: Send + Sync {
    fn deliver(&self, token: u64, event: ReplyEvent);
}

/// The way back for one request. Dropped before its last event (a worker that unwound,
/// a job given up), it sends that event itself, so the core never waits for a reply
/// that cannot come: a 500 when nothing was sent yet, the stream's end otherwise.
pub struct Reply {
    sink: Arc<dyn ReplySink>,
    token: u64,
    pub control: Arc<RequestControl>,
    sent: AtomicU8,
}

const SENT_NOTHING: u8 = 0;
const SENT_STREAM_START: u8 = 1;
const SENT_LAST: u8 = 2;

impl Reply {
    pub fn new(sink: Arc<dyn ReplySink>, token: u64, control: Arc<RequestControl>) -> Self {
        Reply {
            sink,
            token,
            control,
            sent: AtomicU8::new(SENT_NOTHING),
        }
    }

    pub fn send(&self, event: ReplyEvent) {
        match &event {
            ReplyEvent::Complete(_) | ReplyEvent::StreamEnd => {
                self.sent.store(SENT_LAST, Ordering::Relaxed)
            }
            ReplyEvent::StreamStart(_) => self.sent.store(SENT_STREAM_START, Ordering::Relaxed),
            ReplyEvent::Chunk(_) | ReplyEvent::Interim { .. } => {}
        }
        self.sink.deliver(self.token, event);
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        match self.sent.load(Ordering::Relaxed) {
            SENT_NOTHING => {
                tracing::error!("a PHP request ended without a response; answering 500");
                self.sink.deliver(
                    self.token,
                    ReplyEvent::Complete(ScriptResponse::internal_error()),
                );
            }
            SENT_STREAM_START => {
                tracing::error!("a streamed PHP response ended without its end; ending it");
                self.sink.deliver(self.token, ReplyEvent::StreamEnd);
            }
            _ => {}
        }
    }
}

/// The PHP thread currently running a request, so a watchdog can stop it.
struct RunningOn {
    interrupt_flags: usize,
    thread: libc::pthread_t,
}

/// Shared by the core and the worker for one request.
pub struct RequestControl {
    aborted: AtomicBool,
    unsent: AtomicUsize,
    worker_waiting: AtomicBool,
    waiting_thread: Mutex<Option<Thread>>,
    running: Mutex<Option<RunningOn>>,
    timeout: Option<Duration>,
    /// Milliseconds since `epoch()` when the request times out; 0 = no timeout.
    deadline_ms: AtomicU64,
    finished_early: AtomicBool,
}

fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn millis_since_epoch(t: Instant) -> u64 {
    t.saturating_duration_since(epoch()).as_millis() as u64
}

impl RequestControl {
    /// `timeout`: REQUEST_TIMEOUT, counted from `start`.
    pub fn new(timeout: Option<Duration>, start: Instant) -> Self {
        let deadline_ms = timeout.map_or(0, |t| millis_since_epoch(start + t).max(1));
        RequestControl {
            aborted: AtomicBool::new(false),
            unsent: AtomicUsize::new(0),
            worker_waiting: AtomicBool::new(false),
            waiting_thread: Mutex::new(None),
            running: Mutex::new(None),
            timeout,
            deadline_ms: AtomicU64::new(deadline_ms),
            finished_early: AtomicBool::new(false),
        }
    }

    // ---- the client side (core) ----

    /// The client is gone or the request timed out: the script's next output or flush
    /// sees `connection_aborted()`, and a worker blocked on backpressure wakes.
    pub fn abort(&self) {
        self.aborted.store(true, Ordering::SeqCst);
        self.wake_worker();
    }

    pub fn is_aborted(&self) -> bool {
        self.aborted.load(Ordering::Acquire)
    }

    /// The current deadline (heartbeats move it), or None without a timeout.
    pub fn deadline(&self) -> Option<Instant> {
        match self.deadline_ms.load(Ordering::Acquire) {
            0 => None,
            ms => Some(epoch() + Duration::from_millis(ms)),
        }
    }

    /// Stops the script through PHP's own timeout machinery: raises the thread's
    /// timeout flags (PHP then fails with "Maximum execution time exceeded") and
    /// interrupts a blocking syscall. Does nothing once the request left its thread.
    pub fn interrupt(&self) {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(r) = running.as_ref() {
            // SAFETY: `interrupt_flags` points at the thread-local flags of a PHP thread
            // that is still inside this request (it clears `running` under this lock
            // before it moves on), and pthread_kill with a handled signal only makes a
            // blocking syscall on that thread return EINTR.
            unsafe {
                ffi::uring_thread_timeout(r.interrupt_flags as *mut libc::c_void);
                libc::pthread_kill(r.thread, super::interrupt::interrupt_signal());
            }
        }
    }

    /// Streamed bytes the client has now taken off the queue.
    pub fn consumed(&self, n: usize, limit: usize) {
        let before = self.unsent.fetch_sub(n, Ordering::AcqRel);
        if before.saturating_sub(n) <= limit {
            self.wake_worker();
        }
    }

    pub fn was_finished_early(&self) -> bool {
        self.finished_early.load(Ordering::Acquire)
    }

    fn wake_worker(&self) {
        if self.worker_waiting.load(Ordering::SeqCst) {
            if let Some(t) = self
                .waiting_thread
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .as_ref()
            {
                t.unpark();
            }
        }
    }

    // ---- the PHP side (worker) ----

    pub(crate) fn set_running(&self, interrupt_flags: *mut libc::c_void) {
        // SAFETY: pthread_self has no preconditions.
        let thread = unsafe { libc::pthread_self() };
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = Some(RunningOn {
            interrupt_flags: interrupt_flags as usize,
            thread,
        });
    }

    pub(crate) fn clear_running(&self) {
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    pub(crate) fn mark_finished_early(&self) {
        self.finished_early.store(true, Ordering::Release);
    }

    /// Counts `n` streamed bytes as waiting, then blocks while more than `limit` wait
    /// unsent (a slow client pauses the script). Returns false if the client is gone —
    /// or took none of the output for `stall` (STREAM_SEND_TIMEOUT): then the request is
    /// aborted, and the worker goes back to the pool instead of waiting as long as the
    /// connection's own write timeout (the client's loss, not the server's).
    pub(crate) fn stream_sent(&self, n: usize, limit: usize, stall: Option<Duration>) -> bool {
        self.unsent.fetch_add(n, Ordering::AcqRel);
        // The clock restarts whenever the client takes some of what waits.
        let mut progress: Option<(Instant, usize)> = None;
        loop {
            let unsent = self.unsent.load(Ordering::Acquire);
            if unsent <= limit || self.is_aborted() {
                break;
            }
            let now = Instant::now();
            let since = match progress {
                Some((since, before)) if unsent >= before => since,
                _ => {
                    progress = Some((now, unsent));
                    now
                }
            };
            if let Some(stall) = stall {
                if now.duration_since(since) >= stall {
                    tracing::info!(
                        unsent,
                        stall_secs = stall.as_secs_f64(),
                        "client took none of a streamed response: aborting the request (STREAM_SEND_TIMEOUT)"
                    );
                    self.abort();
                    break;
                }
            }
            *self
                .waiting_thread
                .lock()
                .unwrap_or_else(|e| e.into_inner()) = Some(std::thread::current());
            self.worker_waiting.store(true, Ordering::SeqCst);
            if self.unsent.load(Ordering::SeqCst) > limit && !self.is_aborted() {
                // The timeout only guards against a lost wakeup (and lets the stall
                // clock be read); progress is by unpark.
                std::thread::park_timeout(Duration::from_millis(100));
            }
            self.worker_waiting.store(false, Ordering::SeqCst);
        }
        !self.is_aborted()
    }

    /// uring_request_heartbeat(): moves the deadline to now + `secs` if that is later.
    /// False without a timeout, or for 0 < secs <= REQUEST_TIMEOUT not holding.
    pub(crate) fn heartbeat(&self, secs: i64) -> bool {
        let Some(timeout) = self.timeout else {
            return false;
        };
        if secs <= 0 || secs as u64 > timeout.as_secs().max(1) {
            return false;
        }
        let wanted = millis_since_epoch(Instant::now() + Duration::from_secs(secs as u64));
        self.deadline_ms.fetch_max(wanted, Ordering::AcqRel);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Recorder(Mutex<Vec<(u64, String)>>);

    impl ReplySink for Recorder {
        fn deliver(&self, token: u64, event: ReplyEvent) {
            let what = match event {
                ReplyEvent::Complete(r) => format!("complete {}", r.head.status),
                ReplyEvent::StreamStart(h) => format!("start {}", h.status),
                ReplyEvent::Chunk(b) => format!("chunk {}", b.len()),
                ReplyEvent::StreamEnd => "end".to_string(),
                ReplyEvent::Interim { status, .. } => format!("interim {status}"),
            };
            self.0.lock().unwrap().push((token, what));
        }
    }

    fn reply(sink: &Arc<Recorder>) -> Reply {
        let control = Arc::new(RequestControl::new(None, Instant::now()));
        Reply::new(Arc::clone(sink) as Arc<dyn ReplySink>, 9, control)
    }

    fn events(sink: &Recorder) -> Vec<String> {
        sink.0
            .lock()
            .unwrap()
            .iter()
            .map(|(_, e)| e.clone())
            .collect()
    }

    #[test]
    fn a_reply_dropped_unanswered_answers_500() {
        let sink = Arc::new(Recorder::default());
        drop(reply(&sink));
        assert_eq!(events(&sink), ["complete 500"]);
        assert_eq!(sink.0.lock().unwrap()[0].0, 9);
    }

    #[test]
    fn a_stream_dropped_midway_is_ended() {
        let sink = Arc::new(Recorder::default());
        let r = reply(&sink);
        r.send(ReplyEvent::StreamStart(
            ScriptResponse::internal_error().head,
        ));
        r.send(ReplyEvent::Chunk(Bytes::from_static(b"abc")));
        drop(r);
        assert_eq!(events(&sink), ["start 500", "chunk 3", "end"]);
    }

    #[test]
    fn a_finished_reply_sends_nothing_more() {
        let sink = Arc::new(Recorder::default());
        let r = reply(&sink);
        r.send(ReplyEvent::Complete(ScriptResponse::internal_error()));
        drop(r);
        let r = reply(&sink);
        r.send(ReplyEvent::StreamStart(
            ScriptResponse::internal_error().head,
        ));
        r.send(ReplyEvent::StreamEnd);
        drop(r);
        assert_eq!(events(&sink), ["complete 500", "start 500", "end"]);
    }
}
