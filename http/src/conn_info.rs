//! Where a connection comes from: what every request on it inherits, whichever protocol
//! it speaks.

use std::net::SocketAddr;
use std::os::fd::RawFd;

/// Where a connection comes from, copied into every [`crate::Request`].
#[derive(Clone, Copy, Debug)]
pub struct ConnInfo {
    /// The client's address.
    pub remote_addr: SocketAddr,
    /// The server's address the client connected to.
    pub local_addr: SocketAddr,
    /// Whether the bytes arrived over TLS.
    pub tls: bool,
    /// The connection's socket, handed to HTTP/1.x requests as [`Request::conn_fd`] so
    /// the application can notice a client that hangs up while it works.
    pub fd: Option<RawFd>,
}
