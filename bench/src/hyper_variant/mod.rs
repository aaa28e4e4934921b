//! The hyper variant: uring_php's PHP engine, queue and workers (the `uring_php`
//! library: [`Engine`], [`WorkerPool`], [`Router`]) behind a tokio multi-thread runtime
//! and hyper 1 (hyper-util's `auto` connection: HTTP/1.1 and h2c by prior knowledge)
//! instead of uring_php's pinned monoio cores. Everything above the socket layer is the
//! same code, so a comparison of the two measures what the thread-per-core io_uring
//! front end is worth.
//!
//! Settings are uring_php's own (its `Config`: `LISTEN_ADDR`, `DOCUMENT_ROOT`,
//! `PHP_WORKERS`, `QUEUE_CAPACITY`, `REQUEST_TIMEOUT`, `EXECUTOR`, …). `CPU_AFFINITY`
//! restricts the whole process to those CPUs and gives one tokio worker per CPU, pinned
//! there, submitting to that CPU's queue lane (as uring_php's core threads do); the PHP
//! workers are pinned with their lanes by the pool, as in uring_php. What differs is
//! the front end: tokio's scheduler (with work stealing between its workers, so a busy
//! worker's connections can be served by an idle one), its epoll reactor, and hyper.
//!
//! Differences kept on purpose (none is on the path the benchmarks measure): request
//! bodies are collected in memory (uring_php spools large ones to a file), static files
//! are read through `tokio::fs` on each request (uring_php keeps small hot files in a
//! per-core cache) and answer only GET/HEAD with the full file (no 304, no ranges).

mod body;
mod php;
mod responses;
mod service;
mod static_file;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use socket2::{Domain, Protocol, Socket, Type};
use uring_php::config::{Config, Executor};
use uring_php::php::{Engine, WorkerPool};

pub use service::App;

/// Runs until SIGTERM/SIGINT; returns an error line for a failed start.
pub fn run(cfg: Config) -> Result<(), String> {
    let cpus = cfg.cpus();
    // Before any thread exists, so every thread (tokio's, PHP's) inherits the mask.
    restrict_to(&cpus)?;

    let (engine, pool) = if cfg.executor() == Executor::Php {
        let engine = Engine::start(&cfg.ini()).map_err(|e| format!("PHP: {e}"))?;
        // As uring_php: one lane per CPU; each tokio worker submits to its own.
        let pool =
            WorkerPool::start(cfg.pool(&cpus)).map_err(|e| format!("starting PHP workers: {e}"))?;
        (Some(engine), Some(pool))
    } else {
        (None, None)
    };

    let app = Arc::new(
        App::new(&cfg, pool.clone())
            .map_err(|e| format!("DOCUMENT_ROOT={}: {e}", cfg.document_root.display()))?,
    );

    let started = Arc::new(AtomicUsize::new(0));
    let pin_to = cpus.clone();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cpus.len().max(1))
        .thread_name("tokio-worker")
        .on_thread_start(move || {
            // tokio starts its workers first, then blocking-pool threads (tokio::fs) on
            // demand: worker i is pinned to cpus[i] and submits to queue lane i, as
            // uring_php's core i; blocking threads are spread the same way.
            let i = started.fetch_add(1, Ordering::Relaxed);
            if !pin_to.is_empty() {
                let _ = core_affinity::set_for_current(core_affinity::CoreId {
                    id: pin_to[i % pin_to.len()],
                });
                php::set_lane(i % pin_to.len());
            }
        })
        .enable_all()
        .build()
        .map_err(|e| format!("starting the tokio runtime: {e}"))?;
    let listener = bind(cfg.listen_addr).map_err(|e| format!("LISTEN_ADDR: {e}"))?;
    let result = runtime.block_on(serve(listener, app, cpus.len()));
    runtime.shutdown_timeout(Duration::from_secs(1));

    if let Some(pool) = &pool {
        pool.shutdown();
    }
    drop(engine);
    result
}

/// The accept loop; returns at SIGTERM/SIGINT.
async fn serve(listener: std::net::TcpListener, app: Arc<App>, cores: usize) -> Result<(), String> {
    use tokio::signal::unix::{signal, SignalKind};
    let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    tracing::info!(addr = %local, tokio_workers = cores, "listening on http://{local}");
    eprintln!("listening on http://{local}");

    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let (stream, remote) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    tracing::warn!("accept: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        };
        let _ = stream.set_nodelay(true);
        let local = stream.local_addr().unwrap_or(local);
        let (app, builder) = (Arc::clone(&app), Arc::clone(&builder));
        tokio::spawn(async move {
            let svc = hyper::service::service_fn(move |req| {
                let app = Arc::clone(&app);
                async move { Ok::<_, std::convert::Infallible>(app.call(req, remote, local).await) }
            });
            let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
        });
    }
    tracing::info!("stopping");
    Ok(())
}

/// A listener like uring_php's (SO_REUSEADDR, backlog 4096), without SO_REUSEPORT.
fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    if addr.is_ipv6() {
        s.set_only_v6(false).ok();
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())
        .map_err(|e| std::io::Error::new(e.kind(), format!("cannot bind {addr}: {e}")))?;
    s.listen(4096)?;
    Ok(s.into())
}

/// Restricts this thread (and so every thread started later) to `cpus`.
fn restrict_to(cpus: &[usize]) -> Result<(), String> {
    use nix::sched::{sched_setaffinity, CpuSet};
    if cpus.is_empty() {
        return Ok(());
    }
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c)
            .map_err(|e| format!("CPU_AFFINITY: CPU {c}: {e}"))?;
    }
    sched_setaffinity(nix::unistd::Pid::from_raw(0), &set)
        .map_err(|e| format!("CPU_AFFINITY: sched_setaffinity: {e}"))
}
