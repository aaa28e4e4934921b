//! HTTP/1.1 and HTTP/2 protocol code for uring_php.
//!
//! This crate knows nothing of PHP: it turns bytes from a connection into [`Request`]s,
//! hands each to a [`Service`], and writes the [`Response`] back. The server crate
//! supplies the service (routing, static files, PHP).

pub mod body;
pub mod date;
pub mod h1;
pub mod headers;
pub mod method;
pub mod request;
pub mod response;
pub mod service;
pub mod shutdown;

pub use body::{RequestBody, SpoolConfig};
pub use headers::Headers;
pub use method::Method;
pub use request::{Request, Version};
pub use response::{Body, BodyStream, Response};
pub use service::Service;
pub use shutdown::Shutdown;
