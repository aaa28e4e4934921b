//! Runs jobs on the calling thread, without the pool: the baseline the pool's overhead
//! is measured against (bench/), and a building block for tools.

use super::context::{self, ExecLimits};
use super::ffi;
use super::request::Job;
use super::watchdog;

/// A PHP thread context on the current thread; the engine must be started.
pub struct InlineWorker {
    interrupt_flags: *mut libc::c_void,
    limits: ExecLimits,
    id: usize,
}

impl InlineWorker {
    pub fn new(id: usize, limits: ExecLimits) -> InlineWorker {
        // SAFETY: the engine is started (documented precondition); this thread gets its
        // own PHP context, released in Drop on the same thread (the type is !Send).
        unsafe { ffi::uring_thread_start() };
        // SAFETY: as above.
        let interrupt_flags = unsafe { ffi::uring_thread_interrupt_flags() };
        watchdog::register_thread(interrupt_flags);
        InlineWorker {
            interrupt_flags,
            limits,
            id,
        }
    }

    /// Runs one job to completion; its reply goes to the job's sink.
    pub fn run(&self, job: Job) {
        context::execute(job, self.id, &self.limits, self.interrupt_flags);
    }
}

impl Drop for InlineWorker {
    fn drop(&mut self) {
        watchdog::unregister_thread();
        // SAFETY: started in `new` on this thread (InlineWorker is !Send: raw pointer).
        unsafe { ffi::uring_thread_stop() };
    }
}
