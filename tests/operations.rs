//! Operations end to end: rate limit, access log, error pages, static caching,
//! compression, the internal server (/metrics parsed as Prometheus text), W3C trace
//! context and graceful shutdown — the real binary on loopback, real sockets.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

use common::http_client::{self, build_request, get, head, RawResponse, ResponseReader};
use common::metrics::{scrape, value};
use common::server::TestServer;
use common::wait::eventually;

fn ops_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/ops")
}

/// A copy of tests/php/ops plus generated files: `big.txt` (400 KiB, served from the
/// file), `style.css` (8 KiB, from memory), `image.png`, and `pre.txt` with
/// precompressed variants whose content differs from the original (so a test can tell
/// which one was served).
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(ops_dir()).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let p = dir.path();
    std::fs::write(p.join("big.txt"), text(400 * 1024)).unwrap();
    std::fs::write(p.join("style.css"), text(8 * 1024)).unwrap();
    let mut noise = Vec::with_capacity(4096);
    let mut x: u32 = 12345;
    for _ in 0..4096 {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        noise.push((x >> 16) as u8);
    }
    std::fs::write(p.join("image.png"), &noise).unwrap();
    std::fs::write(p.join("pre.txt"), text(4096)).unwrap();
    std::fs::write(p.join("pre.txt.br"), encode("br", b"the brotli variant\n")).unwrap();
    std::fs::write(p.join("pre.txt.gz"), encode("gzip", b"the gzip variant\n")).unwrap();
    dir
}

/// Deterministic compressible text of `n` bytes.
fn text(n: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = 0;
    while out.len() < n {
        out.extend_from_slice(
            format!("line {i:06}: the quick brown fox jumps over the lazy dog\n").as_bytes(),
        );
        i += 1;
    }
    out.truncate(n);
    out
}

fn encode(enc: &str, data: &[u8]) -> Vec<u8> {
    match enc {
        "br" => {
            let mut out = Vec::new();
            {
                let mut w = brotli::CompressorWriter::new(&mut out, 4096, 5, 20);
                w.write_all(data).unwrap();
            }
            out
        }
        "gzip" => {
            let mut w = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            w.write_all(data).unwrap();
            w.finish().unwrap()
        }
        "zstd" => zstd::bulk::compress(data, 3).unwrap(),
        other => panic!("{other}"),
    }
}

/// Decodes with the libraries' decoders, and with the `gzip` / `zstd` command-line tools
/// too when they are installed.
fn decode(enc: &str, data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    match enc {
        "br" => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .expect("valid brotli");
        }
        "gzip" => {
            flate2::read::MultiGzDecoder::new(data)
                .read_to_end(&mut out)
                .expect("valid gzip");
        }
        "zstd" => {
            zstd::stream::read::Decoder::new(data)
                .unwrap()
                .read_to_end(&mut out)
                .expect("valid zstd");
        }
        other => panic!("unexpected encoding {other}"),
    }
    let tool = match enc {
        "gzip" => "gzip",
        "zstd" => "zstd",
        _ => return out,
    };
    if let Ok(mut child) = std::process::Command::new(tool)
        .args(["-d", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        let mut stdin = child.stdin.take().unwrap();
        let input = data.to_vec();
        let writer = std::thread::spawn(move || stdin.write_all(&input));
        let cli = child.wait_with_output().unwrap();
        let _ = writer.join();
        assert!(cli.status.success(), "{tool} -d failed");
        assert_eq!(cli.stdout, out, "{tool} -d disagrees with the library");
    }
    out
}

/// GET from a chosen local address (127.0.0.2 is loopback too: another client IP).
fn get_from(local_ip: &str, addr: &str, path: &str) -> RawResponse {
    let target: SocketAddr = addr.parse().unwrap();
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    socket
        .bind(
            &format!("{local_ip}:0")
                .parse::<SocketAddr>()
                .unwrap()
                .into(),
        )
        .unwrap();
    socket.connect(&target.into()).unwrap();
    let mut stream: TcpStream = socket.into();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(&build_request(addr, "GET", path, &[], b""))
        .unwrap();
    ResponseReader::new(stream).read_final(false)
}

/// Waits until `f` holds (up to 10 s).
fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(bytes)))
}

#[test]
fn features_are_off_by_default() {
    let dir = site();
    let s = TestServer::start(dir.path());
    let r = get(
        &s.addr(),
        "/page.php",
        &[("Accept-Encoding", "gzip, br, zstd")],
    );
    assert_eq!(r.status, 200);
    for h in [
        "Content-Encoding",
        "Vary",
        "traceparent",
        "X-Request-ID",
        "X-RateLimit-Limit",
        "Cache-Control",
    ] {
        assert_eq!(r.header(h), None, "{h} without its setting");
    }
    let r = get(&s.addr(), "/missing", &[("Accept", "text/html")]);
    assert_eq!((r.status, r.body_str()), (404, "Not Found\n".to_string()));
}

#[test]
fn rate_limit_per_client_ip_across_cores() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("RATE_LIMIT", "3")
        .env("RATE_WINDOW", "60")
        .start();
    let addr = s.addr();
    for remaining in ["2", "1", "0"] {
        // Fresh connections: the kernel spreads them over the cores.
        let r = get_from("127.0.0.1", &addr, "/hello.php");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("X-RateLimit-Limit"), Some("3"));
        assert_eq!(r.header("X-RateLimit-Remaining"), Some(remaining));
        let reset: u64 = r.header("X-RateLimit-Reset").unwrap().parse().unwrap();
        assert!((1..=60).contains(&reset), "{reset}");
    }
    let r = get_from("127.0.0.1", &addr, "/plain.txt");
    assert_eq!(r.status, 429);
    let retry: u64 = r
        .header("Retry-After")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    assert_eq!(r.header("X-RateLimit-Limit"), Some("3"));
    assert_eq!(r.header("X-RateLimit-Remaining"), Some("0"));
    assert_eq!(
        r.header("X-RateLimit-Reset")
            .map(|v| v.parse::<u64>().unwrap()),
        Some(retry)
    );
    assert_eq!(r.body_str(), "Too Many Requests\n");

    // Another client is not limited.
    let r = get_from("127.0.0.2", &addr, "/hello.php");
    assert_eq!(r.status, 200, "127.0.0.2 has its own budget");
    assert_eq!(r.header("X-RateLimit-Remaining"), Some("2"));
    assert_eq!(get_from("127.0.0.1", &addr, "/hello.php").status, 429);
}

#[test]
fn access_log_lines_for_php_static_404_and_streams() {
    let dir = site();
    let log_file = dir.path().join("access.log");
    let s = TestServer::builder(dir.path())
        .env("ACCESS_LOG", "1")
        .env("ACCESS_LOG_FILE", &log_file)
        .env("TRACE_CONTEXT", "1")
        .start();
    let addr = s.addr();
    let php = get(
        &addr,
        "/hello.php?x=1&y=%22",
        &[
            ("User-Agent", "ops-test/1.0"),
            ("Referer", "http://example.test/from"),
        ],
    );
    assert_eq!(php.status, 200);
    let stat = get(
        &addr,
        "/plain.txt",
        &[("X-Request-ID", "client-chosen-id-42")],
    );
    assert_eq!(stat.status, 200);
    let missing = get(&addr, "/missing.html", &[]);
    assert_eq!(missing.status, 404);
    let sse = get(&addr, "/sse.php?n=4", &[]);
    assert_eq!(sse.status, 200);
    assert!(sse.chunked);
    let headr = head(&addr, "/plain.txt", &[]);
    assert_eq!(headr.status, 200);

    let mut lines = Vec::new();
    eventually("five access log lines", || {
        lines = std::fs::read_to_string(&log_file)
            .unwrap_or_default()
            .lines()
            .map(|l| json(l.as_bytes()))
            .collect();
        lines.len() >= 5
    });
    let find = |path: &str, method: &str| {
        lines
            .iter()
            .find(|l| l["path"] == path && l["method"] == method)
            .unwrap_or_else(|| panic!("no line for {method} {path}: {lines:?}"))
            .clone()
    };
    let keys = [
        "ts",
        "method",
        "path",
        "query",
        "protocol",
        "status",
        "bytes",
        "duration_ms",
        "ip",
        "user_agent",
        "referer",
        "request_id",
        "trace_id",
        "tls",
    ];
    for l in &lines {
        for k in keys {
            assert!(l.get(k).is_some(), "{k} missing in {l}");
        }
        assert!(l["ts"].as_str().unwrap().ends_with('Z'));
        assert_eq!(l["ip"], "127.0.0.1");
        assert_eq!(l["tls"], false);
        assert_eq!(l["protocol"], "HTTP/1.1");
        assert!(l["duration_ms"].as_f64().unwrap() >= 0.0);
        assert_eq!(l["trace_id"].as_str().unwrap().len(), 32);
    }
    let l = find("/hello.php", "GET");
    assert_eq!(l["query"], "x=1&y=%22");
    assert_eq!(l["status"], 200);
    assert_eq!(l["bytes"], 13);
    assert_eq!(l["user_agent"], "ops-test/1.0");
    assert_eq!(l["referer"], "http://example.test/from");
    assert_eq!(l["request_id"], php.header("X-Request-ID").unwrap());
    assert!(php
        .header("traceparent")
        .unwrap()
        .contains(l["trace_id"].as_str().unwrap()));

    let l = find("/plain.txt", "GET");
    assert_eq!(
        (l["status"].as_u64(), l["bytes"].as_u64()),
        (Some(200), Some(12))
    );
    assert_eq!(l["query"], serde_json::Value::Null);
    assert_eq!(l["user_agent"], serde_json::Value::Null);
    assert_eq!(l["request_id"], "client-chosen-id-42");

    let l = find("/missing.html", "GET");
    assert_eq!(
        (l["status"].as_u64(), l["bytes"].as_u64()),
        (Some(404), Some(missing.body.len() as u64))
    );

    // A stream is logged when it ends, with the bytes written.
    let l = find("/sse.php", "GET");
    assert_eq!(l["bytes"].as_u64(), Some(sse.body.len() as u64));
    assert!(sse.body.len() > 4 * 200);

    let l = find("/plain.txt", "HEAD");
    assert_eq!(l["bytes"], 0);
}

#[test]
fn trusted_proxy_names_the_client_for_php_rate_limit_and_log() {
    let dir = site();
    let log_file = dir.path().join("access.log");
    let s = TestServer::builder(dir.path())
        .env("TRUSTED_PROXIES", "127.0.0.1/32, ::1")
        .env("RATE_LIMIT", "1")
        .env("ACCESS_LOG", "1")
        .env("ACCESS_LOG_FILE", &log_file)
        .start();
    let addr = s.addr();
    // The edge proxy appended the real client after what the client claimed.
    let xff = [("X-Forwarded-For", "6.6.6.6, 203.0.113.50")];
    let r = get(&addr, "/remote.php", &xff);
    assert_eq!((r.status, r.body_str().as_str()), (200, "203.0.113.50"));
    // The limit is the client's, not the proxy's: another client still gets through,
    // the same one is refused.
    let other = get(&addr, "/remote.php", &[("X-Forwarded-For", "198.51.100.7")]);
    assert_eq!(
        (other.status, other.body_str().as_str()),
        (200, "198.51.100.7")
    );
    assert_eq!(get(&addr, "/remote.php", &xff).status, 429);
    // Without the header the peer itself is the client.
    assert_eq!(get(&addr, "/remote.php", &[]).body_str(), "127.0.0.1");
    let mut ips = Vec::new();
    eventually("four access log lines", || {
        ips = std::fs::read_to_string(&log_file)
            .unwrap_or_default()
            .lines()
            .map(|l| json(l.as_bytes())["ip"].as_str().unwrap_or("").to_string())
            .collect();
        ips.len() >= 4
    });
    // Each core writes its own lines: compare them in any order.
    ips.sort();
    assert_eq!(
        ips,
        ["127.0.0.1", "198.51.100.7", "203.0.113.50", "203.0.113.50"]
    );
}

#[test]
fn an_untrusted_peer_cannot_choose_its_address() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("TRUSTED_PROXIES", "10.0.0.0/8")
        .start();
    let r = get(
        &s.addr(),
        "/remote.php",
        &[("X-Forwarded-For", "203.0.113.50")],
    );
    assert_eq!(r.body_str(), "127.0.0.1");
}

#[test]
fn sighup_reopens_the_access_log_after_rotation() {
    let dir = site();
    let log_file = dir.path().join("access.log");
    let rotated = dir.path().join("access.log.1");
    let s = TestServer::builder(dir.path())
        .env("ACCESS_LOG", "1")
        .env("ACCESS_LOG_FILE", &log_file)
        .start();
    let addr = s.addr();
    let lines_of = |f: &std::path::Path| -> Vec<serde_json::Value> {
        std::fs::read_to_string(f)
            .unwrap_or_default()
            .lines()
            .map(|l| json(l.as_bytes()))
            .collect()
    };
    assert_eq!(get(&addr, "/plain.txt?before", &[]).status, 200);
    eventually("the first line", || lines_of(&log_file).len() == 1);
    // What logrotate does: move the file away, then signal the server.
    std::fs::rename(&log_file, &rotated).unwrap();
    s.signal("HUP");
    eventually("the reopen", || s.log().contains("access log reopened"));
    assert_eq!(get(&addr, "/plain.txt?after", &[]).status, 200);
    eventually("a line in the new file", || lines_of(&log_file).len() == 1);
    assert_eq!(lines_of(&log_file)[0]["query"], "after");
    let old = lines_of(&rotated);
    assert_eq!(old.len(), 1, "{old:?}");
    assert_eq!(old[0]["query"], "before");
}

#[test]
fn error_pages_html_for_browsers_plain_text_otherwise() {
    let dir = site();
    let pages = tempfile::tempdir().unwrap();
    std::fs::write(pages.path().join("404.html"), "<h1>custom not found</h1>\n").unwrap();
    std::fs::write(
        pages.path().join("500.html"),
        "<h1>custom server error</h1>\n",
    )
    .unwrap();
    std::fs::write(pages.path().join("504.html"), "<h1>custom timeout</h1>\n").unwrap();
    let s = TestServer::builder(dir.path())
        .env("ERROR_PAGES_DIR", pages.path())
        .env("REQUEST_TIMEOUT", "1s")
        .start();
    let addr = s.addr();
    let browser = [("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")];

    let r = get(&addr, "/missing", &browser);
    assert_eq!(r.status, 404);
    assert_eq!(r.body_str(), "<h1>custom not found</h1>\n");
    assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));

    let r = get(&addr, "/missing", &[("Accept", "application/json")]);
    assert_eq!(
        (r.status, r.body_str()),
        (404, "404 Not Found\n".to_string())
    );
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));

    // PHP's own error page (with content) is the application's business.
    let r = get(&addr, "/status.php?code=500", &browser);
    assert_eq!(
        (r.status, r.body_str()),
        (500, "the application's own error page".to_string())
    );
    // An empty error response gets the page.
    let r = get(&addr, "/status.php?code=500&empty=1", &browser);
    assert_eq!(
        (r.status, r.body_str()),
        (500, "<h1>custom server error</h1>\n".to_string())
    );
    // No page for 403: the plain status line, whatever the client accepts.
    let r = get(&addr, "/status.php?code=403&empty=1", &browser);
    assert_eq!(
        (r.status, r.body_str()),
        (403, "403 Forbidden\n".to_string())
    );

    // The server's own answers never show internal text.
    let r = get(&addr, "/sleep.php?ms=3000", &[]);
    assert_eq!(
        (r.status, r.body_str()),
        (504, "504 Gateway Timeout\n".to_string())
    );
    let r = get(&addr, "/sleep.php?ms=3000", &browser);
    assert_eq!(
        (r.status, r.body_str()),
        (504, "<h1>custom timeout</h1>\n".to_string())
    );
    let r = http_client::request(&addr, "BREW", "/hello.php", &[], b"");
    assert_eq!(
        (r.status, r.body_str()),
        (405, "405 Method Not Allowed\n".to_string())
    );
    assert!(
        r.header("Allow").is_some(),
        "headers of the original answer are kept"
    );
}

#[test]
fn static_cache_headers_on_static_files_only() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("STATIC_CACHE_TTL", "1h")
        .start();
    let r = get(&s.addr(), "/plain.txt", &[]);
    assert_eq!(r.header("Cache-Control"), Some("public, max-age=3600"));
    let expires = httpdate::parse_http_date(r.header("Expires").expect("Expires")).unwrap();
    let ahead = expires
        .duration_since(std::time::SystemTime::now())
        .unwrap()
        .as_secs();
    assert!((3500..=3601).contains(&ahead), "{ahead}");
    let etag = r.header("ETag").unwrap().to_string();
    let r = get(&s.addr(), "/plain.txt", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert_eq!(r.header("Cache-Control"), Some("public, max-age=3600"));
    let r = get(&s.addr(), "/big.txt", &[]);
    assert_eq!(r.header("Cache-Control"), Some("public, max-age=3600"));
    let r = get(&s.addr(), "/hello.php", &[]);
    assert_eq!(
        r.header("Cache-Control"),
        None,
        "PHP responses are the application's"
    );
    assert_eq!(r.header("Expires"), None);
}

#[test]
fn compression_round_trips_for_each_encoding() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("COMPRESSION", "1")
        .start();
    let addr = s.addr();
    // PHP output (bytes), a static file from memory, one read from disk, a PHP stream.
    for path in ["/page.php?kib=48", "/style.css", "/big.txt", "/sse.php?n=8"] {
        let plain = get(&addr, path, &[]);
        assert_eq!(plain.status, 200);
        assert_eq!(
            plain.header("Content-Encoding"),
            None,
            "{path}: no Accept-Encoding, no encoding"
        );
        assert!(
            plain
                .header("Vary")
                .is_some_and(|v| v.contains("Accept-Encoding")),
            "{path}: Vary on the identity response too"
        );
        for enc in ["br", "zstd", "gzip"] {
            let r = get(&addr, path, &[("Accept-Encoding", enc)]);
            assert_eq!(r.status, 200, "{path} {enc}");
            assert_eq!(r.header("Content-Encoding"), Some(enc), "{path}");
            assert!(
                r.header("Vary")
                    .is_some_and(|v| v.contains("Accept-Encoding")),
                "{path} {enc}"
            );
            assert!(
                r.body.len() < plain.body.len(),
                "{path} {enc}: {} vs {}",
                r.body.len(),
                plain.body.len()
            );
            assert_eq!(
                decode(enc, &r.body),
                plain.body,
                "{path} {enc} decodes to the original"
            );
        }
    }
    // q-values decide; ties go to zstd, then br.
    let r = get(
        &addr,
        "/page.php",
        &[("Accept-Encoding", "gzip;q=1.0, br;q=0.5, zstd;q=0")],
    );
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    let r = get(&addr, "/page.php", &[("Accept-Encoding", "gzip, br")]);
    assert_eq!(r.header("Content-Encoding"), Some("br"));
    let r = get(
        &addr,
        "/page.php",
        &[("Accept-Encoding", "gzip, deflate, br, zstd")],
    );
    assert_eq!(r.header("Content-Encoding"), Some("zstd"));
    let r = get(&addr, "/page.php", &[("Accept-Encoding", "identity")]);
    assert_eq!(r.header("Content-Encoding"), None);
    // A strong ETag becomes weak on a compressed response, and still revalidates.
    let r = get(&addr, "/style.css", &[("Accept-Encoding", "gzip")]);
    let etag = r.header("ETag").unwrap().to_string();
    assert!(etag.starts_with("W/\""), "{etag}");
    let r = get(
        &addr,
        "/style.css",
        &[("Accept-Encoding", "gzip"), ("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 304);
}

#[test]
fn compression_is_skipped_where_it_must_be() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("COMPRESSION", "1")
        .start();
    let addr = s.addr();
    let all = [("Accept-Encoding", "br, zstd, gzip")];
    // Below COMPRESSION_MIN_SIZE (1 KiB).
    let r = get(&addr, "/hello.php", &all);
    assert_eq!(
        (r.header("Content-Encoding"), r.body_str().as_str()),
        (None, "Hello, World!")
    );
    // Not a compressible type.
    let r = get(&addr, "/image.png", &all);
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.body.len(), 4096);
    // A range.
    let r = get(
        &addr,
        "/big.txt",
        &[("Accept-Encoding", "gzip"), ("Range", "bytes=0-99")],
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.header("Content-Encoding"), None);
    assert_eq!(r.body, text(100));
    // Cache-Control: no-transform.
    let r = get(&addr, "/page.php?no_transform=1", &all);
    assert_eq!(r.header("Content-Encoding"), None);
    // HEAD promises what GET would send.
    let r = head(&addr, "/style.css", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
}

#[test]
fn precompressed_static_files_are_served_when_accepted() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("COMPRESSION", "1")
        .start();
    let addr = s.addr();
    let r = get(&addr, "/pre.txt", &[("Accept-Encoding", "br, gzip")]);
    assert_eq!(r.header("Content-Encoding"), Some("br"));
    assert_eq!(decode("br", &r.body), b"the brotli variant\n");
    let r = get(&addr, "/pre.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(decode("gzip", &r.body), b"the gzip variant\n");
    // No .zst variant: compressed on the fly from the original.
    let r = get(&addr, "/pre.txt", &[("Accept-Encoding", "zstd")]);
    assert_eq!(r.header("Content-Encoding"), Some("zstd"));
    assert_eq!(decode("zstd", &r.body), text(4096));
    let r = get(&addr, "/pre.txt", &[]);
    assert_eq!(r.body, text(4096));
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    // Once the original was served in full (and may sit in a core's memory), the variant
    // still wins for a client that takes it, with a weak ETag (not the original's bytes).
    let r = get(&addr, "/pre.txt", &[("Accept-Encoding", "br")]);
    assert_eq!(r.header("Content-Encoding"), Some("br"));
    assert_eq!(decode("br", &r.body), b"the brotli variant\n");
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert!(
        r.header("ETag").is_some_and(|t| t.starts_with("W/")),
        "{:?}",
        r.header("ETag")
    );
    assert_eq!(r.header("Accept-Ranges"), None);
    // The variants are files under the root like any other; never a way out of it.
    let r = get(&addr, "/pre.txt.br", &[]);
    assert_eq!(r.status, 200);
}

#[test]
fn metrics_parse_and_move_health_ready_config() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .env("PHP_WORKERS", "2")
        .env("RATE_LIMIT", "1000")
        .env("PHP_INI_APP__SECRET_TOKEN", "hunter2")
        .start();
    let addr = s.addr();
    let internal = s.internal_addr();

    let before = scrape(&internal);
    let get_2xx = value(
        &before,
        "uring_php_requests_total",
        &[("method", "GET"), ("status", "2xx")],
    );
    let post_2xx = value(
        &before,
        "uring_php_requests_total",
        &[("method", "POST"), ("status", "2xx")],
    );
    let get_4xx = value(
        &before,
        "uring_php_requests_total",
        &[("method", "GET"), ("status", "4xx")],
    );
    let out_before = value(&before, "uring_php_sent_body_bytes_total", &[]);
    let in_before = value(&before, "uring_php_received_body_bytes_total", &[]);
    let php_count = value(&before, "uring_php_php_duration_seconds_count", &[]);
    let streams = value(&before, "uring_php_streams_total", &[]);
    assert_eq!(value(&before, "uring_php_queue_capacity", &[]), 200.0);
    eventually("2 idle PHP workers", || {
        value(
            &scrape(&internal),
            "uring_php_workers",
            &[("state", "idle")],
        ) == 2.0
    });

    for _ in 0..3 {
        assert_eq!(get(&addr, "/hello.php", &[]).status, 200);
    }
    assert_eq!(
        http_client::post(&addr, "/hello.php", "text/plain", b"0123456789", &[]).status,
        200
    );
    assert_eq!(get(&addr, "/missing", &[]).status, 404);
    assert_eq!(get(&addr, "/sse.php?n=2", &[]).status, 200);
    // A connection held open shows in the gauge.
    let mut held = TcpStream::connect(&addr).unwrap();
    held.write_all(b"GET /hello.php HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let _ = ResponseReader::new(held.try_clone().unwrap()).read_final(false);

    let after = scrape(&internal);
    assert_eq!(
        value(
            &after,
            "uring_php_requests_total",
            &[("method", "GET"), ("status", "2xx")]
        ),
        get_2xx + 5.0
    );
    assert_eq!(
        value(
            &after,
            "uring_php_requests_total",
            &[("method", "POST"), ("status", "2xx")]
        ),
        post_2xx + 1.0
    );
    assert_eq!(
        value(
            &after,
            "uring_php_requests_total",
            &[("method", "GET"), ("status", "4xx")]
        ),
        get_4xx + 1.0
    );
    assert!(value(&after, "uring_php_sent_body_bytes_total", &[]) >= out_before + 5.0 * 13.0);
    assert_eq!(
        value(&after, "uring_php_received_body_bytes_total", &[]),
        in_before + 10.0
    );
    assert_eq!(
        value(&after, "uring_php_php_duration_seconds_count", &[]),
        php_count + 6.0
    );
    assert_eq!(value(&after, "uring_php_streams_total", &[]), streams + 1.0);
    assert_eq!(value(&after, "uring_php_active_streams", &[]), 0.0);
    assert!(value(&after, "uring_php_request_duration_seconds_count", &[]) >= 7.0);
    assert!(
        value(
            &after,
            "uring_php_open_connections",
            &[("protocol", "http")]
        ) >= 1.0
    );
    assert!(
        value(
            &after,
            "uring_php_connections_total",
            &[("protocol", "http")]
        ) >= 7.0
    );
    assert!(after
        .samples
        .iter()
        .any(|x| x.metric == "uring_php_worker_restarts_total"));
    drop(held);

    // An h2c connection is counted as HTTP/2, and no longer open once curl is done.
    let h2_before = value(&after, "uring_php_http2_connections_total", &[]);
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-o",
            "/dev/null",
            "-w",
            "%{http_version}",
        ])
        .arg(format!("http://{addr}/hello.php"))
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2");
    eventually("the h2c connection counted and closed", || {
        let m = scrape(&internal);
        value(&m, "uring_php_http2_connections_total", &[]) == h2_before + 1.0
            && value(&m, "uring_php_open_http2_connections", &[]) == 0.0
    });

    let r = get(&internal, "/health", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(json(&r.body)["status"], "ok");
    let r = get(&internal, "/ready", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(json(&r.body)["ready"], true);
    let r = get(&internal, "/config", &[]);
    assert_eq!(r.status, 200);
    let cfg = json(&r.body);
    assert_eq!(cfg["settings"]["PHP_WORKERS"]["value"], "2");
    assert_eq!(cfg["settings"]["PHP_WORKERS"]["source"], "env");
    assert_eq!(cfg["settings"]["RATE_LIMIT"]["value"], "1000");
    assert_eq!(cfg["effective"]["php_workers"], 2);
    assert_eq!(cfg["php_ini_overrides"]["app.secret_token"], "[redacted]");
    assert!(!r.body_str().contains("hunter2"), "secrets are redacted");
    assert_eq!(get(&internal, "/nope", &[]).status, 404);
}

#[test]
fn rate_limited_and_ready_under_a_full_queue() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .env("PHP_WORKERS", "1")
        .env("QUEUE_CAPACITY", "1")
        .env("RATE_LIMIT", "2")
        .start();
    let addr = s.addr();
    let internal = s.internal_addr();
    // From 127.0.0.2: 2 allowed, then 429s, counted.
    for _ in 0..4 {
        get_from("127.0.0.2", &addr, "/hello.php");
    }
    let m = scrape(&internal);
    assert_eq!(value(&m, "uring_php_rate_limited_total", &[]), 2.0);
    assert_eq!(
        value(&m, "uring_php_requests_total", &[("status", "4xx")]),
        2.0
    );

    // One worker busy, one request queued: the queue is full, /ready says so, the
    // next request gets 503 and is counted as dropped.
    let a = addr.clone();
    let busy: Vec<_> = ["127.0.0.3", "127.0.0.4"]
        .into_iter()
        .enumerate()
        .map(|(i, ip)| {
            let a = a.clone();
            let t = std::thread::spawn(move || get_from(ip, &a, "/sleep.php?ms=1500"));
            // The first runs, the second waits in the queue.
            eventually("the request to be taken in", || {
                let m = scrape(&internal);
                value(&m, "uring_php_workers", &[("state", "busy")])
                    + value(&m, "uring_php_queue_depth", &[])
                    == (i + 1) as f64
            });
            t
        })
        .collect();
    let r = get(&internal, "/ready", &[]);
    assert_eq!(r.status, 503, "{}", r.body_str());
    assert!(
        json(&r.body)["reason"].as_str().unwrap().contains("queue"),
        "{}",
        r.body_str()
    );
    assert_eq!(get_from("127.0.0.5", &addr, "/hello.php").status, 503);
    for t in busy {
        assert_eq!(t.join().unwrap().status, 200);
    }
    let m = scrape(&internal);
    assert_eq!(value(&m, "uring_php_dropped_total", &[]), 1.0);
    eventually("/ready after the queue drained", || {
        get(&internal, "/ready", &[]).status == 200
    });
}

#[test]
fn trace_context_round_trip() {
    let dir = site();
    let s = TestServer::builder(dir.path())
        .env("TRACE_CONTEXT", "1")
        .start();
    let addr = s.addr();
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = get(
        &addr,
        "/trace.php",
        &[
            ("traceparent", incoming),
            ("tracestate", "congo=t61rcWkgMzE"),
        ],
    );
    assert_eq!(r.status, 200);
    let php = json(&r.body);
    let tp = r
        .header("traceparent")
        .expect("traceparent on the response");
    let parts: Vec<&str> = tp.split('-').collect();
    assert_eq!(parts.len(), 4, "{tp}");
    assert_eq!(parts[0], "00");
    assert_eq!(
        parts[1], "4bf92f3577b34da6a3ce929d0e0e4736",
        "the trace continues"
    );
    assert_ne!(parts[2], "00f067aa0ba902b7", "a new span");
    assert_eq!(parts[2].len(), 16);
    assert_eq!(parts[3], "01");
    assert_eq!(php["trace_id"], parts[1]);
    assert_eq!(php["span_id"], parts[2]);
    assert_eq!(php["parent_span_id"], "00f067aa0ba902b7");
    assert_eq!(
        php["traceparent"], incoming,
        "PHP sees the caller's header as sent"
    );
    assert_eq!(r.header("tracestate"), Some("congo=t61rcWkgMzE"));
    let rid = r.header("X-Request-ID").unwrap();
    assert_eq!(rid, format!("{}-{}", parts[1], parts[2]));
    assert_eq!(
        php["request_id"],
        serde_json::Value::Null,
        "a derived id is not added to the request"
    );

    // A client's valid X-Request-ID is echoed; an invalid traceparent starts a new trace.
    let r = get(
        &addr,
        "/trace.php",
        &[
            (
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            ),
            ("X-Request-ID", "abc-123"),
        ],
    );
    let php = json(&r.body);
    assert_eq!(r.header("X-Request-ID"), Some("abc-123"));
    assert_eq!(php["request_id"], "abc-123");
    assert_eq!(php["parent_span_id"], "");
    let tp = r.header("traceparent").unwrap();
    assert_eq!(&tp[3..35], php["trace_id"].as_str().unwrap());
    assert_ne!(php["trace_id"], "00000000000000000000000000000000");
    assert_eq!(r.header("tracestate"), None);

    // Too long to echo: one derived from the trace.
    let long = "x".repeat(200);
    let r = get(&addr, "/plain.txt", &[("X-Request-ID", &long)]);
    let rid = r.header("X-Request-ID").unwrap();
    assert_eq!(rid.len(), 49, "{rid}");
    assert!(r.header("traceparent").unwrap().contains(&rid[..32]));
    // Every request its own span.
    let a = get(&addr, "/hello.php", &[("traceparent", incoming)]);
    let b = get(&addr, "/hello.php", &[("traceparent", incoming)]);
    assert_ne!(a.header("traceparent"), b.header("traceparent"));
}

#[test]
fn scripts_still_running_at_the_drain_timeout_are_stopped() {
    let dir = site();
    let mark = dir.path().join("running");
    let mut s = TestServer::builder(dir.path())
        .env("DRAIN_TIMEOUT_SECS", "1")
        .env("REQUEST_TIMEOUT", "0")
        // Without the drain deadline this script would hold the exit for ten minutes.
        .env("PHP_INI_MAX_EXECUTION_TIME", "600")
        .start();
    let addr = s.addr();
    let url = format!("/forever.php?mark={}", mark.display());
    let client = std::thread::spawn(move || {
        let mut c = ResponseReader::connect(&addr);
        c.send(&build_request(&addr, "GET", &url, &[], b""));
        // The drain timeout closes the connection: no response.
        assert!(c.try_read_final(false).is_err());
    });
    eventually("the script running", || mark.exists());
    s.signal("TERM");
    let status = s.wait(Duration::from_secs(60));
    assert!(status.is_some(), "the server did not exit");
    assert!(status.unwrap().success(), "{:?}", status);
    assert!(
        s.log()
            .contains("drain timeout: stopping running PHP scripts"),
        "{}",
        s.log()
    );
    client.join().unwrap();
}

#[test]
fn graceful_shutdown_finishes_50_in_flight_requests() {
    let dir = site();
    let mut s = TestServer::builder(dir.path())
        .env("PHP_WORKERS", "50")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .env("DRAIN_TIMEOUT_SECS", "20")
        .start();
    let addr = s.addr();
    let internal = s.internal_addr();
    // Each request stays in PHP until the test releases them all (a fixed sleep let the
    // first finish before the last started on a loaded machine).
    std::fs::write(
        dir.path().join("held.php"),
        "<?php $f = $_GET['until']; while (!file_exists($f)) { usleep(5000); } echo 'slept';",
    )
    .unwrap();
    let release = dir.path().join("release");
    let clients: Vec<_> = (0..50)
        .map(|_| {
            let addr = addr.clone();
            let path = format!("/held.php?until={}", release.display());
            std::thread::spawn(move || {
                let mut c = ResponseReader::connect(&addr);
                c.send(&build_request(
                    &addr,
                    "GET",
                    &path,
                    &[("Connection", "keep-alive")],
                    b"",
                ));
                c.read_final(false)
            })
        })
        .collect();
    // All 50 are running in PHP (none left queued beside an idle worker).
    eventually("50 busy PHP workers", || {
        value(
            &scrape(&internal),
            "uring_php_workers",
            &[("state", "busy")],
        ) == 50.0
    });
    s.signal("TERM");
    // The listeners close at once: new connections are refused while the 50 finish.
    eventually(
        "new connections refused",
        || matches!(TcpStream::connect(&addr), Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused),
    );
    std::fs::write(&release, b"").unwrap();
    for c in clients {
        let r = c.join().unwrap();
        assert_eq!((r.status, r.body_str()), (200, "slept".to_string()));
        assert!(
            r.closes_connection(),
            "responses during the drain say Connection: close"
        );
    }
    let status = s.wait(Duration::from_secs(30)).expect("the server exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn drain_timeout_bounds_the_wait() {
    let dir = site();
    let mut s = TestServer::builder(dir.path())
        .env("DRAIN_TIMEOUT_SECS", "1")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .start();
    let internal = s.internal_addr();
    let mut conn = ResponseReader::connect(&s.addr());
    conn.send(&build_request(
        &s.addr(),
        "GET",
        "/sleep.php?ms=6000",
        &[],
        b"",
    ));
    // The script is running before the drain starts.
    eventually("the script runs", || {
        value(
            &scrape(&internal),
            "uring_php_workers",
            &[("state", "busy")],
        ) == 1.0
    });
    s.signal("TERM");
    // After 1 s the connection is closed without an answer (with the default 30 s the
    // client would have got its 200 after 6 s).
    let r = conn.try_read_final(false);
    assert!(
        r.is_err(),
        "the connection was closed at the drain timeout, got {:?}",
        r.map(|r| r.status)
    );
    let status = s.wait(Duration::from_secs(30)).expect("the server exits");
    assert_eq!(status.code(), Some(0));
}

#[test]
fn bad_operations_settings_are_one_line_exit_2() {
    for (var, value, expect) in [
        ("RATE_LIMIT", "lots", "RATE_LIMIT"),
        ("STATIC_CACHE_TTL", "1m", "ambiguous"),
        ("COMPRESSION_LEVEL_BR", "12", "COMPRESSION_LEVEL_BR"),
        (
            "ERROR_PAGES_DIR",
            "/nonexistent",
            "ERROR_PAGES_DIR=/nonexistent: not a directory",
        ),
        ("INTERNAL_ADDR", "nowhere", "INTERNAL_ADDR"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_uring_php"))
            .env_clear()
            .env("DOCUMENT_ROOT", ops_dir())
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(err.contains(expect), "{err}");
    }
}
