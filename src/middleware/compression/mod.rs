//! Response compression (`COMPRESSION=1`): zstd, brotli or gzip as the client's
//! Accept-Encoding ranks them (q-values honoured; ties: zstd, br, gzip).
//!
//! Compressed: responses with a compressible Content-Type (text/*, JSON, JavaScript,
//! XML, SVG, uncompressed fonts) of at least `COMPRESSION_MIN_SIZE` bytes, or of unknown
//! size (streams: each chunk is compressed and flushed as it comes, so SSE events are not
//! held back). Never: a response that already has a Content-Encoding, a 206 or anything
//! with Content-Range, 1xx/204/304, or one whose Cache-Control says `no-transform`.
//! Such eligible responses carry `Vary: Accept-Encoding`, compressed or not.
//!
//! Bodies in memory are compressed at once (and sent as they were when that does not make
//! them smaller). File bodies (static files over 64 KiB, PHP output spilled to a memfd)
//! are read through the runtime in 64 KiB pieces and compressed as they go, up to 16 MiB;
//! bigger ones are sent as they are — precompress them. A static file `F` is answered
//! with `F.zst`, `F.br` or `F.gz` from beside it when that file exists and the client
//! accepts its coding (looked up beneath the document root, result kept per core for 1 s).
//! A compressed response's ETag becomes weak (`W/"..."`), as nginx does, so a
//! revalidation still gets its 304.

mod encoder;
mod negotiate;
mod stream;

pub use encoder::{compress_all, Encoder};
pub use negotiate::{negotiate, Accepted, Encoding, PREFERENCE};

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uring_http::{Body, Headers, Request, Response};

use super::{Middleware, RequestCtx, RouteKind};
use crate::config::Config;
use crate::router::Router;

/// File bodies above this are not compressed on the fly.
pub const MAX_FILE_ON_THE_FLY: u64 = 16 << 20;
/// How long a static file's precompressed variants are remembered.
const VARIANTS_TTL: Duration = Duration::from_secs(1);
const VARIANTS_MAX: usize = 4096;

#[derive(Clone, Debug)]
pub struct CompressionConfig {
    pub min_size: u64,
    pub level_br: u32,
    pub level_zstd: i32,
    pub level_gzip: u32,
}

impl Default for CompressionConfig {
    fn default() -> Self {
        CompressionConfig {
            min_size: 1024,
            level_br: 4,
            level_zstd: 3,
            level_gzip: 6,
        }
    }
}

impl CompressionConfig {
    pub fn from_config(cfg: &Config) -> Self {
        CompressionConfig {
            min_size: cfg.compression_min_size,
            level_br: cfg.compression_level_br,
            level_zstd: cfg.compression_level_zstd,
            level_gzip: cfg.compression_level_gzip,
        }
    }
}

/// Whether a Content-Type is worth compressing.
pub fn compressible(content_type: &[u8]) -> bool {
    let Ok(ct) = std::str::from_utf8(content_type) else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let Some((kind, sub)) = essence.split_once('/') else {
        return false;
    };
    match kind {
        "text" => true,
        "application" => {
            matches!(
                sub,
                "json"
                    | "javascript"
                    | "x-javascript"
                    | "ecmascript"
                    | "xml"
                    | "x-ndjson"
                    | "vnd.ms-fontobject"
                    | "x-font-ttf"
                    | "x-font-opentype"
            ) || sub.ends_with("+json")
                || sub.ends_with("+xml")
        }
        "image" => sub == "svg+xml" || sub == "x-icon" || sub == "vnd.microsoft.icon",
        "font" => sub == "ttf" || sub == "otf",
        _ => false,
    }
}

fn has_no_transform(headers: &Headers) -> bool {
    headers.get_all("Cache-Control").any(|v| {
        std::str::from_utf8(v).is_ok_and(|s| {
            s.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-transform"))
        })
    })
}

fn varies_on_accept_encoding(headers: &Headers) -> bool {
    headers.get_all("Vary").any(|v| {
        std::str::from_utf8(v).is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim() == "*" || t.trim().eq_ignore_ascii_case("accept-encoding"))
        })
    })
}

pub struct Compression {
    cfg: CompressionConfig,
    router: Rc<Router>,
    /// Static path -> (bit mask of the precompressed variants that exist, when looked up).
    variants: RefCell<HashMap<PathBuf, (u8, Instant)>>,
}

impl Compression {
    pub fn new(cfg: CompressionConfig, router: Rc<Router>) -> Compression {
        Compression {
            cfg,
            router,
            variants: RefCell::new(HashMap::new()),
        }
    }

    fn variant_path(rel: &Path, enc: Encoding) -> PathBuf {
        let mut s = OsString::from(rel.as_os_str());
        s.push(enc.file_suffix());
        PathBuf::from(s)
    }

    /// Which of `rel`'s precompressed variants exist (per-core cache, 1 s).
    fn variants_of(&self, rel: &Path) -> u8 {
        if let Some((mask, at)) = self.variants.borrow().get(rel) {
            if at.elapsed() < VARIANTS_TTL {
                return *mask;
            }
        }
        let mut mask = 0;
        for enc in negotiate::PREFERENCE {
            if self
                .router
                .open_file(&Self::variant_path(rel, enc))
                .is_some()
            {
                mask |= 1 << enc.index();
            }
        }
        let mut cache = self.variants.borrow_mut();
        if cache.len() >= VARIANTS_MAX {
            cache.clear();
        }
        cache.insert(rel.to_path_buf(), (mask, Instant::now()));
        mask
    }

    /// Serves a precompressed variant of a static file when one fits the client.
    fn precompressed(&self, rel: &Path, accepted: &Accepted, resp: &mut Response) -> bool {
        let mask = self.variants_of(rel);
        if mask == 0 {
            return false;
        }
        for enc in accepted.iter().filter(|e| mask & (1 << e.index()) != 0) {
            let Some((file, meta)) = self.router.open_file(&Self::variant_path(rel, enc)) else {
                continue;
            };
            let Ok(file) = monoio::fs::File::from_std(file) else {
                continue;
            };
            resp.body = Body::File {
                file: Rc::new(file),
                offset: 0,
                len: std::os::unix::fs::MetadataExt::size(&meta),
                guard: None,
            };
            mark_encoded(&mut resp.headers, enc);
            return true;
        }
        false
    }
}

/// Whether a response may be compressed: its status, size (`len`, when known), type,
/// coding and Cache-Control allow it.
pub fn eligible(cfg: &CompressionConfig, status: u16, headers: &Headers, len: Option<u64>) -> bool {
    if status < 200 || matches!(status, 204 | 206 | 304) {
        return false;
    }
    if len.is_some_and(|n| n == 0 || n < cfg.min_size) {
        return false;
    }
    if headers.contains("Content-Encoding")
        || headers.contains("Content-Range")
        || has_no_transform(headers)
    {
        return false;
    }
    headers
        .get("Content-Type")
        .is_some_and(|ct| compressible(ct))
}

/// `Vary: Accept-Encoding` on a response that could have been compressed, unless it has it.
pub fn add_vary(headers: &mut Headers) {
    if !varies_on_accept_encoding(headers) {
        headers.push("Vary", Bytes::from_static(b"Accept-Encoding"));
    }
}

/// Headers of a response now in coding `enc`.
pub fn mark_encoded(headers: &mut Headers, enc: Encoding) {
    headers.set(
        "Content-Encoding",
        Bytes::from_static(enc.token().as_bytes()),
    );
    headers.remove("Content-Length");
    headers.remove("Accept-Ranges");
    if let Some(tag) = headers.get("ETag") {
        if tag.starts_with(b"\"") {
            let mut weak = Vec::with_capacity(tag.len() + 2);
            weak.extend_from_slice(b"W/");
            weak.extend_from_slice(tag);
            headers.set("ETag", weak);
        }
    }
}

impl Middleware for Compression {
    fn name(&self) -> &'static str {
        "compression"
    }

    fn priority(&self) -> i32 {
        70
    }

    fn on_request(&self, req: &mut Request, ctx: &mut RequestCtx) -> Option<Response> {
        ctx.accept_encoding = req.headers.get("Accept-Encoding").cloned();
        None
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        let status = resp.status;
        if !eligible(&self.cfg, status, &resp.headers, resp.body.len()) {
            return;
        }
        if matches!(resp.body, Body::File { len, .. } if len > MAX_FILE_ON_THE_FLY)
            && !matches!(ctx.route, RouteKind::Static(_))
        {
            return;
        }
        add_vary(&mut resp.headers);
        let accepted = ctx
            .accept_encoding
            .as_deref()
            .map(negotiate)
            .unwrap_or_default();
        let Some(enc) = accepted.best() else { return };

        if let RouteKind::Static(rel) = &ctx.route {
            if status == 200 && self.precompressed(rel, &accepted, resp) {
                return;
            }
        }
        match std::mem::replace(&mut resp.body, Body::Empty) {
            Body::Bytes(data) => match compress_all(enc, &self.cfg, &data) {
                Ok(out) if out.len() < data.len() => {
                    resp.body = Body::Bytes(Bytes::from(out));
                    mark_encoded(&mut resp.headers, enc);
                }
                Ok(_) => resp.body = Body::Bytes(data),
                Err(e) => {
                    tracing::error!(error = %e, "compression failed; sending the body as it is");
                    resp.body = Body::Bytes(data);
                }
            },
            Body::File {
                file,
                offset,
                len,
                guard,
            } if len <= MAX_FILE_ON_THE_FLY => match Encoder::new(enc, &self.cfg, Some(len)) {
                Ok(e) => {
                    resp.body = Body::Stream(Box::pin(stream::FileCompressStream::new(
                        file, offset, len, e, guard,
                    )));
                    mark_encoded(&mut resp.headers, enc);
                }
                Err(_) => {
                    resp.body = Body::File {
                        file,
                        offset,
                        len,
                        guard,
                    }
                }
            },
            Body::Stream(inner) => match Encoder::new(enc, &self.cfg, None) {
                Ok(e) => {
                    resp.body = Body::Stream(Box::pin(stream::CompressStream::new(inner, e)));
                    mark_encoded(&mut resp.headers, enc);
                }
                Err(e) => {
                    tracing::error!(error = %e, "starting a compressor failed");
                    resp.body = Body::Stream(inner);
                }
            },
            other => resp.body = other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_types() {
        for ct in [
            "text/html; charset=UTF-8",
            "text/event-stream",
            "application/json",
            "application/ld+json",
            "application/javascript",
            "application/rss+xml",
            "image/svg+xml",
            "TEXT/CSS",
        ] {
            assert!(compressible(ct.as_bytes()), "{ct}");
        }
        for ct in [
            "image/png",
            "image/jpeg",
            "application/octet-stream",
            "font/woff2",
            "application/zip",
            "application/wasm",
            "",
        ] {
            assert!(!compressible(ct.as_bytes()), "{ct}");
        }
    }
}
