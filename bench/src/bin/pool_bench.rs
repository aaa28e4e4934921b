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
    };
    Job {
        request,
        reply: Reply::new(sink, 0, Arc::new(RequestControl::new(None, Instant::now()))),
        queued_at: Instant::now(),
    }
}

/// Counts completed responses and lets the submitter wait for room.
struct Counter {
    done: AtomicU64,
    lock: Mutex<()>,
    cv: Condvar,
}

impl ReplySink for Counter {
    fn deliver(&self, _token: u64, event: ReplyEvent) {
        if matches!(event, ReplyEvent::Complete(_) | ReplyEvent::StreamEnd) {
            self.done.fetch_add(1, Ordering::Release);
            let _g = self.lock.lock().unwrap();
            self.cv.notify_one();
        }
    }
}

struct Discard;
impl ReplySink for Discard {
    fn deliver(&self, _: u64, _: ReplyEvent) {}
}

fn bare(threads: usize, secs: f64, script: &str) -> f64 {
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
                    w.run(&job(Arc::clone(&sink), &script));
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
    total.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn pooled(threads: usize, secs: f64, script: &str) -> f64 {
    let pool = WorkerPool::start(PoolConfig {
        lanes: 1,
        workers: threads,
        queue_capacity: 1024,
        cpus: vec![],
        max_requests: 0,
        limits: ExecLimits::default(),
    })
    .unwrap();
    let counter = Arc::new(Counter {
        done: AtomicU64::new(0),
        lock: Mutex::new(()),
        cv: Condvar::new(),
    });
    let sink: Arc<dyn ReplySink> = counter.clone();
    // Keep 4 jobs per worker in flight, as a busy server would.
    let window = (threads * 4) as u64;
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
        let _ = counter
            .cv
            .wait_timeout(g, Duration::from_millis(1))
            .unwrap();
    }
    while counter.done.load(Ordering::Acquire) < submitted {
        std::thread::sleep(Duration::from_millis(1));
    }
    let rate = submitted as f64 / start.elapsed().as_secs_f64();
    pool.shutdown();
    rate
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
    let mut b = Vec::new();
    let mut p = Vec::new();
    for _ in 0..3 {
        b.push(bare(threads, secs / 3.0, script));
        p.push(pooled(threads, secs / 3.0, script));
    }
    let avg = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let (b, p) = (avg(&b), avg(&p));
    println!(
        "threads={threads} bare={b:.0}/s pool={p:.0}/s overhead={:.1}%",
        (1.0 - p / b) * 100.0
    );
}
