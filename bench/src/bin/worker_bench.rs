//! Worker mode side by side: see `uring_bench::worker_mode`.
fn main() {
    uring_bench::worker_mode::main()
}
