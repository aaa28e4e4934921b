//! The facts RESULTS.md states about the machine and the software measured.

use std::fs;
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use super::scenarios::Peer;
use super::servers::{NGINX_BIN, PHP_CLI_BIN, PHP_FPM_BIN};

pub struct Machine {
    pub cpu_model: String,
    pub cpus: usize,
    pub kernel: String,
    pub memory: String,
    pub os: String,
    pub date: String,
    pub php_embed: String,
    pub php_fpm: String,
    pub php_cli: String,
    pub nginx: String,
    pub wrk: String,
    pub commit: String,
    pub io_uring: String,
}

pub fn collect() -> Machine {
    let cpuinfo = fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu_model = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("unknown".into(), |(_, v)| v.trim().to_string());
    let memory = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .map(str::to_string)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let os = fs::read_to_string("/etc/os-release")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("PRETTY_NAME="))
                .map(|l| l[12..].trim_matches('"').to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let io_uring = match fs::read_to_string("/proc/sys/kernel/io_uring_disabled") {
        Ok(v) if v.trim() != "0" => format!("kernel.io_uring_disabled = {}", v.trim()),
        _ => "available".into(),
    };
    Machine {
        cpu_model,
        cpus: super::allowed_cpus().len(),
        kernel: fs::read_to_string("/proc/sys/kernel/osrelease")
            .unwrap_or_default()
            .trim()
            .to_string(),
        memory,
        os,
        date: utc_now(),
        php_embed: format!(
            "{} ({})",
            uring_php::php::Engine::php_version(),
            uring_php::php::Engine::php_build()
        ),
        php_fpm: first_line(PHP_FPM_BIN, &["-v"]),
        php_cli: first_line(PHP_CLI_BIN, &["-v"]),
        nginx: first_line(NGINX_BIN, &["-v"])
            .trim_start_matches("nginx version: ")
            .to_string(),
        wrk: first_line("wrk", &["-v"])
            .split(" Copyright")
            .next()
            .unwrap_or_default()
            .to_string(),
        commit: commit(),
        io_uring,
    }
}

/// The build of a peer that runs Debian's PHP: "NTS, Debian package php8.2-fpm 8.2.x-…".
pub fn debian_php_build(peer: Peer) -> String {
    let package = match peer {
        Peer::NginxFpm => "php8.2-fpm",
        Peer::PhpServer => "php8.2-cli",
        _ => return String::new(),
    };
    let version = Command::new("dpkg-query")
        .args(["-W", "-f", "${Version}", package])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "(version unknown)".into());
    format!("NTS, Debian package {package} {version}")
}

fn first_line(prog: &str, args: &[&str]) -> String {
    match Command::new(prog).args(args).output() {
        Ok(o) => {
            let mut s = String::from_utf8_lossy(&o.stdout).into_owned();
            s.push_str(&String::from_utf8_lossy(&o.stderr));
            s.lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("")
                .trim()
                .to_string()
        }
        Err(_) => "not installed".into(),
    }
}

fn commit() -> String {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
    let rev = Command::new("git")
        .args(["-C", root, "rev-parse", "--short", "HEAD"])
        .output();
    let Ok(rev) = rev else {
        return "unknown".into();
    };
    let rev = String::from_utf8_lossy(&rev.stdout).trim().to_string();
    if rev.is_empty() {
        return "unknown".into();
    }
    let dirty = Command::new("git")
        .args(["-C", root, "status", "--porcelain", "--untracked-files=no"])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false);
    if dirty {
        format!("{rev} with uncommitted changes")
    } else {
        rev
    }
}

/// "2026-01-31 12:34 UTC", from the system clock.
pub fn utc_now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    format_utc(secs)
}

fn format_utc(secs: u64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp(secs as i64)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400 + 3_661), "2000-02-29 01:01 UTC");
        assert_eq!(format_utc(1_767_225_600), "2026-01-01 00:00 UTC");
    }
}
