//! A core's way into the pool: jobs are queued at once, but idle workers are woken once
//! per turn of the core's event loop rather than once per request.
//!
//! A worker woken on the core's own CPU preempts the core immediately, so waking per
//! request makes the core stop after every hand-off and lets the worker and the core
//! ping-pong. Here the wake is a small local task that runs after the other tasks made
//! ready in this turn (monoio runs ready tasks in order), so all the requests a turn
//! produced are queued before the one wake.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::rc::Rc;
use std::task::{Poll, Waker};

use super::pool::WorkerPool;
use super::request::Job;

#[derive(Default)]
struct Pending {
    /// Lanes with queued, not yet announced, work (bit per lane; overflow lanes included).
    lanes: Cell<u64>,
    task: RefCell<Option<Waker>>,
}

pub struct LaneSubmitter {
    pool: WorkerPool,
    lane: usize,
    pending: Rc<Pending>,
}

impl LaneSubmitter {
    /// Must be created on the core's runtime: it spawns the waking task there.
    pub fn new(pool: WorkerPool, lane: usize) -> LaneSubmitter {
        let pending = Rc::new(Pending::default());
        let (p, pool2) = (Rc::clone(&pending), pool.clone());
        monoio::spawn(async move {
            poll_fn(|cx| {
                let lanes = p.lanes.replace(0);
                for l in 0..64 {
                    if lanes & (1 << l) != 0 {
                        pool2.wake_for(l);
                    }
                }
                *p.task.borrow_mut() = Some(cx.waker().clone());
                Poll::<()>::Pending
            })
            .await
        });
        LaneSubmitter {
            pool,
            lane,
            pending,
        }
    }

    /// Queues `job`; gives it back at once when every lane is full.
    #[allow(clippy::result_large_err)]
    pub fn submit(&self, job: Job) -> Result<(), Job> {
        let l = self.pool.enqueue(self.lane, job)?;
        if l >= 64 {
            self.pool.wake_for(l);
            return Ok(());
        }
        let before = self.pending.lanes.get();
        self.pending.lanes.set(before | (1 << l));
        if before == 0 {
            if let Some(w) = self.pending.task.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
        Ok(())
    }
}
