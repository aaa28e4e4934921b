//! Automatic HTTPS against Debian's `pebble` ACME test server (scripts/install-test-deps.sh
//! installs it), with its mock DNS sending every name to 127.0.0.1: a certificate is
//! issued by HTTP-01 and by TLS-ALPN-01 and served without a restart, renewed on
//! SIGHUP, and kept when the ACME server is gone.

mod common;

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::server::TestServer;
use common::wait::eventually;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// pebble and its mock DNS, stopped when dropped.
struct Pebble {
    children: Vec<Child>,
    directory: String,
    management: String,
    /// pebble's own HTTPS certificate (to trust for the directory).
    ca: PathBuf,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Starts `cmd` and waits for a line of its output containing `ready`.
fn spawn_until(mut cmd: Command, ready: &str) -> Child {
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install it: scripts/install-test-deps.sh)"));
    let (tx, rx) = mpsc::channel();
    for out in [
        Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
        Box::new(child.stderr.take().unwrap()),
    ] {
        let (tx, ready) = (tx.clone(), ready.to_string());
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains(&ready) {
                    let _ = tx.send(());
                }
            }
        });
    }
    rx.recv_timeout(Duration::from_secs(30))
        .unwrap_or_else(|_| panic!("{cmd:?} did not print {ready:?}"));
    child
}

fn pebble(dir: &Path, http_port: u16, tls_port: u16) -> Pebble {
    let (listen, mgmt, dns) = (free_port(), free_port(), free_port());
    let ca = dir.join("pebble-cert.pem");
    let key = dir.join("pebble-key.pem");
    let kp = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .self_signed(&kp)
        .unwrap();
    std::fs::write(&ca, cert.pem()).unwrap();
    std::fs::write(&key, kp.serialize_pem()).unwrap();
    let config = dir.join("pebble.json");
    std::fs::write(
        &config,
        serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{listen}"),
            "managementListenAddress": format!("127.0.0.1:{mgmt}"),
            "certificate": ca,
            "privateKey": key,
            "httpPort": http_port,
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false
        }})
        .to_string(),
    )
    .unwrap();
    let mut dns_cmd = Command::new("pebble-challtestsrv");
    dns_cmd.args([
        "-dns01",
        &format!("127.0.0.1:{dns}"),
        "-http01",
        "",
        "-https01",
        "",
        "-tlsalpn01",
        "",
        "-management",
        &format!("127.0.0.1:{}", free_port()),
        "-defaultIPv4",
        "127.0.0.1",
        "-defaultIPv6",
        "",
    ]);
    let dns_child = spawn_until(dns_cmd, "Starting challenge servers");
    let mut cmd = Command::new("pebble");
    cmd.arg("-config")
        .arg(&config)
        .arg("-dnsserver")
        .arg(format!("127.0.0.1:{dns}"))
        // No random pauses before validating, no bad nonces on purpose, no reuse of
        // earlier authorizations: every order is validated for real.
        .env("PEBBLE_VA_NOSLEEP", "1")
        .env("PEBBLE_WFE_NONCEREJECT", "0")
        .env("PEBBLE_AUTHZREUSE", "0");
    let child = spawn_until(cmd, "ACME directory available");
    Pebble {
        children: vec![dns_child, child],
        directory: format!("https://127.0.0.1:{listen}/dir"),
        management: format!("https://127.0.0.1:{mgmt}"),
        ca,
    }
}

/// pebble's root for the certificates it issues.
fn issuing_root(p: &Pebble, dir: &Path) -> PathBuf {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(&p.ca)
        .arg(format!("{}/roots/0", p.management))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.join("issuing-root.pem");
    std::fs::write(&path, out.stdout).unwrap();
    path
}

/// The serial of the certificate the server presents for `name`.
fn served_serial(tls_port: u16, name: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "openssl s_client -connect 127.0.0.1:{tls_port} -servername {name} </dev/null 2>/dev/null \
             | openssl x509 -noout -serial -issuer"
        ))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An HTTPS request to `name` trusting only `root`: works only with an issued chain.
fn https_ok(tls_port: u16, name: &str, root: &Path) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "--cacert"])
        .arg(root)
        .arg("--resolve")
        .arg(format!("{name}:{tls_port}:127.0.0.1"))
        .arg(format!("https://{name}:{tls_port}/name.txt"))
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn docroot(dir: &Path) -> PathBuf {
    let root = dir.join("www");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::write(root.join("name.txt"), "acme site").unwrap();
    root
}

#[test]
fn http01_issue_serve_renew_and_keep_on_failure() {
    let tmp = tempfile::tempdir().unwrap();
    let (http, tls) = (free_port(), free_port());
    let mut pebble = pebble(tmp.path(), http, tls);
    let server = TestServer::builder(&docroot(tmp.path()))
        .env("LISTEN_ADDR", format!("127.0.0.1:{http}"))
        .env("TLS_LISTEN_ADDR", format!("127.0.0.1:{tls}"))
        .env("ACME_DOMAINS", "acme.test")
        .env("ACME_EMAIL", "admin@acme.test")
        .env("ACME_DIRECTORY", &pebble.directory)
        .env("ACME_CA_ROOT", &pebble.ca)
        .env("ACME_DIR", tmp.path().join("acme"))
        .env("ACME_CHALLENGE", "http-01")
        // Every check renews: renewal is then only a matter of asking (SIGHUP).
        .env("ACME_RENEW_BEFORE", "100000d")
        .start();
    eventually("the first certificate", || {
        server
            .log()
            .contains("ACME: certificate obtained and in use")
    });
    let root = issuing_root(&pebble, tmp.path());
    assert_eq!(
        https_ok(tls, "acme.test", &root).as_deref(),
        Ok("acme site")
    );
    let first = served_serial(tls, "acme.test");
    assert!(first.contains("serial="), "{first}");
    let key = tmp.path().join("acme/acme.test/key.pem");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // Renewal: a new certificate, in use without a restart.
    server.signal("HUP");
    eventually("a renewed certificate served", || {
        server
            .log()
            .matches("ACME: certificate obtained and in use")
            .count()
            >= 2
            && served_serial(tls, "acme.test") != first
    });
    let renewed = served_serial(tls, "acme.test");
    assert_eq!(
        https_ok(tls, "acme.test", &root).as_deref(),
        Ok("acme site")
    );

    // The ACME server is gone: the renewal fails, the current certificate stays.
    for mut c in std::mem::take(&mut pebble.children) {
        let _ = c.kill();
        let _ = c.wait();
    }
    server.signal("HUP");
    eventually("the failure logged", || {
        server
            .log()
            .contains("certificate not obtained, keeping the current one")
    });
    assert_eq!(served_serial(tls, "acme.test"), renewed);
    assert_eq!(
        https_ok(tls, "acme.test", &root).as_deref(),
        Ok("acme site")
    );
}

#[test]
fn tls_alpn01_for_a_site_of_the_configuration_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (http, tls) = (free_port(), free_port());
    let pebble = pebble(tmp.path(), http, tls);
    let root_dir = docroot(tmp.path());
    let config = tmp.path().join("sites.toml");
    std::fs::write(
        &config,
        format!(
            "[[site]]\nhosts = [\"alpn.test\", \"*.wild.test\"]\ndocument_root = \"{}\"\nacme = true\n",
            root_dir.display()
        ),
    )
    .unwrap();
    let server = TestServer::builder(&root_dir)
        .env("CONFIG_FILE", &config)
        .env("LISTEN_ADDR", format!("127.0.0.1:{http}"))
        .env("TLS_LISTEN_ADDR", format!("127.0.0.1:{tls}"))
        .env("ACME_DIRECTORY", &pebble.directory)
        .env("ACME_CA_ROOT", &pebble.ca)
        .env("ACME_DIR", tmp.path().join("acme"))
        .env("ACME_CHALLENGE", "tls-alpn-01")
        .start();
    // Before the order completes the site has a placeholder; afterwards the issued one.
    eventually("the certificate", || {
        server
            .log()
            .contains("ACME: certificate obtained and in use")
    });
    let root = issuing_root(&pebble, tmp.path());
    assert_eq!(
        https_ok(tls, "alpn.test", &root).as_deref(),
        Ok("acme site")
    );
    assert!(
        !tmp.path().join("acme/alpn.test/placeholder").exists(),
        "the placeholder mark is gone"
    );
}
