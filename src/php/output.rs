//! A request's output on the PHP thread. Past a threshold it spills into a memfd (as
//! nginx spills FastCGI responses to temp files), so a huge response never sits on the
//! heap and the worker can hand it to the core and move on.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::FromRawFd;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};

use super::reply::RequestControl;
use super::response::ScriptBody;
use super::spill_budget::{SpillBudget, SpillLease};

pub(crate) struct Output {
    buf: BytesMut,
    spill: Option<(File, u64)>,
    threshold: usize,
    /// The server-wide memfd budget and the request (whose abort ends a wait for room).
    budget: Option<(Arc<SpillBudget>, Arc<RequestControl>)>,
    lease: Option<SpillLease>,
}

impl Output {
    pub fn new(threshold: usize) -> Self {
        Output {
            buf: BytesMut::new(),
            spill: None,
            threshold,
            budget: None,
            lease: None,
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

    /// Room in the budget for `n` more spilled bytes; waits while other responses hold
    /// too much. Fails when the request is aborted while it waits.
    fn reserve(&mut self, n: usize) -> io::Result<()> {
        let Some((budget, control)) = &self.budget else {
            return Ok(());
        };
        let lease = self
            .lease
            .get_or_insert_with(|| SpillLease::new(Arc::clone(budget)));
        if lease.grow(n as u64, || control.is_aborted()) {
            Ok(())
        } else {
            Err(io::Error::other(
                "request aborted while waiting for room under SPILL_MEMORY_LIMIT",
            ))
        }
    }

    pub fn len(&self) -> u64 {
        self.buf.len() as u64 + self.spill.as_ref().map_or(0, |(_, n)| *n)
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        if self.spill.is_some() {
            self.reserve(data.len())?;
            if let Some((file, len)) = &mut self.spill {
                file.write_all(data)?;
                *len += data.len() as u64;
            }
            return Ok(());
        }
        if self.buf.len() + data.len() > self.threshold {
            self.reserve(self.buf.len() + data.len())?;
            let mut file = memfd()?;
            file.write_all(&self.buf)?;
            file.write_all(data)?;
            let len = (self.buf.len() + data.len()) as u64;
            self.buf = BytesMut::new();
            self.spill = Some((file, len));
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

    /// Streaming keeps chunks in memory; only a buffered response spills.
    pub fn set_unbounded(&mut self) {
        self.threshold = usize::MAX;
    }

    pub fn into_body(self) -> ScriptBody {
        match self.spill {
            Some((file, len)) => ScriptBody::Spilled {
                file,
                len,
                lease: self.lease,
            },
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
}
