//! The signal that interrupts a PHP thread's blocking syscall, so a timeout flag set
//! from another thread (the watchdog, an OPcache restart, a client that left) is
//! noticed at once.

use std::io;

/// The signal a request's watchdog sends a PHP thread to interrupt a blocking syscall
/// (sleep(), a socket read) so PHP notices its timeout flag at once.
pub(crate) fn interrupt_signal() -> libc::c_int {
    libc::SIGRTMIN() + 2
}

extern "C" fn on_interrupt_signal(_: libc::c_int) {}

/// A no-op handler without SA_RESTART: its only job is to make the interrupted
/// syscall return EINTR.
pub(crate) fn install() -> io::Result<()> {
    // SAFETY: sigaction with a zeroed struct, an async-signal-safe no-op handler and an
    // empty mask is well-defined; it replaces the default action (terminate).
    unsafe {
        let mut act: libc::sigaction = std::mem::zeroed();
        act.sa_sigaction = on_interrupt_signal as extern "C" fn(libc::c_int) as libc::sighandler_t;
        libc::sigemptyset(&mut act.sa_mask);
        act.sa_flags = 0;
        if libc::sigaction(interrupt_signal(), &act, std::ptr::null_mut()) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}
