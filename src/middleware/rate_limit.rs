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

use std::collections::HashMap;
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

#[derive(Default)]
struct Shard {
    map: HashMap<u128, Window>,
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
            shards: (0..SHARDS).map(|_| PaddedShard::default()).collect(),
            epoch: Instant::now(),
            seed: crate::trace_context::random_u64() | 1,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts a request from `ip` now.
    pub fn check(&self, ip: IpAddr) -> Decision {
        self.check_at(ip, self.epoch.elapsed().as_secs() as u32)
    }

    /// Counts a request from `ip` at `now` seconds after the limiter started.
    pub fn check_at(&self, ip: IpAddr, now: u32) -> Decision {
        let key = client_key(ip);
        let shard = &self.shards[self.shard_of(key)];
        let mut s = shard.0.lock().unwrap_or_else(|e| e.into_inner());
        if now.wrapping_sub(s.last_sweep) >= self.window {
            self.sweep(&mut s, now);
        }
        if let Some(w) = s.map.get_mut(&key) {
            if now < w.start + self.window {
                let reset = w.start + self.window - now;
                if w.count >= self.limit {
                    return Decision::Limited { retry_after: reset };
                }
                w.count += 1;
                return Decision::Allowed(Allowance {
                    remaining: self.limit - w.count,
                    reset,
                });
            }
            *w = Window {
                start: now,
                count: 1,
            };
            return Decision::Allowed(Allowance {
                remaining: self.limit - 1,
                reset: self.window,
            });
        }
        if s.map.len() >= self.per_shard {
            self.sweep(&mut s, now);
            if s.map.len() >= self.per_shard {
                // Still full of live windows: forget the oldest one.
                if let Some(oldest) = s.map.iter().min_by_key(|(_, w)| w.start).map(|(k, _)| *k) {
                    s.map.remove(&oldest);
                }
            }
        }
        s.map.insert(
            key,
            Window {
                start: now,
                count: 1,
            },
        );
        Decision::Allowed(Allowance {
            remaining: self.limit - 1,
            reset: self.window,
        })
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
        let x = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
        (x.wrapping_mul(self.seed) >> 58) as usize % SHARDS
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

/// The middleware (priority 20).
pub struct RateLimit {
    limiter: Arc<RateLimiter>,
    limit_value: Bytes,
}

impl RateLimit {
    pub fn new(limiter: Arc<RateLimiter>) -> RateLimit {
        let limit_value = Bytes::from(limiter.limit().to_string());
        RateLimit {
            limiter,
            limit_value,
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
        match self.limiter.check(req.remote_addr.ip()) {
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
                let secs = Bytes::from(retry_after.to_string());
                headers.push("Retry-After", secs.clone());
                headers.push("X-RateLimit-Limit", self.limit_value.clone());
                headers.push("X-RateLimit-Remaining", Bytes::from_static(b"0"));
                headers.push("X-RateLimit-Reset", secs);
                Some(Response::new(
                    429,
                    headers,
                    uring_http::Body::Bytes(Bytes::from_static(b"Too Many Requests\n")),
                ))
            }
        }
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        if let Some(a) = ctx.rate {
            resp.headers
                .push("X-RateLimit-Limit", self.limit_value.clone());
            resp.headers.push(
                "X-RateLimit-Remaining",
                Bytes::from(a.remaining.to_string()),
            );
            resp.headers
                .push("X-RateLimit-Reset", Bytes::from(a.reset.to_string()));
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
