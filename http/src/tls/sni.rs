//! Choosing the certificate by the name the client asks for (SNI): exact names, then
//! `*.example.com` patterns (longest first), then the default certificate — for clients
//! that send no name, or a name no site has.

use std::collections::HashMap;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

#[derive(Debug, Default)]
pub(crate) struct SniResolver {
    /// TLS-ALPN-01 validation certificates, when an ACME client uses them.
    pub(crate) challenges: Option<Arc<super::alpn_challenge::AlpnChallenges>>,
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// (".example.com", key) for `*.example.com`, longest suffix first.
    wildcard: Vec<(String, Arc<CertifiedKey>)>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    pub(crate) fn new(default: Option<Arc<CertifiedKey>>) -> Self {
        SniResolver {
            default,
            ..Default::default()
        }
    }

    /// `pattern`: `name.example.com` or `*.example.com` (any case). The first certificate
    /// added for a name keeps it.
    pub(crate) fn add(&mut self, pattern: &str, key: Arc<CertifiedKey>) {
        let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
        match pattern.strip_prefix('*') {
            Some(suffix) => {
                if !self.wildcard.iter().any(|(s, _)| s == suffix) {
                    self.wildcard.push((suffix.to_string(), key));
                    self.wildcard
                        .sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
                }
            }
            None => {
                self.exact.entry(pattern).or_insert(key);
            }
        }
    }

    fn find(&self, name: &str) -> Option<Arc<CertifiedKey>> {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if let Some(k) = self.exact.get(&name) {
            return Some(Arc::clone(k));
        }
        self.wildcard
            .iter()
            .find(|(suffix, _)| name.len() > suffix.len() && name.ends_with(suffix.as_str()))
            .map(|(_, k)| Arc::clone(k))
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        if let Some(challenges) = &self.challenges {
            let acme_only = hello
                .alpn()
                .is_some_and(|mut p| p.all(|p| p == super::alpn_challenge::ACME_TLS_ALPN));
            if acme_only {
                // A validation server: only the challenge certificate will do.
                return hello.server_name().and_then(|n| challenges.get(n));
            }
        }
        hello
            .server_name()
            .and_then(|n| self.find(n))
            .or_else(|| self.default.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(tag: &str) -> Arc<CertifiedKey> {
        // Only identity matters here: a chain of one fake certificate per tag.
        let kp = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![tag.to_string()])
            .unwrap()
            .self_signed(&kp)
            .unwrap();
        let der = rustls_pki_types::PrivateKeyDer::try_from(kp.serialize_der()).unwrap();
        let signing = rustls::crypto::ring::sign::any_supported_type(&der).unwrap();
        Arc::new(CertifiedKey::new(vec![cert.der().clone()], signing))
    }

    #[test]
    fn exact_then_longest_wildcard_then_default() {
        let (a, wild, deep, def) = (key("a"), key("w"), key("d"), key("def"));
        let mut r = SniResolver::new(Some(Arc::clone(&def)));
        r.add("A.example.com", Arc::clone(&a));
        r.add("*.example.com", Arc::clone(&wild));
        r.add("*.deep.example.com", Arc::clone(&deep));
        let is = |got: Option<Arc<CertifiedKey>>, want: &Arc<CertifiedKey>| {
            Arc::ptr_eq(&got.unwrap(), want)
        };
        assert!(is(r.find("a.example.com."), &a));
        assert!(is(r.find("b.example.com"), &wild));
        assert!(is(r.find("x.deep.example.com"), &deep));
        assert!(r.find("example.com").is_none());
        assert!(r.find("other.org").is_none());
    }
}
