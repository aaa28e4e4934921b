//! Misses in flight, shared by every core: the first miss for a key runs PHP (the
//! leader), later ones for the same key wait for it (bounded) and then look again.
//! A wake crosses cores through monoio's `sync` wakers.

use std::collections::HashMap;
use std::future::poll_fn;
use std::hash::BuildHasher;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::time::Duration;

const SHARDS: usize = 16;

/// How a leader's miss ended, as its waiters see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored: look again.
    Stored,
    /// Answered but not storable (or not for every variant): go to PHP yourself.
    NotStored,
    /// PHP failed (5xx, timeout, queue full) or the leader went away.
    Failed,
}

#[derive(Default)]
pub struct Flight {
    state: Mutex<(Option<Outcome>, Vec<Waker>)>,
}

impl Flight {
    fn finish(&self, outcome: Outcome) {
        let wakers = {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if s.0.is_some() {
                return;
            }
            s.0 = Some(outcome);
            std::mem::take(&mut s.1)
        };
        for w in wakers {
            w.wake();
        }
    }

    /// Waits for the leader, at most `limit`; None when the time ran out.
    pub async fn wait(&self, limit: Duration) -> Option<Outcome> {
        let done = poll_fn(|cx| {
            let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(o) = s.0 {
                return Poll::Ready(o);
            }
            if !s.1.iter().any(|w| w.will_wake(cx.waker())) {
                s.1.push(cx.waker().clone());
            }
            Poll::Pending
        });
        monoio::select! {
            o = done => Some(o),
            _ = monoio::time::sleep(limit) => None,
        }
    }
}

#[derive(Default)]
pub struct Flights {
    shards: [Mutex<HashMap<Box<str>, Arc<Flight>>>; SHARDS],
    hasher: std::collections::hash_map::RandomState,
}

pub enum Joined {
    Leader(Leader),
    Waiter(Arc<Flight>),
}

impl Flights {
    fn shard(&self, key: &str) -> &Mutex<HashMap<Box<str>, Arc<Flight>>> {
        &self.shards[(self.hasher.hash_one(key) as usize) % SHARDS]
    }

    /// Leads the miss for `key`, or joins the one in flight.
    pub fn join(self: &Arc<Self>, key: &str) -> Joined {
        let mut shard = self.shard(key).lock().unwrap_or_else(|e| e.into_inner());
        if let Some(f) = shard.get(key) {
            return Joined::Waiter(Arc::clone(f));
        }
        let flight = Arc::new(Flight::default());
        shard.insert(key.into(), Arc::clone(&flight));
        Joined::Leader(Leader {
            flights: Arc::clone(self),
            key: key.into(),
            flight,
            outcome: Outcome::Failed,
        })
    }

    /// Leads the miss for `key` only if none is in flight (background refresh).
    pub fn lead(self: &Arc<Self>, key: &str) -> Option<Leader> {
        match self.join(key) {
            Joined::Leader(l) => Some(l),
            Joined::Waiter(_) => None,
        }
    }
}

/// The right to run PHP for a key. Dropping it ends the flight with its outcome
/// (`Failed` unless set: a leader whose client left releases its waiters at once).
pub struct Leader {
    flights: Arc<Flights>,
    key: Box<str>,
    flight: Arc<Flight>,
    outcome: Outcome,
}

impl Leader {
    pub fn set_outcome(&mut self, outcome: Outcome) {
        self.outcome = outcome;
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        {
            let mut shard = self
                .flights
                .shard(&self.key)
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            if shard
                .get(&self.key)
                .is_some_and(|f| Arc::ptr_eq(f, &self.flight))
            {
                shard.remove(&self.key);
            }
        }
        self.flight.finish(self.outcome);
    }
}
