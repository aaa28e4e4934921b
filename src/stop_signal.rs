//! A one-shot, cross-thread "stop" for the cores: set by the signal thread, awaited by a
//! task on each core (the wake goes through monoio's eventfd, so idle cores sleep).
//!
//! A core's accept loop polls `wait()` again for every connection it accepts, so the
//! cost of a registration must not grow with the number of accepts: each waiting
//! future owns one slot in the waker list, reuses it while it is polled, and frees it
//! when it is dropped (the list is as long as the number of futures waiting now, one
//! per listener).

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Poll, Waker};
use std::time::Instant;

#[derive(Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    waiters: Mutex<Waiters>,
    /// When the first trigger came: the drain timeout counts from here.
    at: OnceLock<Instant>,
}

/// Registered wakers; slots of dropped futures are reused.
#[derive(Default)]
struct Waiters {
    slots: Vec<Option<Waker>>,
    free: Vec<usize>,
}

impl StopSignal {
    pub fn trigger(&self) {
        let _ = self.at.set(Instant::now());
        self.stopped.store(true, Ordering::SeqCst);
        let wakers: Vec<Waker> = {
            let mut w = self.lock();
            w.free.clear();
            w.slots.drain(..).flatten().collect()
        };
        for w in wakers {
            w.wake();
        }
    }

    /// When the stop was triggered, if it was.
    pub fn triggered_at(&self) -> Option<Instant> {
        self.at.get().copied()
    }

    pub fn is_triggered(&self) -> bool {
        self.stopped.load(Ordering::SeqCst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Slots in the waker list (free ones included): bounded by how many futures ever
    /// waited at the same time, however often they were polled or re-created.
    #[cfg(test)]
    fn registrations(&self) -> usize {
        self.lock().slots.len()
    }

    pub async fn wait(&self) {
        let mut registration = Registration {
            signal: self,
            key: None,
        };
        poll_fn(|cx| {
            if self.is_triggered() {
                return Poll::Ready(());
            }
            {
                let mut w = self.lock();
                match registration.key {
                    Some(key) => match w.slots.get_mut(key) {
                        Some(Some(old)) if old.will_wake(cx.waker()) => {}
                        Some(slot) => *slot = Some(cx.waker().clone()),
                        // Cleared by a trigger that raced with this poll.
                        None => {}
                    },
                    None => {
                        let waker = Some(cx.waker().clone());
                        let key = match w.free.pop() {
                            Some(key) => {
                                w.slots[key] = waker;
                                key
                            }
                            None => {
                                w.slots.push(waker);
                                w.slots.len() - 1
                            }
                        };
                        registration.key = Some(key);
                    }
                }
            }
            if self.is_triggered() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}

/// Frees a waiting future's slot when it is dropped (as `select!` drops the losing
/// branch after every accept).
struct Registration<'a> {
    signal: &'a StopSignal,
    key: Option<usize>,
}

impl Drop for Registration<'_> {
    fn drop(&mut self) {
        let Some(key) = self.key else { return };
        let mut w = self.signal.lock();
        if let Some(slot) = w.slots.get_mut(key) {
            if slot.take().is_some() {
                w.free.push(key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::task::{Context, Wake};

    struct CountWake(AtomicUsize);
    impl Wake for CountWake {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The accept loop's shape: `select!` on accept and `wait()`, the wait future dropped
    /// and made anew after every accept, each time with a waker that `will_wake` does not
    /// recognise (as monoio's task wakers are not).
    #[test]
    fn accepts_do_not_grow_the_waker_list() {
        let stop = StopSignal::default();
        let counter = Arc::new(CountWake(AtomicUsize::new(0)));
        for _ in 0..10_000 {
            let waker = Waker::from(Arc::new(CountWake(AtomicUsize::new(0))));
            let mut cx = Context::from_waker(&waker);
            let mut f = pin!(stop.wait());
            assert!(f.as_mut().poll(&mut cx).is_pending());
            assert!(f.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(stop.registrations(), 1);

        // Two listeners waiting at once (plain and TLS), both woken by the trigger.
        let waker = Waker::from(counter.clone());
        let mut cx = Context::from_waker(&waker);
        let mut a = pin!(stop.wait());
        let mut b = pin!(stop.wait());
        assert!(a.as_mut().poll(&mut cx).is_pending());
        assert!(b.as_mut().poll(&mut cx).is_pending());
        assert_eq!(stop.registrations(), 2);
        stop.trigger();
        assert_eq!(counter.0.load(Ordering::SeqCst), 2);
        assert!(a.as_mut().poll(&mut cx).is_ready());
        assert!(b.as_mut().poll(&mut cx).is_ready());
        assert!(stop.triggered_at().is_some());
    }
}
