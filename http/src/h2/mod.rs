//! HTTP/2 (RFC 9113) on the `h2` crate: over TLS with ALPN `h2`, and in cleartext by
//! prior knowledge (h2c, the connection preface sniffed on the plain port).
//!
//! [`serve_h2`] drives one connection; each stream becomes a [`crate::Request`] with its
//! complete body (spooled to disk past the threshold, exactly as on HTTP/1.1) and is
//! served concurrently with its siblings on the same task.

mod config;
mod conn;
mod request;
mod respond;
mod stream;

pub use config::H2Config;
pub use conn::serve_h2;
