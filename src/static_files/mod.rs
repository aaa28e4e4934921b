//! Static files, served on the core: Content-Type from the extension, ETag and
//! Last-Modified with 304s, single byte ranges, and a bounded per-core cache of small
//! hot files that is checked against the file's inode, size and mtime on every hit.
//! With compression on, a file's precompressed variant is served in its place when the
//! client takes one ([`variants`]). Everything about answering a static file is decided
//! here, once per request: the router only says which file it is.

mod variants;

pub use variants::Variants;

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use uring_http::{Body, Headers, Method, Request, Response};

use crate::compression::{add_vary, eligible, mark_encoded};
use crate::router::Router;

/// Files up to this size are kept in memory once read.
const CACHE_FILE_MAX: u64 = 256 * 1024;
/// Per core.
const CACHE_TOTAL_MAX: usize = 32 << 20;

struct Cached {
    ino: u64,
    size: u64,
    mtime_ns: i128,
    data: Bytes,
    /// Header values formatted once per version of the file.
    content_type: Bytes,
    last_modified: Bytes,
    etag: Bytes,
}

#[derive(Default)]
struct Cache {
    map: HashMap<PathBuf, Cached>,
    order: VecDeque<PathBuf>,
    bytes: usize,
}

/// What serving a file looks at in the request: its method and the conditional and
/// range headers (taken from the request itself, or kept from it while PHP ran, for
/// X-Sendfile).
#[derive(Clone, Copy)]
pub struct FileRequest<'a> {
    pub method: &'a Method,
    pub headers: &'a Headers,
}

impl<'a> FileRequest<'a> {
    pub fn of(req: &'a Request) -> Self {
        FileRequest {
            method: &req.method,
            headers: &req.headers,
        }
    }
}

/// The request headers [`FileRequest`] reads, for keeping them beyond the request.
pub const FILE_REQUEST_HEADERS: [&str; 5] = [
    "Range",
    "If-Range",
    "If-None-Match",
    "If-Modified-Since",
    "Accept-Encoding",
];

/// Cache-Control / Expires (STATIC_CACHE_TTL) are added by `middleware::static_cache`.
pub struct StaticFiles {
    cache: RefCell<Cache>,
    /// The site's document root, beneath which a file the router only knew is opened.
    router: Option<Rc<Router>>,
    /// Precompressed variants (compression on).
    variants: Option<Variants>,
}

fn mtime_ns(meta: &Metadata) -> i128 {
    meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128
}

/// nginx's ETag form: hex mtime and size.
fn etag(meta: &Metadata) -> String {
    format!("\"{:x}-{:x}\"", meta.mtime(), meta.size())
}

pub fn content_type(path: &Path) -> String {
    mime_guess::from_path(path)
        .first_or_octet_stream()
        .essence_str()
        .to_string()
}

/// A cache entry's shared parts (Bytes clones: no copies).
struct CachedView {
    data: Bytes,
    content_type: Bytes,
    last_modified: Bytes,
    etag: Bytes,
}

enum RangeSpec {
    Full,
    Part(u64, u64),
    Unsatisfiable,
}

/// One `bytes=` range; several ranges or other units serve the whole file (allowed by
/// RFC 9110 §14.2).
fn parse_range(value: &str, size: u64) -> RangeSpec {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeSpec::Full;
    };
    if spec.contains(',') {
        return RangeSpec::Full;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeSpec::Full;
    };
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let Ok(n) = b.parse::<u64>() else {
            return RangeSpec::Full;
        };
        if n == 0 || size == 0 {
            return RangeSpec::Unsatisfiable;
        }
        let n = n.min(size);
        return RangeSpec::Part(size - n, size - 1);
    }
    let Ok(start) = a.parse::<u64>() else {
        return RangeSpec::Full;
    };
    let end = if b.is_empty() {
        size.saturating_sub(1)
    } else {
        match b.parse::<u64>() {
            Ok(e) if e >= start => e.min(size.saturating_sub(1)),
            _ => return RangeSpec::Full,
        }
    };
    if start >= size {
        return RangeSpec::Unsatisfiable;
    }
    RangeSpec::Part(start, end)
}

impl Default for StaticFiles {
    /// For files opened elsewhere (X-Sendfile): no document root, no variants.
    fn default() -> Self {
        StaticFiles {
            cache: RefCell::new(Cache::default()),
            router: None,
            variants: None,
        }
    }
}

impl StaticFiles {
    /// A site's static files: beneath `router`'s document root, with precompressed
    /// variants when `precompressed` (the site's compression settings) is given.
    pub fn new(
        router: Rc<Router>,
        precompressed: Option<crate::compression::CompressionConfig>,
    ) -> Self {
        StaticFiles {
            cache: RefCell::new(Cache::default()),
            variants: precompressed.map(|cfg| Variants::new(cfg, Rc::clone(&router))),
            router: Some(router),
        }
    }

    /// `file`: None when the router only knew the file (by one stat); it is then served
    /// from memory or opened here, beneath the document root. `rel` names the file in the
    /// cache (and gives its type by extension): a path under the document root, or an
    /// absolute one for files from elsewhere (X-Sendfile, which passes them open).
    pub async fn serve(
        &self,
        req: FileRequest<'_>,
        file: Option<File>,
        meta: Metadata,
        rel: &Path,
    ) -> Response {
        // One look at the memory cache: a hit needs no open file.
        let hit = self.cached(rel, &meta);
        let (file, meta) = match file {
            Some(f) => (Some(f), meta),
            None if hit.is_some() => (None, meta),
            None => match self.router.as_ref().and_then(|r| r.open_file(rel)) {
                Some((f, m)) if m.is_file() => (Some(f), m),
                // Gone (or replaced by something else) since the router looked.
                _ => return Response::text(404, "Not Found\n"),
            },
        };
        let size = meta.size();
        let modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let (content_type, last_modified, tag) = match &hit {
            Some(c) => (
                c.content_type.clone(),
                c.last_modified.clone(),
                c.etag.clone(),
            ),
            None => (
                Bytes::from(content_type(rel)),
                Bytes::from(httpdate::fmt_http_date(modified)),
                Bytes::from(etag(&meta)),
            ),
        };
        let tag_str = std::str::from_utf8(&tag).unwrap_or("");
        let mut headers = Headers::with_capacity(8);
        headers.push("Content-Type", content_type);
        headers.push("Last-Modified", last_modified);
        headers.push("ETag", tag.clone());
        headers.push("Accept-Ranges", Bytes::from_static(b"bytes"));

        if not_modified(req, tag_str, modified) {
            headers.remove("Content-Type");
            return Response::new(304, headers, Body::Empty);
        }

        let range = match req.headers.get_str("Range") {
            Some(r) if *req.method == Method::Get && if_range_ok(req, tag_str, modified) => {
                parse_range(r, size)
            }
            _ => RangeSpec::Full,
        };
        let (status, offset, len) = match range {
            RangeSpec::Full => (200, 0, size),
            RangeSpec::Part(a, b) => {
                headers.push("Content-Range", format!("bytes {a}-{b}/{size}"));
                (206, a, b - a + 1)
            }
            RangeSpec::Unsatisfiable => {
                headers.set("Content-Type", "text/plain; charset=utf-8");
                headers.push("Content-Range", format!("bytes */{size}"));
                return Response::new(
                    416,
                    headers,
                    Body::Bytes(Bytes::from_static(b"Range Not Satisfiable\n")),
                );
            }
        };
        if status == 200 {
            if let Some(v) = &self.variants {
                if eligible(&v.cfg, 200, &headers, Some(size)) {
                    // The answer depends on Accept-Encoding whether or not a variant fits
                    // (the compression middleware compresses on the fly otherwise).
                    add_vary(&mut headers);
                    if let Some((enc, vfile, vmeta)) =
                        v.pick(req.headers.get("Accept-Encoding").map(|b| &b[..]), rel)
                    {
                        mark_encoded(&mut headers, enc);
                        return Response::new(
                            200,
                            headers,
                            self.body_of_len(vfile, 0, vmeta.size()),
                        );
                    }
                }
            }
        }
        let slice = |data: &Bytes| data.slice(offset as usize..(offset + len) as usize);
        if let Some(c) = hit {
            // The layer writes no body for HEAD; it only needs the length.
            return Response::new(status, headers, Body::Bytes(slice(&c.data)));
        }
        let Some(file) = file else {
            return Response::text(500, "Internal Server Error\n");
        };
        if *req.method == Method::Head || size > CACHE_FILE_MAX {
            return Response::new(status, headers, self.body_of_len(file, offset, len));
        }
        match self.load(rel, &meta, file).await {
            Some(data) => Response::new(status, headers, Body::Bytes(slice(&data))),
            None => Response::text(500, "Internal Server Error\n"),
        }
    }

    fn body_of_len(&self, file: File, offset: u64, len: u64) -> Body {
        match monoio::fs::File::from_std(file) {
            Ok(f) => Body::File {
                file: Rc::new(f),
                offset,
                len,
                guard: None,
            },
            Err(_) => Body::Empty,
        }
    }

    fn cached(&self, rel: &Path, meta: &Metadata) -> Option<CachedView> {
        let cache = self.cache.borrow();
        let c = cache.map.get(rel)?;
        (c.ino == meta.ino() && c.size == meta.size() && c.mtime_ns == mtime_ns(meta)).then(|| {
            CachedView {
                data: c.data.clone(),
                content_type: c.content_type.clone(),
                last_modified: c.last_modified.clone(),
                etag: c.etag.clone(),
            }
        })
    }

    async fn load(&self, rel: &Path, meta: &Metadata, file: File) -> Option<Bytes> {
        let f = monoio::fs::File::from_std(file).ok()?;
        let size = meta.size() as usize;
        let buf = Vec::with_capacity(size);
        let (res, buf) = f.read_exact_at(buf, 0).await;
        res.ok()?;
        let data = Bytes::from(buf);
        let mut cache = self.cache.borrow_mut();
        if let Some(old) = cache.map.remove(rel) {
            cache.bytes -= old.data.len();
            cache.order.retain(|p| p != rel);
        }
        while cache.bytes + size > CACHE_TOTAL_MAX {
            let Some(oldest) = cache.order.pop_front() else {
                break;
            };
            if let Some(old) = cache.map.remove(&oldest) {
                cache.bytes -= old.data.len();
            }
        }
        cache.bytes += size;
        cache.order.push_back(rel.to_path_buf());
        cache.map.insert(
            rel.to_path_buf(),
            Cached {
                ino: meta.ino(),
                size: meta.size(),
                mtime_ns: mtime_ns(meta),
                data: data.clone(),
                content_type: Bytes::from(content_type(rel)),
                last_modified: Bytes::from(httpdate::fmt_http_date(
                    meta.modified().unwrap_or(UNIX_EPOCH),
                )),
                etag: Bytes::from(etag(meta)),
            },
        );
        Some(data)
    }
}

fn etag_matches(list: &str, tag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_string();
    list.split(',')
        .any(|t| t.trim() == "*" || strip(t) == strip(tag))
}

fn not_modified(req: FileRequest<'_>, tag: &str, modified: SystemTime) -> bool {
    if !matches!(req.method, Method::Get | Method::Head) {
        return false;
    }
    if let Some(inm) = req.headers.get_str("If-None-Match") {
        return etag_matches(inm, tag);
    }
    if let Some(ims) = req
        .headers
        .get_str("If-Modified-Since")
        .and_then(|s| httpdate::parse_http_date(s).ok())
    {
        let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        return secs(modified) <= secs(ims);
    }
    false
}

fn if_range_ok(req: FileRequest<'_>, tag: &str, modified: SystemTime) -> bool {
    match req.headers.get_str("If-Range") {
        None => true,
        Some(v) if v.trim().starts_with('"') => v.trim() == tag,
        Some(v) => httpdate::parse_http_date(v).is_ok_and(|d| {
            let secs = |t: SystemTime| t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
            secs(d) == secs(modified)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert!(matches!(
            parse_range("bytes=0-9", 100),
            RangeSpec::Part(0, 9)
        ));
        assert!(matches!(
            parse_range("bytes=90-", 100),
            RangeSpec::Part(90, 99)
        ));
        assert!(matches!(
            parse_range("bytes=-10", 100),
            RangeSpec::Part(90, 99)
        ));
        assert!(matches!(
            parse_range("bytes=50-500", 100),
            RangeSpec::Part(50, 99)
        ));
        assert!(matches!(
            parse_range("bytes=100-", 100),
            RangeSpec::Unsatisfiable
        ));
        assert!(matches!(parse_range("bytes=0-1,5-6", 100), RangeSpec::Full));
        assert!(matches!(parse_range("items=0-1", 100), RangeSpec::Full));
        assert!(matches!(parse_range("bytes=9-1", 100), RangeSpec::Full));
    }

    #[test]
    fn etags() {
        assert!(etag_matches("\"a-1\", W/\"b-2\"", "\"b-2\""));
        assert!(etag_matches("*", "\"x\""));
        assert!(!etag_matches("\"a-1\"", "\"a-2\""));
    }
}
