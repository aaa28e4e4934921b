//! Request bodies. The connection reads a body completely before the service sees the
//! request (as nginx does with `fastcgi_request_buffering on`), so a slow upload never
//! holds a PHP worker; bodies above a threshold are spooled to an unlinked temp file.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};

#[derive(Debug, Default)]
pub enum RequestBody {
    #[default]
    Empty,
    Memory(Bytes),
    /// Spooled to an unlinked file; `len` bytes from offset 0.
    File {
        file: File,
        len: u64,
    },
}

impl RequestBody {
    pub fn len(&self) -> u64 {
        match self {
            RequestBody::Empty => 0,
            RequestBody::Memory(b) => b.len() as u64,
            RequestBody::File { len, .. } => *len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns 0 at the end. Safe to call from
    /// any thread (positional reads on the file).
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            RequestBody::Empty => Ok(0),
            RequestBody::Memory(b) => {
                let start = (offset.min(b.len() as u64)) as usize;
                let n = buf.len().min(b.len() - start);
                buf[..n].copy_from_slice(&b[start..start + n]);
                Ok(n)
            }
            RequestBody::File { file, len } => {
                if offset >= *len {
                    return Ok(0);
                }
                let want = buf.len().min((*len - offset) as usize);
                file.read_at(&mut buf[..want], offset)
            }
        }
    }

    /// The whole body in memory (reads a spooled file back). For small bodies and tests.
    pub fn to_bytes(&self) -> io::Result<Bytes> {
        match self {
            RequestBody::Empty => Ok(Bytes::new()),
            RequestBody::Memory(b) => Ok(b.clone()),
            RequestBody::File { len, .. } => {
                let mut out = BytesMut::zeroed(*len as usize);
                let mut off = 0usize;
                while off < out.len() {
                    let n = self.read_at(off as u64, &mut out[off..])?;
                    if n == 0 {
                        return Err(io::Error::new(
                            io::ErrorKind::UnexpectedEof,
                            "spool file shrank",
                        ));
                    }
                    off += n;
                }
                Ok(out.freeze())
            }
        }
    }
}

/// Where and when request bodies go to disk.
#[derive(Clone, Debug)]
pub struct SpoolConfig {
    /// Bodies larger than this many bytes are written to a temp file instead of memory.
    pub threshold: usize,
    /// Directory for the (immediately unlinked) temp files.
    pub dir: PathBuf,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            threshold: 1 << 20,
            dir: std::env::temp_dir(),
        }
    }
}
