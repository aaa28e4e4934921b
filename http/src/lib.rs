//! HTTP/1.1, HTTP/2 and TLS protocol code for uring_php.
//!
//! This crate knows nothing of PHP: it turns bytes from a connection into [`Request`]s,
//! hands each to a [`Service`], and writes the [`Response`] back. The server crate
//! supplies the service (routing, static files, PHP).

pub mod body;
pub mod body_pipe;
pub mod conn_info;
pub mod date;
pub mod h1;
pub mod h2;
pub mod headers;
pub mod interim;
pub mod method;
pub mod path;
pub mod redirect;
pub mod request;
pub mod response;
pub mod serve;
pub mod service;
pub mod shutdown;
pub mod tls;

pub use body::{RequestBody, SpoolConfig};
pub use body_pipe::{body_pipe, BodyReader, BodyWriter};
pub use conn_info::ConnInfo;
pub use headers::Headers;
pub use interim::{Interim, InterimResponse};
pub use method::Method;
pub use request::RequestHead;
pub use request::{Request, Version};
pub use response::{Body, BodyStream, Response};
pub use serve::{serve_conn, serve_tls, ConnConfig};
pub use service::Service;
pub use shutdown::Shutdown;
