//! The response body: one enum rather than a boxed trait object, so the common case (a
//! whole response in one `Bytes`) costs no allocation beyond the bytes themselves.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;
use uring_php::php::{ReplyEvent, RequestControl};

/// Largest read from a spilled PHP response per frame.
const FILE_CHUNK: usize = 64 * 1024;

pub enum OutBody {
    /// The whole body; `None` once sent.
    Full(Option<Bytes>),
    /// A PHP response larger than the spill threshold, in a memfd.
    File(FileBody),
    /// A PHP response that called flush(): chunk by chunk from the worker.
    Stream(PhpStream),
}

impl OutBody {
    pub fn full(b: Bytes) -> OutBody {
        OutBody::Full(Some(b))
    }

    pub fn empty() -> OutBody {
        OutBody::Full(None)
    }
}

pub struct FileBody {
    pub file: tokio::fs::File,
    pub remaining: u64,
    pub buf: BytesMut,
}

/// Mirrors uring_php's `PhpStream`: taking the next chunk means the previous one was
/// handed to the connection, which releases a worker blocked on backpressure.
pub struct PhpStream {
    pub receiver: mpsc::UnboundedReceiver<ReplyEvent>,
    pub control: Arc<RequestControl>,
    pub in_flight: usize,
    pub limit: usize,
    pub ended: bool,
    pub deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Body for OutBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        match self.get_mut() {
            OutBody::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            OutBody::File(f) => f.poll_chunk(cx),
            OutBody::Stream(s) => s.poll_chunk(cx).map(|c| c.map(|b| Ok(Frame::data(b)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            OutBody::Full(b) => b.is_none(),
            OutBody::File(f) => f.remaining == 0,
            OutBody::Stream(s) => s.ended,
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            OutBody::Full(b) => SizeHint::with_exact(b.as_ref().map_or(0, |b| b.len() as u64)),
            OutBody::File(f) => SizeHint::with_exact(f.remaining),
            OutBody::Stream(_) => SizeHint::default(),
        }
    }
}

impl FileBody {
    fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        if self.remaining == 0 {
            return Poll::Ready(None);
        }
        let want = (self.remaining as usize).min(FILE_CHUNK);
        if self.buf.len() != want {
            // Zeroed once per chunk: spilled responses are over 1 MiB and rare.
            self.buf.resize(want, 0);
        }
        let mut rb = ReadBuf::new(&mut self.buf[..]);
        match Pin::new(&mut self.file).poll_read(cx, &mut rb) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
            Poll::Ready(Ok(())) => {
                let n = rb.filled().len();
                if n == 0 {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "spill file shrank",
                    ))));
                }
                self.remaining -= n as u64;
                let chunk = self.buf.split_to(n).freeze();
                self.buf.clear();
                Poll::Ready(Some(Ok(Frame::data(chunk))))
            }
        }
    }
}

impl PhpStream {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.in_flight > 0 {
            self.control.consumed(self.in_flight, self.limit);
            self.in_flight = 0;
        }
        if self.ended {
            return Poll::Ready(None);
        }
        if let Some(d) = self.deadline.as_mut() {
            if d.as_mut().poll(cx).is_ready() {
                // SSE_TIMEOUT: end the stream; the script sees the client as gone.
                self.ended = true;
                self.control.abort();
                return Poll::Ready(None);
            }
        }
        match self.receiver.poll_recv(cx) {
            Poll::Ready(Some(ReplyEvent::Chunk(b))) => {
                self.in_flight = b.len();
                Poll::Ready(Some(b))
            }
            Poll::Ready(Some(ReplyEvent::StreamEnd)) | Poll::Ready(None) => {
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(other)) => {
                tracing::error!(event = ?other, "unexpected event in a PHP stream");
                self.ended = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for PhpStream {
    fn drop(&mut self) {
        if !self.ended {
            // The connection dropped the body before its end: the client is gone.
            self.control.abort();
        }
    }
}
