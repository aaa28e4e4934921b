use std::path::{Path, PathBuf};
use std::sync::Arc;

use rcgen::{CertificateParams, KeyPair};

use super::*;

struct Dir(PathBuf);

impl Dir {
    fn new(name: &str) -> Dir {
        let p = std::env::temp_dir().join(format!(
            "uring-http-tls-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Dir(p)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, text).unwrap();
        p
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A self-signed cert for localhost valid from `from` to `to` days relative to now.
fn cert(from_days: i64, to_days: i64) -> (String, String) {
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let now = time_now();
    params.not_before = now + rcgen_days(from_days);
    params.not_after = now + rcgen_days(to_days);
    let cert = params.self_signed(&key).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

fn rcgen_days(n: i64) -> time::Duration {
    time::Duration::days(n)
}

fn files(cert: &Path, key: &Path) -> TlsFiles {
    TlsFiles {
        cert: cert.to_owned(),
        key: key.to_owned(),
        min_version: TlsVersion::Tls12,
    }
}

fn error(cert: &Path, key: &Path) -> TlsError {
    TlsAcceptor::new(files(cert, key)).unwrap_err()
}

#[test]
fn good_pair_loads_with_alpn_and_resumption() {
    let d = Dir::new("good");
    let (c, k) = cert(-1, 30);
    let (cp, kp) = (d.write("c.pem", &c), d.write("k.pem", &k));
    let acc = TlsAcceptor::new(files(&cp, &kp)).unwrap();
    let cfg = acc.config();
    assert_eq!(
        cfg.alpn_protocols,
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    );
    assert!(cfg.ticketer.enabled());
    TlsAcceptor::check(&files(&cp, &kp)).unwrap();
    // Key and chain in one file.
    let both = d.write("both.pem", &format!("{c}{k}"));
    TlsAcceptor::new(files(&both, &both)).unwrap();
    let mut f = files(&cp, &kp);
    f.min_version = TlsVersion::Tls13;
    TlsAcceptor::new(f).unwrap();
}

#[test]
fn every_bad_file_has_a_one_line_reason() {
    let d = Dir::new("bad");
    let (c, k) = cert(-1, 30);
    let (cp, kp) = (d.write("c.pem", &c), d.write("k.pem", &k));
    let missing = d.0.join("nope.pem");

    let e = error(&missing, &kp);
    assert_eq!(e.file, TlsFile::Cert);
    assert!(e.message.contains("no such file"), "{e}");

    let e = error(&cp, &missing);
    assert_eq!(e.file, TlsFile::Key);
    assert!(e.message.contains("no such file"), "{e}");

    let e = error(&kp, &kp);
    assert_eq!(e.file, TlsFile::Cert);
    assert!(e.message.contains("no certificate"), "{e}");

    let e = error(&cp, &cp);
    assert_eq!(e.file, TlsFile::Key);
    assert!(e.message.contains("no private key"), "{e}");

    let garbage = d.write(
        "g.pem",
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    );
    let e = error(&garbage, &kp);
    assert!(e.message.contains("not valid PEM"), "{e}");

    let (_, other_key) = cert(-1, 30);
    let ok2 = d.write("k2.pem", &other_key);
    let e = error(&cp, &ok2);
    assert_eq!(e.file, TlsFile::Key);
    assert!(e.message.contains("does not match the certificate"), "{e}");

    let (old, old_key) = cert(-30, -1);
    let e = error(&d.write("old.pem", &old), &d.write("oldk.pem", &old_key));
    assert_eq!(e.file, TlsFile::Cert);
    assert!(e.message.contains("certificate expired on"), "{e}");
    assert!(e.message.ends_with(" GMT"), "{e}");

    let (future, future_key) = cert(2, 30);
    let e = error(&d.write("f.pem", &future), &d.write("fk.pem", &future_key));
    assert!(e.message.contains("not valid yet"), "{e}");

    let e = error(&d.0, &kp);
    assert!(e.message.contains("directory"), "{e}");

    for e in [error(&missing, &kp), error(&cp, &ok2)] {
        assert!(!e.to_string().contains('\n'), "{e}");
    }
}

#[test]
fn reload_swaps_the_config_and_keeps_it_on_error() {
    let d = Dir::new("reload");
    let (c, k) = cert(-1, 30);
    let (cp, kp) = (d.write("c.pem", &c), d.write("k.pem", &k));
    let acc = TlsAcceptor::new(files(&cp, &kp)).unwrap();
    let first = acc.config();
    let (c2, k2) = cert(-1, 60);
    std::fs::write(&cp, &c2).unwrap();
    std::fs::write(&kp, &k2).unwrap();
    acc.reload().unwrap();
    let second = acc.config();
    assert!(!Arc::ptr_eq(&first, &second));
    // Resumption state survives the reload.
    assert!(Arc::ptr_eq(&first.ticketer, &second.ticketer));
    std::fs::write(&kp, &k).unwrap(); // now mismatched
    assert!(acc.reload().is_err());
    assert!(Arc::ptr_eq(&second, &acc.config()));
}
