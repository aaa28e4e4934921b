//! A stored response and the variants of one key (one per combination of the request
//! headers its `Vary` names).

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use uring_http::{Body, Headers, Response};

use super::policy::{vary_value, Lifetime};
use crate::compression::{self, CompressionConfig, Encoding};

/// The request header values a variant was made for: (lowercase name, value or absent).
pub type VaryValues = Vec<(Box<str>, Option<Box<[u8]>>)>;

/// Where an entry stands in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// Stale, inside stale-while-revalidate: serve it and refresh in the background.
    StaleRevalidate,
    /// Past both: ask PHP (stale-if-error may still allow it when PHP fails).
    Expired,
}

pub struct Entry {
    pub status: u16,
    /// PHP's headers without the tag headers and the per-request ones.
    pub headers: Headers,
    pub body: Bytes,
    pub stored_at: Instant,
    pub lifetime: Lifetime,
    /// May answer requests that carry Authorization (public, s-maxage, must-revalidate).
    pub auth_ok: bool,
    /// Request header values this variant was made for: (lowercase name, value).
    pub vary: VaryValues,
    /// The body is in PHP's own content coding (zlib.output_compression): Accept-Encoding
    /// is then a real variant; otherwise the body is identity and compressed per client.
    pub encoded: bool,
    /// The body compressed per coding, made on the first hit that asks for it
    /// (None inside: compressing did not make it smaller).
    compressed: [OnceLock<Option<Bytes>>; 3],
}

impl Entry {
    pub fn new(
        status: u16,
        headers: Headers,
        body: Bytes,
        lifetime: Lifetime,
        auth_ok: bool,
        vary: VaryValues,
    ) -> Entry {
        let encoded = headers.contains("Content-Encoding");
        Entry {
            status,
            headers,
            body,
            stored_at: Instant::now(),
            lifetime,
            auth_ok,
            vary,
            encoded,
            compressed: Default::default(),
        }
    }

    pub fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.stored_at)
    }

    pub fn freshness(&self, now: Instant) -> Freshness {
        let age = self.age(now);
        if age < self.lifetime.fresh {
            Freshness::Fresh
        } else if age < self.lifetime.fresh + self.lifetime.stale_while_revalidate {
            Freshness::StaleRevalidate
        } else {
            Freshness::Expired
        }
    }

    /// Whether stale-if-error lets it answer when PHP failed.
    pub fn usable_on_error(&self, now: Instant) -> bool {
        self.age(now) < self.lifetime.fresh + self.lifetime.stale_if_error
    }

    /// Whether this variant was made for a request with these headers.
    pub fn matches(&self, req: &Headers, has_auth: bool) -> bool {
        if has_auth && !self.auth_ok {
            return false;
        }
        self.vary.iter().all(|(name, value)| {
            // An identity body is valid for any Accept-Encoding: the compression
            // middleware encodes it per client.
            (&**name == "accept-encoding" && !self.encoded) || vary_value(req, name) == *value
        })
    }

    /// Memory it holds (body, headers, bookkeeping; room for compressed copies).
    pub fn weight(&self, compression: bool) -> u64 {
        let headers: usize = self
            .headers
            .iter()
            .map(|(n, v)| n.len() + v.len() + 48)
            .sum();
        let vary: usize = self
            .vary
            .iter()
            .map(|(n, v)| n.len() + v.as_ref().map_or(0, |v| v.len()) + 40)
            .sum();
        let body = self.body.len() as u64;
        let copies = if compression && !self.encoded {
            body
        } else {
            0
        };
        256 + headers as u64 + vary as u64 + body + copies
    }

    /// The response for a client: the stored one with `Age`, compressed for the client
    /// when compression is on (once per coding, kept with the entry).
    pub fn respond(
        &self,
        now: Instant,
        compression: Option<(&CompressionConfig, Option<Encoding>)>,
    ) -> Response {
        let mut headers = self.headers.clone();
        let mut age = itoa::Buffer::new();
        headers.push(
            "Age",
            Bytes::copy_from_slice(age.format(self.age(now).as_secs()).as_bytes()),
        );
        let mut body = Body::Bytes(self.body.clone());
        if let Some((cfg, enc)) = compression {
            let len = Some(self.body.len() as u64);
            if compression::eligible(cfg, self.status, &headers, len) {
                // Marked here as the middleware would: it then leaves the response alone.
                compression::add_vary(&mut headers);
                if let Some(enc) = enc {
                    if let Some(out) = self.compressed(cfg, enc) {
                        body = Body::Bytes(out);
                        compression::mark_encoded(&mut headers, enc);
                    }
                }
            }
        }
        Response::new(self.status, headers, body)
    }

    fn compressed(&self, cfg: &CompressionConfig, enc: Encoding) -> Option<Bytes> {
        let slot = &self.compressed[enc.index()];
        if let Some(done) = slot.get() {
            return done.clone();
        }
        // Two cores may both compress the first time; one result is kept. Neither waits.
        let out = match compression::compress_all(enc, cfg, &self.body) {
            Ok(out) if out.len() < self.body.len() => Some(Bytes::from(out)),
            Ok(_) => None,
            Err(e) => {
                tracing::error!(error = %e, "compressing a cached response failed");
                return None;
            }
        };
        let _ = slot.set(out.clone());
        out
    }
}

/// Everything stored under one key.
pub struct Variants {
    pub list: Vec<Arc<Entry>>,
    /// Tags and the path label: what a purge can name this key by.
    pub labels: Vec<Box<str>>,
    pub weight: u64,
}

/// Most variants kept per key (the oldest goes first).
const MAX_VARIANTS: usize = 16;

impl Variants {
    pub fn find(&self, req: &Headers, has_auth: bool) -> Option<&Arc<Entry>> {
        self.list.iter().find(|e| e.matches(req, has_auth))
    }

    /// `old`'s variants with `entry` added, replacing the one for the same request values.
    pub fn with(
        old: Option<&Variants>,
        entry: Arc<Entry>,
        labels: Vec<Box<str>>,
        compression: bool,
    ) -> Variants {
        let mut list: Vec<Arc<Entry>> = old
            .map(|o| {
                o.list
                    .iter()
                    .filter(|e| e.vary != entry.vary || e.auth_ok != entry.auth_ok)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        list.insert(0, entry);
        list.truncate(MAX_VARIANTS);
        let mut all_labels = labels;
        // Labels of the variants kept stay, so a purge by their tags still finds the key.
        for e in old.iter().flat_map(|o| o.labels.iter()) {
            if !all_labels.contains(e) {
                all_labels.push(e.clone());
            }
        }
        let weight = list.iter().map(|e| e.weight(compression)).sum::<u64>()
            + all_labels.iter().map(|l| l.len() as u64 + 32).sum::<u64>();
        Variants {
            list,
            labels: all_labels,
            weight,
        }
    }
}
