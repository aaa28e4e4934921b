//! ACME TLS-ALPN-01 (RFC 8737): while a certificate is being obtained, a validation
//! server connects with ALPN `acme-tls/1` and the name being validated; it must get a
//! self-signed certificate carrying the challenge's digest (made by the ACME client and
//! put here), and the connection then ends without any HTTP.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use rustls::sign::CertifiedKey;

/// The protocol a validation server offers, alone.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// Challenge certificates by host name, shared by the ACME client (which adds and
/// removes them) and the TLS listener (which presents them).
#[derive(Default)]
pub struct AlpnChallenges {
    by_name: Mutex<HashMap<String, Arc<CertifiedKey>>>,
}

impl std::fmt::Debug for AlpnChallenges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AlpnChallenges")
    }
}

impl AlpnChallenges {
    /// Presents `cert_pem`/`key_pem` (PEM) to validation connections for `name`.
    pub fn insert(&self, name: &str, cert_pem: &str, key_pem: &str) -> Result<(), String> {
        use rustls_pki_types::pem::PemObject;
        let cert = rustls_pki_types::CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| format!("challenge certificate: {e}"))?;
        let key = rustls_pki_types::PrivateKeyDer::from_pem_slice(key_pem.as_bytes())
            .map_err(|e| format!("challenge key: {e}"))?;
        let signing = super::load::provider()
            .key_provider
            .load_private_key(key)
            .map_err(|e| format!("challenge key: {e}"))?;
        self.by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                name.to_ascii_lowercase(),
                Arc::new(CertifiedKey::new(vec![cert], signing)),
            );
        Ok(())
    }

    pub fn remove(&self, name: &str) {
        self.by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name.to_ascii_lowercase());
    }

    pub(crate) fn get(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        self.by_name
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&name.trim_end_matches('.').to_ascii_lowercase())
            .cloned()
    }
}
