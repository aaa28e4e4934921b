//! The benchmark runner (placeholder while the hyper variant is built).
