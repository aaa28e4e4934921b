//! The standard `process_*` metrics every Prometheus exporter has (the Go and Python
//! clients' process collector): CPU time, memory, file descriptors, start time, read
//! from /proc/self at each scrape.

use std::fmt::Write;

/// What /proc/self/stat says, in the units the metrics use.
#[derive(Debug, PartialEq)]
struct Stat {
    cpu_seconds: f64,
    /// Seconds after boot the process started.
    start_after_boot: f64,
    virtual_bytes: u64,
    resident_bytes: u64,
}

/// Parses /proc/<pid>/stat. Fields after the command name (which may hold spaces and
/// parentheses, hence the last `)`): utime 14, stime 15, starttime 22, vsize 23, rss 24.
fn parse_stat(text: &str, ticks_per_second: u64, page_size: u64) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state).
    let field = |n: usize| fields.get(n - 3)?.parse::<u64>().ok();
    let ticks = ticks_per_second.max(1) as f64;
    Some(Stat {
        cpu_seconds: (field(14)? + field(15)?) as f64 / ticks,
        start_after_boot: field(22)? as f64 / ticks,
        virtual_bytes: field(23)?,
        resident_bytes: field(24)? * page_size,
    })
}

/// Boot time (seconds since the epoch), the `btime` line of /proc/stat.
fn parse_btime(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

fn limit(value: Option<u64>) -> f64 {
    // Unlimited is -1 by the clients' convention.
    value.map_or(-1.0, |v| v as f64)
}

/// Appends the process metrics; a value /proc does not give is left out.
pub fn render(o: &mut String) -> std::fmt::Result {
    let gauge = |o: &mut String, name: &str, help: &str, value: f64| -> std::fmt::Result {
        writeln!(o, "# HELP {name} {help}")?;
        writeln!(o, "# TYPE {name} gauge")?;
        writeln!(o, "{name} {value}")
    };
    let stat = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|t| {
            parse_stat(
                &t,
                rustix::param::clock_ticks_per_second(),
                rustix::param::page_size() as u64,
            )
        });
    if let Some(s) = &stat {
        writeln!(
            o,
            "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds."
        )?;
        writeln!(o, "# TYPE process_cpu_seconds_total counter")?;
        writeln!(o, "process_cpu_seconds_total {}", s.cpu_seconds)?;
    }
    if let Ok(fds) = std::fs::read_dir("/proc/self/fd") {
        // The directory handle itself is one of them.
        let open = fds.count().saturating_sub(1);
        gauge(
            o,
            "process_open_fds",
            "Number of open file descriptors.",
            open as f64,
        )?;
    }
    let nofile = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    gauge(
        o,
        "process_max_fds",
        "Maximum number of open file descriptors.",
        limit(nofile.current),
    )?;
    if let Some(s) = &stat {
        gauge(
            o,
            "process_virtual_memory_bytes",
            "Virtual memory size in bytes.",
            s.virtual_bytes as f64,
        )?;
    }
    let address_space = rustix::process::getrlimit(rustix::process::Resource::As);
    gauge(
        o,
        "process_virtual_memory_max_bytes",
        "Maximum amount of virtual memory available in bytes.",
        limit(address_space.current),
    )?;
    if let Some(s) = &stat {
        gauge(
            o,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            s.resident_bytes as f64,
        )?;
        if let Some(boot) = std::fs::read_to_string("/proc/stat")
            .ok()
            .and_then(|t| parse_btime(&t))
        {
            gauge(
                o,
                "process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                boot as f64 + s.start_after_boot,
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields() {
        // A command name with spaces and a parenthesis, as /proc allows.
        let text = "4242 (uring (php) x) S 1 4242 4242 0 -1 4194560 1 0 0 0 250 150 0 0 20 0 \
                    9 0 12345 1048576 300 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1";
        let s = parse_stat(text, 100, 4096).unwrap();
        assert_eq!(
            s,
            Stat {
                cpu_seconds: 4.0,
                start_after_boot: 123.45,
                virtual_bytes: 1_048_576,
                resident_bytes: 300 * 4096,
            }
        );
        assert_eq!(parse_stat("garbage", 100, 4096), None);
    }

    #[test]
    fn boot_time() {
        assert_eq!(
            parse_btime("cpu  1 2 3\nintr 5\nbtime 1700000000\nprocesses 9\n"),
            Some(1_700_000_000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
    }

    #[test]
    fn renders_every_metric_here() {
        let mut o = String::new();
        render(&mut o).unwrap();
        for name in [
            "process_cpu_seconds_total",
            "process_open_fds",
            "process_max_fds",
            "process_virtual_memory_bytes",
            "process_virtual_memory_max_bytes",
            "process_resident_memory_bytes",
            "process_start_time_seconds",
        ] {
            assert!(o.contains(&format!("\n{name} ")), "{name} missing:\n{o}");
        }
    }
}
