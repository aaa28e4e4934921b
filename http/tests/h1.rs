//! HTTP/1.1 over real loopback TCP, on each monoio driver: a std TcpStream client talks
//! raw bytes to `serve_h1` behind a monoio TcpListener.

mod common;

use std::time::Duration;

use common::{assert_serves, checksum, drivers, pattern, start, Client};
use uring_http::h1::H1Config;

fn each_driver(cfg: H1Config, test: impl Fn(std::net::SocketAddr)) {
    for driver in drivers() {
        eprintln!("driver: {driver:?}");
        test(start(cfg.clone(), driver));
    }
}

/// `body` in chunked transfer coding, 100 000 bytes a chunk.
fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in body.chunks(100_000) {
        out.extend(format!("{:x}\r\n", piece.len()).as_bytes());
        out.extend(piece);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

/// POSTs `big` with Content-Length, then chunked, on `c`; the echo must report it whole,
/// received as `kind`, with the connection kept open.
fn post_both_framings(c: &mut Client, big: &[u8], kind: &str) {
    let want = format!("body={kind}:{}:{}", big.len(), checksum(big));
    c.send(format!(
        "POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        big.len()
    ));
    c.send(big);
    let r = c.response(false);
    assert!(r.text().ends_with(&want), "{}", r.text());
    assert_eq!(r.header("Connection"), None, "the connection stays open");
    c.send("POST /bigchunked HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    c.send(chunked(big));
    let r = c.response(false);
    assert!(r.text().ends_with(&want), "{}", r.text());
}

#[test]
fn keep_alive_and_pipelining() {
    each_driver(H1Config::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response(false);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Connection"), None);
        assert_eq!(
            r.text(),
            "GET /one q=None host=Some(\"t\") HTTP/1.1 body=empty:0:0"
        );
        // Same connection, three requests in one write.
        c.send(
            "GET /a HTTP/1.1\r\nHost: t\r\n\r\n\
             POST /b?x=1 HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
             GET /c HTTP/1.1\r\nHost: t\r\n\r\n",
        );
        let paths: Vec<String> = (0..3)
            .map(|_| c.response(false).header("X-Path").unwrap().to_owned())
            .collect();
        assert_eq!(paths, ["/a", "/b", "/c"]);
    });
}

#[test]
fn connection_close_and_http10() {
    each_driver(H1Config::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
        let r = c.response(false);
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.is_closed());

        let mut c = Client::connect(addr);
        c.send("GET /old HTTP/1.0\r\n\r\n");
        let r = c.response(false);
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(r.text().contains("HTTP/1.0"));
        assert!(c.is_closed());

        let mut c = Client::connect(addr);
        c.send("GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(c.response(false).header("Connection"), Some("keep-alive"));
        c.send("GET /2 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(c.response(false).header("X-Path"), Some("/2"));
    });
}

#[test]
fn request_bodies_content_length_chunked_and_spooled() {
    let mut cfg = H1Config::default();
    cfg.spool.threshold = 64 * 1024;
    each_driver(cfg, |addr| {
        let mut c = Client::connect(addr);
        c.send("PUT /cl HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
        assert!(c
            .response(false)
            .text()
            .ends_with(&format!("body=memory:3:{}", checksum(b"abc"))));

        c.send("POST /ch HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        c.send("4;name=v\r\nWiki\r\n");
        c.send("5\r\npedia\r\n0\r\nX-Trailer: dropped\r\n\r\n");
        assert!(c
            .response(false)
            .text()
            .ends_with(&format!("body=memory:9:{}", checksum(b"Wikipedia"))));

        // 2 MB: over the spool threshold, so it reaches the service as a file.
        post_both_framings(&mut c, &pattern(2 << 20), "file");
    });
}

#[test]
fn streamed_bodies_reach_the_service_while_they_arrive() {
    let mut cfg = H1Config::default();
    cfg.spool.buffering = false;
    cfg.spool.threshold = 64 * 1024;
    each_driver(cfg, |addr| {
        let mut c = Client::connect(addr);
        // Larger than the pipe and the spool threshold: it can only arrive whole if the
        // service reads while the connection still receives.
        post_both_framings(&mut c, &pattern(3 << 20), "stream");

        // A service that answers without reading its body: the response arrives, and
        // the connection closes, as the rest of the body is still in it.
        c.send("POST /big/7 HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\n01234");
        let r = c.response(false);
        assert_eq!(r.text(), "abcdefg");
        assert_eq!(r.header("Connection"), Some("close"));

        // Bodyless requests are untouched by the setting.
        let mut c = Client::connect(addr);
        c.send("GET /plain HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(c.response(false).text().ends_with("body=empty:0:0"));
    });
}

#[test]
fn expect_100_continue() {
    each_driver(H1Config::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send("POST /up HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
        // The client waits for the go-ahead before sending the body.
        assert_eq!(c.raw_head(), "HTTP/1.1 100 Continue\r\n\r\n");
        c.send("data");
        let r = c.response(false);
        assert_eq!(r.status, 200);
        assert!(r
            .text()
            .ends_with(&format!("body=memory:4:{}", checksum(b"data"))));
    });
}

#[test]
fn oversized_bodies_get_413_before_the_upload() {
    let cfg = H1Config {
        max_body_size: 1000,
        ..H1Config::default()
    };
    each_driver(cfg, |addr| {
        // With 100-continue the client never sends the body.
        let mut c = Client::connect(addr);
        c.send(
            "POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n",
        );
        let r = c.response(false);
        assert_eq!(r.status, 413);
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(c.is_closed());

        // Without it the client sends everything; the reply must survive the close.
        let mut c = Client::connect(addr);
        c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 200000\r\n\r\n");
        let _ = c.try_send(vec![b'x'; 200_000]);
        assert_eq!(c.response(false).status, 413);

        let mut c = Client::connect(addr);
        c.send("POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
        let _ = c.try_send(format!(
            "3e8\r\n{}\r\n3e8\r\n{}\r\n",
            "a".repeat(1000),
            "b".repeat(1000)
        ));
        assert_eq!(c.response(false).status, 413);
        assert_serves(addr);
    });
}

/// Each malformed request gets its status and `Connection: close`, the connection ends,
/// and the server goes on serving new connections.
#[test]
fn protocol_errors() {
    let cfg = H1Config {
        max_header_bytes: 1024,
        max_uri_len: 256,
        max_headers: 10,
        ..H1Config::default()
    };
    let many_headers: String = (0..11).map(|i| format!("X-{i}: v\r\n")).collect();
    let cases: Vec<(String, u16)> = vec![
        ("GARBAGE\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\r\nHost: a@b\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\nHost: a\r\n\r\n".into(), 400),
        ("GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n".into(), 400),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tfolded\r\n\r\n".into(),
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nBad\u{e9}: y\r\n\r\n".into(),
            400,
        ),
        ("GET / HTTP/1.1\r\nHost: a\r\nBad[]: y\r\n\r\n".into(), 400),
        ("GET relative HTTP/1.1\r\nHost: a\r\n\r\n".into(), 400),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
                .into(),
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"
                .into(),
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n".into(),
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".into(),
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n".into(),
            501,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n"
                .into(),
            400,
        ),
        (
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n".into(),
            400,
        ),
        (
            "GET / HTTP/1.1\r\nHost: a\r\nExpect: 101-switch\r\n\r\n".into(),
            417,
        ),
        ("GET / HTTP/3.0\r\nHost: a\r\n\r\n".into(), 505),
        (
            format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(300)),
            414,
        ),
        (
            format!(
                "GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n",
                "v".repeat(2000)
            ),
            431,
        ),
        (
            format!("GET / HTTP/1.1\r\nHost: a\r\n{many_headers}\r\n"),
            431,
        ),
    ];
    each_driver(cfg, |addr| {
        for (request, status) in &cases {
            let mut c = Client::connect(addr);
            c.send(request);
            let r = c.response(false);
            assert_eq!(r.status, *status, "{request:?}");
            assert_eq!(r.header("Connection"), Some("close"), "{request:?}");
            assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
            assert!(!r.body.is_empty());
            assert!(c.is_closed(), "{request:?}");
            assert_serves(addr);
        }
    });
}

#[test]
fn head_requests_get_no_body() {
    each_driver(H1Config::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send("HEAD /big/5000 HTTP/1.1\r\nHost: t\r\n\r\nGET /big/7 HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response(true);
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Length"), Some("5000"));
        // The next bytes are the next response, not a body.
        let r = c.response(false);
        assert_eq!(r.body, pattern(7));
    });
}

#[test]
fn responses_large_and_from_files() {
    each_driver(H1Config::default(), |addr| {
        let mut c = Client::connect(addr);
        for len in [0, 1000, 100_000, 3_000_000] {
            c.send(format!("GET /file/{len} HTTP/1.1\r\nHost: t\r\n\r\n"));
            let r = c.response(false);
            assert_eq!(r.header("Content-Length"), Some(len.to_string().as_str()));
            assert!(r.body == pattern(len), "file body of {len} bytes differs");
        }
        c.send("GET /big/2000000 HTTP/1.1\r\nHost: t\r\n\r\n");
        assert!(c.response(false).body == pattern(2_000_000));
    });
}

#[test]
fn stream_bodies_arrive_chunk_by_chunk() {
    each_driver(H1Config::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send("GET /sse HTTP/1.1\r\nHost: t\r\n\r\n");
        let head = c.raw_head();
        assert!(
            head.contains("\r\nTransfer-Encoding: chunked\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nContent-Type: text/event-stream\r\n"));
        // The first event arrives while the producer still waits for the second.
        assert_eq!(c.chunk().unwrap(), b"data: 1\n\n");
        let mut other = Client::connect(addr);
        other.send("GET /release HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(other.response(false).text(), "released");
        assert_eq!(c.chunk().unwrap(), b"data: 2\n\n");
        assert_eq!(c.chunk(), None);
        // Still keep-alive afterwards.
        c.send("GET /after HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response(false).header("X-Path"), Some("/after"));
    });
}

#[test]
fn timeouts() {
    let cfg = H1Config {
        header_timeout: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(200),
        body_timeout: Duration::from_millis(200),
        ..H1Config::default()
    };
    each_driver(cfg, |addr| {
        // Part of a head, then silence: 408.
        let mut c = Client::connect(addr);
        c.send("GET / HTTP/1.1\r\nHo");
        let r = c.response(false);
        assert_eq!(r.status, 408);
        assert!(c.is_closed());

        // Part of a body, then silence: 408.
        let mut c = Client::connect(addr);
        c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 10\r\n\r\nabc");
        assert_eq!(c.response(false).status, 408);
        assert!(c.is_closed());

        // Nothing at all, or nothing after a response: closed without a word.
        let mut c = Client::connect(addr);
        assert!(c.is_closed());
        let mut c = Client::connect(addr);
        c.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(c.response(false).status, 200);
        assert!(c.is_closed());
        assert_serves(addr);
    });
}

#[test]
fn graceful_shutdown() {
    each_driver(H1Config::default(), |addr| {
        // An idle keep-alive connection...
        let mut idle = Client::connect(addr);
        idle.send("GET /first HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(idle.response(false).status, 200);
        // ...is closed at once when shutdown fires, while the request that fired it
        // gets its response, marked close.
        let mut busy = Client::connect(addr);
        busy.send("GET /shutdown HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = busy.response(false);
        assert_eq!(r.text(), "bye");
        assert_eq!(r.header("Connection"), Some("close"));
        assert!(busy.is_closed());
        assert!(idle.is_closed());
    });
}
