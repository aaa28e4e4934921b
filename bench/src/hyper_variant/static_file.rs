//! Static files through `tokio::fs` (its blocking pool), with the same response headers
//! as uring_php's (Content-Type from the same table, Last-Modified, ETag, Accept-Ranges)
//! so both send the same bytes. No cache, no 304, no ranges: the benchmark does not ask.

use std::fs::{File, Metadata};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::UNIX_EPOCH;

use bytes::BytesMut;
use hyper::header::{
    HeaderValue, ACCEPT_RANGES, CONTENT_LENGTH, CONTENT_TYPE, ETAG, LAST_MODIFIED,
};
use hyper::Response;
use uring_php::static_files::content_type;

use super::body::{FileBody, OutBody};

pub async fn serve(head: bool, file: File, meta: Metadata, rel: &Path) -> Response<OutBody> {
    let size = meta.size();
    let body = if head || size == 0 {
        OutBody::empty()
    } else {
        OutBody::File(FileBody {
            file: tokio::fs::File::from_std(file),
            remaining: size,
            buf: BytesMut::new(),
        })
    };
    let mut r = Response::new(body);
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type(rel)) {
        h.insert(CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&httpdate::fmt_http_date(
        meta.modified().unwrap_or(UNIX_EPOCH),
    )) {
        h.insert(LAST_MODIFIED, v);
    }
    if let Ok(v) = HeaderValue::from_str(&format!("\"{:x}-{:x}\"", meta.mtime(), size)) {
        h.insert(ETAG, v);
    }
    h.insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if head {
        h.insert(CONTENT_LENGTH, HeaderValue::from(size));
    }
    r
}
