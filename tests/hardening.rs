//! The server against clients that go away, never read, or arrive all at once (issue
//! 13): the real binary, real HTTP/1.1 and HTTP/2 clients, and PHP scripts that record
//! what they did in marker files. Every wait is for observable state (a marker, a
//! metric); the bounds on those waits only decide when a test gives up.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::http_client::{build_request, get, ResponseReader};
use common::server::TestServer;
use h2::client::SendRequest;

/// The scripts of these tests; each writes its markers into `marks/`.
const SCRIPTS: &[(&str, &str)] = &[
    ("hello.php", "<?php echo 'hello';"),
    // Records its start, then waits (up to 20 s) until `n` requests have started.
    (
        "gate.php",
        r#"<?php
$n = (int)$_GET['n'];
touch(__DIR__ . '/marks/started-' . basename($_GET['id']));
$end = microtime(true) + 20;
while (count(glob(__DIR__ . '/marks/started-*')) < $n && microtime(true) < $end) {
    usleep(2000);
}
echo count(glob(__DIR__ . '/marks/started-*')) >= $n ? 'together' : 'alone';
"#,
    ),
    // Holds its worker until marks/release exists (up to 30 s).
    (
        "block.php",
        r#"<?php
touch(__DIR__ . '/marks/block-started');
$end = microtime(true) + 30;
while (!file_exists(__DIR__ . '/marks/release') && microtime(true) < $end) {
    usleep(2000);
}
echo 'released';
"#,
    ),
    // Leaves a trace that it ran.
    (
        "mark.php",
        "<?php touch(__DIR__ . '/marks/ran-' . basename($_GET['id'])); echo 'ran';",
    ),
    // Produces output for up to 30 s; records at the end whether its client left.
    (
        "loop.php",
        r#"<?php
register_shutdown_function(function () {
    file_put_contents(__DIR__ . '/marks/aborted', connection_aborted() ? 'yes' : 'no');
});
touch(__DIR__ . '/marks/loop-started');
$end = microtime(true) + 30;
while (microtime(true) < $end) {
    echo str_repeat('x', 8192);
    usleep(5000);
}
"#,
    ),
    // Streams until its client is gone (or 50 s), then says which came first.
    (
        "flush.php",
        r#"<?php
ignore_user_abort(true);
$chunk = str_repeat('y', 65536);
$end = microtime(true) + 50;
while (!connection_aborted() && microtime(true) < $end) {
    echo $chunk;
    flush();
}
file_put_contents(__DIR__ . '/marks/flush-ended', connection_aborted() ? 'aborted' : 'timeout');
"#,
    ),
    // ?kb= kilobytes of output in one buffered response.
    (
        "big.php",
        r#"<?php
$line = str_repeat('z', 1023) . "\n";
for ($i = 0; $i < (int)$_GET['kb']; $i++) {
    echo $line;
}
"#,
    ),
];

fn site() -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    for (name, body) in SCRIPTS {
        std::fs::write(d.path().join(name), body).unwrap();
    }
    std::fs::create_dir(d.path().join("marks")).unwrap();
    d
}

fn marks(d: &Path) -> PathBuf {
    d.join("marks")
}

/// A server on `docroot` with the internal server on and a short drain.
fn server(docroot: &Path, env: &[(&str, &str)]) -> (TestServer, String) {
    let mut b = TestServer::builder(docroot)
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .env("DRAIN_TIMEOUT_SECS", "1");
    for (k, v) in env {
        b = b.env(k, v);
    }
    let s = b.start();
    let internal = internal_addr(&s);
    (s, internal)
}

/// The internal server's address, from the log line "internal server on http://ADDR".
fn internal_addr(s: &TestServer) -> String {
    let needle = "internal server on http://";
    wait_until("the internal server's log line", || {
        s.log().contains(needle)
    });
    let log = s.log();
    let rest = &log[log.find(needle).unwrap() + needle.len()..];
    let end = rest
        .find(|c: char| c == '"' || c.is_whitespace())
        .unwrap_or(rest.len());
    rest[..end].to_string()
}

/// A sample of /metrics without labels; None when the server has no such metric.
fn metric(internal: &str, name: &str) -> Option<f64> {
    let r = get(internal, "/metrics", &[]);
    assert_eq!(r.status, 200);
    r.body_str().lines().find_map(|l| {
        let (n, v) = l.split_once(' ')?;
        (n == name).then(|| v.trim().parse().unwrap())
    })
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `wait_until` inside the client's runtime, letting its connection task run between
/// the looks.
async fn wait_until_async(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn wait_for_metric(internal: &str, name: &str, at_least: f64) {
    wait_until(&format!("{name} >= {at_least}"), || {
        metric(internal, name).is_some_and(|v| v >= at_least)
    });
}

fn ran(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(marks(d))
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.starts_with("ran-"))
        .collect();
    v.sort();
    v
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

async fn h2_connect(addr: &str) -> SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

fn h2_get(addr: &str, path: &str) -> http::Request<()> {
    http::Request::builder()
        .uri(format!("http://{addr}{path}"))
        .body(())
        .unwrap()
}

async fn h2_body(resp: h2::client::ResponseFuture) -> (u16, String) {
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    let mut out = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    (status, String::from_utf8_lossy(&out).into_owned())
}

/// Eight requests sent at once on one HTTP/2 connection (as a browser sends a page's
/// requests), with eight idle workers, all run at the same time: each script waits
/// until all eight have started.
#[test]
fn requests_that_arrive_together_run_together() {
    let d = site();
    let (s, _internal) = server(d.path(), &[("PHP_WORKERS", "8")]);
    let addr = s.addr();
    let bodies = block_on(async move {
        let send = h2_connect(&addr).await;
        let mut send = send.ready().await.unwrap();
        let mut responses = Vec::new();
        for i in 0..8 {
            let (resp, _) = send
                .send_request(h2_get(&addr, &format!("/gate.php?n=8&id={i}")), true)
                .unwrap();
            responses.push(resp);
        }
        let mut bodies = Vec::new();
        for r in responses {
            bodies.push(h2_body(r).await);
        }
        bodies
    });
    for (status, body) in bodies {
        assert_eq!((status, body.as_str()), (200, "together"));
    }
}

/// Queued requests whose HTTP/2 streams the client reset are dropped before a worker
/// starts them; the request queued behind them is served as soon as the worker is free.
#[test]
fn reset_h2_requests_are_dropped_from_the_queue() {
    let d = site();
    let (s, internal) = server(d.path(), &[("PHP_WORKERS", "1")]);
    let addr = s.addr();
    let dir = d.path().to_path_buf();
    let internal2 = internal.clone();
    block_on(async move {
        let internal = internal2;
        let send = h2_connect(&addr).await;
        let mut send = send.ready().await.unwrap();
        let (blocker, _) = send
            .send_request(h2_get(&addr, "/block.php"), true)
            .unwrap();
        let blocker = tokio::spawn(h2_body(blocker));
        let started = marks(&dir).join("block-started");
        wait_until_async("block.php to start", || started.exists()).await;
        let mut streams = Vec::new();
        for i in 0..5 {
            let (resp, stream) = send
                .send_request(h2_get(&addr, &format!("/mark.php?id={i}")), true)
                .unwrap();
            streams.push((resp, stream));
        }
        wait_until_async("five queued requests", || {
            metric(&internal, "uring_php_queue_depth") == Some(5.0)
        })
        .await;
        for (_, stream) in &mut streams {
            stream.send_reset(h2::Reason::CANCEL);
        }
        wait_until_async("five abandoned requests", || {
            metric(&internal, "uring_php_php_requests_abandoned_total") == Some(5.0)
        })
        .await;
        std::fs::write(marks(&dir).join("release"), "").unwrap();
        assert_eq!(blocker.await.unwrap(), (200, "released".to_string()));
    });
    let r = get(&s.addr(), "/hello.php", &[]);
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello"));
    assert_eq!(ran(d.path()), Vec::<String>::new());
    assert_eq!(
        metric(&internal, "uring_php_php_requests_skipped_total"),
        Some(5.0)
    );
}

/// A queue full of requests whose clients reset them still takes a live request: the
/// dead ones are purged when the queue is found full, instead of turning the live one
/// away with 503 until a worker gets round to skipping them.
#[test]
fn a_queue_full_of_abandoned_requests_still_takes_live_ones() {
    let d = site();
    let (s, internal) = server(
        d.path(),
        &[
            ("PHP_WORKERS", "1"),
            ("QUEUE_CAPACITY", "4"),
            ("QUEUE_LANES", "1"),
        ],
    );
    let addr = s.addr();
    let dir = d.path().to_path_buf();
    let internal2 = internal.clone();
    let addr2 = addr.clone();
    let blocker = block_on(async move {
        let (addr, internal) = (addr2, internal2);
        let send = h2_connect(&addr).await;
        let mut send = send.ready().await.unwrap();
        let (blocker, _) = send
            .send_request(h2_get(&addr, "/block.php"), true)
            .unwrap();
        let started = marks(&dir).join("block-started");
        wait_until_async("block.php to start", || started.exists()).await;
        let mut streams = Vec::new();
        for i in 0..4 {
            let (_, stream) = send
                .send_request(h2_get(&addr, &format!("/mark.php?id={i}")), true)
                .unwrap();
            streams.push(stream);
        }
        wait_until_async("a full queue", || {
            metric(&internal, "uring_php_queue_depth") == Some(4.0)
        })
        .await;
        for stream in &mut streams {
            stream.send_reset(h2::Reason::CANCEL);
        }
        wait_until_async("four abandoned requests", || {
            metric(&internal, "uring_php_php_requests_abandoned_total") == Some(4.0)
        })
        .await;
        (send, blocker)
    });
    let live = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut c = TcpStream::connect(&addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            c.write_all(&build_request(&addr, "GET", "/mark.php?id=live", &[], b""))
                .unwrap();
            ResponseReader::new(c).read_final(false)
        })
    };
    wait_until("the live request to be queued", || {
        metric(&internal, "uring_php_queue_depth") == Some(1.0)
            && metric(&internal, "uring_php_php_requests_skipped_total") == Some(4.0)
    });
    std::fs::write(marks(d.path()).join("release"), "").unwrap();
    let r = live.join().unwrap();
    assert_eq!((r.status, r.body_str().as_str()), (200, "ran"));
    assert_eq!(ran(d.path()), vec!["ran-live".to_string()]);
    drop(blocker);
}

/// A running script whose client resets its stream sees `connection_aborted()` at its
/// next output and stops there (it did not ask to ignore the abort).
#[test]
fn a_running_script_is_stopped_when_its_client_resets() {
    let d = site();
    let (s, _internal) = server(d.path(), &[("PHP_WORKERS", "1")]);
    let addr = s.addr();
    let dir = d.path().to_path_buf();
    block_on(async move {
        let send = h2_connect(&addr).await;
        let mut send = send.ready().await.unwrap();
        let (_resp, mut stream) = send.send_request(h2_get(&addr, "/loop.php"), true).unwrap();
        let started = marks(&dir).join("loop-started");
        wait_until_async("loop.php to start", || started.exists()).await;
        stream.send_reset(h2::Reason::CANCEL);
        let aborted = marks(&dir).join("aborted");
        wait_until_async("loop.php to end", || aborted.exists()).await;
        assert_eq!(std::fs::read_to_string(aborted).unwrap(), "yes");
    });
}

/// A queued HTTP/1.1 request whose client closed the connection is dropped before a
/// worker starts it (the server looks at the socket while the request waits).
#[test]
fn a_queued_h1_request_whose_client_hung_up_never_runs() {
    let d = site();
    let (s, internal) = server(d.path(), &[("PHP_WORKERS", "1")]);
    let addr = s.addr();
    let blocker = {
        let addr = addr.clone();
        std::thread::spawn(move || get(&addr, "/block.php", &[]))
    };
    wait_until("block.php to start", || {
        marks(d.path()).join("block-started").exists()
    });
    let mut c = TcpStream::connect(&addr).unwrap();
    c.write_all(&build_request(&addr, "GET", "/mark.php?id=h1", &[], b""))
        .unwrap();
    wait_until("the queued request", || {
        metric(&internal, "uring_php_queue_depth") == Some(1.0)
    });
    drop(c);
    wait_for_metric(&internal, "uring_php_php_requests_abandoned_total", 1.0);
    std::fs::write(marks(d.path()).join("release"), "").unwrap();
    assert_eq!(blocker.join().unwrap().status, 200);
    let r = get(&addr, "/hello.php", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(ran(d.path()), Vec::<String>::new());
    assert_eq!(
        metric(&internal, "uring_php_php_requests_skipped_total"),
        Some(1.0)
    );
}

/// A client that never reads a flushing script's output holds its worker only for
/// STREAM_SEND_TIMEOUT: then the script sees the client as gone and the worker serves
/// the next request — long before the connection's own 60 s write timeout.
#[test]
fn a_client_that_reads_nothing_frees_the_worker() {
    let d = site();
    let (s, _internal) = server(
        d.path(),
        &[
            ("PHP_WORKERS", "1"),
            ("STREAM_BUFFER_SIZE", "64K"),
            ("STREAM_SEND_TIMEOUT", "1s"),
        ],
    );
    let addr = s.addr();
    let mut c = TcpStream::connect(&addr).unwrap();
    c.write_all(&build_request(&addr, "GET", "/flush.php", &[], b""))
        .unwrap();
    let ended = marks(d.path()).join("flush-ended");
    wait_until("flush.php to end", || ended.exists());
    assert_eq!(std::fs::read_to_string(&ended).unwrap(), "aborted");
    let r = get(&addr, "/hello.php", &[]);
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello"));
    drop(c);
}

/// Spilled output counts against SPILL_MEMORY_LIMIT while the client reads it: with a
/// client that reads nothing holding more than the limit, the next large response waits
/// for room, then is refused (503) — while small responses go on — and large responses
/// are served again once that client is gone.
#[test]
fn spilled_output_past_the_memory_limit_is_refused() {
    let d = site();
    let (s, internal) = server(
        d.path(),
        &[
            ("PHP_WORKERS", "2"),
            ("OUTPUT_SPILL_THRESHOLD", "64K"),
            ("SPILL_MEMORY_LIMIT", "2M"),
        ],
    );
    let addr = s.addr();
    // 16 MiB: more than the socket buffers between us hold.
    let mut hog = TcpStream::connect(&addr).unwrap();
    hog.write_all(&build_request(&addr, "GET", "/big.php?kb=16384", &[], b""))
        .unwrap();
    wait_for_metric(&internal, "uring_php_spill_bytes", (16 << 20) as f64);
    let big = |addr: &str| {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        c.write_all(&build_request(addr, "GET", "/big.php?kb=1024", &[], b""))
            .unwrap();
        ResponseReader::new(c).read_final(false)
    };
    let r = big(&addr);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(metric(&internal, "uring_php_spill_waits_total"), Some(1.0));
    assert_eq!(
        metric(&internal, "uring_php_spill_refused_total"),
        Some(1.0)
    );
    // Small answers never spill, and never wait.
    let r = get(&addr, "/hello.php", &[]);
    assert_eq!((r.status, r.body_str().as_str()), (200, "hello"));
    drop(hog);
    wait_until("the hog's memory to be given back", || {
        metric(&internal, "uring_php_spill_bytes") == Some(0.0)
    });
    let r = big(&addr);
    assert_eq!(r.status, 200);
    assert_eq!(r.body.len(), 1024 * 1024);
    wait_until("the memory to be given back", || {
        metric(&internal, "uring_php_spill_bytes") == Some(0.0)
    });
}
