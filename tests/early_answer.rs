//! An answer before the body was read (413 for a body over MAX_BODY_SIZE) reaches a client
//! that writes its whole body before it reads, as Python's http.client and many SDKs do:
//! the server drains the body (lingering close) instead of resetting the connection
//! under the answer. Before the fix the drain stopped after 1 MiB and such a client got
//! EPIPE/ECONNRESET.

mod common;

use std::io::{Read, Write};
use std::path::Path;

use common::http_client;
use common::server::TestServer;

#[test]
fn a_413_reaches_a_client_that_sends_its_whole_body_first() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/php/server");
    let s = TestServer::builder(&root)
        .env("MAX_BODY_SIZE", "1M")
        .start();
    let body_len: usize = 24 << 20;
    let mut stream = http_client::connect(&s.addr());
    let head = format!(
        "POST /hello.php HTTP/1.1\r\nHost: {}\r\nContent-Type: application/octet-stream\r\nContent-Length: {body_len}\r\n\r\n",
        s.addr()
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    let mut sent = 0;
    while sent < body_len {
        stream
            .write_all(&chunk)
            .unwrap_or_else(|e| panic!("writing the body failed after {sent} bytes: {e}"));
        sent += chunk.len();
    }
    let mut answer = Vec::new();
    stream
        .read_to_end(&mut answer)
        .unwrap_or_else(|e| panic!("reading the answer: {e}"));
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413 "), "{text}");
    // The server goes on serving.
    assert_eq!(http_client::get(&s.addr(), "/hello.php", &[]).status, 200);
}
