//! WORKER_MATCH: which PHP requests the worker script serves (the rest run as classic
//! per-request scripts).
//!
//! Unset, the worker serves the requests the router gives to the front controller: to
//! WORKER_SCRIPT itself, or to INDEX_FILE (every path that is not a file) — what
//! FrankenPHP's `php_server` does with its worker. Set, it is a comma-separated list of
//! URL path patterns: a pattern with `*`, `?` or `[` is a glob over the whole path (`*`
//! also crosses `/`), any other is a path prefix; `*` alone sends every PHP request to
//! the worker.

use std::path::{Path, PathBuf};

use globset::{Glob, GlobSet, GlobSetBuilder};

#[derive(Clone, Debug)]
pub struct WorkerMatch {
    /// The patterns as given (for /config and errors).
    pub spec: String,
    prefixes: Vec<String>,
    globs: GlobSet,
}

impl PartialEq for WorkerMatch {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl WorkerMatch {
    pub fn parse(spec: &str) -> Result<WorkerMatch, String> {
        let mut prefixes = Vec::new();
        let mut globs = GlobSetBuilder::new();
        let mut any = false;
        for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            any = true;
            if p.contains(['*', '?', '[']) {
                let g = Glob::new(p).map_err(|e| format!("bad glob {p:?}: {}", e.kind()))?;
                globs.add(g);
            } else if p.starts_with('/') {
                prefixes.push(p.to_string());
            } else {
                return Err(format!(
                    "expected URL path prefixes or globs like /api/,/app/* (not {p:?})"
                ));
            }
        }
        if !any {
            return Err("expected URL path prefixes or globs like /api/,/app/*".into());
        }
        Ok(WorkerMatch {
            spec: spec.to_string(),
            prefixes,
            globs: globs.build().map_err(|e| e.to_string())?,
        })
    }

    pub fn matches(&self, path: &str) -> bool {
        self.prefixes.iter().any(|p| path.starts_with(p.as_str())) || self.globs.is_match(path)
    }
}

/// Decides, per PHP request, whether the worker serves it.
#[derive(Clone, Debug)]
pub struct WorkerRoute {
    patterns: Option<WorkerMatch>,
    /// The front controllers: WORKER_SCRIPT and DOCUMENT_ROOT/INDEX_FILE, absolute.
    front: Vec<PathBuf>,
}

impl WorkerRoute {
    pub fn new(patterns: Option<WorkerMatch>, front: Vec<PathBuf>) -> WorkerRoute {
        WorkerRoute { patterns, front }
    }

    /// `path`: the request's URL path; `script`: the script the router resolved.
    pub fn wants(&self, path: &str, script: &str) -> bool {
        match &self.patterns {
            Some(m) => m.matches(path),
            None => self.front.iter().any(|f| Path::new(script) == f),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_globs() {
        let m = WorkerMatch::parse("/api/, /app/*.json,/exact").unwrap();
        assert!(m.matches("/api/users/1"));
        assert!(!m.matches("/apix"));
        assert!(m.matches("/app/a/b.json"), "* crosses /");
        assert!(!m.matches("/app/a.html"));
        assert!(m.matches("/exact") && m.matches("/exactly"));
        assert!(WorkerMatch::parse("*").unwrap().matches("/anything/at/all"));
        assert!(WorkerMatch::parse("api").is_err());
        assert!(WorkerMatch::parse(" , ").is_err());
        assert!(WorkerMatch::parse("/a[").is_err());
    }

    #[test]
    fn by_default_the_front_controller() {
        let r = WorkerRoute::new(None, vec!["/srv/public/index.php".into()]);
        assert!(r.wants("/any/path", "/srv/public/index.php"));
        assert!(!r.wants("/legacy.php", "/srv/public/legacy.php"));
        let r = WorkerRoute::new(Some(WorkerMatch::parse("/legacy").unwrap()), vec![]);
        assert!(r.wants("/legacy.php", "/srv/public/legacy.php"));
        assert!(!r.wants("/", "/srv/public/index.php"));
    }
}
