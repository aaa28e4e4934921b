//! Writing a response: the head and a small body in one write, file regions read through
//! the runtime, streams as chunks flushed one by one.

use std::future::poll_fn;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent};

use super::conn::{Conn, Stop};
use super::encode::{chunk_header, encode_head, ConnectionHeader, Framing, LAST_CHUNK};
use crate::{Body, BodyStream, Response, Version};

/// Bodies up to this size are copied behind the head so both go in one write; larger
/// ones are written from their own buffer after the head.
const INLINE_BODY: usize = 32 * 1024;
/// Buffer for reading file bodies.
const FILE_BUF: usize = 64 * 1024;

impl<IO: AsyncReadRent + AsyncWriteRent> Conn<'_, IO> {
    /// Writes `resp`. Returns whether the connection may carry another request.
    pub(super) async fn write_response(
        &mut self,
        resp: Response,
        is_head: bool,
        version: Version,
        mut keep_alive: bool,
    ) -> Result<bool, Stop> {
        let Response {
            status,
            headers,
            body,
            ..
        } = resp;
        let status = if (100..=999).contains(&status) {
            status
        } else {
            500
        };
        let no_body = status < 200 || status == 204 || status == 304;
        // HEAD of a body whose length is unknown (a stream): say nothing about framing,
        // as nginx does for a FastCGI response to HEAD.
        let framing = if no_body || (is_head && matches!(body, Body::Stream(_))) {
            Framing::NoBody
        } else {
            match (&body, version) {
                (Body::Stream(_), Version::Http10) => Framing::UntilClose,
                (Body::Stream(_), _) => Framing::Chunked,
                (other, _) => Framing::Length(other.len().unwrap_or(0)),
            }
        };
        let send_body = !no_body && !is_head;
        if framing == Framing::UntilClose && send_body {
            keep_alive = false;
        }
        let connection = match (keep_alive, version) {
            (false, _) => ConnectionHeader::Close,
            (true, Version::Http10) => ConnectionHeader::KeepAlive,
            (true, _) => ConnectionHeader::Omit,
        };
        self.wbuf.clear();
        encode_head(
            &mut self.wbuf,
            status,
            &headers,
            framing,
            connection,
            self.cfg.server_header.as_ref(),
        );
        drop(headers);

        if !send_body {
            // Dropping a stream here tells its producer nobody will read it.
            drop(body);
            self.write_wbuf().await?;
        } else {
            match body {
                Body::Empty => self.write_wbuf().await?,
                Body::Bytes(bytes) => self.write_bytes_body(bytes).await?,
                Body::File {
                    file,
                    offset,
                    len,
                    guard: _kept_until_sent,
                } => self.write_file_body(file, offset, len).await?,
                Body::Stream(stream) => {
                    self.write_stream_body(stream, framing == Framing::Chunked)
                        .await?
                }
            }
        }
        self.flush().await?;
        Ok(keep_alive)
    }

    async fn write_bytes_body(&mut self, bytes: Bytes) -> Result<(), Stop> {
        if bytes.len() <= INLINE_BODY {
            self.wbuf.extend_from_slice(&bytes);
            return self.write_wbuf().await;
        }
        self.write_wbuf().await?;
        self.write_buf(bytes).await?;
        Ok(())
    }

    async fn write_file_body(
        &mut self,
        file: Rc<monoio::fs::File>,
        offset: u64,
        len: u64,
    ) -> Result<(), Stop> {
        if len <= INLINE_BODY as u64 {
            // Read the file region right behind the head: one write for both.
            let mut buf = std::mem::take(&mut self.wbuf);
            buf.reserve(len as usize);
            let head_len = buf.len();
            let end = head_len + len as usize;
            while buf.len() < end {
                let start = buf.len();
                let pos = offset + (start - head_len) as u64;
                let (res, slice) = file.read_at(buf.slice_mut(start..end), pos).await;
                buf = slice.into_inner();
                match res {
                    Ok(0) => return Err(file_shrank()),
                    Ok(_) => {}
                    Err(e) => return Err(Stop::Io(e)),
                }
            }
            self.wbuf = buf;
            return self.write_wbuf().await;
        }
        self.write_wbuf().await?;
        let mut buf = self
            .file_buf
            .take()
            .unwrap_or_else(|| BytesMut::with_capacity(FILE_BUF));
        let mut pos = offset;
        let end = offset + len;
        while pos < end {
            buf.clear();
            let want = (end - pos).min(FILE_BUF as u64) as usize;
            let (res, slice) = file.read_at(buf.slice_mut(0..want), pos).await;
            buf = slice.into_inner();
            match res {
                Ok(0) => return Err(file_shrank()),
                Ok(n) => pos += n as u64,
                Err(e) => return Err(Stop::Io(e)),
            }
            buf = self.write_buf(buf).await?;
        }
        buf.clear();
        self.file_buf = Some(buf);
        Ok(())
    }

    async fn write_stream_body(
        &mut self,
        mut stream: Pin<Box<dyn BodyStream>>,
        chunked: bool,
    ) -> Result<(), Stop> {
        // If the first chunk is ready now it goes out with the head; otherwise the head
        // goes alone, so the client sees the response start (SSE) while the producer works.
        let first = poll_fn(|cx| {
            Poll::Ready(match stream.as_mut().poll_chunk(cx) {
                Poll::Ready(chunk) => Some(chunk),
                Poll::Pending => None,
            })
        })
        .await;
        let mut next = match first {
            Some(chunk) => chunk,
            None => {
                self.write_wbuf().await?;
                self.flush().await?;
                poll_fn(|cx| stream.as_mut().poll_chunk(cx)).await
            }
        };
        // The stream is dropped on every error path by returning: the producer learns
        // the client is gone.
        loop {
            match next {
                Some(chunk) if chunk.is_empty() => {
                    // A flush point: if the head still waits in the buffer, send it now.
                    if !self.wbuf.is_empty() {
                        self.write_wbuf().await?;
                        self.flush().await?;
                    }
                }
                Some(chunk) => {
                    if chunked {
                        chunk_header(&mut self.wbuf, chunk.len());
                    }
                    if chunk.len() <= INLINE_BODY {
                        self.wbuf.extend_from_slice(&chunk);
                        if chunked {
                            self.wbuf.extend_from_slice(b"\r\n");
                        }
                        self.write_wbuf().await?;
                    } else {
                        self.write_wbuf().await?;
                        self.write_buf(chunk).await?;
                        if chunked {
                            self.write_buf(&b"\r\n"[..]).await?;
                        }
                    }
                    self.flush().await?;
                }
                None => {
                    if chunked {
                        self.wbuf.extend_from_slice(LAST_CHUNK);
                    }
                    return self.write_wbuf().await;
                }
            }
            // Ask for the next chunk only now that the previous one is written: that is
            // the backpressure the producer relies on.
            next = poll_fn(|cx| stream.as_mut().poll_chunk(cx)).await;
        }
    }
}

fn file_shrank() -> Stop {
    // Content-Length is promised (perhaps already sent): the only honest end is to close.
    Stop::Io(std::io::Error::new(
        std::io::ErrorKind::UnexpectedEof,
        "file body shorter than its length",
    ))
}
