//! What the cache did: per request (X-Cache, the access log) and in sum (/metrics).

use std::fmt::Write as _;

use crate::counter::Counter;

use super::ResponseCache;

/// What the cache did for one request (`X-Cache`, the access log's `cache`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CacheStatus {
    /// Answered from a fresh entry.
    Hit,
    /// Not found: PHP answered (and the answer was stored if the rules allow).
    Miss,
    /// Answered from a stale entry: stale-while-revalidate (a refresh runs in the
    /// background) or stale-if-error (PHP failed).
    Stale,
    /// Not looked up: not GET/HEAD, or a bypass cookie.
    Bypass,
    /// Found but past its freshness: PHP answered.
    Expired,
}

impl CacheStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CacheStatus::Hit => "HIT",
            CacheStatus::Miss => "MISS",
            CacheStatus::Stale => "STALE",
            CacheStatus::Bypass => "BYPASS",
            CacheStatus::Expired => "EXPIRED",
        }
    }

    const ALL: [CacheStatus; 5] = [
        CacheStatus::Hit,
        CacheStatus::Miss,
        CacheStatus::Stale,
        CacheStatus::Bypass,
        CacheStatus::Expired,
    ];

    fn index(self) -> usize {
        self as usize
    }
}

/// One core's counters (in its `CoreMetrics`; only that core writes them).
#[derive(Default)]
pub struct CacheCounters {
    by_status: [Counter; 5],
    /// Misses that waited for another request's PHP run of the same key.
    pub coalesced: Counter,
    /// Of those, waits that ran out (RESPONSE_CACHE_LOCK_TIMEOUT) and went to PHP.
    pub lock_timeouts: Counter,
    pub stored: Counter,
    /// Background refreshes started (stale-while-revalidate).
    pub refreshes: Counter,
}

impl CacheCounters {
    pub fn count(&self, status: CacheStatus) {
        self.by_status[status.index()].inc();
    }
}

/// The cache's part of /metrics.
pub fn render(o: &mut String, cores: &[&CacheCounters], cache: &ResponseCache) -> std::fmt::Result {
    let sum = |f: &dyn Fn(&CacheCounters) -> u64| -> u64 { cores.iter().map(|c| f(c)).sum() };
    let header = |o: &mut String, name: &str, kind: &str, help: &str| -> std::fmt::Result {
        writeln!(o, "# HELP {name} {help}")?;
        writeln!(o, "# TYPE {name} {kind}")
    };
    header(
        o,
        "uring_php_response_cache_requests_total",
        "counter",
        "PHP-routed requests by what the response cache did (X-Cache).",
    )?;
    for s in CacheStatus::ALL {
        writeln!(
            o,
            "uring_php_response_cache_requests_total{{cache=\"{}\"}} {}",
            s.as_str(),
            sum(&|c| c.by_status[s.index()].get())
        )?;
    }
    let counters: [(&str, &str, u64); 6] = [
        (
            "uring_php_response_cache_coalesced_waits_total",
            "Misses that waited for another request running PHP for the same key.",
            sum(&|c| c.coalesced.get()),
        ),
        (
            "uring_php_response_cache_lock_timeouts_total",
            "Coalesced waits that ran out (RESPONSE_CACHE_LOCK_TIMEOUT) and went to PHP.",
            sum(&|c| c.lock_timeouts.get()),
        ),
        (
            "uring_php_response_cache_stored_total",
            "Responses stored.",
            sum(&|c| c.stored.get()),
        ),
        (
            "uring_php_response_cache_refreshes_total",
            "Background refreshes started (stale-while-revalidate).",
            sum(&|c| c.refreshes.get()),
        ),
        (
            "uring_php_response_cache_evictions_total",
            "Entries evicted to stay within RESPONSE_CACHE_SIZE.",
            cache.evictions(),
        ),
        (
            "uring_php_response_cache_purged_total",
            "Entries removed by purges (PHP, the internal server, unsafe methods excluded).",
            cache.purged(),
        ),
    ];
    for (name, help, v) in counters {
        header(o, name, "counter", help)?;
        writeln!(o, "{name} {v}")?;
    }
    header(
        o,
        "uring_php_response_cache_entries",
        "gauge",
        "Keys in the response cache.",
    )?;
    writeln!(o, "uring_php_response_cache_entries {}", cache.entries())?;
    header(
        o,
        "uring_php_response_cache_bytes",
        "gauge",
        "Memory the response cache accounts for (bodies, headers, room for compressed copies).",
    )?;
    writeln!(o, "uring_php_response_cache_bytes {}", cache.bytes())?;
    header(
        o,
        "uring_php_response_cache_capacity_bytes",
        "gauge",
        "RESPONSE_CACHE_SIZE.",
    )?;
    writeln!(
        o,
        "uring_php_response_cache_capacity_bytes {}",
        cache.settings().size
    )
}
