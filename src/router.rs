//! Maps a request path to what serves it, as nginx with the usual PHP config would:
//! `fastcgi_split_path_info ^(.+?\.php)(/.*)$` + `try_files $fastcgi_script_name =404`
//! for scripts, `index index.php index.html` for directories, and (front-controller
//! mode) `try_files $uri $uri/ /index.php$is_args$args`.
//!
//! Files are opened beneath the document root with `openat2(RESOLVE_BENEATH)`, so no
//! `..`, absolute or symlinked path can reach outside it, whatever the encoding.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs::File;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::{Mode, OFlags, ResolveFlags};
use uring_http::path::{normalize, percent_decode};

#[derive(Debug)]
pub enum Route {
    Static {
        file: File,
        meta: std::fs::Metadata,
        rel: PathBuf,
    },
    /// A static file this core resolved before, found unchanged in place by one stat
    /// (see `Router::route`); not opened. Serve it from memory or `route_uncached`.
    StaticKnown {
        meta: std::fs::Metadata,
        rel: PathBuf,
    },
    Php(PhpTarget),
    /// A directory asked for without its trailing slash: 301 to this location.
    Redirect(String),
    NotFound,
    Forbidden,
    BadRequest,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhpTarget {
    /// Absolute path of the script.
    pub script_filename: String,
    /// URL path of the script (decoded).
    pub script_name: String,
    /// Decoded path after the script; empty when none.
    pub path_info: String,
}

/// How long a path's PHP route is reused before the filesystem is asked again (like
/// nginx's open_file_cache_valid): a hello-world request then costs no syscall here.
const PHP_ROUTE_TTL: Duration = Duration::from_secs(1);
const PHP_ROUTE_CACHE_MAX: usize = 4096;

pub struct Router {
    root: OwnedFd,
    root_path: PathBuf,
    root_str: String,
    index_file: Option<String>,
    /// Per core (the router is not shared between threads).
    php_routes: RefCell<HashMap<String, (PhpTarget, Instant)>>,
    /// Static paths resolved before: (relative path, device, inode).
    static_routes: RefCell<HashMap<String, (PathBuf, u64, u64)>>,
}

impl Router {
    pub fn new(document_root: &Path, index_file: Option<String>) -> std::io::Result<Router> {
        let root_path = document_root.canonicalize()?;
        let root = rustix::fs::open(
            &root_path,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )?;
        let root_str = root_path
            .to_string_lossy()
            .trim_end_matches('/')
            .to_string();
        Ok(Router {
            root,
            root_path,
            root_str,
            index_file,
            php_routes: RefCell::new(HashMap::new()),
            static_routes: RefCell::new(HashMap::new()),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root_path
    }

    /// `raw_path`: the request's path, still percent-encoded; `query`: for redirects.
    ///
    /// A static path this core resolved before costs one stat instead of an
    /// openat2 + stat + close: it is only taken when the file found by path is the very
    /// file (device and inode) that openat2(RESOLVE_BENEATH) resolved, so a component
    /// swapped for a symlink leading elsewhere simply misses and is resolved again.
    pub fn route(&self, raw_path: &str, query: Option<&str>) -> Route {
        if let Some((target, at)) = self.php_routes.borrow().get(raw_path) {
            if at.elapsed() < PHP_ROUTE_TTL {
                return Route::Php(target.clone());
            }
        }
        if let Some((rel, dev, ino)) = self.static_routes.borrow().get(raw_path) {
            if let Ok(meta) = std::fs::metadata(self.root_path.join(rel)) {
                if meta.is_file() && meta.dev() == *dev && meta.ino() == *ino {
                    return Route::StaticKnown {
                        meta,
                        rel: rel.clone(),
                    };
                }
            }
        }
        self.route_uncached(raw_path, query)
    }

    /// Resolves `raw_path` on the filesystem, refreshing this core's route caches.
    pub fn route_uncached(&self, raw_path: &str, query: Option<&str>) -> Route {
        let route = self.resolve(raw_path, query);
        match &route {
            Route::Php(target) => {
                let mut cache = self.php_routes.borrow_mut();
                if cache.len() >= PHP_ROUTE_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(raw_path.to_string(), (target.clone(), Instant::now()));
            }
            Route::Static { meta, rel, .. } => {
                let mut cache = self.static_routes.borrow_mut();
                if cache.len() >= PHP_ROUTE_CACHE_MAX {
                    cache.clear();
                }
                cache.insert(raw_path.to_string(), (rel.clone(), meta.dev(), meta.ino()));
            }
            _ => {}
        }
        route
    }

    fn resolve(&self, raw_path: &str, query: Option<&str>) -> Route {
        let Some(decoded) = percent_decode(raw_path.as_bytes()) else {
            return Route::BadRequest;
        };
        if decoded.contains(&0) {
            return Route::NotFound;
        }
        let trailing_slash = decoded.ends_with(b"/");
        let Some(segments) = normalize(&decoded) else {
            return Route::Forbidden;
        };
        if segments
            .iter()
            .enumerate()
            .any(|(i, s)| s.starts_with(b".") && !(i == 0 && s == b".well-known"))
        {
            return Route::Forbidden;
        }

        // A path through a `.php` segment always goes to PHP (never served as source).
        if let Some(i) = segments
            .iter()
            .position(|s| s.len() > 4 && s.ends_with(b".php"))
        {
            let script = &segments[..=i];
            let rest = &segments[i + 1..];
            let mut path_info = join(rest);
            if trailing_slash {
                path_info.push('/');
            }
            return match self.open(script) {
                Some((_, meta)) if meta.is_file() => Route::Php(self.php_target(script, path_info)),
                _ => Route::NotFound,
            };
        }

        match self.open(&segments) {
            // `/file.txt/` names a directory that does not exist (nginx: 404, as the
            // kernel's ENOTDIR): serving the file would let rules written for the exact
            // path be bypassed with a slash.
            Some((file, meta)) if meta.is_file() && !trailing_slash => Route::Static {
                file,
                meta,
                rel: rel_path(&segments),
            },
            Some((_, meta)) if meta.is_dir() => {
                let index = self.directory_index(&segments);
                // Front-controller mode is `try_files $uri $uri/ /index.php$is_args$args`:
                // a directory with an index of its own (WordPress's /wp-admin/) is served
                // by it, any other by the front controller.
                if let (Route::Forbidden, Some(front)) = (&index, &self.index_file) {
                    return self.front_controller(front);
                }
                if !trailing_slash && !segments.is_empty() {
                    let mut loc = raw_path.to_string();
                    loc.push('/');
                    if let Some(q) = query {
                        loc.push('?');
                        loc.push_str(q);
                    }
                    return Route::Redirect(loc);
                }
                index
            }
            _ => match &self.index_file {
                Some(index) => self.front_controller(index),
                None => Route::NotFound,
            },
        }
    }

    fn directory_index(&self, dir: &[Vec<u8>]) -> Route {
        for index in ["index.php", "index.html"] {
            let mut segs = dir.to_vec();
            segs.push(index.as_bytes().to_vec());
            if let Some((file, meta)) = self.open(&segs) {
                if meta.is_file() {
                    return if index.ends_with(".php") {
                        Route::Php(self.php_target(&segs, String::new()))
                    } else {
                        Route::Static {
                            file,
                            meta,
                            rel: rel_path(&segs),
                        }
                    };
                }
            }
        }
        Route::Forbidden
    }

    fn front_controller(&self, index: &str) -> Route {
        let segs: Vec<Vec<u8>> = index
            .split('/')
            .filter(|s| !s.is_empty())
            .map(|s| s.as_bytes().to_vec())
            .collect();
        match self.open(&segs) {
            Some((_, meta)) if meta.is_file() => Route::Php(self.php_target(&segs, String::new())),
            _ => Route::NotFound,
        }
    }

    fn php_target(&self, script: &[Vec<u8>], path_info: String) -> PhpTarget {
        let name = join(script);
        PhpTarget {
            script_filename: format!("{}{}", self.root_str, name),
            script_name: name,
            path_info,
        }
    }

    /// Opens `rel` (a path relative to the document root, such as a static route's `rel`
    /// plus a suffix) beneath the root as routes are opened; regular files only.
    pub fn open_file(&self, rel: &Path) -> Option<(File, std::fs::Metadata)> {
        let fd = rustix::fs::openat2(
            &self.root,
            rel,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        let file = File::from(fd);
        let meta = file.metadata().ok()?;
        meta.is_file().then_some((file, meta))
    }

    /// Opens `segments` beneath the root; None when it does not exist or would escape.
    fn open(&self, segments: &[Vec<u8>]) -> Option<(File, std::fs::Metadata)> {
        let rel = if segments.is_empty() {
            PathBuf::from(".")
        } else {
            rel_path(segments)
        };
        let fd = rustix::fs::openat2(
            &self.root,
            &rel,
            OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
            Mode::empty(),
            ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
        )
        .ok()?;
        let file = File::from(fd);
        let meta = file.metadata().ok()?;
        if !meta.is_file() && !meta.is_dir() {
            return None;
        }
        Some((file, meta))
    }
}

fn rel_path(segments: &[Vec<u8>]) -> PathBuf {
    let mut p = PathBuf::new();
    for s in segments {
        p.push(OsStr::from_bytes(s));
    }
    p
}

fn join(segments: &[Vec<u8>]) -> String {
    let mut s = String::new();
    for seg in segments {
        s.push('/');
        s.push_str(&String::from_utf8_lossy(seg));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site() -> (tempfile::TempDir, Router) {
        let d = tempfile::tempdir().unwrap();
        let p = d.path();
        std::fs::write(p.join("index.php"), "<?php").unwrap();
        std::fs::write(p.join("a.txt"), "a").unwrap();
        std::fs::write(p.join(".env"), "secret").unwrap();
        std::fs::create_dir_all(p.join("sub/deeper")).unwrap();
        std::fs::write(p.join("sub/page.php"), "<?php").unwrap();
        std::fs::write(p.join("sub/deeper/index.html"), "x").unwrap();
        std::fs::create_dir_all(p.join(".well-known")).unwrap();
        std::fs::write(p.join(".well-known/x.txt"), "ok").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", p.join("escape.txt")).unwrap();
        let r = Router::new(p, None).unwrap();
        (d, r)
    }

    fn php(r: Route) -> PhpTarget {
        match r {
            Route::Php(t) => t,
            other => panic!("expected PHP, got {other:?}"),
        }
    }

    #[test]
    fn scripts_and_path_info() {
        let (_d, r) = site();
        let t = php(r.route("/sub/page.php/extra/path", None));
        assert_eq!(t.script_name, "/sub/page.php");
        assert_eq!(t.path_info, "/extra/path");
        assert!(t.script_filename.ends_with("/sub/page.php"));
        assert_eq!(php(r.route("/sub/page.php", None)).path_info, "");
        assert_eq!(php(r.route("/sub/page.php/", None)).path_info, "/");
        assert_eq!(
            php(r.route("/%73ub/page.php", None)).script_name,
            "/sub/page.php"
        );
        assert!(matches!(r.route("/missing.php", None), Route::NotFound));
        assert!(matches!(r.route("/missing.php/x", None), Route::NotFound));
    }

    #[test]
    fn directories() {
        let (_d, r) = site();
        assert_eq!(php(r.route("/", None)).script_name, "/index.php");
        assert!(matches!(
            r.route("/sub/deeper/", None),
            Route::Static { .. }
        ));
        match r.route("/sub/deeper", Some("a=1")) {
            Route::Redirect(l) => assert_eq!(l, "/sub/deeper/?a=1"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(r.route("/sub/", None), Route::Forbidden));
    }

    #[test]
    fn nothing_outside_the_root_or_hidden() {
        let (_d, r) = site();
        assert!(matches!(r.route("/../etc/passwd", None), Route::Forbidden));
        assert!(matches!(
            r.route("/%2e%2e/%2e%2e/etc/passwd", None),
            Route::Forbidden
        ));
        assert!(matches!(
            r.route("/sub/..%2f..%2fetc/passwd", None),
            Route::Forbidden
        ));
        assert!(matches!(r.route("/a.txt%00.php", None), Route::NotFound));
        assert!(matches!(r.route("/escape.txt", None), Route::NotFound));
        assert!(matches!(r.route("/.env", None), Route::Forbidden));
        assert!(matches!(
            r.route("/sub/.git/config", None),
            Route::Forbidden
        ));
        assert!(matches!(
            r.route("/.well-known/x.txt", None),
            Route::Static { .. }
        ));
        assert!(matches!(r.route("/%zz", None), Route::BadRequest));
        // from_str_radix takes a sign: "+f" once decoded to 0x0f.
        assert!(matches!(r.route("/%+f", None), Route::BadRequest));
        assert!(matches!(r.route("/%4", None), Route::BadRequest));
        assert!(matches!(r.route("/a%2Etxt", None), Route::Static { .. }));
        assert!(matches!(r.route("/a.txt", None), Route::Static { .. }));
    }

    #[test]
    fn a_file_with_a_trailing_slash_is_not_found() {
        let (d, r) = site();
        assert!(matches!(r.route("/a.txt/", None), Route::NotFound));
        assert!(matches!(r.route("/a.txt%2f", None), Route::NotFound));
        assert!(matches!(
            r.route("/sub/deeper/index.html/", None),
            Route::NotFound
        ));
        assert!(matches!(r.route("/a.txt", None), Route::Static { .. }));
        // With a front controller, like nginx's `try_files $uri /index.php`.
        let r = Router::new(d.path(), Some("index.php".into())).unwrap();
        assert_eq!(php(r.route("/a.txt/", None)).script_name, "/index.php");
    }

    #[test]
    fn front_controller() {
        let (d, _) = site();
        let r = Router::new(d.path(), Some("index.php".into())).unwrap();
        let t = php(r.route("/some/route", None));
        assert_eq!(
            (t.script_name.as_str(), t.path_info.as_str()),
            ("/index.php", "")
        );
        assert!(matches!(r.route("/a.txt", None), Route::Static { .. }));
        assert_eq!(php(r.route("/sub/", None)).script_name, "/index.php");
        assert!(matches!(r.route("/nope.php", None), Route::NotFound));
        // A directory with an index of its own is served by it (`$uri/`), as WordPress's
        // /wp-admin/ needs; without the slash it is redirected first, as everywhere.
        assert!(matches!(
            r.route("/sub/deeper/", None),
            Route::Static { .. }
        ));
        match r.route("/sub/deeper", None) {
            Route::Redirect(l) => assert_eq!(l, "/sub/deeper/"),
            other => panic!("{other:?}"),
        }
        assert_eq!(php(r.route("/", None)).script_name, "/index.php");
    }
}
