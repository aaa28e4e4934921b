//! A tiny raw HTTP/1.1 client over `std::net::TcpStream`, for tests that need to see the
//! bytes on the wire: headers in the order and spelling received, chunked bodies decoded,
//! pipelined responses read one after another.
//!
//! Addresses are `host:port`; an `http://` prefix and a trailing `/` are accepted and
//! stripped. Every function here panics with a clear message on I/O errors; the `try_`
//! variants return them instead (for tests that expect a closed connection).

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Header or trailer fields: (name as received, value), in order.
pub type Fields = Vec<(String, String)>;

pub const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Header block limit: a response whose head is bigger is a bug worth a panic.
const MAX_HEAD: usize = 1 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawResponse {
    /// e.g. `HTTP/1.1`
    pub version: String,
    pub status: u16,
    /// The reason phrase as received (may be empty).
    pub reason: String,
    /// Header fields, names as received, in order.
    pub headers: Fields,
    /// The body, de-chunked.
    pub body: Vec<u8>,
    /// Whether the body came with `Transfer-Encoding: chunked`.
    pub chunked: bool,
    /// Trailer fields of a chunked body.
    pub trailers: Fields,
    /// Status codes of 1xx responses that `send_raw`/`request` skipped before this one.
    pub informational: Vec<u16>,
}

impl RawResponse {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn body_str(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the server said it will close the connection after this response.
    pub fn closes_connection(&self) -> bool {
        match self.header("connection") {
            Some(v) => v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")),
            None => self.version == "HTTP/1.0",
        }
    }
}

/// Strips `http://` and a trailing `/` from a base address.
pub fn host_port(addr: &str) -> &str {
    let a = addr.strip_prefix("http://").unwrap_or(addr);
    a.trim_end_matches('/')
}

/// Connects with the 10 s read timeout set.
pub fn connect(addr: &str) -> TcpStream {
    try_connect(addr).unwrap_or_else(|e| panic!("http_client: connect to {addr}: {e}"))
}

pub fn try_connect(addr: &str) -> io::Result<TcpStream> {
    let s = TcpStream::connect(host_port(addr))?;
    s.set_read_timeout(Some(READ_TIMEOUT))?;
    s.set_write_timeout(Some(READ_TIMEOUT))?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// Sends `bytes` on a fresh connection and reads one full (non-1xx) response. A request
/// starting with `HEAD ` is read as a HEAD response (no body).
pub fn send_raw(addr: &str, bytes: &[u8]) -> RawResponse {
    try_send_raw(addr, bytes).unwrap_or_else(|e| {
        panic!(
            "http_client: request to {addr} failed: {e}\nrequest: {}",
            preview(bytes)
        )
    })
}

pub fn try_send_raw(addr: &str, bytes: &[u8]) -> io::Result<RawResponse> {
    let mut stream = try_connect(addr)?;
    stream.write_all(bytes)?;
    let head = bytes.starts_with(b"HEAD ");
    let mut reader = ResponseReader::new(stream);
    reader.try_read_final(head)
}

/// Builds a request: `Host: <addr>` unless `headers` has a Host, `Connection: close` unless
/// it has a Connection, and `Content-Length` when there is a body (or the method is
/// POST/PUT/PATCH) unless it has a Content-Length or Transfer-Encoding.
pub fn build_request(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    let mut req = format!("{method} {path_and_query} HTTP/1.1\r\n");
    if !has("host") {
        req.push_str(&format!("Host: {}\r\n", host_port(addr)));
    }
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    if !has("connection") {
        req.push_str("Connection: close\r\n");
    }
    let wants_length = !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH");
    if wants_length && !has("content-length") && !has("transfer-encoding") {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// Any method; see [`build_request`] for the headers added.
pub fn request(
    addr: &str,
    method: &str,
    path_and_query: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> RawResponse {
    send_raw(
        addr,
        &build_request(addr, method, path_and_query, headers, body),
    )
}

pub fn get(addr: &str, path_and_query: &str, extra_headers: &[(&str, &str)]) -> RawResponse {
    request(addr, "GET", path_and_query, extra_headers, b"")
}

pub fn head(addr: &str, path_and_query: &str, extra_headers: &[(&str, &str)]) -> RawResponse {
    request(addr, "HEAD", path_and_query, extra_headers, b"")
}

pub fn post(
    addr: &str,
    path: &str,
    content_type: &str,
    body: &[u8],
    extra_headers: &[(&str, &str)],
) -> RawResponse {
    let mut headers = vec![("Content-Type", content_type)];
    headers.extend_from_slice(extra_headers);
    request(addr, "POST", path, &headers, body)
}

/// Reads the next response from `stream` without reading past it (byte-exact), so it can
/// be called again for the next pipelined response. Slower than [`ResponseReader`], which
/// buffers; use that for big bodies. 1xx responses are returned as responses.
pub fn read_response(stream: &mut TcpStream) -> RawResponse {
    read_response_with(stream, false)
}

/// [`read_response`] for a response to a HEAD request when `head` is true.
pub fn read_response_with(stream: &mut TcpStream, head: bool) -> RawResponse {
    let mut reader = ResponseReader::exact(stream);
    reader
        .try_read_response(head)
        .unwrap_or_else(|e| panic!("http_client: reading a response: {e}"))
}

/// Owns a stream and a read buffer; reads successive responses without losing the bytes
/// of the next one that arrived with the current one.
pub struct ResponseReader<S: Read = TcpStream> {
    stream: S,
    buf: Vec<u8>,
    pos: usize,
    /// When true, never read more than the current response needs (no buffering ahead).
    exact: bool,
}

impl ResponseReader<TcpStream> {
    /// Connects to `addr` (10 s read timeout).
    pub fn connect(addr: &str) -> Self {
        Self::new(connect(addr))
    }

    /// Writes request bytes on the underlying stream.
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream
            .write_all(bytes)
            .unwrap_or_else(|e| panic!("http_client: write failed: {e}"));
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
    }
}

impl<S: Read> ResponseReader<S> {
    pub fn new(stream: S) -> Self {
        ResponseReader {
            stream,
            buf: Vec::new(),
            pos: 0,
            exact: false,
        }
    }

    fn exact(stream: S) -> Self {
        ResponseReader {
            stream,
            buf: Vec::new(),
            pos: 0,
            exact: true,
        }
    }

    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Bytes read from the stream but not yet consumed by a response.
    pub fn buffered(&self) -> &[u8] {
        &self.buf[self.pos..]
    }

    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The next response (1xx included), body read unless `head`.
    pub fn read_response(&mut self, head: bool) -> RawResponse {
        self.try_read_response(head)
            .unwrap_or_else(|e| panic!("http_client: reading a response: {e}"))
    }

    /// The next final response, skipping (and recording) 1xx responses.
    pub fn read_final(&mut self, head: bool) -> RawResponse {
        self.try_read_final(head)
            .unwrap_or_else(|e| panic!("http_client: reading a response: {e}"))
    }

    pub fn try_read_final(&mut self, head: bool) -> io::Result<RawResponse> {
        let mut informational = Vec::new();
        loop {
            let mut r = self.try_read_response(head)?;
            if (100..200).contains(&r.status) && r.status != 101 {
                informational.push(r.status);
                continue;
            }
            r.informational = informational;
            return Ok(r);
        }
    }

    /// Whether the peer has closed the connection with nothing left to read.
    pub fn at_eof(&mut self) -> io::Result<bool> {
        if self.pos < self.buf.len() {
            return Ok(false);
        }
        Ok(self.fill(1)? == 0)
    }

    pub fn try_read_response(&mut self, head: bool) -> io::Result<RawResponse> {
        // Drop what earlier responses consumed; keep what belongs to this one.
        self.buf.drain(..self.pos);
        self.pos = 0;
        let head_block = self.read_head()?;
        let text = String::from_utf8_lossy(&head_block).into_owned();
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let mut parts = status_line.splitn(3, ' ');
        let version = parts.next().unwrap_or_default().to_string();
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad(format!("bad status line {status_line:?}")))?;
        let reason = parts.next().unwrap_or_default().to_string();
        if !version.starts_with("HTTP/") {
            return Err(bad(format!("bad status line {status_line:?}")));
        }
        let headers = parse_fields(lines)?;
        let mut resp = RawResponse {
            version,
            status,
            reason,
            headers,
            body: Vec::new(),
            chunked: false,
            trailers: Vec::new(),
            informational: Vec::new(),
        };
        if head || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(resp);
        }
        let te = resp
            .header_all("transfer-encoding")
            .iter()
            .flat_map(|v| v.split(','))
            .map(|t| t.trim().to_ascii_lowercase())
            .collect::<Vec<_>>();
        if te.last().map(|t| t == "chunked").unwrap_or(false) {
            resp.chunked = true;
            let (body, trailers) = self.read_chunked()?;
            resp.body = body;
            resp.trailers = trailers;
        } else if let Some(cl) = resp.header("content-length") {
            let n: usize = cl
                .trim()
                .parse()
                .map_err(|_| bad(format!("bad Content-Length {cl:?}")))?;
            resp.body = self.read_exact_n(n)?;
        } else {
            resp.body = self.read_to_close()?;
        }
        Ok(resp)
    }

    /// Reads up to `want` more bytes into the buffer (or a big block when buffering);
    /// returns how many arrived (0 at EOF).
    fn fill(&mut self, want: usize) -> io::Result<usize> {
        let n = if self.exact { want.max(1) } else { 64 * 1024 };
        let start = self.buf.len();
        self.buf.resize(start + n, 0);
        let got = loop {
            match self.stream.read(&mut self.buf[start..]) {
                Ok(g) => break g,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(start);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(start + got);
        Ok(got)
    }

    /// The status line and header fields, without the final CRLFCRLF.
    fn read_head(&mut self) -> io::Result<Vec<u8>> {
        let mut scanned = self.pos;
        loop {
            if let Some(i) = find(&self.buf[scanned..], b"\r\n\r\n") {
                let end = scanned + i;
                let head = self.buf[self.pos..end].to_vec();
                self.pos = end + 4;
                return Ok(head);
            }
            scanned = self.buf.len().saturating_sub(3).max(self.pos);
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(bad("response head larger than 1 MiB".into()));
            }
            if self.fill(1)? == 0 {
                return Err(if self.pos == self.buf.len() {
                    io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed before a response",
                    )
                } else {
                    bad(format!(
                        "connection closed inside a response head: {}",
                        preview(&self.buf[self.pos..])
                    ))
                });
            }
        }
    }

    fn read_exact_n(&mut self, n: usize) -> io::Result<Vec<u8>> {
        while self.buf.len() - self.pos < n {
            let missing = n - (self.buf.len() - self.pos);
            if self.fill(missing)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed after {} of {n} body bytes",
                        self.buf.len() - self.pos
                    ),
                ));
            }
        }
        let out = self.buf[self.pos..self.pos + n].to_vec();
        self.pos += n;
        Ok(out)
    }

    fn read_line(&mut self) -> io::Result<Vec<u8>> {
        loop {
            if let Some(i) = find(&self.buf[self.pos..], b"\r\n") {
                let line = self.buf[self.pos..self.pos + i].to_vec();
                self.pos += i + 2;
                return Ok(line);
            }
            if self.buf.len() - self.pos > MAX_HEAD {
                return Err(bad("chunk line too long".into()));
            }
            if self.fill(1)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed inside a chunked body",
                ));
            }
        }
    }

    fn read_chunked(&mut self) -> io::Result<(Vec<u8>, Fields)> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line()?;
            let line = String::from_utf8_lossy(&line).into_owned();
            let size_str = line.split(';').next().unwrap_or_default().trim();
            let size = usize::from_str_radix(size_str, 16)
                .map_err(|_| bad(format!("bad chunk size line {line:?}")))?;
            if size == 0 {
                break;
            }
            body.extend(self.read_exact_n(size)?);
            let crlf = self.read_exact_n(2)?;
            if crlf != b"\r\n" {
                return Err(bad(format!("chunk not followed by CRLF: {crlf:?}")));
            }
        }
        let mut trailer_lines = Vec::new();
        loop {
            let line = self.read_line()?;
            if line.is_empty() {
                break;
            }
            trailer_lines.push(String::from_utf8_lossy(&line).into_owned());
        }
        let trailers = parse_fields(trailer_lines.iter().map(String::as_str))?;
        Ok((body, trailers))
    }

    fn read_to_close(&mut self) -> io::Result<Vec<u8>> {
        while self.fill(64 * 1024)? > 0 {}
        let out = self.buf[self.pos..].to_vec();
        self.pos = self.buf.len();
        Ok(out)
    }
}

fn parse_fields<'a>(lines: impl Iterator<Item = &'a str>) -> io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for line in lines {
        if line.is_empty() {
            continue;
        }
        let (n, v) = line
            .split_once(':')
            .ok_or_else(|| bad(format!("header line without ':': {line:?}")))?;
        out.push((n.to_string(), v.trim().to_string()));
    }
    Ok(out)
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn bad(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// The start of a byte string, printable, for messages.
pub fn preview(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(300)];
    let mut s = cut.escape_ascii().to_string();
    if bytes.len() > cut.len() {
        s.push_str(&format!("… ({} bytes)", bytes.len()));
    }
    s
}
