//! Configuration: every setting is an environment variable (tokio_php's names where one
//! exists) and a `--flag`. A bad value is one line naming the variable, exit code 2.

use std::net::SocketAddr;
use std::path::PathBuf;
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
    version,
    about = "A thread-per-core io_uring web server that runs PHP in-process",
    after_help = "Every option can also be given as the environment variable shown in brackets."
)]
pub struct Config {
    /// Address to listen on for HTTP.
    #[arg(long, env = "LISTEN_ADDR", default_value = "0.0.0.0:8080", value_parser = parse_addr)]
    pub listen_addr: SocketAddr,

    /// Directory the site is served from.
    #[arg(long, env = "DOCUMENT_ROOT", default_value = "/var/www/html")]
    pub document_root: PathBuf,

    /// Front-controller script (e.g. index.php): every path that is not an existing file
    /// is sent to it, as nginx's `try_files $uri /index.php$is_args$args`.
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

    /// Longest life of a streamed response (flush(), SSE) before the server ends it (0 = no limit).
    #[arg(long, env = "SSE_TIMEOUT", default_value = "30m", value_parser = parse_duration)]
    pub sse_timeout: Duration,

    /// Streamed output that may wait unsent per request; beyond it the script's flush() blocks.
    #[arg(long, env = "STREAM_BUFFER_SIZE", default_value = "1M", value_parser = parse_size)]
    pub stream_buffer_size: u64,

    /// PHP output above this size is kept in a memfd rather than on the heap.
    #[arg(long, env = "OUTPUT_SPILL_THRESHOLD", default_value = "1M", value_parser = parse_size)]
    pub output_spill_threshold: u64,

    /// Add a Server-Timing header (queue wait, PHP execution, total) to PHP responses when 1.
    #[arg(long, env = "SERVER_TIMING", action = ArgAction::Set, value_parser = parse_bool, default_value = "0")]
    pub server_timing: bool,
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
        if !self.document_root.is_dir() {
            return Err(ConfigError::line(format!(
                "DOCUMENT_ROOT={}: not a directory",
                self.document_root.display()
            )));
        }
        if let Some(p) = &self.php_ini {
            if !p.is_file() {
                return Err(ConfigError::line(format!("PHP_INI={}: not a readable file", p.display())));
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
        Ok(())
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
        self.cpu_affinity.clone().map(|c| c.0).unwrap_or_else(cpu_set::allowed)
    }

    pub fn workers(&self) -> usize {
        self.php_workers.unwrap_or_else(|| 2 * self.cpus().len()).max(1)
    }

    pub fn queue_capacity(&self) -> usize {
        self.queue_capacity.unwrap_or_else(|| self.workers() * 100).max(1)
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
    fn line(s: String) -> Self {
        ConfigError::Line(s)
    }

    fn from_clap(e: clap::Error) -> Self {
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
                    _ => std::error::Error::source(&e).map(|s| s.to_string()).unwrap_or_else(|| "invalid value".into()),
                };
                ConfigError::Line(format!("{}={value:?}: {why}", env_name(&arg)))
            }
            _ => {
                let text = e.to_string();
                let first = text.lines().next().unwrap_or("invalid arguments").trim_start_matches("error: ");
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
    let env = flag.trim_start_matches('-').replace('-', "_").to_ascii_uppercase();
    format!("{env} ({flag})")
}

/// A CPU list (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

fn parse_cpus(s: &str) -> Result<CpuList, String> {
    cpu_set::parse(s).map(CpuList)
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse().map_err(|_| "expected an address like 0.0.0.0:8080 or [::]:8080".to_string())
}

fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

fn parse_u64(s: &str) -> Result<u64, String> {
    s.trim().parse::<u64>().map_err(|_| "expected a whole number ≥ 0".into())
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
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, ""), |i| s.split_at(i));
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
    let (num, unit) = s.find(|c: char| !c.is_ascii_digit()).map_or((s, ""), |i| s.split_at(i));
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

fn parse_index_file(s: &str) -> Result<String, String> {
    let s = s.trim().trim_start_matches('/');
    if s.is_empty() || s.contains("..") || s.contains('\0') {
        return Err("expected a file name inside DOCUMENT_ROOT, e.g. index.php".into());
    }
    Ok(s.to_string())
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
        assert!(e.starts_with("PHP_WORKERS (--php-workers)=\"zero\": expected a whole number"), "{e}");
        assert!(!e.contains('\n'));
        let e = parse(&["--request-timeout", "soon"]).unwrap_err().to_string();
        assert!(e.starts_with("REQUEST_TIMEOUT"), "{e}");
        let e = parse(&["--executor", "java"]).unwrap_err().to_string();
        assert!(e.starts_with("EXECUTOR (--executor)=\"java\": expected one of php, stub"), "{e}");
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
    fn stub_alias() {
        assert_eq!(parse(&["--use-stub", "1"]).unwrap().executor(), Executor::Stub);
        assert_eq!(parse(&[]).unwrap().executor(), Executor::Php);
    }
}
