//! A core's monoio runtime: io_uring with the ring flags that matter here, epoll where
//! io_uring is unavailable, and a log line saying which one the core got and why.

use std::future::Future;
use std::io;

use monoio::time::TimeDriver;
use monoio::{IoUringDriver, LegacyDriver, Runtime, RuntimeBuilder};

use crate::config::Driver;

pub enum CoreRuntime {
    Uring(Runtime<TimeDriver<IoUringDriver>>),
    Legacy(Runtime<TimeDriver<LegacyDriver>>),
}

impl CoreRuntime {
    pub fn driver_name(&self) -> &'static str {
        match self {
            CoreRuntime::Uring(_) => "io_uring",
            CoreRuntime::Legacy(_) => "epoll",
        }
    }

    pub fn block_on<F: Future>(&mut self, f: F) -> F::Output {
        match self {
            CoreRuntime::Uring(rt) => rt.block_on(f),
            CoreRuntime::Legacy(rt) => rt.block_on(f),
        }
    }
}

const ENTRIES: u32 = 1024;

/// Ring setups, best first: SINGLE_ISSUER + DEFER_TASKRUN (kernel ≥ 6.1), then
/// COOP_TASKRUN (≥ 5.19), then the default. Measured: the default ring costs ~1.5× the
/// CPU per request of the tuned ones (docs/performance.md).
fn uring_attempts() -> Vec<(&'static str, io_uring::Builder)> {
    let mut defer = io_uring::IoUring::builder();
    defer.setup_single_issuer().setup_defer_taskrun();
    let mut coop = io_uring::IoUring::builder();
    coop.setup_coop_taskrun();
    vec![
        ("single_issuer+defer_taskrun", defer),
        ("coop_taskrun", coop),
        ("default", io_uring::IoUring::builder()),
    ]
}

fn explain(e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) => "io_uring is not permitted here (seccomp profile, e.g. Docker's default, or kernel.io_uring_disabled)".into(),
        Some(libc::ENOSYS) => "this kernel has no io_uring".into(),
        Some(libc::ENOMEM) => "not enough locked memory for the ring (raise RLIMIT_MEMLOCK: ulimit -l, LimitMEMLOCK= in systemd)".into(),
        _ => e.to_string(),
    }
}

/// Builds the runtime for one core. `core` is only used in log lines.
pub fn build(driver: Driver, core: usize) -> io::Result<CoreRuntime> {
    if driver != Driver::Epoll {
        let mut last = None;
        for (name, b) in uring_attempts() {
            match RuntimeBuilder::<IoUringDriver>::new()
                .with_entries(ENTRIES)
                .uring_builder(b)
                .enable_timer()
                .build()
            {
                Ok(rt) => {
                    tracing::info!(
                        core,
                        driver = "io_uring",
                        setup = name,
                        "core runtime started"
                    );
                    return Ok(CoreRuntime::Uring(rt));
                }
                Err(e) => {
                    let retry_with_fewer_flags = e.raw_os_error() == Some(libc::EINVAL);
                    last = Some(e);
                    if !retry_with_fewer_flags {
                        break;
                    }
                }
            }
        }
        let e = last.unwrap_or_else(|| io::Error::other("io_uring setup failed"));
        if driver == Driver::IoUring {
            return Err(io::Error::new(
                e.kind(),
                format!(
                    "IO_DRIVER=io-uring but io_uring is unavailable: {}",
                    explain(&e)
                ),
            ));
        }
        tracing::warn!(core, driver = "epoll", reason = %explain(&e), "io_uring unavailable; using epoll");
    }
    let rt = RuntimeBuilder::<LegacyDriver>::new()
        .enable_timer()
        .build()?;
    if driver == Driver::Epoll {
        tracing::info!(
            core,
            driver = "epoll",
            "core runtime started (IO_DRIVER=epoll)"
        );
    }
    Ok(CoreRuntime::Legacy(rt))
}
