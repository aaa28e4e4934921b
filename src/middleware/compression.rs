//! The compression middleware (`COMPRESSION=1`): compresses each eligible response on
//! the fly in the coding the client ranks first; what is compressed and how is
//! src/compression/, and a static file's precompressed variant is chosen by
//! src/static_files/ before the response gets here (it then has a Content-Encoding and
//! is left alone).

use bytes::Bytes;
use uring_http::{Body, Request, Response};

use super::{Middleware, RequestCtx, RouteKind};
use crate::compression::*;

pub struct Compression {
    cfg: CompressionConfig,
}

impl Compression {
    pub fn new(cfg: CompressionConfig) -> Compression {
        Compression { cfg }
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
