//! A parsed request, protocol-independent: HTTP/1.1 and HTTP/2 both produce this.

use std::net::SocketAddr;

use crate::{Headers, Interim, Method, RequestBody};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    Http10,
    Http11,
    Http2,
}

impl Version {
    /// As PHP's `SERVER_PROTOCOL` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2.0",
        }
    }
}

#[derive(Debug)]
pub struct Request {
    pub method: Method,
    /// The request-target as sent (origin-form, or absolute-form for proxies).
    pub target: String,
    /// The path part of the target, still percent-encoded, always starting with `/`
    /// (or `*` for `OPTIONS *`).
    pub path: String,
    /// The query string without the `?`, still encoded; `None` when there was no `?`.
    pub query: Option<String>,
    pub version: Version,
    pub headers: Headers,
    /// The authority: an absolute-form target's wins over the Host header (RFC 9112 §3.2.2);
    /// `:authority` on HTTP/2. Validated (no whitespace, `/`, `\`, control bytes).
    pub host: Option<String>,
    pub body: RequestBody,
    pub remote_addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub tls: bool,
    /// Sends 1xx responses (103 Early Hints) ahead of the final one; detached (sends
    /// nothing) for HTTP/1.0 and wherever no connection listens.
    pub interim: Interim,
    /// HTTP/1.x: the connection's socket, open for as long as the request is being
    /// answered, so a long-running application can poll it for the client's hang-up
    /// (POLLRDHUP) — the connection itself reads nothing while the application works.
    /// None on HTTP/2, where a reset or the connection's end drops the request's future.
    pub conn_fd: Option<std::os::fd::RawFd>,
}
