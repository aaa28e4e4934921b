//! Samples (one wrk run each) and what the report makes of them.

use super::mode::Mode;
use super::scenarios::Peer;

#[derive(Clone, Debug)]
pub struct Sample {
    pub mode: Mode,
    pub scenario: &'static str,
    pub peer: Peer,
    pub conns: usize,
    pub round: usize,
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    pub socket_errors: u64,
    pub non_2xx: u64,
    /// utime + stime of the server's process tree during the run.
    pub server_cpu_s: f64,
    /// wrk's own CPU time.
    pub client_cpu_s: f64,
    pub wall_s: f64,
    /// CPU time the rest of the machine (neither this server nor wrk) used meanwhile.
    pub other_cpu_s: f64,
    /// CPU time the hypervisor took from this VM meanwhile.
    pub steal_s: f64,
    /// Sum of VmHWM over the server's processes, reset before the run.
    pub peak_rss_kib: u64,
}

impl Sample {
    pub fn cpu_us_per_req(&self) -> f64 {
        if self.requests == 0 {
            return f64::NAN;
        }
        self.server_cpu_s * 1e6 / self.requests as f64
    }

    pub fn errors(&self) -> u64 {
        self.socket_errors + self.non_2xx
    }
}

/// One data point: the rounds of a (mode, scenario, peer, connections) combined.
#[derive(Clone, Debug)]
pub struct Point {
    /// Mean over rounds.
    pub rps: f64,
    /// Mean over rounds of wrk's percentiles.
    pub p50_us: f64,
    pub p99_us: f64,
    /// Total server CPU over total requests.
    pub cpu_us_per_req: f64,
    /// Server CPU time over wall time: how many CPUs it kept busy.
    pub server_cpus_busy: f64,
    pub client_cpus_busy: f64,
    pub peak_rss_kib: u64,
    pub non_2xx: u64,
    pub socket_errors: u64,
    /// Lowest and highest RPS of the rounds.
    pub rps_min: f64,
    pub rps_max: f64,
}

impl Point {
    /// (highest − lowest) / mean of the rounds' req/s, in percent.
    pub fn spread_pct(&self) -> f64 {
        if self.rps > 0.0 {
            (self.rps_max - self.rps_min) / self.rps * 100.0
        } else {
            f64::NAN
        }
    }
}

pub fn point(samples: &[&Sample]) -> Option<Point> {
    if samples.is_empty() {
        return None;
    }
    let n = samples.len() as f64;
    let sum = |f: &dyn Fn(&Sample) -> f64| samples.iter().map(|s| f(s)).sum::<f64>();
    let requests: u64 = samples.iter().map(|s| s.requests).sum();
    let wall = sum(&|s| s.wall_s);
    Some(Point {
        rps: sum(&|s| s.rps) / n,
        p50_us: sum(&|s| s.p50_us) / n,
        p99_us: sum(&|s| s.p99_us) / n,
        cpu_us_per_req: if requests == 0 {
            f64::NAN
        } else {
            sum(&|s| s.server_cpu_s) * 1e6 / requests as f64
        },
        server_cpus_busy: if wall > 0.0 {
            sum(&|s| s.server_cpu_s) / wall
        } else {
            f64::NAN
        },
        client_cpus_busy: if wall > 0.0 {
            sum(&|s| s.client_cpu_s) / wall
        } else {
            f64::NAN
        },
        peak_rss_kib: samples.iter().map(|s| s.peak_rss_kib).max().unwrap_or(0),
        non_2xx: samples.iter().map(|s| s.non_2xx).sum(),
        socket_errors: samples.iter().map(|s| s.socket_errors).sum(),
        rps_min: samples.iter().map(|s| s.rps).fold(f64::INFINITY, f64::min),
        rps_max: samples.iter().map(|s| s.rps).fold(0.0, f64::max),
    })
}

/// The data point of `peer` in `mode`/`scenario` at `conns` connections.
pub fn find(
    samples: &[Sample],
    mode: Mode,
    scenario: &str,
    peer: Peer,
    conns: usize,
) -> Option<Point> {
    let v: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.mode == mode && s.scenario == scenario && s.peer == peer && s.conns == conns)
        .collect();
    point(&v)
}

/// "812 µs", "3.43 ms", "1.20 s".
pub fn fmt_us(us: f64) -> String {
    if !us.is_finite() {
        "–".into()
    } else if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1e6 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

/// Every sample, one line each.
pub fn csv(samples: &[Sample], scaling: &[ScalingRow]) -> String {
    let mut out = String::from(
        "mode,scenario,peer,connections,round,requests,rps,p50_us,p99_us,socket_errors,non_2xx,server_cpu_s,client_cpu_s,other_cpu_s,steal_s,wall_s,cpu_us_per_req,peak_rss_kib,scaling_cores\n",
    );
    let rows = samples.iter().map(|s| (s, String::new())).chain(
        scaling
            .iter()
            .flat_map(|r| r.samples.iter().map(move |s| (s, r.cores.to_string()))),
    );
    for (s, cores) in rows {
        out.push_str(&format!(
            "{},{},{},{},{},{},{:.1},{:.1},{:.1},{},{},{:.3},{:.3},{:.3},{:.3},{:.3},{:.2},{},{}\n",
            s.mode,
            s.scenario,
            s.peer.key(),
            s.conns,
            s.round,
            s.requests,
            s.rps,
            s.p50_us,
            s.p99_us,
            s.socket_errors,
            s.non_2xx,
            s.server_cpu_s,
            s.client_cpu_s,
            s.other_cpu_s,
            s.steal_s,
            s.wall_s,
            s.cpu_us_per_req(),
            s.peak_rss_kib,
            cores
        ));
    }
    out
}

/// The scaling run: one row per CPU count.
#[derive(Clone, Debug)]
pub struct ScalingRow {
    pub cores: usize,
    pub server_cpus: String,
    pub client_cpus: String,
    pub connections: usize,
    pub samples: Vec<Sample>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(rps: f64, requests: u64, cpu: f64) -> Sample {
        Sample {
            mode: Mode::Shared,
            scenario: "hello",
            peer: Peer::Uring,
            conns: 16,
            round: 0,
            requests,
            rps,
            p50_us: 100.0,
            p99_us: 1000.0,
            socket_errors: 0,
            non_2xx: 0,
            server_cpu_s: cpu,
            client_cpu_s: 0.5,
            wall_s: 2.0,
            other_cpu_s: 0.0,
            steal_s: 0.0,
            peak_rss_kib: 1000,
        }
    }

    #[test]
    fn points_combine_rounds() {
        let (a, b) = (sample(100.0, 200, 1.0), sample(300.0, 600, 1.0));
        let p = point(&[&a, &b]).unwrap();
        assert_eq!(p.rps, 200.0);
        assert!((p.cpu_us_per_req - 2.0 * 1e6 / 800.0).abs() < 1e-9);
        assert_eq!((p.rps_min, p.rps_max), (100.0, 300.0));
        assert!((p.server_cpus_busy - 0.5).abs() < 1e-9);
    }

    #[test]
    fn formats() {
        assert_eq!(fmt_us(812.0), "812 µs");
        assert_eq!(fmt_us(3430.0), "3.43 ms");
        assert_eq!(fmt_us(2.0e6), "2.00 s");
        assert!(csv(&[sample(1.0, 2, 0.1)], &[]).lines().count() == 2);
    }
}
