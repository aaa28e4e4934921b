//! TLS on monoio-rustls: a server configuration built from PEM files (ALPN `h2` and
//! `http/1.1`, TLS 1.3 and 1.2 or 1.3 only, session resumption), held so that it can be
//! replaced while the server runs (SIGHUP) without touching open connections.

mod load;

use std::io;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use monoio::io::{AsyncReadRent, AsyncWriteRent};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::ServerConfig;

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

/// TLS sessions remembered for resumption with a session ID (TLS 1.2 clients).
const SESSION_CACHE_SIZE: usize = 4096;

/// The server's TLS state: the current configuration and the resumption state that
/// outlives reloads (the ticket keys and the session cache), so clients resume across a
/// certificate change.
pub struct TlsAcceptor {
    files: TlsFiles,
    current: RwLock<Arc<ServerConfig>>,
    ticketer: Arc<dyn ProducesTickets>,
    sessions: Arc<dyn StoresServerSessions>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("files", &self.files)
            .finish()
    }
}

impl TlsAcceptor {
    /// Loads and checks the files; the error says which file and what is wrong, on one line.
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let ticketer = rustls::crypto::ring::Ticketer::new().map_err(|e| TlsError {
            file: TlsFile::Cert,
            path: files.cert.clone(),
            message: format!("cannot set up session tickets: {e}"),
        })?;
        let sessions: Arc<dyn StoresServerSessions> =
            ServerSessionMemoryCache::new(SESSION_CACHE_SIZE);
        let config = build(&files, &ticketer, &sessions)?;
        Ok(TlsAcceptor {
            files,
            current: RwLock::new(config),
            ticketer,
            sessions,
        })
    }

    /// Only checks that `files` would load (for validating a configuration up front).
    pub fn check(files: &TlsFiles) -> Result<(), TlsError> {
        load::load(&files.cert, &files.key, &load::provider()).map(|_| ())
    }

    /// Reads the files again and, if they are good, uses them for new handshakes;
    /// connections already open keep what they negotiated. On error the old certificate
    /// stays in use.
    pub fn reload(&self) -> Result<(), TlsError> {
        let config = build(&self.files, &self.ticketer, &self.sessions)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = config;
        Ok(())
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
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

fn build(
    files: &TlsFiles,
    ticketer: &Arc<dyn ProducesTickets>,
    sessions: &Arc<dyn StoresServerSessions>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = load::provider();
    let loaded = load::load(&files.cert, &files.key, &provider)?;
    let versions: &[&rustls::SupportedProtocolVersion] = match files.min_version {
        TlsVersion::Tls12 => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersion::Tls13 => &[&rustls::version::TLS13],
    };
    let config_error = |e: rustls::Error| TlsError {
        file: TlsFile::Key,
        path: files.key.clone(),
        message: e.to_string(),
    };
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(config_error)?
        .with_no_client_auth()
        .with_single_cert(loaded.chain, loaded.key)
        .map_err(config_error)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    // The server's order (ring's: AES-256-GCM, AES-128-GCM, ChaCha20-Poly1305, all
    // forward-secret AEAD suites) rather than the client's.
    config.ignore_client_order = true;
    config.ticketer = Arc::clone(ticketer);
    config.session_storage = Arc::clone(sessions);
    tracing::debug!(
        cert = %files.cert.display(),
        not_after = loaded.not_after,
        "TLS certificate loaded"
    );
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests;
