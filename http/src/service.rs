//! The boundary between protocol and application.

use std::future::Future;

use crate::{Request, Response};

/// What a connection calls for each request. One instance per core thread, shared by the
/// connections of that core (hence `&self` and no `Send`).
pub trait Service {
    fn call(&self, req: Request) -> impl Future<Output = Response>;

    /// A connection turned out to speak HTTP/2 (its preface and SETTINGS exchanged:
    /// `true`), and later ended (`false`). For connection metrics; nothing by default.
    fn http2_connection(&self, _open: bool) {}
}
