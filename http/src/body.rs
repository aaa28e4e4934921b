//! Request bodies. By default the connection reads a body completely before the service
//! sees the request (as nginx does with `fastcgi_request_buffering on`), so a slow upload
//! never holds a PHP worker; bodies above a threshold are spooled to an unlinked temp
//! file. With buffering off the service gets the request at once and the body streams
//! through a [`BodyReader`].

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use bytes::{Bytes, BytesMut};

use crate::BodyReader;

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
    /// Still arriving: read front to back, blocking, off the core threads.
    Stream(BodyReader),
}

impl RequestBody {
    /// The length: stored bodies' own, a streaming body's declared one (0 when the
    /// client did not declare it — see [`known_len`](Self::known_len)).
    pub fn len(&self) -> u64 {
        self.known_len().unwrap_or(0)
    }

    /// The length when it is known before the body is read.
    pub fn known_len(&self) -> Option<u64> {
        match self {
            RequestBody::Empty => Some(0),
            RequestBody::Memory(b) => Some(b.len() as u64),
            RequestBody::File { len, .. } => Some(*len),
            RequestBody::Stream(r) => r.declared_len(),
        }
    }

    /// No body at all (a streaming body of undeclared length is not empty).
    pub fn is_empty(&self) -> bool {
        self.known_len() == Some(0)
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns 0 at the end. Safe to call from
    /// any thread (positional reads on the file). A streaming body must be read front to
    /// back (`offset` is where the previous read ended) and never on a core thread: its
    /// reads block until the client sent the bytes.
    pub fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            RequestBody::Stream(r) => r.read(buf),
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
            RequestBody::Stream(r) => {
                let mut out = BytesMut::new();
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    let n = r.read(&mut buf)?;
                    if n == 0 {
                        return Ok(out.freeze());
                    }
                    out.extend_from_slice(&buf[..n]);
                }
            }
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
    /// Read each body completely before the service sees the request (true, nginx's
    /// default), or call the service once the head is read and stream the body to it.
    pub buffering: bool,
}

impl Default for SpoolConfig {
    fn default() -> Self {
        SpoolConfig {
            threshold: 1 << 20,
            dir: std::env::temp_dir(),
            buffering: true,
        }
    }
}
