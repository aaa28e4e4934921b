//! Giving memory that closed connections freed back to the kernel. glibc's malloc keeps
//! what a thread freed in that thread's arena for reuse: after 5,000 idle connections
//! closed, the ~70 MB they held stayed in the server's RSS for good (per-connection
//! read/write buffers and task state, freed in an order that leaves the arenas' tops in
//! use, so malloc never trims them itself). `malloc_trim(0)` releases the free pages of
//! every arena. It walks the heap, so the cores ask for it only after a large drop in
//! their connection count, at most every 10 s, and it runs on a short-lived thread.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// At most one trim per this long, however many cores ask.
const MIN_INTERVAL: Duration = Duration::from_secs(10);

static PENDING: AtomicBool = AtomicBool::new(false);
static RUNNING: AtomicBool = AtomicBool::new(false);

/// Trims the heap soon, on a thread of its own; asks made while a trim is recent are
/// served by one trim when the interval is over.
pub fn trim_soon() {
    PENDING.store(true, Ordering::SeqCst);
    if RUNNING
        .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
        .is_ok()
    {
        let spawned = std::thread::Builder::new()
            .name("heap-trim".into())
            .spawn(trimmer);
        if spawned.is_err() {
            RUNNING.store(false, Ordering::SeqCst);
        }
    }
}

/// Trims while asked to, one trim per interval, then ends.
fn trimmer() {
    loop {
        while PENDING.swap(false, Ordering::SeqCst) {
            trim();
            std::thread::sleep(MIN_INTERVAL);
        }
        RUNNING.store(false, Ordering::SeqCst);
        // An ask that came after the last look and found RUNNING still set.
        if !PENDING.load(Ordering::SeqCst)
            || RUNNING
                .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            return;
        }
    }
}

fn trim() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only walks and madvises glibc's own free lists, under each
    // arena's lock; it is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
