//! Starting and stopping the server: PHP engine and pool, one pinned core thread per
//! CPU, the signal thread, and the orderly shutdown after SIGTERM/SIGINT.

mod core;
mod listener;
mod runtime;
pub mod sd_notify;
mod signals;

use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

use uring_http::tls::TlsAcceptor;

use crate::config::{Config, Executor};
use crate::internal_server;
use crate::middleware::Operations;
use crate::php::{Engine, RestartCause, WorkerPool, WorkerScriptConfig};
use crate::php_handler::PhpSettings;
use crate::sites::live::{LiveSites, SitesState};
use crate::sites::SitesSpec;
use crate::stop_signal::StopSignal;
use crate::worker_match::WorkerRoute;

/// Runs until SIGTERM/SIGINT; returns an error line for a failed start. `sites`: what
/// the configuration file (or the environment) describes.
pub fn run(cfg: Config, sites: SitesSpec) -> Result<(), String> {
    // Before any thread exists, so every thread inherits the mask and only the signal
    // thread ever sees these signals (PHP cannot take them either).
    let signals = signals::block()?;
    let cfg = Arc::new(cfg);
    let cpus = cfg.cpus();

    let listeners = listener::bind_reuseport(cfg.listen_addr, cpus.len())
        .map_err(|e| format!("LISTEN_ADDR: {e}"))?;
    let local = listeners[0].local_addr().map_err(|e| e.to_string())?;

    // TLS: the certificate was checked with the configuration; loading it again here only
    // fails if the files changed in between.
    // TLS: the certificates were checked with the configuration; loading them again here
    // only fails if the files changed in between.
    // Sites with automatic HTTPS start with their stored certificate, else a
    // placeholder, so the TLS listener can start before the first order succeeds.
    sites
        .ensure_acme_certificates()
        .map_err(|e| format!("ACME: {e}"))?;
    let tls = match sites.tls_spec(&cfg) {
        Some(spec) if cfg.config.is_none() => Some(Arc::new(
            TlsAcceptor::with_spec(spec).map_err(|e| cfg.tls_error_line(&e))?,
        )),
        Some(spec) => Some(Arc::new(
            TlsAcceptor::with_spec(spec).map_err(|e| format!("TLS: {e}"))?,
        )),
        None => None,
    };
    let mut tls_listeners: Vec<Option<std::net::TcpListener>> =
        (0..cpus.len()).map(|_| None).collect();
    let mut tls_local = None;
    if let Some(addr) = tls.as_ref().map(|_| cfg.tls_addr_if_on()) {
        let bound = listener::bind_reuseport(addr, cpus.len())
            .map_err(|e| format!("TLS_LISTEN_ADDR: {e}"))?;
        tls_local = Some(bound[0].local_addr().map_err(|e| e.to_string())?);
        tls_listeners = bound.into_iter().map(Some).collect();
    }

    let internal = cfg.internal_addr.map(internal_server::bind).transpose()?;

    // PHP starts once every socket is bound: a start that fails on a busy port stops
    // nothing half-started.
    let (engine, pool, worker_pool) = if cfg.executor() == Executor::Php {
        let engine = Engine::start(&cfg.ini()).map_err(|e| format!("PHP: {e}"))?;
        let pool =
            WorkerPool::start(cfg.pool(&cpus)).map_err(|e| format!("starting PHP workers: {e}"))?;
        let worker_pool = match worker_script(&cfg) {
            Some(script) => {
                let started = WorkerPool::start_worker_mode(cfg.worker_mode_pool(&cpus), script);
                match started {
                    Ok(p) => Some(p),
                    Err(e) => {
                        pool.shutdown();
                        return Err(format!("starting worker-mode threads: {e}"));
                    }
                }
            }
            None => None,
        };
        (Some(engine), Some(pool), worker_pool)
    } else {
        (None, None, None)
    };

    // Whatever happens from here, PHP's threads stop before the engine does.
    let php = PhpRuntime {
        pool,
        worker_pool,
        engine,
        stop_by: None,
    };
    let pool = php.pool.clone();
    let worker_pool = php.worker_pool.clone();

    // Operations: middleware state shared by the cores.
    let ops = Arc::new(Operations::start(
        &cfg,
        pool.clone(),
        worker_pool.clone(),
        cpus.len(),
    )?);
    let live = Arc::new(LiveSites::new(SitesState::build(&sites, &cfg, None)?));
    // Automatic HTTPS when any site asks for it (or will, after a reload: the answers
    // to HTTP-01 challenges are looked for only while an order runs).
    let acme_http = Arc::new(crate::acme::HttpChallenges::default());
    let acme = match &tls {
        Some(tls) if sites.sites.iter().any(|s| !s.acme.is_empty()) => {
            Some(crate::acme::manager::start(
                &cfg,
                Arc::clone(&live),
                Arc::clone(tls),
                Arc::clone(&acme_http),
            )?)
        }
        _ => None,
    };
    if cfg.config.is_some() {
        // The process's own arguments: a reload puts the file's new `[server]` flags
        // in front of them again.
        live.enable_reload(std::env::args_os().collect(), (*cfg).clone(), tls.clone());
    }

    let stop = Arc::new(StopSignal::default());
    let h1 = cfg.h1();
    let h2 = cfg.h2(&h1);
    let shared = Arc::new(core::Shared {
        cfg: Arc::clone(&cfg),
        h1,
        h2,
        tls: tls.clone(),
        redirect_to_https: match tls_local {
            Some(a) if cfg.redirect_http_to_https => Some(a.port()),
            _ => None,
        },
        pool: pool.clone(),
        worker: worker_pool.clone().map(|p| (p, worker_route(&cfg))),
        php: Arc::new(PhpSettings {
            request_timeout: cfg.request_timeout(),
            stream_timeout: cfg.sse_timeout(),
            stream_buffer: cfg.exec_limits().stream_buffer,
            server_timing: cfg.server_timing,
        }),
        stop: Arc::clone(&stop),
        drain_timeout: cfg.drain_timeout_secs,
        ops: Arc::clone(&ops),
        sites: Arc::clone(&live),
        acme_http: acme.as_ref().map(|_| Arc::clone(&acme_http)),
    });

    let mut threads = Vec::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    for (index, ((cpu, l), tl)) in cpus
        .iter()
        .copied()
        .zip(listeners)
        .zip(tls_listeners)
        .enumerate()
    {
        let (shared, ready) = (Arc::clone(&shared), ready_tx.clone());
        let t = std::thread::Builder::new()
            .name(format!("core-{index}"))
            .spawn(move || core::run(index, cpu, l, tl, shared, ready))
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
                join_all(threads);
                return Err(e);
            }
            Err(_) => {
                stop.trigger();
                join_all(threads);
                return Err("a core thread failed to start".into());
            }
        }
    }
    tracing::info!(
        addr = %local,
        cores = threads.len(),
        php_workers = pool.as_ref().map_or(0, |p| p.workers()),
        driver = drivers.first().copied().unwrap_or("none"),
        "listening on http://{local}"
    );
    if let Some(tls_local) = tls_local {
        tracing::info!(
            addr = %tls_local,
            protocols = "h2, http/1.1",
            redirect_http = cfg.redirect_http_to_https,
            "listening on https://{tls_local}"
        );
    }

    let reload_workers = worker_pool
        .clone()
        .map(|p| Box::new(move || p.reload(RestartCause::Reload)) as Box<dyn Fn() + Send>);
    let on_hup = match cfg.config.is_some() {
        true => signals::OnHup::ReloadSites(Arc::clone(&live)),
        false => signals::OnHup::ReloadCertificate(tls.map(|t| (t, Arc::clone(&cfg)))),
    };
    let mut also_on_hup: Vec<Box<dyn Fn() + Send>> = Vec::new();
    if let Some(reopen) = ops.on_sighup() {
        also_on_hup.push(reopen);
    }
    if let Some(acme) = acme {
        // After a reload: the ACME thread looks at the (new) sites at once.
        also_on_hup.push(Box::new(move || acme.wake()));
    }
    let signal_thread = signals::spawn_handler(
        signals,
        Arc::clone(&stop),
        on_hup,
        also_on_hup,
        reload_workers,
    )?;
    if let (Some(list), Some(p)) = (cfg.worker_watch.clone(), worker_pool.clone()) {
        crate::worker_watch::spawn(list, Box::new(move || p.reload(RestartCause::Watch)))?;
    }
    if let (Some(listener), Some(metrics)) = (internal, &ops.metrics) {
        let addr = listener
            .local_addr()
            .map_err(|e| format!("INTERNAL_ADDR: {e}"))?;
        let state = internal_server::InternalState {
            metrics: Arc::clone(metrics),
            pool: pool.clone(),
            worker_pool: worker_pool.clone(),
            stop: Arc::clone(&stop),
            config: internal_server::config_json(&cfg),
            started: Instant::now(),
            response_cache: ops.response_cache.clone(),
        };
        internal_server::spawn(listener, Arc::new(state))?;
        tracing::info!(addr = %addr, "internal server on http://{addr} (/health, /ready, /metrics, /config)");
    }
    // systemd (Type=notify): READY=1 now that everything listens (STOPPING=1 comes from
    // the signal thread).
    let driver = drivers.first().copied().unwrap_or("none");
    sd_notify::ready(&format!(
        "listening on {local}, {} cores, {driver}",
        drivers.len()
    ));

    join_all(threads);
    ops.finish();
    tracing::info!("connections drained; stopping PHP workers");
    // Scripts still running (work after fastcgi_finish_request(), or requests whose
    // connections the drain timeout closed) get what is left of the drain window.
    let mut php = php;
    php.stop_by = stop.triggered_at().map(|t| t + cfg.drain_timeout_secs);
    drop(php);
    drop(signal_thread);
    tracing::info!("stopped");
    Ok(())
}

fn join_all(threads: Vec<std::thread::JoinHandle<()>>) {
    for t in threads {
        let _ = t.join();
    }
}

/// The PHP engine and its workers, stopped in the only safe order when dropped: every
/// PHP thread joined, then the engine shut down (shutting it down under a thread that is
/// still starting crashes in TSRM).
struct PhpRuntime {
    pool: Option<WorkerPool>,
    worker_pool: Option<WorkerPool>,
    engine: Option<Engine>,
    /// When scripts still running at shutdown are stopped (the drain deadline).
    stop_by: Option<Instant>,
}

impl Drop for PhpRuntime {
    fn drop(&mut self) {
        if let Some(pool) = &self.worker_pool {
            pool.shutdown_by(self.stop_by);
        }
        if let Some(pool) = &self.pool {
            pool.shutdown_by(self.stop_by);
        }
        self.engine.take();
    }
}

/// Worker mode's settings when WORKER_SCRIPT is set.
fn worker_script(cfg: &Config) -> Option<WorkerScriptConfig> {
    let script = cfg.worker_script_path()?;
    let root = cfg
        .document_root
        .canonicalize()
        .unwrap_or_else(|_| cfg.document_root.clone());
    // Its URL path when it lies under the document root, else its file name.
    let script_name = match script.strip_prefix(&root) {
        Ok(rel) => format!("/{}", rel.display()),
        Err(_) => format!(
            "/{}",
            script.file_name().unwrap_or_default().to_string_lossy()
        ),
    };
    Some(WorkerScriptConfig {
        script,
        document_root: Arc::from(root.to_string_lossy().as_ref()),
        script_name,
        max_requests: cfg.worker_max_requests,
    })
}

/// Which PHP requests the worker serves (WORKER_MATCH, else its front controllers).
fn worker_route(cfg: &Config) -> WorkerRoute {
    let root = cfg
        .document_root
        .canonicalize()
        .unwrap_or_else(|_| cfg.document_root.clone());
    let mut front: Vec<std::path::PathBuf> = cfg.worker_script_path().into_iter().collect();
    if let Some(index) = &cfg.index_file {
        front.push(root.join(index));
    }
    WorkerRoute::new(cfg.worker_match.clone(), front)
}
