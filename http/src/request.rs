//! A parsed request, protocol-independent: HTTP/1.1 and HTTP/2 both produce this.

use std::net::SocketAddr;

use crate::{ConnInfo, Headers, Interim, Method, RequestBody};

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

/// What every protocol parses out of a request head (HTTP/1.x's request line and
/// fields, HTTP/2's pseudo-header fields and header block): the part of a [`Request`]
/// that does not depend on the connection.
#[derive(Debug)]
pub struct RequestHead {
    pub method: Method,
    /// The request-target as sent (origin-form, or absolute-form for proxies).
    pub target: String,
    /// The path part of the target, still percent-encoded, `/…` or `*`.
    pub path: String,
    /// The query without the `?`, still encoded; `None` when there was no `?`.
    pub query: Option<String>,
    /// In order, names as sent.
    pub headers: Headers,
    /// The authority, validated; `None` when empty or absent.
    pub host: Option<String>,
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

impl Request {
    /// The one way a protocol builds a request: its parsed head, its body, and the
    /// connection it arrived on. HTTP/1.x hands the application the connection's socket
    /// (to notice a hang-up while it works); on HTTP/2 a reset or the connection's end
    /// drops the request's future instead, so there is none.
    pub fn new(
        head: RequestHead,
        version: Version,
        body: RequestBody,
        conn: &ConnInfo,
        interim: Interim,
    ) -> Request {
        let RequestHead {
            method,
            target,
            path,
            query,
            headers,
            host,
        } = head;
        Request {
            method,
            target,
            path,
            query,
            version,
            headers,
            host,
            body,
            remote_addr: conn.remote_addr,
            local_addr: conn.local_addr,
            tls: conn.tls,
            interim,
            conn_fd: if version == Version::Http2 {
                None
            } else {
                conn.fd
            },
        }
    }
}
