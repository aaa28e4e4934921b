//! The server's request numbers (`uring_request_id()`, `$_SERVER['URING_REQUEST_ID']`,
//! the access log's `request_id` without trace context): the service takes one per
//! client request, the response cache one per background refresh it starts.

use std::sync::atomic::{AtomicU64, Ordering};

static NEXT: AtomicU64 = AtomicU64::new(1);

/// A number no other request of this process has had; later requests get larger ones
/// (one counter for every core, so the order holds across cores too).
pub fn next() -> u64 {
    NEXT.fetch_add(1, Ordering::Relaxed)
}
