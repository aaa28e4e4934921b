#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use uring_php::config::Config;

fn main() {
    let cfg = Config::from_env_and_args();
    if let Err(e) = uring_php::logging::init(&cfg.log_level, cfg.log_format) {
        eprintln!("uring_php: {e}");
        std::process::exit(2);
    }
    tracing::info!(config = ?cfg, "effective configuration");
    if let Err(e) = uring_php::server::run(cfg) {
        tracing::error!("{e}");
        eprintln!("uring_php: {e}");
        std::process::exit(1);
    }
}
