//! The configuration's parsing and validation, setting by setting.

use super::*;

fn parse(args: &[&str]) -> Result<Config, ConfigError> {
    let mut v = vec!["uring_php", "--document-root", "/"];
    v.extend_from_slice(args);
    Config::parse_from_iter(v)
}

#[test]
fn durations_and_sizes() {
    assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
    assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
    assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
    assert!(parse_duration("soon").is_err());
    // One grammar for every duration: the long units too, minutes either way.
    assert_eq!(
        parse_duration("7d").unwrap(),
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(
        parse_duration("1w").unwrap(),
        Duration::from_secs(7 * 86_400)
    );
    assert_eq!(parse_duration("5min").unwrap(), Duration::from_secs(300));
    assert_eq!(parse_duration("off").unwrap(), Duration::ZERO);
    assert!(parse_duration("99999999999999999y").is_err());
    assert!(parse_duration("-1s").is_err());
    // The cache lifetime reads the same grammar, but refuses a bare `m`.
    assert_eq!(parse_cache_ttl("5min").unwrap(), Duration::from_secs(300));
    assert_eq!(
        parse_cache_ttl("30d").unwrap(),
        Duration::from_secs(30 * 86_400)
    );
    assert_eq!(parse_cache_ttl("").unwrap(), Duration::ZERO);
    assert!(parse_cache_ttl("1m").unwrap_err().contains("ambiguous"));
    assert_eq!(parse_window("2m").unwrap(), Duration::from_secs(120));
    assert_eq!(parse_size("8M").unwrap(), 8 << 20);
    assert_eq!(parse_size("1024").unwrap(), 1024);
    assert!(parse_size("8X").is_err());
}

#[test]
fn bad_values_name_the_variable_on_one_line() {
    let e = parse(&["--php-workers", "zero"]).unwrap_err().to_string();
    assert!(
        e.starts_with("PHP_WORKERS (--php-workers)=\"zero\": expected a whole number"),
        "{e}"
    );
    assert!(!e.contains('\n'));
    let e = parse(&["--request-timeout", "soon"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("REQUEST_TIMEOUT"), "{e}");
    let e = parse(&["--executor", "java"]).unwrap_err().to_string();
    assert!(
        e.starts_with("EXECUTOR (--executor)=\"java\": expected one of php, stub"),
        "{e}"
    );
}

#[test]
fn trusted_proxies_and_header() {
    let c = parse(&["--trusted-proxies", "10.0.0.0/8, ::1,192.168.1.7"]).unwrap();
    let nets = c.trusted_proxies.unwrap().0;
    assert_eq!(nets.len(), 3);
    assert!(nets[2].contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
    assert_eq!(c.real_ip_header, "X-Forwarded-For");
    let e = parse(&["--trusted-proxies", "10.0.0.0/33"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("TRUSTED_PROXIES"), "{e}");
    assert!(!e.contains('\n'));
    let e = parse(&["--real-ip-header", "X Bad"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("REAL_IP_HEADER"), "{e}");
}

#[test]
fn defaults_follow_the_cpus() {
    let c = parse(&["--cpu-affinity", "0"]).unwrap();
    assert_eq!(c.workers(), 2);
    assert_eq!(c.queue_capacity(), 200);
    let c = parse(&["--php-workers", "3"]).unwrap();
    assert_eq!(c.queue_capacity(), 300);
}

#[test]
fn tls_settings_are_checked_up_front() {
    let e = parse(&["--tls-key", "/k.pem"]).unwrap_err().to_string();
    assert_eq!(e, "TLS_KEY: needs TLS_CERT (and TLS_KEY) to be set");
    let e = parse(&["--redirect-http-to-https", "1"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("REDIRECT_HTTP_TO_HTTPS: needs TLS_CERT"),
        "{e}"
    );
    let e = parse(&[
        "--tls-cert",
        "/nonexistent/c.pem",
        "--tls-key",
        "/nonexistent/k.pem",
    ])
    .unwrap_err()
    .to_string();
    assert_eq!(e, "TLS_CERT=/nonexistent/c.pem: no such file");
    let e = parse(&["--tls-min-version", "1.1"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("TLS_MIN_VERSION (--tls-min-version)=\"1.1\": expected one of 1.2, 1.3"),
        "{e}"
    );
    let e = parse(&["--h2-max-frame-size", "1K"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("H2_MAX_FRAME_SIZE"), "{e}");
    let c = parse(&["--listen-addr", "127.0.0.1:8080"]).unwrap();
    assert_eq!(c.tls_addr(), None);
    assert_eq!(c.h2_initial_window_size, 1 << 20);
}

#[test]
fn operations_settings() {
    let c = parse(&[]).unwrap();
    assert_eq!(c.drain_timeout_secs, Duration::from_secs(30));
    assert_eq!(c.static_cache_ttl(), None);
    assert!(!c.compression && !c.access_log && !c.trace_context && c.internal_addr.is_none());
    assert_eq!(c.rate_limit, 0);
    let c = parse(&[
        "--static-cache-ttl",
        "7d",
        "--rate-window",
        "2m",
        "--compression-level-br",
        "11",
    ])
    .unwrap();
    assert_eq!(c.static_cache_ttl(), Some(Duration::from_secs(7 * 86_400)));
    assert_eq!(c.rate_window, Duration::from_secs(120));
    assert_eq!(
        parse(&["--static-cache-ttl", "off"])
            .unwrap()
            .static_cache_ttl(),
        None
    );
    let e = parse(&["--static-cache-ttl", "1m"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("STATIC_CACHE_TTL (--static-cache-ttl)=\"1m\": ambiguous"),
        "{e}"
    );
    let e = parse(&["--compression-level-zstd", "30"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("COMPRESSION_LEVEL_ZSTD"), "{e}");
    let e = parse(&["--rate-window", "0"]).unwrap_err().to_string();
    assert!(e.starts_with("RATE_WINDOW"), "{e}");
    let e = parse(&["--error-pages-dir", "/nonexistent"])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "ERROR_PAGES_DIR=/nonexistent: not a directory");
    let e = parse(&["--access-log-file", "/nonexistent/dir/a.log"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("ACCESS_LOG_FILE=/nonexistent/dir/a.log: cannot open"),
        "{e}"
    );
    let e = parse(&[
        "--listen-addr",
        "127.0.0.1:8080",
        "--internal-addr",
        "127.0.0.1:8080",
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("INTERNAL_ADDR=127.0.0.1:8080: the same address"),
        "{e}"
    );
    let e = parse(&["--drain-timeout-secs", "0"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("DRAIN_TIMEOUT_SECS"), "{e}");
}

#[test]
fn worker_settings() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("worker.php"), "<?php").unwrap();
    let root = dir.path().to_str().unwrap();
    let c = Config::parse_from_iter([
        "uring_php",
        "--document-root",
        root,
        "--worker-script",
        "worker.php",
    ])
    .unwrap();
    assert_eq!(
        c.worker_script_path().unwrap(),
        dir.path().canonicalize().unwrap().join("worker.php")
    );
    assert_eq!(c.worker_count(), c.workers());
    let e = Config::parse_from_iter([
        "uring_php",
        "--document-root",
        root,
        "--worker-script",
        "nope.php",
    ])
    .unwrap_err()
    .to_string();
    assert!(
        e.starts_with("WORKER_SCRIPT=nope.php: not a readable file"),
        "{e}"
    );
    let e = parse(&["--worker-count", "2"]).unwrap_err().to_string();
    assert_eq!(e, "WORKER_COUNT: needs WORKER_SCRIPT to be set");
    let e = parse(&["--worker-match", "api"]).unwrap_err().to_string();
    assert!(
        e.starts_with("WORKER_MATCH (--worker-match)=\"api\": expected URL path"),
        "{e}"
    );
}

#[test]
fn sendfile_settings() {
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().display().to_string();
    let c = parse(&[
        "--internal-locations",
        &format!("/protected/={dir}, /dl={dir}"),
        "--sendfile-roots",
        &format!("{dir},/"),
    ])
    .unwrap();
    assert_eq!(
        c.internal_locations(),
        [
            ("/protected/".to_string(), d.path().to_path_buf()),
            ("/dl/".to_string(), d.path().to_path_buf())
        ]
    );
    assert_eq!(c.sendfile_roots().len(), 2);
    let e = parse(&["--internal-locations", "protected=/srv"])
        .unwrap_err()
        .to_string();
    assert!(
        e.starts_with("INTERNAL_LOCATIONS (--internal-locations)="),
        "{e}"
    );
    let e = parse(&["--internal-locations", "/p/=/nonexistent"])
        .unwrap_err()
        .to_string();
    assert_eq!(e, "INTERNAL_LOCATIONS: /p/=/nonexistent: not a directory");
    let e = parse(&["--sendfile-roots", "relative/dir"])
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("SENDFILE_ROOTS (--sendfile-roots)="), "{e}");
}

#[test]
fn stub_alias() {
    assert_eq!(
        parse(&["--use-stub", "1"]).unwrap().executor(),
        Executor::Stub
    );
    assert_eq!(parse(&[]).unwrap().executor(), Executor::Php);
}
