//! systemd readiness notification (`Type=notify`): `READY=1` once every core listens,
//! `STOPPING=1` when the shutdown begins.
//!
//! The protocol (sd_notify(3)): one datagram of `KEY=VALUE` lines to the `AF_UNIX` socket
//! named by `$NOTIFY_SOCKET` — a path, or an abstract name written with a leading `@`.
//! Without `$NOTIFY_SOCKET` (not started by systemd, or `Type=simple`) every call does
//! nothing. A failed send is logged and otherwise ignored: readiness reporting must never
//! stop the server.

use std::future::Future;
use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;

/// The variable systemd sets for `Type=notify` services.
pub const NOTIFY_SOCKET: &str = "NOTIFY_SOCKET";

/// Tells systemd the service is up: `READY=1`, the main pid and a status line
/// (`systemctl status` shows it). Call once, after every listener accepts.
pub fn ready(status: &str) {
    notify(&format!(
        "READY=1\nMAINPID={}\nSTATUS={}\n",
        std::process::id(),
        one_line(status)
    ));
}

/// Tells systemd the service is shutting down (draining connections).
pub fn stopping(status: &str) {
    notify(&format!("STOPPING=1\nSTATUS={}\n", one_line(status)));
}

/// Sends `STOPPING=1` from a small thread of its own as soon as `stop` completes (the
/// server's stop signal), so systemd sees the drain start rather than only the exit.
/// Does nothing — not even start the thread — when `$NOTIFY_SOCKET` is unset.
pub fn stopping_when<F>(stop: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    if std::env::var_os(NOTIFY_SOCKET).is_none() {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("sd-notify".into())
        .spawn(move || {
            block_on(stop);
            stopping("draining connections");
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "sd_notify: could not start the STOPPING=1 thread");
    }
}

/// Sends `message` to `$NOTIFY_SOCKET`; nothing when it is unset.
pub fn notify(message: &str) {
    let Some(socket) = std::env::var_os(NOTIFY_SOCKET) else {
        return;
    };
    let Some(socket) = socket.to_str() else {
        tracing::warn!("sd_notify: NOTIFY_SOCKET is not valid UTF-8; not notifying");
        return;
    };
    match notify_to(socket, message) {
        Ok(()) => tracing::debug!(socket, message = message.trim_end(), "sd_notify sent"),
        Err(e) => tracing::warn!(socket, error = %e, "sd_notify: could not notify systemd"),
    }
}

/// Sends `message` as one datagram to `socket`: a filesystem path, or `@name` for an
/// abstract socket.
pub fn notify_to(socket: &str, message: &str) -> io::Result<()> {
    let addr = parse_addr(socket)?;
    let sock = UnixDatagram::unbound()?;
    let sent = sock.send_to_addr(message.as_bytes(), &addr)?;
    if sent != message.len() {
        return Err(io::Error::new(io::ErrorKind::WriteZero, "short datagram"));
    }
    Ok(())
}

fn parse_addr(socket: &str) -> io::Result<SocketAddr> {
    match socket.as_bytes() {
        [] => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "NOTIFY_SOCKET is empty",
        )),
        [b'@', name @ ..] => SocketAddr::from_abstract_name(name),
        [b'/', ..] => SocketAddr::from_pathname(socket),
        _ => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("NOTIFY_SOCKET={socket}: neither an absolute path nor an @abstract name"),
        )),
    }
}

/// A status value must stay on its line: a newline would start another assignment.
fn one_line(s: &str) -> String {
    s.replace(['\n', '\r'], " ")
}

/// Runs a future to completion on this thread, parking between wake-ups.
fn block_on<F: Future>(fut: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut fut = pin!(fut);
    loop {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return out;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    fn recv(sock: &UnixDatagram) -> String {
        sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 512];
        let n = sock.recv(&mut buf).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    #[test]
    fn sends_to_a_path_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let server = UnixDatagram::bind(&path).unwrap();
        notify_to(path.to_str().unwrap(), "READY=1\n").unwrap();
        assert_eq!(recv(&server), "READY=1\n");
    }

    #[test]
    fn sends_to_an_abstract_socket() {
        let name = format!("uring_php-sd-notify-test-{}", std::process::id());
        let server =
            UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(name.as_bytes()).unwrap())
                .unwrap();
        notify_to(&format!("@{name}"), "STOPPING=1\n").unwrap();
        assert_eq!(recv(&server), "STOPPING=1\n");
    }

    #[test]
    fn refuses_relative_and_empty_addresses() {
        assert!(notify_to("", "READY=1").is_err());
        assert!(notify_to("relative/notify.sock", "READY=1").is_err());
    }

    #[test]
    fn a_missing_socket_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        assert!(notify_to(dir.path().join("absent").to_str().unwrap(), "READY=1").is_err());
    }

    #[test]
    fn status_stays_on_one_line() {
        assert_eq!(one_line("a\nb\rc"), "a b c");
    }

    #[test]
    fn block_on_waits_for_a_wake_from_another_thread() {
        let flag = Arc::new(AtomicBool::new(false));
        let waker_slot: Arc<std::sync::Mutex<Option<Waker>>> = Arc::default();
        let (f, w) = (Arc::clone(&flag), Arc::clone(&waker_slot));
        let t = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            f.store(true, Ordering::SeqCst);
            if let Some(w) = w.lock().unwrap().take() {
                w.wake();
            }
        });
        block_on(std::future::poll_fn(|cx| {
            *waker_slot.lock().unwrap() = Some(cx.waker().clone());
            if flag.load(Ordering::SeqCst) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        }));
        t.join().unwrap();
        assert!(flag.load(Ordering::SeqCst));
    }
}
