//! The response cache (`RESPONSE_CACHE_SIZE`, off by default): PHP responses that HTTP's
//! caching rules (RFC 9111, as a shared cache) allow to be reused are kept in memory and
//! served without PHP, as nginx's `fastcgi_cache` does. docs/response-cache.md is the
//! user's side of it.
//!
//! One [`ResponseCache`] is shared by every core: entries live in a sharded, weighted
//! `quick_cache` (a hit takes one shard's read lock — no global lock), so a page stored
//! by one core is a hit on all, and a purge on one is seen on all. Misses for one key are
//! coalesced across cores ([`coalesce`]); tags and paths map to keys in [`index`] for
//! purges. The request path reaches it through [`CoreCache::serve`] (src/service.rs), for
//! PHP routes only.

mod coalesce;
mod entry;
mod index;
pub mod key;
pub mod policy;
mod serve;
pub mod stats;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use quick_cache::sync::Cache;
use quick_cache::{Lifecycle, OptionsBuilder, Weighter};
use uring_http::{Body, Headers, Response};

pub use serve::CoreCache;
pub use stats::{CacheCounters, CacheStatus};

use coalesce::Flights;
use entry::{Entry, Variants};
use index::LabelIndex;
use policy::{CacheControl, CookiePattern, NotStored};

/// Response headers never stored: tags are the cache's own, the rest describes one
/// answer (a hit gets its own Age, X-Cache and Date).
const NOT_STORED_HEADERS: [&str; 6] = [
    "Cache-Tag",
    "Surrogate-Key",
    "Server-Timing",
    "Age",
    "X-Cache",
    "Connection",
];

#[derive(Clone, Debug)]
pub struct CacheSettings {
    /// Memory bound of everything stored (bytes).
    pub size: u64,
    /// Freshness of responses that state none (RESPONSE_CACHE_TTL; 0 = not stored).
    pub default_ttl: Duration,
    pub bypass_cookies: Vec<CookiePattern>,
    pub statuses: Vec<u16>,
    /// Larger bodies are not stored.
    pub max_entry: u64,
    /// How long a coalesced miss waits for the one running PHP.
    pub lock_timeout: Duration,
    /// Send X-Cache.
    pub header: bool,
}

impl CacheSettings {
    pub fn from_config(cfg: &crate::config::Config) -> Option<CacheSettings> {
        (cfg.response_cache_size > 0).then(|| CacheSettings {
            size: cfg.response_cache_size,
            default_ttl: cfg.response_cache_ttl,
            bypass_cookies: cfg
                .response_cache_bypass_cookies
                .iter()
                .map(|s| CookiePattern::parse(s))
                .collect(),
            statuses: cfg.response_cache_status.0.clone(),
            max_entry: cfg.response_cache_max_entry_size,
            lock_timeout: cfg.response_cache_lock_timeout,
            header: cfg.response_cache_header,
        })
    }
}

#[derive(Clone)]
struct ByWeight;

impl Weighter<Box<str>, Arc<Variants>> for ByWeight {
    fn weight(&self, key: &Box<str>, v: &Arc<Variants>) -> u64 {
        (key.len() as u64 + v.weight).max(1)
    }
}

/// Collects what an insert evicted, so the label index is cleaned after the shard's
/// lock is released.
#[derive(Clone)]
struct CollectEvicted;

impl Lifecycle<Box<str>, Arc<Variants>> for CollectEvicted {
    type RequestState = Vec<(Box<str>, Arc<Variants>)>;

    fn on_evict(&self, state: &mut Self::RequestState, key: Box<str>, val: Arc<Variants>) {
        state.push((key, val));
    }
}

type Store =
    Cache<Box<str>, Arc<Variants>, ByWeight, quick_cache::DefaultHashBuilder, CollectEvicted>;

pub struct ResponseCache {
    settings: CacheSettings,
    store: Store,
    index: LabelIndex,
    flights: Arc<Flights>,
    /// Bumped by every purge: a miss that started before one does not store its answer.
    generation: AtomicU64,
    evictions: AtomicU64,
    purged: AtomicU64,
    /// Compressed copies are kept with entries (weighed in).
    compression: bool,
}

/// The cache PHP's `uring_cache_purge()` reaches (one per process).
static INSTALLED: OnceLock<Arc<ResponseCache>> = OnceLock::new();

impl ResponseCache {
    pub fn new(settings: CacheSettings, compression: bool) -> Arc<ResponseCache> {
        // Shards of at least 4 × the largest entry (quick_cache refuses an item heavier
        // than its shard), at most 64.
        let mut shards = 64u64;
        while shards > 1 && settings.size / shards < settings.max_entry.saturating_mul(4) {
            shards /= 2;
        }
        let options = OptionsBuilder::new()
            .weight_capacity(settings.size)
            .estimated_items_capacity((settings.size / (16 * 1024)).clamp(64, 1 << 20) as usize)
            .shards(shards as usize)
            .build()
            .expect("valid cache options");
        let store = Cache::with_options(
            options,
            ByWeight,
            quick_cache::DefaultHashBuilder::default(),
            CollectEvicted,
        );
        Arc::new(ResponseCache {
            settings,
            store,
            index: LabelIndex::default(),
            flights: Arc::new(Flights::default()),
            generation: AtomicU64::new(0),
            evictions: AtomicU64::new(0),
            purged: AtomicU64::new(0),
            compression,
        })
    }

    /// Makes this the cache `uring_cache_purge()` purges (the first one installed wins).
    pub fn install(self: &Arc<Self>) {
        let _ = INSTALLED.set(Arc::clone(self));
    }

    pub fn settings(&self) -> &CacheSettings {
        &self.settings
    }

    fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// The variant stored for a request with these headers.
    fn lookup(&self, key: &str, req: &Headers, has_auth: bool) -> Option<Arc<Entry>> {
        let variants = self.store.get(key)?;
        variants.find(req, has_auth).cloned()
    }

    /// Whether a response could be stored at all (before its body is looked at).
    fn may_store(&self, status: u16, headers: &Headers) -> bool {
        self.settings.statuses.contains(&status) && !headers.contains("Set-Cookie")
    }

    /// Stores PHP's answer to a GET for `key` when the rules allow.
    fn store(
        &self,
        key: &str,
        req_headers: &Headers,
        has_auth: bool,
        resp: &mut Response,
        generation: u64,
    ) -> Result<(), NotStored> {
        let s = &self.settings;
        if !s.statuses.contains(&resp.status) {
            return Err(NotStored::Status);
        }
        if resp.headers.contains("Set-Cookie") {
            return Err(NotStored::SetCookie);
        }
        let cc = CacheControl::parse(&resp.headers);
        if cc.no_store {
            return Err(NotStored::NoStore);
        }
        if cc.private {
            return Err(NotStored::Private);
        }
        if cc.no_cache {
            return Err(NotStored::NoCache);
        }
        // RFC 9111 §3.5: shared only when the response says so.
        let auth_ok = cc.public || cc.s_maxage.is_some() || cc.must_revalidate;
        if has_auth && !auth_ok {
            return Err(NotStored::Authorization);
        }
        let names = policy::vary_names(&resp.headers).ok_or(NotStored::VaryStar)?;
        let lifetime = policy::lifetime(&resp.headers, &cc, s.default_ttl);
        if !lifetime.useful() {
            return Err(NotStored::NoLifetime);
        }
        let body = match &resp.body {
            Body::Empty => Bytes::new(),
            Body::Bytes(b) if b.len() as u64 <= s.max_entry => b.clone(),
            Body::Stream(_) => return Err(NotStored::Streamed),
            // Spilled output is read in first (`CoreCache::read_spilled`) when small enough.
            _ => return Err(NotStored::TooLarge),
        };
        let mut labels = policy::tags(&resp.headers);
        labels.push(key::path_label_of_key(key).into());
        let mut headers = resp.headers.clone();
        for name in NOT_STORED_HEADERS {
            headers.remove(name);
        }
        let vary = names
            .into_iter()
            .map(|n| {
                let v = policy::vary_value(req_headers, &n);
                (n, v)
            })
            .collect();
        let entry = Arc::new(Entry::new(
            resp.status,
            headers,
            body,
            lifetime,
            auth_ok,
            vary,
        ));
        if self.generation() != generation {
            return Err(NotStored::Purged);
        }
        self.insert(key, entry, labels);
        if self.generation() != generation {
            // A purge ran while this was being stored: it may have missed it.
            self.remove_key(key);
            return Err(NotStored::Purged);
        }
        Ok(())
    }

    fn insert(&self, key: &str, entry: Arc<Entry>, labels: Vec<Box<str>>) {
        let old = self.store.get(key);
        let variants = Arc::new(Variants::with(
            old.as_deref(),
            entry,
            labels,
            self.compression,
        ));
        self.index.add(key, &variants.labels);
        let mut evicted = Vec::new();
        self.store
            .insert_with_lifecycle(key.into(), variants, &mut evicted);
        for (k, v) in evicted {
            self.evictions.fetch_add(1, Ordering::Relaxed);
            self.index.forget(&k, &v.labels);
        }
    }

    fn remove_key(&self, key: &str) -> u64 {
        match self.store.remove(key) {
            Some((k, v)) => {
                self.index.forget(&k, &v.labels);
                1
            }
            None => 0,
        }
    }

    /// An unsafe method (POST, PUT, PATCH, DELETE) succeeded on `key` (RFC 9111 §4.4).
    fn invalidate(&self, key: &str) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.remove_key(key);
    }

    /// Purges what `what` names; returns how many keys were removed.
    ///
    /// - `*`: everything;
    /// - `http://host/path?query` or `https://...`: that URL (every variant);
    /// - `/path?query`: that path and query on every host and scheme;
    /// - anything else: a tag (from `Cache-Tag` / `Surrogate-Key`).
    pub fn purge(&self, what: &str) -> u64 {
        let what = what.trim();
        if what.is_empty() {
            return 0;
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        let n = if what == "*" {
            let n = self.store.len() as u64;
            self.store.clear();
            self.index.clear();
            n
        } else if let Some(k) = key::from_url(what) {
            self.remove_key(&k)
        } else {
            let label = match what.starts_with('/') {
                true => {
                    let (path, query) = match what.split_once('?') {
                        Some((p, q)) => (p, Some(q)),
                        None => (what, None),
                    };
                    key::path_label(path, query)
                }
                false => what.to_string(),
            };
            self.index
                .take(&label)
                .iter()
                .map(|k| self.remove_key(k))
                .sum()
        };
        self.purged.fetch_add(n, Ordering::Relaxed);
        n
    }

    pub fn entries(&self) -> u64 {
        self.store.len() as u64
    }

    pub fn bytes(&self) -> u64 {
        self.store.weight()
    }

    pub fn evictions(&self) -> u64 {
        self.evictions.load(Ordering::Relaxed)
    }

    pub fn purged(&self) -> u64 {
        self.purged.load(Ordering::Relaxed)
    }
}

/// `uring_cache_purge()`: purges in the installed cache; -1 when the cache is off.
pub fn purge_from_php(what: &str) -> i64 {
    match INSTALLED.get() {
        Some(c) => c.purge(what) as i64,
        None => -1,
    }
}

/// Reads a spilled body (a memfd) into memory, through the runtime.
async fn read_file(file: &monoio::fs::File, offset: u64, len: u64) -> std::io::Result<Bytes> {
    let (res, buf) = file
        .read_exact_at(Vec::with_capacity(len as usize), offset)
        .await;
    res.map(|()| Bytes::from(buf))
}
