//! Signals are taken synchronously with signalfd on a thread of the server's own, after
//! being blocked everywhere else before any thread started (see DESIGN.md on Zend
//! Signals: PHP must never install or steal handlers for these).

use std::sync::Arc;
use std::thread::JoinHandle;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;

use uring_http::tls::TlsAcceptor;

use super::stop_signal::StopSignal;
use crate::config::Config;

pub struct Blocked(SigSet);

/// Blocks SIGTERM, SIGINT, SIGHUP, SIGQUIT and SIGUSR1 on this (the main) thread; threads
/// started afterwards inherit the mask.
pub fn block() -> Result<Blocked, String> {
    let mut set = SigSet::empty();
    for s in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGQUIT,
        Signal::SIGUSR1,
    ] {
        set.add(s);
    }
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| format!("blocking signals: {e}"))?;
    Ok(Blocked(set))
}

/// `tls`: the certificate holder SIGHUP reloads (and the configuration, to name the
/// variables in error lines); `reopen_log`: what SIGHUP also does to the access log;
/// `reload_workers`: what SIGUSR1 does (worker mode: restart the worker scripts).
pub fn spawn_handler(
    blocked: Blocked,
    stop: Arc<StopSignal>,
    tls: Option<(Arc<TlsAcceptor>, Arc<Config>)>,
    reopen_log: Option<Box<dyn Fn() + Send>>,
    reload_workers: Option<Box<dyn Fn() + Send>>,
) -> Result<JoinHandle<()>, String> {
    let fd = SignalFd::new(&blocked.0).map_err(|e| format!("signalfd: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            match fd.read_signal() {
                Ok(Some(info)) => match Signal::try_from(info.ssi_signo as i32) {
                    Ok(Signal::SIGTERM) | Ok(Signal::SIGINT) | Ok(Signal::SIGQUIT) => {
                        if stop.is_triggered() {
                            tracing::warn!("second stop signal: exiting now");
                            std::process::exit(1);
                        }
                        tracing::info!(
                            signal = info.ssi_signo,
                            "stop signal: draining connections"
                        );
                        // Synchronously, before anything else: a server with nothing to
                        // drain exits within milliseconds of the trigger.
                        super::sd_notify::stopping("draining connections");
                        stop.trigger();
                    }
                    Ok(Signal::SIGHUP) => {
                        if let Some(reopen) = &reopen_log {
                            reopen();
                        }
                        match &tls {
                            None if reopen_log.is_none() => {
                                tracing::info!("SIGHUP: nothing to reload")
                            }
                            None => {}
                            // New handshakes use the new certificate; open connections
                            // keep theirs.
                            Some((acceptor, cfg)) => match acceptor.reload() {
                                Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                                Err(e) => tracing::error!(
                                    "SIGHUP: TLS certificate not reloaded, keeping the old one: {}",
                                    cfg.tls_error_line(&e)
                                ),
                            },
                        }
                    }
                    Ok(Signal::SIGUSR1) => match &reload_workers {
                        Some(reload) => {
                            tracing::info!("SIGUSR1: restarting the worker scripts gracefully");
                            reload();
                        }
                        None => tracing::info!("SIGUSR1: no worker scripts to restart"),
                    },
                    _ => {}
                },
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(error = %e, "reading signals");
                    return;
                }
            }
        })
        .map_err(|e| format!("starting the signal thread: {e}"))
}
