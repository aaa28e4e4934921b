//! A request body handed to the application while it still arrives
//! (`REQUEST_BUFFERING=off`, nginx's `fastcgi_request_buffering off`).
//!
//! The connection (an async task on a core) writes; the application reads on a thread of
//! its own and blocks until data comes. At most [`PIPE_BUFFER`] bytes wait unread: a
//! writer past it waits (the core stops reading the socket, or on HTTP/2 stops giving
//! flow-control credit back), so a client can never get further ahead of the reader.
//! Either side going away ends the other's wait: a reader sees an error when the body is
//! cut short, a writer stops when nobody reads any more.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::io;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Poll, Waker};

use bytes::{Buf, Bytes};

/// Unread bytes a pipe holds before its writer waits.
pub const PIPE_BUFFER: usize = 256 * 1024;

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    readable: Condvar,
    /// The body's length when the client declared it.
    declared: Option<u64>,
}

#[derive(Debug, Default)]
struct State {
    chunks: VecDeque<Bytes>,
    buffered: usize,
    end: End,
    reader_gone: bool,
    /// The writer task, waiting for room.
    writer: Option<Waker>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum End {
    #[default]
    Open,
    Complete,
    /// The client left, timed out or sent too much: the body is incomplete.
    Failed,
}

/// A new pipe for a body of `declared` bytes (when the client said).
pub fn body_pipe(declared: Option<u64>) -> (BodyWriter, BodyReader) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        readable: Condvar::new(),
        declared,
    });
    (
        BodyWriter {
            shared: shared.clone(),
            finished: false,
        },
        BodyReader { shared },
    )
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the queue half-updated (every
        // update is a push or pop), so a poisoned lock is still usable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The receiving end's handle: owned by the connection task.
#[derive(Debug)]
pub struct BodyWriter {
    shared: Arc<Shared>,
    finished: bool,
}

/// Nobody reads this body any more (the application finished without it).
#[derive(Debug, PartialEq, Eq)]
pub struct ReaderGone;

impl BodyWriter {
    /// Queues `data`, first waiting while the pipe is full. Fails once the reader is gone.
    pub async fn send(&mut self, data: Bytes) -> Result<(), ReaderGone> {
        let mut data = Some(data);
        poll_fn(|cx| {
            let mut st = self.shared.lock();
            if st.reader_gone {
                return Poll::Ready(Err(ReaderGone));
            }
            if st.buffered >= PIPE_BUFFER {
                st.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            match data.take() {
                Some(d) if !d.is_empty() => {
                    st.buffered += d.len();
                    st.chunks.push_back(d);
                    drop(st);
                    self.shared.readable.notify_one();
                }
                _ => {}
            }
            Poll::Ready(Ok(()))
        })
        .await
    }

    /// Whether the reader went away (its result no longer matters).
    pub fn reader_gone(&self) -> bool {
        self.shared.lock().reader_gone
    }

    /// The body is complete: the reader sees its end after the queued bytes.
    pub fn finish(mut self) {
        self.finished = true;
        self.close(End::Complete);
    }

    fn close(&self, end: End) {
        let mut st = self.shared.lock();
        if st.end == End::Open {
            st.end = end;
        }
        drop(st);
        self.shared.readable.notify_all();
    }
}

impl Drop for BodyWriter {
    fn drop(&mut self) {
        if !self.finished {
            self.close(End::Failed);
        }
    }
}

/// The application's end: blocking reads, from any thread but a core's.
#[derive(Debug)]
pub struct BodyReader {
    shared: Arc<Shared>,
}

impl BodyReader {
    /// The length the client declared, if it did.
    pub fn declared_len(&self) -> Option<u64> {
        self.shared.declared
    }

    /// Fills `buf` completely, or up to the end of the body; 0 at the end. Blocks while
    /// no data is there. A body cut short is an error once its queued bytes are read.
    ///
    /// Filling the whole buffer is what PHP's form-data reader expects of a SAPI (it
    /// stops at the first short read), and what php-fpm's FastCGI reader does.
    pub fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut filled = 0;
        let mut st = self.shared.lock();
        while filled < buf.len() {
            if let Some(chunk) = st.chunks.front_mut() {
                let n = chunk.len().min(buf.len() - filled);
                buf[filled..filled + n].copy_from_slice(&chunk[..n]);
                chunk.advance(n);
                if chunk.is_empty() {
                    st.chunks.pop_front();
                }
                st.buffered -= n;
                filled += n;
                if let Some(w) = st.writer.take() {
                    w.wake();
                }
                continue;
            }
            match st.end {
                End::Complete => break,
                End::Failed if filled == 0 => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "request body cut short",
                    ))
                }
                End::Failed => break,
                End::Open => {
                    st = self
                        .shared
                        .readable
                        .wait(st)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
        Ok(filled)
    }
}

impl Drop for BodyReader {
    fn drop(&mut self) {
        let mut st = self.shared.lock();
        st.reader_gone = true;
        st.chunks.clear();
        st.buffered = 0;
        if let Some(w) = st.writer.take() {
            w.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn reader_gets_every_byte_in_order_across_threads() {
        let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 253) as u8).collect();
        let (mut w, r) = body_pipe(Some(data.len() as u64));
        let reader = std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 10_000];
            loop {
                let n = r.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                // Every read but the last fills the buffer.
                assert!(n == buf.len() || out.len() + n == 3_000_000);
                out.extend_from_slice(&buf[..n]);
            }
            out
        });
        let sent = data.clone();
        block_on(async move {
            for piece in sent.chunks(7777) {
                w.send(Bytes::copy_from_slice(piece)).await.unwrap();
                assert!(w.shared.lock().buffered <= PIPE_BUFFER + 7777);
            }
            w.finish();
        });
        assert_eq!(reader.join().unwrap(), data);
    }

    #[test]
    fn a_body_cut_short_is_an_error_after_its_bytes() {
        let (mut w, r) = body_pipe(None);
        block_on(async {
            w.send(Bytes::from_static(b"abc")).await.unwrap();
        });
        drop(w);
        let mut buf = [0u8; 8];
        assert_eq!(r.read(&mut buf).unwrap(), 3);
        assert_eq!(&buf[..3], b"abc");
        assert!(r.read(&mut buf).is_err());
    }

    #[test]
    fn a_full_pipe_writer_stops_when_the_reader_leaves() {
        let (mut w, r) = body_pipe(None);
        let leave = std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(50));
            drop(r);
        });
        let res = block_on(async {
            loop {
                if let Err(e) = w.send(Bytes::from(vec![0u8; 64 * 1024])).await {
                    return e;
                }
            }
        });
        assert_eq!(res, ReaderGone);
        assert!(w.reader_gone());
        leave.join().unwrap();
    }
}
