//! Every HTTP/1.1 framing rule and limit against the real binary over raw sockets: each
//! bad request gets the status named, and the server still serves the next connection.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use common::http_client::{get, read_response};
use common::server::TestServer;

fn docroot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/server")
}

fn cases() -> Vec<(&'static str, String, u16)> {
    let many_headers: String = (0..101).map(|i| format!("X-{i}: v\r\n")).collect();
    vec![
        ("garbage request line", "GARBAGE\r\n\r\n".into(), 400),
        ("HTTP/1.1 without Host", "GET /hello.php HTTP/1.1\r\n\r\n".into(), 400),
        ("two Host headers", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".into(), 400),
        ("Host with a slash", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n".into(), 400),
        ("bare LF in the request line", "GET / HTTP/1.1\nHost: a\r\n\r\n".into(), 400),
        ("bare CR in a header", "GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n".into(), 400),
        ("obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n folded\r\n\r\n".into(), 400),
        ("non-ASCII header name", "GET / HTTP/1.1\r\nHost: a\r\nBad\u{e9}: y\r\n\r\n".into(), 400),
        ("relative target", "GET hello.php HTTP/1.1\r\nHost: a\r\n\r\n".into(), 400),
        (
            "Content-Length with Transfer-Encoding",
            "POST /hello.php HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n".into(),
            400,
        ),
        (
            "differing Content-Length values",
            "POST /hello.php HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd".into(),
            400,
        ),
        ("negative Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -3\r\n\r\n".into(), 400),
        (
            "chunked not last",
            "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n".into(),
            400,
        ),
        ("unknown transfer coding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: br\r\n\r\n".into(), 501),
        (
            "chunk size overflow",
            "POST /hello.php HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n".into(),
            400,
        ),
        (
            "chunk size not hex",
            "POST /hello.php HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n".into(),
            400,
        ),
        (
            "chunk longer than its size",
            "POST /hello.php HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n".into(),
            400,
        ),
        ("unknown expectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: 101-switch\r\n\r\n".into(), 417),
        ("HTTP/3.0 on HTTP/1", "GET / HTTP/3.0\r\nHost: a\r\n\r\n".into(), 505),
        ("URI too long", format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(9000)), 414),
        ("header section too large", format!("GET / HTTP/1.1\r\nHost: a\r\nX: {}\r\n\r\n", "v".repeat(17000)), 431),
        ("too many headers", format!("GET / HTTP/1.1\r\nHost: a\r\n{many_headers}\r\n"), 431),
        (
            "body over MAX_BODY_SIZE (declared)",
            "POST /hello.php HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n".into(),
            413,
        ),
        (
            "body over MAX_BODY_SIZE (chunked)",
            format!(
                "POST /hello.php HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n900\r\n{}\r\n900\r\n{}\r\n0\r\n\r\n",
                "a".repeat(0x900),
                "b".repeat(0x900)
            ),
            413,
        ),
    ]
}

#[test]
fn each_framing_error_gets_its_status_and_the_server_carries_on() {
    let s = TestServer::builder(&docroot())
        .env("MAX_BODY_SIZE", "4K")
        .start();
    for (name, request, status) in cases() {
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(request.as_bytes()).unwrap();
        let r = read_response(&mut c);
        assert_eq!(r.status, status, "{name}");
        assert!(
            r.closes_connection(),
            "{name}: framing unknown, so Connection: close"
        );
        // The connection is closed after the reply.
        let mut buf = [0u8; 64];
        let closed = matches!(c.read(&mut buf), Ok(0) | Err(_));
        assert!(closed, "{name}: connection closed");
        let ok = get(&s.addr(), "/hello.php", &[]);
        assert_eq!(ok.status, 200, "served after {name}");
    }
}

#[test]
fn good_framings_are_accepted() {
    let s = TestServer::start(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php"));
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    // Chunked with an extension and a trailer, then Expect: 100-continue, then HEAD.
    c.write_all(
        b"POST /engine/binary.php HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    .unwrap();
    let r = read_response(&mut c);
    assert_eq!((r.status, r.body_str()), (200, "abcde".to_string()));
    c.write_all(b"POST /engine/binary.php HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n").unwrap();
    let mut interim = [0u8; 25];
    c.read_exact(&mut interim).unwrap();
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.write_all(b"wxyz").unwrap();
    let r = read_response(&mut c);
    assert_eq!((r.status, r.body_str()), (200, "wxyz".to_string()));
    c.write_all(b"HEAD /engine/hello.php HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = common::http_client::read_response_with(&mut c, true);
    assert_eq!(r.status, 200);
    // As nginx + php-fpm: PHP ran without output for HEAD, so no length is claimed.
    assert_eq!(r.header("Content-Length"), None);
    assert_eq!(r.header("Transfer-Encoding"), None);
    assert!(r.body.is_empty());
    assert!(r.header("Date").is_some());
    c.write_all(b"HEAD /server/plain.txt HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    let r = common::http_client::read_response_with(&mut c, true);
    assert_eq!(
        r.header("Content-Length"),
        Some("12"),
        "a static HEAD has GET's length"
    );
}
