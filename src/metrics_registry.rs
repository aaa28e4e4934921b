//! The metrics registry behind `/metrics` (Prometheus text format, version 0.0.4): the
//! per-core counters, and their rendering with the rest of the server's figures. The
//! middleware that counts requests into them is `crate::middleware::metrics`.
//!
//! Each core owns a [`CoreMetrics`]: plain `AtomicU64`s that only that core writes
//! (a relaxed load and store, no locked instruction, no shared cache line), which the
//! internal server reads and sums when scraped. Gauges that go up and down (open
//! connections, active streams) are kept as two counters, opened and closed, so they too
//! have a single writer. The PHP pool's own counters come from its `PoolStats`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use uring_http::Method;

use crate::php::WorkerPool;

pub use crate::counter::Counter;

/// Upper bounds of the duration histograms' buckets, in seconds.
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BUCKETS_US: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// A duration histogram; buckets are kept non-cumulative and summed up when rendered.
#[derive(Default)]
pub struct Histogram {
    /// One per bound, plus +Inf.
    buckets: [Counter; 15],
    sum_us: Counter,
}

impl Histogram {
    #[inline]
    pub fn observe_us(&self, us: u64) {
        let i = BUCKETS_US
            .iter()
            .position(|&b| us <= b)
            .unwrap_or(BUCKETS_US.len());
        self.buckets[i].inc();
        self.sum_us.add(us);
    }
}

/// Methods with their own label value; everything else is `OTHER`.
pub const METHODS: [&str; 9] = [
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "QUERY", "OTHER",
];

pub fn method_index(m: &Method) -> usize {
    match m {
        Method::Get => 0,
        Method::Head => 1,
        Method::Post => 2,
        Method::Put => 3,
        Method::Patch => 4,
        Method::Delete => 5,
        Method::Options => 6,
        Method::Query => 7,
        _ => 8,
    }
}

/// Status classes 1xx to 5xx.
pub const CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

fn class_index(status: u16) -> usize {
    (status / 100).clamp(1, 5) as usize - 1
}

/// What a connection was accepted as. Cleartext connections carry HTTP/1.x or h2c (the
/// protocol layer decides after the first bytes); TLS ones HTTP/1.1 or h2 by ALPN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnProto {
    Http,
    Tls,
}

pub const PROTOS: [&str; 2] = ["http", "tls"];

/// One core's counters. Only that core writes them.
#[derive(Default)]
#[repr(align(128))]
pub struct CoreMetrics {
    requests: [[Counter; 5]; 9],
    pub duration: Histogram,
    pub php_duration: Histogram,
    conns_opened: [Counter; 2],
    conns_closed: [Counter; 2],
    /// Of those, connections that speak HTTP/2 (h2 by ALPN, or h2c).
    http2_opened: Counter,
    http2_closed: Counter,
    pub bytes_in: Counter,
    pub bytes_out: Counter,
    pub rate_limited: Counter,
    pub dropped: Counter,
    pub streams_started: Counter,
    pub streams_ended: Counter,
    /// The response cache's counters (src/response_cache/stats.rs).
    pub response_cache: crate::response_cache::CacheCounters,
}

impl CoreMetrics {
    #[inline]
    pub fn request(&self, method: usize, status: u16) {
        self.requests[method.min(8)][class_index(status)].inc();
    }

    /// A connection was accepted (call from the core that serves it).
    pub fn conn_opened(&self, proto: ConnProto) {
        self.conns_opened[proto as usize].inc();
    }

    /// A connection ended (same core).
    pub fn conn_closed(&self, proto: ConnProto) {
        self.conns_closed[proto as usize].inc();
    }

    /// A connection of this core turned to HTTP/2 (`true`) or that connection ended.
    pub fn http2_connection(&self, open: bool) {
        if open {
            self.http2_opened.inc();
        } else {
            self.http2_closed.inc();
        }
    }

    /// Counts the connection open until the guard is dropped.
    pub fn conn_guard(self: &Arc<Self>, proto: ConnProto) -> ConnGuard {
        self.conn_opened(proto);
        ConnGuard {
            metrics: Arc::clone(self),
            proto,
        }
    }
}

pub struct ConnGuard {
    metrics: Arc<CoreMetrics>,
    proto: ConnProto,
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        self.metrics.conn_closed(self.proto);
    }
}

/// Every core's metrics plus what the rest of the server knows; renders `/metrics`.
pub struct Metrics {
    cores: Vec<Arc<CoreMetrics>>,
    pool: Option<WorkerPool>,
    /// Worker mode's threads (WORKER_SCRIPT), when on.
    pub worker_pool: Option<WorkerPool>,
    started: Instant,
    /// Access log lines dropped because the writer fell behind (set by the access log).
    pub access_log_dropped: Option<Arc<AtomicU64>>,
    /// The response cache, when it is on.
    pub response_cache: Option<Arc<crate::response_cache::ResponseCache>>,
}

impl Metrics {
    pub fn new(cores: usize, pool: Option<WorkerPool>) -> Metrics {
        Metrics {
            cores: (0..cores)
                .map(|_| Arc::new(CoreMetrics::default()))
                .collect(),
            pool,
            worker_pool: None,
            started: Instant::now(),
            access_log_dropped: None,
            response_cache: None,
        }
    }

    pub fn core(&self, index: usize) -> Arc<CoreMetrics> {
        Arc::clone(&self.cores[index % self.cores.len()])
    }

    fn sum(&self, f: impl Fn(&CoreMetrics) -> u64) -> u64 {
        self.cores.iter().map(|c| f(c)).sum()
    }

    /// The Prometheus text exposition of everything.
    pub fn render(&self) -> String {
        let mut o = String::with_capacity(8 * 1024);
        let _ = self.render_into(&mut o);
        o
    }

    fn render_into(&self, o: &mut String) -> std::fmt::Result {
        header(o, "uring_php_info", "gauge", "Build information.")?;
        writeln!(
            o,
            "uring_php_info{{version=\"{}\"}} 1",
            env!("CARGO_PKG_VERSION")
        )?;
        header(
            o,
            "uring_php_uptime_seconds",
            "gauge",
            "Seconds since the server started.",
        )?;
        writeln!(
            o,
            "uring_php_uptime_seconds {:.3}",
            self.started.elapsed().as_secs_f64()
        )?;

        header(
            o,
            "uring_php_requests_total",
            "counter",
            "Requests answered, by method and status class.",
        )?;
        for (m, method) in METHODS.iter().enumerate() {
            for (c, class) in CLASSES.iter().enumerate() {
                let n = self.sum(|x| x.requests[m][c].get());
                if n > 0 || (m == 0 && c == 1) {
                    writeln!(
                        o,
                        "uring_php_requests_total{{method=\"{method}\",status=\"{class}\"}} {n}"
                    )?;
                }
            }
        }
        self.histogram(
            o,
            "uring_php_request_duration_seconds",
            "Time from a request's arrival until its response was ready to send (streams: until the head).",
            |c| &c.duration,
        )?;
        self.histogram(
            o,
            "uring_php_php_duration_seconds",
            "Time PHP spent executing a request (on the worker, queue wait excluded).",
            |c| &c.php_duration,
        )?;

        header(
            o,
            "uring_php_received_body_bytes_total",
            "counter",
            "Request body bytes received.",
        )?;
        writeln!(
            o,
            "uring_php_received_body_bytes_total {}",
            self.sum(|c| c.bytes_in.get())
        )?;
        header(
            o,
            "uring_php_sent_body_bytes_total",
            "counter",
            "Response body bytes sent (after compression).",
        )?;
        writeln!(
            o,
            "uring_php_sent_body_bytes_total {}",
            self.sum(|c| c.bytes_out.get())
        )?;
        header(
            o,
            "uring_php_rate_limited_total",
            "counter",
            "Requests refused with 429 by RATE_LIMIT.",
        )?;
        writeln!(
            o,
            "uring_php_rate_limited_total {}",
            self.sum(|c| c.rate_limited.get())
        )?;
        header(
            o,
            "uring_php_dropped_total",
            "counter",
            "Requests refused with 503 because the PHP queue was full.",
        )?;
        writeln!(
            o,
            "uring_php_dropped_total {}",
            self.sum(|c| c.dropped.get())
        )?;

        header(
            o,
            "uring_php_streams_total",
            "counter",
            "Streamed responses (flush(), SSE) started.",
        )?;
        writeln!(
            o,
            "uring_php_streams_total {}",
            self.sum(|c| c.streams_started.get())
        )?;
        header(
            o,
            "uring_php_active_streams",
            "gauge",
            "Streamed responses (flush(), SSE) in progress.",
        )?;
        let active = self
            .sum(|c| c.streams_started.get())
            .saturating_sub(self.sum(|c| c.streams_ended.get()));
        writeln!(o, "uring_php_active_streams {active}")?;

        header(
            o,
            "uring_php_connections_total",
            "counter",
            "Connections accepted, by core and listener protocol.",
        )?;
        for (i, c) in self.cores.iter().enumerate() {
            for (p, proto) in PROTOS.iter().enumerate() {
                writeln!(
                    o,
                    "uring_php_connections_total{{core=\"{i}\",protocol=\"{proto}\"}} {}",
                    c.conns_opened[p].get()
                )?;
            }
        }
        header(
            o,
            "uring_php_open_connections",
            "gauge",
            "Open connections, by core and listener protocol.",
        )?;
        for (i, c) in self.cores.iter().enumerate() {
            for (p, proto) in PROTOS.iter().enumerate() {
                let open = c.conns_opened[p]
                    .get()
                    .saturating_sub(c.conns_closed[p].get());
                writeln!(
                    o,
                    "uring_php_open_connections{{core=\"{i}\",protocol=\"{proto}\"}} {open}"
                )?;
            }
        }

        header(
            o,
            "uring_php_http2_connections_total",
            "counter",
            "Connections that spoke HTTP/2 (h2 by ALPN, or h2c), by core.",
        )?;
        for (i, c) in self.cores.iter().enumerate() {
            writeln!(
                o,
                "uring_php_http2_connections_total{{core=\"{i}\"}} {}",
                c.http2_opened.get()
            )?;
        }
        header(
            o,
            "uring_php_open_http2_connections",
            "gauge",
            "Open connections speaking HTTP/2 (part of uring_php_open_connections), by core.",
        )?;
        for (i, c) in self.cores.iter().enumerate() {
            let open = c.http2_opened.get().saturating_sub(c.http2_closed.get());
            writeln!(o, "uring_php_open_http2_connections{{core=\"{i}\"}} {open}")?;
        }

        if let Some(pool) = &self.pool {
            let s = pool.stats();
            let busy = s.busy.load(Ordering::Relaxed) as u64;
            let alive = s.alive.load(Ordering::Relaxed) as u64;
            header(
                o,
                "uring_php_queue_depth",
                "gauge",
                "Requests waiting for a PHP worker.",
            )?;
            writeln!(o, "uring_php_queue_depth {}", pool.queue_len())?;
            header(
                o,
                "uring_php_queue_capacity",
                "gauge",
                "Requests that may wait for a PHP worker (QUEUE_CAPACITY).",
            )?;
            writeln!(o, "uring_php_queue_capacity {}", pool.queue_capacity())?;
            header(
                o,
                "uring_php_workers",
                "gauge",
                "PHP worker threads, by state.",
            )?;
            writeln!(o, "uring_php_workers{{state=\"busy\"}} {busy}")?;
            writeln!(
                o,
                "uring_php_workers{{state=\"idle\"}} {}",
                alive.saturating_sub(busy)
            )?;
            header(
                o,
                "uring_php_workers_configured",
                "gauge",
                "PHP worker threads configured (PHP_WORKERS).",
            )?;
            writeln!(o, "uring_php_workers_configured {}", pool.workers())?;
            header(
                o,
                "uring_php_worker_restarts_total",
                "counter",
                "PHP worker threads replaced (recycling or after a crash).",
            )?;
            writeln!(
                o,
                "uring_php_worker_restarts_total {}",
                s.restarts.load(Ordering::Relaxed)
            )?;
            header(
                o,
                "uring_php_worker_deaths_total",
                "counter",
                "PHP worker threads that died.",
            )?;
            writeln!(
                o,
                "uring_php_worker_deaths_total {}",
                s.deaths.load(Ordering::Relaxed)
            )?;
            header(
                o,
                "uring_php_php_requests_total",
                "counter",
                "Requests PHP workers executed.",
            )?;
            writeln!(
                o,
                "uring_php_php_requests_total {}",
                s.executed.load(Ordering::Relaxed)
            )?;
            header(
                o,
                "uring_php_php_requests_abandoned_total",
                "counter",
                "PHP requests whose client left (stream reset, connection closed) before the response began.",
            )?;
            writeln!(
                o,
                "uring_php_php_requests_abandoned_total {}",
                s.abandoned.load(Ordering::Relaxed)
            )?;
            header(
                o,
                "uring_php_php_requests_skipped_total",
                "counter",
                "Abandoned PHP requests dropped from the queue before a worker started them.",
            )?;
            writeln!(
                o,
                "uring_php_php_requests_skipped_total {}",
                s.skipped.load(Ordering::Relaxed)
            )?;
            if let Some(budget) = pool.spill_budget() {
                header(
                    o,
                    "uring_php_spill_bytes",
                    "gauge",
                    "Bytes of PHP output held in memfds while clients read it.",
                )?;
                writeln!(o, "uring_php_spill_bytes {}", budget.held())?;
                header(
                    o,
                    "uring_php_spill_limit_bytes",
                    "gauge",
                    "SPILL_MEMORY_LIMIT.",
                )?;
                writeln!(o, "uring_php_spill_limit_bytes {}", budget.limit())?;
                header(
                    o,
                    "uring_php_spill_waits_total",
                    "counter",
                    "Responses whose output had to wait for room under SPILL_MEMORY_LIMIT.",
                )?;
                writeln!(o, "uring_php_spill_waits_total {}", budget.waits())?;
                header(
                    o,
                    "uring_php_spill_refused_total",
                    "counter",
                    "Responses refused (503) because no room came under SPILL_MEMORY_LIMIT.",
                )?;
                writeln!(o, "uring_php_spill_refused_total {}", budget.refused())?;
            }
            render_opcache_restarts(o)?;
        }
        if let Some(pool) = &self.worker_pool {
            render_worker_mode(o, pool)?;
        }
        if let Some(dropped) = &self.access_log_dropped {
            header(
                o,
                "uring_php_access_log_dropped_total",
                "counter",
                "Access log lines dropped because the writer fell behind.",
            )?;
            writeln!(
                o,
                "uring_php_access_log_dropped_total {}",
                dropped.load(Ordering::Relaxed)
            )?;
        }
        if let Some(cache) = &self.response_cache {
            let counters: Vec<_> = self.cores.iter().map(|c| &c.response_cache).collect();
            crate::response_cache::stats::render(o, &counters, cache)?;
        }
        crate::process_metrics::render(o)
    }

    fn histogram(
        &self,
        o: &mut String,
        name: &str,
        help: &str,
        h: impl Fn(&CoreMetrics) -> &Histogram,
    ) -> std::fmt::Result {
        header(o, name, "histogram", help)?;
        let mut cumulative = 0;
        for (i, bound) in BUCKETS.iter().enumerate() {
            cumulative += self.sum(|c| h(c).buckets[i].get());
            writeln!(o, "{name}_bucket{{le=\"{bound}\"}} {cumulative}")?;
        }
        cumulative += self.sum(|c| h(c).buckets[BUCKETS.len()].get());
        writeln!(o, "{name}_bucket{{le=\"+Inf\"}} {cumulative}")?;
        writeln!(
            o,
            "{name}_sum {:.6}",
            self.sum(|c| h(c).sum_us.get()) as f64 / 1e6
        )?;
        writeln!(o, "{name}_count {cumulative}")
    }
}

fn header(o: &mut String, name: &str, kind: &str, help: &str) -> std::fmt::Result {
    writeln!(o, "# HELP {name} {help}")?;
    writeln!(o, "# TYPE {name} {kind}")
}

/// Worker mode (docs/worker-mode.md): its threads by state, restarts by cause, requests
/// per worker thread.
fn render_worker_mode(o: &mut String, pool: &WorkerPool) -> std::fmt::Result {
    let Some(mode) = pool.worker_mode() else {
        return Ok(());
    };
    let s = mode.stats();
    let alive = pool.stats().alive.load(Ordering::Relaxed);
    let busy = pool.stats().busy.load(Ordering::Relaxed);
    let idle = s.idle();
    header(
        o,
        "uring_php_worker_mode_threads",
        "gauge",
        "Worker-mode threads: busy (serving a request), idle (waiting in frankenphp_handle_request()), starting (booting the worker script, or backing off after a failed boot).",
    )?;
    writeln!(o, "uring_php_worker_mode_threads{{state=\"busy\"}} {busy}")?;
    writeln!(o, "uring_php_worker_mode_threads{{state=\"idle\"}} {idle}")?;
    writeln!(
        o,
        "uring_php_worker_mode_threads{{state=\"starting\"}} {}",
        alive.saturating_sub(busy + idle)
    )?;
    header(
        o,
        "uring_php_worker_mode_ready",
        "gauge",
        "Worker-mode threads whose script reached frankenphp_handle_request().",
    )?;
    writeln!(o, "uring_php_worker_mode_ready {}", s.ready())?;
    header(
        o,
        "uring_php_worker_mode_queue_depth",
        "gauge",
        "Requests waiting for a worker-mode thread.",
    )?;
    writeln!(o, "uring_php_worker_mode_queue_depth {}", pool.queue_len())?;
    header(
        o,
        "uring_php_worker_mode_restarts_total",
        "counter",
        "Worker scripts started again, by cause.",
    )?;
    for cause in crate::php::RestartCause::ALL {
        writeln!(
            o,
            "uring_php_worker_mode_restarts_total{{cause=\"{}\"}} {}",
            cause.label(),
            s.restarts(cause)
        )?;
    }
    header(
        o,
        "uring_php_worker_mode_requests_total",
        "counter",
        "Requests served by worker scripts, by worker thread.",
    )?;
    for (i, n) in s.requests().iter().enumerate() {
        writeln!(
            o,
            "uring_php_worker_mode_requests_total{{worker=\"{i}\"}} {n}"
        )?;
    }
    Ok(())
}

/// OPcache restarts (src/php/opcache_restart.rs).
fn render_opcache_restarts(o: &mut String) -> std::fmt::Result {
    use crate::php::opcache_restart::{stats, RestartReason};
    let r = stats();
    header(
        o,
        "uring_php_opcache_restarts_total",
        "counter",
        "OPcache shared-memory resets, by cause (memory: the cache filled or too much was wasted; keys: opcache.max_accelerated_files; opcache_reset: a script asked).",
    )?;
    for reason in RestartReason::ALL {
        writeln!(
            o,
            "uring_php_opcache_restarts_total{{reason=\"{}\"}} {}",
            reason.label(),
            r.restarts(reason)
        )?;
    }
    header(
        o,
        "uring_php_opcache_restart_pending_seconds_total",
        "counter",
        "Time OPcache restarts were pending (requests ran uncached) until the last script using the old cache ended.",
    )?;
    writeln!(
        o,
        "uring_php_opcache_restart_pending_seconds_total {}",
        r.pending_seconds_sum()
    )?;
    header(
        o,
        "uring_php_opcache_restart_pending_seconds_max",
        "gauge",
        "Longest time one OPcache restart was pending.",
    )?;
    writeln!(
        o,
        "uring_php_opcache_restart_pending_seconds_max {}",
        r.pending_seconds_max()
    )?;
    header(
        o,
        "uring_php_opcache_uncached_requests_total",
        "counter",
        "Requests that ran uncached because an OPcache restart was pending.",
    )?;
    writeln!(
        o,
        "uring_php_opcache_uncached_requests_total {}",
        r.uncached_requests()
    )?;
    header(
        o,
        "uring_php_opcache_forced_stops_total",
        "counter",
        "Scripts stopped because they held an OPcache restart past opcache.force_restart_timeout.",
    )?;
    writeln!(
        o,
        "uring_php_opcache_forced_stops_total {}",
        r.forced_stops()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_cores_and_renders_cumulative_buckets() {
        let m = Metrics::new(2, None);
        m.core(0).request(method_index(&Method::Get), 200);
        m.core(1).request(method_index(&Method::Get), 204);
        m.core(1).request(method_index(&Method::Post), 503);
        m.core(0).duration.observe_us(300);
        m.core(1).duration.observe_us(2_000);
        m.core(1).duration.observe_us(60_000_000);
        {
            let _g = m.core(1).conn_guard(ConnProto::Tls);
            m.core(1).http2_connection(true);
            let text = m.render();
            assert!(text.contains("uring_php_open_connections{core=\"1\",protocol=\"tls\"} 1"));
            assert!(text.contains("uring_php_open_http2_connections{core=\"1\"} 1"));
            m.core(1).http2_connection(false);
        }
        let text = m.render();
        assert!(
            text.contains("uring_php_requests_total{method=\"GET\",status=\"2xx\"} 2"),
            "{text}"
        );
        assert!(text.contains("uring_php_requests_total{method=\"POST\",status=\"5xx\"} 1"));
        assert!(text.contains("uring_php_request_duration_seconds_bucket{le=\"0.0005\"} 1"));
        assert!(text.contains("uring_php_request_duration_seconds_bucket{le=\"0.0025\"} 2"));
        assert!(text.contains("uring_php_request_duration_seconds_bucket{le=\"10\"} 2"));
        assert!(text.contains("uring_php_request_duration_seconds_bucket{le=\"+Inf\"} 3"));
        assert!(text.contains("uring_php_request_duration_seconds_count 3"));
        assert!(text.contains("uring_php_open_connections{core=\"1\",protocol=\"tls\"} 0"));
        assert!(text.contains("uring_php_connections_total{core=\"1\",protocol=\"tls\"} 1"));
        assert!(text.contains("uring_php_http2_connections_total{core=\"1\"} 1"));
        assert!(text.contains("uring_php_open_http2_connections{core=\"1\"} 0"));
    }
}
