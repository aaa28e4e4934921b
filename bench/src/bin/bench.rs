//! The benchmark runner: `cargo run --release -p uring-bench --bin bench -- --help`
//! (usually through `bench/run`, which installs and builds what it needs first).

fn main() {
    uring_bench::runner::main();
}
