//! Starting and stopping the server: PHP engine and pool, one pinned core thread per
//! CPU, the signal thread, and the orderly shutdown after SIGTERM/SIGINT.

mod core;
mod listener;
mod runtime;
mod signals;
mod stop_signal;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use uring_http::h1::H1Config;
use uring_http::SpoolConfig;

use crate::config::{Config, Executor};
use crate::php::{Engine, IniConfig, PoolConfig, WorkerPool};
use crate::php_handler::PhpSettings;
use crate::php::server_vars::SERVER_SOFTWARE;

pub use stop_signal::StopSignal;

/// Runs until SIGTERM/SIGINT; returns an error line for a failed start.
pub fn run(cfg: Config) -> Result<(), String> {
    // Before any thread exists, so every thread inherits the mask and only the signal
    // thread ever sees these signals (PHP cannot take them either).
    let signals = signals::block()?;
    let cfg = Arc::new(cfg);
    let cpus = cfg.cpus();

    let (engine, pool) = if cfg.executor() == Executor::Php {
        let mut overrides = IniConfig::overrides_from_env(std::env::vars());
        overrides.extend(cfg.php_define.iter().cloned());
        let ini = IniConfig { file: cfg.php_ini.clone(), overrides };
        let engine = Engine::start(&ini).map_err(|e| format!("PHP: {e}"))?;
        let pool = WorkerPool::start(PoolConfig {
            lanes: cfg.queue_lanes.unwrap_or(cpus.len()),
            workers: cfg.workers(),
            queue_capacity: cfg.queue_capacity(),
            cpus: cpus.clone(),
            max_requests: cfg.php_worker_max_requests,
            limits: cfg.exec_limits(),
        })
        .map_err(|e| format!("starting PHP workers: {e}"))?;
        (Some(engine), Some(pool))
    } else {
        (None, None)
    };

    let listeners = listener::bind_reuseport(cfg.listen_addr, cpus.len()).map_err(|e| format!("LISTEN_ADDR: {e}"))?;
    let local = listeners[0].local_addr().map_err(|e| e.to_string())?;

    let stop = Arc::new(StopSignal::default());
    let shared = Arc::new(core::Shared {
        cfg: Arc::clone(&cfg),
        h1: H1Config {
            max_body_size: cfg.max_body_size,
            spool: SpoolConfig { threshold: cfg.body_spool_threshold as usize, dir: std::env::temp_dir() },
            header_timeout: cfg.header_timeout_secs,
            idle_timeout: cfg.idle_timeout_secs,
            server_header: Some(Bytes::from_static(SERVER_SOFTWARE.as_bytes())),
            ..H1Config::default()
        },
        pool: pool.clone(),
        php: Arc::new(PhpSettings {
            document_root: Arc::from(
                cfg.document_root.canonicalize().unwrap_or_else(|_| cfg.document_root.clone()).to_string_lossy().as_ref(),
            ),
            server_name: cfg.server_name.as_deref().map(Arc::from),
            request_timeout: cfg.request_timeout(),
            stream_timeout: cfg.sse_timeout(),
            stream_buffer: cfg.exec_limits().stream_buffer,
            server_timing: cfg.server_timing,
        }),
        stop: Arc::clone(&stop),
        drain_timeout: Duration::from_secs(30),
    });

    let mut threads = Vec::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    for (index, (cpu, l)) in cpus.iter().copied().zip(listeners).enumerate() {
        let (shared, ready) = (Arc::clone(&shared), ready_tx.clone());
        let t = std::thread::Builder::new()
            .name(format!("core-{index}"))
            .spawn(move || core::run(index, cpu, l, shared, ready))
            .map_err(|e| format!("starting core thread: {e}"))?;
        threads.push(t);
    }
    drop(ready_tx);
    let mut drivers = Vec::new();
    for _ in 0..threads.len() {
        match ready_rx.recv() {
            Ok(Ok(d)) => drivers.push(d),
            Ok(Err(e)) => {
                stop.trigger();
                return Err(e);
            }
            Err(_) => return Err("a core thread failed to start".into()),
        }
    }
    tracing::info!(
        addr = %local,
        cores = threads.len(),
        php_workers = pool.as_ref().map_or(0, |p| p.workers()),
        driver = drivers.first().copied().unwrap_or("none"),
        "listening on http://{local}"
    );

    let signal_thread = signals::spawn_handler(signals, Arc::clone(&stop))?;
    for t in threads {
        let _ = t.join();
    }
    tracing::info!("connections drained; stopping PHP workers");
    if let Some(pool) = &pool {
        pool.shutdown();
    }
    drop(engine);
    drop(signal_thread);
    tracing::info!("stopped");
    Ok(())
}
