//! The PHP engine and worker pool without HTTP: real ZTS PHP running the scripts in
//! tests/php/engine through the same pool, SAPI bridge and reply path the server uses.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use serde_json::Value;
use uring_http::{Headers, Method, RequestBody, Version};
use uring_php::php::{
    Engine, ExecLimits, IniConfig, Job, PoolConfig, Reply, ReplyEvent, ReplySink, RequestControl,
    ScriptRequest, WorkerPool,
};

fn engine() {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::start(&IniConfig::default()).expect("PHP engine starts"));
}

fn pool(workers: usize) -> WorkerPool {
    engine();
    WorkerPool::start(PoolConfig {
        lanes: 2,
        workers,
        queue_capacity: 4096,
        cpus: vec![],
        max_requests: 0,
        limits: ExecLimits::default(),
    })
    .expect("pool starts")
}

fn docroot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/engine")
}

struct ChannelSink(Mutex<mpsc::Sender<ReplyEvent>>);

impl ReplySink for ChannelSink {
    fn deliver(&self, _token: u64, event: ReplyEvent) {
        let _ = self.0.lock().unwrap().send(event);
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

struct Req {
    method: Method,
    script: &'static str,
    query: String,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

fn get(script: &'static str, query: &str) -> Req {
    Req {
        method: Method::Get,
        script,
        query: query.to_string(),
        headers: vec![],
        body: vec![],
    }
}

fn post(script: &'static str, query: &str, content_type: &str, body: Vec<u8>) -> Req {
    Req {
        method: Method::Post,
        script,
        query: query.to_string(),
        headers: vec![("Content-Type", content_type.to_string())],
        body,
    }
}

fn submit(pool: &WorkerPool, r: Req) -> mpsc::Receiver<ReplyEvent> {
    static IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let (tx, rx) = mpsc::channel();
    let mut headers = Headers::new();
    headers.push("Host", "localhost");
    for (k, v) in &r.headers {
        headers.push(*k, v.clone());
    }
    if !r.body.is_empty() {
        headers.push("Content-Length", r.body.len().to_string());
    }
    let uri = if r.query.is_empty() {
        format!("/{}", r.script)
    } else {
        format!("/{}?{}", r.script, r.query)
    };
    let request = ScriptRequest {
        id: IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        method: r.method,
        uri,
        query: r.query,
        script_filename: docroot().join(r.script).to_string_lossy().into_owned(),
        script_name: format!("/{}", r.script),
        path_info: String::new(),
        document_root: Arc::from(docroot().to_string_lossy().as_ref()),
        version: Version::Http11,
        headers,
        host: Some("localhost".into()),
        body: if r.body.is_empty() {
            RequestBody::Empty
        } else {
            RequestBody::Memory(Bytes::from(r.body))
        },
        remote_addr: "127.0.0.1:40000".parse().unwrap(),
        local_addr: "127.0.0.1:8080".parse().unwrap(),
        tls: false,
        server_name: None,
        trace: None,
        received_at: SystemTime::now(),
        driver: "test",
        site: Default::default(),
    };
    let control = Arc::new(RequestControl::new(None, Instant::now()));
    let reply = Reply::new(Arc::new(ChannelSink(Mutex::new(tx))), 0, control);
    let job = Job {
        request,
        reply,
        queued_at: Instant::now(),
    };
    if pool.submit(job).is_err() {
        panic!("queue full");
    }
    rx
}

fn collect(rx: mpsc::Receiver<ReplyEvent>) -> Answer {
    let timeout = Duration::from_secs(30);
    let first = rx.recv_timeout(timeout).expect("a reply within 30 s");
    let convert = |h: &Headers| {
        h.iter()
            .map(|(n, v)| (n.to_string(), String::from_utf8_lossy(v).into_owned()))
            .collect::<Vec<_>>()
    };
    match first {
        ReplyEvent::Complete(r) => Answer {
            status: r.head.status,
            headers: convert(&r.head.headers),
            body: r.body.to_vec().unwrap(),
        },
        ReplyEvent::StreamStart(head) => {
            let mut body = Vec::new();
            loop {
                match rx.recv_timeout(timeout).expect("stream continues") {
                    ReplyEvent::Chunk(c) => body.extend_from_slice(&c),
                    ReplyEvent::StreamEnd => break,
                    other => panic!("unexpected {other:?}"),
                }
            }
            Answer {
                status: head.status,
                headers: convert(&head.headers),
                body,
            }
        }
        other => panic!("unexpected first event {other:?}"),
    }
}

fn run(pool: &WorkerPool, r: Req) -> Answer {
    collect(submit(pool, r))
}

#[test]
fn thousand_concurrent_requests_each_get_their_own_response() {
    let pool = pool(4);
    let mut pending = Vec::new();
    for i in 0..1200 {
        let body = format!("payload-{i}").into_bytes();
        pending.push((
            i,
            submit(
                &pool,
                post("echo_id.php", &format!("id={i}"), "text/plain", body),
            ),
        ));
    }
    let mut workers = HashSet::new();
    for (i, rx) in pending {
        let a = collect(rx);
        assert_eq!(a.status, 200);
        assert_eq!(a.header("X-Id"), Some(i.to_string().as_str()));
        let text = a.text();
        let prefix = format!("id={i};body=payload-{i};worker=");
        assert!(text.starts_with(&prefix), "request {i} got {text:?}");
        workers.insert(text[prefix.len()..].to_string());
    }
    // How many of the four took part depends on the scheduler (short jobs may all go to
    // the first ones awake); that they run in parallel is tested with a barrier in
    // tests/hardening.rs (requests_that_arrive_together_run_together).
    assert!(!workers.is_empty());
    pool.shutdown();
}

#[test]
fn get_query_parsing_matches_php() {
    let pool = pool(2);
    let a = run(
        &pool,
        get(
            "dump.php",
            "a[b][]=1&a[b][]=2&plus=a+b&pct=%26%3D&rep=1&rep=2&empty=&flag",
        ),
    );
    let j = a.json();
    assert_eq!(j["get"]["a"]["b"], serde_json::json!(["1", "2"]));
    assert_eq!(j["get"]["plus"], "a b");
    assert_eq!(j["get"]["pct"], "&=");
    assert_eq!(j["get"]["rep"], "2");
    assert_eq!(j["get"]["empty"], "");
    assert_eq!(j["get"]["flag"], "");
    assert_eq!(j["sapi"], "uring_php");
    assert_eq!(j["sapi_name"], "uring_php");
    pool.shutdown();
}

#[test]
fn urlencoded_post_cookies_and_request_order() {
    let pool = pool(2);
    let mut r = post(
        "dump.php",
        "x=fromget&both=get",
        "application/x-www-form-urlencoded",
        b"y=fr+om&both=post&arr[]=1".to_vec(),
    );
    r.headers
        .push(("Cookie", "c1=v1; c2=hello%20world; both=cookie".into()));
    let j = run(&pool, r).json();
    assert_eq!(j["post"]["y"], "fr om");
    assert_eq!(j["post"]["arr"], serde_json::json!(["1"]));
    assert_eq!(j["cookie"]["c1"], "v1");
    assert_eq!(j["cookie"]["c2"], "hello world");
    // request_order=GP: POST overrides GET, cookies are not in $_REQUEST.
    assert_eq!(j["request"]["both"], "post");
    assert_eq!(j["request"]["x"], "fromget");
    assert!(j["request"].get("c1").is_none());
    // php://input is readable twice with the same content.
    assert_eq!(j["input1"], "y=fr+om&both=post&arr[]=1");
    assert_eq!(j["input1"], j["input2"]);
    pool.shutdown();
}

#[test]
fn server_variables_are_complete() {
    let pool = pool(1);
    let mut r = post("dump.php", "q=1", "text/plain", b"abc".to_vec());
    r.headers
        .push(("Authorization", "Basic dXNlcjpwYXNz".into()));
    r.headers.push(("X-Custom-Thing", "yes".into()));
    let j = run(&pool, r).json();
    let s = &j["server"];
    for key in [
        "REQUEST_METHOD",
        "REQUEST_URI",
        "QUERY_STRING",
        "SCRIPT_NAME",
        "SCRIPT_FILENAME",
        "PATH_INFO",
        "PHP_SELF",
        "DOCUMENT_ROOT",
        "DOCUMENT_URI",
        "SERVER_PROTOCOL",
        "REQUEST_SCHEME",
        "GATEWAY_INTERFACE",
        "SERVER_SOFTWARE",
        "REMOTE_ADDR",
        "REMOTE_PORT",
        "SERVER_ADDR",
        "SERVER_PORT",
        "SERVER_NAME",
        "REDIRECT_STATUS",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "REQUEST_TIME",
        "REQUEST_TIME_FLOAT",
        "HTTP_HOST",
        "HTTP_AUTHORIZATION",
        "URING_REQUEST_ID",
        "URING_WORKER_ID",
        "HTTP_X_CUSTOM_THING",
    ] {
        assert!(s.get(key).is_some(), "$_SERVER[{key}] missing: {s}");
    }
    assert_eq!(s["REQUEST_METHOD"], "POST");
    assert_eq!(s["REQUEST_URI"], "/dump.php?q=1");
    assert_eq!(s["QUERY_STRING"], "q=1");
    assert_eq!(s["SCRIPT_NAME"], "/dump.php");
    assert_eq!(s["PHP_SELF"], "/dump.php");
    assert_eq!(s["SERVER_PROTOCOL"], "HTTP/1.1");
    assert_eq!(s["REQUEST_SCHEME"], "http");
    assert_eq!(s["CONTENT_LENGTH"], "3");
    assert_eq!(s["CONTENT_TYPE"], "text/plain");
    assert_eq!(s["REMOTE_ADDR"], "127.0.0.1");
    assert_eq!(s["REMOTE_PORT"], "40000");
    assert_eq!(s["SERVER_PORT"], "8080");
    assert_eq!(s["PHP_AUTH_USER"], "user");
    assert_eq!(s["PHP_AUTH_PW"], "pass");
    assert_eq!(s["HTTP_X_CUSTOM_THING"], "yes");
    assert!(s.get("HTTPS").is_none());
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((s["REQUEST_TIME"].as_i64().unwrap() - now).abs() < 60);
    pool.shutdown();
}

fn multipart(boundary: &str, fields: &[(&str, &str)], files: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut b = Vec::new();
    for (name, value) in fields {
        b.extend_from_slice(format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").as_bytes());
    }
    for (field, filename, content) in files {
        b.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
        );
        b.extend_from_slice(content);
        b.extend_from_slice(b"\r\n");
    }
    b.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    b
}

fn md5_hex(data: &[u8]) -> String {
    // Compared against PHP's md5_file; computed with the PHP CLI of the same build.
    let php = PathBuf::from(env!("URING_PHP_PREFIX")).join("bin/php");
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("d");
    std::fs::write(&f, data).unwrap();
    let out = std::process::Command::new(php)
        .arg("-r")
        .arg(format!("echo md5_file('{}');", f.display()))
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn multipart_uploads_three_files() {
    let pool = pool(2);
    let big: Vec<u8> = (0..200_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let files: [(&str, &str, &[u8]); 3] = [
        ("f[]", "a.txt", b"alpha"),
        ("f[]", "b.bin", &big),
        ("f[]", "c.txt", b""),
    ];
    let body = multipart("XyZ123", &[("title", "hello")], &files);
    let j = run(
        &pool,
        post(
            "upload.php",
            "",
            "multipart/form-data; boundary=XyZ123",
            body,
        ),
    )
    .json();
    let got = j["files"].as_array().unwrap();
    assert_eq!(got.len(), 3, "{j}");
    assert_eq!(j["post"]["title"], "hello");
    for (i, (_, name, content)) in files.iter().enumerate() {
        assert_eq!(got[i]["name"], *name);
        assert_eq!(got[i]["size"], content.len());
        assert_eq!(got[i]["error"], 0);
        assert_eq!(got[i]["moved"], true);
        assert_eq!(got[i]["md5"], md5_hex(content));
    }
    pool.shutdown();
}

#[test]
fn binary_body_round_trips() {
    let pool = pool(1);
    let body: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    let a = run(
        &pool,
        post("binary.php", "", "application/octet-stream", body.clone()),
    );
    assert_eq!(a.status, 200);
    assert_eq!(a.body, body);
    pool.shutdown();
}

#[test]
fn headers_cookies_status_and_redirects() {
    let pool = pool(2);
    let a = run(&pool, get("headers.php", "mode=cookies"));
    assert_eq!(a.status, 200);
    assert_eq!(
        a.all("Set-Cookie"),
        vec!["a=1", "b=two%20words; path=/x; HttpOnly; SameSite=Lax"]
    );
    assert_eq!(a.header("X-One"), Some("1"));
    assert_eq!(a.all("X-Multi"), vec!["a", "b"]);
    assert_eq!(a.all("X-Replaced"), vec!["new"]);
    assert_eq!(a.header("Content-Type"), Some("text/html; charset=UTF-8"));

    let a = run(&pool, get("headers.php", "mode=code"));
    assert_eq!((a.status, a.text().as_str()), (201, "created"));
    let a = run(&pool, get("headers.php", "mode=location"));
    assert_eq!((a.status, a.header("Location")), (302, Some("/elsewhere")));
    let a = run(&pool, get("headers.php", "mode=location301"));
    assert_eq!((a.status, a.header("Location")), (301, Some("/moved")));
    let a = run(&pool, get("headers.php", "mode=status"));
    assert_eq!(a.status, 403);
    assert!(a.header("Status").is_none());
    let a = run(&pool, get("headers.php", "mode=statusline"));
    assert_eq!(a.status, 404);
    let a = run(&pool, get("headers.php", "mode=crlf"));
    assert_eq!(a.status, 200);
    assert!(
        a.header("X-Injected").is_none()
            && a.header("X-Evil").is_none()
            && a.header("X-Ctl").is_none()
    );
    pool.shutdown();
}

/// Each way a request can die, then a normal request on the same (only) worker.
#[test]
fn failures_end_one_request_not_the_worker() {
    let pool = pool(1);
    let cases: &[(&str, u16, &str)] = &[
        ("fatal", 500, ""),
        ("exception", 500, ""),
        ("exit", 200, "before;"),
        ("memory", 500, ""),
        ("loop", 500, ""),
        ("sleep", 500, ""),
        ("shutdown_exit", 200, "before;aftershutdown;"),
        ("destructor_exit", 200, "before;afterdestruct;"),
    ];
    for (mode, status, body) in cases {
        let a = run(&pool, get("fail.php", &format!("mode={mode}")));
        assert_eq!(a.status, *status, "mode {mode}: {}", a.text());
        if !body.is_empty() {
            assert_eq!(a.text(), *body, "mode {mode}");
        }
        let ok = run(&pool, get("echo_id.php", "id=after"));
        assert_eq!(ok.status, 200, "request after {mode}");
        assert_eq!(ok.text(), "id=after;body=;worker=0");
    }
    assert_eq!(
        pool.stats()
            .deaths
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    pool.shutdown();
}

#[test]
fn a_timeout_on_one_thread_leaves_the_other_alone() {
    let pool = pool(2);
    let long = submit(&pool, get("fail.php", "mode=long"));
    // The long request runs (its own timeout armed) before the looping one starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while pool.stats().busy.load(std::sync::atomic::Ordering::Relaxed) < 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the long request never started"
        );
        std::thread::yield_now();
    }
    let looping = submit(&pool, get("fail.php", "mode=loop"));
    let l = collect(looping);
    assert_eq!(l.status, 500, "the looping request timed out");
    let a = collect(long);
    assert_eq!(
        (a.status, a.text().as_str()),
        (200, "before;long-done;after")
    );
    pool.shutdown();
}

/// scripts/build-php.sh applies the project's patches to every PHP it builds (8.4 and
/// 8.2 alike): the external execution timer (0001), opcache.usage_lock (0002, which
/// uring_php turns off) and the OPcache restart hooks (0003). A build without them still
/// starts, so only this says so.
#[test]
fn the_projects_php_patches_are_in_the_build() {
    let pool = pool(1);
    let j = run(&pool, get("opcache.php", "")).json();
    assert_eq!(j["usage_lock"], "0", "opcache.usage_lock (patch 0002): {j}");
    assert!(
        uring_php::php::watchdog::external_timers(),
        "PHP {} lacks the external execution timer hook (patch 0001)",
        Engine::php_version()
    );
    assert!(
        uring_php::php::opcache_restart::hooks_available(),
        "PHP {} lacks the OPcache restart hooks (patch 0003)",
        Engine::php_version()
    );
    pool.shutdown();
}

#[test]
fn opcache_is_on_and_hits_grow_across_threads() {
    let pool = pool(2);
    let first = run(&pool, get("opcache.php", "")).json();
    assert_eq!(first["enabled"], true, "{first}");
    assert_eq!(first["jit"], false);
    let mut workers = HashSet::new();
    let mut last = first["hits"].as_i64().unwrap();
    for _ in 0..20 {
        // The first request holds its worker for 50 ms, so the others must
        // be served by the second thread while it waits.
        let pending: Vec<_> = (0..4)
            .map(|i| {
                let query = if i == 0 { "hold=50000" } else { "" };
                submit(&pool, get("opcache.php", query))
            })
            .collect();
        for rx in pending {
            let j = collect(rx).json();
            workers.insert(j["worker"].as_i64().unwrap());
            let hits = j["hits"].as_i64().unwrap();
            last = last.max(hits);
        }
    }
    assert!(
        last > first["hits"].as_i64().unwrap() + 10,
        "hits grew: {} -> {last}",
        first["hits"]
    );
    assert_eq!(workers.len(), 2, "both threads used the shared cache");
    pool.shutdown();
}
