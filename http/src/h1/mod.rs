//! HTTP/1.1 (and 1.0) over monoio's rent-style IO, with httparse doing the tokenising.
//!
//! [`serve_h1`] drives one connection: keep-alive, pipelining, request buffering
//! (bodies are read completely, spooled to disk when large, before the service runs) or
//! streaming (the service runs while its body arrives),
//! `Expect: 100-continue`, timeouts and graceful shutdown. The pieces it is made of,
//! [`parse_head`] and [`ChunkedDecoder`], are public so they can be fuzzed.

pub(crate) mod body_target;
mod chunked;
mod config;
mod conn;
mod encode;
mod error;
mod fields;
mod parse;
mod request_body;
mod respond;
pub(crate) mod spool;
mod status;
pub(crate) mod target;
pub(crate) mod wait;

#[cfg(test)]
mod tests;

pub use chunked::{ChunkedDecoder, Decoded};
pub use config::H1Config;
pub use conn::serve_h1;
pub use error::H1Error;
pub use parse::{parse_head, BodyFraming, Head};
pub use status::reason_phrase;
