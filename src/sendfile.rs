//! X-Accel-Redirect and X-Sendfile: a PHP response that names a file in one of these
//! headers is answered with that file, served on the core like a static file (ranges,
//! ETag/Last-Modified with 304s, precompressed `.zst`/`.br`/`.gz` variants), with the
//! script's other headers (Content-Disposition, Set-Cookie, Cache-Control, ...) kept.
//! The PHP worker is already free: it answered with headers only.
//!
//! - `X-Accel-Redirect: /protected/a.pdf` (nginx's): a URI, percent-decoded, resolved
//!   under the directory of the longest matching internal location
//!   (`INTERNAL_LOCATIONS="/protected/=/srv/files/"`). Requests for an internal location
//!   from outside get 404, as nginx's `internal` locations do.
//! - `X-Sendfile: /srv/files/a.pdf` (Apache mod_xsendfile's, lighttpd's): an absolute
//!   path, taken as it is, served only beneath one of `SENDFILE_ROOTS`.
//!
//! Files are opened with `openat2(RESOLVE_BENEATH)` under the location's or root's
//! directory, so no `..`, absolute symlink or symlink chain reaches outside it. A value
//! that names no configured place, holds a `..` segment, or leads outside is refused
//! with a 500 and an error log line (it is a bug or an attack, never a file); a missing
//! file is a 404.

use std::fs::{File, Metadata};
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use rustix::fs::{Mode, OFlags, ResolveFlags};
use rustix::io::Errno;
use uring_http::{Body, Headers, Method, Request, Response};

use crate::compression::{mark_encoded, negotiate, Encoding, PREFERENCE};
use crate::static_files::{FileRequest, StaticFiles, FILE_REQUEST_HEADERS};
use uring_http::path::percent_decode;

/// An internal location: URI prefix (starting and ending with `/`) and its directory.
pub struct Location {
    prefix: String,
    dir: OwnedFd,
    path: PathBuf,
}

/// A directory X-Sendfile may serve from: as configured and as the kernel resolves it.
pub struct Root {
    configured: PathBuf,
    canonical: PathBuf,
    dir: OwnedFd,
}

/// The configured places, shared by every core.
#[derive(Default)]
pub struct Sendfile {
    /// Longest prefix first.
    locations: Vec<Location>,
    roots: Vec<Root>,
}

/// Which header asked for a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    AccelRedirect,
    Sendfile,
}

impl Kind {
    fn header(self) -> &'static str {
        match self {
            Kind::AccelRedirect => "X-Accel-Redirect",
            Kind::Sendfile => "X-Sendfile",
        }
    }
}

/// A file found for a response.
struct Found<'a> {
    file: File,
    meta: Metadata,
    /// Absolute path: the static file cache's key and the source of the type.
    path: PathBuf,
    /// Where the file was opened beneath, and its path there (for variants).
    dir: &'a OwnedFd,
    rel: PathBuf,
}

enum Resolved<'a> {
    Found(Box<Found<'a>>),
    NotFound,
    Refused(&'static str),
}

/// The request's method and the headers serving a file needs, kept while PHP runs.
pub struct KeptRequest {
    method: Method,
    headers: Headers,
}

impl KeptRequest {
    pub fn of(req: &Request) -> KeptRequest {
        let mut headers = Headers::new();
        for name in FILE_REQUEST_HEADERS {
            if let Some(v) = req.headers.get(name) {
                headers.push(name, v.clone());
            }
        }
        KeptRequest {
            method: req.method.clone(),
            headers,
        }
    }

    fn file_request(&self) -> FileRequest<'_> {
        FileRequest {
            method: &self.method,
            headers: &self.headers,
        }
    }
}

/// The script's headers that describe the body it did not send, or that this module
/// consumes: the file's own take their place.
fn replaced_by_the_file(name: &str) -> bool {
    const NAMES: [&str; 10] = [
        "X-Sendfile",
        "X-Accel-Redirect",
        "Content-Length",
        "Content-Range",
        "Content-Encoding",
        "Transfer-Encoding",
        "ETag",
        "Last-Modified",
        "Accept-Ranges",
        "Content-Type",
    ];
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
        || name.len() > 8 && name[..8].eq_ignore_ascii_case("X-Accel-")
}

fn open_dir(path: &Path) -> std::io::Result<OwnedFd> {
    Ok(rustix::fs::open(
        path,
        OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )?)
}

fn open_beneath(dir: &OwnedFd, rel: &Path) -> Result<(File, Metadata), Errno> {
    let fd = rustix::fs::openat2(
        dir,
        rel,
        OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK,
        Mode::empty(),
        ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS,
    )?;
    let file = File::from(fd);
    let meta = file.metadata().map_err(|_| Errno::IO)?;
    Ok((file, meta))
}

/// `a/b/c` from the segments after a prefix: None when a segment is `..` (refused even
/// where it would stay inside: no legitimate value needs one).
fn relative(rest: &[u8]) -> Option<PathBuf> {
    let mut rel = PathBuf::new();
    for seg in rest.split(|&b| b == b'/') {
        match seg {
            b"" | b"." => {}
            b".." => return None,
            s => rel.push(std::ffi::OsStr::from_bytes(s)),
        }
    }
    Some(rel)
}

/// Without a trailing slash (except for `/` itself).
fn trimmed(p: &Path) -> PathBuf {
    let s = p.as_os_str().as_bytes();
    let end = s.iter().rposition(|&b| b != b'/').map_or(1, |i| i + 1);
    PathBuf::from(std::ffi::OsStr::from_bytes(&s[..end]))
}

impl Sendfile {
    /// `locations`: (URI prefix, directory); `roots`: directories for X-Sendfile. Each
    /// directory is opened now; a missing one is an error naming it.
    pub fn new(locations: &[(String, PathBuf)], roots: &[PathBuf]) -> Result<Sendfile, String> {
        let mut out = Sendfile::default();
        for (prefix, dir) in locations {
            let fd =
                open_dir(dir).map_err(|e| format!("INTERNAL_LOCATIONS: {}: {e}", dir.display()))?;
            out.locations.push(Location {
                prefix: prefix.clone(),
                dir: fd,
                path: dir.canonicalize().unwrap_or_else(|_| dir.clone()),
            });
        }
        out.locations
            .sort_by_key(|l| std::cmp::Reverse(l.prefix.len()));
        for root in roots {
            let fd =
                open_dir(root).map_err(|e| format!("SENDFILE_ROOTS: {}: {e}", root.display()))?;
            out.roots.push(Root {
                configured: trimmed(root),
                canonical: root.canonicalize().unwrap_or_else(|_| trimmed(root)),
                dir: fd,
            });
        }
        Ok(out)
    }

    /// Whether a request path (still encoded) is under an internal location: such
    /// paths are only reachable through X-Accel-Redirect.
    pub fn is_internal(&self, raw_path: &str) -> bool {
        if self.locations.is_empty() {
            return false;
        }
        let decoded = percent_decode(raw_path.as_bytes()).unwrap_or_default();
        // `/protected` names the location as much as `/protected/` does.
        self.locations.iter().any(|l| {
            decoded.starts_with(l.prefix.as_bytes())
                || decoded == l.prefix.as_bytes()[..l.prefix.len() - 1]
        })
    }

    /// The file a response asks for, if any (X-Accel-Redirect wins over X-Sendfile).
    pub fn wanted(headers: &Headers) -> Option<(Kind, Bytes)> {
        if let Some(v) = headers.get("X-Accel-Redirect") {
            return Some((Kind::AccelRedirect, v.clone()));
        }
        headers
            .get("X-Sendfile")
            .map(|v| (Kind::Sendfile, v.clone()))
    }

    fn resolve(&self, kind: Kind, value: &[u8]) -> Resolved<'_> {
        match kind {
            Kind::AccelRedirect => self.resolve_uri(value),
            Kind::Sendfile => self.resolve_path(value),
        }
    }

    fn resolve_uri(&self, value: &[u8]) -> Resolved<'_> {
        let path = value.split(|&b| b == b'?').next().unwrap_or_default();
        let Some(path) = percent_decode(path) else {
            return Resolved::Refused("not a valid URI");
        };
        if !path.starts_with(b"/") || path.contains(&0) {
            return Resolved::Refused("not a valid URI");
        }
        let Some(loc) = self
            .locations
            .iter()
            .find(|l| path.starts_with(l.prefix.as_bytes()))
        else {
            return Resolved::Refused("not under an internal location (INTERNAL_LOCATIONS)");
        };
        let Some(rel) = relative(&path[loc.prefix.len()..]) else {
            return Resolved::Refused("a `..` segment");
        };
        open_found(&loc.dir, &loc.path, rel)
    }

    fn resolve_path(&self, value: &[u8]) -> Resolved<'_> {
        let value = value.trim_ascii();
        if !value.starts_with(b"/") || value.contains(&0) {
            return Resolved::Refused("not an absolute path");
        }
        let under = |root: &Path| -> Option<usize> {
            let r = root.as_os_str().as_bytes();
            if r == b"/" {
                return Some(1);
            }
            (value.starts_with(r) && matches!(value.get(r.len()), None | Some(b'/')))
                .then_some(r.len())
        };
        let found = self.roots.iter().find_map(|root| {
            under(&root.configured)
                .or_else(|| under(&root.canonical))
                .map(|n| (root, n))
        });
        let Some((root, n)) = found else {
            return Resolved::Refused("not beneath a SENDFILE_ROOTS directory");
        };
        let Some(rel) = relative(&value[n..]) else {
            return Resolved::Refused("a `..` segment");
        };
        open_found(&root.dir, &root.canonical, rel)
    }

    /// Answers a PHP response that asked for a file (`kind`, `value`), keeping the
    /// script's other headers. Returns the response and whether it is the file (false:
    /// a 404 or 500 the server made).
    pub async fn respond(
        &self,
        statics: &StaticFiles,
        req: &KeptRequest,
        kind: Kind,
        value: &[u8],
        script_headers: Headers,
    ) -> (Response, bool) {
        let found = match self.resolve(kind, value) {
            Resolved::Found(f) => f,
            Resolved::NotFound => return (Response::text(404, "Not Found\n"), false),
            Resolved::Refused(why) => {
                tracing::error!(
                    header = kind.header(),
                    value = %String::from_utf8_lossy(value),
                    reason = why,
                    "refusing a file a PHP response asked for; answering 500"
                );
                return (Response::text(500, "Internal Server Error\n"), false);
            }
        };
        // A POST answered with a file (a download after a form) gets the file; the
        // conditionals and ranges apply to GET only, as for static files.
        let fr = req.file_request();
        let Found {
            file,
            meta,
            path,
            dir,
            rel,
        } = *found;
        let mut resp = statics.serve(fr, Some(file), meta, &path).await;
        if resp.status == 200 {
            precompressed(dir, &rel, req, &mut resp);
        }
        merge_script_headers(&mut resp, script_headers);
        (resp, true)
    }
}

fn open_found<'a>(dir: &'a OwnedFd, dir_path: &Path, rel: PathBuf) -> Resolved<'a> {
    if rel.as_os_str().is_empty() {
        return Resolved::NotFound;
    }
    match open_beneath(dir, &rel) {
        Ok((file, meta)) if meta.is_file() => Resolved::Found(Box::new(Found {
            file,
            meta,
            path: dir_path.join(&rel),
            dir,
            rel,
        })),
        Ok(_) => Resolved::NotFound,
        Err(Errno::NOENT) | Err(Errno::NOTDIR) => Resolved::NotFound,
        // EXDEV: the path (a symlink) leads outside; ELOOP: a magic link or a loop.
        Err(Errno::XDEV) | Err(Errno::LOOP) => Resolved::Refused("leads outside its directory"),
        Err(_) => Resolved::Refused("cannot be opened"),
    }
}

/// Serves `F.zst`, `F.br` or `F.gz` from beside the file, the first the client accepts
/// in its order of preference. `Vary: Accept-Encoding` whenever a variant exists, so a
/// cache never hands one client's coding to another.
fn precompressed(dir: &OwnedFd, rel: &Path, req: &KeptRequest, resp: &mut Response) {
    let variant = |enc: Encoding| -> Option<(File, Metadata)> {
        let mut name = rel.as_os_str().to_owned();
        name.push(enc.file_suffix());
        open_beneath(dir, Path::new(&name))
            .ok()
            .filter(|(_, meta)| meta.is_file())
    };
    let accepted = req
        .headers
        .get("Accept-Encoding")
        .map(|v| negotiate(v))
        .unwrap_or_default();
    for enc in accepted.iter() {
        let Some((file, meta)) = variant(enc) else {
            continue;
        };
        let Ok(file) = monoio::fs::File::from_std(file) else {
            continue;
        };
        resp.body = Body::File {
            file: std::rc::Rc::new(file),
            offset: 0,
            len: std::os::unix::fs::MetadataExt::size(&meta),
            guard: None,
        };
        mark_encoded(&mut resp.headers, enc);
        resp.headers
            .push("Vary", Bytes::from_static(b"Accept-Encoding"));
        return;
    }
    let mut untried = PREFERENCE
        .into_iter()
        .filter(|e| !accepted.iter().any(|a| a == *e));
    if untried.any(|e| variant(e).is_some()) {
        resp.headers
            .push("Vary", Bytes::from_static(b"Accept-Encoding"));
    }
}

/// The script's headers after the file's own. Its Content-Type wins over the one the
/// file's extension gives, unless it is `text/html` — PHP's default, which a script
/// that names a file almost never means.
fn merge_script_headers(resp: &mut Response, script: Headers) {
    let status = resp.status;
    for (name, value) in script.iter() {
        if name.eq_ignore_ascii_case("Content-Type") {
            if matches!(status, 200 | 206) && !is_html(value) {
                resp.headers.set("Content-Type", value.clone());
            }
            continue;
        }
        if replaced_by_the_file(name) {
            continue;
        }
        resp.headers.push(name, value.clone());
    }
}

fn is_html(content_type: &[u8]) -> bool {
    let essence = content_type
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(b"text/html")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(relative(b"a/./b//c"), Some(PathBuf::from("a/b/c")));
        assert_eq!(relative(b"a/../b"), None);
        assert_eq!(relative(b".."), None);
        assert_eq!(relative(b""), Some(PathBuf::new()));
    }

    #[test]
    fn headers_the_file_replaces() {
        for n in ["x-sendfile", "X-Accel-Buffering", "etag", "Content-Length"] {
            assert!(replaced_by_the_file(n), "{n}");
        }
        for n in [
            "Content-Disposition",
            "Set-Cookie",
            "Cache-Control",
            "X-Acc",
        ] {
            assert!(!replaced_by_the_file(n), "{n}");
        }
    }

    #[test]
    fn html_is_the_default_type() {
        assert!(is_html(b"text/html; charset=UTF-8"));
        assert!(is_html(b"TEXT/HTML"));
        assert!(!is_html(b"application/pdf"));
    }

    #[test]
    fn resolution_stays_beneath() {
        let d = tempfile::tempdir().unwrap();
        let files = d.path().join("files");
        std::fs::create_dir_all(files.join("sub")).unwrap();
        std::fs::write(files.join("sub/a.txt"), "a").unwrap();
        std::fs::write(d.path().join("secret.txt"), "s").unwrap();
        std::os::unix::fs::symlink(d.path().join("secret.txt"), files.join("out.txt")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", files.join("in.txt")).unwrap();
        let s = Sendfile::new(
            &[("/protected/".to_string(), files.clone())],
            std::slice::from_ref(&files),
        )
        .unwrap();
        let ok = |r: Resolved| matches!(r, Resolved::Found(_));
        let refused = |r: Resolved| matches!(r, Resolved::Refused(_));
        assert!(ok(s.resolve_uri(b"/protected/sub/a.txt?x=1")));
        assert!(ok(s.resolve_uri(b"/protected/sub/%61.txt")));
        assert!(ok(s.resolve_uri(b"/protected/in.txt")));
        assert!(matches!(
            s.resolve_uri(b"/protected/nope"),
            Resolved::NotFound
        ));
        assert!(refused(s.resolve_uri(b"/protected/../secret.txt")));
        assert!(refused(s.resolve_uri(b"/protected/%2e%2e/secret.txt")));
        assert!(refused(s.resolve_uri(b"/protected/out.txt")));
        assert!(refused(s.resolve_uri(b"/elsewhere/a.txt")));
        assert!(refused(s.resolve_uri(b"/protected/a%00b")));
        let p = |rel: &str| format!("{}/{rel}", files.display());
        assert!(ok(s.resolve_path(p("sub/a.txt").as_bytes())));
        assert!(refused(s.resolve_path(p("../secret.txt").as_bytes())));
        assert!(refused(s.resolve_path(p("out.txt").as_bytes())));
        assert!(refused(s.resolve_path(b"/etc/passwd")));
        assert!(refused(s.resolve_path(b"sub/a.txt")));
        let sibling = format!("{}-other/x", files.display());
        assert!(refused(s.resolve_path(sibling.as_bytes())));
        assert!(s.is_internal("/protected/sub/a.txt"));
        assert!(s.is_internal("/%70rotected/x"));
        assert!(s.is_internal("/protected"));
        assert!(!s.is_internal("/protectedx"));
        assert!(!s.is_internal("/public/a"));
    }
}
