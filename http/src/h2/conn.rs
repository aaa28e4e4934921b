//! The HTTP/2 connection driver: the `h2` crate over monoio through monoio-compat's
//! tokio-IO adapter, every stream a future of this one task.
//!
//! `h2` only makes progress while its connection is polled, so one task polls the
//! connection (`poll_accept`), the set of stream futures, the shutdown signal and the
//! idle timer together. Streams are independent: a stream that fails is reset on its
//! own, its siblings go on. The service is borrowed (`&S`), as on HTTP/1.1: no stream
//! outlives the call.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use futures_util::stream::{FuturesUnordered, StreamExt};
use h2::server::SendResponse;
use h2::{Reason, RecvStream};
use monoio::io::{AsyncReadRent, AsyncWriteRent, PrefixedReadIo};
use monoio::time::Instant;
use monoio_compat::StreamWrapper;

use super::stream::{serve_stream, Outcome};
use super::H2Config;
use crate::h1::wait::{race, Raced};
use crate::ConnInfo;
use crate::{Service, Shutdown};

/// Buffer sizes of the compat adapter: reads take what the kernel has up to this much;
/// writes are copied into a buffer of this size before going to the socket.
const READ_BUF: usize = 16 * 1024;
const WRITE_BUF: usize = 64 * 1024;

/// Serves HTTP/2 on `io` until the client closes, an error ends the connection, or
/// `shutdown` fires (GOAWAY, then the open streams finish).
///
/// `initial` holds bytes already read from `io` — the connection preface when it was
/// sniffed on a cleartext port; empty after TLS with ALPN `h2`. The runtime must have its
/// timer enabled. Returns `Err` only for socket errors.
pub async fn serve_h2<IO, S>(
    io: IO,
    initial: BytesMut,
    service: &S,
    cfg: &H2Config,
    info: ConnInfo,
    shutdown: &Shutdown,
) -> io::Result<()>
where
    IO: AsyncReadRent + AsyncWriteRent + Unpin + 'static,
    S: Service,
{
    let io = PrefixedReadIo::new(io, std::io::Cursor::new(initial));
    let io = StreamWrapper::new_with_buffer_size(io, READ_BUF, WRITE_BUF);
    let (streams, stream_window, conn_window, frame) = cfg.clamped();
    let mut builder = h2::server::Builder::new();
    builder
        .max_concurrent_streams(streams)
        .initial_window_size(stream_window)
        .initial_connection_window_size(conn_window)
        .max_frame_size(frame)
        .max_header_list_size(cfg.max_header_list_size.max(1024))
        .max_send_buffer_size(cfg.max_send_buffer_size.max(16 * 1024))
        .max_pending_accept_reset_streams(cfg.max_pending_accept_reset_streams)
        .max_local_error_reset_streams(Some(cfg.max_local_error_reset_streams));
    let handshake = builder.handshake::<_, Bytes>(io);
    let deadline = Instant::now() + cfg.handshake_timeout;
    let mut conn = match race(handshake, deadline, Some(shutdown)).await {
        Raced::Done(Ok(conn)) => conn,
        Raced::Done(Err(e)) => return ended(e),
        Raced::TimedOut | Raced::Shutdown => return Ok(()),
    };
    service.http2_connection(true);
    let _counted = Http2Counted(service);

    let mut streams = FuturesUnordered::new();
    let mut shutdown_signal = pin!(shutdown.triggered());
    let mut idle = pin!(monoio::time::sleep(cfg.idle_timeout));
    let mut closing = false;
    // Armed when the connection starts to close: past it, a connection with no open
    // stream is closed whatever the client does (first GOAWAY without waiting for the
    // PING answer, then, if even that cannot be written, the socket).
    let mut closing_deadline: Option<std::pin::Pin<Box<monoio::time::Sleep>>> = None;
    let mut forced = false;
    let mut opened = 0usize;
    let mut wasted = 0usize;

    loop {
        let event = poll_fn(|cx| {
            // Streams first: what they send is flushed by the connection poll below.
            if let Poll::Ready(Some(outcome)) = streams.poll_next_unpin(cx) {
                return Poll::Ready(Event::Stream(outcome));
            }
            match conn.poll_accept(cx) {
                Poll::Ready(Some(Ok((req, respond)))) => {
                    return Poll::Ready(Event::Accepted(req, respond))
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Event::Closed(Some(e))),
                Poll::Ready(None) => return Poll::Ready(Event::Closed(None)),
                Poll::Pending => {}
            }
            if let Some(deadline) = closing_deadline.as_mut() {
                if streams.is_empty() && deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::GraceOver);
                }
            }
            if !closing {
                if shutdown_signal.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Stop("shutdown"));
                }
                if streams.is_empty() && idle.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Stop("idle"));
                }
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Accepted(req, respond) => {
                opened += 1;
                streams.push(serve_stream(req, respond, service, cfg, info));
            }
            Event::Stream(outcome) => {
                if outcome != Outcome::Answered {
                    wasted += 1;
                    // Rapid reset (CVE-2023-44487): requests opened and cancelled at once
                    // cost the server work while never counting against the concurrent
                    // stream limit. Legitimate clients cancel a few; a connection where
                    // cancelled requests pile up past the budget and are most of what it
                    // sent is told to go away. Requests the server refused for load
                    // count too: against an overloaded server the flood's streams are
                    // answered (503) before their RST_STREAM arrives.
                    if wasted > cfg.max_premature_resets && wasted * 2 > opened {
                        tracing::warn!(
                            peer = %info.remote_addr,
                            wasted,
                            opened,
                            "HTTP/2 client resets, or is refused, most of its requests: closing (rapid reset)"
                        );
                        conn.abrupt_shutdown(Reason::ENHANCE_YOUR_CALM);
                        closing = true;
                        forced = true;
                        closing_deadline = Some(Box::pin(monoio::time::sleep(cfg.goaway_grace)));
                        streams.clear();
                    }
                }
                if streams.is_empty() && !closing {
                    idle.as_mut().reset(Instant::now() + cfg.idle_timeout);
                }
            }
            Event::Stop(why) => {
                tracing::trace!(why, "HTTP/2 graceful shutdown");
                conn.graceful_shutdown();
                closing = true;
                closing_deadline = Some(Box::pin(monoio::time::sleep(cfg.goaway_grace)));
            }
            Event::GraceOver if !forced => {
                tracing::debug!(
                    peer = %info.remote_addr,
                    "HTTP/2 client did not answer the GOAWAY's PING: closing"
                );
                conn.abrupt_shutdown(Reason::NO_ERROR);
                forced = true;
                closing_deadline = Some(Box::pin(monoio::time::sleep(cfg.goaway_grace)));
            }
            // Not even the final GOAWAY could be written (a client that reads nothing).
            Event::GraceOver => return Ok(()),
            Event::Closed(None) => return Ok(()),
            Event::Closed(Some(e)) => return ended(e),
        }
    }
}

/// Tells the service the HTTP/2 connection ended, however `serve_h2` returns.
struct Http2Counted<'a, S: Service>(&'a S);

impl<S: Service> Drop for Http2Counted<'_, S> {
    fn drop(&mut self) {
        self.0.http2_connection(false);
    }
}

#[allow(clippy::large_enum_variant)] // transient, on the stack for one poll
enum Event {
    Accepted(http::Request<RecvStream>, SendResponse<Bytes>),
    Stream(Outcome),
    Stop(&'static str),
    /// The closing connection's grace period is over and no stream is open.
    GraceOver,
    Closed(Option<h2::Error>),
}

/// A connection-level end: socket errors are reported, protocol errors only logged (the
/// client got its GOAWAY).
fn ended(e: h2::Error) -> io::Result<()> {
    if e.is_io() {
        match e.into_io() {
            Some(io) if io.kind() == io::ErrorKind::UnexpectedEof => Ok(()),
            Some(io) => Err(io),
            None => Ok(()),
        }
    } else {
        tracing::debug!(error = %e, "HTTP/2 connection ended with an error");
        Ok(())
    }
}
