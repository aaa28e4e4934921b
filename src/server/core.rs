//! A core thread: pinned, one monoio runtime, its own listener, connections served to
//! completion on this thread, and a reaper for the PHP completions it is owed.

use std::cell::{Cell, RefCell};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use uring_http::h1::H1Config;
use uring_http::h2::H2Config;
use uring_http::redirect::HttpsRedirect;
use uring_http::tls::TlsAcceptor;
use uring_http::ConnInfo;
use uring_http::{serve_conn, serve_tls, ConnConfig, Shutdown};

use super::runtime;
use crate::config::{Config, Executor};
use crate::metrics_registry::ConnProto;
use crate::php::completion::Completions;
use crate::php::WorkerPool;
use crate::php_handler::{PhpHandler, PhpSettings};
use crate::service::{self, AppService};
use crate::sites::core_sites::CoreSites;
use crate::stop_signal::StopSignal;

/// What every core shares (read-only).
pub struct Shared {
    pub cfg: Arc<Config>,
    pub h1: H1Config,
    pub h2: H2Config,
    /// The certificate holder when TLS is on (each core has its own TLS listener).
    pub tls: Option<Arc<TlsAcceptor>>,
    /// REDIRECT_HTTP_TO_HTTPS: the plain listener redirects everything to this TLS port.
    pub redirect_to_https: Option<u16>,
    pub pool: Option<WorkerPool>,
    /// Worker mode: its threads and which PHP requests they serve.
    pub worker: Option<(WorkerPool, crate::worker_match::WorkerRoute)>,
    pub php: Arc<PhpSettings>,
    pub stop: Arc<StopSignal>,
    pub drain_timeout: Duration,
    /// Middleware state and metrics (src/middleware/).
    pub ops: Arc<crate::middleware::Operations>,
    /// The sites in force (src/sites/).
    pub sites: Arc<crate::sites::live::LiveSites>,
    /// ACME HTTP-01 answers, when automatic HTTPS is on (src/acme/).
    pub acme_http: Option<Arc<crate::acme::HttpChallenges>>,
}

/// A core's open connections, for draining at shutdown, and their peak since the heap
/// was last trimmed.
#[derive(Default)]
struct Conns {
    open: Cell<usize>,
    peak: Cell<usize>,
}

impl Conns {
    fn get(&self) -> usize {
        self.open.get()
    }
}

/// Connections whose closing lets the heap be trimmed: what they held stays in the
/// allocator's arenas otherwise (see `crate::php::heap`).
const TRIM_AFTER_CLOSED: usize = 1024;

/// One open connection.
struct Live(Rc<Conns>);

impl Live {
    fn enter(c: &Rc<Conns>) -> Live {
        let open = c.open.get() + 1;
        c.open.set(open);
        c.peak.set(c.peak.get().max(open));
        Live(Rc::clone(c))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let open = self.0.open.get() - 1;
        self.0.open.set(open);
        if self.0.peak.get() - open >= TRIM_AFTER_CLOSED {
            self.0.peak.set(open);
            crate::php::heap::trim_soon();
        }
    }
}

/// Runs core `index` on `cpu` until the stop signal, then drains. Reports the driver
/// it got (or why it could not start) through `ready`. `tls_listener` is this core's
/// TLS listener when TLS is on.
pub fn run(
    index: usize,
    cpu: usize,
    listener: std::net::TcpListener,
    tls_listener: Option<std::net::TcpListener>,
    shared: Arc<Shared>,
    ready: mpsc::Sender<Result<&'static str, String>>,
) {
    if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
        tracing::warn!(core = index, cpu, "could not pin core thread");
    }
    let mut rt = match runtime::build(shared.cfg.io_driver, index) {
        Ok(rt) => rt,
        Err(e) => {
            let _ = ready.send(Err(e.to_string()));
            return;
        }
    };
    let driver = rt.driver_name();
    rt.block_on(async move {
        let listener = match monoio::net::TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                let _ = ready.send(Err(format!("core {index}: listener: {e}")));
                return;
            }
        };
        let tls_listener = match (tls_listener.map(monoio::net::TcpListener::from_std), &shared.tls) {
            (Some(Ok(l)), Some(tls)) => Some((l, Arc::clone(tls))),
            (Some(Err(e)), _) => {
                let _ = ready.send(Err(format!("core {index}: TLS listener: {e}")));
                return;
            }
            _ => None,
        };
        let (generation, state) = shared.sites.current();
        let sites = match CoreSites::build(generation, state) {
            Ok(s) => s,
            Err(e) => {
                let _ = ready.send(Err(e));
                return;
            }
        };
        let completions = Completions::new();
        monoio::spawn(Rc::clone(&completions).reap());
        let executor = match (&shared.pool, shared.cfg.executor()) {
            (Some(pool), Executor::Php) => {
                let mut php = PhpHandler::new(pool.clone(), completions, Arc::clone(&shared.php), driver, index);
                if let Some((worker_pool, route)) = &shared.worker {
                    php = php.with_worker(worker_pool.clone(), route.clone(), index);
                }
                service::ScriptBackend::Php(Rc::new(php))
            }
            _ => service::ScriptBackend::Stub,
        };
        let chain = shared.ops.chain_for_core(index);
        let redirect_plain = shared.redirect_to_https.map(|https_port| HttpsRedirect { https_port });
        // Open connections per core and listener, for /metrics (None when metrics are off).
        let conn_metrics = shared.ops.core_metrics(index);
        let service = Rc::new(AppService {
            sites: RefCell::new(sites),
            live: Arc::clone(&shared.sites),
            acme_http: shared.acme_http.clone(),
            executor,
            chain,
            redirect_plain,
            conn_metrics: conn_metrics.clone(),
            response_cache: shared.ops.response_cache_for_core(index),
        });
        let conn_cfg = Rc::new(ConnConfig { h1: shared.h1.clone(), h2: shared.h2.clone() });
        let shutdown = Shutdown::new();
        let live = Rc::new(Conns::default());
        if let Some((tls_listener, tls)) = tls_listener {
            let (service, conn_cfg, shutdown, live, shared) =
                (Rc::clone(&service), Rc::clone(&conn_cfg), shutdown.clone(), Rc::clone(&live), Arc::clone(&shared));
            let conn_metrics = conn_metrics.clone();
            monoio::spawn(async move {
                // One wait for the whole loop: the stop signal's registration is not
                // redone for every accepted connection.
                let mut stopped = std::pin::pin!(shared.stop.wait());
                loop {
                    monoio::select! {
                        accepted = tls_listener.accept() => match accepted {
                            Ok((stream, peer)) => {
                                let _ = stream.set_nodelay(true);
                                let local = stream.local_addr().unwrap_or(peer);
                                let info = ConnInfo { remote_addr: peer, local_addr: local, tls: true, fd: Some(stream.as_raw_fd()) };
                                let (service, conn_cfg, shutdown, tls, guard) =
                                    (Rc::clone(&service), Rc::clone(&conn_cfg), shutdown.clone(), Arc::clone(&tls), Live::enter(&live));
                                let counted = conn_metrics.as_ref().map(|m| m.conn_guard(ConnProto::Tls));
                                monoio::spawn(async move {
                                    let _guard = (guard, counted);
                                    if let Err(e) = serve_tls(stream, &tls, &*service, &conn_cfg, info, &shutdown).await {
                                        tracing::debug!(error = %e, %peer, "TLS connection ended with an error");
                                    }
                                });
                            }
                            Err(e) => {
                                tracing::warn!(core = index, error = %e, "TLS accept failed");
                                monoio::time::sleep(Duration::from_millis(50)).await;
                            }
                        },
                        _ = &mut stopped => break,
                    }
                }
            });
        }
        let _ = ready.send(Ok(driver));

        let mut stopped = std::pin::pin!(shared.stop.wait());
        loop {
            monoio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let local = stream.local_addr().unwrap_or(peer);
                        let info = ConnInfo { remote_addr: peer, local_addr: local, tls: false, fd: Some(stream.as_raw_fd()) };
                        let (service, conn_cfg, shutdown, guard) =
                            (Rc::clone(&service), Rc::clone(&conn_cfg), shutdown.clone(), Live::enter(&live));
                        let counted = conn_metrics.as_ref().map(|m| m.conn_guard(ConnProto::Http));
                        monoio::spawn(async move {
                            let _guard = (guard, counted);
                            // HTTP/1.1, or HTTP/2 by prior knowledge (h2c).
                            if let Err(e) = serve_conn(stream, &*service, &conn_cfg, info, &shutdown).await {
                                tracing::debug!(error = %e, %peer, "connection ended with an error");
                            }
                        });
                    }
                    Err(e) => {
                        // EMFILE and friends: back off instead of spinning on accept.
                        tracing::warn!(core = index, error = %e, "accept failed");
                        monoio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = &mut stopped => break,
            }
        }
        drop(listener);
        shutdown.trigger();
        let deadline = Instant::now() + shared.drain_timeout;
        while live.get() > 0 && Instant::now() < deadline {
            monoio::time::sleep(Duration::from_millis(20)).await;
        }
        if live.get() > 0 {
            tracing::warn!(core = index, open = live.get(), "drain timeout: closing remaining connections");
        }
        service.finish();
    });
}
