//! The PHP engine: started once per process, before any PHP thread, and stopped after
//! the last one ended.

use std::ffi::CString;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};

use super::ffi;
use super::ini::IniConfig;

static STARTED: AtomicBool = AtomicBool::new(false);

/// Owns the started engine; dropping it shuts PHP down (after every PHP thread ended).
pub struct Engine {
    _private: (),
}

impl Engine {
    /// Starts PHP. Fails if it is already started in this process (PHP's module startup
    /// is once per process) or if PHP refuses its configuration.
    pub fn start(ini: &IniConfig) -> io::Result<Engine> {
        if STARTED.swap(true, Ordering::SeqCst) {
            return Err(io::Error::other(
                "the PHP engine is already started in this process",
            ));
        }
        super::interrupt::install()?;
        let defaults = cstring(IniConfig::defaults_text())?;
        let overrides = cstring(ini.overrides_text())?;
        let path = match &ini.file {
            Some(p) => {
                if !p.is_file() {
                    STARTED.store(false, Ordering::SeqCst);
                    return Err(io::Error::other(format!(
                        "php.ini file {} is not a readable file",
                        p.display()
                    )));
                }
                Some(cstring(p.to_string_lossy().into_owned())?)
            }
            None => None,
        };
        // SAFETY: called once per process (guarded by STARTED) on a thread that outlives
        // the engine, before any PHP thread exists; the strings are copied by C.
        let rc = unsafe {
            ffi::uring_engine_start(
                defaults.as_ptr(),
                path.as_ref().map_or(std::ptr::null(), |p| p.as_ptr()),
                overrides.as_ptr(),
            )
        };
        if rc != 0 {
            STARTED.store(false, Ordering::SeqCst);
            return Err(io::Error::other(
                "PHP module startup failed (see the log above)",
            ));
        }
        // SAFETY: the engine is started; reading an ini value has no other precondition.
        let force = unsafe { ffi::uring_opcache_force_restart_timeout() };
        super::opcache_restart::configure(force.max(0) as u64);
        if !super::opcache_restart::hooks_available() {
            tracing::warn!(
                "this PHP build lacks scripts/php-patches/<version>/0003: an OPcache restart \
                 (opcache_reset(), a full cache) while scripts run can crash the server"
            );
        }
        Ok(Engine { _private: () })
    }

    pub fn php_version() -> &'static str {
        env!("URING_PHP_VERSION")
    }

    /// How that PHP was built (flavour, source, patches; scripts/build-php.sh's
    /// `build-info`), one line.
    pub fn php_build() -> &'static str {
        env!("URING_PHP_BUILD")
    }
}

impl Drop for Engine {
    fn drop(&mut self) {
        // SAFETY: the engine was started by this value, and the owner stops all PHP
        // threads (WorkerPool::shutdown) before dropping it.
        unsafe { ffi::uring_engine_stop() };
    }
}

fn cstring(s: String) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::other("NUL byte in a php.ini setting"))
}
