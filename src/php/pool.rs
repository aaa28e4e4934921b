//! The PHP worker pool: one bounded lock-free queue feeding pinned ZTS threads.
//!
//! Submitting never blocks (a full queue is reported at once, the caller answers 503);
//! idle workers sleep on a condvar and are woken only when there is work, so an idle
//! server uses no CPU.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crossbeam_queue::ArrayQueue;

use super::context::ExecLimits;
use super::request::Job;
use super::worker;

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub workers: usize,
    pub queue_capacity: usize,
    /// CPUs to pin workers to, round-robin; empty: no pinning.
    pub cpus: Vec<usize>,
    /// Requests after which a worker's PHP thread is replaced (0: never).
    pub max_requests: u64,
    pub limits: ExecLimits,
}

/// Counters for /metrics and /ready.
#[derive(Default)]
pub struct PoolStats {
    pub busy: AtomicUsize,
    pub alive: AtomicUsize,
    pub restarts: AtomicU64,
    pub deaths: AtomicU64,
    pub executed: AtomicU64,
}

pub(crate) struct PoolShared {
    queue: ArrayQueue<Job>,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
    shutdown: AtomicBool,
    pub(crate) cfg: PoolConfig,
    pub(crate) stats: PoolStats,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

#[derive(Clone)]
pub struct WorkerPool {
    shared: Arc<PoolShared>,
}

impl WorkerPool {
    /// Starts the workers. The engine must be started and must outlive the pool.
    pub fn start(cfg: PoolConfig) -> std::io::Result<WorkerPool> {
        let workers = cfg.workers.max(1);
        let shared = Arc::new(PoolShared {
            queue: ArrayQueue::new(cfg.queue_capacity.max(1)),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            wake: Condvar::new(),
            shutdown: AtomicBool::new(false),
            cfg,
            stats: PoolStats::default(),
            threads: Mutex::new(Vec::new()),
        });
        for id in 0..workers {
            spawn_worker(&shared, id)?;
        }
        Ok(WorkerPool { shared })
    }

    /// Queues a job, or gives it back at once when the queue is full.
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        self.shared.queue.push(job)?;
        // Pairs with the fence in `next_job`: either we see the sleeper, or it sees
        // the job.
        fence(Ordering::SeqCst);
        if self.shared.sleepers.load(Ordering::Relaxed) > 0 {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_one();
        }
        Ok(())
    }

    pub fn queue_len(&self) -> usize {
        self.shared.queue.len()
    }

    pub fn queue_capacity(&self) -> usize {
        self.shared.queue.capacity()
    }

    pub fn workers(&self) -> usize {
        self.shared.cfg.workers.max(1)
    }

    pub fn stats(&self) -> &PoolStats {
        &self.shared.stats
    }

    /// Lets queued jobs finish, then stops and joins every worker.
    pub fn shutdown(&self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        {
            let _guard = self.shared.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        loop {
            let handle = self.shared.threads.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match handle {
                Some(h) => {
                    let _ = h.join();
                }
                None => break,
            }
        }
    }
}

impl PoolShared {
    /// The next job, sleeping while there is none; None once shut down and drained.
    pub(crate) fn next_job(&self) -> Option<Job> {
        loop {
            if let Some(job) = self.queue.pop() {
                return Some(job);
            }
            if self.shutdown.load(Ordering::SeqCst) {
                return None;
            }
            let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.sleepers.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if let Some(job) = self.queue.pop() {
                self.sleepers.fetch_sub(1, Ordering::Relaxed);
                return Some(job);
            }
            if self.shutdown.load(Ordering::SeqCst) {
                self.sleepers.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            let guard = self.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            self.sleepers.fetch_sub(1, Ordering::Relaxed);
            drop(guard);
        }
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }
}

/// PHP code recurses deeply (templates, ORMs): give it more than Rust's 2 MiB default.
const WORKER_STACK: usize = 16 << 20;

pub(crate) fn spawn_worker(shared: &Arc<PoolShared>, id: usize) -> std::io::Result<()> {
    let s = Arc::clone(shared);
    let handle = std::thread::Builder::new()
        .name(format!("php-{id}"))
        .stack_size(WORKER_STACK)
        .spawn(move || worker::run(s, id))?;
    let mut threads = shared.threads.lock().unwrap_or_else(|e| e.into_inner());
    // Recycled workers leave finished handles behind; keep the list at pool size.
    threads.retain(|h| !h.is_finished());
    threads.push(handle);
    Ok(())
}
