//! Signals are taken synchronously with signalfd on a thread of the server's own, after
//! being blocked everywhere else before any thread started (see docs/php.md on Zend
//! Signals: PHP must never install or steal handlers for these).

use std::sync::Arc;
use std::thread::JoinHandle;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;

use uring_http::tls::TlsAcceptor;

use crate::config::Config;
use crate::sites::live::LiveSites;
use crate::stop_signal::StopSignal;

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

/// What SIGHUP reloads (besides reopening the access log).
pub enum OnHup {
    /// Without a configuration file: the certificate holder (and the configuration, to
    /// name the variables in error lines), if TLS is on.
    ReloadCertificate(Option<(Arc<TlsAcceptor>, Arc<Config>)>),
    /// With one: the file (sites and their certificates).
    ReloadSites(Arc<LiveSites>),
}

/// `on_hup`: what SIGHUP reloads; `also_on_hup`: what else it does, in order after the
/// reload (reopen the access log, wake the ACME thread); `reload_workers`: what SIGUSR1
/// does (worker mode: restart the worker scripts).
pub fn spawn_handler(
    blocked: Blocked,
    stop: Arc<StopSignal>,
    on_hup: OnHup,
    also_on_hup: Vec<Box<dyn Fn() + Send>>,
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
                        match &on_hup {
                            OnHup::ReloadSites(live) => match live.reload() {
                                Ok(what) => {
                                    tracing::info!("SIGHUP: configuration reloaded: {what}")
                                }
                                Err(e) => tracing::error!(
                                    "SIGHUP: configuration not reloaded, keeping the running one: {e}"
                                ),
                            },
                            OnHup::ReloadCertificate(None) if also_on_hup.is_empty() => {
                                tracing::info!("SIGHUP: nothing to reload")
                            }
                            OnHup::ReloadCertificate(None) => {}
                            // New handshakes use the new certificate; open connections
                            // keep theirs.
                            OnHup::ReloadCertificate(Some((acceptor, cfg))) => {
                                match acceptor.reload() {
                                    Ok(()) => tracing::info!("SIGHUP: TLS certificate reloaded"),
                                    Err(e) => tracing::error!(
                                        "SIGHUP: TLS certificate not reloaded, keeping the old one: {}",
                                        cfg.tls_error_line(&e)
                                    ),
                                }
                            }
                        }
                        for hook in &also_on_hup {
                            hook();
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
