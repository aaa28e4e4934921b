//! The ACME state on disk (`ACME_DIR`): `account.json` (the account's key and URL, 0600)
//! and per site `<first name>/cert.pem` (the chain) and `key.pem` (0600). Until a
//! certificate was issued, a site has a self-signed placeholder, so the TLS listener can
//! start (and answer TLS-ALPN-01) before the first order succeeds; `placeholder` marks it.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use uring_http::tls::CertFiles;

/// Where a site's certificate is kept, by the first of its names.
pub fn cert_files(dir: &Path, domains: &[String]) -> CertFiles {
    let site = dir.join(domains.first().map_or("default", |d| d.as_str()));
    CertFiles {
        cert: site.join("cert.pem"),
        key: site.join("key.pem"),
    }
}

fn placeholder_marker(files: &CertFiles) -> PathBuf {
    files
        .cert
        .parent()
        .unwrap_or(Path::new("."))
        .join("placeholder")
}

/// Whether the certificate is the self-signed stand-in of a site not issued yet.
pub fn is_placeholder(files: &CertFiles) -> bool {
    placeholder_marker(files).exists()
}

/// Writes `data` to `path` through a temporary file and a rename, so a reader never
/// sees half a file; `private`: mode 0600.
pub fn write_atomic(path: &Path, data: &[u8], private: bool) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let tmp = dir.join(format!(
        ".{}.{}.tmp",
        path.file_name().unwrap_or_default().to_string_lossy(),
        std::process::id()
    ));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Stores an issued certificate chain and its key; the placeholder mark goes.
pub fn store_issued(files: &CertFiles, chain_pem: &str, key_pem: &str) -> std::io::Result<()> {
    // The key first: a chain next to a key that does not match would not load.
    write_atomic(&files.key, key_pem.as_bytes(), true)?;
    write_atomic(&files.cert, chain_pem.as_bytes(), false)?;
    match std::fs::remove_file(placeholder_marker(files)) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Makes sure a site has a certificate to start with: its stored one, else a
/// self-signed placeholder for `domains`.
pub fn ensure(files: &CertFiles, domains: &[String]) -> Result<(), String> {
    if files.cert.exists() && files.key.exists() {
        return Ok(());
    }
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params = rcgen::CertificateParams::new(domains.to_vec()).map_err(|e| e.to_string())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "uring_php ACME placeholder");
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    let io = |e: std::io::Error| format!("{}: {e}", files.cert.display());
    write_atomic(&files.key, key.serialize_pem().as_bytes(), true).map_err(io)?;
    write_atomic(&files.cert, cert.pem().as_bytes(), false).map_err(io)?;
    write_atomic(&placeholder_marker(files), b"", false).map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_then_issued() {
        let d = tempfile::tempdir().unwrap();
        let domains = vec!["a.test".to_string(), "www.a.test".to_string()];
        let files = cert_files(d.path(), &domains);
        assert_eq!(files.cert, d.path().join("a.test/cert.pem"));
        ensure(&files, &domains).unwrap();
        assert!(is_placeholder(&files));
        uring_http::tls::TlsAcceptor::check(&uring_http::tls::TlsFiles {
            cert: files.cert.clone(),
            key: files.key.clone(),
            min_version: uring_http::tls::TlsVersion::Tls12,
        })
        .expect("the placeholder loads");
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let before = std::fs::read(&files.cert).unwrap();
        ensure(&files, &domains).unwrap();
        assert_eq!(
            std::fs::read(&files.cert).unwrap(),
            before,
            "kept, not redone"
        );
        store_issued(&files, "chain", "key").unwrap();
        assert!(!is_placeholder(&files));
        assert_eq!(std::fs::read_to_string(&files.cert).unwrap(), "chain");
    }
}
