//! Completions on a core: PHP workers push events into the core's queue and wake its
//! reaper task once per batch (monoio's cross-thread wake is an eventfd write that the
//! ring is already waiting on, skipped while the core is awake); the reaper drains the
//! queue and wakes the waiting request tasks locally.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::poll_fn;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use atomic_waker::AtomicWaker;
use crossbeam_queue::SegQueue;

use super::reply::{ReplyEvent, ReplySink};

/// The thread-safe half, shared with the workers.
pub struct CoreInbox {
    queue: SegQueue<(u64, ReplyEvent)>,
    notified: AtomicBool,
    reaper: AtomicWaker,
}

impl ReplySink for CoreInbox {
    fn deliver(&self, token: u64, event: ReplyEvent) {
        self.queue.push((token, event));
        // One wake per batch: later deliveries see `notified` and skip it.
        if !self.notified.swap(true, Ordering::SeqCst) {
            self.reaper.wake();
        }
    }
}

struct Slot {
    generation: u32,
    events: VecDeque<ReplyEvent>,
    waker: Option<Waker>,
    in_use: bool,
}

/// The core-local half: the table of requests waiting for events.
pub struct Completions {
    inbox: Arc<CoreInbox>,
    slots: RefCell<Vec<Slot>>,
    free: RefCell<Vec<u32>>,
}

impl Completions {
    pub fn new() -> Rc<Completions> {
        Rc::new(Completions {
            inbox: Arc::new(CoreInbox {
                queue: SegQueue::new(),
                notified: AtomicBool::new(false),
                reaper: AtomicWaker::new(),
            }),
            slots: RefCell::new(Vec::new()),
            free: RefCell::new(Vec::new()),
        })
    }

    pub fn sink(&self) -> Arc<dyn ReplySink> {
        self.inbox.clone()
    }

    /// A new waiting slot; events for its token reach the returned receiver.
    pub fn register(self: &Rc<Self>) -> Receiver {
        let mut slots = self.slots.borrow_mut();
        let index = match self.free.borrow_mut().pop() {
            Some(i) => i,
            None => {
                slots.push(Slot {
                    generation: 0,
                    events: VecDeque::new(),
                    waker: None,
                    in_use: false,
                });
                (slots.len() - 1) as u32
            }
        };
        let slot = &mut slots[index as usize];
        slot.generation = slot.generation.wrapping_add(1);
        slot.in_use = true;
        let token = (slot.generation as u64) << 32 | index as u64;
        Receiver {
            completions: Rc::clone(self),
            token,
        }
    }

    fn dispatch(&self, token: u64, event: ReplyEvent) {
        let mut slots = self.slots.borrow_mut();
        let index = (token & 0xffff_ffff) as usize;
        let generation = (token >> 32) as u32;
        match slots.get_mut(index) {
            Some(slot) if slot.in_use && slot.generation == generation => {
                slot.events.push_back(event);
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
            // The request was given up (timeout, client gone): drop what arrives late.
            _ => {}
        }
    }

    /// The reaper: runs for the life of the core.
    pub async fn reap(self: Rc<Self>) {
        poll_fn(|cx| self.poll_reap(cx)).await
    }

    fn poll_reap(&self, cx: &mut Context<'_>) -> Poll<()> {
        loop {
            while let Some((token, event)) = self.inbox.queue.pop() {
                self.dispatch(token, event);
            }
            self.inbox.reaper.register(cx.waker());
            self.inbox.notified.store(false, Ordering::SeqCst);
            if self.inbox.queue.is_empty() {
                return Poll::Pending;
            }
        }
    }

    fn release(&self, token: u64) {
        let index = (token & 0xffff_ffff) as u32;
        let mut slots = self.slots.borrow_mut();
        if let Some(slot) = slots.get_mut(index as usize) {
            slot.in_use = false;
            slot.events.clear();
            slot.waker = None;
            self.free.borrow_mut().push(index);
        }
    }
}

/// A request's end of its slot. Dropping it gives the slot back; later events for it
/// are discarded.
pub struct Receiver {
    completions: Rc<Completions>,
    token: u64,
}

impl Receiver {
    pub fn token(&self) -> u64 {
        self.token
    }

    pub fn poll_next(&self, cx: &mut Context<'_>) -> Poll<ReplyEvent> {
        let mut slots = self.completions.slots.borrow_mut();
        let slot = &mut slots[(self.token & 0xffff_ffff) as usize];
        match slot.events.pop_front() {
            Some(e) => Poll::Ready(e),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    pub async fn next(&self) -> ReplyEvent {
        poll_fn(|cx| self.poll_next(cx)).await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.completions.release(self.token);
    }
}
