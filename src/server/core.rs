//! A core thread: pinned, one monoio runtime, its own listener, connections served to
//! completion on this thread, and a reaper for the PHP completions it is owed.

use std::cell::Cell;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use uring_http::h1::{serve_h1, ConnInfo, H1Config};
use uring_http::Shutdown;

use super::stop_signal::StopSignal;
use super::runtime;
use crate::config::{Config, Executor};
use crate::php::completion::Completions;
use crate::php::WorkerPool;
use crate::php_handler::{PhpHandler, PhpSettings};
use crate::router::Router;
use crate::service::{self, AppService};
use crate::static_files::StaticFiles;

/// What every core shares (read-only).
pub struct Shared {
    pub cfg: Arc<Config>,
    pub h1: H1Config,
    pub pool: Option<WorkerPool>,
    pub php: Arc<PhpSettings>,
    pub stop: Arc<StopSignal>,
    pub drain_timeout: Duration,
}

/// Counts a core's open connections, for draining at shutdown.
struct Live(Rc<Cell<usize>>);

impl Live {
    fn enter(c: &Rc<Cell<usize>>) -> Live {
        c.set(c.get() + 1);
        Live(Rc::clone(c))
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        self.0.set(self.0.get() - 1);
    }
}

/// Runs core `index` on `cpu` until the stop signal, then drains. Reports the driver
/// it got (or why it could not start) through `ready`.
pub fn run(index: usize, cpu: usize, listener: std::net::TcpListener, shared: Arc<Shared>, ready: mpsc::Sender<Result<&'static str, String>>) {
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
        let router = match Router::new(&shared.cfg.document_root, shared.cfg.index_file.clone()) {
            Ok(r) => Rc::new(r),
            Err(e) => {
                let _ = ready.send(Err(format!("DOCUMENT_ROOT={}: {e}", shared.cfg.document_root.display())));
                return;
            }
        };
        let completions = Completions::new();
        monoio::spawn(Rc::clone(&completions).reap());
        let executor = match (&shared.pool, shared.cfg.executor()) {
            (Some(pool), Executor::Php) => {
                service::Executor::Php(PhpHandler::new(pool.clone(), completions, Arc::clone(&shared.php), driver, index))
            }
            _ => service::Executor::Stub,
        };
        let service = Rc::new(AppService { router, static_files: StaticFiles::new(None), executor });
        let h1 = Rc::new(shared.h1.clone());
        let shutdown = Shutdown::new();
        let live = Rc::new(Cell::new(0usize));
        let _ = ready.send(Ok(driver));

        loop {
            monoio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        let _ = stream.set_nodelay(true);
                        let local = stream.local_addr().unwrap_or(peer);
                        let info = ConnInfo { remote_addr: peer, local_addr: local, tls: false };
                        let (service, h1, shutdown, guard) =
                            (Rc::clone(&service), Rc::clone(&h1), shutdown.clone(), Live::enter(&live));
                        monoio::spawn(async move {
                            let _guard = guard;
                            if let Err(e) = serve_h1(stream, BytesMut::new(), &*service, &h1, info, &shutdown).await {
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
                _ = shared.stop.wait() => break,
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
    });
}
