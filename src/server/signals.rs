//! Signals are taken synchronously with signalfd on a thread of the server's own, after
//! being blocked everywhere else before any thread started (see DESIGN.md on Zend
//! Signals: PHP must never install or steal handlers for these).

use std::sync::Arc;
use std::thread::JoinHandle;

use nix::sys::signal::{SigSet, SigmaskHow, Signal};
use nix::sys::signalfd::SignalFd;

use super::stop_signal::StopSignal;

pub struct Blocked(SigSet);

/// Blocks SIGTERM, SIGINT, SIGHUP and SIGQUIT on this (the main) thread; threads
/// started afterwards inherit the mask.
pub fn block() -> Result<Blocked, String> {
    let mut set = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP, Signal::SIGQUIT] {
        set.add(s);
    }
    nix::sys::signal::pthread_sigmask(SigmaskHow::SIG_BLOCK, Some(&set), None)
        .map_err(|e| format!("blocking signals: {e}"))?;
    Ok(Blocked(set))
}

pub fn spawn_handler(blocked: Blocked, stop: Arc<StopSignal>) -> Result<JoinHandle<()>, String> {
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
                        tracing::info!(signal = info.ssi_signo, "stop signal: draining connections");
                        stop.trigger();
                    }
                    Ok(Signal::SIGHUP) => tracing::info!("SIGHUP: nothing to reload"),
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
