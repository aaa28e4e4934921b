//! Reading a request body: completely before the service sees the request (request
//! buffering, as nginx does in front of FastCGI: a slow upload then holds a connection,
//! never an application worker), or into a pipe to a service already running.

use bytes::Buf;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::time::Instant;

use super::body_target::BodyTarget;
use super::chunked::{ChunkedDecoder, Decoded};
use super::conn::{Conn, Filled, Stop};
use super::parse::{BodyFraming, Head};
use super::spool::BodySink;
use super::wait::{race, Raced};
use super::H1Error;
use crate::{RequestBody, Version};

/// Largest single read straight into a body buffer.
const BODY_READ: usize = 64 * 1024;

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

impl<IO: AsyncReadRent + AsyncWriteRent> Conn<'_, IO> {
    /// Reads the body `head` announces completely, into memory or a spool file.
    pub(super) async fn read_body(&mut self, head: &Head) -> Result<RequestBody, Stop> {
        if head.framing == BodyFraming::None {
            return Ok(RequestBody::Empty);
        }
        self.begin_body(head).await?;
        let cfg = self.cfg;
        let declared = head.framing.declared_len();
        let mut sink = BodySink::new(&cfg.spool, declared);
        if declared.is_some_and(|n| n > cfg.spool.threshold as u64) {
            sink.start_file().map_err(spool_failed)?;
        }
        self.read_body_into(head.framing, &mut sink).await?;
        sink.finish().await.map_err(spool_failed)
    }

    /// Refuses a body declared too large before a byte of it is read (and before inviting
    /// it with 100), else answers `Expect: 100-continue`.
    pub(super) async fn begin_body(&mut self, head: &Head) -> Result<(), Stop> {
        match head.framing {
            BodyFraming::None => Ok(()),
            BodyFraming::Length(n) if n > self.cfg.max_body_size => {
                Err(Stop::Reply(H1Error::PayloadTooLarge))
            }
            BodyFraming::Length(_) | BodyFraming::Chunked => self.send_continue(head).await,
        }
    }

    /// Reads a body framed as `framing` into `target` (after [`begin_body`](Self::begin_body)).
    pub(super) async fn read_body_into<T: BodyTarget>(
        &mut self,
        framing: BodyFraming,
        target: &mut T,
    ) -> Result<(), Stop> {
        match framing {
            BodyFraming::None => Ok(()),
            BodyFraming::Length(n) => self.read_length_body(n, target).await,
            BodyFraming::Chunked => self.read_chunked_body(target).await,
        }
    }

    async fn send_continue(&mut self, head: &Head) -> Result<(), Stop> {
        // An HTTP/1.0 client does not know 100 (RFC 9110 §10.1.1); a client that already
        // started sending the body does not need it.
        if head.expect_continue && head.version == Version::Http11 && self.rbuf.is_empty() {
            self.write_buf(CONTINUE).await?;
            self.flush().await?;
        }
        Ok(())
    }

    async fn read_length_body<T: BodyTarget>(&mut self, n: u64, sink: &mut T) -> Result<(), Stop> {
        let cfg = self.cfg;
        let have = (self.rbuf.len() as u64).min(n) as usize;
        sink.extend(&self.rbuf[..have]);
        self.rbuf.advance(have);
        let mut remaining = n - have as u64;
        while remaining > 0 {
            // Read straight into the body buffer, never past the body's end: what follows
            // it belongs to the next request and stays in the socket.
            let mut buf = sink.take_buf();
            let want = remaining.min(BODY_READ as u64) as usize;
            buf.reserve(want);
            let len = buf.len();
            let deadline = Instant::now() + cfg.body_timeout;
            match race(self.io.read(buf.slice_mut(len..len + want)), deadline, None).await {
                Raced::Done((Ok(0), _)) => return Err(Stop::Close),
                Raced::Done((Ok(got), slice)) => {
                    sink.put_buf(slice.into_inner());
                    remaining -= got as u64;
                }
                Raced::Done((Err(e), _)) => return Err(Stop::Io(e)),
                Raced::TimedOut | Raced::Shutdown => return Err(Stop::Reply(H1Error::Timeout)),
            }
            sink.spill().await.map_err(spool_failed)?;
        }
        Ok(())
    }

    async fn read_chunked_body<T: BodyTarget>(&mut self, sink: &mut T) -> Result<(), Stop> {
        let cfg = self.cfg;
        let mut decoder = ChunkedDecoder::new(cfg.max_header_bytes);
        loop {
            let mut used = 0;
            let done = loop {
                match decoder.decode(&self.rbuf[used..]).map_err(Stop::Reply)? {
                    Decoded::Data { data, consumed } => {
                        sink.extend(data);
                        used += consumed;
                        if sink.len() > cfg.max_body_size {
                            return Err(Stop::Reply(H1Error::PayloadTooLarge));
                        }
                    }
                    Decoded::NeedMore => {
                        used = self.rbuf.len();
                        break false;
                    }
                    Decoded::Done { consumed } => {
                        used += consumed;
                        break true;
                    }
                }
            };
            self.rbuf.advance(used);
            sink.spill().await.map_err(spool_failed)?;
            if done {
                return Ok(());
            }
            match self.fill(Instant::now() + cfg.body_timeout, false).await {
                Filled::Data(_) => {}
                Filled::Eof => return Err(Stop::Close),
                Filled::TimedOut | Filled::Shutdown => return Err(Stop::Reply(H1Error::Timeout)),
                Filled::Err(e) => return Err(Stop::Io(e)),
            }
        }
    }
}

fn spool_failed(e: std::io::Error) -> Stop {
    tracing::error!(error = %e, "could not spool a request body to disk");
    Stop::ServerError
}
