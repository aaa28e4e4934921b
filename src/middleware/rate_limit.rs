//! Rate limit per client IP (`RATE_LIMIT` requests per `RATE_WINDOW` seconds; 0 = off).
//!
//! A fixed window per client: the window opens with the client's first request and
//! allows `RATE_LIMIT` requests until it closes; the next request opens a new one.
//! Clients are IPv4 addresses, or IPv6 /64 prefixes (one subscriber's usual allocation,
//! so a client cannot dodge the limit by changing its interface id).
//!
//! The limit holds for the whole server, not per core: the kernel spreads one client's
//! connections over the cores (SO_REUSEPORT), so every core consults the same buckets.
//! They live in 64 shards, each a small mutex-protected map chosen by a hash of the
//! client, so two cores rarely meet on the same lock and never hold it for more than a
//! map lookup. Memory is bounded: each shard drops expired windows once per window
//! (amortised over requests), and holds at most `RATE_LIMIT_MAX_CLIENTS / 64` clients —
//! when full, expired entries go first, then the entry whose window opened longest ago.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use uring_http::{Headers, Request, Response};

use super::{Middleware, RequestCtx};

const SHARDS: usize = 64;

#[derive(Clone, Copy, Debug)]
struct Window {
    /// Seconds since the limiter started.
    start: u32,
    count: u32,
}

/// A seeded hash for client keys: cheaper than SipHash, and with a random seed per
/// process a client cannot aim its addresses at one bucket.
#[derive(Clone, Copy, Default)]
struct KeyHasher {
    seed: u64,
    h: u64,
}

impl Hasher for KeyHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut b = [0u8; 8];
            b[..chunk.len()].copy_from_slice(chunk);
            self.write_u64(u64::from_le_bytes(b));
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.h = (self.h ^ n ^ self.seed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(29);
    }

    fn write_u128(&mut self, n: u128) {
        self.write_u64(n as u64);
        self.write_u64((n >> 64) as u64);
    }

    fn finish(&self) -> u64 {
        // murmur3's finaliser: every input bit reaches every output bit.
        let mut h = self.h;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

#[derive(Clone, Copy, Default)]
struct KeyHash(u64);

impl BuildHasher for KeyHash {
    type Hasher = KeyHasher;

    fn build_hasher(&self) -> KeyHasher {
        KeyHasher { seed: self.0, h: 0 }
    }
}

#[derive(Default)]
struct Shard {
    map: HashMap<u128, Window, KeyHash>,
    last_sweep: u32,
}

/// Cache-line aligned so neighbouring shards' locks do not share a line.
#[repr(align(128))]
#[derive(Default)]
struct PaddedShard(Mutex<Shard>);

/// What an allowed request leaves for the response headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Allowance {
    pub remaining: u32,
    /// Seconds until the window closes.
    pub reset: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed(Allowance),
    /// Over the limit; `retry_after` seconds until the window closes.
    Limited {
        retry_after: u32,
    },
}

/// What the shared buckets hand a core.
enum Lease {
    /// `granted` requests (at least one) of the window that opened at `window_start`;
    /// `remaining`: what is left for everyone after this grant.
    Granted {
        window_start: u32,
        granted: u32,
        remaining: u32,
    },
    Limited {
        retry_after: u32,
    },
}

pub struct RateLimiter {
    limit: u32,
    window: u32,
    per_shard: usize,
    shards: Box<[PaddedShard]>,
    epoch: Instant,
    seed: u64,
}

impl RateLimiter {
    /// `limit` requests per `window` seconds per client, tracking at most `max_clients`.
    pub fn new(limit: u32, window: u32, max_clients: usize) -> RateLimiter {
        RateLimiter {
            limit: limit.max(1),
            window: window.max(1),
            per_shard: max_clients.div_ceil(SHARDS).max(1),
            shards: (0..SHARDS)
                .map(|_| {
                    let map = HashMap::with_hasher(KeyHash(fastrand::u64(..)));
                    PaddedShard(Mutex::new(Shard { map, last_sweep: 0 }))
                })
                .collect(),
            epoch: Instant::now(),
            seed: fastrand::u64(..) | 1,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Requests a core takes from the shared budget at once: 1 (exact) for limits up to
    /// 127, at most 64; a hot client then costs one shared lock per lease, not per request.
    pub fn lease_size(&self) -> u32 {
        (self.limit / 64).clamp(1, 64)
    }

    /// Seconds since the limiter started, for an instant.
    pub fn secs(&self, at: Instant) -> u32 {
        at.saturating_duration_since(self.epoch).as_secs() as u32
    }

    /// Counts a request from `ip` at `now` seconds after the limiter started (exact:
    /// a lease of one request).
    pub fn check_at(&self, ip: IpAddr, now: u32) -> Decision {
        match self.lease(client_key(ip), now, 1) {
            Lease::Granted {
                window_start,
                remaining,
                ..
            } => Decision::Allowed(Allowance {
                remaining,
                reset: window_start + self.window - now,
            }),
            Lease::Limited { retry_after } => Decision::Limited { retry_after },
        }
    }

    /// Takes up to `want` requests of `key`'s budget in the window open at `now`.
    fn lease(&self, key: u128, now: u32, want: u32) -> Lease {
        let shard = &self.shards[self.shard_of(key)];
        let mut s = shard.0.lock().unwrap_or_else(|e| e.into_inner());
        if now.wrapping_sub(s.last_sweep) >= self.window {
            self.sweep(&mut s, now);
        }
        if !s.map.contains_key(&key) && s.map.len() >= self.per_shard {
            self.sweep(&mut s, now);
            if s.map.len() >= self.per_shard {
                // Still full of live windows: forget the oldest one.
                if let Some(oldest) = s.map.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| *k) {
                    s.map.remove(&oldest);
                }
            }
        }
        let w = s.map.entry(key).or_insert(Window {
            start: now,
            count: 0,
        });
        if now >= w.start + self.window {
            *w = Window {
                start: now,
                count: 0,
            };
        }
        if w.count >= self.limit {
            return Lease::Limited {
                retry_after: w.start + self.window - now,
            };
        }
        let granted = want.min(self.limit - w.count);
        w.count += granted;
        Lease::Granted {
            window_start: w.start,
            granted,
            remaining: self.limit - w.count,
        }
    }

    fn sweep(&self, s: &mut Shard, now: u32) {
        let window = self.window;
        s.map.retain(|_, w| now < w.start + window);
        if s.map.capacity() > 4 * s.map.len().max(16) {
            s.map.shrink_to(2 * s.map.len());
        }
        s.last_sweep = now;
    }

    fn shard_of(&self, key: u128) -> usize {
        let mut x = (key as u64) ^ ((key >> 64) as u64).rotate_left(29) ^ self.seed;
        // splitmix64's finalizer: every key bit reaches the top bits taken below, so
        // neighbouring addresses (a /24 of clients) spread over all shards. A bare
        // multiply by the seed left them in a handful of shards when the seed was small.
        x ^= x >> 30;
        x = x.wrapping_mul(0xbf58_476d_1ce4_e5b9);
        x ^= x >> 27;
        x = x.wrapping_mul(0x94d0_49bb_1331_11eb);
        x ^= x >> 31;
        (x >> 58) as usize % SHARDS
    }

    /// Clients tracked now.
    pub fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).map.len())
            .sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Map slots allocated (a bound on the memory held).
    pub fn capacity(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.0.lock().unwrap_or_else(|e| e.into_inner()).map.capacity())
            .sum()
    }
}

/// IPv4 (also as IPv4-mapped IPv6) by address, IPv6 by /64.
fn client_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u32::from(v4) as u128,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => u32::from(v4) as u128,
            None => (u128::from(v6) & !((1u128 << 64) - 1)) | 1,
        },
    }
}

fn number(n: u32) -> Bytes {
    let mut v = Vec::with_capacity(10);
    super::access_log::push_u64(&mut v, n as u64);
    Bytes::from(v)
}

/// A core's share of one client's window.
#[derive(Clone, Copy)]
struct Held {
    window_start: u32,
    tokens: u32,
    /// The shared remainder when this lease was granted.
    remaining: u32,
}

/// Leases a core holds at most; beyond it expired ones go, then all.
const HELD_MAX: usize = 4096;

/// The middleware (priority 20). Each core spends leases from the shared buckets
/// locally: the limit is exact for limits up to 127 (a lease is one request), and for
/// bigger ones a client can be refused up to (cores − 1) × 64 requests early, when other
/// cores hold leased requests it did not use; `X-RateLimit-Remaining` is this core's
/// view.
pub struct RateLimit {
    limiter: Arc<RateLimiter>,
    limit_value: Bytes,
    lease: u32,
    held: RefCell<HashMap<u128, Held, KeyHash>>,
}

impl RateLimit {
    pub fn new(limiter: Arc<RateLimiter>) -> RateLimit {
        let limit_value = Bytes::from(limiter.limit().to_string());
        let lease = limiter.lease_size();
        let held = RefCell::new(HashMap::with_hasher(KeyHash(fastrand::u64(..))));
        RateLimit {
            limiter,
            limit_value,
            lease,
            held,
        }
    }

    fn decide(&self, ip: IpAddr, now: u32) -> Decision {
        let key = client_key(ip);
        let window = self.limiter.window;
        let mut held = self.held.borrow_mut();
        if let Some(h) = held.get_mut(&key) {
            if h.tokens > 0 && now < h.window_start + window {
                h.tokens -= 1;
                return Decision::Allowed(Allowance {
                    remaining: h.remaining + h.tokens,
                    reset: h.window_start + window - now,
                });
            }
        }
        match self.limiter.lease(key, now, self.lease) {
            Lease::Granted {
                window_start,
                granted,
                remaining,
            } => {
                if held.len() >= HELD_MAX && !held.contains_key(&key) {
                    held.retain(|_, h| now < h.window_start + window && h.tokens > 0);
                    if held.len() >= HELD_MAX {
                        held.clear();
                    }
                }
                let tokens = granted - 1;
                held.insert(
                    key,
                    Held {
                        window_start,
                        tokens,
                        remaining,
                    },
                );
                Decision::Allowed(Allowance {
                    remaining: remaining + tokens,
                    reset: window_start + window - now,
                })
            }
            Lease::Limited { retry_after } => {
                held.remove(&key);
                Decision::Limited { retry_after }
            }
        }
    }
}

impl Middleware for RateLimit {
    fn name(&self) -> &'static str {
        "rate_limit"
    }

    fn priority(&self) -> i32 {
        20
    }

    fn on_request(&self, req: &mut Request, ctx: &mut RequestCtx) -> Option<Response> {
        match self.decide(req.remote_addr.ip(), self.limiter.secs(ctx.started)) {
            Decision::Allowed(a) => {
                ctx.rate = Some(a);
                None
            }
            Decision::Limited { retry_after } => {
                ctx.rate_limited = true;
                let mut headers = Headers::with_capacity(5);
                headers.push(
                    "Content-Type",
                    Bytes::from_static(b"text/plain; charset=utf-8"),
                );
                let secs = number(retry_after);
                headers.push("Retry-After", secs.clone());
                headers.push("X-RateLimit-Limit", self.limit_value.clone());
                headers.push("X-RateLimit-Remaining", Bytes::from_static(b"0"));
                headers.push("X-RateLimit-Reset", secs);
                let mut resp = Response::new(
                    429,
                    headers,
                    uring_http::Body::Bytes(Bytes::from_static(b"Too Many Requests\n")),
                );
                resp.refused = true;
                Some(resp)
            }
        }
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        if let Some(a) = ctx.rate {
            resp.headers
                .push("X-RateLimit-Limit", self.limit_value.clone());
            // Both values in one allocation.
            let mut v = Vec::with_capacity(20);
            super::access_log::push_u64(&mut v, a.remaining as u64);
            let split = v.len();
            super::access_log::push_u64(&mut v, a.reset as u64);
            let both = Bytes::from_owner(v);
            resp.headers
                .push("X-RateLimit-Remaining", both.slice(..split));
            resp.headers.push("X-RateLimit-Reset", both.slice(split..));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn v4(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(n))
    }

    #[test]
    fn n_allowed_then_limited_until_the_window_closes() {
        let rl = RateLimiter::new(3, 10, 1000);
        let ip = v4(0x0a00_0001);
        assert_eq!(
            rl.check_at(ip, 100),
            Decision::Allowed(Allowance {
                remaining: 2,
                reset: 10
            })
        );
        assert_eq!(
            rl.check_at(ip, 101),
            Decision::Allowed(Allowance {
                remaining: 1,
                reset: 9
            })
        );
        assert_eq!(
            rl.check_at(ip, 102),
            Decision::Allowed(Allowance {
                remaining: 0,
                reset: 8
            })
        );
        assert_eq!(rl.check_at(ip, 103), Decision::Limited { retry_after: 7 });
        assert_eq!(rl.check_at(ip, 109), Decision::Limited { retry_after: 1 });
        // Another client is not affected.
        assert!(matches!(
            rl.check_at(v4(0x0a00_0002), 103),
            Decision::Allowed(_)
        ));
        // The window closed: a new one opens.
        assert_eq!(
            rl.check_at(ip, 110),
            Decision::Allowed(Allowance {
                remaining: 2,
                reset: 10
            })
        );
    }

    #[test]
    fn ipv6_clients_are_their_64_prefix() {
        let rl = RateLimiter::new(1, 60, 1000);
        let a: Ipv6Addr = "2001:db8:1:2::1".parse().unwrap();
        let b: Ipv6Addr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let c: Ipv6Addr = "2001:db8:1:3::1".parse().unwrap();
        assert!(matches!(
            rl.check_at(IpAddr::V6(a), 0),
            Decision::Allowed(_)
        ));
        assert!(matches!(
            rl.check_at(IpAddr::V6(b), 0),
            Decision::Limited { .. }
        ));
        assert!(matches!(
            rl.check_at(IpAddr::V6(c), 0),
            Decision::Allowed(_)
        ));
        // IPv4-mapped is the IPv4 client.
        assert!(matches!(
            rl.check_at(v4(0x7f00_0001), 0),
            Decision::Allowed(_)
        ));
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        assert!(matches!(rl.check_at(mapped, 0), Decision::Limited { .. }));
    }

    #[test]
    fn neighbouring_addresses_spread_over_the_shards_whatever_the_seed() {
        for seed in [1u64, 3, (1 << 40) + 1, u64::MAX, 0x9e37_79b9_7f4a_7c15] {
            let mut rl = RateLimiter::new(5, 60, 1000);
            rl.seed = seed;
            let used: std::collections::HashSet<usize> = (0..256u32)
                .map(|i| rl.shard_of(client_key(v4(0xc000_0200 + i))))
                .collect();
            // 256 keys into 64 shards: a good hash leaves ~1.2 empty on average.
            assert!(
                used.len() >= 56,
                "seed {seed:#x}: {} shards used",
                used.len()
            );
        }
    }

    #[test]
    fn memory_stays_bounded_with_100k_distinct_clients() {
        let cap = 10_000;
        let rl = RateLimiter::new(5, 60, cap);
        for i in 0..100_000u32 {
            // All within one window: every entry is live, so the cap must evict.
            assert!(matches!(
                rl.check_at(v4(0x0b00_0000 + i), i / 10_000),
                Decision::Allowed(_)
            ));
        }
        let per_shard = cap.div_ceil(SHARDS);
        assert!(
            rl.len() <= per_shard * SHARDS,
            "{} clients tracked",
            rl.len()
        );
        assert!(
            rl.capacity() <= 2 * 2 * per_shard * SHARDS,
            "{} slots",
            rl.capacity()
        );
        // The most recent clients are the ones kept.
        assert!(matches!(
            rl.check_at(v4(0x0b00_0000 + 99_999), 9),
            Decision::Allowed(Allowance { remaining: 3, .. })
        ));

        // Idle entries go once their window is over.
        assert!(matches!(rl.check_at(v4(1), 200), Decision::Allowed(_)));
        for i in 0..SHARDS as u32 * 50 {
            rl.check_at(v4(0x0c00_0000 + i), 200);
        }
        assert!(
            rl.len() <= SHARDS * 50 + 1,
            "expired windows were swept: {}",
            rl.len()
        );
    }

    #[test]
    fn leases_keep_the_limit_across_cores() {
        for limit in [5u32, 100, 1000, 100_000] {
            let rl = Arc::new(RateLimiter::new(limit, 60, 1000));
            let cores = [
                RateLimit::new(Arc::clone(&rl)),
                RateLimit::new(Arc::clone(&rl)),
            ];
            let mut allowed = 0;
            let mut last = [u32::MAX; 2];
            for i in 0..(2 * limit as usize + 10) {
                let core = i % 2;
                if let Decision::Allowed(a) = cores[core].decide(v4(9), 3) {
                    allowed += 1;
                    assert!(a.remaining < last[core], "remaining goes down on each core");
                    last[core] = a.remaining;
                    assert_eq!(a.reset, 60);
                }
            }
            assert_eq!(allowed, limit, "limit {limit}");
            assert!(matches!(
                cores[0].decide(v4(9), 3),
                Decision::Limited { retry_after: 60 }
            ));
            // Another client has its own budget; a new window a new one.
            assert!(matches!(cores[1].decide(v4(10), 3), Decision::Allowed(_)));
            assert!(matches!(cores[0].decide(v4(9), 63), Decision::Allowed(_)));
        }
    }

    #[test]
    fn the_limit_is_shared_across_threads() {
        let rl = Arc::new(RateLimiter::new(1000, 60, 1000));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let rl = Arc::clone(&rl);
                std::thread::spawn(move || {
                    (0..500)
                        .filter(|_| matches!(rl.check_at(v4(7), 1), Decision::Allowed(_)))
                        .count()
                })
            })
            .collect();
        let allowed: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(allowed, 1000);
    }
}
