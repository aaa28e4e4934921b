//! The HTTP/1.1 connection driver: reads requests one after another from the connection,
//! hands each to the service (with its complete body, or with the body streaming in when
//! request buffering is off), and writes the responses back in order.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::task::Poll;
use std::time::Duration;

use bytes::{Buf, BytesMut};
use futures_util::future::{select, Either};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
use monoio::time::Instant;

use super::body_target::PipeSink;
use super::encode::{encode_head, encode_interim, ConnectionHeader, Framing};
use super::parse::{parse_head, BodyFraming, Head};
use super::wait::{race, Raced};
use super::{H1Config, H1Error};
use crate::{
    body_pipe, BodyWriter, ConnInfo, Interim, InterimResponse, Request, RequestBody, Response,
    Service, Shutdown, Version,
};

/// Reads are made with at least this much free room in the read buffer.
pub(super) const READ_BUF_SIZE: usize = 8 * 1024;

/// After an early answer (a 413 for a body over MAX_BODY_SIZE, another 4xx, a response
/// before the body was read) the server keeps reading, and dropping, what the client
/// still sends, so that closing with unread data does not reset the connection before
/// the client read the answer: clients that write their whole body before they read
/// (Python's http.client, many SDKs) would get EPIPE/ECONNRESET instead. Bounded as
/// nginx's lingering close is (`lingering_time 30s`, `lingering_timeout 5s`), and by
/// bytes: a client still sending after 64 MiB is reset.
const LINGER_TIME: Duration = Duration::from_secs(30);
const LINGER_READ_TIMEOUT: Duration = Duration::from_secs(5);
const LINGER_MAX_BYTES: usize = 64 << 20;

/// Serves HTTP/1.x requests on `io` until the client closes, a timeout or protocol error
/// ends the connection, or `shutdown` fires while the connection is idle.
///
/// `initial` holds bytes already read from `io` (e.g. while sniffing the protocol). The
/// runtime must have its timer enabled. Returns `Err` only for socket errors; a client
/// that misbehaves gets its 4xx and an `Ok(())`.
pub async fn serve_h1<IO, S>(
    io: IO,
    initial: BytesMut,
    service: &S,
    cfg: &H1Config,
    info: ConnInfo,
    shutdown: &Shutdown,
) -> io::Result<()>
where
    IO: AsyncReadRent + AsyncWriteRent,
    S: Service,
{
    let mut conn = Conn {
        io,
        rbuf: initial,
        wbuf: BytesMut::with_capacity(1024),
        file_buf: None,
        cfg,
        shutdown,
    };
    conn.run(service, info).await
}

/// Why request processing stopped.
pub(super) enum Stop {
    /// Answer with this error, then close.
    Reply(H1Error),
    /// The server failed (e.g. could not store the body): answer 500, then close.
    ServerError,
    /// Close without a word: the client left, went idle too long, or shutdown came.
    Close,
    /// A socket error: close and report it.
    Io(io::Error),
}

/// What one read into the read buffer gave.
pub(super) enum Filled {
    Data(usize),
    Eof,
    TimedOut,
    Shutdown,
    Err(io::Error),
}

pub(super) struct Conn<'a, IO> {
    pub(super) io: IO,
    /// Received, not yet consumed bytes. Empty (and unallocated) after a cancelled read.
    pub(super) rbuf: BytesMut,
    /// Reused for every response head (and small bodies).
    pub(super) wbuf: BytesMut,
    /// Reused for reading file bodies, allocated on the first one.
    pub(super) file_buf: Option<BytesMut>,
    pub(super) cfg: &'a H1Config,
    pub(super) shutdown: &'a Shutdown,
}

impl<IO: AsyncReadRent + AsyncWriteRent> Conn<'_, IO> {
    async fn run<S: Service>(&mut self, service: &S, info: ConnInfo) -> io::Result<()> {
        loop {
            let head = match self.read_head().await {
                Ok(head) => head,
                Err(stop) => return self.stop(stop).await,
            };
            let framing = head.framing;
            let streaming = !self.cfg.spool.buffering && framing != BodyFraming::None;
            let (body, writer) = if streaming {
                if let Err(stop) = self.begin_body(&head).await {
                    return self.stop(stop).await;
                }
                let (writer, reader) = body_pipe(framing.declared_len());
                (RequestBody::Stream(reader), Some(writer))
            } else {
                match self.read_body(&head).await {
                    Ok(body) => (body, None),
                    Err(stop) => return self.stop(stop).await,
                }
            };
            let is_head = head.method == crate::Method::Head;
            let version = head.version;
            let wants_keep_alive = head.keep_alive;
            // No 1xx to HTTP/1.0 clients (RFC 9110 §15.2).
            let interim = if version == Version::Http11 {
                Interim::attached()
            } else {
                Interim::default()
            };
            let req = Request::new(head.request, version, body, &info, interim.clone());
            let answer = match writer {
                None => self
                    .call_with_interim(service.call(req), &interim)
                    .await
                    .map(|resp| (resp, false)),
                Some(writer) => {
                    self.call_streaming(service, req, framing, writer, &interim)
                        .await
                }
            };
            interim.close();
            let (resp, body_unread) = match answer {
                Ok(answer) => answer,
                Err(stop) => return self.stop(stop).await,
            };
            let keep_alive = wants_keep_alive && !body_unread && !self.shutdown.is_triggered();
            match self
                .write_response(resp, is_head, version, keep_alive)
                .await
            {
                Ok(true) => {}
                Ok(false) => {
                    if !self.rbuf.is_empty() || body_unread {
                        // The client pipelined more, or sends a body nobody read: drain
                        // it so the close does not reset the connection under the
                        // response.
                        self.linger().await;
                    }
                    return Ok(());
                }
                Err(stop) => return self.stop(stop).await,
            }
        }
    }

    /// Calls the service while the body streams to it. Returns the response and whether
    /// part of the body was left unread in the connection: the response came first (the
    /// application answered without reading all of it), and the body stops there — the
    /// connection then closes after the response, as it can no longer find the next
    /// request. A body that fails (client gone, timeout, too large) ends the exchange
    /// with that error; the application sees its reads fail.
    async fn call_streaming<S: Service>(
        &mut self,
        service: &S,
        req: Request,
        framing: BodyFraming,
        writer: BodyWriter,
        interim: &Interim,
    ) -> Result<(Response, bool), Stop> {
        let mut call = pin!(service.call(req));
        // The body first: when the last bytes and the response are ready in the same
        // turn, the body counts as read and the connection stays open. 1xx responses
        // wait until the body is in (the connection reads while the body arrives).
        let early = {
            let pump = pin!(async {
                let mut sink = PipeSink::new(writer);
                self.read_body_into(framing, &mut sink).await?;
                sink.finish().await.map_err(|_| Stop::ServerError)
            });
            match select(pump, call.as_mut()).await {
                Either::Left((Ok(()), _)) => None,
                Either::Left((Err(stop), _)) => return Err(stop),
                Either::Right((resp, _)) => Some(resp),
            }
        };
        match early {
            Some(resp) => Ok((resp, true)),
            None => Ok((self.call_with_interim(call, interim).await?, false)),
        }
    }

    /// Awaits the service's response, writing the 1xx responses it sends meanwhile; those
    /// still queued when the response is ready go out before it.
    async fn call_with_interim<F: Future<Output = Response>>(
        &mut self,
        call: F,
        interim: &Interim,
    ) -> Result<Response, Stop> {
        let mut call = pin!(call);
        loop {
            let next = poll_fn(|cx| {
                if let Poll::Ready(r) = interim.poll_next(cx) {
                    return Poll::Ready(Err(r));
                }
                call.as_mut().poll(cx).map(Ok)
            })
            .await;
            match next {
                Ok(resp) => {
                    while let Some(r) = interim.take() {
                        self.write_interim(r).await?;
                    }
                    return Ok(resp);
                }
                Err(r) => self.write_interim(r).await?,
            }
        }
    }

    async fn write_interim(&mut self, r: InterimResponse) -> Result<(), Stop> {
        self.wbuf.clear();
        encode_interim(&mut self.wbuf, r.status, &r.headers);
        self.write_wbuf().await?;
        self.flush().await
    }

    /// Ends the connection as `stop` says.
    async fn stop(&mut self, stop: Stop) -> io::Result<()> {
        match stop {
            Stop::Close => Ok(()),
            Stop::Io(e) => Err(e),
            Stop::Reply(e) => {
                tracing::debug!(
                    status = e.status(),
                    reason = e.message().trim_end(),
                    "refusing request"
                );
                self.reply_and_close(e.status(), e.message()).await;
                Ok(())
            }
            Stop::ServerError => {
                self.reply_and_close(500, "internal server error\n").await;
                Ok(())
            }
        }
    }

    /// Reads until a complete request head is buffered, then takes it out of the buffer.
    async fn read_head(&mut self) -> Result<Head, Stop> {
        // The header timeout runs from the first byte of the head; before that the
        // connection is idle (keep-alive or fresh).
        let mut deadline =
            (!self.rbuf.is_empty()).then(|| Instant::now() + self.cfg.header_timeout);
        let mut parse = !self.rbuf.is_empty();
        let eager_limit = self.cfg.max_header_bytes.min(self.cfg.max_uri_len);
        loop {
            if parse {
                match parse_head(&self.rbuf, self.cfg) {
                    Ok(Some(head)) => {
                        self.rbuf.advance(head.len);
                        return Ok(head);
                    }
                    Ok(None) => {}
                    Err(e) => return Err(Stop::Reply(e)),
                }
            }
            let idle = deadline.is_none();
            if idle && self.shutdown.is_triggered() {
                return Err(Stop::Close);
            }
            let until = deadline.unwrap_or_else(|| Instant::now() + self.cfg.idle_timeout);
            let before = self.rbuf.len();
            match self.fill(until, idle).await {
                Filled::Data(_) => {
                    if deadline.is_none() {
                        deadline = Some(Instant::now() + self.cfg.header_timeout);
                    }
                    // A head can only have completed (or gone wrong) if a line ended;
                    // re-parsing only then keeps a byte-at-a-time client from costing a
                    // full parse per byte. Past the limits it must be parsed to refuse it.
                    parse = memchr::memchr(b'\n', &self.rbuf[before..]).is_some()
                        || self.rbuf.len() > eager_limit;
                }
                Filled::Eof => return Err(Stop::Close),
                Filled::TimedOut if idle => return Err(Stop::Close),
                Filled::TimedOut => return Err(Stop::Reply(H1Error::Timeout)),
                Filled::Shutdown => return Err(Stop::Close),
                Filled::Err(e) => return Err(Stop::Io(e)),
            }
        }
    }

    /// Reads more bytes onto the end of the read buffer.
    pub(super) async fn fill(&mut self, deadline: Instant, watch_shutdown: bool) -> Filled {
        let mut buf = std::mem::take(&mut self.rbuf);
        if buf.capacity() - buf.len() < READ_BUF_SIZE / 2 {
            // Also moves unconsumed bytes back to the front when the buffer is unshared,
            // so a connection keeps one read buffer for its whole life.
            buf.reserve(READ_BUF_SIZE);
        }
        let len = buf.len();
        let cap = buf.capacity();
        let shutdown = if watch_shutdown {
            Some(self.shutdown)
        } else {
            None
        };
        match race(self.io.read(buf.slice_mut(len..cap)), deadline, shutdown).await {
            Raced::Done((res, slice)) => {
                self.rbuf = slice.into_inner();
                match res {
                    Ok(0) => Filled::Eof,
                    Ok(n) => Filled::Data(n),
                    Err(e) => Filled::Err(e),
                }
            }
            Raced::TimedOut => Filled::TimedOut,
            Raced::Shutdown => Filled::Shutdown,
        }
    }

    /// Writes all of `buf` within the write timeout; gives the buffer back for reuse.
    pub(super) async fn write_buf<B: monoio::buf::IoBuf + 'static>(
        &mut self,
        buf: B,
    ) -> Result<B, Stop> {
        let deadline = Instant::now() + self.cfg.write_timeout;
        match race(self.io.write_all(buf), deadline, None).await {
            Raced::Done((Ok(_), buf)) => Ok(buf),
            Raced::Done((Err(e), _)) => Err(Stop::Io(e)),
            Raced::TimedOut | Raced::Shutdown => Err(Stop::Close),
        }
    }

    /// Writes the write buffer and clears it.
    pub(super) async fn write_wbuf(&mut self) -> Result<(), Stop> {
        let buf = std::mem::take(&mut self.wbuf);
        let mut buf = self.write_buf(buf).await?;
        buf.clear();
        self.wbuf = buf;
        Ok(())
    }

    pub(super) async fn flush(&mut self) -> Result<(), Stop> {
        let deadline = Instant::now() + self.cfg.write_timeout;
        match race(self.io.flush(), deadline, None).await {
            Raced::Done(Ok(())) => Ok(()),
            Raced::Done(Err(e)) => Err(Stop::Io(e)),
            Raced::TimedOut | Raced::Shutdown => Err(Stop::Close),
        }
    }

    /// Sends a short plain-text answer with `Connection: close`, then closes gently.
    async fn reply_and_close(&mut self, status: u16, text: &'static str) {
        let resp = crate::Response::text(status, text);
        let mut buf = std::mem::take(&mut self.wbuf);
        buf.clear();
        encode_head(
            &mut buf,
            status,
            &resp.headers,
            Framing::Length(text.len() as u64),
            ConnectionHeader::Close,
            self.cfg.server_header.as_ref(),
        );
        buf.extend_from_slice(text.as_bytes());
        if self.write_buf(buf).await.is_ok() && self.flush().await.is_ok() {
            self.linger().await;
        }
    }

    /// Half-closes, then reads and drops what the client still sends, for a bounded time
    /// and amount: closing a socket with unread input makes the kernel send a reset,
    /// which can destroy the response before the client read it.
    async fn linger(&mut self) {
        if self.io.shutdown().await.is_err() {
            return;
        }
        let end = Instant::now() + LINGER_TIME;
        let mut drained = 0;
        self.rbuf.clear();
        while drained < LINGER_MAX_BYTES {
            let deadline = (Instant::now() + LINGER_READ_TIMEOUT).min(end);
            match self.fill(deadline, false).await {
                Filled::Data(n) => {
                    drained += n;
                    self.rbuf.clear();
                }
                _ => return,
            }
        }
    }
}
