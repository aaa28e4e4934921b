//! Automatic HTTPS: certificates obtained and renewed from an ACME server (RFC 8555;
//! Let's Encrypt by default) for the sites that ask (`acme = true`, or `ACME_DOMAINS` for
//! the single site), with the HTTP-01 or TLS-ALPN-01 challenge, kept on disk and put in
//! use without a restart. The protocol is instant-acme's; it runs on a thread of its own
//! with a small tokio runtime, away from the cores.
//!
//! - `store`: the account and certificates on disk, placeholders until the first issue;
//! - `issue`: one order, from challenges to the certificate chain;
//! - `manager`: the thread — what needs a certificate, when to renew, failures.

pub mod issue;
pub mod manager;
pub mod store;

use std::collections::HashMap;
use std::sync::Mutex;

/// HTTP-01 answers in force: token → key authorization, served under
/// `/.well-known/acme-challenge/<token>` by every core while an order is validated.
#[derive(Default)]
pub struct HttpChallenges {
    tokens: Mutex<HashMap<String, String>>,
}

/// Where HTTP-01 answers live.
pub const HTTP_CHALLENGE_PREFIX: &str = "/.well-known/acme-challenge/";

impl HttpChallenges {
    pub fn insert(&self, token: &str, key_authorization: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(token.to_string(), key_authorization.to_string());
    }

    pub fn remove(&self, token: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(token);
    }

    /// The answer for a request path, if it asks for a token in force.
    pub fn answer(&self, path: &str) -> Option<String> {
        let token = path.strip_prefix(HTTP_CHALLENGE_PREFIX)?;
        let tokens = self.tokens.lock().unwrap_or_else(|e| e.into_inner());
        if tokens.is_empty() {
            return None;
        }
        tokens.get(token).cloned()
    }
}
