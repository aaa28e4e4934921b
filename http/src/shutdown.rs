//! A per-core graceful-shutdown signal.
//!
//! Each core thread owns one; its connections wait on it while idle. It is `Rc`-based
//! (not `Send`) because a connection never leaves its core.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

/// A cloneable, single-thread shutdown signal: once triggered it stays triggered.
#[derive(Clone, Default)]
pub struct Shutdown {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    triggered: Cell<bool>,
    waiters: RefCell<Waiters>,
}

/// Registered wakers. Slots are reused so that a connection waiting on the signal once
/// per request does not grow the list over the life of the server.
#[derive(Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl Waiters {
    fn insert(&mut self, waker: Waker) -> usize {
        match self.free.pop() {
            Some(key) => {
                self.slots[key] = Some(waker);
                key
            }
            None => {
                self.slots.push(Some(waker));
                self.slots.len() - 1
            }
        }
    }

    fn remove(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key) {
            if slot.take().is_some() {
                self.free.push(key);
            }
        }
    }
}

impl Shutdown {
    /// A signal that has not been triggered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Triggers the signal and wakes every waiter. Triggering twice is harmless.
    pub fn trigger(&self) {
        if self.inner.triggered.replace(true) {
            return;
        }
        // Take the wakers out before waking: a woken task may be polled re-entrantly by a
        // driver that runs tasks inline, and it would then need the list.
        let wakers: Vec<Waker> = {
            let mut waiters = self.inner.waiters.borrow_mut();
            waiters.free.clear();
            waiters.slots.drain(..).flatten().collect()
        };
        for waker in wakers {
            waker.wake();
        }
    }

    /// Whether [`trigger`](Self::trigger) was called.
    pub fn is_triggered(&self) -> bool {
        self.inner.triggered.get()
    }

    /// Completes once the signal is triggered (at once if it already was).
    pub async fn triggered(&self) {
        let mut registration = Registration {
            inner: &self.inner,
            key: None,
        };
        poll_fn(|cx| {
            if registration.inner.triggered.get() {
                return Poll::Ready(());
            }
            let mut waiters = registration.inner.waiters.borrow_mut();
            match registration.key {
                Some(key) => match &mut waiters.slots[key] {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    slot => *slot = Some(cx.waker().clone()),
                },
                None => registration.key = Some(waiters.insert(cx.waker().clone())),
            }
            Poll::Pending
        })
        .await
    }
}

/// Removes a waiter's slot when its future is dropped before the signal fired.
struct Registration<'a> {
    inner: &'a Inner,
    key: Option<usize>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        if let Some(key) = self.key {
            if !self.inner.triggered.get() {
                self.inner.waiters.borrow_mut().remove(key);
            }
        }
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown")
            .field("triggered", &self.is_triggered())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Context, Wake};

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn wakes_every_waiter_once_triggered() {
        let s = Shutdown::new();
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let clone = s.clone();
        let mut a = pin!(s.triggered());
        let mut b = pin!(clone.triggered());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        assert!(!s.is_triggered());
        clone.trigger();
        assert!(s.is_triggered());
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert!(b.as_mut().poll(&mut cx).is_ready());
        // Already triggered: ready on first poll.
        assert!(pin!(s.triggered()).poll(&mut cx).is_ready());
        s.trigger();
    }

    #[test]
    fn dropped_waiters_free_their_slot() {
        let s = Shutdown::new();
        let waker = Waker::from(Arc::new(CountWake(AtomicUsize::new(0))));
        let mut cx = Context::from_waker(&waker);
        for _ in 0..100 {
            let mut f = pin!(s.triggered());
            assert!(f.as_mut().poll(&mut cx).is_pending());
            // Re-polling keeps one slot.
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(s.inner.waiters.borrow().slots.len(), 1);
    }
}
