//! The functions C calls (declared in bridge/uring_sapi.h). Each turns the opaque
//! context back into the `PhpRequestState` that `context::execute` passed to C.
//!
//! A panic must never unwind into C (since Rust 1.81 that aborts the whole process, and
//! it would skip PHP's frames): every callback runs its body through [`guarded`], which
//! turns a panic into a log line and a safe answer for PHP — for output, "the client is
//! gone", so the script ends as on an aborted connection and the thread lives on.
//! [`signatures_match_the_header`] makes the compiler hold each definition to the
//! declaration bindgen made from the header.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

use super::context::PhpRequestState;
use super::ffi::{self, uring_header, uring_var};
use super::guard::guarded;

/// # Safety
/// `ctx` must be a context pointer Rust handed to C (`Prepared::ctx_ptr`), used on the
/// same thread while that request is bound there.
unsafe fn ctx<'a>(ctx: *mut c_void) -> Option<&'a mut PhpRequestState> {
    // SAFETY: per the function's contract.
    unsafe { (ctx as *mut PhpRequestState).as_mut() }
}

/// # Safety
/// `ptr` must be valid for `len` bytes (or `len` must be 0).
unsafe fn bytes<'a>(ptr: *const c_char, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        return &[];
    }
    // SAFETY: per the function's contract.
    unsafe { std::slice::from_raw_parts(ptr as *const u8, len) }
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_ub_write(c: *mut c_void, s: *const c_char, len: usize) -> c_int {
    guarded("ub_write", 1, || {
        // SAFETY: C passes SG(server_context) and PHP's output buffer of `len` bytes.
        let (Some(c), data) = (unsafe { ctx(c) }, unsafe { bytes(s, len) }) else {
            return 0;
        };
        (!c.write(data)) as c_int
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_flush(c: *mut c_void) -> c_int {
    guarded("flush", 1, || {
        // SAFETY: C passes SG(server_context).
        match unsafe { ctx(c) } {
            Some(c) => (!c.flush()) as c_int,
            None => 0,
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_send_headers(
    c: *mut c_void,
    status: c_int,
    status_line: *const c_char,
    headers: *const uring_header,
    count: usize,
) {
    guarded("send_headers", (), || {
        // SAFETY: C passes SG(server_context).
        let Some(c) = (unsafe { ctx(c) }) else { return };
        let line = if status_line.is_null() {
            None
        } else {
            // SAFETY: PHP's http_status_line is NUL-terminated.
            Some(unsafe { CStr::from_ptr(status_line) }.to_bytes())
        };
        let list: &[uring_header] = if headers.is_null() || count == 0 {
            &[]
        } else {
            // SAFETY: C built an array of `count` headers that lives during this call.
            unsafe { std::slice::from_raw_parts(headers, count) }
        };
        // SAFETY: each entry points at PHP's header string of `len` bytes.
        let lines: Vec<&[u8]> = list
            .iter()
            .map(|h| unsafe { bytes(h.line, h.len) })
            .collect();
        c.send_headers(status, line, &lines);
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_send_interim(
    c: *mut c_void,
    status: c_int,
    headers: *const uring_header,
    count: usize,
) -> c_int {
    guarded("send_interim", 0, || {
        // SAFETY: C passes SG(server_context).
        let Some(c) = (unsafe { ctx(c) }) else {
            return 0;
        };
        let list: &[uring_header] = if headers.is_null() || count == 0 {
            &[]
        } else {
            // SAFETY: C built an array of `count` headers that lives during this call.
            unsafe { std::slice::from_raw_parts(headers, count) }
        };
        // SAFETY: each entry points at PHP's header string of `len` bytes.
        let lines: Vec<&[u8]> = list
            .iter()
            .map(|h| unsafe { bytes(h.line, h.len) })
            .collect();
        c.send_interim(status, &lines) as c_int
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_read_post(c: *mut c_void, buf: *mut c_char, len: usize) -> usize {
    guarded("read_post", 0, || {
        // SAFETY: C passes SG(server_context) and PHP's buffer of `len` writable bytes.
        let Some(c) = (unsafe { ctx(c) }) else {
            return 0;
        };
        if buf.is_null() || len == 0 {
            return 0;
        }
        // SAFETY: as above.
        let out = unsafe { std::slice::from_raw_parts_mut(buf as *mut u8, len) };
        c.read_post(out)
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_server_vars(
    c: *mut c_void,
    count: *mut usize,
) -> *const uring_var {
    guarded("server_vars", std::ptr::null(), || {
        // SAFETY: C passes SG(server_context) and a valid out pointer.
        let Some(c) = (unsafe { ctx(c) }) else {
            unsafe { *count = 0 };
            return std::ptr::null();
        };
        let vars = c.server_vars();
        // SAFETY: `count` is a valid out pointer from C.
        unsafe { *count = vars.len() };
        vars.as_ptr()
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_log_message(message: *const c_char, syslog_type: c_int) {
    guarded("log_message", (), || {
        if message.is_null() {
            return;
        }
        // SAFETY: PHP passes a NUL-terminated message.
        let msg = unsafe { CStr::from_ptr(message) }.to_string_lossy();
        super::worker_script::note_php_log(&msg, syslog_type);
        // syslog levels: 0-3 error and worse, 4 warning, 5-6 notice/info, 7 debug.
        match syslog_type {
            0..=3 => tracing::error!(target: "php", "{msg}"),
            4 => tracing::warn!(target: "php", "{msg}"),
            5 | 6 => tracing::info!(target: "php", "{msg}"),
            _ => tracing::debug!(target: "php", "{msg}"),
        }
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_request_time(c: *mut c_void) -> f64 {
    guarded("request_time", 0.0, || {
        // SAFETY: C passes SG(server_context).
        unsafe { ctx(c) }.map_or(0.0, |c| c.request_time())
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_finish_request(c: *mut c_void) -> c_int {
    guarded("finish_request", 0, || {
        // SAFETY: C passes SG(server_context).
        unsafe { ctx(c) }.is_some_and(|c| c.finish_request()) as c_int
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_heartbeat(c: *mut c_void, seconds: i64) -> c_int {
    guarded("heartbeat", 0, || {
        // SAFETY: C passes SG(server_context).
        unsafe { ctx(c) }.is_some_and(|c| c.job.reply.control.heartbeat(seconds)) as c_int
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_request_id(c: *mut c_void) -> i64 {
    guarded("request_id", 0, || {
        // SAFETY: C passes SG(server_context).
        unsafe { ctx(c) }.map_or(0, |c| c.job.request.id as i64)
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_worker_id(c: *mut c_void) -> i64 {
    guarded("worker_id", -1, || {
        // SAFETY: C passes SG(server_context).
        unsafe { ctx(c) }.map_or(-1, |c| c.worker_id as i64)
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_server_info(c: *mut c_void) -> *const c_char {
    guarded("server_info", std::ptr::null(), || {
        // SAFETY: C passes SG(server_context).
        unsafe { ctx(c) }.map_or(std::ptr::null(), |c| c.server_info())
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_worker_wait(
    info: *mut *const ffi::uring_request_info,
    reset_opcache: *mut c_int,
) -> *mut c_void {
    guarded("worker_wait", std::ptr::null_mut(), || {
        let mut reset = false;
        let next = super::worker_script::wait(&mut reset);
        // SAFETY: C passes valid out pointers.
        unsafe {
            *reset_opcache = reset as c_int;
            *info = next.map_or(std::ptr::null(), |(_, i)| i);
        }
        next.map_or(std::ptr::null_mut(), |(c, _)| c)
    })
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_worker_done(c: *mut c_void) {
    guarded("worker_done", (), || super::worker_script::done(c))
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_cache_purge(s: *const c_char, len: usize) -> i64 {
    guarded("cache_purge", 0, || {
        // SAFETY: C passes a PHP string's bytes and length.
        let what = unsafe { bytes(s, len) };
        crate::response_cache::purge_from_php(&String::from_utf8_lossy(what))
    })
}

/// Each callback assigned to the type of bindgen's declaration of it: a definition that
/// drifts from bridge/uring_sapi.h fails to compile here.
#[allow(dead_code)]
fn signatures_match_the_header() {
    fn same<T>(_: T, _: T) {}
    same(
        ffi::uring_rs_ub_write as unsafe extern "C" fn(_, _, _) -> _,
        uring_rs_ub_write,
    );
    same(
        ffi::uring_rs_flush as unsafe extern "C" fn(_) -> _,
        uring_rs_flush,
    );
    same(
        ffi::uring_rs_send_headers as unsafe extern "C" fn(_, _, _, _, _),
        uring_rs_send_headers,
    );
    same(
        ffi::uring_rs_send_interim as unsafe extern "C" fn(_, _, _, _) -> _,
        uring_rs_send_interim,
    );
    same(
        ffi::uring_rs_read_post as unsafe extern "C" fn(_, _, _) -> _,
        uring_rs_read_post,
    );
    same(
        ffi::uring_rs_server_vars as unsafe extern "C" fn(_, _) -> _,
        uring_rs_server_vars,
    );
    same(
        ffi::uring_rs_log_message as unsafe extern "C" fn(_, _),
        uring_rs_log_message,
    );
    same(
        ffi::uring_rs_request_time as unsafe extern "C" fn(_) -> _,
        uring_rs_request_time,
    );
    same(
        ffi::uring_rs_finish_request as unsafe extern "C" fn(_) -> _,
        uring_rs_finish_request,
    );
    same(
        ffi::uring_rs_heartbeat as unsafe extern "C" fn(_, _) -> _,
        uring_rs_heartbeat,
    );
    same(
        ffi::uring_rs_request_id as unsafe extern "C" fn(_) -> _,
        uring_rs_request_id,
    );
    same(
        ffi::uring_rs_worker_id as unsafe extern "C" fn(_) -> _,
        uring_rs_worker_id,
    );
    same(
        ffi::uring_rs_server_info as unsafe extern "C" fn(_) -> _,
        uring_rs_server_info,
    );
    same(
        ffi::uring_rs_worker_wait as unsafe extern "C" fn(_, _) -> _,
        uring_rs_worker_wait,
    );
    same(
        ffi::uring_rs_worker_done as unsafe extern "C" fn(_),
        uring_rs_worker_done,
    );
    same(
        ffi::uring_rs_cache_purge as unsafe extern "C" fn(_, _) -> _,
        uring_rs_cache_purge,
    );
    same(
        ffi::uring_rs_timer_set as unsafe extern "C" fn(_),
        super::watchdog::uring_rs_timer_set,
    );
    same(
        ffi::uring_rs_opcache_event as unsafe extern "C" fn(_, _),
        super::opcache_restart::uring_rs_opcache_event,
    );
    same(
        ffi::uring_rs_opcache_quiescent as unsafe extern "C" fn() -> _,
        super::opcache_restart::uring_rs_opcache_quiescent,
    );
}

#[cfg(test)]
mod tests {
    use super::guarded;

    #[test]
    fn a_panicking_callback_gives_its_fallback() {
        let got = guarded("test", 7, || -> i32 { panic!("boom") });
        assert_eq!(got, 7);
        assert_eq!(guarded("test", 7, || 1), 1);
    }
}
