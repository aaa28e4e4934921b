//! Configuration: every setting is an environment variable (tokio_php's names where one
//! exists) and a `--flag`. A bad value is one line naming the variable, exit code 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{ArgAction, Parser, ValueEnum};

mod components;
mod error;
#[cfg(test)]
mod tests;
mod values;

pub use error::ConfigError;
pub use values::*;

use crate::cpu_set;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Executor {
    /// Run PHP scripts.
    Php,
    /// Answer PHP routes with a fixed small body, without PHP (measures the HTTP layer).
    Stub,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable on a terminal, JSON otherwise.
    Auto,
    Text,
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TlsMinVersion {
    /// TLS 1.2 and 1.3.
    #[value(name = "1.2")]
    Tls12,
    /// TLS 1.3 only.
    #[value(name = "1.3")]
    Tls13,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum AcmeChallenge {
    /// A file under /.well-known/acme-challenge/ on the plain HTTP listener.
    #[value(name = "http-01")]
    Http01,
    /// A special certificate on the TLS listener (ALPN acme-tls/1).
    #[value(name = "tls-alpn-01")]
    TlsAlpn01,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Driver {
    /// io_uring where the kernel allows it, epoll where it does not.
    Auto,
    /// io_uring only: refuse to start without it.
    IoUring,
    /// epoll only.
    Epoll,
}

#[derive(Clone, Debug, Parser)]
#[command(
    name = "uring_php",
    version = concat!(
        env!("CARGO_PKG_VERSION"),
        " (PHP ",
        env!("URING_PHP_VERSION"),
        "; ",
        env!("URING_PHP_BUILD"),
        ")"
    ),
    about = "A thread-per-core io_uring web server that runs PHP in-process",
    args_override_self = true,
    after_help = "Every option can also be given as the environment variable shown in brackets.\n\n\
                  uring_php php-cli [ARGS]...  runs PHP's command line (cron jobs, composer, artisan) \
                  with the server's PHP build and php.ini settings (PHP_INI, PHP_INI_<NAME>)."
)]
pub struct Config {
    /// A configuration file (TOML): sites (virtual hosts) and server-wide settings over the environment; see docs/sites.md [default: none: one site from the environment].
    #[arg(long = "config", env = "CONFIG_FILE")]
    pub config: Option<PathBuf>,

    /// Check the configuration (the file, the environment, the flags) and exit: 0 and a summary, or 2 and the errors.
    #[arg(long, action = ArgAction::SetTrue)]
    pub check_config: bool,

    /// The arguments the settings were parsed from (the configuration file's `[server]`
    /// as flags before the command line's), for /config and reloads.
    #[arg(skip)]
    pub effective_args: Vec<std::ffi::OsString>,

    /// Address to listen on for HTTP.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080", value_parser = parse_addr)]
    pub listen_addr: SocketAddr,

    /// Directory the site is served from.
    #[arg(long, env = "DOCUMENT_ROOT", default_value = "/var/www/html")]
    pub document_root: PathBuf,

    /// Front-controller script (e.g. index.php): every path that is not an existing file
    /// is sent to it, as nginx's `try_files $uri $uri/ /index.php$is_args$args` (a directory
    /// with an index.php or index.html of its own is served by it).
    #[arg(long, env = "INDEX_FILE", value_parser = parse_index_file)]
    pub index_file: Option<String>,

    /// PHP worker threads [default: 2 × the CPUs in CPU_AFFINITY].
    #[arg(long, env = "PHP_WORKERS", value_parser = parse_count)]
    pub php_workers: Option<usize>,

    /// Requests that may wait for a PHP worker; beyond it requests get 503 [default: 100 × PHP_WORKERS].
    #[arg(long, env = "QUEUE_CAPACITY", value_parser = parse_count)]
    pub queue_capacity: Option<usize>,

    /// Queue lanes: one per core keeps a request on its core's CPU; 1 = one shared queue [default: one per core].
    #[arg(long, env = "QUEUE_LANES", value_parser = parse_count)]
    pub queue_lanes: Option<usize>,

    /// CPUs to run on, in taskset syntax (e.g. 0-3,6) [default: every CPU the process may use].
    #[arg(long, env = "CPU_AFFINITY", value_parser = parse_cpus)]
    pub cpu_affinity: Option<CpuList>,

    /// Longest time a PHP request may take before the client gets 504 (e.g. 30s, 2m; 0 = off).
    #[arg(long, env = "REQUEST_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Seconds a client may take to send a request's headers.
    #[arg(long, env = "HEADER_TIMEOUT_SECS", default_value = "30", value_parser = parse_secs)]
    pub header_timeout_secs: Duration,

    /// Seconds an idle keep-alive connection is kept open.
    #[arg(long, env = "IDLE_TIMEOUT_SECS", default_value = "60", value_parser = parse_secs)]
    pub idle_timeout_secs: Duration,

    /// Largest request body accepted (bytes; K, M, G suffixes); larger gets 413.
    #[arg(long, env = "MAX_BODY_SIZE", default_value = "8M", value_parser = parse_size)]
    pub max_body_size: u64,

    /// Request bodies larger than this are spooled to a temp file instead of memory.
    #[arg(long, env = "BODY_SPOOL_THRESHOLD", default_value = "1M", value_parser = parse_size)]
    pub body_spool_threshold: u64,

    /// 1: read each request body completely before PHP runs (nginx's default); 0: start PHP once the head is read and stream the body to it.
    #[arg(long, env = "REQUEST_BUFFERING", action = ArgAction::Set, value_parser = parse_bool, default_value = "1")]
    pub request_buffering: bool,

    /// What runs PHP routes.
    #[arg(long, env = "EXECUTOR", value_enum, default_value = "php")]
    pub executor: Executor,

    /// Same as EXECUTOR=stub when 1 (tokio_php's name).
    #[arg(long, env = "USE_STUB", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub use_stub: bool,

    /// I/O driver of the core threads.
    #[arg(long, env = "IO_DRIVER", value_enum, default_value = "auto")]
    pub io_driver: Driver,

    /// Log level (error, warn, info, debug, trace) or a tracing filter.
    #[arg(long, env = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,

    /// Log format.
    #[arg(long, env = "LOG_FORMAT", value_enum, default_value = "auto")]
    pub log_format: LogFormat,

    /// Internal locations for X-Accel-Redirect: URI prefix = directory, comma-separated (e.g. /protected/=/srv/files/); requests from outside get 404 there [default: none].
    #[arg(long, env = "INTERNAL_LOCATIONS", value_parser = parse_internal_locations)]
    pub internal_locations: Option<InternalLocations>,

    /// Directories X-Sendfile may serve files from, comma-separated absolute paths [default: none: every X-Sendfile is refused].
    #[arg(long, env = "SENDFILE_ROOTS", value_parser = parse_sendfile_roots)]
    pub sendfile_roots: Option<SendfileRoots>,

    /// A php.ini file to load over the built-in defaults.
    #[arg(long = "php-ini", env = "PHP_INI")]
    pub php_ini: Option<PathBuf>,

    /// Set a php.ini directive (name=value), like `php -d`; repeatable. PHP_INI_<NAME>
    /// variables do the same (PHP_INI_MEMORY_LIMIT=256M; `.` is written `__`).
    #[arg(long = "php-define", value_name = "NAME=VALUE", action = ArgAction::Append, value_parser = parse_define)]
    pub php_define: Vec<(String, String)>,

    /// SERVER_NAME for PHP [default: the request's host, without port].
    #[arg(long, env = "SERVER_NAME")]
    pub server_name: Option<String>,

    /// Requests after which a PHP worker thread is replaced (like pm.max_requests; 0 = never).
    #[arg(long, env = "PHP_WORKER_MAX_REQUESTS", default_value = "0", value_parser = parse_u64)]
    pub php_worker_max_requests: u64,

    // ---- Worker mode (docs/worker-mode.md) ----
    /// A worker script that boots the app once and serves requests with frankenphp_handle_request(): absolute, or relative to DOCUMENT_ROOT [default: off].
    #[arg(long, env = "WORKER_SCRIPT")]
    pub worker_script: Option<PathBuf>,

    /// Threads running WORKER_SCRIPT (besides the PHP_WORKERS threads for classic scripts) [default: PHP_WORKERS].
    #[arg(long, env = "WORKER_COUNT", value_parser = parse_count)]
    pub worker_count: Option<usize>,

    /// Requests a worker script serves before it is started again (0 = never).
    #[arg(long, env = "WORKER_MAX_REQUESTS", default_value = "0", value_parser = parse_u64)]
    pub worker_max_requests: u64,

    /// PHP requests the worker serves: URL path prefixes or globs, comma-separated (e.g. /api/,/app/*; * = all) [default: those the router sends to WORKER_SCRIPT or INDEX_FILE].
    #[arg(long, env = "WORKER_MATCH", value_parser = parse_worker_match)]
    pub worker_match: Option<crate::worker_match::WorkerMatch>,

    /// Restart the worker scripts when these files change: absolute paths or globs, comma-separated (e.g. /app/src,/app/config/**/*.php), for development [default: off].
    #[arg(long, env = "WORKER_WATCH", value_parser = parse_worker_watch)]
    pub worker_watch: Option<crate::worker_watch::WatchList>,

    /// Longest life of a streamed response (flush(), SSE) before the server ends it (0 = no limit).
    #[arg(long, env = "SSE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub sse_timeout: Duration,

    /// Streamed output that may wait unsent per request; beyond it the script's flush() blocks.
    #[arg(long, env = "STREAM_BUFFER_SIZE", default_value = "1M", value_parser = parse_size)]
    pub stream_buffer_size: u64,

    /// Longest a script's flush() may block on a client that takes none of its output; then the request is treated as aborted and the worker freed (0 = as long as the connection lasts).
    #[arg(long, env = "STREAM_SEND_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub stream_send_timeout: Duration,

    /// Memory all responses together may hold in memfds (spilled PHP output) while clients read them; past it, a response that needs more waits up to 1 s for room, then gets 503 (0 = no limit).
    #[arg(long, env = "SPILL_MEMORY_LIMIT", default_value = "512M", value_parser = parse_size)]
    pub spill_memory_limit: u64,

    /// PHP output above this size is kept in a memfd rather than on the heap.
    #[arg(long, env = "OUTPUT_SPILL_THRESHOLD", default_value = "1M", value_parser = parse_size)]
    pub output_spill_threshold: u64,

    /// Add a Server-Timing header (queue wait, PHP execution, total) to PHP responses when 1.
    #[arg(long, env = "SERVER_TIMING", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub server_timing: bool,

    /// PEM certificate chain (leaf first) for HTTPS; with TLS_KEY it turns on the TLS listener.
    #[arg(long, env = "TLS_CERT")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC) for TLS_CERT [default: read from TLS_CERT].
    #[arg(long, env = "TLS_KEY")]
    pub tls_key: Option<PathBuf>,

    /// Address of the TLS listener (HTTP/1.1 and HTTP/2 by ALPN) [default: LISTEN_ADDR's IP, port 8443].
    #[arg(long, env = "TLS_LISTEN_ADDR", value_parser = parse_addr)]
    pub tls_listen_addr: Option<SocketAddr>,

    /// Oldest TLS version offered.
    #[arg(long, env = "TLS_MIN_VERSION", value_enum, default_value = "1.2")]
    pub tls_min_version: TlsMinVersion,

    /// When 1, LISTEN_ADDR answers every request with a redirect to the same URL on the TLS port.
    #[arg(long, env = "REDIRECT_HTTP_TO_HTTPS", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub redirect_http_to_https: bool,

    /// Automatic HTTPS: host names to obtain a certificate for by ACME, comma-separated (the single-site case; sites in a configuration file say `acme = true`) [default: none].
    #[arg(long, env = "ACME_DOMAINS", value_parser = parse_domains)]
    pub acme_domains: Option<Domains>,

    /// Automatic HTTPS: contact e-mail given to the ACME server [default: none].
    #[arg(long, env = "ACME_EMAIL")]
    pub acme_email: Option<String>,

    /// Automatic HTTPS: the ACME server's directory URL.
    #[arg(
        long,
        env = "ACME_DIRECTORY",
        default_value = "https://acme-v02.api.letsencrypt.org/directory"
    )]
    pub acme_directory: String,

    /// Automatic HTTPS: where the ACME account and certificates are kept.
    #[arg(long, env = "ACME_DIR", default_value = "/var/lib/uring_php/acme")]
    pub acme_dir: PathBuf,

    /// Automatic HTTPS: a PEM CA certificate to trust for the ACME server (a private or test CA) [default: the system's roots].
    #[arg(long, env = "ACME_CA_ROOT")]
    pub acme_ca_root: Option<PathBuf>,

    /// Automatic HTTPS: how the ACME server checks the names (http-01 on LISTEN_ADDR's port 80, tls-alpn-01 on the TLS port 443).
    #[arg(long, env = "ACME_CHALLENGE", value_enum, default_value = "http-01")]
    pub acme_challenge: AcmeChallenge,

    /// Automatic HTTPS: renew a certificate this long before it expires (e.g. 30d).
    #[arg(long, env = "ACME_RENEW_BEFORE", default_value = "30d", value_parser = parse_cache_ttl)]
    pub acme_renew_before: Duration,

    /// HTTP/2: streams (requests) a client may have open at once on one connection.
    #[arg(long, env = "H2_MAX_CONCURRENT_STREAMS", default_value = "128", value_parser = parse_u32_min1)]
    pub h2_max_concurrent_streams: u32,

    /// HTTP/2: initial flow-control window of each stream (request body the client may send ahead).
    #[arg(long, env = "H2_INITIAL_WINDOW_SIZE", default_value = "1M", value_parser = parse_h2_window)]
    pub h2_initial_window_size: u32,

    /// HTTP/2: largest frame payload accepted (16K to 16M-1).
    #[arg(long, env = "H2_MAX_FRAME_SIZE", default_value = "16K", value_parser = parse_h2_frame)]
    pub h2_max_frame_size: u32,

    /// HTTP/2: largest request header section (decoded, RFC 9113 §6.5.2); larger is refused.
    #[arg(long, env = "H2_MAX_HEADER_LIST_SIZE", default_value = "32K", value_parser = parse_h2_header_list)]
    pub h2_max_header_list_size: u32,

    // ---- Operations (src/middleware/, src/internal_server.rs; docs/operations.md) ----
    /// Seconds in-flight requests and streams get to finish after SIGTERM/SIGINT.
    #[arg(long, env = "DRAIN_TIMEOUT_SECS", default_value = "30", value_parser = parse_secs)]
    pub drain_timeout_secs: Duration,

    /// Address of the internal server (/health, /ready, /metrics, /config), e.g. 127.0.0.1:9090 [default: off].
    #[arg(long, env = "INTERNAL_ADDR", value_parser = parse_addr)]
    pub internal_addr: Option<SocketAddr>,

    /// One JSON line per request when 1.
    #[arg(long, env = "ACCESS_LOG", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub access_log: bool,

    /// File the access log is appended to [default: standard output].
    #[arg(long, env = "ACCESS_LOG_FILE")]
    pub access_log_file: Option<PathBuf>,

    /// Requests one client IP may make per RATE_WINDOW (0 = no limit).
    #[arg(long, env = "RATE_LIMIT", default_value = "0", value_parser = parse_u32)]
    pub rate_limit: u32,

    /// The rate limit's window (seconds, or e.g. 30s, 5m, 1h).
    #[arg(long, env = "RATE_WINDOW", default_value = "60", value_parser = parse_window)]
    pub rate_window: Duration,

    /// Most clients the rate limit keeps track of at once (bounds its memory).
    #[arg(long, env = "RATE_LIMIT_MAX_CLIENTS", default_value = "100000", value_parser = parse_count)]
    pub rate_limit_max_clients: usize,

    /// Directory of error pages ({code}.html) for 4xx/5xx answers [default: off].
    #[arg(long, env = "ERROR_PAGES_DIR")]
    pub error_pages_dir: Option<PathBuf>,

    /// Cache-Control max-age and Expires on static files (e.g. 3600, 1h, 7d, 1w, 1y; 0 or off = none).
    #[arg(long, env = "STATIC_CACHE_TTL", default_value = "0", value_parser = parse_cache_ttl)]
    pub static_cache_ttl: Duration,

    /// Compress responses with zstd, brotli or gzip when 1.
    #[arg(long, env = "COMPRESSION", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub compression: bool,

    /// Smallest response body that is compressed.
    #[arg(long, env = "COMPRESSION_MIN_SIZE", default_value = "1K", value_parser = parse_size)]
    pub compression_min_size: u64,

    /// Brotli quality (0-11).
    #[arg(long, env = "COMPRESSION_LEVEL_BR", default_value = "4", value_parser = parse_level_br)]
    pub compression_level_br: u32,

    /// zstd level (1-19).
    #[arg(long, env = "COMPRESSION_LEVEL_ZSTD", default_value = "3", value_parser = parse_level_zstd)]
    pub compression_level_zstd: i32,

    /// gzip level (1-9).
    #[arg(long, env = "COMPRESSION_LEVEL_GZIP", default_value = "6", value_parser = parse_level_gzip)]
    pub compression_level_gzip: u32,

    /// W3C Trace Context (traceparent), X-Request-ID and $_SERVER TRACE_ID, SPAN_ID, PARENT_SPAN_ID when 1.
    #[arg(long, env = "TRACE_CONTEXT", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub trace_context: bool,

    /// Proxies whose client-address header is believed: IP addresses and CIDR ranges, comma-separated (e.g. 10.0.0.0/8,::1) [default: none, the TCP peer is the client].
    #[arg(long, env = "TRUSTED_PROXIES", value_parser = parse_trusted_proxies)]
    pub trusted_proxies: Option<TrustedProxies>,

    /// The header a trusted proxy names the client in (X-Forwarded-For, or e.g. X-Real-IP).
    #[arg(long, env = "REAL_IP_HEADER", default_value = "X-Forwarded-For", value_parser = parse_header_name)]
    pub real_ip_header: String,

    // ---- Response cache (src/response_cache/; docs/response-cache.md) ----
    /// Memory for the response cache, which serves cacheable PHP responses without PHP (e.g. 256M; 0 = off).
    #[arg(long, env = "RESPONSE_CACHE_SIZE", default_value = "0", value_parser = parse_size)]
    pub response_cache_size: u64,

    /// Freshness of PHP responses that state none (no Cache-Control max-age/s-maxage, no Expires), like fastcgi_cache_valid (e.g. 60s, 10m; 0 = such responses are not cached).
    #[arg(long, env = "RESPONSE_CACHE_TTL", default_value = "0", value_parser = parse_duration)]
    pub response_cache_ttl: Duration,

    /// Cookie names whose presence sends a request to PHP, uncached: prefixes, or suffixes when written *suffix; comma-separated (empty = none).
    #[arg(long, env = "RESPONSE_CACHE_BYPASS_COOKIES", default_value = DEFAULT_BYPASS_COOKIES, value_parser = parse_cookie_list)]
    pub response_cache_bypass_cookies: CookieList,

    /// Response statuses that may be cached, comma-separated.
    #[arg(long, env = "RESPONSE_CACHE_STATUS", default_value = "200,301,404", value_parser = parse_status_list)]
    pub response_cache_status: StatusList,

    /// Largest response body the cache stores.
    #[arg(long, env = "RESPONSE_CACHE_MAX_ENTRY_SIZE", default_value = "1M", value_parser = parse_size)]
    pub response_cache_max_entry_size: u64,

    /// How long concurrent misses for one page wait for the request running PHP for it before running PHP themselves.
    #[arg(long, env = "RESPONSE_CACHE_LOCK_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub response_cache_lock_timeout: Duration,

    /// Send X-Cache (HIT, MISS, STALE, BYPASS, EXPIRED) on PHP responses while the cache is on, when 1.
    #[arg(long, env = "RESPONSE_CACHE_HEADER", action = ArgAction::Set, value_parser = parse_bool, default_value = "1")]
    pub response_cache_header: bool,
}

impl Config {
    /// Parses flags and environment; on a bad value prints one line and exits 2.
    pub fn from_env_and_args() -> Config {
        Self::parse_from_iter(std::env::args_os()).unwrap_or_else(|e| e.exit())
    }

    pub fn parse_from_iter<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let cfg = Config::try_parse_from(args).map_err(ConfigError::from_clap)?;
        cfg.validate()?;
        Ok(cfg)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        // With a configuration file the sites name their own roots (checked there).
        if self.config.is_none() && !self.document_root.is_dir() {
            return Err(ConfigError::line(format!(
                "DOCUMENT_ROOT={}: not a directory",
                self.document_root.display()
            )));
        }
        if let Some(p) = &self.php_ini {
            if !p.is_file() {
                return Err(ConfigError::line(format!(
                    "PHP_INI={}: not a readable file",
                    p.display()
                )));
            }
        }
        if let Some(CpuList(cpus)) = &self.cpu_affinity {
            let allowed = cpu_set::allowed();
            if let Some(bad) = cpus.iter().find(|c| !allowed.contains(c)) {
                return Err(ConfigError::line(format!(
                    "CPU_AFFINITY: CPU {bad} is not available to this process (allowed: {})",
                    cpu_set::format(&allowed)
                )));
            }
        }
        self.validate_operations()?;
        self.validate_worker()?;
        self.validate_sendfile()?;
        self.validate_tls()
    }

    /// WORKER_SCRIPT must be a file; the worker settings need it.
    fn validate_worker(&self) -> Result<(), ConfigError> {
        if self.worker_script.is_none() {
            for (set, var) in [
                (self.worker_count.is_some(), "WORKER_COUNT"),
                (self.worker_match.is_some(), "WORKER_MATCH"),
                (self.worker_watch.is_some(), "WORKER_WATCH"),
                (self.worker_max_requests > 0, "WORKER_MAX_REQUESTS"),
            ] {
                if set {
                    return Err(ConfigError::line(format!(
                        "{var}: needs WORKER_SCRIPT to be set"
                    )));
                }
            }
            return Ok(());
        }
        match self.worker_script_path() {
            Some(p) if p.is_file() => Ok(()),
            _ => {
                Err(ConfigError::line(format!(
                "WORKER_SCRIPT={}: not a readable file (absolute, or relative to DOCUMENT_ROOT)",
                self.worker_script.as_deref().unwrap_or(Path::new("")).display()
            )))
            }
        }
    }

    /// WORKER_SCRIPT resolved against DOCUMENT_ROOT, canonical when it exists.
    pub fn worker_script_path(&self) -> Option<PathBuf> {
        let p = self.worker_script.as_ref()?;
        let p = if p.is_absolute() {
            p.clone()
        } else {
            self.document_root.join(p)
        };
        Some(p.canonicalize().unwrap_or(p))
    }

    /// WORKER_COUNT, or PHP_WORKERS.
    pub fn worker_count(&self) -> usize {
        self.worker_count.unwrap_or_else(|| self.workers()).max(1)
    }

    /// Operations settings that name files and addresses.
    fn validate_operations(&self) -> Result<(), ConfigError> {
        if let Some(dir) = &self.error_pages_dir {
            if !dir.is_dir() {
                return Err(ConfigError::line(format!(
                    "ERROR_PAGES_DIR={}: not a directory",
                    dir.display()
                )));
            }
        }
        if let Some(path) = &self.access_log_file {
            if let Err(e) = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
            {
                return Err(ConfigError::line(format!(
                    "ACCESS_LOG_FILE={}: cannot open for appending: {e}",
                    path.display()
                )));
            }
        }
        if let Some(addr) = self.internal_addr {
            if addr.port() != 0 && addr == self.listen_addr {
                return Err(ConfigError::line(format!(
                    "INTERNAL_ADDR={addr}: the same address as LISTEN_ADDR; give the internal server its own port"
                )));
            }
        }
        Ok(())
    }

    /// The directories of INTERNAL_LOCATIONS and SENDFILE_ROOTS exist.
    fn validate_sendfile(&self) -> Result<(), ConfigError> {
        for (prefix, dir) in self.internal_locations() {
            if !dir.is_dir() {
                return Err(ConfigError::line(format!(
                    "INTERNAL_LOCATIONS: {prefix}={}: not a directory",
                    dir.display()
                )));
            }
        }
        for dir in self.sendfile_roots() {
            if !dir.is_dir() {
                return Err(ConfigError::line(format!(
                    "SENDFILE_ROOTS: {}: not a directory",
                    dir.display()
                )));
            }
        }
        Ok(())
    }

    pub fn internal_locations(&self) -> &[(String, PathBuf)] {
        self.internal_locations.as_ref().map_or(&[], |l| &l.0)
    }

    pub fn sendfile_roots(&self) -> &[PathBuf] {
        self.sendfile_roots.as_ref().map_or(&[], |r| &r.0)
    }

    /// STATIC_CACHE_TTL when set.
    pub fn static_cache_ttl(&self) -> Option<Duration> {
        (!self.static_cache_ttl.is_zero()).then_some(self.static_cache_ttl)
    }

    /// TLS settings that belong together, and the certificate and key themselves: a bad
    /// one refuses to start (never a silent fall back to plain HTTP).
    fn validate_tls(&self) -> Result<(), ConfigError> {
        if let Some(root) = &self.acme_ca_root {
            if !root.is_file() {
                return Err(ConfigError::line(format!(
                    "ACME_CA_ROOT={}: not a readable file",
                    root.display()
                )));
            }
        }
        if self.acme_domains.is_some() && self.tls_cert.is_some() {
            return Err(ConfigError::line(
                "ACME_DOMAINS and TLS_CERT: choose one (ACME obtains the certificate itself)"
                    .into(),
            ));
        }
        let Some(files) = self.tls_files() else {
            if self.config.is_some() || self.acme_domains.is_some() {
                // Sites may bring their certificates (checked with the file).
                return Ok(());
            }
            let needs = |var: &str| {
                ConfigError::line(format!("{var}: needs TLS_CERT (and TLS_KEY) to be set"))
            };
            if self.tls_key.is_some() {
                return Err(needs("TLS_KEY"));
            }
            if self.tls_listen_addr.is_some() {
                return Err(needs("TLS_LISTEN_ADDR"));
            }
            if self.redirect_http_to_https {
                return Err(needs("REDIRECT_HTTP_TO_HTTPS"));
            }
            return Ok(());
        };
        if let Some(tls) = self.tls_addr() {
            if tls.port() != 0 && tls == self.listen_addr {
                return Err(ConfigError::line(format!(
                    "TLS_LISTEN_ADDR={tls}: the same address as LISTEN_ADDR; give the TLS listener its own port"
                )));
            }
        }
        uring_http::tls::TlsAcceptor::check(&files)
            .map_err(|e| ConfigError::line(self.tls_error_line(&e)))
    }

    /// `TLS_CERT=/path: what is wrong`, naming the variable the file came from.
    pub fn tls_error_line(&self, e: &uring_http::tls::TlsError) -> String {
        match e.file {
            uring_http::tls::TlsFile::Cert => {
                format!("TLS_CERT={}: {}", e.path.display(), e.message)
            }
            uring_http::tls::TlsFile::Key if self.tls_key.is_none() => format!(
                "TLS_KEY: not set, and TLS_CERT={} has no usable key: {}",
                e.path.display(),
                e.message
            ),
            uring_http::tls::TlsFile::Key => format!("TLS_KEY={}: {}", e.path.display(), e.message),
        }
    }

    /// The certificate and key when TLS is on (TLS_CERT set; the key defaults to the same file).
    pub fn tls_files(&self) -> Option<uring_http::tls::TlsFiles> {
        let cert = self.tls_cert.clone()?;
        Some(uring_http::tls::TlsFiles {
            key: self.tls_key.clone().unwrap_or_else(|| cert.clone()),
            cert,
            min_version: match self.tls_min_version {
                TlsMinVersion::Tls12 => uring_http::tls::TlsVersion::Tls12,
                TlsMinVersion::Tls13 => uring_http::tls::TlsVersion::Tls13,
            },
        })
    }

    /// Where the TLS listener binds when TLS is on: TLS_LISTEN_ADDR, else LISTEN_ADDR's IP
    /// on port 8443 (port 0 when LISTEN_ADDR asks for an ephemeral port).
    pub fn tls_addr(&self) -> Option<SocketAddr> {
        self.tls_cert.as_ref()?;
        Some(self.tls_addr_if_on())
    }

    /// Where the TLS listener binds when something turns TLS on (TLS_CERT, or a site's
    /// certificate).
    pub fn tls_addr_if_on(&self) -> SocketAddr {
        self.tls_listen_addr.unwrap_or_else(|| {
            let port = if self.listen_addr.port() == 0 {
                0
            } else {
                8443
            };
            SocketAddr::new(self.listen_addr.ip(), port)
        })
    }

    pub fn executor(&self) -> Executor {
        if self.use_stub {
            Executor::Stub
        } else {
            self.executor
        }
    }

    /// The CPUs the cores run on.
    pub fn cpus(&self) -> Vec<usize> {
        self.cpu_affinity
            .clone()
            .map(|c| c.0)
            .unwrap_or_else(cpu_set::allowed)
    }

    pub fn workers(&self) -> usize {
        self.php_workers
            .unwrap_or_else(|| 2 * self.cpus().len())
            .max(1)
    }

    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity
            .unwrap_or_else(|| self.workers() * 100)
            .max(1)
    }

    pub fn request_timeout(&self) -> Option<Duration> {
        (!self.request_timeout.is_zero()).then_some(self.request_timeout)
    }

    pub fn sse_timeout(&self) -> Option<Duration> {
        (!self.sse_timeout.is_zero()).then_some(self.sse_timeout)
    }

    pub fn exec_limits(&self) -> crate::php::ExecLimits {
        crate::php::ExecLimits {
            spill_threshold: self.output_spill_threshold.max(4096) as usize,
            stream_buffer: self.stream_buffer_size.max(1024) as usize,
            stream_send_timeout: (!self.stream_send_timeout.is_zero())
                .then_some(self.stream_send_timeout),
            spill_budget: (self.spill_memory_limit > 0)
                .then(|| crate::php::SpillBudget::new(self.spill_memory_limit)),
        }
    }
}
