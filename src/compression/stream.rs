//! Compressed bodies produced over time: a stream compressed chunk by chunk (each chunk
//! flushed, so SSE events arrive as they are sent), and a file region read through the
//! runtime in 64 KiB pieces and compressed as it goes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;
use uring_http::BodyStream;

use super::encoder::Encoder;

const FILE_PIECE: usize = 64 * 1024;

/// Compresses another stream: every chunk in, a flushed compressed chunk out (an empty
/// chunk, a flush point, stays one).
pub struct CompressStream {
    inner: Pin<Box<dyn BodyStream>>,
    enc: Option<Encoder>,
}

impl CompressStream {
    pub fn new(inner: Pin<Box<dyn BodyStream>>, enc: Encoder) -> Self {
        CompressStream {
            inner,
            enc: Some(enc),
        }
    }
}

impl BodyStream for CompressStream {
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        let Some(enc) = this.enc.as_mut() else {
            return Poll::Ready(None);
        };
        match this.inner.as_mut().poll_chunk(cx) {
            Poll::Ready(Some(chunk)) => {
                let res = (|| {
                    if !chunk.is_empty() {
                        enc.write(&chunk)?;
                    }
                    enc.flush()
                })();
                match res {
                    Ok(()) => Poll::Ready(Some(Bytes::from(enc.take()))),
                    Err(e) => {
                        tracing::error!(error = %e, "compressing a stream failed; ending it");
                        this.enc = None;
                        Poll::Ready(None)
                    }
                }
            }
            Poll::Ready(None) => {
                let Some(enc) = this.enc.take() else {
                    return Poll::Ready(None);
                };
                match enc.finish() {
                    Ok(rest) if !rest.is_empty() => Poll::Ready(Some(Bytes::from(rest))),
                    _ => Poll::Ready(None),
                }
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

type Read = Pin<Box<dyn Future<Output = (io::Result<usize>, Vec<u8>)>>>;

/// Compresses `len` bytes of a file from `offset`.
pub struct FileCompressStream {
    file: Rc<monoio::fs::File>,
    /// The file body's guard, kept while the file is read.
    _guard: Option<uring_http::response::BodyGuard>,
    pos: u64,
    end: u64,
    reading: Option<Read>,
    spare: Option<Vec<u8>>,
    enc: Option<Encoder>,
}

impl FileCompressStream {
    pub fn new(
        file: Rc<monoio::fs::File>,
        offset: u64,
        len: u64,
        enc: Encoder,
        guard: Option<uring_http::response::BodyGuard>,
    ) -> Self {
        FileCompressStream {
            file,
            _guard: guard,
            pos: offset,
            end: offset + len,
            reading: None,
            spare: None,
            enc: Some(enc),
        }
    }
}

impl BodyStream for FileCompressStream {
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let this = self.get_mut();
        loop {
            if this.enc.is_none() {
                return Poll::Ready(None);
            }
            if this.pos >= this.end {
                let rest = this.enc.take().map(|e| e.finish());
                return match rest {
                    Some(Ok(rest)) if !rest.is_empty() => Poll::Ready(Some(Bytes::from(rest))),
                    _ => Poll::Ready(None),
                };
            }
            let read = this.reading.get_or_insert_with(|| {
                let want = (this.end - this.pos).min(FILE_PIECE as u64) as usize;
                let mut buf = this.spare.take().unwrap_or_default();
                buf.clear();
                buf.reserve(want);
                let (file, pos) = (Rc::clone(&this.file), this.pos);
                Box::pin(async move {
                    let (res, mut buf) = file.read_at(buf, pos).await;
                    if let Ok(n) = res {
                        buf.truncate(n.min(want));
                    }
                    (res, buf)
                })
            });
            let (res, buf) = match read.as_mut().poll(cx) {
                Poll::Ready(done) => done,
                Poll::Pending => return Poll::Pending,
            };
            this.reading = None;
            let enc = this.enc.as_mut().expect("checked above");
            match res {
                Ok(n) if n > 0 => {
                    this.pos += buf.len() as u64;
                    if let Err(e) = enc.write(&buf) {
                        tracing::error!(error = %e, "compressing a file failed; ending the body");
                        this.enc = None;
                        return Poll::Ready(None);
                    }
                    this.spare = Some(buf);
                    let out = enc.take();
                    if !out.is_empty() {
                        return Poll::Ready(Some(Bytes::from(out)));
                    }
                }
                Ok(_) => {
                    // The file shrank under us: end the body short (the client sees a
                    // truncated encoding rather than invented bytes).
                    tracing::warn!("file shorter than its length while compressing it");
                    this.enc = None;
                    return Poll::Ready(None);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading a file to compress it failed");
                    this.enc = None;
                    return Poll::Ready(None);
                }
            }
        }
    }
}
