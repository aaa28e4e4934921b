//! The PHP pool's shared side: the queue lanes the cores fill and the workers take
//! from, with the pool's configuration, counters and thread list. The pool (`pool.rs`)
//! and its worker threads (`worker.rs`, `worker_script.rs`) all work on this; it knows
//! neither (a worker that replaces itself calls the spawn function the pool gave it).
//! How the lanes are shared out is described in `pool.rs`.

use std::sync::atomic::{fence, AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use crossbeam_queue::ArrayQueue;

use super::context::ExecLimits;
use super::lane_pick::{self, Random};
use super::request::Job;
use super::worker_mode::WorkerMode;

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
    /// Workers waiting on `wake` whose wake nobody has claimed yet.
    sleepers: AtomicUsize,
    /// Wakes claimed by a submitter (it took them off `sleepers`) and not yet taken up by
    /// a woken worker. A worker woken without one (spuriously, or by `wake_all`) takes
    /// itself off `sleepers`. So `sleepers` never counts a worker already woken, and a
    /// second wake in the window before it runs goes to a worker still asleep.
    lock: Mutex<usize>,
    wake: Condvar,
}

pub(crate) struct PoolShared {
    lanes: Vec<Lane>,
    pub(super) shutdown: AtomicBool,
    /// Past the shutdown deadline: queued jobs are no longer run.
    pub(super) abandon: AtomicBool,
    pub(crate) cfg: PoolConfig,
    pub(crate) stats: PoolStats,
    pub(super) threads: Mutex<Vec<JoinHandle<()>>>,
    /// Worker mode: every thread runs this worker script (`worker_script.rs`) instead
    /// of one script per request.
    pub(crate) mode: Option<Arc<WorkerMode>>,
    /// Starts a worker thread (the pool's `spawn_worker`), for workers that replace
    /// themselves.
    spawn: SpawnWorker,
}

/// Starts the thread of worker `id` of the pool.
pub(crate) type SpawnWorker = fn(&Arc<PoolShared>, usize) -> std::io::Result<()>;

impl PoolShared {
    pub(super) fn new(cfg: PoolConfig, mode: Option<Arc<WorkerMode>>, spawn: SpawnWorker) -> Self {
        let workers = cfg.workers.max(1);
        let lanes = cfg.lanes.clamp(1, workers);
        let per_lane = cfg.queue_capacity.max(1).div_ceil(lanes);
        PoolShared {
            lanes: (0..lanes)
                .map(|_| Lane {
                    queue: ArrayQueue::new(per_lane),
                    sleepers: AtomicUsize::new(0),
                    lock: Mutex::new(0),
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
            spawn,
        }
    }

    /// Starts worker `id`'s thread again (a worker replacing itself).
    pub(crate) fn spawn_worker(self: &Arc<Self>, id: usize) -> std::io::Result<()> {
        (self.spawn)(self, id)
    }

    #[allow(clippy::result_large_err)]
    pub(super) fn try_enqueue(&self, lane: usize, job: Job) -> Result<usize, Job> {
        let lanes = &self.lanes;
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

    /// See `WorkerPool::wake_for_jobs`.
    pub(super) fn wake_for_jobs(&self, lane: usize, jobs: usize) {
        let jobs = if self.stats.job_micros.load(Ordering::Relaxed) < SHORT_JOB_MICROS {
            jobs.min(1)
        } else {
            jobs
        };
        let lanes = &self.lanes;
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
            let mut claimed = l.lock.lock().unwrap_or_else(|e| e.into_inner());
            // Under the lock every counted sleeper is waiting on `wake`.
            let sleeping = l.sleepers.load(Ordering::Relaxed);
            let wake = sleeping.min(left);
            if wake == 0 {
                continue;
            }
            l.sleepers.fetch_sub(wake, Ordering::Relaxed);
            *claimed += wake;
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

    pub(super) fn queue_len(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.len()).sum()
    }

    pub(super) fn queue_capacity(&self) -> usize {
        self.lanes.iter().map(|l| l.queue.capacity()).sum()
    }

    pub(super) fn lane_count(&self) -> usize {
        self.lanes.len()
    }

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
    pub(super) fn purge_abandoned(&self) -> usize {
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
            let mut claimed = own.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
            if *claimed > 0 {
                *claimed -= 1;
            } else {
                own.sleepers.fetch_sub(1, Ordering::Relaxed);
            }
            drop(claimed);
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
