//! Configuration: every setting is an environment variable (tokio_php's names where one
//! exists) and a `--flag`. A bad value is one line naming the variable, exit code 2.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{ArgAction, Parser, ValueEnum};

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
    #[arg(long, env = "RESPONSE_CACHE_BYPASS_COOKIES", default_value = crate::response_cache::DEFAULT_BYPASS_COOKIES, value_parser = parse_cookie_list)]
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

/// RESPONSE_CACHE_BYPASS_COOKIES, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieList(pub Vec<String>);

impl std::ops::Deref for CookieList {
    type Target = Vec<String>;
    fn deref(&self) -> &Vec<String> {
        &self.0
    }
}

/// RESPONSE_CACHE_STATUS, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList(pub Vec<u16>);

impl std::ops::Deref for StatusList {
    type Target = Vec<u16>;
    fn deref(&self) -> &Vec<u16> {
        &self.0
    }
}

fn parse_cookie_list(s: &str) -> Result<CookieList, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let name = item.strip_prefix('*').unwrap_or(item);
        if name
            .bytes()
            .any(|b| b <= b' ' || b"=;,\"\\".contains(&b) || b >= 0x7f)
        {
            return Err(format!(
                "{item:?} is not a cookie name: expected comma-separated names or prefixes, *suffix for suffixes"
            ));
        }
        out.push(item.to_string());
    }
    Ok(CookieList(out))
}

fn parse_status_list(s: &str) -> Result<StatusList, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.parse::<u16>() {
            Ok(n) if (200..600).contains(&n) => out.push(n),
            _ => {
                return Err(format!(
                "{item:?}: expected comma-separated status codes from 200 to 599, e.g. 200,301,404"
            ))
            }
        }
    }
    Ok(StatusList(out))
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

/// A configuration error: either clap's own output (help, version) or one line.
#[derive(Debug)]
pub enum ConfigError {
    Clap(clap::Error),
    Line(String),
}

impl ConfigError {
    pub(crate) fn line(s: String) -> Self {
        ConfigError::Line(s)
    }

    pub(crate) fn from_clap(e: clap::Error) -> Self {
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ConfigError::Clap(e),
            ErrorKind::ValueValidation | ErrorKind::InvalidValue => {
                let arg = match e.get(ContextKind::InvalidArg) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => String::from("a setting"),
                };
                let value = match e.get(ContextKind::InvalidValue) {
                    Some(ContextValue::String(s)) => s.clone(),
                    _ => String::new(),
                };
                let why = match e.get(ContextKind::ValidValue) {
                    Some(ContextValue::Strings(v)) => format!("expected one of {}", v.join(", ")),
                    _ => std::error::Error::source(&e)
                        .map(|s| s.to_string())
                        .unwrap_or_else(|| "invalid value".into()),
                };
                ConfigError::Line(format!("{}={value:?}: {why}", env_name(&arg)))
            }
            _ => {
                let text = e.to_string();
                let first = text
                    .lines()
                    .next()
                    .unwrap_or("invalid arguments")
                    .trim_start_matches("error: ");
                ConfigError::Line(first.to_string())
            }
        }
    }

    /// Prints the message and exits: 0 for help/version, 2 otherwise.
    pub fn exit(self) -> ! {
        match self {
            ConfigError::Clap(e) => e.exit(),
            ConfigError::Line(s) => {
                eprintln!("uring_php: {s}");
                std::process::exit(2)
            }
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ConfigError::Clap(e) => write!(f, "{e}"),
            ConfigError::Line(s) => f.write_str(s),
        }
    }
}

/// `--php-workers <PHP_WORKERS>` → `PHP_WORKERS (--php-workers)`.
fn env_name(arg: &str) -> String {
    let flag = arg.split_whitespace().next().unwrap_or(arg);
    let env = flag
        .trim_start_matches('-')
        .replace('-', "_")
        .to_ascii_uppercase();
    format!("{env} ({flag})")
}

/// A CPU list (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

fn parse_cpus(s: &str) -> Result<CpuList, String> {
    cpu_set::parse(s).map(CpuList)
}

/// Trusted proxy networks (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

fn parse_trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("expected IP addresses or CIDR ranges like 10.0.0.0/8,::1 (not {p:?})")
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(TrustedProxies)
}

/// INTERNAL_LOCATIONS: (URI prefix ending in `/`, directory) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalLocations(pub Vec<(String, PathBuf)>);

fn parse_internal_locations(s: &str) -> Result<InternalLocations, String> {
    let err = |item: &str| {
        format!("expected /prefix/=/directory pairs, comma-separated, like /protected/=/srv/files/ (not {item:?})")
    };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|item| {
            let (prefix, dir) = item.split_once('=').ok_or_else(|| err(item))?;
            let (prefix, dir) = (prefix.trim(), dir.trim());
            if !prefix.starts_with('/') || prefix.contains("..") || !dir.starts_with('/') {
                return Err(err(item));
            }
            let mut prefix = prefix.to_string();
            if !prefix.ends_with('/') {
                prefix.push('/');
            }
            Ok((prefix, PathBuf::from(dir)))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(InternalLocations)
}

/// Host names (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domains(pub Vec<String>);

fn parse_domains(s: &str) -> Result<Domains, String> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            crate::sites::hosts::normalize_pattern(d)
                .filter(|d| !d.starts_with('*'))
                .ok_or_else(|| format!("expected host names like example.com,www.example.com (not {d:?}; wildcards need DNS-01, which is not supported)"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Domains)
}

/// SENDFILE_ROOTS: absolute directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendfileRoots(pub Vec<PathBuf>);

fn parse_sendfile_roots(s: &str) -> Result<SendfileRoots, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') {
                Ok(PathBuf::from(p))
            } else {
                Err(format!(
                    "expected absolute directories, comma-separated (not {p:?})"
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(SendfileRoots)
}

fn parse_header_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err("expected a header name like X-Forwarded-For".into())
    }
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "expected an address like 0.0.0.0:8080 or [::]:8080".to_string())
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

fn parse_u32_min1(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

/// An HTTP/2 flow-control window: 1 byte to 2^31-1 (RFC 9113 §6.9.1).
fn parse_h2_window(s: &str) -> Result<u32, String> {
    match parse_size(s) {
        Ok(n) if (1..=(1u64 << 31) - 1).contains(&n) => Ok(n as u32),
        _ => Err("expected a size from 1 to 2147483647 bytes (K and M suffixes allowed)".into()),
    }
}

/// SETTINGS_MAX_FRAME_SIZE: 16384 to 16777215 (RFC 9113 §6.5.2).
fn parse_h2_frame(s: &str) -> Result<u32, String> {
    match parse_size(s) {
        Ok(n) if (16_384..=16_777_215).contains(&n) => Ok(n as u32),
        _ => Err("expected a size from 16K to 16777215 bytes".into()),
    }
}

fn parse_h2_header_list(s: &str) -> Result<u32, String> {
    match parse_size(s) {
        Ok(n) if (1024..=(16 << 20)).contains(&n) => Ok(n as u32),
        _ => Err("expected a size from 1K to 16M".into()),
    }
}

fn parse_u32(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| "expected a whole number ≥ 0".into())
}

/// A duration of at least one second (a bare number is seconds).
pub(crate) fn parse_window(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Ok(d) if d >= Duration::from_secs(1) => Ok(Duration::from_secs(d.as_secs())),
        _ => Err("expected a duration of at least 1 second, like 60, 30s, 5m or 1h".into()),
    }
}

/// `3600`, `30s`, `1h`, `7d`, `1w`, `1y`, `0` or `off`. `m` is refused: tokio_php reads
/// `1m` as a month where every other duration here reads it as a minute.
pub(crate) fn parse_cache_ttl(s: &str) -> Result<Duration, String> {
    let s = s.trim().to_ascii_lowercase();
    if s == "off" || s.is_empty() {
        return Ok(Duration::ZERO);
    }
    let err = || "expected a duration like 3600, 1h, 7d, 1w, 1y, or 0/off".to_string();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s.as_str(), ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| err())?;
    let mult = match unit {
        "" | "s" => 1,
        "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        "m" => return Err("ambiguous unit m (minute or month?): write 60s, 1h or 30d".into()),
        _ => return Err(err()),
    };
    n.checked_mul(mult).map(Duration::from_secs).ok_or_else(err)
}

fn parse_level(s: &str, lo: i64, hi: i64) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("expected a level from {lo} to {hi}")),
    }
}

fn parse_level_br(s: &str) -> Result<u32, String> {
    parse_level(s, 0, 11).map(|n| n as u32)
}

fn parse_level_zstd(s: &str) -> Result<i32, String> {
    parse_level(s, 1, 19).map(|n| n as i32)
}

fn parse_level_gzip(s: &str) -> Result<u32, String> {
    parse_level(s, 1, 9).map(|n| n as u32)
}

fn parse_u64(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| "expected a whole number ≥ 0".into())
}

fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected 1 or 0".into()),
    }
}

fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
        _ => Err("expected whole seconds ≥ 1".into()),
    }
}

/// `30s`, `2m`, `1h`, `500ms`, a bare number of seconds, or `0` (off).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let err = || "expected a duration like 30s, 2m, 1h, 500ms or 0 (off)".to_string();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| err())?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        "h" => Ok(Duration::from_secs(n * 3600)),
        _ => Err(err()),
    }
}

/// Bytes with an optional K, M or G suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let err = || "expected a size in bytes, optionally with K, M or G (e.g. 8M)".to_string();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| err())?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(err()),
    };
    n.checked_mul(mult).ok_or_else(err)
}

pub(crate) fn parse_index_file(s: &str) -> Result<String, String> {
    let s = s.trim().trim_start_matches('/');
    if s.is_empty() || s.contains("..") || s.contains('\0') {
        return Err("expected a file name inside DOCUMENT_ROOT, e.g. index.php".into());
    }
    Ok(s.to_string())
}

fn parse_worker_match(s: &str) -> Result<crate::worker_match::WorkerMatch, String> {
    crate::worker_match::WorkerMatch::parse(s)
}

fn parse_worker_watch(s: &str) -> Result<crate::worker_watch::WatchList, String> {
    crate::worker_watch::WatchList::parse(s)
}

fn parse_define(s: &str) -> Result<(String, String), String> {
    crate::php::IniConfig::parse_define(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Config, ConfigError> {
        let mut v = vec!["uring_php", "--document-root", "/"];
        v.extend_from_slice(args);
        Config::parse_from_iter(v)
    }

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("30s").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("soon").is_err());
        assert_eq!(parse_size("8M").unwrap(), 8 << 20);
        assert_eq!(parse_size("1024").unwrap(), 1024);
        assert!(parse_size("8X").is_err());
    }

    #[test]
    fn bad_values_name_the_variable_on_one_line() {
        let e = parse(&["--php-workers", "zero"]).unwrap_err().to_string();
        assert!(
            e.starts_with("PHP_WORKERS (--php-workers)=\"zero\": expected a whole number"),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let e = parse(&["--request-timeout", "soon"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("REQUEST_TIMEOUT"), "{e}");
        let e = parse(&["--executor", "java"]).unwrap_err().to_string();
        assert!(
            e.starts_with("EXECUTOR (--executor)=\"java\": expected one of php, stub"),
            "{e}"
        );
    }

    #[test]
    fn trusted_proxies_and_header() {
        let c = parse(&["--trusted-proxies", "10.0.0.0/8, ::1,192.168.1.7"]).unwrap();
        let nets = c.trusted_proxies.unwrap().0;
        assert_eq!(nets.len(), 3);
        assert!(nets[2].contains(&"192.168.1.7".parse::<std::net::IpAddr>().unwrap()));
        assert_eq!(c.real_ip_header, "X-Forwarded-For");
        let e = parse(&["--trusted-proxies", "10.0.0.0/33"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("TRUSTED_PROXIES"), "{e}");
        assert!(!e.contains('\n'));
        let e = parse(&["--real-ip-header", "X Bad"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("REAL_IP_HEADER"), "{e}");
    }

    #[test]
    fn defaults_follow_the_cpus() {
        let c = parse(&["--cpu-affinity", "0"]).unwrap();
        assert_eq!(c.workers(), 2);
        assert_eq!(c.queue_capacity(), 200);
        let c = parse(&["--php-workers", "3"]).unwrap();
        assert_eq!(c.queue_capacity(), 300);
    }

    #[test]
    fn tls_settings_are_checked_up_front() {
        let e = parse(&["--tls-key", "/k.pem"]).unwrap_err().to_string();
        assert_eq!(e, "TLS_KEY: needs TLS_CERT (and TLS_KEY) to be set");
        let e = parse(&["--redirect-http-to-https", "1"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("REDIRECT_HTTP_TO_HTTPS: needs TLS_CERT"),
            "{e}"
        );
        let e = parse(&[
            "--tls-cert",
            "/nonexistent/c.pem",
            "--tls-key",
            "/nonexistent/k.pem",
        ])
        .unwrap_err()
        .to_string();
        assert_eq!(e, "TLS_CERT=/nonexistent/c.pem: no such file");
        let e = parse(&["--tls-min-version", "1.1"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("TLS_MIN_VERSION (--tls-min-version)=\"1.1\": expected one of 1.2, 1.3"),
            "{e}"
        );
        let e = parse(&["--h2-max-frame-size", "1K"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("H2_MAX_FRAME_SIZE"), "{e}");
        let c = parse(&["--listen-addr", "127.0.0.1:8080"]).unwrap();
        assert_eq!(c.tls_addr(), None);
        assert_eq!(c.h2_initial_window_size, 1 << 20);
    }

    #[test]
    fn operations_settings() {
        let c = parse(&[]).unwrap();
        assert_eq!(c.drain_timeout_secs, Duration::from_secs(30));
        assert_eq!(c.static_cache_ttl(), None);
        assert!(!c.compression && !c.access_log && !c.trace_context && c.internal_addr.is_none());
        assert_eq!(c.rate_limit, 0);
        let c = parse(&[
            "--static-cache-ttl",
            "7d",
            "--rate-window",
            "2m",
            "--compression-level-br",
            "11",
        ])
        .unwrap();
        assert_eq!(c.static_cache_ttl(), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(c.rate_window, Duration::from_secs(120));
        assert_eq!(
            parse(&["--static-cache-ttl", "off"])
                .unwrap()
                .static_cache_ttl(),
            None
        );
        let e = parse(&["--static-cache-ttl", "1m"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("STATIC_CACHE_TTL (--static-cache-ttl)=\"1m\": ambiguous"),
            "{e}"
        );
        let e = parse(&["--compression-level-zstd", "30"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("COMPRESSION_LEVEL_ZSTD"), "{e}");
        let e = parse(&["--rate-window", "0"]).unwrap_err().to_string();
        assert!(e.starts_with("RATE_WINDOW"), "{e}");
        let e = parse(&["--error-pages-dir", "/nonexistent"])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "ERROR_PAGES_DIR=/nonexistent: not a directory");
        let e = parse(&["--access-log-file", "/nonexistent/dir/a.log"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("ACCESS_LOG_FILE=/nonexistent/dir/a.log: cannot open"),
            "{e}"
        );
        let e = parse(&[
            "--listen-addr",
            "127.0.0.1:8080",
            "--internal-addr",
            "127.0.0.1:8080",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("INTERNAL_ADDR=127.0.0.1:8080: the same address"),
            "{e}"
        );
        let e = parse(&["--drain-timeout-secs", "0"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("DRAIN_TIMEOUT_SECS"), "{e}");
    }

    #[test]
    fn worker_settings() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("worker.php"), "<?php").unwrap();
        let root = dir.path().to_str().unwrap();
        let c = Config::parse_from_iter([
            "uring_php",
            "--document-root",
            root,
            "--worker-script",
            "worker.php",
        ])
        .unwrap();
        assert_eq!(
            c.worker_script_path().unwrap(),
            dir.path().canonicalize().unwrap().join("worker.php")
        );
        assert_eq!(c.worker_count(), c.workers());
        let e = Config::parse_from_iter([
            "uring_php",
            "--document-root",
            root,
            "--worker-script",
            "nope.php",
        ])
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("WORKER_SCRIPT=nope.php: not a readable file"),
            "{e}"
        );
        let e = parse(&["--worker-count", "2"]).unwrap_err().to_string();
        assert_eq!(e, "WORKER_COUNT: needs WORKER_SCRIPT to be set");
        let e = parse(&["--worker-match", "api"]).unwrap_err().to_string();
        assert!(
            e.starts_with("WORKER_MATCH (--worker-match)=\"api\": expected URL path"),
            "{e}"
        );
    }

    #[test]
    fn sendfile_settings() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().display().to_string();
        let c = parse(&[
            "--internal-locations",
            &format!("/protected/={dir}, /dl={dir}"),
            "--sendfile-roots",
            &format!("{dir},/"),
        ])
        .unwrap();
        assert_eq!(
            c.internal_locations(),
            [
                ("/protected/".to_string(), d.path().to_path_buf()),
                ("/dl/".to_string(), d.path().to_path_buf())
            ]
        );
        assert_eq!(c.sendfile_roots().len(), 2);
        let e = parse(&["--internal-locations", "protected=/srv"])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("INTERNAL_LOCATIONS (--internal-locations)="),
            "{e}"
        );
        let e = parse(&["--internal-locations", "/p/=/nonexistent"])
            .unwrap_err()
            .to_string();
        assert_eq!(e, "INTERNAL_LOCATIONS: /p/=/nonexistent: not a directory");
        let e = parse(&["--sendfile-roots", "relative/dir"])
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("SENDFILE_ROOTS (--sendfile-roots)="), "{e}");
    }

    #[test]
    fn stub_alias() {
        assert_eq!(
            parse(&["--use-stub", "1"]).unwrap().executor(),
            Executor::Stub
        );
        assert_eq!(parse(&[]).unwrap().executor(), Executor::Php);
    }
}
