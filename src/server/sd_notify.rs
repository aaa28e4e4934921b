//! systemd readiness notification (`Type=notify`): `READY=1` once every core listens,
//! `STOPPING=1` when the shutdown begins.
//!
//! The protocol (sd_notify(3)): one datagram of `KEY=VALUE` lines to the `AF_UNIX` socket
//! named by `$NOTIFY_SOCKET` — a path, or an abstract name written with a leading `@`.
//! Without `$NOTIFY_SOCKET` (not started by systemd, or `Type=simple`) every call does
//! nothing. A failed send is logged and otherwise ignored: readiness reporting must never
//! stop the server.
//!
//! Hand-written rather than the sd-notify crate: its 0.4 and 0.5 releases connect to
//! `$NOTIFY_SOCKET` as a path only, and sd_notify(3) also allows an abstract socket
//! (`@name`), which some service managers use.

use std::io;
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

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

#[cfg(test)]
mod tests {
    use super::*;
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
}
