//! Sites (virtual hosts) from a configuration file: two sites on one port with their own
//! roots, `$_SERVER` additions, per-request php.ini values (restored for the next site's
//! request on the same PHP thread) and certificates chosen by SNI; unknown hosts; the
//! file over the environment; SIGHUP reloads without closing connections; and
//! `--check-config` errors with line numbers.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::http_client::{get, ResponseReader};
use common::server::TestServer;
use common::wait::eventually;
use serde_json::Value;

struct Site {
    dir: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

struct Setup {
    tmp: tempfile::TempDir,
    alpha: Site,
    beta: Site,
}

/// A document root with site.php and its name, and a certificate for `names`.
fn site(tmp: &Path, name: &str, names: &[&str]) -> Site {
    let dir = tmp.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/parity/site.php"),
        dir.join("site.php"),
    )
    .unwrap();
    std::fs::write(dir.join("name.txt"), name).unwrap();
    std::fs::write(dir.join("secret.txt"), format!("{name}'s secret")).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .unwrap();
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let cert = params.self_signed(&key).unwrap();
    let (cert_path, key_path) = (
        tmp.join(format!("{name}.crt")),
        tmp.join(format!("{name}.key")),
    );
    std::fs::write(&cert_path, cert.pem()).unwrap();
    std::fs::write(&key_path, key.serialize_pem()).unwrap();
    Site {
        dir,
        cert: cert_path,
        key: key_path,
    }
}

fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let alpha = site(tmp.path(), "alpha", &["alpha.test"]);
    let beta = site(tmp.path(), "beta", &["beta.test", "*.beta.test"]);
    Setup { tmp, alpha, beta }
}

fn config(s: &Setup, extra: &str) -> String {
    format!(
        r#"
[server]
php_workers = 1

[[site]]
name = "alpha"
hosts = ["alpha.test"]
document_root = "{a}"
tls_cert = "{ac}"
tls_key = "{ak}"
default = true
[site.server_vars]
APP_ENV = "alpha-env"
[site.php_admin_value]
memory_limit = "99M"
open_basedir = "{a}"
[site.php_value]
precision = 10

[[site]]
name = "beta"
hosts = ["beta.test", "*.beta.test"]
document_root = "{b}"
tls_cert = "{bc}"
tls_key = "{bk}"
{extra}
"#,
        a = s.alpha.dir.display(),
        ac = s.alpha.cert.display(),
        ak = s.alpha.key.display(),
        b = s.beta.dir.display(),
        bc = s.beta.cert.display(),
        bk = s.beta.key.display(),
    )
}

fn write_config(s: &Setup, text: &str) -> PathBuf {
    let path = s.tmp.path().join("uring_php.toml");
    std::fs::write(&path, text).unwrap();
    path
}

fn start(s: &Setup, text: &str) -> TestServer {
    let path = write_config(s, text);
    // The environment says otherwise; the file wins.
    TestServer::builder(&s.alpha.dir)
        .env("CONFIG_FILE", &path)
        .env("PHP_WORKERS", "3")
        .env("DOCUMENT_ROOT", "/nonexistent")
        .env("TLS_LISTEN_ADDR", "127.0.0.1:0")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .start()
}

fn site_json(addr: &str, host: &str, query: &str) -> Value {
    let r = get(addr, &format!("/site.php{query}"), &[("Host", host)]);
    assert_eq!(r.status, 200, "{host}: {}", r.body_str());
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn two_sites_on_one_port() {
    let s = setup();
    let server = start(&s, &config(&s, ""));
    let addr = server.addr();

    // Alternate the sites on the one PHP thread: each sees its own values only.
    for _ in 0..2 {
        let a = site_json(&addr, "alpha.test", "");
        assert_eq!(a["site"], "alpha");
        assert_eq!(
            a["document_root"],
            s.alpha.dir.canonicalize().unwrap().to_str().unwrap()
        );
        assert_eq!(a["app_env"], "alpha-env");
        assert_eq!(a["memory_limit"], "99M");
        assert_eq!(a["precision"], "10");
        assert_eq!(a["raised"], false, "php_admin_value cannot be changed");

        let b = site_json(&addr, "www.beta.test:443", "");
        assert_eq!(b["site"], "beta");
        assert_eq!(b["app_env"], Value::Null);
        assert_eq!(b["memory_limit"], "128M", "alpha's value was restored");
        assert_eq!(b["open_basedir"], "");
        assert_eq!(b["precision"], "14");
        assert_eq!(b["raised"], true);
    }
    // open_basedir keeps alpha's scripts inside alpha; beta may read there.
    let alpha_secret = s.alpha.dir.join("secret.txt");
    let beta_secret = s.beta.dir.join("secret.txt");
    let q = |p: &Path| format!("?read={}", p.display());
    assert_eq!(
        site_json(&addr, "alpha.test", &q(&beta_secret))["read"],
        false
    );
    assert_eq!(
        site_json(&addr, "alpha.test", &q(&alpha_secret))["read"],
        "alpha's secret"
    );
    assert_eq!(
        site_json(&addr, "beta.test", &q(&alpha_secret))["read"],
        "alpha's secret"
    );
    // Static files per site, and a host no site names goes to the default (alpha).
    assert_eq!(
        get(&addr, "/name.txt", &[("Host", "beta.test")]).body_str(),
        "beta"
    );
    assert_eq!(
        get(&addr, "/name.txt", &[("Host", "other.test")]).body_str(),
        "alpha"
    );
    // [server] beat the environment's PHP_WORKERS=3.
    let config = get(&server.internal_addr(), "/config", &[]).body_str();
    let config: Value = serde_json::from_str(&config).unwrap();
    assert_eq!(config["settings"]["PHP_WORKERS"]["value"], "1", "{config}");
}

/// curl over TLS to `host` on the TLS port, trusting only `ca`: succeeds only when the
/// server presents the certificate for that name.
fn curl_tls(port: &str, host: &str, ca: &Path, http2: bool) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10"])
        .arg(if http2 { "--http2" } else { "--http1.1" })
        .arg("--resolve")
        .arg(format!("{host}:{port}:127.0.0.1"))
        .arg("--cacert")
        .arg(ca)
        .arg(format!("https://{host}:{port}/name.txt"))
        .output()
        .expect("curl");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn each_site_gets_its_certificate_by_sni() {
    let s = setup();
    let server = start(&s, &config(&s, ""));
    let tls = server.logged_addr("listening on https://");
    let port = tls.rsplit(':').next().unwrap().to_string();
    assert_eq!(
        curl_tls(&port, "alpha.test", &s.alpha.cert, true).as_deref(),
        Ok("alpha")
    );
    assert_eq!(
        curl_tls(&port, "beta.test", &s.beta.cert, false).as_deref(),
        Ok("beta")
    );
    assert_eq!(
        curl_tls(&port, "shop.beta.test", &s.beta.cert, true).as_deref(),
        Ok("beta")
    );
    // The other site's certificate is not what alpha.test gets.
    let wrong = curl_tls(&port, "alpha.test", &s.beta.cert, true);
    assert!(wrong.is_err(), "{wrong:?}");
}

#[test]
fn unknown_hosts_can_be_refused() {
    let s = setup();
    let server = start(&s, &format!("unknown_host = \"421\"\n{}", config(&s, "")));
    let r = get(&server.addr(), "/name.txt", &[("Host", "other.test")]);
    assert_eq!(r.status, 421);
    assert_eq!(
        get(&server.addr(), "/name.txt", &[("Host", "alpha.test")]).body_str(),
        "alpha"
    );
}

#[test]
fn sighup_reloads_without_closing_connections() {
    let s = setup();
    let server = start(&s, &config(&s, ""));
    let addr = server.addr();
    let mut kept = ResponseReader::connect(&addr);
    let ask = |reader: &mut ResponseReader, host: &str| {
        reader.send(format!("GET /name.txt HTTP/1.1\r\nHost: {host}\r\n\r\n").as_bytes());
        let r = reader.read_response(false);
        (r.status, r.body_str())
    };
    assert_eq!(ask(&mut kept, "beta.test"), (200, "beta".into()));

    // beta moves to a new root, gamma is added, and a server-wide setting changes.
    let gamma = site(s.tmp.path(), "gamma", &["gamma.test"]);
    let moved = config(&s, "")
        .replace(
            &s.beta.dir.display().to_string(),
            &gamma.dir.display().to_string(),
        )
        .replace("php_workers = 1", "php_workers = 2");
    let gamma_site = format!(
        "{moved}\n[[site]]\nhosts = [\"gamma.test\"]\ndocument_root = \"{}\"\n",
        gamma.dir.display()
    );
    write_config(&s, &gamma_site);
    server.signal("HUP");
    eventually("gamma served after the reload", || {
        get(&addr, "/name.txt", &[("Host", "gamma.test")]).body_str() == "gamma"
    });
    // The connection opened before the reload is still served, by the new sites.
    assert_eq!(ask(&mut kept, "beta.test"), (200, "gamma".into()));
    // The new sites go live before the reload's log lines are written: wait for them.
    eventually("the reload in the log", || {
        server.log().contains("SIGHUP: configuration reloaded")
    });
    let log = server.log();
    assert!(
        log.contains("cannot change without a restart") && log.contains("PHP_WORKERS"),
        "{log}"
    );

    // A broken file changes nothing.
    write_config(&s, "[[site]]\nhosts = [\"x.test\"]\nnonsense = 1\n");
    server.signal("HUP");
    eventually("the refusal in the log", || {
        server.log().contains("SIGHUP: configuration not reloaded")
    });
    assert!(
        server.log().contains("uring_php.toml:3:"),
        "{}",
        server.log()
    );
    assert_eq!(ask(&mut kept, "gamma.test"), (200, "gamma".into()));
}

fn check(s: &Setup, text: &str) -> (i32, String, String) {
    let path = write_config(s, text);
    let out = Command::new(env!("CARGO_BIN_EXE_uring_php"))
        .env_clear()
        .arg("--check-config")
        .arg("--config")
        .arg(&path)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn check_config_names_file_and_line() {
    let s = setup();
    let (code, out, err) = check(&s, &config(&s, ""));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("configuration OK") && out.contains("2 sites") && out.contains("*.beta.test"),
        "{out}"
    );
    let file = s.tmp.path().join("uring_php.toml").display().to_string();
    let good = config(&s, "");
    // The line of each mistake, counted in the text given.
    let cases: Vec<(String, &str)> = vec![
        (format!("{good}colour = \"blue\"\n"), "unknown field"),
        (
            good.replace(&s.beta.dir.display().to_string(), "/nonexistent/beta"),
            "document_root = /nonexistent/beta: not a directory",
        ),
        (
            good.replace("\"*.beta.test\"", "\"alpha.test\""),
            "host \"alpha.test\" belongs to site \"alpha\"",
        ),
        (
            good.replace("php_workers = 1", "php_workers = \"many\""),
            "server.php_workers: PHP_WORKERS",
        ),
        (
            good.replace("php_workers = 1", "workers = 1"),
            "server.workers: not a setting",
        ),
        (
            good.replace(
                &s.beta.cert.display().to_string(),
                &s.alpha.key.display().to_string(),
            ),
            "no certificate in the file",
        ),
        (
            format!("unknown_host = \"teapot\"\n{good}"),
            "expected \"default\", \"421\" or \"404\"",
        ),
    ];
    for (text, want) in cases {
        let (code, _, err) = check(&s, &text);
        assert_eq!(code, 2, "{want}: {err}");
        let err = err.trim();
        assert!(err.contains(want), "want {want:?} in {err:?}");
        // FILE:LINE: and that line of the file is where the mistake is.
        let rest = err
            .strip_prefix("uring_php: ")
            .and_then(|e| e.strip_prefix(&format!("{file}:")))
            .unwrap_or_else(|| panic!("no file:line in {err:?}"));
        let line: usize = rest.split(':').next().unwrap().parse().unwrap();
        let at = text.lines().nth(line - 1).unwrap_or_default();
        assert!(
            !at.trim().is_empty(),
            "{want}: line {line} is empty in\n{text}"
        );
        assert!(!err.contains('\n'), "one line: {err:?}");
    }
}

#[test]
fn a_site_can_stay_out_of_the_response_cache() {
    let s = setup();
    let path = write_config(&s, &config(&s, "response_cache = false\n"));
    let server = TestServer::builder(&s.alpha.dir)
        .env("CONFIG_FILE", &path)
        .env("RESPONSE_CACHE_SIZE", "16M")
        .env("RESPONSE_CACHE_TTL", "10m")
        .start();
    let x_cache = |host: &str| {
        let r = get(&server.addr(), "/site.php", &[("Host", host)]);
        assert_eq!(r.status, 200);
        r.header("X-Cache").map(str::to_string)
    };
    assert_eq!(x_cache("alpha.test").as_deref(), Some("MISS"));
    assert_eq!(x_cache("alpha.test").as_deref(), Some("HIT"));
    assert_eq!(x_cache("beta.test"), None);
    assert_eq!(x_cache("beta.test"), None, "never stored for beta");
}
