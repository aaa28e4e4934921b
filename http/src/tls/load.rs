//! Reading and checking a certificate chain and its private key from PEM files, with a
//! one-line reason for every way they can be wrong: missing, unreadable, no certificate,
//! no key, a key that does not belong to the certificate, a certificate outside its
//! validity period.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Which of the two files a [`TlsError`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsFile {
    Cert,
    Key,
}

/// Why a certificate or key cannot be used: which file, and one line saying what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsError {
    pub file: TlsFile,
    pub path: PathBuf,
    pub message: String,
}

impl TlsError {
    fn new(file: TlsFile, path: &Path, message: impl Into<String>) -> Self {
        TlsError {
            file,
            path: path.to_owned(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

impl std::error::Error for TlsError {}

/// A checked certificate chain (leaf first) with its key.
pub(crate) struct Loaded {
    /// The chain with its signing key, as handshakes use it.
    pub certified: Arc<CertifiedKey>,
    /// The leaf's notAfter, seconds since the epoch (for the log).
    pub not_after: i64,
}

/// Reads `cert` (a PEM chain, leaf first) and `key` (PKCS#8, PKCS#1 RSA or SEC1 EC PEM;
/// may be the same file as `cert`) and checks that they belong together and that the
/// leaf is valid now.
pub(crate) fn load(cert: &Path, key: &Path, provider: &CryptoProvider) -> Result<Loaded, TlsError> {
    let cert_pem = read(TlsFile::Cert, cert)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::new(TlsFile::Cert, cert, format!("not valid PEM: {e}")))?;
    if chain.is_empty() {
        return Err(TlsError::new(
            TlsFile::Cert,
            cert,
            "no certificate in the file (expected a PEM \"BEGIN CERTIFICATE\" block)",
        ));
    }

    let key_pem = if key == cert {
        cert_pem
    } else {
        read(TlsFile::Key, key)?
    };
    let key_der = match PrivateKeyDer::from_pem_slice(&key_pem) {
        Ok(k) => k,
        Err(pem::Error::NoItemsFound) => {
            return Err(TlsError::new(
                TlsFile::Key,
                key,
                "no private key in the file (expected a PEM PKCS#8 \"PRIVATE KEY\", \
                 \"RSA PRIVATE KEY\" or \"EC PRIVATE KEY\" block)",
            ))
        }
        Err(e) => {
            return Err(TlsError::new(
                TlsFile::Key,
                key,
                format!("not valid PEM: {e}"),
            ))
        }
    };
    let signing_key = provider
        .key_provider
        .load_private_key(key_der)
        .map_err(|e| {
            TlsError::new(
                TlsFile::Key,
                key,
                format!("unsupported or invalid private key: {e}"),
            )
        })?;
    let certified = CertifiedKey::new(chain.clone(), signing_key);
    match certified.keys_match() {
        Ok(()) | Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => {}
        Err(_) => {
            return Err(TlsError::new(
                TlsFile::Key,
                key,
                format!(
                    "private key does not match the certificate in {}",
                    cert.display()
                ),
            ))
        }
    }

    let not_after = check_validity(cert, &chain[0], now())?;
    Ok(Loaded {
        certified: Arc::new(certified),
        not_after,
    })
}

/// The first certificate's notAfter, whether or not it is still valid.
pub(crate) fn not_after(cert: &Path) -> Result<i64, TlsError> {
    let pem = read(TlsFile::Cert, cert)?;
    let first = CertificateDer::pem_slice_iter(&pem)
        .next()
        .ok_or_else(|| TlsError::new(TlsFile::Cert, cert, "no certificate in the file"))?
        .map_err(|e| TlsError::new(TlsFile::Cert, cert, format!("not valid PEM: {e}")))?;
    let (_, parsed) = x509_parser::parse_x509_certificate(&first)
        .map_err(|e| TlsError::new(TlsFile::Cert, cert, format!("cannot be parsed: {e}")))?;
    Ok(parsed.validity().not_after.timestamp())
}

fn read(file: TlsFile, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|e| {
        let why = match e.kind() {
            io::ErrorKind::NotFound => "no such file".to_string(),
            io::ErrorKind::PermissionDenied => "cannot read the file: permission denied".into(),
            _ if path.is_dir() => "is a directory, not a file".into(),
            _ => format!("cannot read the file: {e}"),
        };
        TlsError::new(file, path, why)
    })
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Checks the leaf's notBefore/notAfter against `now` (seconds since the epoch);
/// returns notAfter.
pub(crate) fn check_validity(
    path: &Path,
    leaf: &CertificateDer<'_>,
    now: i64,
) -> Result<i64, TlsError> {
    let (_, parsed) = x509_parser::parse_x509_certificate(leaf).map_err(|e| {
        TlsError::new(
            TlsFile::Cert,
            path,
            format!("the first certificate cannot be parsed: {e}"),
        )
    })?;
    let validity = parsed.validity();
    let not_before = validity.not_before.timestamp();
    let not_after = validity.not_after.timestamp();
    if now < not_before {
        return Err(TlsError::new(
            TlsFile::Cert,
            path,
            format!(
                "certificate is not valid yet (not before {})",
                date(not_before)
            ),
        ));
    }
    if now > not_after {
        return Err(TlsError::new(
            TlsFile::Cert,
            path,
            format!("certificate expired on {}", date(not_after)),
        ));
    }
    Ok(not_after)
}

/// Seconds since the epoch as an HTTP date (`Tue, 24 Nov 2026 17:04:05 GMT`).
fn date(secs: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64))
}

/// The crypto provider every configuration uses: ring, with its default (modern, AEAD-only,
/// forward-secret) cipher suites and key-exchange groups.
pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}
