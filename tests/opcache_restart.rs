//! OPcache restarts while other PHP threads run scripts (src/php/opcache_restart.rs,
//! scripts/php-patches/0003): `opcache_reset()`, `opcache_invalidate()`, a cache that
//! fills up and restarts by itself, and files rewritten during a deploy, each under
//! concurrent load on several workers. Every response must be complete and correct and
//! the server must stay up: before the patch, a few resets under load killed the process
//! with "zend_mm_heap corrupted".

mod common;

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::http_client::{self, ResponseReader};
use common::metrics::metric;
use common::server::TestServer;
use common::wait::eventually;

/// Library files a page includes: each a namespace with a class and a function, so a
/// request executes code from many cached files.
const LIBS: usize = 12;

fn write_atomically(path: &Path, content: &str) {
    // As deploy tools do: a reader sees the old file or the new one, never half of one.
    let tmp = path.with_extension("tmp");
    fs::write(&tmp, content).unwrap();
    fs::rename(&tmp, path).unwrap();
}

fn lib_source(i: usize, version: u32) -> String {
    format!(
        r#"<?php
namespace L{i};
const VERSION = {version};
class C {{
    public static function f(array $a): string {{
        $s = '';
        foreach ($a as $k => $v) {{ $s .= $k . '=' . $v . ';'; }}
        return md5($s) . ':{i}';
    }}
}}
function g(int $n): int {{
    $t = 0;
    for ($i = 0; $i < $n; $i++) {{ $t += $i % 7; }}
    return $t;
}}
"#
    )
}

/// A document root with a page that runs code from every library file, and the scripts
/// the tests call while it is under load.
fn docroot() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("lib")).unwrap();
    for i in 0..LIBS {
        fs::write(dir.path().join(format!("lib/l{i}.php")), lib_source(i, 1)).unwrap();
    }
    fs::write(
        dir.path().join("page.php"),
        format!(
            r#"<?php
$out = [];
for ($i = 0; $i < {LIBS}; $i++) {{
    require_once __DIR__ . "/lib/l$i.php";
    $c = "L$i\\C";
    $g = "L$i\\g";
    $out[] = $c::f(['a' => $i, 'b' => str_repeat('x', $i)]);
    $out[] = $g(300);
}}
echo "OK ", md5(implode(',', $out)), "\n";
"#
        ),
    )
    .unwrap();
    fs::write(
        dir.path().join("reset.php"),
        "<?php echo var_export(opcache_reset(), true);",
    )
    .unwrap();
    fs::write(
        dir.path().join("invalidate.php"),
        format!(
            r#"<?php
$ok = 0;
for ($i = 0; $i < {LIBS}; $i++) {{ $ok += opcache_invalidate(__DIR__ . "/lib/l$i.php", true) ? 1 : 0; }}
echo "invalidated $ok";
"#
        ),
    )
    .unwrap();
    fs::write(
        dir.path().join("status.php"),
        "<?php $s = opcache_get_status(false); echo $s === false ? 'off' : ($s['opcache_enabled'] ? 'on' : 'disabled');",
    )
    .unwrap();
    dir
}

fn server(root: &Path, ini: &[(&str, &str)]) -> TestServer {
    // OPcache does not cache files younger than file_update_protection (2 s): the
    // tests' files are new, and must be cached at once.
    let mut b = TestServer::builder(root)
        .env("PHP_WORKERS", "4")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .arg("--php-define")
        .arg("opcache.file_update_protection=0");
    for (k, v) in ini {
        b = b.arg("--php-define").arg(format!("{k}={v}"));
    }
    b.start()
}

fn restarts(internal: &str, reason: &str) -> f64 {
    metric(
        internal,
        "uring_php_opcache_restarts_total",
        &[("reason", reason)],
    )
}

fn all_restarts(internal: &str) -> f64 {
    metric(internal, "uring_php_opcache_restarts_total", &[])
}

/// Keep-alive clients requesting `path` until `stop`; every response must be a 200 whose
/// body `check` accepts.
struct Load {
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
    failures: Arc<Mutex<Vec<String>>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

impl Load {
    fn start(
        addr: &str,
        clients: usize,
        path: &str,
        check: impl Fn(&str) -> bool + Send + Sync + 'static,
    ) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let failures = Arc::new(Mutex::new(Vec::new()));
        let check = Arc::new(check);
        let threads =
            (0..clients)
                .map(|_| {
                    let (addr, path) = (addr.to_string(), path.to_string());
                    let (stop, done, failures, check) = (
                        Arc::clone(&stop),
                        Arc::clone(&done),
                        Arc::clone(&failures),
                        Arc::clone(&check),
                    );
                    std::thread::spawn(move || {
                        let req = http_client::build_request(
                            &addr,
                            "GET",
                            &path,
                            &[("Connection", "keep-alive")],
                            b"",
                        );
                        let mut conn: Option<ResponseReader<std::net::TcpStream>> = None;
                        while !stop.load(Ordering::Relaxed) {
                            let c = match conn.as_mut() {
                                Some(c) => c,
                                None => match http_client::try_connect(&addr) {
                                    Ok(s) => conn.insert(ResponseReader::new(s)),
                                    Err(e) => {
                                        failures
                                            .lock()
                                            .unwrap_or_else(|e| e.into_inner())
                                            .push(format!("connect: {e}"));
                                        return;
                                    }
                                },
                            };
                            let result = c.try_send(&req).and_then(|_| c.try_read_final(false));
                            match result {
                                Ok(r) if r.status == 200 && check(&r.body_str()) => {
                                    done.fetch_add(1, Ordering::Relaxed);
                                }
                                Ok(r) => {
                                    failures.lock().unwrap_or_else(|e| e.into_inner()).push(
                                        format!("{} {}", r.status, http_client::preview(&r.body)),
                                    );
                                    conn = None;
                                }
                                Err(e) => {
                                    failures
                                        .lock()
                                        .unwrap_or_else(|e| e.into_inner())
                                        .push(format!("i/o: {e}"));
                                    conn = None;
                                }
                            }
                        }
                    })
                })
                .collect();
        Load {
            stop,
            done,
            failures,
            threads,
        }
    }

    /// Waits until at least `n` more responses were checked (the load is really running).
    fn wait_for(&self, n: u64, server: &TestServer) {
        let target = self.done.load(Ordering::Relaxed) + n;
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.done.load(Ordering::Relaxed) < target {
            {
                let f = self.failures.lock().unwrap();
                assert!(
                    f.is_empty(),
                    "{} failed requests: {:?}\nserver log:\n{}",
                    f.len(),
                    &f[..f.len().min(5)],
                    server.log()
                );
            }
            assert!(Instant::now() < deadline, "load made no progress");
            std::thread::yield_now();
        }
    }

    /// Stops the clients; returns how many responses were checked.
    fn finish(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            t.join().unwrap();
        }
        let failures = self.failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "{} failed requests, first: {:?}",
            failures.len(),
            &failures[..failures.len().min(5)]
        );
        self.done.load(Ordering::Relaxed)
    }
}

/// The page's body when every library is at version 1, from a quiet server.
fn expected_page(addr: &str) -> String {
    let r = http_client::get(addr, "/page.php", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let body = r.body_str();
    assert!(body.starts_with("OK "), "{body}");
    body
}

fn resets_under_load(ini: &[(&str, &str)]) {
    let root = docroot();
    let mut s = server(root.path(), ini);
    let internal = s.internal_addr();
    let page = expected_page(&s.addr());
    let load = Load::start(&s.addr(), 8, "/page.php", move |b| b == page);
    load.wait_for(50, &s);
    let mut accepted = 0;
    for i in 0..200 {
        let r = http_client::get(&s.addr(), "/reset.php", &[]);
        assert_eq!(r.status, 200, "reset {i}: {}", r.body_str());
        // false while a restart is already pending (OPcache is off until it happens).
        match r.body_str().as_str() {
            "true" => accepted += 1,
            "false" => {}
            other => panic!("opcache_reset() returned {other:?}"),
        }
        if i % 20 == 0 {
            load.wait_for(5, &s);
        }
    }
    load.wait_for(50, &s);
    let served = load.finish();
    assert!(s.is_running(), "server died:\n{}", s.log());
    // Every accepted reset is performed by the time a later request starts.
    let r = http_client::get(&s.addr(), "/status.php", &[]);
    assert_eq!(r.body_str(), "on");
    let performed = restarts(&internal, "opcache_reset");
    assert!(accepted > 0, "no opcache_reset() was accepted");
    assert_eq!(
        performed, accepted as f64,
        "each accepted opcache_reset() restarts OPcache once"
    );
    eprintln!(
        "{served} pages, {accepted} of 200 resets accepted and performed, longest pending {} s",
        metric(
            &internal,
            "uring_php_opcache_restart_pending_seconds_max",
            &[]
        )
    );
}

#[test]
fn opcache_reset_200_times_under_load() {
    resets_under_load(&[]);
}

#[test]
fn opcache_reset_under_load_with_jit() {
    resets_under_load(&[
        ("opcache.jit", "tracing"),
        ("opcache.jit_buffer_size", "16M"),
    ]);
}

#[test]
fn opcache_reset_takes_effect() {
    let root = docroot();
    let v = root.path().join("v.php");
    fs::write(&v, "<?php echo 'v1';").unwrap();
    // Without timestamp checks only a restart makes OPcache see the new file.
    let s = server(root.path(), &[("opcache.validate_timestamps", "0")]);
    let internal = s.internal_addr();
    assert_eq!(http_client::get(&s.addr(), "/v.php", &[]).body_str(), "v1");
    write_atomically(&v, "<?php echo 'v2';");
    assert_eq!(http_client::get(&s.addr(), "/v.php", &[]).body_str(), "v1");
    assert_eq!(
        http_client::get(&s.addr(), "/reset.php", &[]).body_str(),
        "true"
    );
    assert_eq!(http_client::get(&s.addr(), "/v.php", &[]).body_str(), "v2");
    assert_eq!(restarts(&internal, "opcache_reset"), 1.0);
    // The log is read from the server's stderr by another thread: wait for the line.
    eventually("the restart's log line", || {
        s.log().contains("OPcache restart: shared memory reset")
    });
}

#[test]
fn opcache_invalidate_files_being_executed() {
    let root = docroot();
    let mut s = server(root.path(), &[("opcache.max_wasted_percentage", "1")]);
    let page = expected_page(&s.addr());
    let load = Load::start(&s.addr(), 8, "/page.php", move |b| b == page);
    load.wait_for(50, &s);
    for _ in 0..200 {
        let r = http_client::get(&s.addr(), "/invalidate.php", &[]);
        assert_eq!(r.status, 200);
        assert!(r.body_str().starts_with("invalidated "), "{}", r.body_str());
    }
    load.wait_for(50, &s);
    load.finish();
    assert!(s.is_running(), "server died:\n{}", s.log());
}

/// Rewrites every library file at `version`.
fn deploy(root: &Path, version: u32) {
    for i in 0..LIBS {
        write_atomically(&root.join(format!("lib/l{i}.php")), &lib_source(i, version));
    }
}

#[test]
fn files_rewritten_during_load() {
    let root = docroot();
    // Versioned output: the page reports the versions it ran, one per library.
    fs::write(
        root.path().join("versions.php"),
        format!(
            r#"<?php
$v = [];
for ($i = 0; $i < {LIBS}; $i++) {{ require_once __DIR__ . "/lib/l$i.php"; $v[] = constant("L$i\\VERSION"); $g = "L$i\\g"; $g(100); }}
echo "V ", implode(',', $v);
"#
        ),
    )
    .unwrap();
    let mut s = server(
        root.path(),
        &[
            ("opcache.validate_timestamps", "1"),
            ("opcache.revalidate_freq", "0"),
        ],
    );
    let load = Load::start(&s.addr(), 8, "/versions.php", |b| {
        b.strip_prefix("V ").is_some_and(|v| {
            v.split(',').count() == LIBS && v.split(',').all(|x| x.parse::<u32>().is_ok())
        })
    });
    load.wait_for(20, &s);
    for version in 2..=60 {
        deploy(root.path(), version);
        load.wait_for(5, &s);
    }
    load.finish();
    assert!(s.is_running(), "server died:\n{}", s.log());
}

#[test]
fn a_full_cache_restarts_itself_under_load() {
    let root = docroot();
    // More scripts than the key table holds (max_accelerated_files rounds 200 up to 223),
    // all rewritten again and again, so wasted memory passes max_wasted_percentage.
    const FILES: usize = 600;
    fs::create_dir(root.path().join("many")).unwrap();
    let many = |i: usize, v: u32| {
        format!("<?php namespace F{i}; function v(): int {{ $a = [{v}, {i}]; return $a[1] + 0 * $a[0]; }}\n")
    };
    for i in 0..FILES {
        fs::write(root.path().join(format!("many/f{i}.php")), many(i, 1)).unwrap();
    }
    fs::write(
        root.path().join("fill.php"),
        format!(
            r#"<?php
$seed = mt_rand(0, 1 << 20);
$sum = 0; $want = 0;
for ($j = 0; $j < 40; $j++) {{
    $i = ($seed * 31 + $j * 17) % {FILES};
    require_once __DIR__ . "/many/f$i.php";
    $f = "F$i\\v";
    $sum += $f();
    $want += $i;
}}
echo $sum === $want ? "OK" : "BAD $sum $want";
"#
        ),
    )
    .unwrap();
    let mut s = server(
        root.path(),
        &[
            ("opcache.memory_consumption", "8"),
            ("opcache.interned_strings_buffer", "1"),
            ("opcache.max_accelerated_files", "200"),
            ("opcache.max_wasted_percentage", "1"),
            ("opcache.validate_timestamps", "1"),
            ("opcache.revalidate_freq", "0"),
        ],
    );
    let internal = s.internal_addr();
    let load = Load::start(&s.addr(), 8, "/fill.php", |b| b == "OK");
    load.wait_for(50, &s);
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut v = 2;
    while all_restarts(&internal) < 5.0 {
        assert!(
            Instant::now() < deadline,
            "OPcache did not restart by itself 5 times; /metrics:\n{}",
            http_client::get(&internal, "/metrics", &[]).body_str()
        );
        // OPcache compares whole-second mtimes: a file rewritten twice in one second
        // counts once, so this keeps going until enough seconds passed.
        for i in 0..FILES {
            write_atomically(&root.path().join(format!("many/f{i}.php")), &many(i, v));
        }
        v += 1;
        load.wait_for(20, &s);
    }
    load.finish();
    assert!(s.is_running(), "server died:\n{}", s.log());
    eprintln!(
        "restarts: memory {} keys {}; longest pending {} s",
        restarts(&internal, "memory"),
        restarts(&internal, "keys"),
        metric(
            &internal,
            "uring_php_opcache_restart_pending_seconds_max",
            &[]
        )
    );
}

/// A script that never ends holds a pending restart (it may be running cached code);
/// past opcache.force_restart_timeout it is stopped, as php-fpm kills such a process,
/// and the restart happens. Meanwhile other requests run, uncached.
#[test]
fn a_script_holding_a_restart_is_stopped_after_force_restart_timeout() {
    let root = docroot();
    fs::write(
        root.path().join("forever.php"),
        "<?php set_time_limit(0); echo 'start'; flush(); while (true) { usleep(20000); }",
    )
    .unwrap();
    fs::write(root.path().join("hello.php"), "<?php echo 'hello';").unwrap();
    let s = server(root.path(), &[("opcache.force_restart_timeout", "1")]);
    let internal = s.internal_addr();
    let mut forever = ResponseReader::connect(&s.addr());
    forever.send(&http_client::build_request(
        &s.addr(),
        "GET",
        "/forever.php",
        &[],
        b"",
    ));
    // The stream has started: the script runs (cached) from here on.
    let head = forever.read_response(true);
    assert_eq!(head.status, 200);
    assert_eq!(
        http_client::get(&s.addr(), "/reset.php", &[]).body_str(),
        "true"
    );
    // Requests go on (uncached) while the restart waits; then one of them, after the
    // force timeout, stops the old script and the restart happens.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let r = http_client::get(&s.addr(), "/hello.php", &[]);
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "hello");
        if restarts(&internal, "opcache_reset") == 1.0 {
            break;
        }
        assert!(Instant::now() < deadline, "the restart never happened");
    }
    assert!(metric(&internal, "uring_php_opcache_uncached_requests_total", &[]) >= 1.0);
    assert_eq!(
        metric(&internal, "uring_php_opcache_forced_stops_total", &[]),
        1.0
    );
    eventually("the forced stop's log line", || {
        s.log().contains("opcache.force_restart_timeout")
    });
}
