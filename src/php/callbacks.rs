//! The functions C calls (declared in bridge/uring_sapi.h). Each turns the opaque
//! context back into the `RequestCtx` that `context::execute` passed to C.

use std::ffi::CStr;
use std::os::raw::{c_char, c_int, c_void};

use super::context::RequestCtx;
use super::ffi::{uring_header, uring_var};

/// # Safety
/// `ctx` must be the pointer `context::execute` passed to `uring_execute`, on the same
/// thread, during that call.
unsafe fn ctx<'a>(ctx: *mut c_void) -> Option<&'a mut RequestCtx<'a>> {
    // SAFETY: per the function's contract.
    unsafe { (ctx as *mut RequestCtx).as_mut() }
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
    // SAFETY: C passes SG(server_context) and PHP's output buffer of `len` bytes.
    let (Some(c), data) = (unsafe { ctx(c) }, unsafe { bytes(s, len) }) else {
        return 0;
    };
    (!c.write(data)) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_flush(c: *mut c_void) -> c_int {
    // SAFETY: C passes SG(server_context).
    match unsafe { ctx(c) } {
        Some(c) => (!c.flush()) as c_int,
        None => 0,
    }
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_send_headers(
    c: *mut c_void,
    status: c_int,
    status_line: *const c_char,
    headers: *const uring_header,
    count: usize,
) {
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
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_read_post(c: *mut c_void, buf: *mut c_char, len: usize) -> usize {
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
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_server_vars(
    c: *mut c_void,
    count: *mut usize,
) -> *const uring_var {
    // SAFETY: C passes SG(server_context) and a valid out pointer.
    let Some(c) = (unsafe { ctx(c) }) else {
        unsafe { *count = 0 };
        return std::ptr::null();
    };
    let vars = c.server_vars();
    // SAFETY: `count` is a valid out pointer from C.
    unsafe { *count = vars.len() };
    vars.as_ptr()
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_log_message(message: *const c_char, syslog_type: c_int) {
    if message.is_null() {
        return;
    }
    // SAFETY: PHP passes a NUL-terminated message.
    let msg = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    // syslog levels: 0-3 error and worse, 4 warning, 5-6 notice/info, 7 debug.
    match syslog_type {
        0..=3 => tracing::error!(target: "php", "{msg}"),
        4 => tracing::warn!(target: "php", "{msg}"),
        5 | 6 => tracing::info!(target: "php", "{msg}"),
        _ => tracing::debug!(target: "php", "{msg}"),
    }
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_request_time(c: *mut c_void) -> f64 {
    // SAFETY: C passes SG(server_context).
    unsafe { ctx(c) }.map_or(0.0, |c| c.request_time())
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_finish_request(c: *mut c_void) -> c_int {
    // SAFETY: C passes SG(server_context).
    unsafe { ctx(c) }.is_some_and(|c| c.finish_request()) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_heartbeat(c: *mut c_void, seconds: i64) -> c_int {
    // SAFETY: C passes SG(server_context).
    unsafe { ctx(c) }.is_some_and(|c| c.job.reply.control.heartbeat(seconds)) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_request_id(c: *mut c_void) -> i64 {
    // SAFETY: C passes SG(server_context).
    unsafe { ctx(c) }.map_or(0, |c| c.job.request.id as i64)
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_worker_id(c: *mut c_void) -> i64 {
    // SAFETY: C passes SG(server_context).
    unsafe { ctx(c) }.map_or(-1, |c| c.worker_id as i64)
}

#[no_mangle]
pub unsafe extern "C" fn uring_rs_server_info(c: *mut c_void) -> *const c_char {
    // SAFETY: C passes SG(server_context).
    unsafe { ctx(c) }.map_or(std::ptr::null(), |c| c.server_info())
}
