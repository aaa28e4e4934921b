//! Where the body readers of both protocols put the bytes they receive: a [`BodySink`]
//! that stores the whole body (request buffering), or a [`PipeSink`] that passes it on
//! to a service already running (streaming).

use std::io;

use bytes::BytesMut;

use super::spool::BodySink;
use crate::BodyWriter;

pub(crate) trait BodyTarget {
    /// Bytes received so far.
    fn len(&self) -> u64;
    /// Appends body bytes; call [`spill`](Self::spill) afterwards.
    fn extend(&mut self, data: &[u8]);
    /// The gathering buffer, for reading straight into it.
    fn take_buf(&mut self) -> BytesMut;
    fn put_buf(&mut self, buf: BytesMut);
    /// Moves what was gathered on (to disk, or to the reader); may wait for room.
    async fn spill(&mut self) -> io::Result<()>;
}

impl BodyTarget for BodySink<'_> {
    fn len(&self) -> u64 {
        BodySink::len(self)
    }
    fn extend(&mut self, data: &[u8]) {
        BodySink::extend(self, data)
    }
    fn take_buf(&mut self) -> BytesMut {
        BodySink::take_buf(self)
    }
    fn put_buf(&mut self, buf: BytesMut) {
        BodySink::put_buf(self, buf)
    }
    async fn spill(&mut self) -> io::Result<()> {
        BodySink::spill(self).await
    }
}

/// Passes body bytes to a [`BodyReader`](crate::BodyReader) as they come.
pub(crate) struct PipeSink {
    writer: BodyWriter,
    buf: BytesMut,
    sent: u64,
}

impl PipeSink {
    pub fn new(writer: BodyWriter) -> Self {
        PipeSink {
            writer,
            buf: BytesMut::new(),
            sent: 0,
        }
    }

    /// The body is complete.
    pub async fn finish(mut self) -> io::Result<()> {
        self.spill().await?;
        self.writer.finish();
        Ok(())
    }
}

impl BodyTarget for PipeSink {
    fn len(&self) -> u64 {
        self.sent + self.buf.len() as u64
    }
    fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }
    fn take_buf(&mut self) -> BytesMut {
        std::mem::take(&mut self.buf)
    }
    fn put_buf(&mut self, buf: BytesMut) {
        self.buf = buf;
    }
    async fn spill(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = self.buf.split().freeze();
        self.sent += data.len() as u64;
        if self.writer.send(data).await.is_err() {
            // Nobody reads the rest: the service has finished (or will at once) and its
            // response decides what happens to the connection, so the body waits here
            // rather than ending the exchange before that response is out.
            std::future::pending::<()>().await;
        }
        Ok(())
    }
}
