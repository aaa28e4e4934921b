//! A PHP worker thread: pinned, with its own PHP thread context, running requests from
//! the pool's queue until shutdown, or until it has served `max_requests` and hands its
//! slot to a fresh thread.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::context;
use super::ffi;
use super::lane_pick::Random;
use super::opcache_restart;
use super::queue::PoolShared;
use super::watchdog;

/// Replaces a worker thread that unwinds (a bug outside PHP), so the pool keeps its size.
pub(crate) struct Respawn<'a> {
    shared: &'a Arc<PoolShared>,
    id: usize,
}

impl<'a> Respawn<'a> {
    pub(crate) fn new(shared: &'a Arc<PoolShared>, id: usize) -> Self {
        Respawn { shared, id }
    }
}

impl Drop for Respawn<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            watchdog::unregister_thread();
            opcache_restart::unregister_thread();
            // Callbacks never unwind through PHP (guard::guarded), so a panic that gets
            // here came from the server's own code outside a PHP request: this thread's
            // PHP context is idle and can be freed.
            // SAFETY: this thread started its PHP context in `run` and runs no request.
            unsafe { ffi::uring_thread_stop() };
            self.shared.stats.deaths.fetch_add(1, Ordering::Relaxed);
            self.shared.stats.alive.fetch_sub(1, Ordering::Relaxed);
            tracing::error!(
                worker = self.id,
                "PHP worker thread died; starting a replacement"
            );
            if !self.shared.is_shutting_down() {
                if let Err(e) = self.shared.spawn_worker(self.id) {
                    tracing::error!(worker = self.id, error = %e, "could not replace a PHP worker");
                }
            }
        }
    }
}

/// SCHED_BATCH for PHP threads: a worker woken by its core then waits for the core to
/// finish its event-loop turn instead of preempting it at once, so the core queues and
/// answers a whole batch between switches. Measured on hello.php (2 cores, wrk -c64,
/// alternating runs): 55–63k req/s at 21–23 CPU-µs per request, against 42–50k at
/// 28–33 µs with the default policy. Allowed without privileges (priority 0).
pub(crate) fn batch_scheduling(id: usize) {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: sched_setscheduler on the calling thread (pid 0) with a valid param.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) } != 0 {
        tracing::debug!(worker = id, error = %std::io::Error::last_os_error(), "SCHED_BATCH not available");
    }
}

/// Pins worker `id` round-robin over the pool's CPUs.
pub(crate) fn pin(shared: &PoolShared, id: usize) {
    let cpus = &shared.cfg.cpus;
    if !cpus.is_empty() {
        let cpu = cpus[id % cpus.len()];
        if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
            tracing::warn!(worker = id, cpu, "could not pin PHP worker");
        }
    }
}

pub(crate) fn run(shared: Arc<PoolShared>, id: usize) {
    let cfg = &shared.cfg;
    pin(&shared, id);
    batch_scheduling(id);
    // SAFETY: the engine is started before the pool and stopped after it joined.
    unsafe { ffi::uring_thread_start() };
    // SAFETY: returns a pointer to this thread's flags, valid while the thread lives.
    let interrupt_flags = unsafe { ffi::uring_thread_interrupt_flags() };
    watchdog::register_thread(interrupt_flags);
    opcache_restart::register_thread(interrupt_flags);
    shared.stats.alive.fetch_add(1, Ordering::Relaxed);
    let guard = Respawn {
        shared: &shared,
        id,
    };

    let mut served: u64 = 0;
    let mut recycle = false;
    let lane = shared.lane_of(id);
    let mut random = Random::new(id as u64 + 1);
    while let Some(job) = shared.next_job(lane, &mut random) {
        shared.stats.busy.fetch_add(1, Ordering::Relaxed);
        let started = std::time::Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            context::execute(job, id, &cfg.limits, interrupt_flags)
        }));
        shared.note_job_time(started.elapsed());
        shared.stats.busy.fetch_sub(1, Ordering::Relaxed);
        shared.stats.executed.fetch_add(1, Ordering::Relaxed);
        if let Err(panic) = outcome {
            // PHP's state on this thread is unknown now: let the thread go (Respawn).
            std::panic::resume_unwind(panic);
        }
        served += 1;
        if cfg.max_requests > 0 && served >= cfg.max_requests && !shared.is_shutting_down() {
            recycle = true;
            break;
        }
    }
    std::mem::forget(guard);
    shared.stats.alive.fetch_sub(1, Ordering::Relaxed);
    if recycle {
        // The replacement starts before this context is torn down, so the slot is
        // empty only for the time a thread takes to start.
        shared.stats.restarts.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            worker = id,
            requests = served,
            "recycling PHP worker (PHP_WORKER_MAX_REQUESTS)"
        );
        if let Err(e) = shared.spawn_worker(id) {
            tracing::error!(worker = id, error = %e, "could not start a replacement PHP worker");
        }
    }
    watchdog::unregister_thread();
    opcache_restart::unregister_thread();
    // SAFETY: this thread started its PHP context above and runs no request now.
    unsafe { ffi::uring_thread_stop() };
}
