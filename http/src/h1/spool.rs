//! Collecting a request body: in memory up to the spool threshold, then in an unlinked
//! temp file (as nginx's `client_body_temp_path`), so a large upload never sits on the
//! heap and nothing is left on disk if the process dies.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::BytesMut;

use crate::{RequestBody, SpoolConfig};

/// File writes are batched to this size.
const WRITE_CHUNK: usize = 64 * 1024;

/// Opens an anonymous read-write file in `dir`: O_TMPFILE where the filesystem has it,
/// else a uniquely named file that is unlinked at once.
pub(crate) fn open_spool_file(dir: &Path) -> io::Result<File> {
    let tmpfile = OpenOptions::new()
        .read(true)
        .write(true)
        .mode(0o600)
        .custom_flags(libc::O_TMPFILE)
        .open(dir);
    match tmpfile {
        Ok(f) => Ok(f),
        // Filesystems and kernels without O_TMPFILE answer with one of these.
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP | libc::EISDIR | libc::EINVAL | libc::ENOENT)
            ) && dir.is_dir() =>
        {
            open_named_then_unlink(dir)
        }
        Err(e) => Err(e),
    }
}

fn open_named_then_unlink(dir: &Path) -> io::Result<File> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = dir.join(format!(
            ".uring-http-body-{}-{n}-{nanos}",
            std::process::id()
        ));
        match OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(f) => {
                std::fs::remove_file(&path)?;
                return Ok(f);
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Where body bytes go while a body is read.
pub(crate) struct BodySink<'a> {
    cfg: &'a SpoolConfig,
    /// The body so far in memory mode; the not-yet-written tail in file mode.
    buf: BytesMut,
    file: Option<SpoolFile>,
}

struct SpoolFile {
    /// Kept to hand to the request; `io` writes through the runtime on a dup of it.
    std: File,
    io: monoio::fs::File,
    written: u64,
}

impl<'a> BodySink<'a> {
    /// A sink for a body of `expected` bytes when known (memory is reserved for it when it
    /// stays below the threshold).
    pub fn new(cfg: &'a SpoolConfig, expected: Option<u64>) -> Self {
        let cap = match expected {
            Some(n) if n <= cfg.threshold as u64 => n as usize,
            Some(_) => WRITE_CHUNK,
            None => 0,
        };
        BodySink {
            cfg,
            buf: BytesMut::with_capacity(cap),
            file: None,
        }
    }

    /// Bytes received so far.
    pub fn len(&self) -> u64 {
        self.file.as_ref().map_or(0, |f| f.written) + self.buf.len() as u64
    }

    /// Appends body bytes; call [`spill`](Self::spill) afterwards to keep memory bounded.
    pub fn extend(&mut self, data: &[u8]) {
        self.buf.extend_from_slice(data);
    }

    /// The spare room of the memory buffer, for reading straight into it (memory mode
    /// with a known length).
    pub fn take_buf(&mut self) -> BytesMut {
        std::mem::take(&mut self.buf)
    }

    pub fn put_buf(&mut self, buf: BytesMut) {
        self.buf = buf;
    }

    /// Moves buffered bytes to the temp file once the body outgrew the threshold, and then
    /// whenever a write chunk is full.
    pub async fn spill(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            if self.buf.len() <= self.cfg.threshold {
                return Ok(());
            }
            self.start_file()?;
        }
        if self.buf.len() >= WRITE_CHUNK {
            self.flush().await?;
        }
        Ok(())
    }

    /// Switches to file mode now (the length is known to be over the threshold).
    pub fn start_file(&mut self) -> io::Result<()> {
        if self.file.is_none() {
            let std = open_spool_file(&self.cfg.dir)?;
            let io = monoio::fs::File::from_std(std.try_clone()?)?;
            self.file = Some(SpoolFile {
                std,
                io,
                written: 0,
            });
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        let Some(file) = self.file.as_mut() else {
            return Ok(());
        };
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let n = buf.len() as u64;
        let (res, mut buf) = file.io.write_all_at(buf, file.written).await;
        res?;
        file.written += n;
        buf.clear();
        self.buf = buf;
        Ok(())
    }

    /// The complete body.
    pub async fn finish(mut self) -> io::Result<RequestBody> {
        if self.file.is_none() {
            return Ok(if self.buf.is_empty() {
                RequestBody::Empty
            } else {
                RequestBody::Memory(self.buf.freeze())
            });
        }
        self.flush().await?;
        let file = self.file.take().expect("file mode");
        Ok(RequestBody::File {
            file: file.std,
            len: file.written,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .build()
            .expect("runtime")
            .block_on(f)
    }

    #[test]
    fn anonymous_file_is_readable_and_writable() {
        use std::io::{Read, Seek, Write};
        let mut f = open_spool_file(&std::env::temp_dir()).unwrap();
        f.write_all(b"abc").unwrap();
        f.rewind().unwrap();
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        assert_eq!(s, "abc");
        let f2 = open_named_then_unlink(&std::env::temp_dir()).unwrap();
        drop(f2);
    }

    #[test]
    fn small_bodies_stay_in_memory() {
        let cfg = SpoolConfig {
            threshold: 10,
            dir: std::env::temp_dir(),
            buffering: true,
        };
        let body = block_on(async {
            let mut sink = BodySink::new(&cfg, None);
            sink.extend(b"hello");
            sink.spill().await.unwrap();
            sink.extend(b"world");
            sink.spill().await.unwrap();
            sink.finish().await.unwrap()
        });
        assert!(matches!(body, RequestBody::Memory(_)));
        assert_eq!(body.to_bytes().unwrap(), &b"helloworld"[..]);
    }

    #[test]
    fn large_bodies_go_to_an_unlinked_file() {
        let cfg = SpoolConfig {
            threshold: 10,
            dir: std::env::temp_dir(),
            buffering: true,
        };
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let body = block_on(async {
            let mut sink = BodySink::new(&cfg, None);
            for piece in data.chunks(7000) {
                sink.extend(piece);
                sink.spill().await.unwrap();
            }
            assert_eq!(sink.len(), data.len() as u64);
            sink.finish().await.unwrap()
        });
        let RequestBody::File { file, len } = &body else {
            panic!("expected a spooled body")
        };
        assert_eq!(*len, data.len() as u64);
        assert_eq!(file.metadata().unwrap().len(), data.len() as u64);
        assert_eq!(body.to_bytes().unwrap(), &data[..]);
    }
}
