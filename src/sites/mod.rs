//! Sites (virtual hosts): several applications behind one server, chosen by the
//! request's `Host` / `:authority`, each with its own document root, index file, error
//! pages, TLS certificate (by SNI), rate limit, compression, static cache TTL, internal
//! locations, extra `$_SERVER` variables and php.ini values applied per request.
//!
//! Without a configuration file there is one site, made of the environment settings,
//! for every host (the server as it always was). With `--config FILE` (`CONFIG_FILE`)
//! the sites come from the file's `[[site]]` tables; the environment (and the file's
//! `[server]` table, which overrides it) gives every setting a site leaves out.
//!
//! - `file`: the TOML format and its errors with line numbers;
//! - `load`: environment + file → [`Config`] and [`SitesSpec`];
//! - `hosts`: host name matching;
//! - `live`: the loaded sites shared by the cores, and SIGHUP reloads;
//! - `core_sites`: what each core builds from them (routers, caches, middleware).

pub mod core_sites;
pub mod file;
pub mod hosts;
pub mod live;
pub mod load;

use std::path::PathBuf;
use std::time::Duration;

use uring_http::tls::CertFiles;

use crate::config::Config;

/// A php.ini setting a site applies to each of its requests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteIni {
    pub name: String,
    pub value: String,
    /// `php_admin_value` (scripts cannot change it) rather than `php_value`.
    pub admin: bool,
}

/// One site, every setting resolved (the file's, else the environment's).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SiteSpec {
    /// For logs: `name`, else the first host, else "default".
    pub name: String,
    /// Normalized host patterns (`example.com`, `*.example.com`); empty: every host.
    pub hosts: Vec<String>,
    pub document_root: PathBuf,
    pub index_file: Option<String>,
    pub error_pages_dir: Option<PathBuf>,
    pub tls: Option<CertFiles>,
    /// Names to obtain the certificate for by ACME (then `tls` is where it is kept);
    /// empty: no automatic HTTPS.
    pub acme: Vec<String>,
    pub rate_limit: u32,
    pub rate_window: Duration,
    pub compression: bool,
    pub static_cache_ttl: Option<Duration>,
    /// Whether the response cache (RESPONSE_CACHE_SIZE, server-wide) serves this site.
    pub response_cache: bool,
    pub server_name: Option<String>,
    pub internal_locations: Vec<(String, PathBuf)>,
    pub sendfile_roots: Vec<PathBuf>,
    /// Extra `$_SERVER` entries, after the server's own (they win on a clash), like
    /// nginx's `fastcgi_param`.
    pub server_vars: Vec<(String, String)>,
    pub ini: Vec<SiteIni>,
    /// Where the site is defined (line of its `[[site]]`), for messages; 0 for the
    /// environment's site.
    pub line: usize,
}

impl SiteSpec {
    /// The site the environment describes: every host.
    pub fn from_env(cfg: &Config) -> SiteSpec {
        SiteSpec {
            name: "default".into(),
            hosts: Vec::new(),
            document_root: cfg.document_root.clone(),
            index_file: cfg.index_file.clone(),
            error_pages_dir: cfg.error_pages_dir.clone(),
            tls: match &cfg.acme_domains {
                Some(d) => Some(crate::acme::store::cert_files(&cfg.acme_dir, &d.0)),
                None => cfg.tls_files().map(|f| CertFiles {
                    cert: f.cert,
                    key: f.key,
                }),
            },
            acme: cfg
                .acme_domains
                .as_ref()
                .map_or_else(Vec::new, |d| d.0.clone()),
            rate_limit: cfg.rate_limit,
            rate_window: cfg.rate_window,
            compression: cfg.compression,
            static_cache_ttl: cfg.static_cache_ttl(),
            response_cache: true,
            server_name: cfg.server_name.clone(),
            internal_locations: cfg.internal_locations().to_vec(),
            sendfile_roots: cfg.sendfile_roots().to_vec(),
            server_vars: Vec::new(),
            ini: Vec::new(),
            line: 0,
        }
    }
}

/// What a request for a host no site names gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownHost {
    /// The default site (the one marked `default = true`, else the first).
    DefaultSite,
    /// 421 Misdirected Request.
    Misdirected,
    /// 404 Not Found.
    NotFound,
}

/// Every site, in the file's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SitesSpec {
    pub sites: Vec<SiteSpec>,
    /// Index of the default site.
    pub default: usize,
    pub unknown_host: UnknownHost,
}

impl SitesSpec {
    /// Every site with automatic HTTPS has a certificate to start with: its stored one,
    /// else a placeholder until the first order succeeds.
    pub fn ensure_acme_certificates(&self) -> Result<(), String> {
        for s in self.sites.iter().filter(|s| !s.acme.is_empty()) {
            if let Some(files) = &s.tls {
                crate::acme::store::ensure(files, &s.acme)
                    .map_err(|e| format!("site {:?}: {e}", s.name))?;
            }
        }
        Ok(())
    }

    pub fn from_env(cfg: &Config) -> SitesSpec {
        SitesSpec {
            sites: vec![SiteSpec::from_env(cfg)],
            default: 0,
            unknown_host: UnknownHost::DefaultSite,
        }
    }

    /// The certificates the TLS listener offers: each site's for its host names, and
    /// as the default (no SNI, or a name no site has) TLS_CERT, else the default site's,
    /// else the first site's. None when no certificate is configured at all.
    pub fn tls_spec(&self, cfg: &Config) -> Option<uring_http::tls::TlsSpec> {
        let min_version = match cfg.tls_min_version {
            crate::config::TlsMinVersion::Tls12 => uring_http::tls::TlsVersion::Tls12,
            crate::config::TlsMinVersion::Tls13 => uring_http::tls::TlsVersion::Tls13,
        };
        let from_env = cfg
            .tls_files()
            .filter(|_| cfg.acme_domains.is_none())
            .map(|f| CertFiles {
                cert: f.cert,
                key: f.key,
            });
        let default = from_env
            .or_else(|| self.sites[self.default].tls.clone())
            .or_else(|| self.sites.iter().find_map(|s| s.tls.clone()))?;
        let by_name = self
            .sites
            .iter()
            .filter_map(|s| s.tls.as_ref().map(|t| (s, t)))
            .flat_map(|(s, t)| s.hosts.iter().map(move |h| (h.clone(), t.clone())))
            .collect();
        Some(uring_http::tls::TlsSpec {
            default: Some(default),
            by_name,
            min_version,
        })
    }
}
