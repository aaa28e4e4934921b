//! uring_php: a thread-per-core io_uring web server that runs PHP in-process.

pub mod acme;
pub mod compression;
pub mod config;
pub mod counter;
pub mod cpu_set;
pub mod internal_server;
pub mod logging;
pub mod metrics_registry;
pub mod middleware;
pub mod php;
pub mod php_handler;
pub mod process_metrics;
pub mod request_id;
pub mod response_cache;
pub mod router;
pub mod sendfile;
pub mod server;
pub mod service;
pub mod sites;
pub mod static_files;
pub mod stop_signal;
pub mod trace_context;
pub mod worker_match;
pub mod worker_watch;
