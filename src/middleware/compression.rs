//! The compression middleware (`COMPRESSION=1`): picks the coding for each response
//! and answers static files with their precompressed variants; what is compressed and
//! how is src/compression/.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uring_http::{Body, Request, Response};

use super::{Middleware, RequestCtx, RouteKind};
use crate::compression::*;
use crate::router::Router;

/// How long a static file's precompressed variants are remembered.
const VARIANTS_TTL: Duration = Duration::from_secs(1);
const VARIANTS_MAX: usize = 4096;

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
        for enc in PREFERENCE {
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
                    resp.body = Body::Stream(Box::pin(FileCompressStream::new(
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
                    resp.body = Body::Stream(Box::pin(CompressStream::new(inner, e)));
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
