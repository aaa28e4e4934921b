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

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crossbeam_queue::ArrayQueue;

use super::context::ExecLimits;
use super::lane_pick::{self, Random};
use super::request::Job;
use super::worker;
use super::worker_mode::{RestartCause, WorkerMode, WorkerScriptConfig};
use super::worker_script;

#[derive(Clone, Debug)]
pub struct PoolConfig {
    pub workers: usize,
    pub queue_capacity: usize,
    /// CPUs to pin workers to, round-robin; empty: no pinning.
    pub cpus: Vec<usize>,
    /// Requests after which a worker's PHP thread is replaced (0: never).
    pub max_requests: u64,
    pub limits: ExecLimits,
    /// Queue lanes, normally one per core (worker `i` serves lane `i % lanes` and is
    /// pinned to `cpus[i % cpus.len()]`); 1 gives a single shared queue.
    pub lanes: usize,
}

/// Counters for /metrics and /ready.
#[derive(Default)]
pub struct PoolStats {
    pub busy: AtomicUsize,
    pub alive: AtomicUsize,
    pub restarts: AtomicU64,
    pub deaths: AtomicU64,
    pub executed: AtomicU64,
    /// Requests whose client left (stream reset, connection closed) before the answer
    /// began; counted by the cores.
    pub abandoned: AtomicU64,
    /// Of those, the ones dropped from the queue without running.
    pub skipped: AtomicU64,
    /// A running average of how long a job holds its worker, in microseconds.
    pub job_micros: AtomicU64,
}

/// Jobs shorter than this on average are run one after another by the worker a batch
/// woke: waking a worker per job would cost more in switches than it wins (hello.php:
/// ~10 µs of PHP; waking every idle worker per turn cost it ~18 % of its throughput).
/// Longer ones get a worker each, as far as workers are idle.
const SHORT_JOB_MICROS: u64 = 500;

struct Lane {
    queue: ArrayQueue<Job>,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    wake: Condvar,
}

pub(crate) struct PoolShared {
    lanes: Vec<Lane>,
    shutdown: AtomicBool,
    /// Past the shutdown deadline: queued jobs are no longer run.
    abandon: AtomicBool,
    pub(crate) cfg: PoolConfig,
    pub(crate) stats: PoolStats,
    threads: Mutex<Vec<JoinHandle<()>>>,
    /// Worker mode: every thread runs this worker script (`worker_script.rs`) instead
    /// of one script per request.
    pub(crate) mode: Option<Arc<WorkerMode>>,
}

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
        let lanes = cfg.lanes.clamp(1, workers);
        let per_lane = cfg.queue_capacity.max(1).div_ceil(lanes);
        let shared = Arc::new(PoolShared {
            lanes: (0..lanes)
                .map(|_| Lane {
                    queue: ArrayQueue::new(per_lane),
                    sleepers: AtomicUsize::new(0),
                    lock: Mutex::new(()),
                    wake: Condvar::new(),
                })
                .collect(),
            shutdown: AtomicBool::new(false),
            abandon: AtomicBool::new(false),
            cfg,
            stats: PoolStats {
                // Until measured, jobs count as long: a first burst runs in parallel.
                job_micros: AtomicU64::new(1_000_000),
                ..PoolStats::default()
            },
            threads: Mutex::new(Vec::new()),
            mode,
        });
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
        let job = match self.try_enqueue(lane, job) {
            Ok(l) => return Ok(l),
            Err(job) => job,
        };
        // Full: perhaps of requests whose clients are gone (a reset flood against a slow
        // script fills the queue with them); they must not keep live clients out until
        // a worker gets round to skipping them.
        if self.shared.purge_abandoned() == 0 {
            return Err(job);
        }
        self.try_enqueue(lane, job)
    }

    #[allow(clippy::result_large_err)]
    fn try_enqueue(&self, lane: usize, job: Job) -> Result<usize, Job> {
        let lanes = &self.shared.lanes;
        let n = lanes.len();
        let mut job = job;
        for k in 0..n {
            let l = (lane + k) % n;
            match lanes[l].queue.push(job) {
                Ok(()) => return Ok(l),
                Err(j) => job = j,
            }
        }
        Err(job)
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
        let jobs = if self.shared.stats.job_micros.load(Ordering::Relaxed) < SHORT_JOB_MICROS {
            jobs.min(1)
        } else {
            jobs
        };
        let lanes = &self.shared.lanes;
        // Pairs with the fence in `next_job`: either we see the sleeper, or it sees
        // the job.
        fence(Ordering::SeqCst);
        let n = lanes.len();
        let mut left = jobs;
        for k in 0..n {
            if left == 0 {
                return;
            }
            let l = &lanes[(lane + k) % n];
            let sleeping = l.sleepers.load(Ordering::Relaxed);
            if sleeping == 0 {
                continue;
            }
            let wake = sleeping.min(left);
            let _guard = l.lock.lock().unwrap_or_else(|e| e.into_inner());
            if wake == sleeping {
                l.wake.notify_all();
            } else {
                for _ in 0..wake {
                    l.wake.notify_one();
                }
            }
            left -= wake;
        }
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
        self.shared.lanes.iter().map(|l| l.queue.len()).sum()
    }

    pub fn queue_capacity(&self) -> usize {
        self.shared.lanes.iter().map(|l| l.queue.capacity()).sum()
    }

    pub fn workers(&self) -> usize {
        self.shared.cfg.workers.max(1)
    }

    pub fn lanes(&self) -> usize {
        self.shared.lanes.len()
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

impl PoolShared {
    pub(crate) fn lane_of(&self, worker_id: usize) -> usize {
        worker_id % self.lanes.len()
    }

    /// A job for a worker of `lane`: from the lane `lane_pick` chooses by the lanes'
    /// lengths, else (it was taken meanwhile) from any lane, own first.
    fn take(&self, lane: usize, random: &mut Random) -> Option<Job> {
        let n = self.lanes.len();
        // More than 64 lanes (cores) keep the plain order rather than allocate here.
        if (2..=64).contains(&n) {
            let mut lens = [0usize; 64];
            for (len, l) in lens.iter_mut().zip(&self.lanes) {
                *len = l.queue.len();
            }
            if let Some(k) = lane_pick::pick(&lens[..n], lane, random.next()) {
                if let Some(job) = self.pop_live(k) {
                    return Some(job);
                }
            }
        }
        (0..n).find_map(|k| self.pop_live((lane + k) % n))
    }

    /// The next job of lane `k` whose client is still there. Jobs whose client has gone
    /// are dropped on the way (nobody waits for their answer): a flood of cancelled
    /// requests costs the workers nothing, and the requests behind it move up at once.
    fn pop_live(&self, k: usize) -> Option<Job> {
        while let Some(job) = self.lanes[k].queue.pop() {
            if !job.reply.control.is_aborted() {
                return Some(job);
            }
            self.stats.skipped.fetch_add(1, Ordering::Relaxed);
        }
        None
    }

    /// Drops the queued jobs whose client is gone, keeping the others in their order
    /// (each lane is turned round once: the live jobs go back in behind). Returns how
    /// many were dropped. Only for a full queue: it costs a pass over every job.
    fn purge_abandoned(&self) -> usize {
        let mut dropped = 0;
        for lane in &self.lanes {
            for _ in 0..lane.queue.len() {
                let Some(job) = lane.queue.pop() else { break };
                if job.reply.control.is_aborted() {
                    dropped += 1;
                    continue;
                }
                if let Err(job) = lane.queue.push(job) {
                    // Other cores filled the room meanwhile: this one is turned away
                    // as a full queue turns requests away.
                    refuse_queue_full(&job);
                }
            }
        }
        self.stats
            .skipped
            .fetch_add(dropped as u64, Ordering::Relaxed);
        dropped
    }

    /// Wakes every sleeping worker (they re-check their conditions).
    pub(crate) fn wake_all(&self) {
        for l in &self.lanes {
            let _guard = l.lock.lock().unwrap_or_else(|e| e.into_inner());
            l.wake.notify_all();
        }
    }

    /// A queued job from `lane` or any other, without waiting.
    pub(crate) fn try_take(&self, lane: usize, random: &mut Random) -> Option<Job> {
        self.take(lane, random)
    }

    /// The next job for a worker of `lane`, sleeping while there is none anywhere; None
    /// once shut down and drained.
    pub(crate) fn next_job(&self, lane: usize, random: &mut Random) -> Option<Job> {
        self.next_job_until(lane, random, &|| false)
    }

    /// `next_job`, or None as soon as `stop` holds (checked before taking a job and
    /// whenever the worker is woken: callers that change what `stop` reads call
    /// `wake_all`).
    pub(crate) fn next_job_until(
        &self,
        lane: usize,
        random: &mut Random,
        stop: &dyn Fn() -> bool,
    ) -> Option<Job> {
        let own = &self.lanes[lane];
        loop {
            if self.abandon.load(Ordering::SeqCst) || stop() {
                return None;
            }
            if let Some(job) = self.take(lane, random) {
                return Some(job);
            }
            if self.shutdown.load(Ordering::SeqCst) {
                return None;
            }
            let guard = own.lock.lock().unwrap_or_else(|e| e.into_inner());
            own.sleepers.fetch_add(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            if let Some(job) = self.take(lane, random) {
                own.sleepers.fetch_sub(1, Ordering::Relaxed);
                return Some(job);
            }
            if self.shutdown.load(Ordering::SeqCst) || stop() {
                own.sleepers.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            let guard = own.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            own.sleepers.fetch_sub(1, Ordering::Relaxed);
            drop(guard);
        }
    }

    /// Folds one job's time into the running average (1/8 weight; updates that race
    /// lose one sample, which an average can afford).
    pub(crate) fn note_job_time(&self, took: std::time::Duration) {
        let micros = took.as_micros().min(u64::MAX as u128) as u64;
        let avg = self.stats.job_micros.load(Ordering::Relaxed);
        let next = avg - avg / 8 + micros / 8;
        self.stats.job_micros.store(next, Ordering::Relaxed);
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutdown.load(Ordering::SeqCst)
    }
}

/// Answers a job that lost its place in the queue with the full queue's 503.
fn refuse_queue_full(job: &Job) {
    let mut headers = uring_http::Headers::new();
    headers.push(
        "Content-Type",
        bytes::Bytes::from_static(b"text/plain; charset=utf-8"),
    );
    headers.push("Retry-After", bytes::Bytes::from_static(b"1"));
    job.reply
        .send(super::ReplyEvent::Complete(super::ScriptResponse {
            head: super::ResponseHead {
                status: 503,
                headers,
                timing: super::WorkerTiming::default(),
            },
            body: super::ScriptBody::Bytes(bytes::Bytes::from_static(
                b"Service Unavailable: all PHP workers are busy\n",
            )),
        }));
}

/// PHP code recurses deeply (templates, ORMs): give it more than Rust's 2 MiB default.
const WORKER_STACK: usize = 16 << 20;

pub(crate) fn spawn_worker(shared: &Arc<PoolShared>, id: usize) -> std::io::Result<()> {
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
