//! Choosing a content coding from `Accept-Encoding` (RFC 9110 §12.5.3), q-values honoured.

/// The codings the server produces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    Zstd,
    Br,
    Gzip,
}

/// The server's order among codings the client ranks equally: zstd compresses about as
/// well as brotli at a fraction of the CPU, gzip is the fallback every client has.
pub const PREFERENCE: [Encoding; 3] = [Encoding::Zstd, Encoding::Br, Encoding::Gzip];

impl Encoding {
    /// The Content-Encoding token.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Br => "br",
            Encoding::Gzip => "gzip",
        }
    }

    /// The suffix of a precompressed static file.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Encoding::Zstd => ".zst",
            Encoding::Br => ".br",
            Encoding::Gzip => ".gz",
        }
    }

    pub fn index(self) -> usize {
        match self {
            Encoding::Zstd => 0,
            Encoding::Br => 1,
            Encoding::Gzip => 2,
        }
    }
}

/// The codings a client accepts, best first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accepted {
    list: [Option<Encoding>; 3],
}

impl Accepted {
    pub fn iter(&self) -> impl Iterator<Item = Encoding> + '_ {
        self.list.iter().map_while(|e| *e)
    }

    pub fn best(&self) -> Option<Encoding> {
        self.list[0]
    }

    pub fn is_empty(&self) -> bool {
        self.list[0].is_none()
    }
}

/// Ranks our codings by the client's q-values (a coding not listed takes `*`'s q, or is
/// not acceptable), dropping q=0; ties go by [`PREFERENCE`].
pub fn negotiate(header: &[u8]) -> Accepted {
    let Ok(header) = std::str::from_utf8(header) else {
        return Accepted::default();
    };
    // q in thousandths; None = not mentioned.
    let mut q: [Option<u16>; 3] = [None; 3];
    let mut star: Option<u16> = None;
    for item in header.split(',') {
        let mut parts = item.split(';');
        let token = parts.next().unwrap_or("").trim();
        if token.is_empty() {
            continue;
        }
        let mut weight = 1000;
        for p in parts {
            let p = p.trim();
            if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                weight = parse_q(v.trim()).unwrap_or(0);
            }
        }
        let slot = if token.eq_ignore_ascii_case("zstd") {
            &mut q[0]
        } else if token.eq_ignore_ascii_case("br") {
            &mut q[1]
        } else if token.eq_ignore_ascii_case("gzip") || token.eq_ignore_ascii_case("x-gzip") {
            &mut q[2]
        } else if token == "*" {
            &mut star
        } else {
            continue;
        };
        // Listed twice: the higher weight wins.
        *slot = Some(slot.map_or(weight, |w: u16| w.max(weight)));
    }
    let mut ranked: Vec<(u16, usize, Encoding)> = PREFERENCE
        .iter()
        .enumerate()
        .filter_map(|(pref, &e)| {
            let w = q[e.index()].or(star).unwrap_or(0);
            (w > 0).then_some((w, pref, e))
        })
        .collect();
    ranked.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut out = Accepted::default();
    for (slot, (_, _, e)) in out.list.iter_mut().zip(ranked) {
        *slot = Some(e);
    }
    out
}

/// A qvalue: 0 to 1 with up to three decimals.
fn parse_q(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int: u16 = match int {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += (b - b'0') as u16 * [100, 10, 1][i];
    }
    let q = int * 1000 + thousandths;
    (q <= 1000).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use Encoding::*;

    fn order(h: &str) -> Vec<Encoding> {
        negotiate(h.as_bytes()).iter().collect()
    }

    #[test]
    fn q_values_and_preference() {
        assert_eq!(order("gzip, deflate, br, zstd"), vec![Zstd, Br, Gzip]);
        assert_eq!(order("gzip, deflate, br"), vec![Br, Gzip]);
        assert_eq!(order("gzip"), vec![Gzip]);
        assert_eq!(order("br;q=0.5, gzip;q=0.8"), vec![Gzip, Br]);
        assert_eq!(order("br;q=1.0, zstd;q=0.999"), vec![Br, Zstd]);
        assert_eq!(order("*"), vec![Zstd, Br, Gzip]);
        assert_eq!(order("gzip;q=0, *"), vec![Zstd, Br]);
        assert_eq!(order("*;q=0, gzip"), vec![Gzip]);
        assert_eq!(order("identity"), vec![]);
        assert_eq!(order(""), vec![]);
        assert_eq!(order("br;q=0"), vec![]);
        assert_eq!(order("br;q=2"), vec![]);
        assert_eq!(order("BR, X-GZIP;q=0.1"), vec![Br, Gzip]);
    }
}
