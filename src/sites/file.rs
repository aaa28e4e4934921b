//! The configuration file (`--config FILE`): TOML, parsed into typed settings with the
//! line of each, so every error names `FILE:LINE`. See docs/sites.md for the format.
//!
//! ```toml
//! unknown_host = "default"          # or "421", "404"
//!
//! [server]                          # server-wide settings: the flags' names
//! php_workers = 16                  # (over the environment; flags win over both)
//!
//! [[site]]
//! hosts = ["example.com", "*.example.com"]
//! document_root = "/srv/example/public"
//! index_file = "index.php"
//! [site.php_admin_value]
//! memory_limit = "256M"
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use super::hosts::normalize_pattern;
use super::{SiteIni, SiteSpec, SitesSpec, UnknownHost};
use crate::config::Config;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDoc {
    #[serde(default)]
    pub unknown_host: Option<Spanned<String>>,
    /// Server-wide settings by flag name (`php_workers`, `listen_addr`, ...).
    #[serde(default)]
    pub server: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub site: Vec<Spanned<SiteDoc>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteDoc {
    pub name: Option<Spanned<String>>,
    pub hosts: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    pub default: bool,
    pub document_root: Option<Spanned<PathBuf>>,
    pub index_file: Option<Spanned<String>>,
    pub error_pages_dir: Option<Spanned<PathBuf>>,
    pub tls_cert: Option<Spanned<PathBuf>>,
    pub tls_key: Option<Spanned<PathBuf>>,
    /// Automatic HTTPS for the site's (non-wildcard) host names.
    pub acme: Option<Spanned<bool>>,
    pub rate_limit: Option<Spanned<u32>>,
    pub rate_window: Option<Spanned<toml::Value>>,
    pub compression: Option<Spanned<bool>>,
    pub static_cache_ttl: Option<Spanned<toml::Value>>,
    /// `false`: the response cache never serves this site.
    pub response_cache: Option<Spanned<bool>>,
    pub server_name: Option<Spanned<String>>,
    pub internal_locations: Option<Spanned<BTreeMap<String, PathBuf>>>,
    pub sendfile_roots: Option<Spanned<Vec<PathBuf>>>,
    #[serde(default)]
    pub server_vars: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub php_admin_value: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
    #[serde(default)]
    pub php_value: BTreeMap<Spanned<String>, Spanned<toml::Value>>,
}

/// A file and its text, for turning byte offsets into `FILE:LINE: ` prefixes.
pub struct Source<'a> {
    pub path: &'a Path,
    pub text: &'a str,
}

impl Source<'_> {
    pub fn line(&self, offset: usize) -> usize {
        self.text[..offset.min(self.text.len())]
            .bytes()
            .filter(|&b| b == b'\n')
            .count()
            + 1
    }

    pub fn at(&self, offset: usize, message: impl std::fmt::Display) -> String {
        format!("{}:{}: {message}", self.path.display(), self.line(offset))
    }

    pub fn parse(&self) -> Result<FileDoc, String> {
        toml::from_str::<FileDoc>(self.text).map_err(|e| {
            let msg = e.message().trim().replace('\n', " ");
            match e.span() {
                Some(span) => self.at(span.start, msg),
                None => format!("{}: {msg}", self.path.display()),
            }
        })
    }
}

/// A scalar as the matching flag or php.ini value would be written.
pub fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(if *b { "1" } else { "0" }.into()),
        _ => None,
    }
}

/// `[server]` as command-line flags (`php_workers = 16` → `--php-workers=16`), each with
/// the offset of its key. Arrays repeat the flag (`php_define = ["a=1", "b=2"]`).
pub fn server_flags(
    src: &Source,
    doc: &FileDoc,
    known: &dyn Fn(&str) -> bool,
) -> Result<Vec<(String, usize)>, String> {
    let mut out = Vec::new();
    for (key, value) in &doc.server {
        let name = key.get_ref().as_str();
        if matches!(name, "config" | "check_config") || !known(name) {
            return Err(src.at(
                key.span().start,
                format!("server.{name}: not a setting (the names are the flags', e.g. php_workers; see docs/configuration.md)"),
            ));
        }
        let flag = format!("--{}", name.replace('_', "-"));
        let values = match value.get_ref() {
            toml::Value::Array(items) => items.iter().map(scalar).collect::<Option<Vec<_>>>(),
            v => scalar(v).map(|s| vec![s]),
        };
        let Some(values) = values else {
            return Err(src.at(
                value.span().start,
                format!("server.{name}: expected a string, number or true/false"),
            ));
        };
        for v in values {
            out.push((format!("{flag}={v}"), key.span().start));
        }
    }
    Ok(out)
}

/// The sites of `doc`, every setting a site leaves out taken from `cfg`; checked
/// (directories exist, certificates load, no host in two sites), errors with lines.
pub fn sites(src: &Source, doc: &FileDoc, cfg: &Config) -> Result<SitesSpec, String> {
    let unknown_host = match doc.unknown_host.as_ref() {
        None => UnknownHost::DefaultSite,
        Some(v) => match v.get_ref().as_str() {
            "default" => UnknownHost::DefaultSite,
            "421" => UnknownHost::Misdirected,
            "404" => UnknownHost::NotFound,
            other => {
                return Err(src.at(
                    v.span().start,
                    format!("unknown_host = {other:?}: expected \"default\", \"421\" or \"404\""),
                ))
            }
        },
    };
    if doc.site.is_empty() {
        return Err(format!(
            "{}: no [[site]]: a configuration file describes at least one site",
            src.path.display()
        ));
    }
    let mut sites = Vec::new();
    let mut default = None;
    for s in &doc.site {
        let at = s.span().start;
        let spec = site(src, s.get_ref(), at, cfg)?;
        if s.get_ref().default {
            if let Some(first) = default {
                let first: &SiteSpec = &sites[first];
                return Err(src.at(
                    at,
                    format!(
                        "site {:?}: default = true, but site {:?} (line {}) is the default already",
                        spec.name, first.name, first.line
                    ),
                ));
            }
            default = Some(sites.len());
        }
        sites.push(spec);
    }
    if let Err((host, a, b)) =
        super::hosts::HostTable::new(sites.iter().map(|s| s.hosts.as_slice()))
    {
        return Err(src.at(
            doc.site[b].span().start,
            format!(
                "site {:?}: host {host:?} belongs to site {:?} (line {}) already",
                sites[b].name, sites[a].name, sites[a].line
            ),
        ));
    }
    let spec = SitesSpec {
        sites,
        default: default.unwrap_or(0),
        unknown_host,
    };
    if cfg.tls_listen_addr.is_some() && spec.tls_spec(cfg).is_none() {
        return Err(format!(
            "{}: TLS_LISTEN_ADDR is set, but neither TLS_CERT nor any site has a certificate",
            src.path.display()
        ));
    }
    Ok(spec)
}

fn site(src: &Source, d: &SiteDoc, at: usize, cfg: &Config) -> Result<SiteSpec, String> {
    let base = SiteSpec::from_env(cfg);
    let mut hosts = Vec::new();
    for h in d.hosts.get_ref() {
        match normalize_pattern(h.get_ref()) {
            Some(p) => hosts.push(p),
            None => {
                return Err(src.at(
                    h.span().start,
                    format!("{:?}: not a host name or *.domain pattern", h.get_ref()),
                ))
            }
        }
    }
    if hosts.is_empty() {
        return Err(src.at(d.hosts.span().start, "hosts: name at least one host"));
    }
    let name = d
        .name
        .as_ref()
        .map(|n| n.get_ref().clone())
        .unwrap_or_else(|| hosts[0].clone());
    let err = |offset: usize, msg: String| src.at(offset, format!("site {name:?}: {msg}"));

    let dir = |v: &Option<Spanned<PathBuf>>, what: &str| -> Result<Option<PathBuf>, String> {
        match v {
            None => Ok(None),
            Some(p) if p.get_ref().is_dir() => Ok(Some(p.get_ref().clone())),
            Some(p) => Err(err(
                p.span().start,
                format!("{what} = {}: not a directory", p.get_ref().display()),
            )),
        }
    };
    let document_root = match dir(&d.document_root, "document_root")? {
        Some(p) => p,
        None if base.document_root.is_dir() => base.document_root.clone(),
        None => {
            return Err(err(
                at,
                format!(
                    "no document_root, and DOCUMENT_ROOT={} is not a directory",
                    base.document_root.display()
                ),
            ))
        }
    };
    let index_file = match &d.index_file {
        None => base.index_file.clone(),
        Some(f) => Some(
            crate::config::parse_index_file(f.get_ref())
                .map_err(|e| err(f.span().start, format!("index_file: {e}")))?,
        ),
    };
    let error_pages_dir = dir(&d.error_pages_dir, "error_pages_dir")?.or(base.error_pages_dir);
    let acme_on = d.acme.as_ref().is_some_and(|a| *a.get_ref());
    let acme: Vec<String> = if acme_on {
        let names: Vec<String> = hosts
            .iter()
            .filter(|h| !h.starts_with('*'))
            .cloned()
            .collect();
        let at = d.acme.as_ref().map_or(at, |a| a.span().start);
        if names.is_empty() {
            return Err(err(
                at,
                "acme = true: no host name without a wildcard (*.domain needs DNS-01, which is not supported)".into(),
            ));
        }
        if d.tls_cert.is_some() {
            return Err(err(at, "acme = true and tls_cert: choose one".into()));
        }
        names
    } else {
        Vec::new()
    };
    let tls = match (&d.tls_cert, &d.tls_key) {
        _ if acme_on => Some(crate::acme::store::cert_files(&cfg.acme_dir, &acme)),
        (None, Some(k)) => {
            return Err(err(k.span().start, "tls_key without tls_cert".into()));
        }
        (None, None) => None,
        (Some(c), k) => {
            let files = uring_http::tls::TlsFiles {
                cert: c.get_ref().clone(),
                key: k
                    .as_ref()
                    .map_or_else(|| c.get_ref().clone(), |k| k.get_ref().clone()),
                min_version: uring_http::tls::TlsVersion::Tls12,
            };
            uring_http::tls::TlsAcceptor::check(&files)
                .map_err(|e| err(c.span().start, format!("TLS: {e}")))?;
            Some(uring_http::tls::CertFiles {
                cert: files.cert,
                key: files.key,
            })
        }
    };
    let text = |v: &Spanned<toml::Value>, key: &str| -> Result<String, String> {
        scalar(v.get_ref()).ok_or_else(|| {
            err(
                v.span().start,
                format!("{key}: expected a string or number"),
            )
        })
    };
    let rate_window = match &d.rate_window {
        None => base.rate_window,
        Some(v) => crate::config::parse_window(&text(v, "rate_window")?)
            .map_err(|e| err(v.span().start, format!("rate_window: {e}")))?,
    };
    let static_cache_ttl = match &d.static_cache_ttl {
        None => base.static_cache_ttl,
        Some(v) => {
            let ttl = crate::config::parse_cache_ttl(&text(v, "static_cache_ttl")?)
                .map_err(|e| err(v.span().start, format!("static_cache_ttl: {e}")))?;
            (!ttl.is_zero()).then_some(ttl)
        }
    };
    let internal_locations = match &d.internal_locations {
        None => base.internal_locations,
        Some(m) => {
            let mut out = Vec::new();
            for (prefix, path) in m.get_ref() {
                let mut prefix = prefix.clone();
                if !prefix.starts_with('/') || prefix.contains("..") || !path.is_absolute() {
                    return Err(err(
                        m.span().start,
                        format!("internal_locations: {prefix:?} = {}: expected \"/prefix/\" = \"/absolute/dir\"", path.display()),
                    ));
                }
                if !path.is_dir() {
                    return Err(err(
                        m.span().start,
                        format!("internal_locations: {}: not a directory", path.display()),
                    ));
                }
                if !prefix.ends_with('/') {
                    prefix.push('/');
                }
                out.push((prefix, path.clone()));
            }
            out
        }
    };
    let sendfile_roots = match &d.sendfile_roots {
        None => base.sendfile_roots,
        Some(v) => {
            for p in v.get_ref() {
                if !p.is_absolute() || !p.is_dir() {
                    return Err(err(
                        v.span().start,
                        format!("sendfile_roots: {}: not an absolute directory", p.display()),
                    ));
                }
            }
            v.get_ref().clone()
        }
    };
    let mut server_vars = Vec::new();
    for (k, v) in &d.server_vars {
        let key = k.get_ref();
        if key.is_empty() || key.contains(['=', '\0']) {
            return Err(err(
                k.span().start,
                format!("server_vars: {key:?} is not a variable name"),
            ));
        }
        let value = text(v, key)?;
        if value.contains('\0') {
            return Err(err(
                v.span().start,
                format!("server_vars.{key}: holds a NUL byte"),
            ));
        }
        server_vars.push((key.clone(), value));
    }
    let mut ini = Vec::new();
    for (table, admin) in [(&d.php_value, false), (&d.php_admin_value, true)] {
        for (k, v) in table {
            let name = k.get_ref();
            let value = text(v, name)?;
            if name.is_empty() || name.contains(['=', '\n', '\0']) || value.contains(['\n', '\0']) {
                return Err(err(
                    k.span().start,
                    format!("{name:?}: not a php.ini setting"),
                ));
            }
            ini.push(SiteIni {
                name: name.clone(),
                value,
                admin,
            });
        }
    }
    Ok(SiteSpec {
        name,
        hosts,
        document_root,
        index_file,
        error_pages_dir,
        tls,
        acme,
        rate_limit: d
            .rate_limit
            .as_ref()
            .map_or(base.rate_limit, |r| *r.get_ref()),
        rate_window,
        compression: d
            .compression
            .as_ref()
            .map_or(base.compression, |c| *c.get_ref()),
        static_cache_ttl,
        response_cache: d.response_cache.as_ref().is_none_or(|c| *c.get_ref()),
        server_name: d
            .server_name
            .as_ref()
            .map(|s| s.get_ref().clone())
            .or(base.server_name),
        internal_locations,
        sendfile_roots,
        server_vars,
        ini,
        line: src.line(at),
    })
}
