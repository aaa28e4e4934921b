//! One bound, for the whole server, on the memory that spilled PHP output holds in
//! memfds while clients read it (SPILL_MEMORY_LIMIT). memfd pages are shared memory:
//! they do not show in the process's RSS but count against its cgroup, and each client
//! that reads slowly keeps a whole response there for as long as it takes.
//!
//! Workers reserve room as they write output past the spill threshold; past the limit
//! they wait a moment for room, then the response is refused (503) — unless nothing
//! else is held, so a single response larger than the limit still goes out. Waiting
//! longer would let clients that read nothing park every PHP worker, and small
//! responses (which never spill) would starve behind them. Room comes back when the core
//! has sent (or dropped) the response: the [`SpillLease`] travels with the body.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

pub struct SpillBudget {
    limit: u64,
    held: AtomicU64,
    /// Reservations that had to wait for room, and responses refused for want of it.
    waits: AtomicU64,
    refused: AtomicU64,
    sleepers: AtomicUsize,
    lock: Mutex<()>,
    room: Condvar,
}

impl std::fmt::Debug for SpillBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpillBudget")
            .field("limit", &self.limit)
            .field("held", &self.held())
            .finish()
    }
}

impl SpillBudget {
    pub fn new(limit: u64) -> Arc<SpillBudget> {
        Arc::new(SpillBudget {
            limit,
            held: AtomicU64::new(0),
            waits: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            sleepers: AtomicUsize::new(0),
            lock: Mutex::new(()),
            room: Condvar::new(),
        })
    }

    pub fn limit(&self) -> u64 {
        self.limit
    }

    /// Bytes held in memfds now.
    pub fn held(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }

    pub fn waits(&self) -> u64 {
        self.waits.load(Ordering::Relaxed)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    pub(crate) fn note_refused(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
    }

    /// Takes `n` more bytes for a response that already holds `mine`, waiting while the
    /// others hold too much; false (nothing taken) once `give_up` says so.
    pub(crate) fn reserve(&self, n: u64, mine: u64, give_up: impl Fn() -> bool) -> bool {
        let mut waited = false;
        loop {
            if self.try_take(n, mine) {
                return true;
            }
            if !waited {
                waited = true;
                self.waits.fetch_add(1, Ordering::Relaxed);
            }
            if give_up() {
                return false;
            }
            let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.sleepers.fetch_add(1, Ordering::SeqCst);
            if !self.fits(n, mine) {
                // Bounded, so that `give_up` is asked again now and then.
                let _ = self.room.wait_timeout(guard, Duration::from_millis(100));
            }
            self.sleepers.fetch_sub(1, Ordering::SeqCst);
        }
    }

    fn fits(&self, n: u64, mine: u64) -> bool {
        let held = self.held.load(Ordering::SeqCst);
        held + n <= self.limit || held <= mine
    }

    fn try_take(&self, n: u64, mine: u64) -> bool {
        let mut held = self.held.load(Ordering::SeqCst);
        loop {
            if held + n > self.limit && held > mine {
                return false;
            }
            match self.held.compare_exchange_weak(
                held,
                held + n,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return true,
                Err(now) => held = now,
            }
        }
    }

    pub(crate) fn release(&self, n: u64) {
        if n == 0 {
            return;
        }
        self.held.fetch_sub(n, Ordering::SeqCst);
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.room.notify_all();
        }
    }
}

/// Room held in the budget; given back when dropped (with the response body it rides on).
pub struct SpillLease {
    budget: Arc<SpillBudget>,
    bytes: u64,
}

impl SpillLease {
    pub(crate) fn new(budget: Arc<SpillBudget>) -> SpillLease {
        SpillLease { budget, bytes: 0 }
    }

    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Reserves `n` more bytes (see [`SpillBudget::reserve`]).
    pub(crate) fn grow(&mut self, n: u64, give_up: impl Fn() -> bool) -> bool {
        if self.budget.reserve(n, self.bytes, give_up) {
            self.bytes += n;
            true
        } else {
            false
        }
    }
}

impl std::fmt::Debug for SpillLease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SpillLease({} bytes)", self.bytes)
    }
}

impl Drop for SpillLease {
    fn drop(&mut self) {
        self.budget.release(self.bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_waits_for_room_until_another_is_released() {
        let budget = SpillBudget::new(100);
        let mut a = SpillLease::new(Arc::clone(&budget));
        assert!(a.grow(80, || false));
        // Alone, a response may outgrow the limit.
        assert!(a.grow(80, || false));
        assert_eq!(budget.held(), 160);
        let mut b = SpillLease::new(Arc::clone(&budget));
        // Someone else holds too much: a request that is given up gets nothing.
        assert!(!b.grow(10, || true));
        assert_eq!(budget.held(), 160);
        let waiter = {
            let budget = Arc::clone(&budget);
            std::thread::spawn(move || {
                let mut b = SpillLease::new(budget);
                assert!(b.grow(50, || false));
                b.bytes()
            })
        };
        while budget.waits() < 2 {
            std::thread::yield_now();
        }
        drop(a);
        assert_eq!(waiter.join().unwrap(), 50);
        assert_eq!(budget.held(), 0);
    }
}
