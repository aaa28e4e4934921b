//! The benchmark harness of uring_php.
//!
//! - [`hyper_variant`]: the same PHP engine, queue and workers as uring_php behind a
//!   tokio + hyper front end instead of the monoio cores (binary `hyper_variant`);
//! - [`runner`]: starts every peer on loopback, drives wrk against them round by round
//!   and writes `RESULTS.md` and the plots (binary `bench`, wrapped by `bench/run`);
//! - [`worker_mode`]: Symfony and Laravel in classic mode, worker mode and on nginx +
//!   php-fpm (binary `worker_bench`, wrapped by `bench/run-worker-mode`).

pub mod hyper_variant;
pub mod runner;
pub mod worker_mode;
