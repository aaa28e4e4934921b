//! Which lane a free worker takes its next job from.
//!
//! Cores do not get equal shares of the connections (SO_REUSEPORT hashes them), so their
//! lanes fill unevenly. A worker that always emptied its own lane first served the
//! connections of a lightly loaded core faster than everyone else's: with 16 connections
//! on 2 cores and DokuWiki, one connection got 2.5× the requests of the median one, and
//! the requests queued on the busy core made the tail. php-fpm's one accept queue is a
//! global FIFO and serves every connection alike.
//!
//! The rule: a worker takes from a longer lane `k` with probability (Lₖ − L_own) / ΣL,
//! else from its own. With two lanes of `w` workers each this gives lane `i` a service
//! rate proportional to its length Lᵢ, so the expected wait Lᵢ / rateᵢ is the same in
//! every lane — a global FIFO's fairness — while a balanced pool (equal lanes, the
//! hello.php case) never leaves its CPU. No lane can starve: its own workers take from it
//! with probability ≥ 2·L_own / ΣL > 0 whenever it holds anything.

/// The lane to take from, given each lane's length, the worker's own lane and a uniform
/// random number. `None` when every lane is empty.
pub(crate) fn pick(lens: &[usize], own: usize, random: u64) -> Option<usize> {
    let total: usize = lens.iter().sum();
    if total == 0 {
        return None;
    }
    let mine = lens[own];
    let excess = |k: usize| {
        if k == own {
            0
        } else {
            lens[k].saturating_sub(mine)
        }
    };
    let surplus: usize = (0..lens.len()).map(excess).sum();
    if surplus == 0 {
        return Some(own);
    }
    let mut r = (random % total as u64) as usize;
    if r >= surplus {
        return Some(own);
    }
    for k in 0..lens.len() {
        let e = excess(k);
        if r < e {
            return Some(k);
        }
        r -= e;
    }
    Some(own)
}

/// A worker's own random numbers (xorshift64*): no shared state, no syscall.
pub(crate) struct Random(u64);

impl Random {
    pub(crate) fn new(seed: u64) -> Random {
        // Any non-zero state works; spread small seeds (worker ids) apart.
        Random(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub(crate) fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balanced_or_longer_own_lane_stays_home() {
        for r in 0..100 {
            assert_eq!(pick(&[3, 3], 0, r), Some(0));
            assert_eq!(pick(&[5, 2], 0, r), Some(0));
            assert_eq!(pick(&[1, 0], 0, r), Some(0));
        }
        assert_eq!(pick(&[0, 0], 1, 7), None);
    }

    #[test]
    fn an_empty_own_lane_takes_from_the_others_by_length() {
        let mut seen = [0usize; 3];
        for r in 0..600 {
            seen[pick(&[0, 1, 2], 0, r).unwrap()] += 1;
        }
        assert_eq!(seen, [0, 200, 400]);
    }

    #[test]
    fn a_shorter_lane_steals_by_the_difference() {
        // Own 1, other 11: steal with probability 10/12.
        let stolen = (0..1200)
            .filter(|&r| pick(&[11, 1], 1, r) == Some(0))
            .count();
        assert_eq!(stolen, 1000);
    }

    /// Two lanes of two workers, the first fed by three times the connections: with this
    /// rule both lanes' expected waits (length / service rate) come out equal.
    #[test]
    fn expected_waits_are_equal_across_lanes() {
        let (l0, l1) = (12usize, 4usize);
        let total = (l0 + l1) as f64;
        // Share of lane 0's and lane 1's workers' picks that go to each lane.
        let to0_from1 = (0..total as u64)
            .filter(|&r| pick(&[l0, l1], 1, r) == Some(0))
            .count() as f64
            / total;
        let to1_from0 = (0..total as u64)
            .filter(|&r| pick(&[l0, l1], 0, r) == Some(1))
            .count() as f64
            / total;
        let rate0 = 2.0 * (1.0 - to1_from0) + 2.0 * to0_from1;
        let rate1 = 2.0 * (1.0 - to0_from1) + 2.0 * to1_from0;
        assert!((l0 as f64 / rate0 - l1 as f64 / rate1).abs() < 1e-9);
    }

    #[test]
    fn random_numbers_vary() {
        let mut r = Random::new(0);
        let a = r.next();
        assert_ne!(a, r.next());
    }
}
