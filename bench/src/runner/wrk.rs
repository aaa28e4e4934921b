//! Runs wrk and reads its report.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// What one wrk run reported.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WrkReport {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
    /// connect + read + write + timeout errors.
    pub socket_errors: u64,
    pub non_2xx: u64,
}

/// How to start wrk.
#[derive(Clone, Debug)]
pub struct WrkRun<'a> {
    pub url: String,
    pub connections: usize,
    pub threads: usize,
    pub duration: Duration,
    /// CPUs to pin wrk to (`taskset -c`); empty: not pinned.
    pub cpus: &'a [usize],
    /// A wrk Lua script (the POST scenario) and its environment.
    pub script: Option<&'a Path>,
    pub env: Vec<(String, String)>,
}

/// A finished run: the report, the wall time and the CPU seconds wrk itself used.
pub struct WrkResult {
    pub report: WrkReport,
    pub wall: Duration,
    pub client_cpu_s: f64,
    pub raw: String,
}

pub fn run(r: &WrkRun) -> Result<WrkResult, String> {
    let mut cmd = if r.cpus.is_empty() {
        Command::new("wrk")
    } else {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(crate::runner::cpu_list(r.cpus)).arg("wrk");
        c
    };
    let secs = r.duration.as_secs_f64().max(1.0).round() as u64;
    cmd.arg(format!("-t{}", r.threads.clamp(1, r.connections)))
        .arg(format!("-c{}", r.connections))
        .arg(format!("-d{secs}s"))
        .arg("--latency")
        .arg("--timeout")
        .arg("10s");
    if let Some(s) = r.script {
        cmd.arg("-s").arg(s);
    }
    cmd.arg(&r.url);
    for (k, v) in &r.env {
        cmd.env(k, v);
    }
    let before = children_cpu_s();
    let t0 = Instant::now();
    let out = cmd.output().map_err(|e| format!("cannot run wrk: {e}"))?;
    let wall = t0.elapsed();
    let client_cpu_s = children_cpu_s() - before;
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "wrk failed ({}): {}{}",
            out.status,
            raw,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let report = parse(&raw).ok_or_else(|| format!("cannot read wrk's report:\n{raw}"))?;
    Ok(WrkResult {
        report,
        wall,
        client_cpu_s,
        raw,
    })
}

/// CPU seconds (user + system) of the children this process has reaped.
pub(super) fn children_cpu_s() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_CHILDREN) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => 0.0,
    }
}

/// A wrk duration ("812.00us", "1.23ms", "2.01s", "1.00m") in microseconds.
fn duration_us(s: &str) -> Option<f64> {
    let s = s.trim();
    let split = s.find(|c: char| c.is_ascii_alphabetic())?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    Some(match unit {
        "us" => v,
        "ms" => v * 1e3,
        "s" => v * 1e6,
        "m" => v * 60e6,
        "h" => v * 3600e6,
        _ => return None,
    })
}

/// Reads wrk's `--latency` report.
pub fn parse(out: &str) -> Option<WrkReport> {
    let mut r = WrkReport::default();
    let (mut have_rps, mut have_req) = (false, false);
    for line in out.lines().map(str::trim) {
        if let Some(v) = line.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().ok()?;
            have_rps = true;
        } else if let Some(v) = line.strip_prefix("50%") {
            r.p50_us = duration_us(v)?;
        } else if let Some(v) = line.strip_prefix("99%") {
            r.p99_us = duration_us(v)?;
        } else if line.contains(" requests in ") {
            r.requests = line.split_whitespace().next()?.parse().ok()?;
            have_req = true;
        } else if let Some(v) = line.strip_prefix("Socket errors:") {
            // "connect 0, read 0, write 0, timeout 0"
            r.socket_errors = v
                .split(',')
                .filter_map(|part| part.split_whitespace().nth(1))
                .filter_map(|n| n.parse::<u64>().ok())
                .sum();
        } else if let Some(v) = line.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse().ok()?;
        }
    }
    (have_rps && have_req).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Running 2s test @ http://127.0.0.1:8080/hello.php
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.61ms  500.09us  12.54ms   85.12%
    Req/Sec    20.01k     1.20k   22.30k    70.00%
  Latency Distribution
     50%  812.00us
     75%    1.80ms
     90%    2.10ms
     99%    3.43ms
  79651 requests in 2.00s, 11.70MB read
  Socket errors: connect 0, read 3, write 1, timeout 2
  Non-2xx or 3xx responses: 7
Requests/sec:  39771.10
Transfer/sec:      5.84MB
";

    #[test]
    fn parses_a_report() {
        let r = parse(SAMPLE).unwrap();
        assert_eq!(r.requests, 79651);
        assert!((r.rps - 39771.10).abs() < 1e-6);
        assert!((r.p50_us - 812.0).abs() < 1e-6);
        assert!((r.p99_us - 3430.0).abs() < 1e-6);
        assert_eq!(r.socket_errors, 6);
        assert_eq!(r.non_2xx, 7);
    }

    #[test]
    fn durations() {
        let near = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-3);
        assert!(near(duration_us("2.01s"), 2_010_000.0));
        assert!(near(duration_us("1.00m"), 60_000_000.0));
        assert!(near(duration_us("12.5ms"), 12_500.0));
        assert_eq!(duration_us("x"), None);
    }

    #[test]
    fn incomplete_report_is_refused() {
        assert!(parse("Running 2s test\n").is_none());
    }
}
