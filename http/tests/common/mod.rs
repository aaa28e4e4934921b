//! A real server for the integration tests: a monoio runtime on its own thread, a
//! TcpListener on 127.0.0.1:0, [`serve_h1`] per connection with a small test service; and
//! a raw std TcpStream client that reads responses byte-exactly.

#![allow(dead_code)]

use std::future::Future;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use uring_http::h1::{serve_h1, H1Config};
use uring_http::tls::TlsAcceptor;
use uring_http::ConnInfo;
use uring_http::{
    serve_conn, serve_tls, Body, BodyStream, ConnConfig, Headers, Request, RequestBody, Response,
    Service, Shutdown,
};

/// Which monoio driver runs the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Driver {
    Uring,
    Legacy,
}

/// The drivers to test with: io_uring where this kernel (and seccomp profile) allow it,
/// and always the epoll one.
pub fn drivers() -> Vec<Driver> {
    let uring_works = std::thread::spawn(|| {
        monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .build()
            .is_ok()
    })
    .join()
    .unwrap_or(false);
    if uring_works {
        vec![Driver::Uring, Driver::Legacy]
    } else {
        eprintln!("io_uring is not available here: testing the epoll driver only");
        vec![Driver::Legacy]
    }
}

/// How the test server serves each connection.
#[derive(Clone)]
pub enum Mode {
    /// `serve_h1` only.
    H1(H1Config),
    /// `serve_conn`: HTTP/1.1 or h2c by prior knowledge.
    Sniff(ConnConfig),
    /// `serve_tls`: ALPN decides.
    Tls(ConnConfig, Arc<TlsAcceptor>),
}

/// Starts a server; it runs until the test process ends.
pub fn start(cfg: H1Config, driver: Driver) -> SocketAddr {
    start_mode(Mode::H1(cfg), driver)
}

/// Starts a server serving connections as `mode` says.
pub fn start_mode(mode: Mode, driver: Driver) -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || match driver {
        Driver::Uring => monoio::RuntimeBuilder::<monoio::IoUringDriver>::new()
            .enable_timer()
            .build()
            .expect("io_uring runtime")
            .block_on(accept_loop(mode, tx)),
        Driver::Legacy => monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("legacy runtime")
            .block_on(accept_loop(mode, tx)),
    });
    rx.recv().expect("server address")
}

async fn accept_loop(mode: Mode, tx: mpsc::Sender<SocketAddr>) {
    let listener = monoio::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    tx.send(listener.local_addr().unwrap()).unwrap();
    let mode = Rc::new(mode);
    let shutdown = Shutdown::new();
    let service = Rc::new(TestService {
        shutdown: shutdown.clone(),
        release: Shutdown::new(),
        entered: std::cell::Cell::new(0),
    });
    loop {
        let Ok((stream, remote_addr)) = listener.accept().await else {
            continue;
        };
        let info = ConnInfo {
            remote_addr,
            local_addr: stream.local_addr().unwrap(),
            tls: false,
            fd: None,
        };
        let _ = stream.set_nodelay(true);
        let (mode, shutdown, service) = (mode.clone(), shutdown.clone(), service.clone());
        monoio::spawn(async move {
            let _ = match &*mode {
                Mode::H1(cfg) => {
                    serve_h1(stream, BytesMut::new(), &*service, cfg, info, &shutdown).await
                }
                Mode::Sniff(cfg) => serve_conn(stream, &*service, cfg, info, &shutdown).await,
                Mode::Tls(cfg, tls) => {
                    serve_tls(stream, tls, &*service, cfg, info, &shutdown).await
                }
            };
        });
    }
}

/// Paths: `/entered` answers how many `/slow/` requests the service has taken so far (a
/// test waits on it instead of sleeping); `/shutdown` triggers graceful shutdown; `/sse` streams one event, then a
/// second once `/release` was requested; `/hints` sends a 103 and answers once
/// `/release` was requested; `/file/N` serves N bytes of a file; `/big/N`
/// answers N bytes; anything else echoes what it received.
struct TestService {
    shutdown: Shutdown,
    release: Shutdown,
    entered: std::cell::Cell<u64>,
}

/// A body stream: its items in turn, each a chunk or a future to wait for first.
struct Script {
    items: std::collections::VecDeque<Item>,
}

enum Item {
    Chunk(&'static str),
    Owned(String),
    Wait(Pin<Box<dyn Future<Output = ()>>>),
}

impl BodyStream for Script {
    fn poll_chunk(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        loop {
            match self.items.front_mut() {
                None => return Poll::Ready(None),
                Some(Item::Chunk(s)) => {
                    let s = *s;
                    self.items.pop_front();
                    return Poll::Ready(Some(Bytes::from_static(s.as_bytes())));
                }
                Some(Item::Owned(_)) => {
                    let Some(Item::Owned(s)) = self.items.pop_front() else {
                        unreachable!()
                    };
                    return Poll::Ready(Some(Bytes::from(s)));
                }
                Some(Item::Wait(f)) => {
                    if f.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.items.pop_front();
                }
            }
        }
    }
}

/// The bytes `/file/N` and `/big/N` serve, so a client can check them.
pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

impl Service for TestService {
    async fn call(&self, req: Request) -> Response {
        let path = req.path.clone();
        if let Some(ms) = path.strip_prefix("/slow/") {
            // Answers (an echo) after a while: a request that is in the service when
            // the client resets it.
            let ms: u64 = ms.parse().unwrap_or(100);
            self.entered.set(self.entered.get() + 1);
            monoio::time::sleep(Duration::from_millis(ms)).await;
        }
        let mut headers = Headers::new();
        headers.push("X-Path", path.clone());
        let body = if path == "/entered" {
            Body::Bytes(Bytes::from(self.entered.get().to_string()))
        } else if path == "/shutdown" {
            self.shutdown.trigger();
            Body::Bytes(Bytes::from_static(b"bye"))
        } else if path == "/hints" {
            // 103 Early Hints, then the answer only once `/release` was requested: the
            // hint must reach the client while the service still works.
            let mut link = Headers::new();
            link.push("Link", "</style.css>; rel=preload; as=style");
            let sent = req.interim.send(103, link);
            self.release.triggered().await;
            Body::Bytes(Bytes::from(format!("hinted={sent}")))
        } else if path == "/refuse" {
            // What an overloaded server answers: turned away unserved.
            let mut r = Response::text(503, "busy\n");
            r.refused = true;
            return r;
        } else if path == "/release" {
            self.release.trigger();
            Body::Bytes(Bytes::from_static(b"released"))
        } else if path == "/sse" {
            headers.push("Content-Type", "text/event-stream");
            let release = self.release.clone();
            Body::Stream(Box::pin(Script {
                items: [
                    Item::Chunk("data: 1\n\n"),
                    Item::Wait(Box::pin(async move { release.triggered().await })),
                    Item::Chunk("data: 2\n\n"),
                ]
                .into_iter()
                .collect(),
            }))
        } else if let Some(n) = path.strip_prefix("/ticks/") {
            // N chunks "tick i\n", a short timer between each.
            let n: usize = n.parse().unwrap();
            let mut items = std::collections::VecDeque::new();
            for i in 0..n {
                items.push_back(Item::Owned(format!("tick {i}\n")));
                items.push_back(Item::Wait(Box::pin(monoio::time::sleep(
                    Duration::from_millis(2),
                ))));
            }
            Body::Stream(Box::pin(Script { items }))
        } else if path == "/info" {
            let cookies: Vec<String> = req
                .headers
                .get_all("cookie")
                .map(|v| String::from_utf8_lossy(v).into_owned())
                .collect();
            Body::Bytes(Bytes::from(format!(
                "tls={} version={} host={:?} cookies={}",
                req.tls,
                req.version.as_str(),
                req.host,
                cookies.join("|")
            )))
        } else if let Some(n) = path.strip_prefix("/file/") {
            let len: usize = n.parse().unwrap();
            let path = std::env::temp_dir().join(format!(
                "uring-http-it-{}-{len}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let mut data = b"0123456789".to_vec();
            data.extend(pattern(len));
            std::fs::write(&path, &data).unwrap();
            let file = monoio::fs::File::open(&path).await.unwrap();
            std::fs::remove_file(&path).unwrap();
            Body::File {
                file: Rc::new(file),
                offset: 10,
                len: len as u64,
                guard: None,
            }
        } else if let Some(n) = path.strip_prefix("/big/") {
            Body::Bytes(Bytes::from(pattern(n.parse().unwrap())))
        } else {
            let kind = match &req.body {
                RequestBody::Empty => "empty",
                RequestBody::Memory(_) => "memory",
                RequestBody::File { .. } => "file",
                RequestBody::Stream(_) => "stream",
            };
            let body = match req.body {
                // Read as an application would: on a thread of its own, while this core
                // goes on feeding the pipe.
                RequestBody::Stream(r) => {
                    let reader =
                        std::thread::spawn(move || RequestBody::Stream(r).to_bytes().unwrap());
                    while !reader.is_finished() {
                        monoio::time::sleep(std::time::Duration::from_millis(1)).await;
                    }
                    reader.join().unwrap()
                }
                ref other => other.to_bytes().unwrap(),
            };
            let sum = body.iter().fold(0u32, |acc, &b| {
                acc.wrapping_mul(31).wrapping_add(u32::from(b))
            });
            Body::Bytes(Bytes::from(format!(
                "{} {} q={:?} host={:?} {} body={kind}:{}:{sum}",
                req.method,
                req.path,
                req.query,
                req.host,
                req.version.as_str(),
                body.len()
            )))
        };
        Response::new(200, headers, body)
    }
}

/// The checksum the echo service reports for a body.
pub fn checksum(body: &[u8]) -> u32 {
    body.iter().fold(0u32, |acc, &b| {
        acc.wrapping_mul(31).wrapping_add(u32::from(b))
    })
}

/// A raw HTTP/1.1 client on a std TcpStream.
pub struct Client {
    reader: BufReader<TcpStream>,
}

#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        // Only a guard against a hanging test; no test depends on it firing.
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        Client {
            reader: BufReader::new(stream),
        }
    }

    /// The socket, for raw reads.
    pub fn stream(&mut self) -> &mut TcpStream {
        self.reader.get_mut()
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.reader.get_mut().write_all(bytes.as_ref()).unwrap();
    }

    /// Like `send`, for a client that may find the connection already closed.
    pub fn try_send(&mut self, bytes: impl AsRef<[u8]>) -> std::io::Result<()> {
        self.reader.get_mut().write_all(bytes.as_ref())
    }

    /// Reads the raw head (up to and including the blank line).
    pub fn raw_head(&mut self) -> String {
        let mut head = String::new();
        loop {
            let mut line = String::new();
            let n = self.reader.read_line(&mut line).expect("read head");
            assert!(n > 0, "connection closed inside a head: {head:?}");
            head.push_str(&line);
            if line == "\r\n" {
                return head;
            }
        }
    }

    /// Reads one response; `head_request` says there is no body to read.
    pub fn response(&mut self, head_request: bool) -> Resp {
        let head = self.raw_head();
        let mut lines = head.trim_end().split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").expect("name: value");
                (n.to_owned(), v.to_owned())
            })
            .collect();
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status < 200 || status == 204 || status == 304 {
            return resp;
        }
        if let Some(len) = resp.header("Content-Length") {
            let mut body = vec![0; len.parse().unwrap()];
            self.reader.read_exact(&mut body).expect("body");
            resp.body = body;
        } else if resp.header("Transfer-Encoding") == Some("chunked") {
            while let Some(chunk) = self.chunk() {
                resp.body.extend(chunk);
            }
        } else {
            self.reader.read_to_end(&mut resp.body).unwrap();
        }
        resp
    }

    /// Reads one chunk of a chunked body; `None` for the last chunk (trailers included).
    pub fn chunk(&mut self) -> Option<Vec<u8>> {
        let mut line = String::new();
        self.reader.read_line(&mut line).unwrap();
        let size = usize::from_str_radix(line.trim_end(), 16).expect("chunk size");
        if size == 0 {
            let mut end = String::new();
            self.reader.read_line(&mut end).unwrap();
            assert_eq!(end, "\r\n");
            return None;
        }
        let mut data = vec![0; size + 2];
        self.reader.read_exact(&mut data).unwrap();
        assert!(data.ends_with(b"\r\n"));
        data.truncate(size);
        Some(data)
    }

    /// Whether the server closed the connection: reading gives end-of-file (a reset
    /// counts too) with no further bytes.
    pub fn is_closed(&mut self) -> bool {
        let mut rest = Vec::new();
        match self.reader.read_to_end(&mut rest) {
            Ok(_) => {
                assert!(
                    rest.is_empty(),
                    "unexpected bytes: {:?}",
                    String::from_utf8_lossy(&rest)
                );
                true
            }
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        }
    }
}

/// A plain GET that must succeed: proves the server still serves new connections.
pub fn assert_serves(addr: SocketAddr) {
    let mut c = Client::connect(addr);
    c.send("GET /alive HTTP/1.1\r\nHost: t\r\n\r\n");
    let r = c.response(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Path"), Some("/alive"));
}
