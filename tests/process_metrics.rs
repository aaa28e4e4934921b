//! The standard Prometheus `process_*` metrics in /metrics, checked against what
//! /proc says about the server's process.

mod common;

use std::net::TcpStream;
use std::path::PathBuf;

use common::metrics::{metric, scrape, value};
use common::server::TestServer;
use common::wait::eventually;

fn server() -> TestServer {
    TestServer::builder(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php"))
        .env("PHP_WORKERS", "1")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .start()
}

/// Field `n` (1-based) of /proc/<pid>/stat.
fn stat_field(pid: u32, n: usize) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let rest = &text[text.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(n - 3).unwrap().parse().unwrap()
}

fn clock_ticks() -> f64 {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
fn process_metrics_describe_the_server_process() {
    let s = server();
    let internal = s.internal_addr();
    let m = scrape(&internal);
    let types: Vec<(&str, &str)> = [
        ("process_cpu_seconds_total", "counter"),
        ("process_open_fds", "gauge"),
        ("process_max_fds", "gauge"),
        ("process_virtual_memory_bytes", "gauge"),
        ("process_virtual_memory_max_bytes", "gauge"),
        ("process_resident_memory_bytes", "gauge"),
        ("process_start_time_seconds", "gauge"),
    ]
    .to_vec();
    for (name, kind) in &types {
        let sample = m
            .samples
            .iter()
            .find(|x| x.metric == *name)
            .unwrap_or_else(|| panic!("{name} missing"));
        let is_counter = matches!(sample.value, prometheus_parse::Value::Counter(_));
        assert_eq!(is_counter, *kind == "counter", "{name} is a {kind}");
    }

    // The soft open-files limit, as /proc/<pid>/limits shows it.
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", s.pid())).unwrap();
    let soft: f64 = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(value(&m, "process_max_fds", &[]), soft);

    // Start time: boot time + the stat's starttime.
    let btime: f64 = std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let started = btime + stat_field(s.pid(), 22) as f64 / clock_ticks();
    let reported = value(&m, "process_start_time_seconds", &[]);
    assert!((reported - started).abs() < 0.02, "{reported} vs {started}");

    let rss = value(&m, "process_resident_memory_bytes", &[]);
    let vsz = value(&m, "process_virtual_memory_bytes", &[]);
    assert!(rss > 1e6 && vsz >= rss, "rss {rss}, vsz {vsz}");
    let open = value(&m, "process_open_fds", &[]);
    assert!(open > 3.0 && open <= soft, "{open}");
}

#[test]
fn open_fds_follow_the_connections() {
    let s = server();
    let internal = s.internal_addr();
    let before = metric(&internal, "process_open_fds", &[]);
    let held: Vec<TcpStream> = (0..20)
        .map(|_| TcpStream::connect(s.addr()).unwrap())
        .collect();
    eventually("20 more open fds", || {
        metric(&internal, "process_open_fds", &[]) >= before + 20.0
    });
    drop(held);
    eventually("the fds closed again", || {
        metric(&internal, "process_open_fds", &[]) < before + 20.0
    });
    // CPU time only grows.
    let cpu = metric(&internal, "process_cpu_seconds_total", &[]);
    assert!(cpu > 0.0);
    assert!(metric(&internal, "process_cpu_seconds_total", &[]) >= cpu);
}
