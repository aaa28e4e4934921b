//! The internal server (`INTERNAL_ADDR`, off by default): health, readiness, metrics and
//! the effective configuration, for orchestrators and scrapers — not for the public.
//!
//! It runs on its own thread with blocking std sockets and never touches the cores: it
//! only reads counters (summed over the cores at scrape time) and the pool's state.
//!
//! - `GET /health`: 200 and a small JSON document while the process runs (liveness).
//! - `GET /ready`: 200 when every PHP worker is alive and the queue is below 90 % of its
//!   capacity, a worker script (worker mode) is ready, and the server is not draining;
//!   503 with the reason otherwise.
//! - `GET /metrics`: Prometheus text format (see `crate::metrics_registry`).
//! - `GET /config`: the effective configuration as JSON; the value of any setting whose
//!   name contains KEY, SECRET, PASSWORD or TOKEN is redacted (files are never read).
//! - `POST /workers/restart`: worker mode's scripts start again, gracefully (as SIGUSR1).
//! - `PURGE`: removes entries from the response cache (see [`purge`]).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Map, Value};

use crate::config::Config;
use crate::metrics_registry::Metrics;
use crate::php::WorkerPool;
use crate::stop_signal::StopSignal;

/// Connections served at once; more get a 503 at once.
const MAX_CONNS: usize = 16;
const READ_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_HEAD: usize = 8 * 1024;
/// /ready fails at this share of the queue's capacity.
const QUEUE_SATURATED: f64 = 0.9;

pub struct InternalState {
    pub metrics: Arc<Metrics>,
    pub pool: Option<WorkerPool>,
    /// Worker mode's threads, when WORKER_SCRIPT is set.
    pub worker_pool: Option<WorkerPool>,
    pub stop: Arc<StopSignal>,
    /// /config, rendered once at start-up.
    pub config: String,
    /// The response cache, for PURGE (None when it is off).
    pub response_cache: Option<Arc<crate::response_cache::ResponseCache>>,
    pub started: Instant,
}

/// Binds `addr` (before the cores start, so a bad address fails the start-up).
pub fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    TcpListener::bind(addr).map_err(|e| format!("INTERNAL_ADDR={addr}: {e}"))
}

/// Serves on `listener` from a thread of its own, for the life of the process.
pub fn spawn(listener: TcpListener, state: Arc<InternalState>) -> Result<(), String> {
    let active = Arc::new(AtomicUsize::new(0));
    std::thread::Builder::new()
        .name("internal".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(mut stream) = conn else { continue };
                if active.fetch_add(1, Ordering::SeqCst) >= MAX_CONNS {
                    active.fetch_sub(1, Ordering::SeqCst);
                    let _ = respond(
                        &mut stream,
                        false,
                        503,
                        "text/plain; charset=utf-8",
                        b"busy\n",
                    );
                    continue;
                }
                let (state, active) = (Arc::clone(&state), Arc::clone(&active));
                let spawned = std::thread::Builder::new()
                    .name("internal-conn".into())
                    .spawn(move || {
                        serve(stream, &state);
                        active.fetch_sub(1, Ordering::SeqCst);
                    });
                if spawned.is_err() {
                    // The closure (and its stream) is gone; only the count is left to undo.
                    tracing::warn!("internal server: could not start a connection thread");
                }
            }
        })
        .map(|_| ())
        .map_err(|e| format!("starting the internal server: {e}"))
}

fn serve(mut stream: TcpStream, state: &InternalState) {
    let _ = stream.set_read_timeout(Some(READ_TIMEOUT));
    let _ = stream.set_write_timeout(Some(READ_TIMEOUT));
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > MAX_HEAD {
            let _ = respond(
                &mut stream,
                false,
                431,
                "text/plain; charset=utf-8",
                b"request header too large\n",
            );
            return;
        }
    }
    let line = buf.split(|&b| b == b'\n').next().unwrap_or(b"");
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let head = method == "HEAD";
    let path = target.split('?').next().unwrap_or("");
    let answered = match method {
        "POST" if path == "/workers/restart" => Some(restart_workers(state)),
        "PURGE" => Some(purge(&buf, target, state)),
        _ => None,
    };
    if let Some((status, body)) = answered {
        let _ = respond(
            &mut stream,
            false,
            status,
            "application/json",
            body.as_bytes(),
        );
        return;
    }
    if method != "GET" && !head {
        let _ = respond(
            &mut stream,
            head,
            405,
            "text/plain; charset=utf-8",
            b"only GET, HEAD and PURGE\n",
        );
        return;
    }
    let (status, content_type, body) = route(path, state);
    let _ = respond(&mut stream, head, status, content_type, body.as_bytes());
}

fn route(path: &str, state: &InternalState) -> (u16, &'static str, String) {
    const JSON: &str = "application/json";
    match path {
        "/health" => {
            let body = json!({
                "status": "ok",
                "version": env!("CARGO_PKG_VERSION"),
                "uptime_secs": state.started.elapsed().as_secs(),
                "draining": state.stop.is_triggered(),
            });
            (200, JSON, format!("{body}\n"))
        }
        "/ready" => {
            let (ready, reason) = readiness(state);
            let mut body = json!({ "ready": ready });
            if let Some(pool) = &state.pool {
                body["workers_alive"] = json!(pool.stats().alive.load(Ordering::Relaxed));
                body["workers"] = json!(pool.workers());
                body["queue_depth"] = json!(pool.queue_len());
                body["queue_capacity"] = json!(pool.queue_capacity());
            }
            if let Some(r) = reason {
                body["reason"] = json!(r);
            }
            (if ready { 200 } else { 503 }, JSON, format!("{body}\n"))
        }
        "/metrics" => (
            200,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics.render(),
        ),
        "/config" => (200, JSON, state.config.clone()),
        _ => (
            404,
            "text/plain; charset=utf-8",
            "not found: try /health, /ready, /metrics or /config\n".into(),
        ),
    }
}

/// POST /workers/restart: the worker scripts start again, gracefully (SIGUSR1 does the
/// same).
fn restart_workers(state: &InternalState) -> (u16, String) {
    match &state.worker_pool {
        Some(pool) => {
            tracing::info!("POST /workers/restart: restarting the worker scripts gracefully");
            pool.reload(crate::php::RestartCause::Reload);
            (
                200,
                format!("{}\n", json!({ "restarting": pool.workers() })),
            )
        }
        None => (
            404,
            format!(
                "{}\n",
                json!({ "error": "worker mode is off (WORKER_SCRIPT)" })
            ),
        ),
    }
}

/// `PURGE` (deploy scripts): with a `Cache-Tag` or `Surrogate-Key` header, those tags;
/// else the request target: `*` (everything), an absolute URL, or `/path?query` on every
/// host. Answers `{"purged": N}`.
fn purge(head: &[u8], target: &str, state: &InternalState) -> (u16, String) {
    let Some(cache) = &state.response_cache else {
        return (
            404,
            format!(
                "{}\n",
                json!({ "error": "the response cache is off (RESPONSE_CACHE_SIZE=0)" })
            ),
        );
    };
    let head = String::from_utf8_lossy(head);
    let tags: Vec<&str> = head
        .split("\r\n")
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .filter(|(name, _)| {
            let name = name.trim();
            name.eq_ignore_ascii_case("Cache-Tag") || name.eq_ignore_ascii_case("Surrogate-Key")
        })
        .flat_map(|(_, v)| v.split(|c: char| c == ',' || c.is_ascii_whitespace()))
        .filter(|t| !t.is_empty())
        .collect();
    let purged: u64 = if !tags.is_empty() {
        tags.iter().map(|t| cache.purge(t)).sum()
    } else if target == "*" || target.starts_with('/') || target.contains("://") {
        cache.purge(target)
    } else {
        return (
            400,
            format!(
                "{}\n",
                json!({ "error": "PURGE needs a path, a URL, * or a Cache-Tag header" })
            ),
        );
    };
    (200, format!("{}\n", json!({ "purged": purged })))
}

/// Ready unless draining, a PHP worker is missing, or the queue is (nearly) full.
pub fn readiness(state: &InternalState) -> (bool, Option<String>) {
    if state.stop.is_triggered() {
        return (false, Some("draining: the server is shutting down".into()));
    }
    if let Some(pool) = &state.pool {
        let alive = pool.stats().alive.load(Ordering::Relaxed);
        if alive < pool.workers() {
            return (
                false,
                Some(format!("{alive} of {} PHP workers alive", pool.workers())),
            );
        }
        let (len, cap) = (pool.queue_len(), pool.queue_capacity());
        if cap > 0 && len as f64 >= QUEUE_SATURATED * cap as f64 {
            return (false, Some(format!("PHP queue saturated: {len} of {cap}")));
        }
    }
    if let Some(mode) = state.worker_pool.as_ref().and_then(|p| p.worker_mode()) {
        if mode.stats().ready() == 0 {
            return (
                false,
                Some("no worker script has reached frankenphp_handle_request() yet".into()),
            );
        }
    }
    (true, None)
}

fn respond(
    stream: &mut TcpStream,
    head: bool,
    status: u16,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let reason = uring_http::h1::reason_phrase(status);
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if !head {
        out.extend_from_slice(body);
    }
    stream.write_all(&out)?;
    stream.flush()
}

/// Whether a setting's value must not be shown.
pub fn is_secret(name: &str) -> bool {
    let n = name.to_ascii_uppercase();
    ["KEY", "SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL"]
        .iter()
        .any(|s| n.contains(s))
}

const REDACTED: &str = "[redacted]";

/// The effective configuration as JSON: every setting by its environment variable with
/// its value and where it came from (default, env, flag), the values the server derived
/// (workers, queue, CPUs, ...), and the php.ini overrides. Secrets are redacted.
pub fn config_json(cfg: &Config) -> String {
    use clap::parser::ValueSource;
    use clap::CommandFactory;

    let mut settings = Map::new();
    let cmd = Config::command();
    // The arguments the settings came from: the configuration file's `[server]` as
    // flags, then the command line's.
    let args = if cfg.effective_args.is_empty() {
        std::env::args_os().collect()
    } else {
        cfg.effective_args.clone()
    };
    match cmd.clone().try_get_matches_from(args) {
        Ok(matches) => {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if id == "help" || id == "version" {
                    continue;
                }
                let name = arg
                    .get_env()
                    .map(|e| e.to_string_lossy().into_owned())
                    .or_else(|| arg.get_long().map(|l| format!("--{l}")))
                    .unwrap_or_else(|| id.to_string());
                let values: Vec<String> = matches
                    .get_raw(id)
                    .map(|v| v.map(|s| s.to_string_lossy().into_owned()).collect())
                    .unwrap_or_default();
                let value = if values.is_empty() {
                    Value::Null
                } else if is_secret(&name) {
                    json!(REDACTED)
                } else if id == "php_define" {
                    json!(values
                        .iter()
                        .map(|d| match d.split_once('=') {
                            Some((k, _)) if is_secret(k) => format!("{k}={REDACTED}"),
                            _ => d.clone(),
                        })
                        .collect::<Vec<_>>())
                } else if values.len() == 1 {
                    json!(values[0])
                } else {
                    json!(values)
                };
                let source = match matches.value_source(id) {
                    Some(ValueSource::DefaultValue) => "default",
                    Some(ValueSource::EnvVariable) => "env",
                    Some(ValueSource::CommandLine) => "flag",
                    _ => "unset",
                };
                settings.insert(name, json!({ "value": value, "source": source }));
            }
        }
        Err(_) => {
            settings.insert("debug".into(), json!(format!("{cfg:?}")));
        }
    }
    let php_ini: Map<String, Value> = cfg
        .ini()
        .overrides
        .into_iter()
        .map(|(k, v)| {
            let v = if is_secret(&k) {
                REDACTED.to_string()
            } else {
                v
            };
            (k, json!(v))
        })
        .collect();
    let doc = json!({
        "version": env!("CARGO_PKG_VERSION"),
        "settings": settings,
        "effective": {
            "php_workers": cfg.workers(),
            "queue_capacity": cfg.queue_capacity(),
            "cpus": cfg.cpus(),
            "executor": format!("{:?}", cfg.executor()).to_lowercase(),
            "tls_listen_addr": cfg.tls_addr().map(|a| a.to_string()),
            "request_timeout_secs": cfg.request_timeout().map(|d| d.as_secs_f64()),
            "static_cache_ttl_secs": cfg.static_cache_ttl().map(|d| d.as_secs()),
            "drain_timeout_secs": cfg.drain_timeout_secs.as_secs(),
        },
        "php_ini_overrides": php_ini,
    });
    format!("{doc:#}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets() {
        for n in [
            "TLS_KEY",
            "API_TOKEN",
            "db.password",
            "AWS_SECRET_ACCESS_KEY",
            "redis_passwd",
        ] {
            assert!(is_secret(n), "{n}");
        }
        for n in ["TLS_CERT", "LISTEN_ADDR", "PHP_WORKERS"] {
            assert!(!is_secret(n), "{n}");
        }
    }
}
