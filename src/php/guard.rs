//! PHP calls into Rust through `extern "C"` callbacks; a panic unwinding out of one
//! would abort the process (Rust >= 1.81), so every callback body runs in [`guarded`].

use std::panic::{catch_unwind, AssertUnwindSafe};

/// Runs a callback's body; a panic becomes `fallback` and an error log line.
pub(crate) fn guarded<T>(callback: &'static str, fallback: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(v) => v,
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            tracing::error!(callback, panic = %what, "panic in a PHP callback; answering PHP safely");
            fallback
        }
    }
}
