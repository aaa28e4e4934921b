//! The PHP worker pool: bounded lock-free queues feeding pinned ZTS threads.
//!
//! Submitting never blocks (a full queue is reported at once, the caller answers 503);
//! idle workers sleep on a condvar and are woken only when there is work, so an idle
//! server uses no CPU.
//!
//! The queue is split into one lane per core (`PoolConfig::lanes`, each an `ArrayQueue`
//! holding its share of QUEUE_CAPACITY). A core submits to its own lane and wakes a
//! worker pinned to its own CPU, so in the common case a request never crosses CPUs —
//! a cross-CPU wakeup costs far more than a local one in VMs. Nothing is stranded: a
//! full lane overflows into the others, an idle worker takes work from any lane, and a
//! core wakes an idle worker elsewhere when its own lane's workers are all busy. A
//! worker takes from a longer lane than its own in proportion to the difference
//! (`lane_pick`), so unevenly loaded cores do not make some connections wait longer.
//! The lanes and the state the workers share live in `queue.rs`.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::queue::PoolShared;
use super::request::Job;
use super::worker;
use super::worker_mode::{RestartCause, WorkerMode, WorkerScriptConfig};
use super::worker_script;

pub use super::queue::{PoolConfig, PoolStats};

#[derive(Clone)]
pub struct WorkerPool {
    shared: Arc<PoolShared>,
}

impl WorkerPool {
    /// Starts the workers. The engine must be started and must outlive the pool.
    pub fn start(cfg: PoolConfig) -> std::io::Result<WorkerPool> {
        Self::start_with(cfg, None)
    }

    /// Starts worker-mode threads: each runs `script` and serves requests from it
    /// (docs/worker-mode.md).
    pub fn start_worker_mode(
        cfg: PoolConfig,
        script: WorkerScriptConfig,
    ) -> std::io::Result<WorkerPool> {
        let mode = Arc::new(WorkerMode::new(script, cfg.workers.max(1)));
        let pool = Self::start_with(cfg, Some(mode))?;
        let weak = Arc::downgrade(&pool.shared);
        // Parked workers re-check whether they must let go of OPcache's memory.
        super::opcache_restart::on_change(Box::new(move || {
            if let Some(shared) = weak.upgrade() {
                shared.wake_all();
            }
        }));
        Ok(pool)
    }

    fn start_with(cfg: PoolConfig, mode: Option<Arc<WorkerMode>>) -> std::io::Result<WorkerPool> {
        let workers = cfg.workers.max(1);
        let shared = Arc::new(PoolShared::new(cfg, mode, spawn_worker));
        for id in 0..workers {
            spawn_worker(&shared, id)?;
        }
        Ok(WorkerPool { shared })
    }

    /// Queues a job on lane 0's side; see `submit_to`.
    // Giving the job back by value (no box) keeps the full-queue path allocation-free.
    #[allow(clippy::result_large_err)]
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        self.submit_to(0, job)
    }

    /// Queues a job in `lane` (the submitting core's), or in another lane when that one
    /// is full; gives the job back at once when every lane is full.
    #[allow(clippy::result_large_err)]
    pub fn submit_to(&self, lane: usize, job: Job) -> Result<(), Job> {
        let l = self.enqueue(lane, job)?;
        self.wake_for(l);
        Ok(())
    }

    /// Queues a job like `submit_to` without waking anyone; returns the lane it went to.
    /// The caller must call `wake_for` with it soon (see `LaneSubmitter`).
    #[allow(clippy::result_large_err)]
    pub fn enqueue(&self, lane: usize, job: Job) -> Result<usize, Job> {
        let job = match self.shared.try_enqueue(lane, job) {
            Ok(l) => return Ok(l),
            Err(job) => job,
        };
        // Full: perhaps of requests whose clients are gone (a reset flood against a slow
        // script fills the queue with them); they must not keep live clients out until
        // a worker gets round to skipping them.
        if self.shared.purge_abandoned() == 0 {
            return Err(job);
        }
        self.shared.try_enqueue(lane, job)
    }

    /// Wakes an idle worker for work queued in `lane`: one of that lane's, else any.
    pub fn wake_for(&self, lane: usize) {
        self.wake_for_jobs(lane, 1);
    }

    /// Wakes up to `jobs` idle workers for `jobs` jobs queued in `lane`: that lane's
    /// first, then the other lanes' (an idle worker takes work from any lane). Requests
    /// that arrive together then run together, each on a worker of its own, as long
    /// as workers are idle; a single wake for a batch would leave the batch to one
    /// worker, one request after another. While jobs are short on average
    /// (`SHORT_JOB_MICROS`) one wake per batch is cheaper, and is what happens.
    pub fn wake_for_jobs(&self, lane: usize, jobs: usize) {
        self.shared.wake_for_jobs(lane, jobs)
    }

    fn all_finished(&self) -> bool {
        self.shared
            .threads
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .all(|h| h.is_finished())
    }

    pub fn queue_len(&self) -> usize {
        self.shared.queue_len()
    }

    pub fn queue_capacity(&self) -> usize {
        self.shared.queue_capacity()
    }

    pub fn workers(&self) -> usize {
        self.shared.cfg.workers.max(1)
    }

    pub fn lanes(&self) -> usize {
        self.shared.lane_count()
    }

    pub fn stats(&self) -> &PoolStats {
        &self.shared.stats
    }

    /// Worker mode's state, when this pool runs a worker script.
    pub fn worker_mode(&self) -> Option<&WorkerMode> {
        self.shared.mode.as_deref()
    }

    /// Worker mode: starts every worker script again, gracefully — each finishes the
    /// request it is serving; queued requests wait for the new scripts. No-op otherwise.
    pub fn reload(&self, cause: RestartCause) {
        if let Some(mode) = &self.shared.mode {
            mode.bump(cause);
            self.shared.wake_all();
        }
    }

    /// The server-wide memfd budget (SPILL_MEMORY_LIMIT), when there is one.
    pub fn spill_budget(&self) -> Option<&super::SpillBudget> {
        self.shared.cfg.limits.spill_budget.as_deref()
    }

    /// Lets queued jobs finish, then stops and joins every worker.
    pub fn shutdown(&self) {
        self.shutdown_by(None);
    }

    /// Like `shutdown`, but at `deadline` queued jobs are dropped and running scripts are
    /// stopped as by their max_execution_time, so the process ends soon after it.
    pub fn shutdown_by(&self, deadline: Option<std::time::Instant>) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        self.shared.wake_all();
        if let Some(mode) = &self.shared.mode {
            mode.wake_nappers();
        }
        if let Some(deadline) = deadline {
            while !self.all_finished() {
                if std::time::Instant::now() >= deadline {
                    self.shared.abandon.store(true, Ordering::SeqCst);
                    let stopped = super::watchdog::expire_all();
                    let queued = self.queue_len();
                    tracing::warn!(
                        stopped,
                        queued,
                        "drain timeout: stopping running PHP scripts, dropping queued requests"
                    );
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
        loop {
            let handle = self
                .shared
                .threads
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .pop();
            match handle {
                Some(h) => {
                    let _ = h.join();
                }
                None => break,
            }
        }
    }
}

/// PHP code recurses deeply (templates, ORMs): give it more than Rust's 2 MiB default.
const WORKER_STACK: usize = 16 << 20;

fn spawn_worker(shared: &Arc<PoolShared>, id: usize) -> std::io::Result<()> {
    let s = Arc::clone(shared);
    let worker_mode = shared.mode.is_some();
    let handle = std::thread::Builder::new()
        .name(if worker_mode {
            format!("php-w{id}")
        } else {
            format!("php-{id}")
        })
        .stack_size(WORKER_STACK)
        .spawn(move || {
            if worker_mode {
                worker_script::run(s, id)
            } else {
                worker::run(s, id)
            }
        })?;
    let mut threads = shared.threads.lock().unwrap_or_else(|e| e.into_inner());
    // Recycled workers leave finished handles behind; keep the list at pool size.
    threads.retain(|h| !h.is_finished());
    threads.push(handle);
    Ok(())
}
