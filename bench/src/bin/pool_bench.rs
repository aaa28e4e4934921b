//! Hello-world executions per second through the pool (submit → worker → completion)
//! against a bare startup/execute/shutdown loop on the same number of threads.
//!
//!   cargo run --release -p uring-bench --bin pool_bench -- [threads] [seconds]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime};

use uring_http::{Headers, Method, RequestBody, Version};
use uring_php::php::inline::InlineWorker;
use uring_php::php::{
    Engine, ExecLimits, IniConfig, Job, PoolConfig, Reply, ReplyEvent, ReplySink, RequestControl,
    ScriptRequest, WorkerPool,
};

fn job(sink: Arc<dyn ReplySink>, script: &str) -> Job {
    let mut headers = Headers::new();
    headers.push("Host", "localhost");
    let request = ScriptRequest {
        id: 1,
        method: Method::Get,
        uri: "/hello.php".into(),
        query: String::new(),
        script_filename: script.into(),
        script_name: "/hello.php".into(),
        path_info: String::new(),
        document_root: Arc::from("/"),
        version: Version::Http11,
        headers,
        host: Some("localhost".into()),
        body: RequestBody::Empty,
        remote_addr: "127.0.0.1:1".parse().unwrap(),
        local_addr: "127.0.0.1:2".parse().unwrap(),
        tls: false,
        server_name: None,
        trace: None,
        received_at: SystemTime::now(),
        driver: "bench",
        site: Default::default(),
    };
    Job {
        request,
        reply: Reply::new(sink, 0, Arc::new(RequestControl::new(None, Instant::now()))),
        queued_at: Instant::now(),
    }
}

/// Counts completed responses; wakes the submitter only when the number done reaches
/// `wake_at` (half the window drained), so it sleeps while the workers run — like a core
/// that batches completions, and unlike a submitter woken on every response.
struct Counter {
    done: AtomicU64,
    wake_at: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
}

impl ReplySink for Counter {
    fn deliver(&self, _token: u64, event: ReplyEvent) {
        if matches!(event, ReplyEvent::Complete(_) | ReplyEvent::StreamEnd) {
            let done = self.done.fetch_add(1, Ordering::AcqRel) + 1;
            if done == self.wake_at.load(Ordering::Acquire) {
                let _g = self.lock.lock().unwrap();
                self.cv.notify_one();
            }
        }
    }
}

struct Discard;
impl ReplySink for Discard {
    fn deliver(&self, _: u64, _: ReplyEvent) {}
}

/// This process's CPU time (user + system), in seconds.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `f` and returns (executions per second, CPU-µs per execution).
fn measure(f: impl FnOnce() -> (u64, f64)) -> (f64, f64) {
    let cpu0 = cpu_seconds();
    let (n, secs) = f();
    let cpu = cpu_seconds() - cpu0;
    (n as f64 / secs, cpu * 1e6 / n.max(1) as f64)
}

fn bare(threads: usize, secs: f64, script: &str) -> (u64, f64) {
    let stop = Arc::new(AtomicBool::new(false));
    let total = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|i| {
            let (stop, total, script) = (Arc::clone(&stop), Arc::clone(&total), script.to_string());
            std::thread::spawn(move || {
                let w = InlineWorker::new(i, ExecLimits::default());
                let sink: Arc<dyn ReplySink> = Arc::new(Discard);
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    w.run(job(Arc::clone(&sink), &script));
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(secs));
    stop.store(true, Ordering::Relaxed);
    for h in handles {
        h.join().unwrap();
    }
    (total.load(Ordering::Relaxed), start.elapsed().as_secs_f64())
}

fn pooled(threads: usize, secs: f64, script: &str) -> (u64, f64) {
    let pool = WorkerPool::start(PoolConfig {
        lanes: 1,
        workers: threads,
        queue_capacity: 4096,
        cpus: vec![],
        max_requests: 0,
        limits: ExecLimits::default(),
    })
    .unwrap();
    let counter = Arc::new(Counter {
        done: AtomicU64::new(0),
        wake_at: AtomicU64::new(u64::MAX),
        lock: Mutex::new(()),
        cv: Condvar::new(),
    });
    let sink: Arc<dyn ReplySink> = counter.clone();
    // Keep 64 jobs per worker in flight, refilled when half have completed.
    let window = (threads * 64) as u64;
    let start = Instant::now();
    let end = start + Duration::from_secs_f64(secs);
    let mut submitted = 0u64;
    while Instant::now() < end {
        while submitted - counter.done.load(Ordering::Acquire) < window {
            if pool.submit(job(Arc::clone(&sink), script)).is_ok() {
                submitted += 1;
            }
        }
        let g = counter.lock.lock().unwrap();
        counter
            .wake_at
            .store(submitted - window / 2, Ordering::Release);
        if counter.done.load(Ordering::Acquire) < submitted - window / 2 {
            let _ = counter
                .cv
                .wait_timeout(g, Duration::from_millis(50))
                .unwrap();
        }
    }
    while counter.done.load(Ordering::Acquire) < submitted {
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = start.elapsed().as_secs_f64();
    pool.shutdown();
    (submitted, elapsed)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let threads: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(2);
    let secs: f64 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(5.0);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/php/hello.php");
    let _engine = Engine::start(&IniConfig::default()).expect("engine");
    println!(
        "PHP {} ZTS, external timers: {}",
        Engine::php_version(),
        uring_php::php::watchdog::external_timers()
    );
    // Warm OPcache, then alternate the two a few times so drift hits both alike.
    bare(threads, 0.5, script);
    let (mut b, mut p) = (Vec::new(), Vec::new());
    for _ in 0..3 {
        b.push(measure(|| bare(threads, secs / 3.0, script)));
        p.push(measure(|| pooled(threads, secs / 3.0, script)));
    }
    let avg =
        |v: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| v.iter().map(f).sum::<f64>() / v.len() as f64;
    let (b_rate, b_cpu) = (avg(&b, |x| x.0), avg(&b, |x| x.1));
    let (p_rate, p_cpu) = (avg(&p, |x| x.0), avg(&p, |x| x.1));
    println!(
        "threads={threads} bare={b_rate:.0}/s ({b_cpu:.2} CPU-us each) pool={p_rate:.0}/s ({p_cpu:.2} CPU-us each) \
         throughput overhead={:.1}% CPU overhead={:.1}%",
        (1.0 - p_rate / b_rate) * 100.0,
        (p_cpu / b_cpu - 1.0) * 100.0
    );
}
