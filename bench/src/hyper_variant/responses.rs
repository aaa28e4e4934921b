//! Small canned responses both the router (`service.rs`) and the PHP hand-off
//! (`php.rs`) answer with.

use bytes::Bytes;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Response, StatusCode};

use super::body::OutBody;

/// A plain-text response: `status` with `body`.
pub(super) fn text(status: StatusCode, body: &'static str) -> Response<OutBody> {
    let mut r = Response::new(OutBody::full(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
