//! Connection-level tests of [`serve_h1`] over a Unix socket pair: a client thread plays
//! a script of writes and pauses, the server side counts its reads and writes, so each
//! test can assert the exact bytes on the wire and how many syscalls a request took.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use monoio::buf::{IoBuf, IoBufMut, IoVecBuf, IoVecBufMut};
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::net::UnixStream;
use monoio::BufResult;

use super::{serve_h1, H1Config};
use crate::ConnInfo;
use crate::{
    Body, BodyStream, Headers, Method, Request, RequestBody, Response, Service, Shutdown, Version,
};

/// One step of what the client does.
enum Input {
    Data(Vec<u8>),
    /// Nothing is sent for a while.
    Pause(Duration),
    /// Nothing is sent again (the client keeps the connection open until the server ends
    /// it).
    Hang,
    /// Nothing is sent until the server has sent this.
    WaitFor(&'static str),
}

#[derive(Default)]
struct Record {
    reads: usize,
    writes: usize,
    shut_down: bool,
}

/// The server's end of the connection, counting what the server does with it.
struct CountingIo {
    inner: UnixStream,
    record: Rc<RefCell<Record>>,
    /// Writes after this many fail with a broken pipe.
    fail_writes_after: Option<usize>,
}

impl AsyncReadRent for CountingIo {
    #[allow(clippy::manual_async_fn)]
    fn read<T: IoBufMut>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        async move {
            self.record.borrow_mut().reads += 1;
            self.inner.read(buf).await
        }
    }

    fn readv<T: IoVecBufMut>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.inner.readv(buf)
    }
}

impl AsyncWriteRent for CountingIo {
    #[allow(clippy::manual_async_fn)]
    fn write<T: IoBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        async move {
            let writes = {
                let mut rec = self.record.borrow_mut();
                rec.writes += 1;
                rec.writes
            };
            if self.fail_writes_after.is_some_and(|n| writes > n) {
                return (Err(io::ErrorKind::BrokenPipe.into()), buf);
            }
            self.inner.write(buf).await
        }
    }

    fn writev<T: IoVecBuf>(&mut self, buf: T) -> impl Future<Output = BufResult<usize, T>> {
        self.inner.writev(buf)
    }

    fn flush(&mut self) -> impl Future<Output = io::Result<()>> {
        self.inner.flush()
    }

    #[allow(clippy::manual_async_fn)]
    fn shutdown(&mut self) -> impl Future<Output = io::Result<()>> {
        async move {
            self.record.borrow_mut().shut_down = true;
            self.inner.shutdown().await
        }
    }
}

/// A stream that yields its items in turn; `None` items are a `Pending` (woken at once).
struct ScriptStream {
    items: VecDeque<Option<&'static str>>,
    dropped: Rc<Cell<bool>>,
    forever: bool,
}

impl BodyStream for ScriptStream {
    fn poll_chunk(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.forever {
            return Poll::Ready(Some(Bytes::from_static(b"tick")));
        }
        match self.items.pop_front() {
            None => Poll::Ready(None),
            Some(Some(s)) => Poll::Ready(Some(Bytes::from_static(s.as_bytes()))),
            Some(None) => {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }
}

impl Drop for ScriptStream {
    fn drop(&mut self) {
        self.dropped.set(true);
    }
}

struct TestService {
    shutdown: Shutdown,
    stream_dropped: Rc<Cell<bool>>,
    calls: Cell<usize>,
}

impl TestService {
    fn stream(&self, items: &[Option<&'static str>], forever: bool) -> Body {
        Body::Stream(Box::pin(ScriptStream {
            items: items.iter().copied().collect(),
            dropped: self.stream_dropped.clone(),
            forever,
        }))
    }
}

impl Service for TestService {
    async fn call(&self, req: Request) -> Response {
        self.calls.set(self.calls.get() + 1);
        let mut headers = Headers::new();
        headers.push("X-Path", req.path.clone());
        let body = match req.path.as_str() {
            "/stream" => self.stream(&[Some("one"), Some(""), None, Some("two")], false),
            "/stream-pending" => self.stream(&[None, Some("late")], false),
            "/stream-forever" => self.stream(&[], true),
            "/hints" => {
                let mut link = Headers::new();
                link.push("Link", "</a.css>; rel=preload; as=style");
                let sent = req.interim.send(103, link.clone());
                // The service goes on working after the hint...
                let mut yielded = false;
                std::future::poll_fn(|cx| {
                    if yielded {
                        return Poll::Ready(());
                    }
                    yielded = true;
                    cx.waker().wake_by_ref();
                    Poll::Pending
                })
                .await;
                // ...and a hint sent right before the answer still goes out first.
                req.interim.send(103, link);
                Body::Bytes(Bytes::from(format!("sent={sent}")))
            }
            "/big" => Body::Bytes(Bytes::from(vec![b'b'; 100_000])),
            "/empty" => Body::Empty,
            "/shutdown" => {
                self.shutdown.trigger();
                Body::Bytes(Bytes::from_static(b"bye"))
            }
            p if p.starts_with("/file/") => {
                let len: usize = p[6..].parse().unwrap();
                let data: Vec<u8> = (0..len + 10).map(|i| b'a' + (i % 26) as u8).collect();
                let path = std::env::temp_dir()
                    .join(format!("uring-http-test-{}-{len}", std::process::id()));
                std::fs::write(&path, &data).unwrap();
                let file = monoio::fs::File::open(&path).await.unwrap();
                std::fs::remove_file(&path).unwrap();
                Body::File {
                    file: Rc::new(file),
                    offset: 10,
                    len: len as u64,
                    guard: None,
                }
            }
            p if p.starts_with("/status/") => {
                let status = p[8..].parse().unwrap();
                return Response::new(status, headers, Body::Bytes(Bytes::from_static(b"ignored")));
            }
            _ => {
                let kind = match &req.body {
                    RequestBody::Empty => "empty",
                    RequestBody::Memory(_) => "memory",
                    RequestBody::File { .. } => "file",
                    RequestBody::Stream(_) => unreachable!("these tests buffer bodies"),
                };
                let body = req.body.to_bytes().unwrap();
                let text = format!(
                    "{} {} q={:?} host={:?} {} body={kind}:{}:{}",
                    req.method,
                    req.path,
                    req.query,
                    req.host,
                    req.version.as_str(),
                    body.len(),
                    String::from_utf8_lossy(&body[..body.len().min(40)])
                );
                Body::Bytes(Bytes::from(text))
            }
        };
        Response::new(200, headers, body)
    }
}

struct Outcome {
    result: io::Result<()>,
    out: String,
    reads: usize,
    writes: usize,
    shut_down: bool,
    calls: usize,
    stream_dropped: bool,
}

fn info() -> ConnInfo {
    ConnInfo {
        remote_addr: "127.0.0.1:5555".parse().unwrap(),
        local_addr: "127.0.0.1:80".parse().unwrap(),
        tls: false,
        fd: None,
    }
}

fn block_on<F: Future>(f: F) -> F::Output {
    monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
        .enable_timer()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// Plays `input` from a client thread and collects everything the server sends until
/// it closes. The first piece is in the socket before the server starts, so a request
/// that fits in it is read with one read.
fn play<F, Fut>(input: Vec<Input>, serve: F) -> (String, Fut::Output)
where
    F: FnOnce(UnixStream) -> Fut,
    Fut: Future,
{
    let (client, server) = StdUnixStream::pair().unwrap();
    let mut input: VecDeque<Input> = input.into();
    let mut writer = client.try_clone().unwrap();
    let mut reader = client;
    // What the client received so far, for `WaitFor`.
    let received = Arc::new((Mutex::new(Vec::<u8>::new()), Condvar::new()));
    let seen = received.clone();
    let write_step = move |step: Input, w: &mut StdUnixStream| -> bool {
        match step {
            // The server may have closed already (e.g. after an error): that is fine.
            Input::Data(d) => w.write_all(&d).is_ok(),
            Input::Pause(d) => {
                std::thread::sleep(d);
                true
            }
            Input::Hang => false,
            Input::WaitFor(text) => {
                let (lock, cond) = &*seen;
                let guard = lock.lock().unwrap();
                let (guard, _) = cond
                    .wait_timeout_while(guard, Duration::from_secs(20), |out| {
                        !String::from_utf8_lossy(out).contains(text)
                    })
                    .unwrap();
                String::from_utf8_lossy(&guard).contains(text)
            }
        }
    };
    let mut hang = false;
    if let Some(first) = input.pop_front() {
        hang = !write_step(first, &mut writer);
    }
    let writer_thread = std::thread::spawn(move || {
        let mut hang = hang;
        while !hang {
            match input.pop_front() {
                Some(step) => hang = !write_step(step, &mut writer),
                None => {
                    let _ = writer.shutdown(std::net::Shutdown::Write);
                    break;
                }
            }
        }
    });
    let reader_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let (lock, cond) = &*received;
                    lock.lock().unwrap().extend_from_slice(&buf[..n]);
                    cond.notify_all();
                }
            }
        }
        // The server ends the connection (or half-closes and lingers): let it finish.
        let _ = reader.shutdown(std::net::Shutdown::Both);
        let out = std::mem::take(&mut *received.0.lock().unwrap());
        received.1.notify_all();
        out
    });
    server.set_nonblocking(true).unwrap();
    let result = block_on(async move { serve(UnixStream::from_std(server).unwrap()).await });
    let out = reader_thread.join().unwrap();
    writer_thread.join().unwrap();
    (String::from_utf8_lossy(&out).into_owned(), result)
}

fn run_full(
    input: Vec<Input>,
    cfg: H1Config,
    fail_writes_after: Option<usize>,
    pre_shutdown: bool,
) -> Outcome {
    let record = Rc::new(RefCell::new(Record::default()));
    let rec = record.clone();
    let (out, (result, calls, stream_dropped)) = play(input, move |stream| async move {
        let io = CountingIo {
            inner: stream,
            record: rec,
            fail_writes_after,
        };
        let shutdown = Shutdown::new();
        if pre_shutdown {
            shutdown.trigger();
        }
        let service = TestService {
            shutdown: shutdown.clone(),
            stream_dropped: Rc::new(Cell::new(false)),
            calls: Cell::new(0),
        };
        let result = serve_h1(io, BytesMut::new(), &service, &cfg, info(), &shutdown).await;
        (result, service.calls.get(), service.stream_dropped.get())
    });
    let rec = record.borrow();
    Outcome {
        result,
        out,
        reads: rec.reads,
        writes: rec.writes,
        shut_down: rec.shut_down,
        calls,
        stream_dropped,
    }
}

fn run_cfg(input: &[&str], cfg: H1Config) -> Outcome {
    run_full(
        input
            .iter()
            .map(|s| Input::Data(s.as_bytes().to_vec()))
            .collect(),
        cfg,
        None,
        false,
    )
}

fn run(input: &[&str]) -> Outcome {
    run_cfg(input, H1Config::default())
}

/// Responses split out of the output; bodies delimited by Content-Length or chunked
/// framing, or running to the end.
#[derive(Debug)]
struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn responses(mut out: &str, head_requests: &[usize]) -> Vec<Resp> {
    let mut list = Vec::new();
    while !out.is_empty() {
        let end = out.find("\r\n\r\n").expect("complete head") + 4;
        let mut lines = out[..end - 4].split("\r\n");
        let status_line = lines.next().unwrap();
        assert!(status_line.starts_with("HTTP/1.1 "), "{status_line:?}");
        let status = status_line[9..12].parse().unwrap();
        let headers: Vec<(String, String)> = lines
            .map(|l| {
                let (n, v) = l.split_once(": ").expect("name: value");
                (n.to_owned(), v.to_owned())
            })
            .collect();
        out = &out[end..];
        let mut resp = Resp {
            status,
            headers,
            body: String::new(),
        };
        let no_body =
            status < 200 || status == 204 || status == 304 || head_requests.contains(&list.len());
        if !no_body {
            if let Some(len) = resp.header("Content-Length") {
                let len: usize = len.parse().unwrap();
                resp.body = out[..len].to_owned();
                out = &out[len..];
            } else if resp.header("Transfer-Encoding") == Some("chunked") {
                loop {
                    let line_end = out.find("\r\n").unwrap();
                    let size = usize::from_str_radix(&out[..line_end], 16).unwrap();
                    out = &out[line_end + 2..];
                    if size == 0 {
                        assert!(out.starts_with("\r\n"));
                        out = &out[2..];
                        break;
                    }
                    resp.body.push_str(&out[..size]);
                    assert_eq!(&out[size..size + 2], "\r\n");
                    out = &out[size + 2..];
                }
            } else {
                resp.body = out.to_owned();
                out = "";
            }
        }
        list.push(resp);
    }
    list
}

const GET: &str = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

#[test]
fn hello_world_takes_one_read_and_one_write() {
    let o = run(&[GET]);
    assert!(o.result.is_ok());
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, 200);
    assert_eq!(
        r[0].body,
        "GET / q=None host=Some(\"example.com\") HTTP/1.1 body=empty:0:"
    );
    assert_eq!(r[0].header("Connection"), None);
    assert_eq!(r[0].header("Date").map(str::len), Some(29));
    // One read for the request, one that finds the end; a single write for the response.
    assert_eq!(o.reads, 2);
    assert_eq!(o.writes, 1);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let input = "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2?x HTTP/1.1\r\nHost: a\r\n\r\n\
                 POST /3 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabcGET /4 HTTP/1.1\r\nHost: a\r\n\r\n";
    let o = run(&[input]);
    let r = responses(&o.out, &[]);
    let paths: Vec<_> = r.iter().map(|r| r.header("X-Path").unwrap()).collect();
    assert_eq!(paths, ["/1", "/2", "/3", "/4"]);
    assert_eq!(
        r[1].body,
        "GET /2 q=Some(\"x\") host=Some(\"a\") HTTP/1.1 body=empty:0:"
    );
    assert!(r[2].body.ends_with("body=memory:3:abc"));
    assert_eq!(o.reads, 2, "all four came from one read");
}

#[test]
fn requests_split_across_reads() {
    let o = run(&["GE", "T / HTTP/1.1\r", "\nHost: a\r\n", "\r", "\n"]);
    assert_eq!(responses(&o.out, &[])[0].status, 200);
}

#[test]
fn connection_close_is_honoured_and_echoed() {
    let o = run(&["GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\nHost: a\r\n\r\n"]);
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].header("Connection"), Some("close"));
    assert_eq!(o.calls, 1);
}

#[test]
fn http10_keep_alive_only_when_asked() {
    let o = run(&["GET /a HTTP/1.0\r\n\r\nGET /b HTTP/1.0\r\n\r\n"]);
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].header("Connection"), Some("close"));

    let o = run(&["GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /b HTTP/1.0\r\n\r\n"]);
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 2);
    assert_eq!(r[0].header("Connection"), Some("keep-alive"));
    assert!(r[0].body.contains("HTTP/1.0"));
    assert_eq!(r[1].header("Connection"), Some("close"));
}

#[test]
fn content_length_and_chunked_bodies_reach_the_service() {
    let o = run(&[
        "POST /p HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello",
        " world",
    ]);
    assert!(
        responses(&o.out, &[])[0]
            .body
            .ends_with("body=memory:11:hello world"),
        "{}",
        o.out
    );

    let o = run(&[
        "POST /p HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r",
        "\n6\r\n world\r\n0\r\nTrailer: x\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n",
    ]);
    let r = responses(&o.out, &[]);
    assert!(
        r[0].body.ends_with("body=memory:11:hello world"),
        "{}",
        o.out
    );
    assert_eq!(r[1].header("X-Path"), Some("/after"));
}

#[test]
fn large_bodies_are_spooled_to_a_file() {
    let mut cfg = H1Config::default();
    cfg.spool.threshold = 16;
    let body = "x".repeat(100_000);
    let head = format!(
        "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    let o = run_cfg(&[&head, &body[..50_000], &body[50_000..]], cfg.clone());
    assert!(
        responses(&o.out, &[])[0]
            .body
            .contains("body=file:100000:xxxx"),
        "{}",
        o.out
    );

    let mut chunked =
        String::from("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n");
    for _ in 0..100 {
        chunked.push_str(&format!("3e8\r\n{}\r\n", "y".repeat(1000)));
    }
    chunked.push_str("0\r\n\r\n");
    let o = run_cfg(&[&chunked], cfg);
    assert!(
        responses(&o.out, &[])[0]
            .body
            .contains("body=file:100000:yyyy"),
        "{}",
        o.out
    );
}

#[test]
fn oversized_bodies_get_413() {
    let cfg = H1Config {
        max_body_size: 10,
        ..H1Config::default()
    };
    // Declared too large: answered without reading the body and without a 100.
    let o = run_cfg(
        &["POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 11\r\n\r\n"],
        cfg.clone(),
    );
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, 413);
    assert_eq!(r[0].header("Connection"), Some("close"));
    assert_eq!(o.calls, 0);
    assert!(o.shut_down, "error replies half-close and linger");

    let o = run_cfg(&["POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n5\r\nabcde\r\n"], cfg.clone());
    assert_eq!(responses(&o.out, &[])[0].status, 413);
    assert_eq!(o.calls, 0);

    let o = run_cfg(
        &["POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\n0123456789"],
        cfg,
    );
    assert_eq!(responses(&o.out, &[])[0].status, 200);
}

#[test]
fn expect_100_continue() {
    let o = run_full(
        vec![
            Input::Data(
                b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
                    .to_vec(),
            ),
            Input::WaitFor("100 Continue"),
            Input::Data(b"ok".to_vec()),
        ],
        H1Config::default(),
        None,
        false,
    );
    assert!(
        o.out
            .starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"),
        "{}",
        o.out
    );
    assert!(o.out.ends_with("body=memory:2:ok"));

    // The body came with the head: no 100 needed.
    let o =
        run(&["PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nok"]);
    assert!(o.out.starts_with("HTTP/1.1 200 OK\r\n"), "{}", o.out);

    // HTTP/1.0 clients never get a 100.
    let o = run(&[
        "PUT / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
        "ok",
    ]);
    assert!(o.out.starts_with("HTTP/1.1 200 OK\r\n"), "{}", o.out);

    let o = run(&["PUT / HTTP/1.1\r\nHost: a\r\nExpect: something\r\nContent-Length: 2\r\n\r\nok"]);
    assert_eq!(responses(&o.out, &[])[0].status, 417);
    assert_eq!(o.calls, 0);
}

#[test]
fn early_hints_go_out_before_the_response() {
    let hint = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\r\n";
    let o = run(&["GET /hints HTTP/1.1\r\nHost: a\r\n\r\nGET /x HTTP/1.1\r\nHost: a\r\n\r\n"]);
    assert!(
        o.out
            .starts_with(&format!("{hint}{hint}HTTP/1.1 200 OK\r\n")),
        "{}",
        o.out
    );
    let r = responses(&o.out, &[]);
    assert_eq!(
        r.iter().map(|r| r.status).collect::<Vec<_>>(),
        [103, 103, 200, 200]
    );
    assert_eq!(r[2].body, "sent=true");
    assert!(r[0].header("Date").is_none() && r[0].header("Content-Length").is_none());

    // Never to an HTTP/1.0 client.
    let o = run(&["GET /hints HTTP/1.0\r\n\r\n"]);
    assert!(o.out.starts_with("HTTP/1.1 200 OK\r\n"), "{}", o.out);
    assert!(o.out.ends_with("sent=false"));
}

#[test]
fn head_gets_headers_without_body() {
    let o = run(&["HEAD /big HTTP/1.1\r\nHost: a\r\n\r\nGET /empty HTTP/1.1\r\nHost: a\r\n\r\n"]);
    let r = responses(&o.out, &[0]);
    assert_eq!(r[0].status, 200);
    assert_eq!(r[0].header("Content-Length"), Some("100000"));
    assert_eq!(r[0].body, "");
    assert_eq!(r[1].header("X-Path"), Some("/empty"));
    assert_eq!(r[1].header("Content-Length"), Some("0"));

    // A stream's length is unknown: HEAD claims no framing at all (as nginx does).
    let o = run(&["HEAD /stream HTTP/1.1\r\nHost: a\r\n\r\n"]);
    assert!(!o.out.contains("Transfer-Encoding"), "{}", o.out);
    assert!(!o.out.contains("Content-Length"), "{}", o.out);
    assert!(
        o.out.ends_with("\r\n\r\n"),
        "no chunks after the head: {}",
        o.out
    );
    assert!(o.stream_dropped);
}

#[test]
fn no_body_statuses() {
    for status in [204, 304, 100] {
        let o = run(&[&format!("GET /status/{status} HTTP/1.1\r\nHost: a\r\n\r\n")]);
        assert!(
            o.out.starts_with(&format!("HTTP/1.1 {status} ")),
            "{}",
            o.out
        );
        assert!(!o.out.contains("Content-Length"), "{}", o.out);
        assert!(
            o.out.contains("X-Path: /status/"),
            "other headers kept: {}",
            o.out
        );
        assert!(o.out.ends_with("\r\n\r\n"), "{}", o.out);
    }
}

#[test]
fn stream_bodies_are_chunked_on_http11() {
    let o = run(&["GET /stream HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n"]);
    let r = responses(&o.out, &[]);
    assert_eq!(r[0].header("Transfer-Encoding"), Some("chunked"));
    assert_eq!(r[0].body, "onetwo");
    assert!(
        o.out.contains("\r\n\r\n3\r\none\r\n3\r\ntwo\r\n0\r\n\r\n"),
        "{}",
        o.out
    );
    assert_eq!(r[1].header("X-Path"), Some("/after"));

    // First chunk not ready: the head goes out on its own first.
    let o = run(&["GET /stream-pending HTTP/1.1\r\nHost: a\r\n\r\n"]);
    assert_eq!(responses(&o.out, &[])[0].body, "late");
    assert_eq!(o.writes, 3, "head, chunk, last chunk");
}

#[test]
fn stream_bodies_are_raw_on_http10_and_close() {
    let o = run(&["GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET /x HTTP/1.0\r\n\r\n"]);
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].header("Transfer-Encoding"), None);
    assert_eq!(r[0].header("Connection"), Some("close"));
    assert_eq!(r[0].body, "onetwo");
}

#[test]
fn failed_write_drops_the_stream() {
    let o = run_full(
        vec![Input::Data(
            b"GET /stream-forever HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(),
        )],
        H1Config::default(),
        Some(5),
        false,
    );
    assert!(o.result.is_err());
    assert!(o.stream_dropped);
    assert_eq!(o.writes, 6);
}

#[test]
fn file_bodies() {
    for len in [0, 5, 40_000, 200_000] {
        let o = run(&[&format!(
            "GET /file/{len} HTTP/1.1\r\nHost: a\r\n\r\nGET /after HTTP/1.1\r\nHost: a\r\n\r\n"
        )]);
        let r = responses(&o.out, &[]);
        assert_eq!(
            r[0].header("Content-Length"),
            Some(len.to_string().as_str())
        );
        let expected: String = (10..len + 10)
            .map(|i| (b'a' + (i % 26) as u8) as char)
            .collect();
        assert!(r[0].body == expected, "file body of {len} differs");
        assert_eq!(r[1].header("X-Path"), Some("/after"));
        if len <= 5 {
            assert_eq!(o.writes, 2, "small file inline with the head");
        }
    }
}

fn status_of(request: &str) -> (u16, Outcome) {
    let o = run(&[request]);
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1, "{}", o.out);
    assert_eq!(r[0].header("Connection"), Some("close"), "{}", o.out);
    assert_eq!(
        r[0].header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    (r[0].status, o)
}

#[test]
fn protocol_errors_get_their_status_and_close() {
    let cases: &[(&str, u16)] = &[
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: a\n\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n", 400),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nContent-Length: x\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n",
            501,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX",
            400,
        ),
        ("GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505),
        ("GET nope HTTP/1.1\r\nHost: a\r\n\r\n", 400),
        ("\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03\r\n\r\n", 400),
    ];
    for (request, want) in cases {
        let (got, o) = status_of(request);
        assert_eq!(got, *want, "{request:?}");
        assert_eq!(o.calls, 0, "{request:?}");
        assert!(o.result.is_ok());
    }
}

#[test]
fn limits_get_431_and_414() {
    let cfg = H1Config {
        max_header_bytes: 200,
        max_uri_len: 100,
        max_headers: 3,
        ..H1Config::default()
    };
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
        "v".repeat(300)
    );
    let many = "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(150));
    for (req, want) in [
        (big_header.as_str(), 431),
        (many, 431),
        (long_uri.as_str(), 414),
    ] {
        let o = run_cfg(&[req], cfg.clone());
        assert_eq!(responses(&o.out, &[])[0].status, want, "{req}");
    }
    // A head that never ends is refused once it passes the limit, not buffered forever.
    let o = run_full(
        vec![
            Input::Data(format!("GET / HTTP/1.1\r\nX: {}", "v".repeat(1000)).into_bytes()),
            Input::Hang,
        ],
        cfg,
        None,
        false,
    );
    assert_eq!(responses(&o.out, &[])[0].status, 431);
}

fn short_timeouts() -> H1Config {
    H1Config {
        header_timeout: Duration::from_millis(50),
        idle_timeout: Duration::from_millis(50),
        body_timeout: Duration::from_millis(50),
        ..H1Config::default()
    }
}

#[test]
fn header_timeout_sends_408() {
    let o = run_full(
        vec![Input::Data(b"GET / HTTP/1.1\r\nHo".to_vec()), Input::Hang],
        short_timeouts(),
        None,
        false,
    );
    assert_eq!(responses(&o.out, &[])[0].status, 408);
}

#[test]
fn header_timeout_runs_from_the_first_byte() {
    // The head trickles in, each piece within the timeout, the whole beyond it.
    let mut input = Vec::new();
    for piece in [
        "GET / ",
        "HTTP/1.1\r\n",
        "Host: a\r\n",
        "X: 1\r\n",
        "Y: 2\r\n",
    ] {
        input.push(Input::Data(piece.as_bytes().to_vec()));
        input.push(Input::Pause(Duration::from_millis(20)));
    }
    input.push(Input::Hang);
    let o = run_full(input, short_timeouts(), None, false);
    assert_eq!(responses(&o.out, &[])[0].status, 408);
    assert_eq!(o.calls, 0);
}

#[test]
fn idle_timeout_closes_silently() {
    let o = run_full(
        vec![Input::Data(GET.as_bytes().to_vec()), Input::Hang],
        short_timeouts(),
        None,
        false,
    );
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].status, 200);
    assert!(o.result.is_ok());
}

#[test]
fn body_timeout_sends_408() {
    let o = run_full(
        vec![
            Input::Data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc".to_vec()),
            Input::Hang,
        ],
        short_timeouts(),
        None,
        false,
    );
    assert_eq!(responses(&o.out, &[])[0].status, 408);
    let o = run_full(
        vec![
            Input::Data(
                b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nab".to_vec(),
            ),
            Input::Hang,
        ],
        short_timeouts(),
        None,
        false,
    );
    assert_eq!(responses(&o.out, &[])[0].status, 408);
    assert_eq!(o.calls, 0);
}

#[test]
fn shutdown_closes_idle_connections_and_finishes_busy_ones() {
    // Idle (waiting for a request) when shutdown fires: closes without a word.
    let o = run_full(vec![Input::Hang], H1Config::default(), None, true);
    assert!(o.result.is_ok());
    assert!(o.out.is_empty());

    // Shutdown fires while a request is served: its response says close, then the
    // connection ends although the client would send more.
    let o = run_full(
        vec![
            Input::Data(b"GET /shutdown HTTP/1.1\r\nHost: a\r\n\r\n".to_vec()),
            Input::Hang,
        ],
        H1Config::default(),
        None,
        false,
    );
    let r = responses(&o.out, &[]);
    assert_eq!(r.len(), 1);
    assert_eq!(r[0].body, "bye");
    assert_eq!(r[0].header("Connection"), Some("close"));
    assert!(o.result.is_ok());
}

#[test]
fn request_fields() {
    struct Capture(RefCell<Option<Request>>);
    impl Service for Capture {
        async fn call(&self, req: Request) -> Response {
            *self.0.borrow_mut() = Some(req);
            Response::text(200, "ok")
        }
    }
    let raw = b"DELETE http://h.example:81/a%2Fb?x=%20 HTTP/1.1\r\nhost: ignored\r\nX-A: 1\r\nx-a: 2\r\n\r\n";
    let (_, req) = play(vec![Input::Data(raw.to_vec())], |stream| async move {
        let svc = Capture(RefCell::new(None));
        let tls_info = ConnInfo {
            tls: true,
            ..info()
        };
        serve_h1(
            stream,
            BytesMut::new(),
            &svc,
            &H1Config::default(),
            tls_info,
            &Shutdown::new(),
        )
        .await
        .unwrap();
        svc.0.into_inner().unwrap()
    });
    assert_eq!(req.method, Method::Delete);
    assert_eq!(req.target, "http://h.example:81/a%2Fb?x=%20");
    assert_eq!(req.path, "/a%2Fb");
    assert_eq!(req.query.as_deref(), Some("x=%20"));
    assert_eq!(req.host.as_deref(), Some("h.example:81"));
    assert_eq!(req.version, Version::Http11);
    let names: Vec<_> = req
        .headers
        .iter()
        .map(|(n, v)| format!("{n}={}", String::from_utf8_lossy(v)))
        .collect();
    assert_eq!(names, ["host=ignored", "X-A=1", "x-a=2"]);
    assert!(req.tls);
    assert_eq!(req.remote_addr, info().remote_addr);
    assert_eq!(req.local_addr, info().local_addr);
}

#[test]
fn initial_bytes_are_used_first() {
    let (out, ()) = play(
        vec![Input::Data(b"st: a\r\n\r\n".to_vec())],
        |stream| async move {
            let svc = TestService {
                shutdown: Shutdown::new(),
                stream_dropped: Rc::new(Cell::new(false)),
                calls: Cell::new(0),
            };
            let initial = BytesMut::from(&b"GET /init HTTP/1.1\r\nHo"[..]);
            serve_h1(
                stream,
                initial,
                &svc,
                &H1Config::default(),
                info(),
                &Shutdown::new(),
            )
            .await
            .unwrap();
        },
    );
    assert_eq!(responses(&out, &[])[0].header("X-Path"), Some("/init"));
}

#[test]
fn server_header_is_added() {
    let cfg = H1Config {
        server_header: Some(Bytes::from_static(b"uring_php")),
        ..H1Config::default()
    };
    let o = run_cfg(&[GET, "GET / HTTP/1.1\r\n\r\n"], cfg);
    let r = responses(&o.out, &[]);
    assert_eq!(r[0].header("Server"), Some("uring_php"));
    assert_eq!(r[1].status, 400);
    assert_eq!(r[1].header("Server"), Some("uring_php"));
}
