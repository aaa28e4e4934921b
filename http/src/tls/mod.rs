//! TLS on monoio-rustls: a server configuration built from PEM files (ALPN `h2` and
//! `http/1.1`, TLS 1.3 and 1.2 or 1.3 only, session resumption), one certificate or
//! several chosen by SNI, held so that it can be replaced while the server runs (SIGHUP)
//! without touching open connections.

mod alpn_challenge;
mod load;
mod sni;

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::ServerConfig;

pub use alpn_challenge::{AlpnChallenges, ACME_TLS_ALPN};
pub use load::{TlsError, TlsFile};

/// A TLS connection as the HTTP layers see it.
pub type TlsStream<IO> = monoio_rustls::ServerTlsStream<IO>;

/// The oldest protocol version offered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 and 1.3.
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

/// Where the certificate and key are, and what to offer.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC); may be the same file as `cert`.
    pub key: PathBuf,
    pub min_version: TlsVersion,
}

/// A certificate chain and its key, as PEM files (the same file may hold both).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Every certificate the listener offers: one per host pattern (exact names and
/// `*.example.com`), chosen by the name the client sends (SNI), and a default for
/// clients that send none or a name no pattern matches (none: those handshakes fail).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSpec {
    pub default: Option<CertFiles>,
    pub by_name: Vec<(String, CertFiles)>,
    pub min_version: TlsVersion,
}

impl From<TlsFiles> for TlsSpec {
    fn from(f: TlsFiles) -> TlsSpec {
        TlsSpec {
            default: Some(CertFiles {
                cert: f.cert,
                key: f.key,
            }),
            by_name: Vec::new(),
            min_version: f.min_version,
        }
    }
}

/// TLS sessions remembered for resumption with a session ID (TLS 1.2 clients).
const SESSION_CACHE_SIZE: usize = 4096;

/// The server's TLS state: the current configuration and the resumption state that
/// outlives reloads (the ticket keys and the session cache), so clients resume across a
/// certificate change.
pub struct TlsAcceptor {
    spec: RwLock<TlsSpec>,
    /// ACME TLS-ALPN-01 certificates, once an ACME client asked for them.
    challenges: RwLock<Option<Arc<AlpnChallenges>>>,
    current: RwLock<Arc<ServerConfig>>,
    ticketer: Arc<dyn ProducesTickets>,
    sessions: Arc<dyn StoresServerSessions>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field(
                "spec",
                &*self.spec.read().unwrap_or_else(|e| e.into_inner()),
            )
            .finish()
    }
}

impl TlsAcceptor {
    /// Loads and checks the files; the error says which file and what is wrong, on one line.
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        Self::with_spec(files.into())
    }

    /// One certificate per host pattern, chosen by SNI (see [`TlsSpec`]).
    pub fn with_spec(spec: TlsSpec) -> Result<Self, TlsError> {
        let path = spec
            .default
            .as_ref()
            .or(spec.by_name.first().map(|(_, c)| c))
            .map(|c| c.cert.clone())
            .unwrap_or_default();
        let ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError {
            file: TlsFile::Cert,
            path,
            message: format!("cannot set up session tickets: {e}"),
        })?;
        let sessions: Arc<dyn StoresServerSessions> =
            ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
        let config = build(&spec, None, &ticketer, &sessions)?;
        Ok(TlsAcceptor {
            spec: RwLock::new(spec),
            challenges: RwLock::new(None),
            current: RwLock::new(config),
            ticketer,
            sessions,
        })
    }

    /// The end of the validity of the certificate in `cert` (its first), in seconds since
    /// the epoch: when it must be renewed by.
    pub fn not_after(cert: &std::path::Path) -> Result<i64, TlsError> {
        load::not_after(cert)
    }

    /// Only checks that `files` would load (for validating a configuration up front).
    pub fn check(files: &TlsFiles) -> Result<(), TlsError> {
        load::load(&files.cert, &files.key, &load::provider()).map(|_| ())
    }

    /// Reads the files again and, if they are good, uses them for new handshakes;
    /// connections already open keep what they negotiated. On error the old certificate
    /// stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let spec = self.spec.read().unwrap_or_else(|e| e.into_inner()).clone();
        let config = build(&spec, self.challenges(), &self.ticketer, &self.sessions)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    /// Answers ACME TLS-ALPN-01 validations (ALPN `acme-tls/1`) from `challenges`
    /// from now on.
    pub fn enable_alpn_challenges(&self, challenges: Arc<AlpnChallenges>) -> Result<(), TlsError> {
        *self.challenges.write().unwrap_or_else(|e| e.into_inner()) = Some(challenges);
        self.reload()
    }

    fn challenges(&self) -> Option<Arc<AlpnChallenges>> {
        self.challenges
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Offers another set of certificates from now on (a reloaded site list); on error
    /// nothing changes. Resumption state carries over.
    pub fn replace(&self, spec: TlsSpec) -> Result<(), TlsError> {
        let config = build(&spec, self.challenges(), &self.ticketer, &self.sessions)?;
        *self.spec.write().unwrap_or_else(|e| e.into_inner()) = spec;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    /// The certificates offered now.
    pub fn spec(&self) -> TlsSpec {
        self.spec.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The configuration new handshakes use now.
    pub fn config(&self) -> Arc<ServerConfig> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs the server side of a handshake on `io`.
    pub async fn accept<IO>(&self, io: IO) -> io::Result<TlsStream<IO>>
    where
        IO: AsyncReadRent + AsyncWriteRent,
    {
        monoio_rustls::TlsAcceptor::from(self.config())
            .accept(io)
            .await
            .map_err(|e| match e {
                monoio_rustls::TlsError::Io(e) => e,
                monoio_rustls::TlsError::Rustls(e) => {
                    io::Error::new(io::ErrorKind::InvalidData, e.to_string())
                }
            })
    }
}

/// Whether a TLS connection negotiated HTTP/2.
pub fn negotiated_h2<IO>(stream: &TlsStream<IO>) -> bool {
    stream.alpn_protocol().as_deref() == Some(b"h2")
}

/// Whether a TLS connection is an ACME TLS-ALPN-01 validation (it carries no HTTP).
pub fn negotiated_acme<IO>(stream: &TlsStream<IO>) -> bool {
    stream.alpn_protocol().as_deref() == Some(ACME_TLS_ALPN)
}

fn build(
    spec: &TlsSpec,
    challenges: Option<Arc<AlpnChallenges>>,
    ticketer: &Arc<dyn ProducesTickets>,
    sessions: &Arc<dyn StoresServerSessions>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = load::provider();
    // Each pair of files is read once, however many names share it.
    let mut loaded: Vec<(CertFiles, Arc<rustls::sign::CertifiedKey>)> = Vec::new();
    let mut key_of = |files: &CertFiles| -> Result<Arc<rustls::sign::CertifiedKey>, TlsError> {
        if let Some((_, k)) = loaded.iter().find(|(f, _)| f == files) {
            return Ok(Arc::clone(k));
        }
        let l = load::load(&files.cert, &files.key, &provider)?;
        tracing::debug!(
            cert = %files.cert.display(),
            not_after = l.not_after,
            "TLS certificate loaded"
        );
        loaded.push((files.clone(), Arc::clone(&l.certified)));
        Ok(l.certified)
    };
    let default = spec.default.as_ref().map(&mut key_of).transpose()?;
    let mut resolver = sni::SniResolver::new(default);
    let answers_challenges = challenges.is_some();
    resolver.challenges = challenges;
    for (name, files) in &spec.by_name {
        resolver.add(name, key_of(files)?);
    }
    let versions: &[&rustls::SupportedProtocolVersion] = match spec.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let mut config = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(versions)
        .map_err(|e| TlsError {
            file: TlsFile::Cert,
            path: PathBuf::new(),
            message: e.to_string(),
        })?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    if answers_challenges {
        // Chosen only when the client offers nothing else (a validation server).
        config.alpn_protocols.push(ACME_TLS_ALPN.to_vec());
    }
    // The server's order (ring's: AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305, all
    // forward-secret AEAD suites) rather than the client's.
    config.ignore_client_order = true;
    config.ticketer = Arc::clone(ticketer);
    config.session_storage = Arc::clone(sessions);
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
