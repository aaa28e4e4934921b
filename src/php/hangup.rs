//! Whether an HTTP/1.x client hung up while its PHP request waits in the queue or runs.
//! The connection reads nothing while the application works, so nothing else would
//! notice before the response is written: the socket is asked directly (POLLRDHUP is
//! set once the peer closed or shut down its sending side — nginx gives up a FastCGI
//! request on the same signal unless `fastcgi_ignore_client_abort` is on).

use std::os::fd::RawFd;

/// True when the peer of `fd` closed its side of the connection, or the connection
/// failed. `fd` must be the socket of a connection that is still being served.
pub fn hung_up(fd: RawFd) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLRDHUP,
        revents: 0,
    };
    // SAFETY: poll(2) on one pollfd that lives on this stack, without waiting; the
    // caller's socket stays open during the call (its connection is being served), and
    // even a closed fd would only be reported as POLLNVAL.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    n == 1 && p.revents & (libc::POLLRDHUP | libc::POLLHUP | libc::POLLERR) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{Shutdown, TcpListener, TcpStream};
    use std::os::fd::AsRawFd;

    #[test]
    fn sees_the_peer_close_but_not_pending_data() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (server, _) = l.accept().unwrap();
        assert!(!hung_up(server.as_raw_fd()));
        // A pipelined request waiting to be read is no hang-up.
        client.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert!(!hung_up(server.as_raw_fd()));
        client.shutdown(Shutdown::Write).unwrap();
        // The FIN travels through loopback at once, but poll rather than assume it.
        let mut seen = false;
        for _ in 0..1000 {
            if hung_up(server.as_raw_fd()) {
                seen = true;
                break;
            }
            std::thread::yield_now();
        }
        assert!(seen);
    }
}
