//! What a PHP worker hands back.

use std::fs::File;

use bytes::Bytes;
use uring_http::Headers;

#[derive(Debug)]
pub enum ScriptBody {
    Bytes(Bytes),
    /// Output that outgrew the in-memory threshold, in a memfd from offset 0 (nobody
    /// writes to it once it is handed over).
    Spilled {
        file: File,
        len: u64,
        /// Its share of SPILL_MEMORY_LIMIT: keep it until the file is closed.
        lease: Option<super::SpillLease>,
    },
    /// The output found no room under SPILL_MEMORY_LIMIT and was dropped: answer 503.
    Refused,
}

impl ScriptBody {
    pub fn len(&self) -> u64 {
        match self {
            ScriptBody::Bytes(b) => b.len() as u64,
            ScriptBody::Spilled { len, .. } => *len,
            ScriptBody::Refused => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The whole body in memory (reads a spilled body back): for tests and tools.
    pub fn to_vec(&self) -> std::io::Result<Vec<u8>> {
        match self {
            ScriptBody::Bytes(b) => Ok(b.to_vec()),
            ScriptBody::Spilled { file, len, .. } => {
                use std::os::unix::fs::FileExt;
                let mut out = vec![0u8; *len as usize];
                file.read_exact_at(&mut out, 0)?;
                Ok(out)
            }
            ScriptBody::Refused => Ok(Vec::new()),
        }
    }
}

/// Where the time went, measured on the worker (for Server-Timing).
#[derive(Clone, Copy, Debug, Default)]
pub struct WorkerTiming {
    /// From submission until a worker took the request.
    pub queue_micros: u64,
    /// From the worker taking it until this head was sent.
    pub php_micros: u64,
}

#[derive(Debug)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Headers,
    pub timing: WorkerTiming,
}

#[derive(Debug)]
pub struct ScriptResponse {
    pub head: ResponseHead,
    pub body: ScriptBody,
}

impl ScriptResponse {
    /// The server's own 500, for a request whose script could not run or answer.
    pub fn internal_error() -> ScriptResponse {
        let mut headers = Headers::new();
        headers.push(
            "Content-Type",
            Bytes::from_static(b"text/plain; charset=utf-8"),
        );
        ScriptResponse {
            head: ResponseHead {
                status: 500,
                headers,
                timing: WorkerTiming::default(),
            },
            body: ScriptBody::Bytes(Bytes::from_static(b"Internal Server Error\n")),
        }
    }
}
