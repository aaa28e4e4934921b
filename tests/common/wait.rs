//! Waiting on observable state (a metric, a file, a log line) instead of sleeping.

use std::time::{Duration, Instant};

/// Polls `cond` until it holds; panics naming `what` after 30 s.
pub fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}
