//! Shared helpers for integration tests: `mod common;` in a test file.
//!
//! - `reference`: nginx + php-fpm, the reference for PHP behaviour.
//! - `http_client`: a raw HTTP/1.1 client over `TcpStream`.
//! - `diff`: the differential corpus (`tests/php/diff/`) and its comparator.

// Each test binary uses a subset of these helpers.
#![allow(dead_code)]

pub mod diff;
pub mod http_client;
pub mod metrics;
pub mod reference;
pub mod server;
pub mod wait;
