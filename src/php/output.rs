//! A request's output on the PHP thread. Past a threshold it spills into a memfd (as
//! nginx spills FastCGI responses to temp files), so a huge response never sits on the
//! heap and the worker can hand it to the core and move on.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};

use super::reply::RequestControl;
use super::response::ScriptBody;
use super::spill_budget::{SpillBudget, SpillLease};

pub(crate) struct Output {
    buf: BytesMut,
    spill: Option<Spill>,
    threshold: usize,
    /// The server-wide memfd budget and the request (whose abort ends a wait for room).
    budget: Option<(Arc<SpillBudget>, Arc<RequestControl>)>,
    lease: Option<SpillLease>,
    /// No room came under the budget: the output is dropped, the answer will be a 503.
    refused: bool,
}

struct Spill {
    file: File,
    len: u64,
    /// Bytes already handed out by `take_spilled` (a response that became a stream).
    taken: u64,
}

/// How long output waits for room under SPILL_MEMORY_LIMIT before the response is
/// refused (503): long enough to ride out a spike, short enough that slow readers
/// cannot park the PHP workers (a waiting worker serves nobody).
const SPILL_WAIT: Duration = Duration::from_secs(1);

impl Output {
    pub fn new(threshold: usize) -> Self {
        Output {
            buf: BytesMut::new(),
            spill: None,
            threshold,
            budget: None,
            lease: None,
            refused: false,
        }
    }

    /// Output whose spilled bytes count against `budget` (when there is one).
    pub fn with_budget(
        threshold: usize,
        budget: Option<&Arc<SpillBudget>>,
        control: &Arc<RequestControl>,
    ) -> Self {
        Output {
            budget: budget.map(|b| (Arc::clone(b), Arc::clone(control))),
            ..Output::new(threshold)
        }
    }

    /// Room in the budget for `n` more spilled bytes; waits a moment while other
    /// responses hold too much. False when none came (or the request was aborted): the
    /// response is then refused, and what it held is given back at once.
    fn reserve(&mut self, n: usize) -> bool {
        let Some((budget, control)) = &self.budget else {
            return true;
        };
        let lease = self
            .lease
            .get_or_insert_with(|| SpillLease::new(Arc::clone(budget)));
        let until = Instant::now() + SPILL_WAIT;
        if lease.grow(n as u64, || control.is_aborted() || Instant::now() >= until) {
            return true;
        }
        budget.note_refused();
        tracing::warn!(
            held = budget.held(),
            limit = budget.limit(),
            "no room for PHP output under SPILL_MEMORY_LIMIT: answering 503"
        );
        self.refused = true;
        self.spill = None;
        self.lease = None;
        self.buf = BytesMut::new();
        false
    }

    pub fn len(&self) -> u64 {
        self.buf.len() as u64 + self.spill.as_ref().map_or(0, |s| s.len - s.taken)
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.refused {
            return Ok(());
        }
        if self.spill.is_some() {
            if !self.reserve(data.len()) {
                return Ok(());
            }
            if let Some(spill) = &mut self.spill {
                spill.file.write_all(data)?;
                spill.len += data.len() as u64;
            }
            return Ok(());
        }
        if self.buf.len() + data.len() > self.threshold {
            if !self.reserve(self.buf.len() + data.len()) {
                return Ok(());
            }
            let mut file = memfd()?;
            file.write_all(&self.buf)?;
            file.write_all(data)?;
            let len = (self.buf.len() + data.len()) as u64;
            self.buf = BytesMut::new();
            self.spill = Some(Spill {
                file,
                len,
                taken: 0,
            });
            return Ok(());
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(data.len().max(4096));
        }
        self.buf.extend_from_slice(data);
        Ok(())
    }

    /// Everything written since the last call, for a streamed chunk. Streaming output
    /// never spills: backpressure bounds it instead.
    pub fn take_chunk(&mut self) -> Bytes {
        self.buf.split().freeze()
    }

    /// For a response that spilled and then became a stream (`flush()` after a big
    /// page): the next at most `max` bytes of the file, in order; None once it is all
    /// taken (the file is then closed and its share of SPILL_MEMORY_LIMIT given back).
    /// Bytes written since stay behind it, in order.
    pub fn take_spilled(&mut self, max: usize) -> io::Result<Option<Bytes>> {
        let Some(spill) = &mut self.spill else {
            return Ok(None);
        };
        let want = (spill.len - spill.taken).min(max.max(1) as u64) as usize;
        if want == 0 {
            self.spill = None;
            self.lease = None;
            return Ok(None);
        }
        let mut piece = vec![0; want];
        spill.file.read_exact_at(&mut piece, spill.taken)?;
        spill.taken += want as u64;
        Ok(Some(Bytes::from(piece)))
    }

    /// Streaming keeps chunks in memory; only a buffered response spills.
    pub fn set_unbounded(&mut self) {
        self.threshold = usize::MAX;
    }

    pub fn into_body(self) -> ScriptBody {
        if self.refused {
            return ScriptBody::Refused;
        }
        match self.spill {
            Some(spill) => {
                // Only a stream takes from the file, and a stream never ends in a body.
                debug_assert_eq!(spill.taken, 0);
                ScriptBody::Spilled {
                    file: spill.file,
                    len: spill.len,
                    lease: self.lease,
                }
            }
            None => ScriptBody::Bytes(self.buf.freeze()),
        }
    }
}

fn memfd() -> io::Result<File> {
    // SAFETY: memfd_create with a valid NUL-terminated name; on success we own the fd.
    let fd = unsafe { libc::memfd_create(c"uring_php-output".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh descriptor nobody else owns.
    Ok(unsafe { File::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_output_stays_in_memory() {
        let mut o = Output::new(16);
        o.write(b"hello ").unwrap();
        o.write(b"world").unwrap();
        assert_eq!(o.len(), 11);
        match o.into_body() {
            ScriptBody::Bytes(b) => assert_eq!(&b[..], b"hello world"),
            other => panic!("expected bytes, got {other:?}"),
        }
    }

    #[test]
    fn large_output_spills_to_memfd_intact() {
        let mut o = Output::new(8);
        o.write(b"0123").unwrap();
        o.write(b"456789abcdef").unwrap();
        o.write(b"XYZ").unwrap();
        let body = o.into_body();
        assert!(matches!(body, ScriptBody::Spilled { .. }));
        assert_eq!(body.to_vec().unwrap(), b"0123456789abcdefXYZ");
    }

    #[test]
    fn spilled_output_streams_out_in_order() {
        let mut o = Output::new(8);
        o.write(b"0123456789").unwrap();
        o.set_unbounded();
        o.write(b"abc").unwrap();
        let mut got = Vec::new();
        while let Some(piece) = o.take_spilled(4).unwrap() {
            assert!(piece.len() <= 4);
            got.extend_from_slice(&piece);
        }
        got.extend_from_slice(&o.take_chunk());
        o.write(b"tail").unwrap();
        assert!(o.take_spilled(4).unwrap().is_none());
        got.extend_from_slice(&o.take_chunk());
        assert_eq!(got, b"0123456789abctail");
        assert_eq!(o.len(), 0);
    }
}
