//! A core's way into the pool: jobs are queued at once, but idle workers are woken once
//! per turn of the core's event loop rather than once per request — as many of them as
//! the turn queued jobs (as far as there are idle workers), so requests that arrive
//! together (a page's assets on one HTTP/2 connection) run in parallel.
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

struct Pending {
    /// Lanes with queued, not yet announced, work (bit per lane; overflow lanes included).
    lanes: Cell<u64>,
    /// Jobs queued this turn, per lane (the first 64 lanes).
    jobs: Vec<Cell<u32>>,
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
        let pending = Rc::new(Pending {
            lanes: Cell::new(0),
            jobs: (0..64).map(|_| Cell::new(0)).collect(),
            task: RefCell::new(None),
        });
        let (p, pool2) = (Rc::clone(&pending), pool.clone());
        monoio::spawn(async move {
            poll_fn(|cx| {
                let mut lanes = p.lanes.replace(0);
                while lanes != 0 {
                    let l = lanes.trailing_zeros() as usize;
                    lanes &= lanes - 1;
                    pool2.wake_for_jobs(l, p.jobs[l].replace(0) as usize);
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
        let jobs = &self.pending.jobs[l];
        jobs.set(jobs.get().saturating_add(1));
        if before == 0 {
            if let Some(w) = self.pending.task.borrow().as_ref() {
                w.wake_by_ref();
            }
        }
        Ok(())
    }
}
