//! OPcache restarts on a threaded server (scripts/php-patches/0003).
//!
//! OPcache resets its shared memory — after `opcache_reset()`, when the cache or its key
//! table is full, or when too much of it is wasted — at the next request startup that
//! finds nobody using it. Under php-fpm "nobody" is judged by per-process fcntl locks;
//! in one process those never see the other threads, so unpatched, the reset ran under
//! scripts other threads were executing and the process died (`zend_mm_heap corrupted`).
//!
//! The patch lets the server answer that question. A request that starts while a
//! restart is pending runs uncached (OPcache's own rule: `accelerator_enabled` is off
//! from the moment a restart is scheduled) and never reads the shared memory; only the
//! requests that started before it can be executing cached code. So this module counts
//! the requests that may use the cache — each from before its startup until its
//! shutdown, and each dropped from the count as soon as its startup reports it runs
//! uncached — and OPcache resets only when the calling thread's request is the only one
//! left. Nothing waits: while a restart is pending new requests run uncached (as under
//! php-fpm), and the first request startup after the older ones ended performs it.
//!
//! A script that never ends (a stream, a long poll) would hold a pending restart, and
//! with it the cache, off forever; php-fpm kills such processes after
//! `opcache.force_restart_timeout` seconds. Here, past that time, the scripts that hold
//! the restart are stopped as by their `max_execution_time`.
//!
//! A worker script (worker mode) is one request that lasts for many: it holds the
//! shared memory for its whole life, parked between requests included (its classes and
//! functions point into it). Its thread asks `worker_must_restart` at each
//! frankenphp_handle_request(): a cached script ends when a restart is pending (after the
//! request it is serving), so the restart waits at most one request per worker; a
//! script that booted uncached meanwhile ends once the restart is done, or — when
//! nobody holds the memory any more — one such thread (a claim) boots again to perform
//! it. `on_change` wakes parked worker threads whenever the answer may have changed.

use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::ffi;

/// Why OPcache restarted, as the patch reports it (OPcache's `zend_accel_restart_reason`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartReason {
    /// The shared memory filled up, or too much of it was wasted.
    OutOfMemory,
    /// `opcache.max_accelerated_files` was reached.
    HashFull,
    /// `opcache_reset()`.
    User,
}

impl RestartReason {
    pub const ALL: [RestartReason; 3] = [
        RestartReason::OutOfMemory,
        RestartReason::HashFull,
        RestartReason::User,
    ];

    fn from_detail(detail: i32) -> RestartReason {
        match detail {
            0 => RestartReason::OutOfMemory,
            1 => RestartReason::HashFull,
            _ => RestartReason::User,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            RestartReason::OutOfMemory => "memory",
            RestartReason::HashFull => "keys",
            RestartReason::User => "opcache_reset",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What /metrics shows about OPcache restarts.
#[derive(Default)]
pub struct RestartStats {
    restarts: [AtomicU64; 3],
    /// Sum and maximum of the time from scheduling to the reset, in microseconds.
    pending_micros_sum: AtomicU64,
    pending_micros_max: AtomicU64,
    /// Request startups that ran uncached because a restart was pending.
    uncached_requests: AtomicU64,
    /// Scripts stopped because they held a restart past opcache.force_restart_timeout.
    forced_stops: AtomicU64,
}

impl RestartStats {
    pub fn restarts(&self, reason: RestartReason) -> u64 {
        self.restarts[reason.index()].load(Ordering::Relaxed)
    }
    pub fn pending_seconds_sum(&self) -> f64 {
        self.pending_micros_sum.load(Ordering::Relaxed) as f64 / 1e6
    }
    pub fn pending_seconds_max(&self) -> f64 {
        self.pending_micros_max.load(Ordering::Relaxed) as f64 / 1e6
    }
    pub fn uncached_requests(&self) -> u64 {
        self.uncached_requests.load(Ordering::Relaxed)
    }
    pub fn forced_stops(&self) -> u64 {
        self.forced_stops.load(Ordering::Relaxed)
    }
}

/// Where a PHP thread is, as far as OPcache's shared memory goes.
const IDLE: u8 = 0;
/// Inside a request whose startup has not yet said whether it uses the cache.
const STARTING: u8 = 1;
const CACHED: u8 = 2;
const UNCACHED: u8 = 3;

struct ThreadSlot {
    state: AtomicU8,
    /// Held while leaving a request and while stopping one, so a stop never lands on
    /// the thread's next request.
    leave: Mutex<()>,
    interrupt_flags: usize,
    thread: libc::pthread_t,
}

struct Pending {
    since: Instant,
    reason: RestartReason,
    forced: bool,
}

struct Gate {
    /// Requests in progress that may read the shared memory (STARTING or CACHED).
    users: AtomicUsize,
    /// Restarts done so far.
    epoch: AtomicU64,
    /// The thread (its slot's address) that boots a worker script to perform a pending
    /// restart nobody holds up any more; 0: none.
    claim: AtomicUsize,
    /// Whether a restart is pending (mirrors `pending`, for the lock-free fast path).
    pending_flag: AtomicU8,
    pending: Mutex<Option<Pending>>,
    slots: Mutex<Vec<Arc<ThreadSlot>>>,
    /// opcache.force_restart_timeout; zero: never force.
    force_after: OnceLock<Duration>,
    stats: RestartStats,
}

fn gate() -> &'static Gate {
    static GATE: OnceLock<Gate> = OnceLock::new();
    GATE.get_or_init(|| Gate {
        users: AtomicUsize::new(0),
        epoch: AtomicU64::new(0),
        claim: AtomicUsize::new(0),
        pending_flag: AtomicU8::new(0),
        pending: Mutex::new(None),
        slots: Mutex::new(Vec::new()),
        force_after: OnceLock::new(),
        stats: RestartStats::default(),
    })
}

thread_local! {
    static SLOT: std::cell::RefCell<Option<Arc<ThreadSlot>>> = const { std::cell::RefCell::new(None) };
}

type ChangeHook = Box<dyn Fn() + Send + Sync>;
static ON_CHANGE: OnceLock<ChangeHook> = OnceLock::new();

/// Called (without blocking) when a restart is scheduled, done, or no longer held up:
/// worker mode wakes its parked threads so they ask `worker_must_restart` again.
pub(crate) fn on_change(hook: ChangeHook) {
    let _ = ON_CHANGE.set(hook);
}

fn notify_change() {
    if let Some(hook) = ON_CHANGE.get() {
        hook();
    }
}

/// Restarts done so far (a worker script notes it when it boots).
pub(crate) fn epoch() -> u64 {
    gate().epoch.load(Ordering::SeqCst)
}

fn my_slot() -> Option<Arc<ThreadSlot>> {
    SLOT.with(|s| s.borrow().clone())
}

fn slot_id(slot: &Arc<ThreadSlot>) -> usize {
    Arc::as_ptr(slot) as usize
}

/// Asked by a worker script's thread between requests (its script is the request in
/// progress on this thread, booted at `booted_epoch`): whether the script must end now
/// for OPcache's sake.
pub(crate) fn worker_must_restart(booted_epoch: u64) -> bool {
    let g = gate();
    let Some(slot) = my_slot() else { return false };
    let pending = g.pending_flag.load(Ordering::SeqCst) != 0;
    match slot.state.load(Ordering::SeqCst) {
        // It holds the memory: let go so the restart can happen.
        STARTING | CACHED => pending,
        UNCACHED => {
            if g.epoch.load(Ordering::SeqCst) != booted_epoch {
                // The restart it ran uncached for is done: boot again, cached.
                return true;
            }
            // Nobody holds the memory: boot again to perform the restart (one thread).
            pending
                && g.users.load(Ordering::SeqCst) == 0
                && g.claim
                    .compare_exchange(0, slot_id(&slot), Ordering::SeqCst, Ordering::SeqCst)
                    .is_ok()
        }
        _ => false,
    }
}

pub fn stats() -> &'static RestartStats {
    &gate().stats
}

/// Whether this PHP build carries the restart hooks (patch 0003). Without them OPcache
/// restarts are unsafe under load, and the engine says so once at start-up.
pub fn hooks_available() -> bool {
    // SAFETY: a pure query compiled into the bridge.
    unsafe { ffi::uring_opcache_restart_hooks() != 0 }
}

/// Called once after the engine started, with opcache.force_restart_timeout.
pub(crate) fn configure(force_restart_timeout_secs: u64) {
    let _ = gate()
        .force_after
        .set(Duration::from_secs(force_restart_timeout_secs));
}

/// Registers the calling PHP thread (after uring_thread_start).
pub(crate) fn register_thread(interrupt_flags: *mut libc::c_void) {
    // SAFETY: pthread_self has no preconditions.
    let thread = unsafe { libc::pthread_self() };
    let slot = Arc::new(ThreadSlot {
        state: AtomicU8::new(IDLE),
        leave: Mutex::new(()),
        interrupt_flags: interrupt_flags as usize,
        thread,
    });
    lock(&gate().slots).push(Arc::clone(&slot));
    SLOT.with(|s| *s.borrow_mut() = Some(slot));
}

/// Unregisters the calling PHP thread (before uring_thread_stop).
pub(crate) fn unregister_thread() {
    let Some(slot) = SLOT.with(|s| s.borrow_mut().take()) else {
        return;
    };
    lock(&gate().slots).retain(|s| !Arc::ptr_eq(s, &slot));
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Marks the calling thread as inside a request from before its startup until the
/// guard drops (after its shutdown).
pub(crate) struct RequestGuard {
    slot: Option<Arc<ThreadSlot>>,
}

pub(crate) fn enter() -> RequestGuard {
    let g = gate();
    let slot = SLOT.with(|s| s.borrow().clone());
    if let Some(slot) = &slot {
        slot.state.store(STARTING, Ordering::SeqCst);
    }
    g.users.fetch_add(1, Ordering::SeqCst);
    if g.pending_flag.load(Ordering::Acquire) != 0 {
        force_if_overdue(g, slot.as_ref());
    }
    RequestGuard { slot }
}

impl Drop for RequestGuard {
    fn drop(&mut self) {
        let g = gate();
        match &self.slot {
            Some(slot) => {
                let _leaving = lock(&slot.leave);
                if slot.state.swap(IDLE, Ordering::SeqCst) != UNCACHED {
                    left_the_cache(g);
                }
                // A claim not used (the boot failed before OPcache saw it) is given back.
                let _ =
                    g.claim
                        .compare_exchange(slot_id(slot), 0, Ordering::SeqCst, Ordering::SeqCst);
            }
            None => left_the_cache(g),
        }
    }
}

fn left_the_cache(g: &Gate) {
    if g.users.fetch_sub(1, Ordering::SeqCst) == 1 && g.pending_flag.load(Ordering::SeqCst) != 0 {
        notify_change();
    }
}

/// Past opcache.force_restart_timeout, stops the scripts that keep a restart pending
/// (php-fpm kills their processes at that point).
fn force_if_overdue(g: &Gate, me: Option<&Arc<ThreadSlot>>) {
    let Some(&after) = g.force_after.get() else {
        return;
    };
    if after.is_zero() {
        return;
    }
    let (waited, reason) = {
        let mut p = lock(&g.pending);
        match p.as_mut() {
            Some(p) if !p.forced && p.since.elapsed() >= after => {
                p.forced = true;
                (p.since.elapsed(), p.reason)
            }
            _ => return,
        }
    };
    let mut stopped = 0;
    for slot in lock(&g.slots).iter() {
        if me.is_some_and(|m| Arc::ptr_eq(m, slot)) {
            continue;
        }
        let _inside = lock(&slot.leave);
        if slot.state.load(Ordering::SeqCst) == CACHED {
            // SAFETY: the thread is inside a request (it sets IDLE under `leave`, which we
            // hold), so its interrupt flags are live; the signal only interrupts a
            // blocking syscall, as the watchdog's does.
            unsafe {
                ffi::uring_thread_timeout(slot.interrupt_flags as *mut libc::c_void);
                libc::pthread_kill(slot.thread, super::interrupt::interrupt_signal());
            }
            stopped += 1;
        }
    }
    g.stats.forced_stops.fetch_add(stopped, Ordering::Relaxed);
    tracing::warn!(
        reason = reason.label(),
        pending_secs = waited.as_secs(),
        stopped,
        "OPcache restart held past opcache.force_restart_timeout: stopping the scripts that started before it"
    );
}

const EVENT_SCHEDULED: i32 = 1;
const EVENT_RESTARTING: i32 = 2;
const EVENT_ACTIVATED: i32 = 3;

/// OPcache's observer (patch 0003). Runs with OPcache's shared-memory lock held on the
/// thread that caused the event: it must not block, and it must not unwind into C.
#[no_mangle]
pub extern "C" fn uring_rs_opcache_event(event: i32, detail: i32) {
    super::guard::guarded("opcache_event", (), || opcache_event(event, detail))
}

fn opcache_event(event: i32, detail: i32) {
    let g = gate();
    match event {
        EVENT_ACTIVATED => {
            let Some(slot) = SLOT.with(|s| s.borrow().clone()) else {
                return;
            };
            // The claimer's boot got this far: the claim has done its job.
            let _ = g
                .claim
                .compare_exchange(slot_id(&slot), 0, Ordering::SeqCst, Ordering::SeqCst);
            if detail != 0 {
                slot.state.store(CACHED, Ordering::SeqCst);
            } else if slot.state.swap(UNCACHED, Ordering::SeqCst) != UNCACHED {
                g.users.fetch_sub(1, Ordering::SeqCst);
                if g.pending_flag.load(Ordering::Relaxed) != 0 {
                    g.stats.uncached_requests.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        EVENT_SCHEDULED => {
            let reason = RestartReason::from_detail(detail);
            *lock(&g.pending) = Some(Pending {
                since: Instant::now(),
                reason,
                forced: false,
            });
            g.pending_flag.store(1, Ordering::Release);
            tracing::info!(reason = reason.label(), "OPcache restart scheduled");
            notify_change();
        }
        EVENT_RESTARTING => {
            let reason = RestartReason::from_detail(detail);
            let since = lock(&g.pending).take().map(|p| p.since);
            g.pending_flag.store(0, Ordering::Release);
            g.epoch.fetch_add(1, Ordering::SeqCst);
            let pending = since.map_or(Duration::ZERO, |s| s.elapsed());
            let micros = pending.as_micros() as u64;
            g.stats.restarts[reason.index()].fetch_add(1, Ordering::Relaxed);
            g.stats
                .pending_micros_sum
                .fetch_add(micros, Ordering::Relaxed);
            g.stats
                .pending_micros_max
                .fetch_max(micros, Ordering::Relaxed);
            tracing::info!(
                reason = reason.label(),
                pending_ms = pending.as_millis() as u64,
                "OPcache restart: shared memory reset with no cached script running; no request waited"
            );
            notify_change();
        }
        _ => {}
    }
}

/// OPcache asks whether the calling thread may reset the shared memory now: yes when
/// no other request may be reading it.
#[no_mangle]
pub extern "C" fn uring_rs_opcache_quiescent() -> bool {
    // A panic answers "not now": the restart waits for the next request startup.
    super::guard::guarded("opcache_quiescent", false, quiescent)
}

fn quiescent() -> bool {
    let mine = SLOT.with(|s| {
        s.borrow()
            .as_ref()
            .is_some_and(|slot| matches!(slot.state.load(Ordering::SeqCst), STARTING | CACHED))
    });
    gate().users.load(Ordering::SeqCst) == usize::from(mine)
}
