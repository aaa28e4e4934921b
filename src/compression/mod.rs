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
pub use stream::{CompressStream, FileCompressStream};

use bytes::Bytes;
use uring_http::Headers;

use crate::config::Config;

/// File bodies above this are not compressed on the fly.
pub const MAX_FILE_ON_THE_FLY: u64 = 16 << 20;

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
