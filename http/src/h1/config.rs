//! Limits and timeouts of the HTTP/1.1 layer.

use std::time::Duration;

use bytes::Bytes;

use crate::SpoolConfig;

/// Per-server settings for HTTP/1.1 connections. Shared by reference by every connection
/// of a core.
#[derive(Clone, Debug)]
pub struct H1Config {
    /// Largest request head (request line and header section, with their CRLFs); larger → 431.
    pub max_header_bytes: usize,
    /// Most header fields in a request; more → 431.
    pub max_headers: usize,
    /// Longest request-target; longer → 414.
    pub max_uri_len: usize,
    /// Largest request body; larger → 413.
    pub max_body_size: u64,
    /// Where bodies larger than `spool.threshold` go.
    pub spool: SpoolConfig,
    /// The whole head must arrive within this long of its first byte (→ 408).
    pub header_timeout: Duration,
    /// A keep-alive connection waiting for its next request closes after this long.
    pub idle_timeout: Duration,
    /// Longest wait for each read of a request body (→ 408).
    pub body_timeout: Duration,
    /// Longest wait for each write; the connection closes when it passes.
    pub write_timeout: Duration,
    /// Value of a `Server` header added to every response, when set.
    pub server_header: Option<Bytes>,
}

impl Default for H1Config {
    fn default() -> Self {
        H1Config {
            max_header_bytes: 16 * 1024,
            max_headers: 100,
            max_uri_len: 8 * 1024,
            max_body_size: 8 * 1024 * 1024,
            spool: SpoolConfig::default(),
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
            body_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(60),
            server_header: None,
        }
    }
}
