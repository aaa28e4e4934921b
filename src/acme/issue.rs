//! One ACME order: the names authorized by the chosen challenge (the answers put where
//! the cores serve them, and taken away after), the order finalized with a fresh key,
//! the chain downloaded.

use std::sync::Arc;

use instant_acme::{
    Account, AuthorizationStatus, ChallengeType, Identifier, NewOrder, OrderStatus, RetryPolicy,
};
use uring_http::tls::AlpnChallenges;

use super::HttpChallenges;
use crate::config::AcmeChallenge;

/// Where the answers to challenges go while an order is validated.
pub struct Answers {
    pub http: Arc<HttpChallenges>,
    pub alpn: Option<Arc<AlpnChallenges>>,
}

/// An answer put in place, taken away when dropped (whatever way the order ends).
enum Placed<'a> {
    Http(&'a HttpChallenges, String),
    Alpn(&'a AlpnChallenges, String),
}

impl Drop for Placed<'_> {
    fn drop(&mut self) {
        match self {
            Placed::Http(c, token) => c.remove(token),
            Placed::Alpn(c, name) => c.remove(name),
        }
    }
}

/// RFC 8737's validation certificate: self-signed for `name`, carrying the SHA-256 of
/// the key authorization in the critical acmeIdentifier extension.
fn alpn_certificate(name: &str, digest: &[u8]) -> Result<(String, String), String> {
    let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
    let mut params =
        rcgen::CertificateParams::new(vec![name.to_string()]).map_err(|e| e.to_string())?;
    params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
    let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
    Ok((cert.pem(), key.serialize_pem()))
}

fn acme(what: &'static str) -> impl Fn(instant_acme::Error) -> String {
    move |e| format!("{what}: {e}")
}

/// Obtains a certificate for `domains`: (chain PEM, key PEM).
pub async fn issue(
    account: &Account,
    domains: &[String],
    challenge: AcmeChallenge,
    answers: &Answers,
) -> Result<(String, String), String> {
    let identifiers: Vec<Identifier> = domains.iter().map(|d| Identifier::Dns(d.clone())).collect();
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(acme("new order"))?;
    let mut placed = Vec::new();
    let kind = match challenge {
        AcmeChallenge::Http01 => ChallengeType::Http01,
        AcmeChallenge::TlsAlpn01 => ChallengeType::TlsAlpn01,
    };
    let mut authorizations = order.authorizations();
    while let Some(result) = authorizations.next().await {
        let mut authz = result.map_err(acme("authorization"))?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            AuthorizationStatus::Valid => continue,
            other => return Err(format!("authorization is {other:?}")),
        }
        let mut ch = authz
            .challenge(kind.clone())
            .ok_or_else(|| format!("the ACME server offers no {challenge:?} challenge"))?;
        let name = ch.identifier().to_string();
        let key_auth = ch.key_authorization();
        match challenge {
            AcmeChallenge::Http01 => {
                answers.http.insert(&ch.token, key_auth.as_str());
                placed.push(Placed::Http(&answers.http, ch.token.clone()));
            }
            AcmeChallenge::TlsAlpn01 => {
                let alpn = answers
                    .alpn
                    .as_deref()
                    .ok_or("tls-alpn-01 needs the TLS listener")?;
                let (cert, key) = alpn_certificate(&name, key_auth.digest().as_ref())?;
                alpn.insert(&name, &cert, &key)?;
                placed.push(Placed::Alpn(alpn, name.clone()));
            }
        }
        ch.set_ready().await.map_err(acme("challenge"))?;
    }
    let status = order
        .poll_ready(&RetryPolicy::default())
        .await
        .map_err(acme("validation"))?;
    if status != OrderStatus::Ready {
        let detail = order
            .state()
            .error
            .as_ref()
            .map(|p| format!(": {p}"))
            .unwrap_or_default();
        return Err(format!(
            "the names were not validated (order {status:?}){detail}"
        ));
    }
    drop(placed);
    let key_pem = order.finalize().await.map_err(acme("finalize"))?;
    let chain = order
        .poll_certificate(&RetryPolicy::default())
        .await
        .map_err(acme("certificate"))?;
    Ok((chain, key_pem))
}
