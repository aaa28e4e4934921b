//! Settings and limits of the HTTP/2 layer.

use std::time::Duration;

use bytes::Bytes;

use crate::h1::H1Config;
use crate::SpoolConfig;

/// Per-server settings for HTTP/2 connections, shared by reference by every connection
/// of a core. The SETTINGS values are announced to the client in the first frame.
#[derive(Clone, Debug)]
pub struct H2Config {
    /// SETTINGS_MAX_CONCURRENT_STREAMS: requests a client may have open at once on one
    /// connection (nginx: 128).
    pub max_concurrent_streams: u32,
    /// SETTINGS_INITIAL_WINDOW_SIZE: how much of each request body the client may send
    /// before the server reads it (also bounds what one stream buffers).
    pub initial_stream_window_size: u32,
    /// The connection-level receive window (WINDOW_UPDATE on stream 0 after the preface).
    pub initial_connection_window_size: u32,
    /// SETTINGS_MAX_FRAME_SIZE: largest frame payload the server accepts (16 KiB–16 MiB).
    pub max_frame_size: u32,
    /// SETTINGS_MAX_HEADER_LIST_SIZE: largest decoded header section (names + values + 32
    /// per field, RFC 9113 §6.5.2). A larger one, however many CONTINUATION frames it is
    /// spread over, is refused.
    pub max_header_list_size: u32,
    /// Response bytes one stream may have queued in the connection before the sender
    /// waits for the client to take them.
    pub max_send_buffer_size: usize,
    /// Streams the client reset before the server took them; more than this open at once
    /// is the rapid-reset attack (CVE-2023-44487): GOAWAY ENHANCE_YOUR_CALM.
    pub max_pending_accept_reset_streams: usize,
    /// Streams the server had to reset for the client's protocol errors; beyond it the
    /// connection ends with ENHANCE_YOUR_CALM.
    pub max_local_error_reset_streams: usize,
    /// Streams the client may reset after the server accepted them (work started) before
    /// the connection is judged abusive — counted only while such resets are more than
    /// half of the connection's streams. Defaults to twice `max_concurrent_streams`.
    pub max_premature_resets: usize,
    /// Largest request body; larger → 413 (and RST_STREAM NO_ERROR for the rest).
    pub max_body_size: u64,
    /// Where bodies larger than `spool.threshold` go.
    pub spool: SpoolConfig,
    /// The connection preface must arrive within this long.
    pub handshake_timeout: Duration,
    /// A connection with no open stream is closed (GOAWAY) after this long.
    pub idle_timeout: Duration,
    /// After a graceful GOAWAY (idle timeout, shutdown) the server waits for the
    /// client's answer to its PING before it closes; a client that never answers is cut
    /// off this long after the GOAWAY once no stream is open, so ignoring PING cannot
    /// hold a connection (and its fd) open for ever.
    pub goaway_grace: Duration,
    /// Longest wait for each DATA frame of a request body (→ 408).
    pub body_timeout: Duration,
    /// Longest wait for the client to open its flow-control window for a response.
    pub write_timeout: Duration,
    /// Value of a `server` header added to every response, when set.
    pub server_header: Option<Bytes>,
}

impl Default for H2Config {
    fn default() -> Self {
        H2Config::with_limits_of(&H1Config::default())
    }
}

impl H2Config {
    /// HTTP/2 defaults with the body limits, spooling, timeouts and `Server` header of
    /// an HTTP/1.1 configuration, so one set of server settings applies to both.
    pub fn with_limits_of(h1: &H1Config) -> Self {
        let max_concurrent_streams = 128;
        H2Config {
            max_concurrent_streams,
            initial_stream_window_size: 1 << 20,
            initial_connection_window_size: 2 << 20,
            max_frame_size: 16 * 1024,
            max_header_list_size: (h1.max_header_bytes as u32)
                .saturating_mul(2)
                .max(16 * 1024),
            max_send_buffer_size: 256 * 1024,
            max_pending_accept_reset_streams: 20,
            max_local_error_reset_streams: 1024,
            max_premature_resets: 2 * max_concurrent_streams as usize,
            max_body_size: h1.max_body_size,
            spool: h1.spool.clone(),
            handshake_timeout: h1.header_timeout,
            idle_timeout: h1.idle_timeout,
            goaway_grace: Duration::from_secs(5),
            body_timeout: h1.body_timeout,
            write_timeout: h1.write_timeout,
            server_header: h1.server_header.clone(),
        }
    }

    /// The settings clamped into what RFC 9113 allows, so a configuration can never make
    /// the `h2` crate panic or announce an invalid SETTINGS frame.
    pub(crate) fn clamped(&self) -> (u32, u32, u32, u32) {
        const MAX_WINDOW: u32 = (1 << 31) - 1;
        (
            self.max_concurrent_streams.max(1),
            self.initial_stream_window_size.clamp(1, MAX_WINDOW),
            self.initial_connection_window_size
                .clamp(65_535, MAX_WINDOW),
            self.max_frame_size.clamp(16_384, 16_777_215),
        )
    }
}
