//! A response that outgrows OUTPUT_SPILL_THRESHOLD (and moves to a memfd) and then turns
//! into a stream (`flush()`, `ob_end_flush()`, SSE) or ends early (`fastcgi_finish_request()`)
//! delivers every byte, in order, at sizes around the threshold. Before the fix, output
//! that had spilled before the first flush() was lost: a 200 with the tail only.

mod common;

use std::path::Path;

use common::http_client;
use common::server::TestServer;

const THRESHOLD: usize = 64 * 1024;

fn pattern(n: usize) -> Vec<u8> {
    let block: Vec<u8> = (0..251).map(|i| b'a' + ((i * 7) % 26) as u8).collect();
    block.iter().copied().cycle().take(n).collect()
}

fn sizes() -> Vec<usize> {
    vec![
        1,
        THRESHOLD - 1,
        THRESHOLD,
        THRESHOLD + 1,
        2 * THRESHOLD,
        7 * THRESHOLD / 2,
        // Past STREAM_BUFFER_SIZE: the spilled part goes out in bounded pieces.
        3 << 20,
    ]
}

fn server() -> TestServer {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/php/output");
    TestServer::builder(&root)
        .env("OUTPUT_SPILL_THRESHOLD", THRESHOLD.to_string())
        .env("STREAM_BUFFER_SIZE", (256 * 1024).to_string())
        .env("PHP_WORKERS", "2")
        .start()
}

fn check(s: &TestServer, mode: &str, n: usize, expected: &[u8]) {
    let r = http_client::get(&s.addr(), &format!("/spill.php?mode={mode}&n={n}"), &[]);
    assert_eq!(r.status, 200, "{mode} n={n}");
    assert_eq!(
        r.body.len(),
        expected.len(),
        "{mode} n={n}: body length; starts {:?}",
        http_client::preview(&r.body)
    );
    assert!(r.body == expected, "{mode} n={n}: body bytes differ");
}

#[test]
fn every_byte_arrives_around_the_spill_threshold() {
    let s = server();
    for n in sizes() {
        let p = pattern(n);
        let cat = |parts: &[&[u8]]| parts.concat();
        check(&s, "plain", n, &cat(&[&p, b"|END"]));
        check(&s, "flush", n, &cat(&[&p, b"|TAIL"]));
        check(&s, "flush-twice", n, &cat(&[&p, &p, b"|TAIL"]));
        check(&s, "ob", n, &cat(&[&p, b"|TAIL"]));
        check(&s, "finish", n, &p);
        check(&s, "flush-finish", n, &cat(&[&p, b"|MORE"]));
        check(
            &s,
            "sse",
            n,
            &cat(&[&p, b"data: 0\n\ndata: 1\n\ndata: 2\n\n"]),
        );
    }
}

/// The same over HTTP/2 (h2c), where a stream's chunks are DATA frames.
#[test]
fn every_byte_arrives_over_h2() {
    let s = server();
    for n in [THRESHOLD + 1, 3 << 20] {
        let out = std::process::Command::new("curl")
            .args(["-sS", "--http2-prior-knowledge", "-o", "-"])
            .arg(format!("http://{}/spill.php?mode=flush&n={n}", s.addr()))
            .output()
            .expect("curl");
        assert!(
            out.status.success(),
            "curl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let expected = [pattern(n).as_slice(), b"|TAIL"].concat();
        assert_eq!(out.stdout.len(), expected.len(), "h2 n={n}");
        assert!(out.stdout == expected, "h2 n={n}: bytes differ");
    }
}
