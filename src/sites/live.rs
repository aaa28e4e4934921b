//! The sites in force, shared by the cores, and their replacement on SIGHUP.
//!
//! A reload reads the configuration file again (with the environment and command line
//! of the start), builds the new sites completely — directories opened, error pages and
//! certificates loaded — and only then publishes them: a file with an error changes
//! nothing. Each core notices the new generation at its next request and builds its
//! routers and middleware for it; requests already running finish with the sites they
//! started with, and no connection is closed. Server-wide settings (addresses, workers,
//! timeouts, ...) cannot change without a restart: a reload that changes them says so
//! in the log and keeps the running values.

use std::collections::BTreeMap;
use std::ffi::{CString, OsString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use uring_http::tls::TlsAcceptor;

use super::hosts::HostTable;
use super::load::load;
use super::{SiteSpec, SitesSpec, UnknownHost};
use crate::config::Config;
use crate::middleware::SiteMiddleware;
use crate::php::{SiteExtras, SiteIniValue};
use crate::php_handler::PhpSite;
use crate::sendfile::Sendfile;

/// One site, ready for the cores: what they share of it.
pub struct SharedSite {
    pub spec: SiteSpec,
    pub sendfile: Arc<Sendfile>,
    pub middleware: SiteMiddleware,
    pub php: PhpSite,
}

/// Every site of one generation.
pub struct SitesState {
    pub sites: Vec<SharedSite>,
    pub hosts: HostTable,
    pub default: usize,
    pub unknown_host: UnknownHost,
}

impl SitesState {
    /// Opens and loads what `spec` names. `previous`: the sites before a reload, whose
    /// rate limiters (and their counts) carry over where the settings did not change.
    pub fn build(
        spec: &SitesSpec,
        cfg: &Config,
        previous: Option<&SitesState>,
    ) -> Result<SitesState, String> {
        let mut sites = Vec::with_capacity(spec.sites.len());
        for s in &spec.sites {
            let named = |e: String| format!("site {:?}: {e}", s.name);
            let before = previous
                .and_then(|p| p.sites.iter().find(|o| o.spec.name == s.name))
                .map(|o| &o.middleware);
            let middleware = SiteMiddleware::start(s, cfg, before).map_err(named)?;
            let sendfile =
                Arc::new(Sendfile::new(&s.internal_locations, &s.sendfile_roots).map_err(named)?);
            let root = s
                .document_root
                .canonicalize()
                .map_err(|e| named(format!("document root {}: {e}", s.document_root.display())))?;
            let ini = s
                .ini
                .iter()
                .map(|i| {
                    Ok(SiteIniValue {
                        name: CString::new(i.name.as_str()).map_err(|e| e.to_string())?,
                        value: CString::new(i.value.as_str()).map_err(|e| e.to_string())?,
                        admin: i.admin,
                    })
                })
                .collect::<Result<Vec<_>, String>>()
                .map_err(named)?;
            sites.push(SharedSite {
                spec: s.clone(),
                sendfile,
                middleware,
                php: PhpSite {
                    document_root: Arc::from(root.to_string_lossy().as_ref()),
                    server_name: s.server_name.as_deref().map(Arc::from),
                    extras: Arc::new(SiteExtras {
                        server_vars: s.server_vars.clone(),
                        ini,
                    }),
                },
            });
        }
        let hosts = HostTable::new(spec.sites.iter().map(|s| s.hosts.as_slice())).map_err(
            |(h, a, b)| {
                format!(
                    "host {h:?} is in sites {:?} and {:?}",
                    spec.sites[a].name, spec.sites[b].name
                )
            },
        )?;
        Ok(SitesState {
            sites,
            hosts,
            default: spec.default,
            unknown_host: spec.unknown_host,
        })
    }

    /// The site for a request's authority: `Ok(index)`, or the status that answers a
    /// host no site names (421 or 404) when so configured.
    pub fn route(&self, authority: Option<&str>) -> Result<usize, u16> {
        if self.sites.len() == 1 && self.sites[0].spec.hosts.is_empty() {
            return Ok(0);
        }
        match authority.and_then(|a| self.hosts.find(a)) {
            Some(i) => Ok(i),
            None => match self.unknown_host {
                UnknownHost::DefaultSite => Ok(self.default),
                UnknownHost::Misdirected => Err(421),
                UnknownHost::NotFound => Err(404),
            },
        }
    }
}

/// What a reload needs to redo the start's work.
struct Reload {
    args: Vec<OsString>,
    /// The settings in force (server-wide ones never change after the start).
    cfg: Config,
    tls: Option<Arc<TlsAcceptor>>,
}

/// The sites in force and their generation (bumped by each successful reload).
pub struct LiveSites {
    state: RwLock<Arc<SitesState>>,
    generation: AtomicU64,
    reload: Mutex<Option<Reload>>,
}

impl LiveSites {
    pub fn new(state: SitesState) -> LiveSites {
        LiveSites {
            state: RwLock::new(Arc::new(state)),
            generation: AtomicU64::new(1),
            reload: Mutex::new(None),
        }
    }

    /// Makes [`reload`](Self::reload) possible: the start's arguments and settings, and
    /// the TLS acceptor whose certificates follow the sites.
    pub fn enable_reload(&self, args: Vec<OsString>, cfg: Config, tls: Option<Arc<TlsAcceptor>>) {
        *self.reload.lock().unwrap_or_else(|e| e.into_inner()) = Some(Reload { args, cfg, tls });
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The sites in force and their generation.
    pub fn current(&self) -> (u64, Arc<SitesState>) {
        let state = self.state.read().unwrap_or_else(|e| e.into_inner());
        (self.generation(), Arc::clone(&state))
    }

    /// SIGHUP with a configuration file: reads it again and, if it is good, serves the
    /// new sites from the next request on. Errors leave everything as it was.
    pub fn reload(&self) -> Result<String, String> {
        let guard = self.reload.lock().unwrap_or_else(|e| e.into_inner());
        let Some(r) = guard.as_ref() else {
            return Err("no configuration file to reload".into());
        };
        let loaded = load(r.args.clone()).map_err(|e| e.to_string())?;
        loaded
            .sites
            .ensure_acme_certificates()
            .map_err(|e| format!("ACME: {e}"))?;
        let restart = restart_only_changes(&r.cfg, &loaded.cfg);
        let (_, before) = self.current();
        // Server-wide parts of site middleware (compression levels, the rate limiter's
        // size) stay as they started.
        let state = SitesState::build(&loaded.sites, &r.cfg, Some(&before))?;
        let tls_note = match (&r.tls, loaded.sites.tls_spec(&loaded.cfg)) {
            (Some(acceptor), Some(spec)) => {
                acceptor.replace(spec).map_err(|e| format!("TLS: {e}"))?;
                None
            }
            (Some(_), None) => Some("no certificate left: the TLS listener keeps the old ones until a restart"),
            (None, Some(_)) => Some("certificates are configured now, but the TLS listener only starts with the server: restart to serve HTTPS"),
            (None, None) => None,
        };
        *self.state.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(state);
        self.generation.fetch_add(1, Ordering::AcqRel);
        if let Some(note) = tls_note {
            tracing::warn!("{note}");
        }
        for (name, (old, new)) in &restart {
            tracing::warn!(
                setting = name.as_str(),
                running = old.as_str(),
                configured = new.as_str(),
                "cannot change without a restart; keeping the running value"
            );
        }
        Ok(format!(
            "{} site{}: {}",
            loaded.sites.sites.len(),
            if loaded.sites.sites.len() == 1 {
                ""
            } else {
                "s"
            },
            loaded
                .sites
                .sites
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }
}

/// Settings a reload cannot apply, by their variable name: (running, configured).
/// Site settings (and their defaults from `[server]` or the environment) are not among
/// them: they reload.
fn restart_only_changes(old: &Config, new: &Config) -> BTreeMap<String, (String, String)> {
    const RELOADABLE: &[&str] = &[
        "CONFIG_FILE",
        "DOCUMENT_ROOT",
        "INDEX_FILE",
        "ERROR_PAGES_DIR",
        "RATE_LIMIT",
        "RATE_WINDOW",
        "COMPRESSION",
        "STATIC_CACHE_TTL",
        "SERVER_NAME",
        "INTERNAL_LOCATIONS",
        "SENDFILE_ROOTS",
        "TLS_CERT",
        "TLS_KEY",
    ];
    let a = settings(old);
    let b = settings(new);
    let mut out = BTreeMap::new();
    for (name, new_value) in &b {
        if RELOADABLE.contains(&name.as_str()) {
            continue;
        }
        let old_value = a.get(name).cloned().unwrap_or_default();
        if &old_value != new_value {
            out.insert(name.clone(), (old_value, new_value.clone()));
        }
    }
    out
}

/// Every setting's raw value as parsed from the effective arguments, by variable name
/// (or flag for those without one).
fn settings(cfg: &Config) -> BTreeMap<String, String> {
    use clap::CommandFactory;
    let cmd = Config::command();
    let Ok(m) = cmd.clone().try_get_matches_from(&cfg.effective_args) else {
        return BTreeMap::new();
    };
    cmd.get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version" | "check_config"))
        .map(|a| {
            let name = a
                .get_env()
                .map(|e| e.to_string_lossy().into_owned())
                .or_else(|| a.get_long().map(|l| format!("--{l}")))
                .unwrap_or_else(|| a.get_id().to_string());
            let value = m
                .get_raw(a.get_id().as_str())
                .map(|v| {
                    v.map(|s| s.to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .unwrap_or_default();
            (name, value)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn server_wide_changes_are_named() {
        let parse = |args: &[&str]| {
            let mut c = Config::try_parse_from(args).unwrap();
            c.effective_args = args.iter().map(OsString::from).collect();
            c
        };
        let a = parse(&[
            "x",
            "--php-workers=1",
            "--rate-limit=5",
            "--document-root=/",
        ]);
        let b = parse(&[
            "x",
            "--php-workers=2",
            "--rate-limit=9",
            "--document-root=/tmp",
        ]);
        let changes = restart_only_changes(&a, &b);
        assert_eq!(
            changes.keys().collect::<Vec<_>>(),
            ["PHP_WORKERS"],
            "{changes:?}"
        );
        assert_eq!(changes["PHP_WORKERS"], ("1".into(), "2".into()));
    }
}
