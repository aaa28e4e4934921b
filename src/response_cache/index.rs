//! Labels → keys: which keys a purge by tag or by path reaches. Touched only when an
//! entry is stored, evicted or purged, never by a hit.

use std::collections::{HashMap, HashSet};
use std::hash::BuildHasher;
use std::sync::Mutex;

const SHARDS: usize = 16;

/// One shard: label → the keys filed under it.
type Shard = Mutex<HashMap<Box<str>, HashSet<Box<str>>>>;

#[derive(Default)]
pub struct LabelIndex {
    shards: [Shard; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

impl LabelIndex {
    fn shard(&self, label: &str) -> &Shard {
        &self.shards[(self.hasher.hash_one(label) as usize) % SHARDS]
    }

    pub fn add(&self, key: &str, labels: &[Box<str>]) {
        for l in labels {
            let mut shard = self.shard(l).lock().unwrap_or_else(|e| e.into_inner());
            shard.entry(l.clone()).or_default().insert(key.into());
        }
    }

    /// The key is gone (evicted, purged, replaced without these labels).
    pub fn forget(&self, key: &str, labels: &[Box<str>]) {
        for l in labels {
            let mut shard = self.shard(l).lock().unwrap_or_else(|e| e.into_inner());
            if let Some(keys) = shard.get_mut(l) {
                keys.remove(key);
                if keys.is_empty() {
                    shard.remove(l);
                }
            }
        }
    }

    /// Takes every key filed under `label`.
    pub fn take(&self, label: &str) -> Vec<Box<str>> {
        let mut shard = self.shard(label).lock().unwrap_or_else(|e| e.into_inner());
        shard
            .remove(label)
            .map(|keys| keys.into_iter().collect())
            .unwrap_or_default()
    }

    pub fn clear(&self) {
        for s in &self.shards {
            s.lock().unwrap_or_else(|e| e.into_inner()).clear();
        }
    }
}
