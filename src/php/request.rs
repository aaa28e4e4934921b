//! What a core hands a PHP worker: one request, resolved to a script.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use uring_http::{Headers, Method, RequestBody, Version};

use super::reply::Reply;

/// W3C trace context ids for `$_SERVER` (hex strings).
#[derive(Clone, Debug, Default)]
pub struct TraceIds {
    pub trace_id: String,
    pub span_id: String,
    pub parent_span_id: String,
}

/// A php.ini value a site sets for each of its requests (C strings for the bridge).
#[derive(Debug)]
pub struct SiteIniValue {
    pub name: std::ffi::CString,
    pub value: std::ffi::CString,
    /// php_admin_value: the script cannot change it; php_value otherwise.
    pub admin: bool,
}

/// What a site adds to each of its requests (src/sites/).
#[derive(Debug, Default)]
pub struct SiteExtras {
    /// `$_SERVER` entries after the server's own (they win on a clash).
    pub server_vars: Vec<(String, String)>,
    /// Applied before the request starts, restored after it.
    pub ini: Vec<SiteIniValue>,
}

#[derive(Debug)]
pub struct ScriptRequest {
    pub id: u64,
    pub method: Method,
    /// REQUEST_URI: the path and query as the client sent them (still encoded).
    pub uri: String,
    /// QUERY_STRING, still encoded; empty when the request had none.
    pub query: String,
    /// SCRIPT_FILENAME: the absolute path of the script to run.
    pub script_filename: String,
    /// SCRIPT_NAME: the script's URL path, decoded.
    pub script_name: String,
    /// PATH_INFO: what follows the script in the decoded path; empty when nothing does.
    pub path_info: String,
    pub document_root: Arc<str>,
    pub version: Version,
    pub headers: Headers,
    /// The request's authority (Host header, or the absolute-form target's).
    pub host: Option<String>,
    pub body: RequestBody,
    pub remote_addr: SocketAddr,
    pub local_addr: SocketAddr,
    pub tls: bool,
    /// SERVER_NAME when configured; otherwise the host part of `host`.
    pub server_name: Option<Arc<str>>,
    pub trace: Option<TraceIds>,
    /// REQUEST_TIME(_FLOAT): when the request arrived.
    pub received_at: SystemTime,
    /// The I/O driver of the core that took the request, for uring_server_info().
    pub driver: &'static str,
    /// The site's `$_SERVER` additions and php.ini values.
    pub site: Arc<SiteExtras>,
}

/// A request on its way to a worker, with the way back to its core.
pub struct Job {
    pub request: ScriptRequest,
    pub reply: Reply,
    pub queued_at: Instant,
}
