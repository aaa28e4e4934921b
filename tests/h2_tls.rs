//! HTTP/2 and TLS end to end: the real binary on loopback, curl as the client (h2c with
//! prior knowledge, h2 and HTTP/1.1 over TLS by ALPN), certificates generated at test
//! time (rcgen; openssl for RSA/PKCS#1 and SEC1 keys when it is installed).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::server::TestServer;

/// A site with the engine test scripts and a static file.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let engine = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/engine");
    for f in ["hello.php", "dump.php", "binary.php"] {
        std::fs::copy(engine.join(f), dir.path().join(f)).unwrap();
    }
    std::fs::write(dir.path().join("static.txt"), "static over h2\n").unwrap();
    dir
}

/// A self-signed certificate for localhost/127.0.0.1 valid from `from` to `to` days from
/// now, with an ECDSA P-256 key (PKCS#8): (cert PEM, key PEM).
fn cert_pem(cn: &str, from_days: i64, to_days: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, cn);
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now + time::Duration::days(from_days);
    params.not_after = now + time::Duration::days(to_days);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

/// Writes a good certificate pair into `dir`: (cert path, key path).
fn write_pair(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf) {
    let (c, k) = cert_pem(cn, -1, 30);
    let (cp, kp) = (
        dir.join(format!("{name}.crt")),
        dir.join(format!("{name}.key")),
    );
    std::fs::write(&cp, c).unwrap();
    std::fs::write(&kp, k).unwrap();
    (cp, kp)
}

struct TlsServer {
    server: TestServer,
    https: String,
}

fn start_tls(docroot: &Path, cert: &Path, key: &Path, extra: &[(&str, &str)]) -> TlsServer {
    let mut b = TestServer::builder(docroot)
        .env("TLS_CERT", cert)
        .env("TLS_KEY", key)
        .env("TLS_LISTEN_ADDR", "127.0.0.1:0")
        .env("PHP_WORKERS", "2");
    for (k, v) in extra {
        b = b.env(k, v);
    }
    let server = b.start();
    let https = https_addr(&server);
    TlsServer { server, https }
}

/// The TLS listener's address, from the log line "listening on https://ADDR".
fn https_addr(s: &TestServer) -> String {
    s.logged_addr("listening on https://")
}

/// Runs curl; returns (body, http_version as curl reports it).
fn curl(args: &[&str]) -> (Vec<u8>, String) {
    let out = curl_raw(args);
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = out.stdout;
    // The version is the -w suffix after the last marker.
    let split = stdout
        .windows(MARK.len())
        .rposition(|w| w == MARK.as_bytes())
        .expect("-w marker");
    let version = String::from_utf8_lossy(&stdout[split + MARK.len()..]).into_owned();
    (stdout[..split].to_vec(), version)
}

const MARK: &str = "<<curl-http-version>>";

fn curl_raw(args: &[&str]) -> Output {
    Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "30",
            "-w",
            &format!("{MARK}%{{http_version}}"),
        ])
        .args(args)
        .output()
        .expect("curl (install it: scripts/install-test-deps.sh)")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn dump_server(body: &[u8]) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("dump.php did not answer JSON ({e}): {}", text(body)));
    v["server"].clone()
}

#[test]
fn h2c_h2_and_http11_over_tls_serve_php_and_static_files() {
    let site = site();
    let certs = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(certs.path(), "site", "first");
    let s = start_tls(site.path(), &c, &k, &[]);
    let plain = format!("http://{}", s.server.addr());
    let tls = format!("https://{}", s.https);

    // h2c with prior knowledge on the plain port.
    let (body, v) = curl(&["--http2-prior-knowledge", &format!("{plain}/hello.php")]);
    assert_eq!((text(&body).as_str(), v.as_str()), ("Hello, World!", "2"));
    let (body, v) = curl(&["--http2-prior-knowledge", &format!("{plain}/static.txt")]);
    assert_eq!(
        (text(&body).as_str(), v.as_str()),
        ("static over h2\n", "2")
    );
    let (body, _) = curl(&["--http2-prior-knowledge", &format!("{plain}/dump.php?a=1")]);
    let server = dump_server(&body);
    assert_eq!(server["SERVER_PROTOCOL"], "HTTP/2.0");
    assert_eq!(server["REQUEST_SCHEME"], "http");
    assert!(server.get("HTTPS").is_none() || server["HTTPS"] == "");
    // HTTP/1.1 still on the same port.
    let (body, v) = curl(&["--http1.1", &format!("{plain}/hello.php")]);
    assert_eq!((text(&body).as_str(), v.as_str()), ("Hello, World!", "1.1"));

    // TLS: ALPN offers h2 → HTTP/2.
    let (body, v) = curl(&["-k", "--http2", &format!("{tls}/hello.php")]);
    assert_eq!((text(&body).as_str(), v.as_str()), ("Hello, World!", "2"));
    let (body, v) = curl(&["-k", "--http2", &format!("{tls}/static.txt")]);
    assert_eq!(
        (text(&body).as_str(), v.as_str()),
        ("static over h2\n", "2")
    );
    let (body, v) = curl(&[
        "-k",
        "--http2",
        "-H",
        "Cookie: a=1",
        "-H",
        "Cookie: b=2",
        &format!("{tls}/dump.php?x=y"),
    ]);
    assert_eq!(v, "2");
    let server = dump_server(&body);
    assert_eq!(server["HTTPS"], "on");
    assert_eq!(server["REQUEST_SCHEME"], "https");
    assert_eq!(server["SERVER_PROTOCOL"], "HTTP/2.0");
    assert_eq!(server["QUERY_STRING"], "x=y");
    assert_eq!(server["HTTP_HOST"], s.https.as_str());
    let all: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(all["cookie"]["a"], "1");
    assert_eq!(all["cookie"]["b"], "2");

    // ALPN offers only http/1.1 → HTTP/1.1 over TLS.
    let (body, v) = curl(&["-k", "--http1.1", &format!("{tls}/dump.php")]);
    assert_eq!(v, "1.1");
    let server = dump_server(&body);
    assert_eq!(server["HTTPS"], "on");
    assert_eq!(server["SERVER_PROTOCOL"], "HTTP/1.1");
    let (body, v) = curl(&["-k", "--http1.1", &format!("{tls}/static.txt")]);
    assert_eq!(
        (text(&body).as_str(), v.as_str()),
        ("static over h2\n", "1.1")
    );

    // TLS 1.2 is offered by default, as is 1.3.
    let (_, v) = curl(&[
        "-k",
        "--tlsv1.2",
        "--tls-max",
        "1.2",
        &format!("{tls}/hello.php"),
    ]);
    assert_eq!(v, "2");
    let (_, v) = curl(&["-k", "--tlsv1.3", &format!("{tls}/hello.php")]);
    assert_eq!(v, "2");
}

#[test]
fn large_post_through_h2_reaches_php_input_intact() {
    let site = site();
    let certs = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(certs.path(), "site", "post");
    let s = start_tls(site.path(), &c, &k, &[]);
    // 5 MiB of every byte value: spooled to disk on the way (BODY_SPOOL_THRESHOLD 1M).
    let data: Vec<u8> = (0..5 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let file = certs.path().join("upload.bin");
    std::fs::write(&file, &data).unwrap();
    let upload = format!("@{}", file.display());
    for (flags, url) in [
        (
            vec!["--http2-prior-knowledge"],
            format!("http://{}/binary.php", s.server.addr()),
        ),
        (
            vec!["-k", "--http2"],
            format!("https://{}/binary.php", s.https),
        ),
    ] {
        let mut args: Vec<&str> = flags.clone();
        args.extend([
            "-H",
            "Content-Type: application/octet-stream",
            "--data-binary",
            upload.as_str(),
            url.as_str(),
        ]);
        let (body, v) = curl(&args);
        assert_eq!(v, "2", "{url}");
        assert_eq!(body.len(), data.len(), "{url}");
        assert!(body == data, "{url}: body differs");
    }
}

#[test]
fn redirect_http_to_https() {
    let site = site();
    let certs = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(certs.path(), "site", "redirect");
    let log = certs.path().join("access.log");
    let s = start_tls(
        site.path(),
        &c,
        &k,
        &[
            ("REDIRECT_HTTP_TO_HTTPS", "1"),
            ("ACCESS_LOG", "1"),
            ("ACCESS_LOG_FILE", log.to_str().unwrap()),
        ],
    );
    let tls_port = s.https.rsplit(':').next().unwrap().to_string();
    let plain = s.server.addr();
    let w = ["-o", "/dev/null", "-w", "%{http_code} %{redirect_url}"];
    let out = Command::new("curl")
        .args(["-sS"])
        .args(w)
        .arg(format!("http://{plain}/a/b.php?x=1"))
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("301 https://127.0.0.1:{tls_port}/a/b.php?x=1")
    );
    let out = Command::new("curl")
        .args(["-sS", "--http2-prior-knowledge", "-d", "x"])
        .args(w)
        .arg(format!("http://{plain}/form"))
        .output()
        .unwrap();
    assert_eq!(
        text(&out.stdout),
        format!("308 https://127.0.0.1:{tls_port}/form")
    );
    // The TLS port serves the site.
    let (body, _) = curl(&["-k", &format!("https://{}/hello.php", s.https)]);
    assert_eq!(text(&body), "Hello, World!");
    // Redirects pass the middleware like any answer: the access log has all three.
    let deadline = Instant::now() + Duration::from_secs(10);
    let lines = loop {
        let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        if lines.len() >= 3 || Instant::now() > deadline {
            break lines;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    // Each core writes its own lines: the order across cores is not the request order.
    let mut seen: Vec<(i64, bool)> = lines
        .iter()
        .map(|l| (l["status"].as_i64().unwrap(), l["tls"].as_bool().unwrap()))
        .collect();
    seen.sort();
    assert_eq!(seen, [(200, true), (301, false), (308, false)]);
}

#[test]
fn sighup_reloads_the_certificate_and_keeps_it_when_the_new_one_is_bad() {
    let site = site();
    let certs = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(certs.path(), "site", "first-cert");
    let s = start_tls(site.path(), &c, &k, &[]);
    let url = format!("https://{}/hello.php", s.https);
    let subject = |url: &str| {
        let out = Command::new("curl")
            .args(["-sS", "-k", "-v", "-o", "/dev/null", url])
            .output()
            .unwrap();
        text(&out.stderr)
    };
    assert!(subject(&url).contains("CN=first-cert"));

    let (c2, k2) = cert_pem("second-cert", -1, 30);
    std::fs::write(&c, c2).unwrap();
    std::fs::write(&k, k2).unwrap();
    s.server.signal("HUP");
    wait_for_log(&s.server, "TLS certificate reloaded");
    assert!(subject(&url).contains("CN=second-cert"));

    // A key that does not match: the old certificate stays.
    let (_, other_key) = cert_pem("x", -1, 30);
    std::fs::write(&k, other_key).unwrap();
    s.server.signal("HUP");
    wait_for_log(&s.server, "not reloaded");
    let log = s.server.log();
    assert!(log.contains("does not match the certificate"), "{log}");
    let v = subject(&url);
    assert!(v.contains("CN=second-cert"), "{v}");
}

fn wait_for_log(s: &TestServer, needle: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !s.log().contains(needle) {
        assert!(
            Instant::now() < deadline,
            "{needle:?} not in the log:\n{}",
            s.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary with `env` and expects it to refuse to start: exit 2, one line on
/// stderr containing every part of `want`.
fn refuses(docroot: &Path, env: &[(&str, &Path)], want: &[&str]) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_uring_php"));
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env("DOCUMENT_ROOT", docroot)
        .env("EXECUTOR", "stub");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("uring_php started with {env:?}; expected it to refuse");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(2), "{env:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    for w in want {
        assert!(stderr.contains(w), "{env:?}: {w:?} not in {stderr:?}");
    }
}

#[test]
fn bad_missing_mismatched_or_expired_certificates_refuse_to_start() {
    let site = site();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let (good_c, good_k) = write_pair(dir, "good", "good");
    let (_, other_k) = write_pair(dir, "other", "other");
    let missing = dir.join("missing.pem");
    let (expired_c, expired_k) = cert_pem("old", -60, -1);
    let (ec, ek) = (dir.join("expired.crt"), dir.join("expired.key"));
    std::fs::write(&ec, expired_c).unwrap();
    std::fs::write(&ek, expired_k).unwrap();
    let (future_c, future_k) = cert_pem("future", 5, 60);
    let (fc, fk) = (dir.join("future.crt"), dir.join("future.key"));
    std::fs::write(&fc, future_c).unwrap();
    std::fs::write(&fk, future_k).unwrap();
    let empty = dir.join("empty.pem");
    std::fs::write(&empty, "").unwrap();

    refuses(
        site.path(),
        &[("TLS_CERT", &missing), ("TLS_KEY", &good_k)],
        &["TLS_CERT=", "missing.pem: no such file"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &good_c), ("TLS_KEY", &missing)],
        &["TLS_KEY=", "no such file"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", dir), ("TLS_KEY", &good_k)],
        &["TLS_CERT=", "directory"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &good_k), ("TLS_KEY", &good_k)],
        &["TLS_CERT=", "no certificate in the file"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &good_c), ("TLS_KEY", &empty)],
        &["TLS_KEY=", "no private key in the file"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &good_c), ("TLS_KEY", &other_k)],
        &["TLS_KEY=", "private key does not match the certificate"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &ec), ("TLS_KEY", &ek)],
        &["TLS_CERT=", "certificate expired on"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &fc), ("TLS_KEY", &fk)],
        &["TLS_CERT=", "not valid yet"],
    );
    refuses(
        site.path(),
        &[("TLS_CERT", &good_c)],
        &["TLS_KEY: not set", "no private key"],
    );
}

/// RSA (PKCS#1 "RSA PRIVATE KEY"), EC (SEC1 "EC PRIVATE KEY") and a chain with the key in
/// the same file, made with the openssl command line like a user would.
#[test]
fn rsa_and_ec_keys_in_every_pem_flavour_work() {
    assert!(
        Command::new("openssl").arg("version").output().is_ok(),
        "openssl is not installed: scripts/install-test-deps.sh installs it"
    );
    let site = site();
    let d = tempfile::tempdir().unwrap();
    let dir = d.path();
    let openssl = |args: &[&str]| {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "openssl {args:?}: {}",
            text(&out.stderr)
        );
    };
    openssl(&["genrsa", "-traditional", "-out", "rsa.key", "2048"]);
    openssl(&[
        "ecparam",
        "-name",
        "prime256v1",
        "-genkey",
        "-noout",
        "-out",
        "ec.key",
    ]);
    for key in ["rsa.key", "ec.key"] {
        let crt = key.replace(".key", ".crt");
        openssl(&[
            "req",
            "-x509",
            "-new",
            "-key",
            key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
        ]);
        let key_text = std::fs::read_to_string(dir.join(key)).unwrap();
        let expect = if key == "rsa.key" {
            "BEGIN RSA PRIVATE KEY"
        } else {
            "BEGIN EC PRIVATE KEY"
        };
        assert!(key_text.contains(expect), "{key}: {key_text}");
        let s = start_tls(
            site.path(),
            &dir.join(&crt),
            &dir.join(key),
            &[("EXECUTOR", "stub")],
        );
        let (_, v) = curl(&["-k", &format!("https://{}/static.txt", s.https)]);
        assert_eq!(v, "2", "{key}");
        // Chain and key in one file, TLS_KEY unset.
        let both = dir.join(format!("{key}.both.pem"));
        let chain = std::fs::read_to_string(dir.join(&crt)).unwrap();
        std::fs::write(&both, format!("{chain}{key_text}")).unwrap();
        let s = TestServer::builder(site.path())
            .env("TLS_CERT", &both)
            .env("TLS_LISTEN_ADDR", "127.0.0.1:0")
            .env("EXECUTOR", "stub")
            .start();
        let https = https_addr(&s);
        let (body, _) = curl(&["-k", "--http1.1", &format!("https://{https}/static.txt")]);
        assert_eq!(text(&body), "static over h2\n");
    }
}

#[test]
fn tls13_only_refuses_tls12_clients() {
    let site = site();
    let certs = tempfile::tempdir().unwrap();
    let (c, k) = write_pair(certs.path(), "site", "v13");
    let s = start_tls(
        site.path(),
        &c,
        &k,
        &[("TLS_MIN_VERSION", "1.3"), ("EXECUTOR", "stub")],
    );
    let url = format!("https://{}/static.txt", s.https);
    let out = curl_raw(&["-k", "--tlsv1.2", "--tls-max", "1.2", &url]);
    assert!(!out.status.success(), "a TLS 1.2-only client got through");
    let (body, _) = curl(&["-k", "--tlsv1.3", &url]);
    assert_eq!(text(&body), "static over h2\n");
}
