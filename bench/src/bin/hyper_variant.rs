//! uring_php's PHP engine, queue and workers behind tokio + hyper (HTTP/1.1 and h2c).
//! Same settings as uring_php (`--help`); see `uring_bench::hyper_variant`.

fn main() {
    let cfg = uring_php::config::Config::from_env_and_args();
    if let Err(e) = uring_php::logging::init(&cfg.log_level, cfg.log_format) {
        eprintln!("hyper_variant: {e}");
        std::process::exit(2);
    }
    if let Err(e) = uring_bench::hyper_variant::run(cfg) {
        eprintln!("hyper_variant: {e}");
        std::process::exit(1);
    }
}
