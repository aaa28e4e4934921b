//! Enforces max_execution_time for every PHP thread from one watchdog thread, when PHP
//! carries scripts/php-patches/0001: PHP hands each (re)arm to `uring_rs_timer_set`
//! instead of creating, arming and deleting a POSIX timer per request (~12 syscalls).
//! When a deadline passes the watchdog does what PHP's timer handler would: it raises
//! that thread's timeout flags (and interrupts a blocking syscall).
//!
//! The watchdog ticks every 100 ms while some thread has had a timeout armed in the last
//! second, and sleeps otherwise; max_execution_time is in whole seconds, so 100 ms is
//! precise enough. The second of grace matters under load: short requests arm and disarm
//! their timers thousands of times a second, and a watchdog that slept whenever it
//! found none armed was woken for nearly every batch of them (2,000 wakeups/s at
//! 31k req/s on hello.php).

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

use super::ffi;

const TICK: Duration = Duration::from_millis(100);
/// Ticks without an armed timer before the watchdog sleeps until the next arm.
const IDLE_AFTER_TICKS: u32 = 10;

struct Armed {
    deadline: Option<Instant>,
}

/// One PHP thread's timer.
pub(crate) struct TimerSlot {
    armed: Mutex<Armed>,
    interrupt_flags: usize,
    thread: libc::pthread_t,
}

struct Watchdog {
    slots: Mutex<Vec<Arc<TimerSlot>>>,
    idle: AtomicBool,
    /// A timer was armed since the watchdog last looked (requests may be shorter than a
    /// tick, so what is armed at the tick says little about the load).
    armed_since_tick: AtomicBool,
    thread: Thread,
}

static WATCHDOG: OnceLock<Watchdog> = OnceLock::new();

thread_local! {
    static SLOT: RefCell<Option<Arc<TimerSlot>>> = const { RefCell::new(None) };
}

/// Whether this PHP build lets the server time requests (patch 0001).
pub fn external_timers() -> bool {
    // SAFETY: a pure query compiled into the bridge.
    unsafe { ffi::uring_external_timers() != 0 }
}

fn watchdog() -> &'static Watchdog {
    WATCHDOG.get_or_init(|| {
        let handle = std::thread::Builder::new()
            .name("php-watchdog".into())
            .spawn(run)
            .expect("start the PHP watchdog thread");
        Watchdog {
            slots: Mutex::new(Vec::new()),
            idle: AtomicBool::new(true),
            armed_since_tick: AtomicBool::new(false),
            thread: handle.thread().clone(),
        }
    })
}

/// Registers the calling PHP thread (after uring_thread_start).
pub(crate) fn register_thread(interrupt_flags: *mut libc::c_void) {
    if !external_timers() {
        return;
    }
    // SAFETY: pthread_self has no preconditions.
    let thread = unsafe { libc::pthread_self() };
    let slot = Arc::new(TimerSlot {
        armed: Mutex::new(Armed { deadline: None }),
        interrupt_flags: interrupt_flags as usize,
        thread,
    });
    watchdog()
        .slots
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(Arc::clone(&slot));
    SLOT.with(|s| *s.borrow_mut() = Some(slot));
}

/// Unregisters the calling PHP thread (before uring_thread_stop).
pub(crate) fn unregister_thread() {
    let Some(slot) = SLOT.with(|s| s.borrow_mut().take()) else {
        return;
    };
    slot.armed
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .deadline = None;
    watchdog()
        .slots
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|s| !Arc::ptr_eq(s, &slot));
}

/// Makes every running request's max_execution_time expire now (shutdown past its
/// drain deadline): each such script ends with PHP's timeout error at the watchdog's
/// next tick. Scripts without a time limit (max_execution_time=0) are not touched.
/// Returns how many were stopped; 0 without the external-timer patch.
pub fn expire_all() -> usize {
    let Some(w) = WATCHDOG.get() else { return 0 };
    let now = Instant::now();
    let mut n = 0;
    for slot in w.slots.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let mut armed = slot.armed.lock().unwrap_or_else(|e| e.into_inner());
        if armed.deadline.is_some() {
            armed.deadline = Some(now);
            n += 1;
        }
    }
    if n > 0 {
        w.idle.store(false, Ordering::SeqCst);
        w.thread.unpark();
    }
    n
}

#[no_mangle]
pub extern "C" fn uring_rs_timer_set(seconds: i64) {
    super::guard::guarded("timer_set", (), || timer_set(seconds))
}

fn timer_set(seconds: i64) {
    SLOT.with(|s| {
        let s = s.borrow();
        let Some(slot) = s.as_ref() else { return };
        let deadline = (seconds > 0).then(|| Instant::now() + Duration::from_secs(seconds as u64));
        slot.armed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .deadline = deadline;
        if deadline.is_some() {
            let w = watchdog();
            if !w.armed_since_tick.load(Ordering::Relaxed) {
                w.armed_since_tick.store(true, Ordering::Relaxed);
            }
            if w.idle.swap(false, Ordering::AcqRel) {
                w.thread.unpark();
            }
        }
    });
}

fn run() {
    // WATCHDOG is being initialised by whoever started us; wait for it.
    let w = loop {
        if let Some(w) = WATCHDOG.get() {
            break w;
        }
        std::thread::park_timeout(Duration::from_millis(1));
    };
    let mut empty_ticks = 0;
    loop {
        let now = Instant::now();
        let mut any_armed = false;
        let slots: Vec<Arc<TimerSlot>> = w.slots.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for slot in &slots {
            let mut armed = slot.armed.lock().unwrap_or_else(|e| e.into_inner());
            match armed.deadline {
                Some(d) if d <= now => {
                    armed.deadline = None;
                    // SAFETY: the slot's thread is alive (it unregisters before it ends,
                    // under this lock's protection of `deadline`) and inside the request
                    // that armed the deadline (PHP disarms it through the hook, which
                    // takes this lock, before the request ends).
                    unsafe {
                        ffi::uring_thread_timeout(slot.interrupt_flags as *mut libc::c_void);
                        libc::pthread_kill(slot.thread, super::interrupt::interrupt_signal());
                    }
                }
                Some(_) => any_armed = true,
                None => {}
            }
        }
        if any_armed || w.armed_since_tick.swap(false, Ordering::Relaxed) {
            empty_ticks = 0;
            std::thread::park_timeout(TICK);
        } else if empty_ticks < IDLE_AFTER_TICKS {
            // Still `idle == false`: a timer armed now is seen at the next tick.
            empty_ticks += 1;
            std::thread::park_timeout(TICK);
        } else {
            empty_ticks = 0;
            w.idle.store(true, Ordering::SeqCst);
            // Re-check: a thread may have armed between the scan and `idle`.
            let rearmed = slots.iter().any(|s| {
                s.armed
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .deadline
                    .is_some()
            });
            if rearmed {
                w.idle.store(false, Ordering::SeqCst);
                continue;
            }
            std::thread::park();
        }
    }
}
