//! What a server costs, from /proc: CPU time (utime + stime, in clock ticks) and peak
//! resident memory (VmHWM) summed over its process tree.

use std::collections::{BTreeSet, HashMap};
use std::fs;

/// The pids of `roots` and all their descendants that are alive now.
pub fn tree(roots: &[u32]) -> Vec<u32> {
    let mut children: HashMap<u32, Vec<u32>> = HashMap::new();
    if let Ok(dir) = fs::read_dir("/proc") {
        for e in dir.flatten() {
            let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            if let Some(ppid) = fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| stat_field(&s, 4))
            {
                children.entry(ppid as u32).or_default().push(pid);
            }
        }
    }
    let mut out = BTreeSet::new();
    let mut todo: Vec<u32> = roots.to_vec();
    while let Some(p) = todo.pop() {
        if out.insert(p) {
            if let Some(c) = children.get(&p) {
                todo.extend(c);
            }
        }
    }
    out.into_iter().collect()
}

/// Field `n` (1-based, as in proc(5)) of a /proc/PID/stat line, for n ≥ 3.
fn stat_field(stat: &str, n: usize) -> Option<u64> {
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(n.checked_sub(3)?)?.parse().ok()
}

/// When `pid` started (clock ticks since boot), to tell it from a later process that
/// got the same pid; None when it is gone.
pub fn start_time(pid: u32) -> Option<u64> {
    stat_field(&fs::read_to_string(format!("/proc/{pid}/stat")).ok()?, 22)
}

/// CPU time of `pid` in clock ticks: utime + stime of all its threads, plus that of
/// children it has reaped (cutime + cstime).
pub fn cpu_ticks_of(stat: &str) -> u64 {
    [14, 15, 16, 17]
        .iter()
        .filter_map(|&f| stat_field(stat, f))
        .sum()
}

/// CPU ticks summed over `pids` (a process that is gone counts 0).
pub fn cpu_ticks(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .map(|s| cpu_ticks_of(&s))
        .sum()
}

/// Machine-wide CPU ticks from /proc/stat: (busy, steal), where busy is user + nice +
/// system + irq + softirq over all CPUs (idle and iowait excluded).
pub fn machine_ticks() -> (u64, u64) {
    let stat = fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    (at(0) + at(1) + at(2) + at(5) + at(6), at(7))
}

pub fn clock_ticks_per_sec() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// Resets the peak RSS (VmHWM) of each process to its current RSS (proc(5), clear_refs 5).
pub fn reset_peak_rss(pids: &[u32]) {
    for p in pids {
        let _ = fs::write(format!("/proc/{p}/clear_refs"), "5");
    }
}

/// A `/proc/PID/status` line's value in KiB ("VmHWM:   1234 kB").
fn status_kib(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..]
        .trim_start_matches(':')
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Sum of VmHWM over `pids`, in KiB. Pages shared between processes (php-fpm's
/// children share OPcache's memory) count once per process, as `ps` would show them.
pub fn peak_rss_kib(pids: &[u32]) -> u64 {
    pids.iter()
        .filter_map(|p| fs::read_to_string(format!("/proc/{p}/status")).ok())
        .filter_map(|s| status_kib(&s, "VmHWM"))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_after_a_tricky_comm() {
        let stat =
            "1234 (php-fpm: pool (www)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 40 3 2 20 0 1 0";
        assert_eq!(stat_field(stat, 4), Some(1));
        assert_eq!(cpu_ticks_of(stat), 250 + 40 + 3 + 2);
    }

    #[test]
    fn status_values() {
        let status = "Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    1234 kB\nVmRSS:\t 1000 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(1234));
        assert_eq!(status_kib(status, "VmSwap"), None);
    }

    #[test]
    fn own_tree_and_cpu() {
        let me = std::process::id();
        let t = tree(&[me]);
        assert!(t.contains(&me));
        assert!(peak_rss_kib(&[me]) > 0);
        let _ = cpu_ticks(&[me]);
    }
}
