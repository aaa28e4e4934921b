//! PHP runtime features through the real server: finish_request, timeouts with
//! heartbeats, streaming/SSE with backpressure, aborts, sessions, worker recycling,
//! Server-Timing and the uring_* functions. Each test fails if its feature is a stub.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use common::http_client::{get, ResponseReader};
use common::server::TestServer;
use serde_json::Value;

fn docroot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php")
}

fn wait_for(path: &std::path::Path, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if path.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

#[test]
fn finish_request_answers_then_the_script_goes_on() {
    let s = TestServer::builder(&docroot())
        .env("PHP_WORKERS", "2")
        .start();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("finished");
    let mut reader = ResponseReader::connect(&s.addr());
    let path = format!("/runtime/finish.php?marker={}", marker.display());
    reader.send(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes());
    let r = reader.read_response(false);
    assert_eq!((r.status, r.body_str()), (200, "done".to_string()));
    assert_eq!(r.header("X-Before"), Some("1"));
    assert!(
        r.header("X-After").is_none(),
        "headers after finish are dropped"
    );
    // The same connection is served again while the script is still sleeping.
    reader.send(b"GET /runtime/info.php HTTP/1.1\r\nHost: x\r\n\r\n");
    let next = reader.read_response(false);
    assert_eq!(next.status, 200);
    assert!(
        !marker.exists(),
        "the second response came before the first script ended"
    );
    assert!(
        wait_for(&marker, Duration::from_secs(15)),
        "the script ran on after finishing"
    );
    let m: Value = serde_json::from_str(&std::fs::read_to_string(&marker).unwrap()).unwrap();
    assert_eq!(m["first"], true);
    assert_eq!(
        m["second"], false,
        "a second call is harmless and says false"
    );
}

#[test]
fn request_timeout_and_heartbeat() {
    let s = TestServer::builder(&docroot())
        .env("PHP_WORKERS", "2")
        .env("REQUEST_TIMEOUT", "1s")
        .start();
    let r = get(&s.addr(), "/runtime/heartbeat.php?beat=0", &[]);
    assert_eq!(r.status, 504, "without heartbeats the 1 s timeout fires");
    let r = get(&s.addr(), "/runtime/heartbeat.php?beat=1", &[]);
    assert_eq!(
        r.status,
        200,
        "heartbeats kept it alive past 2 s: {}",
        r.body_str()
    );
    assert_eq!(r.body_str(), "[true,true,true,false]");
}

#[test]
fn sse_events_arrive_one_by_one() {
    let s = TestServer::start(&docroot());
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c.write_all(b"GET /runtime/sse.php HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n")
        .unwrap();
    let mut seen = Vec::new();
    let mut stamps = Vec::new();
    let mut buf = [0u8; 4096];
    let start = Instant::now();
    while stamps.len() < 5 {
        let n = c.read(&mut buf).unwrap();
        assert!(
            n > 0,
            "stream ended early: {}",
            String::from_utf8_lossy(&seen)
        );
        seen.extend_from_slice(&buf[..n]);
        let events = String::from_utf8_lossy(&seen)
            .matches("data: event")
            .count();
        while stamps.len() < events {
            stamps.push(start.elapsed());
        }
    }
    let text = String::from_utf8_lossy(&seen);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(text
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked"));
    assert!(text.contains("text/event-stream"));
    for i in 1..=5 {
        assert!(text.contains(&format!("data: event {i}")), "{text}");
    }
    // The script sleeps 1.2 s between the first and last event: a buffered response
    // would deliver all five at once.
    assert!(
        stamps[4] - stamps[0] > Duration::from_millis(600),
        "events spread out: {stamps:?}"
    );
}

#[test]
fn streaming_needs_no_end_of_script() {
    // Deterministic proof of streaming: the script cannot finish until the client,
    // having read the first chunk, opens the gate.
    let s = TestServer::start(&docroot());
    let dir = tempfile::tempdir().unwrap();
    let gate = dir.path().join("gate");
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    c.write_all(
        format!(
            "GET /runtime/gate.php?gate={} HTTP/1.1\r\nHost: x\r\n\r\n",
            gate.display()
        )
        .as_bytes(),
    )
    .unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !String::from_utf8_lossy(&got).contains("one\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    std::fs::write(&gate, "open").unwrap();
    while !String::from_utf8_lossy(&got).contains("0\r\n\r\n") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0);
        got.extend_from_slice(&buf[..n]);
    }
    assert!(String::from_utf8_lossy(&got).contains("two\n"));
}

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap()
}

#[test]
fn a_slow_reader_does_not_grow_server_memory() {
    let s = TestServer::builder(&docroot())
        .env("STREAM_BUFFER_SIZE", "1M")
        .start();
    // Warm up so the baseline includes PHP's and OPcache's own memory.
    get(&s.addr(), "/runtime/flood.php?mb=1", &[]);
    let before = rss_kib(s.pid());
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    c.write_all(b"GET /runtime/flood.php?mb=64 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read nothing for a while: the script must be paused, not buffering 64 MiB.
    std::thread::sleep(Duration::from_secs(2));
    let during = rss_kib(s.pid());
    assert!(
        during < before + 24 * 1024,
        "RSS grew from {before} KiB to {during} KiB"
    );
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        total += n;
    }
    assert!(
        total > 64 << 20,
        "all 64 MiB arrived once read ({total} bytes with framing)"
    );
}

#[test]
fn client_disconnect_is_seen_by_connection_aborted() {
    let s = TestServer::start(&docroot());
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("aborted");
    {
        let mut c = TcpStream::connect(s.addr()).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        c.write_all(
            format!(
                "GET /runtime/abort.php?marker={} HTTP/1.1\r\nHost: x\r\n\r\n",
                marker.display()
            )
            .as_bytes(),
        )
        .unwrap();
        let mut buf = [0u8; 256];
        let n = c.read(&mut buf).unwrap();
        assert!(String::from_utf8_lossy(&buf[..n]).contains("200"));
    }
    assert!(
        wait_for(&marker, Duration::from_secs(15)),
        "the script noticed the client left"
    );
    let m = std::fs::read_to_string(&marker).unwrap();
    assert!(m.starts_with("aborted after"), "{m}");
}

#[test]
fn sessions_persist_across_workers_and_lock() {
    let sessions = tempfile::tempdir().unwrap();
    let s = TestServer::builder(&docroot())
        .env("PHP_WORKERS", "4")
        .env("PHP_INI_SESSION__SAVE_PATH", sessions.path())
        .start();
    let first = get(&s.addr(), "/runtime/counter.php", &[]);
    let cookie = first
        .header("Set-Cookie")
        .expect("session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let mut workers_n = vec![serde_json::from_slice::<Value>(&first.body).unwrap()["n"]
        .as_i64()
        .unwrap()];
    for _ in 0..4 {
        let r = get(&s.addr(), "/runtime/counter.php", &[("Cookie", &cookie)]);
        workers_n.push(
            serde_json::from_slice::<Value>(&r.body).unwrap()["n"]
                .as_i64()
                .unwrap(),
        );
    }
    assert_eq!(workers_n, vec![1, 2, 3, 4, 5]);
    // Two concurrent requests on one session: the files handler's lock serialises them.
    let handles: Vec<_> = (0..2)
        .map(|_| {
            let (addr, cookie) = (s.addr(), cookie.clone());
            std::thread::spawn(move || {
                get(
                    &addr,
                    "/runtime/counter.php?hold=500",
                    &[("Cookie", &cookie)],
                )
            })
        })
        .collect();
    let mut spans: Vec<(f64, f64, i64)> = handles
        .into_iter()
        .map(|h| {
            let v: Value = serde_json::from_slice(&h.join().unwrap().body).unwrap();
            (
                v["start"].as_f64().unwrap(),
                v["end"].as_f64().unwrap(),
                v["n"].as_i64().unwrap(),
            )
        })
        .collect();
    spans.sort_by(|a, b| a.0.partial_cmp(&b.0).unwrap());
    assert!(
        spans[0].1 <= spans[1].0,
        "the second held the session only after the first let go: {spans:?}"
    );
    let mut ns: Vec<i64> = spans.iter().map(|s| s.2).collect();
    ns.sort();
    assert_eq!(ns, vec![6, 7], "no update was lost");
}

#[test]
fn workers_recycle_without_losing_requests() {
    let s = TestServer::builder(&docroot())
        .env("PHP_WORKERS", "2")
        .env("PHP_WORKER_MAX_REQUESTS", "10")
        .start();
    let addr = s.addr();
    let handles: Vec<_> = (0..4)
        .map(|t| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut reader = ResponseReader::connect(&addr);
                for i in 0..250 {
                    reader.send(
                        format!("GET /engine/echo_id.php?id={t}-{i} HTTP/1.1\r\nHost: x\r\n\r\n")
                            .as_bytes(),
                    );
                    let r = reader.read_response(false);
                    assert_eq!(r.status, 200);
                    assert!(
                        r.body_str().starts_with(&format!("id={t}-{i};")),
                        "{}",
                        r.body_str()
                    );
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let recycled = s.log().matches("recycling PHP worker").count();
    assert!(
        recycled >= 90,
        "1000 requests / 10 per worker: {recycled} restarts logged"
    );
}

#[test]
fn server_timing_when_enabled() {
    let s = TestServer::builder(&docroot())
        .env("SERVER_TIMING", "1")
        .start();
    let r = get(&s.addr(), "/engine/hello.php", &[]);
    let st = r.header("Server-Timing").expect("Server-Timing");
    for part in ["queue;dur=", "php;dur=", "total;dur="] {
        assert!(st.contains(part), "{st}");
    }
    let off = TestServer::start(&docroot());
    assert!(get(&off.addr(), "/engine/hello.php", &[])
        .header("Server-Timing")
        .is_none());
}

#[test]
fn uring_functions_and_aliases() {
    let s = TestServer::builder(&docroot())
        .env("REQUEST_TIMEOUT", "0")
        .start();
    let a: Value = serde_json::from_slice(&get(&s.addr(), "/runtime/info.php", &[]).body).unwrap();
    let b: Value = serde_json::from_slice(&get(&s.addr(), "/runtime/info.php", &[]).body).unwrap();
    assert!(
        b["request_id"].as_i64().unwrap() > a["request_id"].as_i64().unwrap(),
        "ids grow"
    );
    assert_eq!(a["request_id"], a["alias_request_id"]);
    assert_eq!(
        a["request_id"].to_string(),
        a["server_request_id"].as_str().unwrap()
    );
    assert_eq!(a["worker_id"], a["alias_worker_id"]);
    assert_eq!(
        a["worker_id"].to_string(),
        a["server_worker_id"].as_str().unwrap()
    );
    let info = &a["info"];
    assert_eq!(info["server"], "uring_php");
    assert_eq!(info["sapi"], "uring_php");
    assert_eq!(info["zts"], true);
    // The PHP the binary was built against is the one running the script (8.4 or 8.2).
    assert_eq!(info["php_version"], a["php_version"]);
    assert!(a["php_version"].as_str().unwrap().starts_with("8."));
    assert!(
        info["php_build"]
            .as_str()
            .unwrap()
            .starts_with("ZTS, embed SAPI"),
        "{info}"
    );
    assert!(["io_uring", "epoll"].contains(&info["driver"].as_str().unwrap()));
    assert_eq!(a["info"], a["alias_info"]);
    assert_eq!(a["heartbeat_without_timeout"], false);
}
