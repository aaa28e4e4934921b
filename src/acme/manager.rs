//! The ACME thread: at start, every 12 hours, and at each SIGHUP it looks at every site
//! that asks for automatic HTTPS and obtains a certificate for those that have only the
//! placeholder or whose certificate expires within `ACME_RENEW_BEFORE`. A new
//! certificate is stored, then put in use for new handshakes (the TLS listener reloads
//! its files); open connections keep theirs. When an order fails the site keeps the
//! certificate it has, the error is logged, and it is tried again 10 minutes later.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use instant_acme::{Account, AccountCredentials, NewAccount};
use uring_http::tls::{AlpnChallenges, CertFiles, TlsAcceptor};

use super::issue::{issue, Answers};
use super::store;
use super::HttpChallenges;
use crate::config::{AcmeChallenge, Config};
use crate::sites::live::LiveSites;

const CHECK_EVERY: Duration = Duration::from_secs(12 * 3600);
const RETRY_AFTER: Duration = Duration::from_secs(600);

struct Settings {
    directory: String,
    email: Option<String>,
    dir: std::path::PathBuf,
    ca_root: Option<std::path::PathBuf>,
    challenge: AcmeChallenge,
    renew_before: Duration,
}

/// Wakes the ACME thread for a check now (SIGHUP).
#[derive(Clone)]
pub struct AcmeHandle(mpsc::Sender<()>);

impl AcmeHandle {
    pub fn wake(&self) {
        let _ = self.0.send(());
    }
}

/// Whether a site's certificate must be (re)issued now.
fn due(files: &CertFiles, renew_before: Duration) -> bool {
    if store::is_placeholder(files) {
        return true;
    }
    let Ok(not_after) = TlsAcceptor::not_after(&files.cert) else {
        return true;
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    not_after - now < renew_before.as_secs() as i64
}

/// Starts the thread. `tls`: the listener whose files it renews (and, for tls-alpn-01,
/// answers validations); `http`: where HTTP-01 answers go.
pub fn start(
    cfg: &Config,
    live: Arc<LiveSites>,
    tls: Arc<TlsAcceptor>,
    http: Arc<HttpChallenges>,
) -> Result<AcmeHandle, String> {
    let alpn = match cfg.acme_challenge {
        AcmeChallenge::TlsAlpn01 => {
            let alpn = Arc::new(AlpnChallenges::default());
            tls.enable_alpn_challenges(Arc::clone(&alpn))
                .map_err(|e| format!("ACME: {e}"))?;
            Some(alpn)
        }
        AcmeChallenge::Http01 => None,
    };
    let settings = Settings {
        directory: cfg.acme_directory.clone(),
        email: cfg.acme_email.clone(),
        dir: cfg.acme_dir.clone(),
        ca_root: cfg.acme_ca_root.clone(),
        challenge: cfg.acme_challenge,
        renew_before: cfg.acme_renew_before,
    };
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .name("acme".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!(error = %e, "ACME: cannot start its runtime; no automatic certificates");
                    return;
                }
            };
            let answers = Answers { http, alpn };
            let mut account = None;
            loop {
                let ok = rt.block_on(check(&settings, &mut account, &live, &tls, &answers));
                let wait = if ok { CHECK_EVERY } else { RETRY_AFTER };
                match rx.recv_timeout(wait) {
                    Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => return,
                }
            }
        })
        .map_err(|e| format!("starting the ACME thread: {e}"))?;
    Ok(AcmeHandle(tx))
}

/// One pass over the sites; false when something failed (retried sooner).
async fn check(
    s: &Settings,
    account: &mut Option<Account>,
    live: &LiveSites,
    tls: &TlsAcceptor,
    answers: &Answers,
) -> bool {
    let (_, state) = live.current();
    let mut ok = true;
    for site in &state.sites {
        let domains = &site.spec.acme;
        let Some(files) = site.spec.tls.as_ref().filter(|_| !domains.is_empty()) else {
            continue;
        };
        if !due(files, s.renew_before) {
            continue;
        }
        if account.is_none() {
            match open_account(s).await {
                Ok(a) => *account = Some(a),
                Err(e) => {
                    tracing::error!(directory = %s.directory, "ACME: no account: {e}; keeping the current certificates");
                    return false;
                }
            }
        }
        let Some(acct) = account.as_ref() else {
            return false;
        };
        tracing::info!(site = %site.spec.name, domains = ?domains, "ACME: requesting a certificate");
        match issue(acct, domains, s.challenge, answers).await {
            Ok((chain, key)) => {
                if let Err(e) = store::store_issued(files, &chain, &key) {
                    tracing::error!(site = %site.spec.name, "ACME: certificate obtained but not stored: {e}");
                    ok = false;
                    continue;
                }
                match tls.reload() {
                    Ok(()) => tracing::info!(
                        site = %site.spec.name,
                        domains = ?domains,
                        not_after = TlsAcceptor::not_after(&files.cert).unwrap_or(0),
                        "ACME: certificate obtained and in use"
                    ),
                    Err(e) => {
                        tracing::error!(site = %site.spec.name, "ACME: new certificate stored but not loaded: {e}");
                        ok = false;
                    }
                }
            }
            Err(e) => {
                tracing::error!(
                    site = %site.spec.name,
                    domains = ?domains,
                    "ACME: certificate not obtained, keeping the current one: {e}"
                );
                ok = false;
            }
        }
    }
    ok
}

/// The account for this directory: restored from disk, else registered and stored.
async fn open_account(s: &Settings) -> Result<Account, String> {
    let builder = || match &s.ca_root {
        Some(root) => Account::builder_with_root(root).map_err(|e| e.to_string()),
        None => Account::builder().map_err(|e| e.to_string()),
    };
    let path = s
        .dir
        .join(format!("account-{:016x}.json", fnv(s.directory.as_bytes())));
    if let Ok(text) = std::fs::read_to_string(&path) {
        let creds: AccountCredentials =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        return builder()?
            .from_credentials(creds)
            .await
            .map_err(|e| e.to_string());
    }
    let contact: Vec<String> = s.email.iter().map(|e| format!("mailto:{e}")).collect();
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let (account, creds) = builder()?
        .create(
            &NewAccount {
                contact: &contact,
                terms_of_service_agreed: true,
                only_return_existing: false,
            },
            s.directory.clone(),
            None,
        )
        .await
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_vec(&creds).map_err(|e| e.to_string())?;
    store::write_atomic(&path, &json, true).map_err(|e| format!("{}: {e}", path.display()))?;
    tracing::info!(directory = %s.directory, account = account.id(), "ACME: account registered");
    Ok(account)
}

/// A stable name for a directory URL (FNV-1a; the standard hasher may change).
fn fnv(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ *b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}
