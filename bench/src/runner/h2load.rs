//! Runs h2load (nghttp2's HTTP/2 load generator) and reads its report. h2load reports
//! no latency percentiles (only min / max / mean / sd), so p50 and p99 stay unknown.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use super::wrk::{WrkReport, WrkResult};

pub struct H2Run<'a> {
    pub url: String,
    pub connections: usize,
    pub streams: usize,
    pub threads: usize,
    pub duration: Duration,
    pub cpus: &'a [usize],
}

pub fn run(r: &H2Run) -> Result<WrkResult, String> {
    let mut cmd = if r.cpus.is_empty() {
        Command::new("h2load")
    } else {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(super::cpu_list(r.cpus)).arg("h2load");
        c
    };
    cmd.arg(format!("-c{}", r.connections))
        .arg(format!("-m{}", r.streams))
        .arg(format!("-t{}", r.threads.clamp(1, r.connections)))
        .arg("-D")
        .arg(r.duration.as_secs().max(1).to_string())
        .arg(&r.url);
    let before = super::wrk::children_cpu_s();
    let t0 = Instant::now();
    let out = cmd
        .output()
        .map_err(|e| format!("cannot run h2load: {e}"))?;
    let wall = t0.elapsed();
    let client_cpu_s = super::wrk::children_cpu_s() - before;
    let raw = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!(
            "h2load failed ({}): {raw}{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let report = parse(&raw).ok_or_else(|| format!("cannot read h2load's report:\n{raw}"))?;
    Ok(WrkResult {
        report,
        wall,
        client_cpu_s,
        raw,
    })
}

/// Whether `addr` answers `path` over h2c (prior knowledge) with 2xx.
pub fn supported(addr: SocketAddr, path: &str) -> Result<(), String> {
    let out = Command::new("h2load")
        .args(["-n", "10", "-c", "1", "-m", "1"])
        .arg(format!("http://{addr}{path}"))
        .output()
        .map_err(|e| format!("cannot run h2load: {e}"))?;
    let raw = String::from_utf8_lossy(&out.stdout);
    match parse(&raw) {
        Some(r) if r.requests == 10 && r.non_2xx == 0 && r.socket_errors == 0 => Ok(()),
        _ => {
            Err("does not speak HTTP/2 over cleartext (h2load with prior knowledge failed)".into())
        }
    }
}

/// The numbers after `key` on the line that starts with it, e.g. "requests:" →
/// [total, started, done, succeeded, failed, errored, timeout].
fn numbers(out: &str, key: &str) -> Vec<f64> {
    out.lines()
        .map(str::trim)
        .find(|l| l.starts_with(key))
        .map(|l| {
            l[key.len()..]
                .split([',', ' '])
                .filter_map(|t| t.trim().parse::<f64>().ok())
                .collect()
        })
        .unwrap_or_default()
}

pub fn parse(out: &str) -> Option<WrkReport> {
    // "finished in 2.00s, 12345.67 req/s, 1.23MB/s"
    let finished = out
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("finished in"))?;
    let rps: f64 = finished
        .split(',')
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let req = numbers(out, "requests:");
    let codes = numbers(out, "status codes:");
    let (failed, timeout) = (*req.get(4)? as u64, *req.get(6)? as u64);
    // Answers received, whatever their status (as wrk counts them).
    let answered = codes.iter().sum::<f64>() as u64;
    let non_2xx = codes.iter().skip(1).sum::<f64>() as u64;
    Some(WrkReport {
        requests: answered,
        rps,
        p50_us: f64::NAN,
        p99_us: f64::NAN,
        socket_errors: failed.saturating_sub(non_2xx) + timeout,
        non_2xx,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "starting benchmark...
spawning thread #0: 16 total client(s). Timing-based test with 0s of warm-up time and 2s of main duration for measurements.
Warm-up phase is over for thread #0.
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 2.00s, 51234.50 req/s, 2.54MB/s
requests: 102469 total, 102629 started, 102469 done, 102400 succeeded, 69 failed, 9 errored, 0 timeout
status codes: 102400 2xx, 0 3xx, 60 4xx, 0 5xx
traffic: 5.08MB (5326920) total, 1.20MB (1254250) headers (space savings 94.02%), 1.27MB (1331200) data
                     min         max         mean         sd        +/- sd
time for request:      101us     12.55ms      3.08ms      1.02ms    71.21%
";

    #[test]
    fn parses_a_report() {
        let r = parse(SAMPLE).unwrap();
        assert!((r.rps - 51234.5).abs() < 1e-6);
        assert_eq!(r.requests, 102400 + 60);
        assert_eq!(r.non_2xx, 60);
        assert_eq!(r.socket_errors, 9);
        assert!(r.p99_us.is_nan());
    }
}
