//! Responses. The body is either complete (bytes or a file region, so Content-Length is
//! known) or a stream of chunks (chunked on HTTP/1.1, DATA frames on HTTP/2).

use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::Bytes;

use crate::Headers;

pub struct Response {
    pub status: u16,
    /// In order; the protocol layer adds Date, Content-Length / Transfer-Encoding and
    /// Connection itself and ignores those names here.
    pub headers: Headers,
    pub body: Body,
    /// The server turned the request away unserved to protect itself (a full queue, a
    /// rate limit). HTTP/2 counts such streams with the ones the client cancelled when
    /// it judges a connection abusive (rapid reset): a flood answered with 503 costs
    /// work that serves nobody, even though the answer beat the client's RST_STREAM.
    pub refused: bool,
}

impl Response {
    pub fn new(status: u16, headers: Headers, body: Body) -> Self {
        Response {
            status,
            headers,
            body,
            refused: false,
        }
    }

    /// A short plain-text response, as the server's own error answers use.
    pub fn text(status: u16, text: &'static str) -> Self {
        let mut headers = Headers::with_capacity(1);
        headers.push(
            "Content-Type",
            Bytes::from_static(b"text/plain; charset=utf-8"),
        );
        Response {
            status,
            headers,
            body: Body::Bytes(Bytes::from_static(text.as_bytes())),
            refused: false,
        }
    }
}

/// A stream that is already over: the body of a response whose length is unknown and
/// that has no bytes to send (e.g. PHP's answer to HEAD, which ran without output).
pub struct NoBytes;

impl BodyStream for NoBytes {
    fn poll_chunk(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        Poll::Ready(None)
    }
}

/// Anything that must live exactly as long as a file body.
pub type BodyGuard = Box<dyn std::any::Any>;

pub enum Body {
    Empty,
    Bytes(Bytes),
    /// `len` bytes of `file` from `offset` (static files, spilled PHP output), read through
    /// the runtime (io_uring `read_at`, or `pread` on the epoll driver).
    File {
        file: Rc<monoio::fs::File>,
        offset: u64,
        len: u64,
        /// Kept until the body is sent or dropped: e.g. the account of the memory a
        /// spilled response holds, given back when the file is done with.
        guard: Option<BodyGuard>,
    },
    Stream(Pin<Box<dyn BodyStream>>),
}

impl Body {
    /// The length when known up front (everything but a stream).
    pub fn len(&self) -> Option<u64> {
        match self {
            Body::Empty => Some(0),
            Body::Bytes(b) => Some(b.len() as u64),
            Body::File { len, .. } => Some(*len),
            Body::Stream(_) => None,
        }
    }

    /// Whether the body is known to be empty (a stream is not, whatever it will yield).
    pub fn is_empty(&self) -> bool {
        self.len() == Some(0)
    }
}

/// A response body produced over time. The connection asks for the next chunk only after
/// the previous one was written, so a producer that counts what it handed out sees the
/// client's pace (backpressure). Dropping the stream before it ended means the client is
/// gone.
pub trait BodyStream {
    /// `Ready(Some(chunk))` for the next chunk (may be empty: a flush point),
    /// `Ready(None)` at the end.
    fn poll_chunk(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>>;
}
