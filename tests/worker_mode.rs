//! Worker mode (WORKER_SCRIPT, docs/worker-mode.md) through the real server: requests
//! never see each other's superglobals, headers, status, cookies, output or uploads;
//! the worker script's own state persists; a crash restarts only that worker; max
//! requests, file changes and graceful reloads restart the scripts without a failed
//! request; a script that cannot boot gets 503s and a backoff, never a spin.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::http_client::{build_request, get, post, request, RawResponse, ResponseReader};
use common::metrics::metric;
use common::server::TestServer;
use common::wait::eventually;
use serde_json::Value;

fn docroot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/worker")
}

/// A server running tests/php/worker/worker.php on `workers` threads, one classic thread.
fn worker_server(workers: usize, extra: &[(&str, &str)]) -> TestServer {
    let mut b = TestServer::builder(&docroot())
        .env("WORKER_SCRIPT", "worker.php")
        .env("INDEX_FILE", "worker.php")
        .env("WORKER_COUNT", workers.to_string())
        .env("PHP_WORKERS", "1")
        .env("INTERNAL_ADDR", "127.0.0.1:0");
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let s = b.start();
    let internal = s.internal_addr();
    eventually("every worker script to be ready", || {
        metric(&internal, "uring_php_worker_mode_ready", &[]) as usize == workers
    });
    s
}

fn json(r: &RawResponse) -> Value {
    serde_json::from_slice(&r.body)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", r.status, r.body_str()))
}

/// The JSON line a crashing action prints before it dies.
fn first_line_json(r: &RawResponse) -> Value {
    let text = r.body_str();
    serde_json::from_str(text.lines().next().unwrap_or("")).unwrap()
}

fn restarts(internal: &str, cause: &str) -> f64 {
    metric(
        internal,
        "uring_php_worker_mode_restarts_total",
        &[("cause", cause)],
    )
}

fn multipart(boundary: &str, field: (&str, &str), file: (&str, &str, &[u8])) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"\r\n\r\n{}\r\n",
            field.0, field.1
        )
        .as_bytes(),
    );
    b.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: application/octet-stream\r\n\r\n",
            file.0, file.1
        )
        .as_bytes(),
    );
    b.extend_from_slice(file.2);
    b.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    b
}

/// One request of the isolation run: what it sends, by the shape `n % 4` picks.
fn isolated_request(addr: &str, n: usize) -> (Vec<u8>, &'static str) {
    let id = format!("r{n}");
    let keep = ("Connection", "keep-alive");
    match n % 4 {
        0 => (
            build_request(
                addr,
                "GET",
                &format!("/app/path?action=echo&id={id}&q{n}=v{n}"),
                &[keep, ("X-Test", &id), ("Cookie", &format!("k{n}=c{n}"))],
                b"",
            ),
            "get",
        ),
        1 => (
            build_request(
                addr,
                "POST",
                &format!("/app/form?action=echo&id={id}"),
                &[
                    keep,
                    ("X-Test", &id),
                    ("Content-Type", "application/x-www-form-urlencoded"),
                ],
                format!("p{n}=v{n}&shared={id}").as_bytes(),
            ),
            "post",
        ),
        2 => {
            let body = multipart(
                "bnd",
                ("title", &id),
                ("up", &format!("{id}.txt"), id.as_bytes()),
            );
            (
                build_request(
                    addr,
                    "POST",
                    &format!("/app/upload?action=echo&id={id}"),
                    &[
                        keep,
                        ("X-Test", &id),
                        ("Content-Type", "multipart/form-data; boundary=bnd"),
                    ],
                    &body,
                ),
                "upload",
            )
        }
        _ => (
            build_request(
                addr,
                "PUT",
                &format!("/app/raw?action=echo&id={id}&status=201&cookie=s{n}"),
                &[keep, ("X-Test", &id), ("Content-Type", "text/plain")],
                format!("raw body {id}").as_bytes(),
            ),
            "raw",
        ),
    }
}

/// Checks that response `n` carries exactly request `n`'s data and nothing of another's.
fn check_isolated(n: usize, shape: &str, r: &RawResponse) -> (String, u64) {
    let id = format!("r{n}");
    let want_status = if shape == "raw" { 201 } else { 200 };
    assert_eq!(r.status, want_status, "{shape} {id}: {}", r.body_str());
    assert_eq!(r.header("X-Id"), Some(id.as_str()), "{shape} {id}");
    let cookies = r.header_all("Set-Cookie");
    if shape == "raw" {
        assert_eq!(cookies, vec![format!("c{id}=s{n}")], "{shape} {id}");
    } else {
        assert!(cookies.is_empty(), "{shape} {id}: {cookies:?}");
    }
    let v = json(r);
    assert_eq!(v["id"], id.as_str());
    assert_eq!(v["header"], id.as_str(), "X-Test as HTTP_X_TEST");
    assert_eq!(v["headers"]["X-Test"], id.as_str());
    let get = v["get"].as_object().unwrap();
    let post =
        v["post"].as_array().map_or(0, |a| a.len()) + v["post"].as_object().map_or(0, |o| o.len());
    let cookie = v["cookie"].as_object().map_or(0, |o| o.len());
    let files = v["files"].as_object().map_or(0, |o| o.len());
    match shape {
        "get" => {
            assert_eq!(get.len(), 3, "{id}: {get:?}");
            assert_eq!(v["get"][format!("q{n}")], format!("v{n}"));
            assert_eq!(v["method"], "GET");
            assert_eq!((post, files), (0, 0), "{id}");
            assert_eq!(cookie, 1, "{id}");
            assert_eq!(v["cookie"][format!("k{n}")], format!("c{n}"));
            assert_eq!(
                v["request"].as_object().unwrap().len(),
                3,
                "{id}: $_REQUEST is GPC of this request"
            );
            assert_eq!(v["input"], "");
        }
        "post" => {
            assert_eq!(v["post"][format!("p{n}")], format!("v{n}"));
            assert_eq!(v["post"]["shared"], id.as_str());
            assert_eq!(post, 2, "{id}");
            assert_eq!((cookie, files, get.len()), (0, 0, 2), "{id}");
            assert_eq!(v["input"], format!("p{n}=v{n}&shared={id}"));
            assert_eq!(v["request"]["shared"], id.as_str());
        }
        "upload" => {
            assert_eq!(v["post"]["title"], id.as_str());
            assert_eq!(files, 1, "{id}");
            let f = &v["files"]["up"];
            assert_eq!(f["name"], format!("{id}.txt"));
            assert_eq!(f["content"], id.as_str());
            let tmp = f["tmp"].as_str().unwrap();
            assert!(
                !Path::new(tmp).exists(),
                "{id}: the uploaded temp file {tmp} outlived its request"
            );
            assert_eq!(cookie, 0, "{id}");
        }
        _ => {
            assert_eq!(v["method"], "PUT");
            assert_eq!(v["input"], format!("raw body {id}"));
            assert_eq!((post, files, cookie), (0, 0, 0), "{id}");
        }
    }
    (
        v["boot"].as_str().unwrap().to_string(),
        v["served"].as_u64().unwrap(),
    )
}

#[test]
fn ten_thousand_requests_never_see_each_other() {
    let s = worker_server(3, &[]);
    let addr = s.addr();
    const CLIENTS: usize = 4;
    const PER_CLIENT: usize = 2_500;
    let handles: Vec<_> = (0..CLIENTS)
        .map(|c| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::with_capacity(PER_CLIENT);
                let mut conn = ResponseReader::connect(&addr);
                for i in 0..PER_CLIENT {
                    let n = c * PER_CLIENT + i;
                    let (req, shape) = isolated_request(&addr, n);
                    conn.send(&req);
                    let r = conn.read_response(false);
                    seen.push(check_isolated(n, shape, &r));
                }
                seen
            })
        })
        .collect();
    let mut per_boot: HashMap<String, Vec<u64>> = HashMap::new();
    for h in handles {
        for (boot, served) in h.join().expect("a client thread failed") {
            per_boot.entry(boot).or_default().push(served);
        }
    }
    // The script's global counter persisted: each boot counted its requests 1, 2, 3, ...
    let mut total = 0;
    for (boot, mut counts) in per_boot.clone() {
        counts.sort_unstable();
        let expected: Vec<u64> = (1..=counts.len() as u64).collect();
        assert_eq!(counts, expected, "boot {boot} counted its requests");
        total += counts.len();
    }
    assert_eq!(total, CLIENTS * PER_CLIENT);
    // Four clients at once cannot all be served by one worker (which of the three take
    // part is the scheduler's business); none restarted.
    assert!(
        (2..=3).contains(&per_boot.len()),
        "boots: {}",
        per_boot.len()
    );
    let internal = s.internal_addr();
    for cause in ["crash", "boot_failure", "max_requests"] {
        assert_eq!(restarts(&internal, cause), 0.0, "{cause}");
    }
    let served: f64 = (0..3)
        .map(|w| {
            metric(
                &internal,
                "uring_php_worker_mode_requests_total",
                &[("worker", &w.to_string())],
            )
        })
        .sum();
    assert_eq!(served as usize, CLIENTS * PER_CLIENT);
}

#[test]
fn what_a_request_leaves_behind_is_gone_for_the_next() {
    let s = worker_server(1, &[]);
    let dirty = get(&s.addr(), "/?action=dirty", &[]);
    assert_eq!(dirty.status, 418);
    assert_eq!(dirty.header("X-Leak"), Some("yes"));
    assert_eq!(
        dirty.body_str(),
        "buffered",
        "an open ob_start() buffer is flushed"
    );
    assert!(dirty
        .header_all("Set-Cookie")
        .iter()
        .any(|c| c.starts_with("PHPSESSID=")));
    let clean = get(&s.addr(), "/?action=clean", &[]);
    assert_eq!(clean.status, 200);
    assert!(clean.header("X-Leak").is_none());
    assert!(clean.header_all("Set-Cookie").is_empty());
    let v = json(&clean);
    assert_eq!(v["served"], 2, "same worker script");
    assert_eq!(v["headers"], serde_json::json!([]));
    assert_eq!(v["response_headers"], serde_json::json!([]));
    assert_eq!(v["status"], 200);
    assert_eq!(v["ob_level"], 1, "only the default output buffer");
    assert_eq!(v["session"], false, "no $_SESSION until session_start()");
    assert_eq!(v["session_status"], 1, "PHP_SESSION_NONE");
    assert_eq!(v["last_error"], Value::Null);
}

#[test]
fn sessions_follow_their_cookie_across_worker_requests() {
    let s = worker_server(2, &[]);
    let first = get(&s.addr(), "/?action=session", &[]);
    assert_eq!(first.body_str(), "1");
    let cookie = first
        .header_all("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("PHPSESSID="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    for n in 2..=4 {
        let r = get(&s.addr(), "/?action=session", &[("Cookie", &cookie)]);
        assert_eq!(r.body_str(), n.to_string());
    }
    let other = get(&s.addr(), "/?action=session", &[]);
    assert_eq!(other.body_str(), "1", "a new client, a new session");
}

#[test]
fn a_save_handler_registered_once_serves_every_later_request() {
    let s = worker_server(1, &[]);
    let first = get(&s.addr(), "/?action=own_handler", &[]);
    assert_eq!(first.status, 200, "{}", first.body_str());
    let cookie = first
        .header_all("Set-Cookie")
        .into_iter()
        .find(|c| c.starts_with("PHPSESSID="))
        .expect("a session cookie")
        .split(';')
        .next()
        .unwrap()
        .to_string();
    for n in 2..=3 {
        let r = get(&s.addr(), "/?action=own_handler", &[("Cookie", &cookie)]);
        assert_eq!((r.status, r.body_str()), (200, n.to_string()));
    }
}

#[test]
fn streams_and_finish_request_work_inside_the_handler() {
    let s = worker_server(1, &[]);
    let r = get(&s.addr(), "/?action=stream", &[]);
    assert_eq!(r.status, 200);
    assert!(r.chunked, "flush() streamed the response");
    assert_eq!(r.body_str(), "data: 1\n\ndata: 2\n\ndata: 3\n\n");
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("after");
    let r = get(
        &s.addr(),
        &format!("/?action=finish&marker={}", marker.display()),
        &[],
    );
    assert_eq!(
        r.body_str(),
        "answered",
        "output after finish_request is dropped"
    );
    eventually("the handler to run on after finishing", || marker.exists());
    let next = json(&get(&s.addr(), "/?action=whoami", &[]));
    assert_eq!(next["served"], 3);
}

/// Occupies one worker until `release` is called; returns the handle of the request.
fn hold(addr: &str, dir: &Path, name: &str) -> (std::thread::JoinHandle<RawResponse>, PathBuf) {
    let marker = dir.join(name);
    let (addr, path) = (
        addr.to_string(),
        format!("/?action=hold&marker={}", marker.display()),
    );
    (std::thread::spawn(move || get(&addr, &path, &[])), marker)
}

/// Both workers' boots: one held busy while the other answers.
fn both_boots(s: &TestServer, dir: &Path, round: &str) -> HashMap<i64, String> {
    let internal = s.internal_addr();
    let (held, marker) = hold(&s.addr(), dir, round);
    eventually("the hold request to occupy a worker", || {
        metric(
            &internal,
            "uring_php_worker_mode_threads",
            &[("state", "busy")],
        ) >= 1.0
    });
    let other = json(&get(&s.addr(), "/?action=whoami", &[]));
    std::fs::write(&marker, "").unwrap();
    let held = json(&held.join().unwrap());
    let mut boots = HashMap::new();
    for v in [held, other] {
        boots.insert(
            v["worker"].as_i64().unwrap(),
            v["boot"].as_str().unwrap().to_string(),
        );
    }
    assert_eq!(boots.len(), 2, "two workers answered: {boots:?}");
    boots
}

#[test]
fn a_crash_gets_php_fpms_answer_and_restarts_only_that_worker() {
    let s = worker_server(2, &[]);
    let internal = s.internal_addr();
    let dir = tempfile::tempdir().unwrap();
    let mut before = both_boots(&s, dir.path(), "m1");
    let mut crashes = 0.0;
    for action in ["fatal", "throw", "memory", "exit"] {
        let r = get(&s.addr(), &format!("/?action={action}"), &[]);
        match action {
            "exit" => assert_eq!(r.status, 200, "exit() answers what was written, as php-fpm"),
            // PHP drops the buffered output when memory runs out (as a classic script).
            "memory" => assert_eq!((r.status, r.body_str()), (500, String::new())),
            _ => assert_eq!(r.status, 500, "{action}: {}", r.body_str()),
        }
        let crashed = (action != "memory").then(|| first_line_json(&r)["worker"].as_i64().unwrap());
        crashes += 1.0;
        eventually("the crash to be counted", || {
            restarts(&internal, "crash") == crashes
        });
        eventually("the worker to be ready again", || {
            metric(&internal, "uring_php_worker_mode_ready", &[]) == 2.0
        });
        let after = both_boots(&s, dir.path(), &format!("{action}-after"));
        let changed: Vec<i64> = after
            .iter()
            .filter(|(w, boot)| before[*w] != **boot)
            .map(|(w, _)| *w)
            .collect();
        assert_eq!(
            changed.len(),
            1,
            "{action}: only one worker started again: {changed:?}"
        );
        if let Some(w) = crashed {
            assert_eq!(
                changed,
                [w],
                "{action}: the worker that crashed started again"
            );
        }
        before = after;
    }
    let log = s.log();
    assert!(log.contains("Call to undefined function undefined_function_for_the_test"));
    assert!(log.contains("Uncaught RuntimeException: thrown by the test"));
    assert!(log.contains("Allowed memory size"));
}

#[test]
fn max_requests_restarts_the_script() {
    let s = worker_server(1, &[("WORKER_MAX_REQUESTS", "5")]);
    let mut boots = Vec::new();
    let mut counts = Vec::new();
    for _ in 0..12 {
        let v = json(&get(&s.addr(), "/?action=whoami", &[]));
        boots.push(v["boot"].as_str().unwrap().to_string());
        counts.push(v["served"].as_u64().unwrap());
    }
    assert_eq!(counts, [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]);
    let distinct: HashSet<&String> = boots.iter().collect();
    assert_eq!(distinct.len(), 3);
    assert_eq!(restarts(&s.internal_addr(), "max_requests"), 2.0);
}

#[test]
fn requests_the_worker_does_not_match_run_classic() {
    let s = worker_server(1, &[("WORKER_MATCH", "/app/")]);
    let v = json(&get(&s.addr(), "/app/anything?action=whoami", &[]));
    assert_eq!(v["served"], 1);
    let r = get(&s.addr(), "/plain.php", &[]);
    assert_eq!(r.body_str(), "classic:/plain.php");
    // Without WORKER_MATCH only the front controller is the worker's.
    let s = worker_server(1, &[]);
    assert_eq!(
        get(&s.addr(), "/plain.php", &[]).body_str(),
        "classic:/plain.php"
    );
    let v = json(&get(&s.addr(), "/worker.php?action=whoami", &[]));
    assert_eq!(v["served"], 1);
}

#[test]
fn max_execution_time_and_request_timeout_apply_per_request() {
    let s = worker_server(
        1,
        &[
            ("PHP_INI_MAX_EXECUTION_TIME", "2"),
            ("REQUEST_TIMEOUT", "3s"),
        ],
    );
    let internal = s.internal_addr();
    // Three 1 s requests: the script lives longer than the limit, no request does.
    let boot = json(&get(&s.addr(), "/?action=sleep&ms=1000", &[]))["boot"].clone();
    for _ in 0..2 {
        let v = json(&get(&s.addr(), "/?action=sleep&ms=1000", &[]));
        assert_eq!(v["boot"], boot);
    }
    assert_eq!(restarts(&internal, "crash"), 0.0);
    let r = get(&s.addr(), "/?action=sleep&ms=10000", &[]);
    assert!(
        r.status == 500 || r.status == 504,
        "a request past its limit is stopped: {}",
        r.status
    );
    eventually("the stopped script to restart", || {
        restarts(&internal, "crash") == 1.0
    });
    let v = json(&get(&s.addr(), "/?action=whoami", &[]));
    assert_ne!(v["boot"], boot);
    assert!(s
        .log()
        .contains("Maximum execution time of 2 seconds exceeded"));
}

#[test]
fn a_script_that_cannot_boot_backs_off_and_answers_503() {
    let s = TestServer::builder(&docroot())
        .env("WORKER_SCRIPT", "failing.php")
        .env("WORKER_COUNT", "1")
        .env("PHP_WORKERS", "1")
        .env("INDEX_FILE", "failing.php")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .start();
    let internal = s.internal_addr();
    eventually("four failed boots", || {
        restarts(&internal, "boot_failure") >= 4.0
    });
    let r = get(&s.addr(), "/anything", &[]);
    assert_eq!(r.status, 503);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert!(r.body_str().contains("worker script is failing to start"));
    let ready = get(&internal, "/ready", &[]);
    assert_eq!(ready.status, 503);
    // Classic scripts still run.
    assert_eq!(
        get(&s.addr(), "/plain.php", &[]).body_str(),
        "classic:/plain.php"
    );
    let log = s.log();
    let line = log
        .lines()
        .find(|l| l.contains("before calling frankenphp_handle_request()"))
        .expect("a log line about the failed boot");
    assert!(line.contains("failing.php"), "names the script: {line}");
    assert!(
        line.contains("the app cannot boot: missing configuration"),
        "names the error: {line}"
    );
    // The pause doubles: no spinning.
    assert!(log.contains("\"retry_in_ms\":100"), "{log}");
    assert!(log.contains("\"retry_in_ms\":800"), "{log}");
}

#[test]
fn a_watched_file_change_restarts_the_scripts() {
    let dir = tempfile::tempdir().unwrap();
    let watched = dir.path().join("src");
    std::fs::create_dir(&watched).unwrap();
    std::fs::write(watched.join("version.php"), "<?php return 'v1';").unwrap();
    let s = TestServer::builder(&docroot())
        .env("WORKER_SCRIPT", "versioned.php")
        .env("INDEX_FILE", "versioned.php")
        .env("WORKER_COUNT", "2")
        .env("PHP_WORKERS", "1")
        .env("WATCHED_DIR", &watched)
        .env("WORKER_WATCH", format!("{}/**/*.php", watched.display()))
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .start();
    let internal = s.internal_addr();
    eventually("v1", || get(&s.addr(), "/", &[]).body_str() == "v1");
    std::fs::write(watched.join("version.php"), "<?php return 'v2';").unwrap();
    eventually("the new version to be served", || {
        get(&s.addr(), "/", &[]).body_str() == "v2"
    });
    eventually("both workers on v2", || {
        (0..4).all(|_| get(&s.addr(), "/", &[]).body_str() == "v2")
    });
    assert!(restarts(&internal, "watch") >= 1.0);
    // A file the globs do not name changes nothing.
    let before = restarts(&internal, "watch");
    std::fs::write(watched.join("notes.txt"), "x").unwrap();
    std::fs::write(watched.join("version.php"), "<?php return 'v3';").unwrap();
    eventually("v3", || get(&s.addr(), "/", &[]).body_str() == "v3");
    assert!(restarts(&internal, "watch") > before);
}

#[test]
fn graceful_reload_under_load_drops_nothing() {
    let s = worker_server(3, &[]);
    let internal = s.internal_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..4)
        .map(|c| {
            let (addr, stop) = (s.addr(), Arc::clone(&stop));
            std::thread::spawn(move || {
                let mut n = 0;
                let mut boots = HashSet::new();
                let mut conn = ResponseReader::connect(&addr);
                while !stop.load(Ordering::SeqCst) || n < 50 {
                    let id = format!("c{c}-{n}");
                    conn.send(&build_request(
                        &addr,
                        "POST",
                        &format!("/?action=echo&id={id}"),
                        &[
                            ("Connection", "keep-alive"),
                            ("Content-Type", "application/x-www-form-urlencoded"),
                        ],
                        format!("v={id}").as_bytes(),
                    ));
                    let r = conn.read_response(false);
                    assert_eq!(r.status, 200, "{id}: {}", r.body_str());
                    let v = json(&r);
                    assert_eq!(v["post"]["v"], id.as_str());
                    boots.insert(v["boot"].as_str().unwrap().to_string());
                    n += 1;
                }
                (n, boots)
            })
        })
        .collect();
    // Three reloads while the clients run: two by signal, one by the internal server.
    for round in 0..3 {
        let want = 3.0 * (round + 1) as f64;
        if round == 1 {
            let r = request(&internal, "POST", "/workers/restart", &[], b"");
            assert_eq!(r.status, 200);
        } else {
            s.signal("USR1");
        }
        eventually("every worker to reload", || {
            restarts(&internal, "reload") >= want
        });
    }
    stop.store(true, Ordering::SeqCst);
    let mut total = 0;
    let mut boots = HashSet::new();
    for c in clients {
        let (n, b) = c.join().expect("no request failed");
        total += n;
        boots.extend(b);
    }
    assert!(total >= 200);
    assert!(boots.len() > 3, "the clients saw the new scripts");
    assert_eq!(restarts(&internal, "crash"), 0.0);
}

#[test]
fn opcache_restarts_wait_for_worker_scripts_and_never_crash() {
    let s = worker_server(2, &[]);
    let internal = s.internal_addr();
    let stop = Arc::new(AtomicBool::new(false));
    let classic = {
        let (addr, stop) = (s.addr(), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                assert_eq!(get(&addr, "/plain.php", &[]).status, 200);
                n += 1;
            }
            n
        })
    };
    for round in 1..=3 {
        let v = json(&get(&s.addr(), "/?action=opcache_reset", &[]));
        assert_eq!(v["reset"], true);
        eventually("the OPcache restart to happen", || {
            metric(
                &internal,
                "uring_php_opcache_restarts_total",
                &[("reason", "opcache_reset")],
            ) >= round as f64
        });
        for _ in 0..4 {
            assert_eq!(get(&s.addr(), "/?action=whoami", &[]).status, 200);
        }
    }
    stop.store(true, Ordering::SeqCst);
    assert!(classic.join().unwrap() > 0);
    assert!(restarts(&internal, "opcache") >= 1.0);
    assert_eq!(restarts(&internal, "crash"), 0.0);
    eventually("both workers ready, cached again", || {
        metric(&internal, "uring_php_worker_mode_ready", &[]) == 2.0
    });
}

#[test]
fn handle_request_outside_worker_mode_throws() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("x.php"),
        "<?php try { frankenphp_handle_request(fn() => 1); } catch (RuntimeException $e) { echo get_class($e), ': ', $e->getMessage(); }",
    )
    .unwrap();
    let s = TestServer::start(dir.path());
    let r = get(&s.addr(), "/x.php", &[]);
    assert!(
        r.body_str().starts_with(
            "RuntimeException: frankenphp_handle_request() called while not in worker mode"
        ),
        "{}",
        r.body_str()
    );
}

#[test]
fn a_post_to_the_worker_reads_its_own_body() {
    let s = worker_server(1, &[]);
    let r = post(
        &s.addr(),
        "/?action=echo&id=p",
        "application/json",
        br#"{"a":1}"#,
        &[],
    );
    let v = json(&r);
    assert_eq!(v["input"], r#"{"a":1}"#);
    assert_eq!(v["post"], serde_json::json!([]));
}
