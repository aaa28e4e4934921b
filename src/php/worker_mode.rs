//! Worker mode's shared state: the worker script, why its threads restarted, which of
//! them can take requests, and reloads. The threads themselves are
//! `worker_script.rs`; the PHP side is bridge/worker_request.c.

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// What runs in worker mode (WORKER_SCRIPT and friends).
#[derive(Clone, Debug)]
pub struct WorkerScriptConfig {
    /// The worker script, absolute.
    pub script: PathBuf,
    /// DOCUMENT_ROOT, for the boot request's `$_SERVER`.
    pub document_root: Arc<str>,
    /// Its URL path when it lies under the document root, else its file name: the
    /// boot request's SCRIPT_NAME.
    pub script_name: String,
    /// Requests a worker script serves before it is started again (0: no limit).
    pub max_requests: u64,
}

/// Why a worker script was started again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestartCause {
    /// It served WORKER_MAX_REQUESTS requests.
    MaxRequests,
    /// SIGUSR1 or the internal server's POST /workers/restart.
    Reload,
    /// A file under WORKER_WATCH changed.
    Watch,
    /// A fatal error, an uncaught exception, exit() or a timeout during a request.
    Crash,
    /// The script ended (or failed) before it first called frankenphp_handle_request().
    BootFailure,
    /// The script returned on its own after serving requests.
    ScriptEnd,
    /// An OPcache restart: the script had to let go of the shared memory, or it ran
    /// uncached while one was pending.
    Opcache,
}

impl RestartCause {
    pub const ALL: [RestartCause; 7] = [
        RestartCause::MaxRequests,
        RestartCause::Reload,
        RestartCause::Watch,
        RestartCause::Crash,
        RestartCause::BootFailure,
        RestartCause::ScriptEnd,
        RestartCause::Opcache,
    ];

    pub fn label(self) -> &'static str {
        match self {
            RestartCause::MaxRequests => "max_requests",
            RestartCause::Reload => "reload",
            RestartCause::Watch => "watch",
            RestartCause::Crash => "crash",
            RestartCause::BootFailure => "boot_failure",
            RestartCause::ScriptEnd => "script_end",
            RestartCause::Opcache => "opcache",
        }
    }

    fn index(self) -> usize {
        Self::ALL.iter().position(|&c| c == self).unwrap_or(0)
    }
}

/// Counters for /metrics and /ready.
pub struct WorkerModeStats {
    /// Threads whose script reached frankenphp_handle_request() and has not ended.
    pub(crate) ready: AtomicUsize,
    /// Of those, the ones waiting for a request.
    pub(crate) idle: AtomicUsize,
    /// Threads whose last boot failed and that have not booted since.
    pub(crate) failing: AtomicUsize,
    restarts: [AtomicU64; 7],
    /// Requests served, per worker thread id.
    requests: Vec<AtomicU64>,
}

impl WorkerModeStats {
    pub fn ready(&self) -> usize {
        self.ready.load(Ordering::Relaxed)
    }
    pub fn idle(&self) -> usize {
        self.idle.load(Ordering::Relaxed)
    }
    pub fn failing(&self) -> usize {
        self.failing.load(Ordering::Relaxed)
    }
    pub fn restarts(&self, cause: RestartCause) -> u64 {
        self.restarts[cause.index()].load(Ordering::Relaxed)
    }
    /// Requests served by each worker thread, by id.
    pub fn requests(&self) -> Vec<u64> {
        self.requests
            .iter()
            .map(|r| r.load(Ordering::Relaxed))
            .collect()
    }
    pub(crate) fn count_request(&self, worker: usize) {
        if let Some(r) = self.requests.get(worker) {
            r.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub(crate) fn count_restart(&self, cause: RestartCause) {
        self.restarts[cause.index()].fetch_add(1, Ordering::Relaxed);
    }
}

pub struct WorkerMode {
    pub(crate) cfg: WorkerScriptConfig,
    /// Bumped by each reload; a script started under an older one ends at its next
    /// frankenphp_handle_request().
    generation: AtomicU64,
    /// The cause of the latest reload (index into RestartCause::ALL).
    reload_cause: AtomicU8,
    /// The latest generation whose OPcache reset some thread has taken on.
    reset_claimed: AtomicU64,
    pub(crate) stats: WorkerModeStats,
    /// Where threads backing off after a failed boot sleep; reloads and shutdown wake them.
    nap: Mutex<u64>,
    nap_wake: Condvar,
}

impl WorkerMode {
    pub(crate) fn new(cfg: WorkerScriptConfig, workers: usize) -> WorkerMode {
        WorkerMode {
            cfg,
            generation: AtomicU64::new(0),
            reload_cause: AtomicU8::new(0),
            reset_claimed: AtomicU64::new(0),
            stats: WorkerModeStats {
                ready: AtomicUsize::new(0),
                idle: AtomicUsize::new(0),
                failing: AtomicUsize::new(0),
                restarts: Default::default(),
                requests: (0..workers).map(|_| AtomicU64::new(0)).collect(),
            },
            nap: Mutex::new(0),
            nap_wake: Condvar::new(),
        }
    }

    pub fn config(&self) -> &WorkerScriptConfig {
        &self.cfg
    }

    pub fn stats(&self) -> &WorkerModeStats {
        &self.stats
    }

    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// Starts a new generation: each script ends at its next frankenphp_handle_request()
    /// (after the request it is serving) and starts again. The caller wakes the threads.
    pub(crate) fn bump(&self, cause: RestartCause) {
        self.reload_cause
            .store(cause.index() as u8, Ordering::SeqCst);
        self.generation.fetch_add(1, Ordering::SeqCst);
        self.wake_nappers();
    }

    pub(crate) fn reload_cause(&self) -> RestartCause {
        RestartCause::ALL[self.reload_cause.load(Ordering::SeqCst) as usize % 7]
    }

    /// True for the first caller per generation: that thread resets OPcache, so the
    /// scripts start on fresh code even with opcache.validate_timestamps=0.
    pub(crate) fn claim_reset(&self, generation: u64) -> bool {
        self.reset_claimed.fetch_max(generation, Ordering::SeqCst) < generation
    }

    /// Sleeps up to `d`; a reload or shutdown ends the nap early.
    pub(crate) fn nap(&self, d: Duration) {
        let guard = self.nap.lock().unwrap_or_else(|e| e.into_inner());
        let seen = *guard;
        let _ = self
            .nap_wake
            .wait_timeout_while(guard, d, |n| *n == seen)
            .unwrap_or_else(|e| e.into_inner());
    }

    pub(crate) fn wake_nappers(&self) {
        let mut n = self.nap.lock().unwrap_or_else(|e| e.into_inner());
        *n = n.wrapping_add(1);
        self.nap_wake.notify_all();
    }

    /// No thread can take a request and at least one failed to boot: requests are
    /// answered 503 at once instead of waiting for a script that may never start.
    pub fn unavailable(&self) -> bool {
        self.stats.ready() == 0 && self.stats.failing() > 0
    }
}

/// Backoff after the `n`th consecutive failed boot (n ≥ 1): 100 ms doubling, at most 5 s.
pub(crate) fn backoff(n: u32) -> Duration {
    let ms = 100u64.saturating_mul(1u64 << n.saturating_sub(1).min(16));
    Duration::from_millis(ms.min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_seconds() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(7), Duration::from_secs(5));
        assert_eq!(backoff(100), Duration::from_secs(5));
    }

    #[test]
    fn one_opcache_reset_per_generation() {
        let m = WorkerMode::new(
            WorkerScriptConfig {
                script: "/w.php".into(),
                document_root: Arc::from("/"),
                script_name: "/w.php".into(),
                max_requests: 0,
            },
            2,
        );
        m.bump(RestartCause::Watch);
        assert_eq!(m.reload_cause(), RestartCause::Watch);
        let g = m.generation();
        assert!(m.claim_reset(g));
        assert!(!m.claim_reset(g));
        m.bump(RestartCause::Reload);
        assert!(m.claim_reset(m.generation()));
    }
}
