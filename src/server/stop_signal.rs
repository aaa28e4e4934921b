//! A one-shot, cross-thread "stop" for the cores: set by the signal thread, awaited by a
//! task on each core (the wake goes through monoio's eventfd, so idle cores sleep).

use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};
use std::task::{Poll, Waker};
use std::time::Instant;

#[derive(Default)]
pub struct StopSignal {
    stopped: AtomicBool,
    wakers: Mutex<Vec<Waker>>,
    /// When the first trigger came: the drain timeout counts from here.
    at: OnceLock<Instant>,
}

impl StopSignal {
    pub fn trigger(&self) {
        let _ = self.at.set(Instant::now());
        self.stopped.store(true, Ordering::SeqCst);
        for w in self
            .wakers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .drain(..)
        {
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

    pub async fn wait(&self) {
        poll_fn(|cx| {
            if self.is_triggered() {
                return Poll::Ready(());
            }
            let mut w = self.wakers.lock().unwrap_or_else(|e| e.into_inner());
            if !w.iter().any(|x| x.will_wake(cx.waker())) {
                w.push(cx.waker().clone());
            }
            drop(w);
            if self.is_triggered() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await
    }
}
