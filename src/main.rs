#[cfg(feature = "mimalloc")]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use uring_php::sites::load::Loaded;

fn main() {
    if std::env::args_os().nth(1).is_some_and(|a| a == "php-cli") {
        // PHP's command line with the server's build and php.ini settings.
        let err = uring_php::php::cli::exec(std::env::args_os().skip(2));
        eprintln!("uring_php php-cli: {err}");
        std::process::exit(127);
    }
    let loaded =
        uring_php::sites::load::load(std::env::args_os().collect()).unwrap_or_else(|e| e.exit());
    if loaded.cfg.check_config {
        // What the start does with the sites too: directories opened, error pages read.
        if let Err(e) = uring_php::sites::live::SitesState::build(&loaded.sites, &loaded.cfg, None)
        {
            eprintln!("uring_php: {e}");
            std::process::exit(2);
        }
        println!(
            "uring_php: {}",
            uring_php::sites::load::summary(&loaded, loaded.cfg.config.as_deref())
        );
        std::process::exit(0);
    }
    let Loaded { cfg, sites } = loaded;
    if let Err(e) = uring_php::logging::init(&cfg.log_level, cfg.log_format) {
        eprintln!("uring_php: {e}");
        std::process::exit(2);
    }
    tracing::info!(config = ?cfg, "effective configuration");
    if let Err(e) = uring_php::server::run(cfg, sites) {
        tracing::error!("{e}");
        eprintln!("uring_php: {e}");
        std::process::exit(1);
    }
}
