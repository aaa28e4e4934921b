//! A worker-mode thread: runs WORKER_SCRIPT, which boots the application once and
//! serves requests from inside frankenphp_handle_request() (bridge/worker_request.c calls
//! `wait` and `done` below), and starts it again when it ends — at once after a normal
//! end, a crash during a request or a reload; with a growing backoff when it fails
//! before serving anything, answering 503 meanwhile if no other thread can serve.

use std::cell::RefCell;
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::ffi::OsStrExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use uring_http::{Headers, Method, RequestBody, Version};

use super::context::{PhpRequestState, Prepared};
use super::ffi;
use super::lane_pick::Random;
use super::opcache_restart;
use super::queue::PoolShared;
use super::reply::{Reply, ReplyEvent, ReplySink, RequestControl};
use super::request::{Job, ScriptRequest};
use super::response::{ResponseHead, ScriptBody, ScriptResponse, WorkerTiming};
use super::watchdog;
use super::worker::{batch_scheduling, pin, Respawn};
use super::worker_mode::{backoff, RestartCause, WorkerMode};

/// Output outside any request goes to the log, cut to this many bytes.
const LOGGED_OUTPUT: usize = 2048;

/// What the thread knows about the script it is running.
struct Running {
    shared: Arc<PoolShared>,
    mode: Arc<WorkerMode>,
    id: usize,
    lane: usize,
    interrupt_flags: *mut libc::c_void,
    /// The boot request's context (alive for the whole script): output between requests.
    boot: *mut PhpRequestState,
    served: u64,
    reached: bool,
    generation: u64,
    opcache_epoch: u64,
    current: Option<Box<Prepared>>,
    /// When the current request was taken (for the pool's average job time).
    taken_at: Instant,
    random: Random,
    stop: Option<RestartCause>,
    /// The last PHP error logged on this thread (named when a boot fails).
    last_error: Option<String>,
}

thread_local! {
    static RUNNING: RefCell<Option<Running>> = const { RefCell::new(None) };
}

/// Whether this thread runs a worker script (PHP's log lines are then remembered).
pub(crate) fn note_php_log(message: &str, syslog_type: i32) {
    if syslog_type > 4 {
        return;
    }
    RUNNING.with(|r| {
        if let Ok(mut r) = r.try_borrow_mut() {
            if let Some(r) = r.as_mut() {
                r.last_error = Some(message.to_string());
            }
        }
    });
}

/// Why a script booted at `generation` (and OPcache restart `epoch`) must end now, if it
/// must.
fn must_stop(mode: &WorkerMode, generation: u64, epoch: u64) -> Option<RestartCause> {
    if mode.generation() != generation {
        return Some(mode.reload_cause());
    }
    if opcache_restart::worker_must_restart(epoch) {
        return Some(RestartCause::Opcache);
    }
    None
}

impl Running {
    fn must_stop(&self) -> Option<RestartCause> {
        must_stop(&self.mode, self.generation, self.opcache_epoch)
    }

    fn log_idle_output(&mut self) {
        // SAFETY: `boot` points at the boot context owned by `run`'s frame for the whole
        // script; PHP is not using it now (this thread is inside frankenphp_handle_request,
        // outside any SAPI callback).
        let boot = unsafe { &mut *self.boot };
        if let Some(text) = boot.drain_output(LOGGED_OUTPUT) {
            tracing::info!(
                worker = self.id,
                script = %self.mode.cfg.script.display(),
                output = %text,
                "worker script output outside a request"
            );
        }
    }
}

/// frankenphp_handle_request() waiting for its next request: None when the script must
/// end; `reset_opcache` asks the caller to reset OPcache first.
pub(crate) fn wait(
    reset_opcache: &mut bool,
) -> Option<(*mut libc::c_void, *const ffi::uring_request_info)> {
    RUNNING.with(|cell| {
        let mut guard = cell.borrow_mut();
        let r = guard.as_mut()?;
        if !r.reached {
            r.reached = true;
            r.mode.stats.ready.fetch_add(1, Ordering::SeqCst);
            tracing::debug!(worker = r.id, "worker script ready");
        }
        r.log_idle_output();
        let max = r.mode.cfg.max_requests;
        if max > 0 && r.served >= max {
            r.stop = Some(RestartCause::MaxRequests);
            return None;
        }
        if let Some(cause) = r.must_stop() {
            if matches!(cause, RestartCause::Reload | RestartCause::Watch)
                && r.mode.claim_reset(r.mode.generation())
            {
                *reset_opcache = true;
            }
            r.stop = Some(cause);
            return None;
        }
        r.mode.stats.idle.fetch_add(1, Ordering::SeqCst);
        let why = std::cell::Cell::new(None);
        let job = {
            let (mode, generation, epoch) = (&r.mode, r.generation, r.opcache_epoch);
            r.shared.next_job_until(r.lane, &mut r.random, &|| {
                why.set(must_stop(mode, generation, epoch));
                why.get().is_some()
            })
        };
        r.mode.stats.idle.fetch_sub(1, Ordering::SeqCst);
        let Some(job) = job else {
            r.stop = why.get();
            if matches!(r.stop, Some(RestartCause::Reload | RestartCause::Watch))
                && r.mode.claim_reset(r.mode.generation())
            {
                *reset_opcache = true;
            }
            return None;
        };
        r.shared.stats.busy.fetch_add(1, Ordering::Relaxed);
        r.taken_at = Instant::now();
        let mut p = Prepared::new(job, r.id, &r.shared.cfg.limits);
        // A stop aimed at the previous request (its timeout fired as it ended) must not
        // hit this one.
        // SAFETY: this thread's own interrupt flags, from uring_thread_interrupt_flags.
        unsafe { ffi::uring_thread_clear_timeout(r.interrupt_flags) };
        p.ctx.job.reply.control.set_running(r.interrupt_flags);
        let ptrs = (p.ctx_ptr(), p.info_ptr());
        r.current = Some(p);
        Some(ptrs)
    })
}

/// The request `ctx` ended normally.
pub(crate) fn done(ctx: *mut libc::c_void) {
    RUNNING.with(|cell| {
        let mut guard = cell.borrow_mut();
        let Some(r) = guard.as_mut() else { return };
        let Some(mut p) = r.current.take() else {
            tracing::error!(worker = r.id, "worker request ended twice");
            return;
        };
        debug_assert_eq!(p.ctx_ptr(), ctx);
        p.ctx.job.reply.control.clear_running();
        p.finish(true);
        r.served += 1;
        r.shared.note_job_time(r.taken_at.elapsed());
        r.shared.stats.busy.fetch_sub(1, Ordering::Relaxed);
        r.shared.stats.executed.fetch_add(1, Ordering::Relaxed);
        r.mode.stats.count_request(r.id);
    });
}

/// Where a worker script's boot request answers: the log.
struct BootLog {
    worker: usize,
}

impl ReplySink for BootLog {
    fn deliver(&self, _token: u64, event: ReplyEvent) {
        let body = match event {
            ReplyEvent::Complete(r) => r.body.to_vec().unwrap_or_default(),
            ReplyEvent::Chunk(b) => b.to_vec(),
            _ => return,
        };
        if !body.is_empty() {
            let shown = &body[..body.len().min(LOGGED_OUTPUT)];
            tracing::info!(
                worker = self.worker,
                output = %String::from_utf8_lossy(shown),
                "worker script output outside a request"
            );
        }
    }
}

/// The request a worker script runs under while it boots (and between requests): a GET
/// of the script itself, with the process environment in `$_SERVER` as under the CLI
/// (Symfony Runtime and Laravel Octane read their settings from there) and
/// FRANKENPHP_WORKER=1, which FrankenPHP's integrations check.
fn boot_request(shared: &PoolShared, mode: &WorkerMode, id: usize) -> Box<Prepared> {
    let cfg = &mode.cfg;
    let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
    let now = Instant::now();
    let request = ScriptRequest {
        id: 0,
        method: Method::Get,
        uri: cfg.script_name.clone(),
        query: String::new(),
        script_filename: cfg.script.to_string_lossy().into_owned(),
        script_name: cfg.script_name.clone(),
        path_info: String::new(),
        document_root: Arc::clone(&cfg.document_root),
        version: Version::Http11,
        headers: Headers::new(),
        host: None,
        body: RequestBody::Empty,
        remote_addr: loopback,
        local_addr: loopback,
        tls: false,
        server_name: None,
        trace: None,
        received_at: SystemTime::now(),
        driver: "worker",
        site: Default::default(),
    };
    let control = Arc::new(RequestControl::new(None, now));
    let reply = Reply::new(Arc::new(BootLog { worker: id }), 0, control);
    let mut env: Vec<(String, Vec<u8>)> = std::env::vars_os()
        .filter_map(|(k, v)| {
            let k = k.to_str()?.to_string();
            let ok = !k.is_empty() && !k.contains([' ', '.', '[', '=']);
            ok.then(|| (k, v.as_bytes().to_vec()))
        })
        .collect();
    env.push(("FRANKENPHP_WORKER".into(), b"1".to_vec()));
    Prepared::with_vars(
        Job {
            request,
            reply,
            queued_at: now,
        },
        id,
        &shared.cfg.limits,
        env,
    )
}

/// 503 for a request no worker script can serve (every boot is failing).
fn unavailable() -> ScriptResponse {
    let mut headers = Headers::new();
    headers.push(
        "Content-Type",
        Bytes::from_static(b"text/plain; charset=utf-8"),
    );
    headers.push("Retry-After", Bytes::from_static(b"1"));
    ScriptResponse {
        head: ResponseHead {
            status: 503,
            headers,
            timing: WorkerTiming::default(),
        },
        body: ScriptBody::Bytes(Bytes::from_static(
            b"Service Unavailable: the worker script is failing to start\n",
        )),
    }
}

pub(crate) fn run(shared: Arc<PoolShared>, id: usize) {
    let Some(mode) = shared.mode.clone() else {
        return;
    };
    pin(&shared, id);
    batch_scheduling(id);
    // SAFETY: the engine is started before the pool and stopped after it joined.
    unsafe { ffi::uring_thread_start() };
    // SAFETY: returns a pointer to this thread's flags, valid while the thread lives.
    let interrupt_flags = unsafe { ffi::uring_thread_interrupt_flags() };
    watchdog::register_thread(interrupt_flags);
    opcache_restart::register_thread(interrupt_flags);
    shared.stats.alive.fetch_add(1, Ordering::Relaxed);
    let guard = Respawn::new(&shared, id);

    let lane = shared.lane_of(id);
    let mut random = Random::new(id as u64 + 1);
    let mut failures: u32 = 0;
    let mut failing = false;
    while !shared.is_shutting_down() {
        let mut boot = boot_request(&shared, &mode, id);
        let running = Running {
            shared: Arc::clone(&shared),
            mode: Arc::clone(&mode),
            id,
            lane,
            interrupt_flags,
            boot: &mut boot.ctx,
            served: 0,
            reached: false,
            generation: mode.generation(),
            opcache_epoch: opcache_restart::epoch(),
            current: None,
            taken_at: Instant::now(),
            random,
            stop: None,
            last_error: None,
        };
        RUNNING.with(|r| *r.borrow_mut() = Some(running));
        let opcache_guard = opcache_restart::enter();
        // SAFETY: `boot` (context and info, boxed) outlives the call; requests the script
        // serves are owned by RUNNING until `done` or until they are finished below.
        let status = unsafe { ffi::uring_worker_execute(boot.ctx_ptr(), boot.info_ptr()) };
        drop(opcache_guard);
        let Some(mut r) = RUNNING.with(|c| c.borrow_mut().take()) else {
            break;
        };
        random = r.random;
        let crashed = match r.current.take() {
            // The request in flight ended with the script (fatal error, uncaught
            // exception, exit(), timeout): it gets what PHP produced, as under php-fpm.
            Some(p) => {
                p.ctx.job.reply.control.clear_running();
                p.finish(status >= 0);
                r.served += 1;
                shared.stats.busy.fetch_sub(1, Ordering::Relaxed);
                shared.stats.executed.fetch_add(1, Ordering::Relaxed);
                mode.stats.count_request(id);
                true
            }
            None => false,
        };
        boot.finish(true);
        if r.reached {
            mode.stats.ready.fetch_sub(1, Ordering::SeqCst);
        }
        if shared.is_shutting_down() {
            break;
        }
        let cause = if crashed {
            RestartCause::Crash
        } else if !r.reached {
            RestartCause::BootFailure
        } else if status != 0 && r.stop.is_none() {
            RestartCause::Crash
        } else {
            r.stop.unwrap_or(RestartCause::ScriptEnd)
        };
        mode.stats.count_restart(cause);
        if cause != RestartCause::BootFailure {
            if failing {
                mode.stats.failing.fetch_sub(1, Ordering::SeqCst);
                failing = false;
            }
            failures = 0;
            tracing::info!(
                worker = id,
                cause = cause.label(),
                requests = r.served,
                exit_status = status,
                "restarting the worker script"
            );
            continue;
        }
        failures += 1;
        if !failing {
            failing = true;
            mode.stats.failing.fetch_add(1, Ordering::SeqCst);
        }
        let wait = backoff(failures);
        tracing::error!(
            worker = id,
            script = %mode.cfg.script.display(),
            exit_status = status,
            error = r.last_error.as_deref().unwrap_or("(no PHP error logged)"),
            failures,
            retry_in_ms = wait.as_millis() as u64,
            "the worker script ended before calling frankenphp_handle_request(); starting it again after a pause"
        );
        // Requests that queued while no script could serve get 503 rather than wait.
        if mode.unavailable() {
            while let Some(job) = shared.try_take(lane, &mut random) {
                job.reply.send(ReplyEvent::Complete(unavailable()));
            }
        }
        mode.nap(wait);
    }
    if failing {
        mode.stats.failing.fetch_sub(1, Ordering::SeqCst);
    }
    std::mem::forget(guard);
    shared.stats.alive.fetch_sub(1, Ordering::Relaxed);
    watchdog::unregister_thread();
    opcache_restart::unregister_thread();
    // SAFETY: this thread started its PHP context above and runs no request now.
    unsafe { ffi::uring_thread_stop() };
}
