//! RESULTS.md, written from the samples alone.

use std::fmt::Write as _;

use super::args::Options;
use super::machine::Machine;
use super::mode::Mode;
use super::plot::PlotFile;
use super::scenarios::{Peer, SCENARIOS};
use super::stats::{self, fmt_us, Point};
use super::{cpu_list, Outcome};

/// One checked point of a target.
pub struct Check {
    pub target: &'static str,
    pub mode: Mode,
    pub conns: usize,
    pub measured: String,
    pub met: bool,
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 && a.is_finite() && b.is_finite() {
        a / b
    } else {
        f64::NAN
    }
}

fn fmt_ratio(r: f64) -> String {
    if r.is_finite() {
        format!("{r:.2}×")
    } else {
        "–".into()
    }
}

fn fmt_rps(r: f64) -> String {
    if r >= 100.0 {
        let n = r.round() as u64;
        let s = n.to_string();
        let mut out = String::new();
        for (i, ch) in s.chars().enumerate() {
            if i > 0 && (s.len() - i).is_multiple_of(3) {
                out.push(',');
            }
            out.push(ch);
        }
        out
    } else {
        format!("{r:.1}")
    }
}

fn fmt_mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

/// The targets of issue 6 (and issue 3's p99 condition), point by point.
pub fn checks(out: &Outcome, opts: &Options) -> Vec<Check> {
    let mut v = Vec::new();
    let modes: Vec<Mode> = out.placements.iter().map(|(m, _)| *m).collect();
    let get = |m, sc, p, c| stats::find(&out.samples, m, sc, p, c);
    for &mode in &modes {
        for &c in &opts.conns {
            let (u, n, h) = (
                get(mode, "hello", Peer::Uring, c),
                get(mode, "hello", Peer::NginxFpm, c),
                get(mode, "hello", Peer::Hyper, c),
            );
            if let (Some(u), Some(n)) = (&u, &n) {
                let r = ratio(u.rps, n.rps);
                v.push(Check {
                    target: "hello.php RPS ≥ 4× nginx + php-fpm",
                    mode,
                    conns: c,
                    measured: format!(
                        "{} vs {} req/s = {}",
                        fmt_rps(u.rps),
                        fmt_rps(n.rps),
                        fmt_ratio(r)
                    ),
                    met: r >= 4.0,
                });
                v.push(Check {
                    target: "hello.php p99 no worse than nginx + php-fpm (issue 3)",
                    mode,
                    conns: c,
                    measured: format!("{} vs {}", fmt_us(u.p99_us), fmt_us(n.p99_us)),
                    met: u.p99_us <= n.p99_us,
                });
            }
            if mode == Mode::Separate {
                if let (Some(u), Some(h)) = (&u, &h) {
                    let r = ratio(u.rps, h.rps);
                    v.push(Check {
                        target: "hello.php RPS ≥ 1.2× the hyper variant (separate cores)",
                        mode,
                        conns: c,
                        measured: format!(
                            "{} vs {} req/s = {}",
                            fmt_rps(u.rps),
                            fmt_rps(h.rps),
                            fmt_ratio(r)
                        ),
                        met: r >= 1.2,
                    });
                    let r = ratio(u.cpu_us_per_req, h.cpu_us_per_req);
                    v.push(Check {
                        target:
                            "hello.php CPU-µs/request ≤ 0.8× the hyper variant (separate cores)",
                        mode,
                        conns: c,
                        measured: format!(
                            "{:.1} vs {:.1} µs = {}",
                            u.cpu_us_per_req,
                            h.cpu_us_per_req,
                            fmt_ratio(r)
                        ),
                        met: r <= 0.8,
                    });
                }
            }
            if let Some(u) = &u {
                v.push(Check {
                    target: "hello.php ≤ 20 CPU-µs per request",
                    mode,
                    conns: c,
                    measured: format!("{:.1} µs", u.cpu_us_per_req),
                    met: u.cpu_us_per_req <= 20.0,
                });
            }
            if let (Some(u), Some(n)) = (
                get(mode, "static-1k", Peer::Uring, c),
                get(mode, "static-1k", Peer::NginxFpm, c),
            ) {
                let r = ratio(u.rps, n.rps);
                v.push(Check {
                    target: "static 1 KiB RPS ≥ 1× nginx",
                    mode,
                    conns: c,
                    measured: format!(
                        "{} vs {} req/s = {}",
                        fmt_rps(u.rps),
                        fmt_rps(n.rps),
                        fmt_ratio(r)
                    ),
                    met: r >= 1.0,
                });
            }
        }
        // Issue 12: on real applications, p99 no worse than php-fpm's.
        for sc in SCENARIOS
            .iter()
            .filter(|s| s.app.is_some() && opts.scenarios.iter().any(|o| o.key == s.key))
        {
            for c in super::conns_of(sc, opts) {
                if let (Some(u), Some(n)) = (
                    get(mode, sc.key, Peer::Uring, c),
                    get(mode, sc.key, Peer::NginxFpm, c),
                ) {
                    v.push(Check {
                        target: "real apps: p99 no worse than nginx + php-fpm (issue 12)",
                        mode,
                        conns: c,
                        measured: format!(
                            "{}: {} vs {}",
                            sc.title,
                            fmt_us(u.p99_us),
                            fmt_us(n.p99_us)
                        ),
                        met: u.p99_us <= n.p99_us,
                    });
                }
            }
        }
        // Issue 4: h2 hello.php ≥ 4× nginx + php-fpm (h2load -c16 -m10).
        if let Some(h2) = super::scenarios::scenario("h2-hello").and_then(|s| s.h2) {
            for &c in h2.connections {
                let (u, n) = (
                    get(mode, "h2-hello", Peer::Uring, c),
                    get(mode, "h2-hello", Peer::NginxFpm, c),
                );
                if let (Some(u), Some(n)) = (u, n) {
                    let r = ratio(u.rps, n.rps);
                    v.push(Check {
                        target: "h2 hello.php RPS ≥ 4× nginx + php-fpm (issue 4)",
                        mode,
                        conns: c,
                        measured: format!(
                            "{} vs {} req/s = {}",
                            fmt_rps(u.rps),
                            fmt_rps(n.rps),
                            fmt_ratio(r)
                        ),
                        met: r >= 4.0,
                    });
                }
            }
        }
    }
    v
}

pub fn render(opts: &Options, m: &Machine, out: &Outcome, plots: &[PlotFile]) -> String {
    let mut s = String::new();
    let w = &mut s;
    let args: Vec<String> = std::env::args().skip(1).collect();
    let kind = if args.is_empty() {
        "full mode (`bench/run`)".to_string()
    } else if args == ["--quick"] {
        "quick mode (`bench/run --quick`)".to_string()
    } else {
        format!("`bench/run {}`", args.join(" "))
    };
    let _ = writeln!(w, "# uring_php benchmark results\n");
    let _ = writeln!(
        w,
        "Written by the benchmark runner (`bench/src/runner`) in {kind} on {}, in {:.0} s. Every number here \
         comes from that run; nothing is typed by hand. Raw samples: [results.csv](results.csv).\n",
        m.date,
        out.elapsed.as_secs_f64()
    );

    // ---- targets ----
    let checks = checks(out, opts);
    let _ = writeln!(w, "## Targets (issue 6)\n");
    if checks.is_empty() {
        let _ = writeln!(w, "No target could be checked: the run did not include hello.php / static 1 KiB with the peers they compare.\n");
    } else {
        let mut names: Vec<&str> = checks.iter().map(|c| c.target).collect();
        names.dedup();
        let mut seen = Vec::new();
        let _ = writeln!(w, "| target | verdict | points met |\n|---|---|---|");
        for n in names {
            if seen.contains(&n) {
                continue;
            }
            seen.push(n);
            let all: Vec<&Check> = checks.iter().filter(|c| c.target == n).collect();
            let met = all.iter().filter(|c| c.met).count();
            let verdict = if met == all.len() {
                "**MET**"
            } else if met == 0 {
                "**MISSED**"
            } else {
                "**MISSED** (partly met)"
            };
            let _ = writeln!(w, "| {n} | {verdict} | {met} of {} |", all.len());
        }
        let _ = writeln!(w, "\nEach point (mode × connections):\n");
        let _ = writeln!(w, "| target | mode | connections | measured (uring_php vs peer) | |\n|---|---|---:|---|---|");
        for c in &checks {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                c.target,
                c.mode,
                c.conns,
                c.measured,
                if c.met { "MET" } else { "MISSED" }
            );
        }
        let _ = writeln!(w);
    }

    // ---- real applications ----
    let apps = real_apps(out, opts);
    if !apps.is_empty() {
        let _ = writeln!(w, "## Real applications (issue 12)\n");
        let _ = writeln!(
            w,
            "Debian's packages (scripts/install-apps.sh) and the two framework apps of tests/apps/, each page \
             anonymous, served by uring_php and by nginx + php-fpm from the same copy, side by side, round by round \
             ({}). Ratios are uring_php's over nginx + php-fpm's: req/s above 1 and p99 below 1 favour uring_php.\n",
            out.placements
                .iter()
                .filter(|(m, _)| *m == Mode::Shared)
                .map(|(_, p)| format!("{} PHP workers / php-fpm children each", p.workers))
                .next()
                .unwrap_or_default()
        );
        let _ = writeln!(
            w,
            "| app | conns | req/s uring_php | req/s nginx+fpm | req/s × | p50 uring_php | p50 nginx+fpm | p99 uring_php | p99 nginx+fpm | p99 × | CPU-µs/req uring_php | nginx+fpm |"
        );
        let _ = writeln!(
            w,
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        w.push_str(&apps);
        let _ = writeln!(w);
    }

    // ---- summary ----
    let summary = summary(out, opts);
    if !summary.is_empty() {
        let _ = writeln!(w, "## Summary: uring_php (io_uring) against its peers\n");
        let _ = writeln!(
            w,
            "req/s of uring_php as a multiple of the peer's, at the same connections, side by side; CPU-µs per \
             request of each (the server's whole process tree).\n"
        );
        let _ = writeln!(
            w,
            "| scenario | mode | conns | uring_php req/s | × nginx(+fpm) | × hyper variant | CPU-µs/req uring_php | hyper | nginx(+fpm) |"
        );
        let _ = writeln!(w, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
        w.push_str(&summary);
        let _ = writeln!(w);
    }

    // ---- PHP versions ----
    let versions = versions(out, opts);
    if !versions.is_empty() {
        let version_of = |p: Peer| {
            out.peer_info
                .get(&p)
                .map_or("?".to_string(), |i| i.version.clone())
        };
        let (a, b, f) = (
            version_of(Peer::Uring),
            version_of(Peer::Uring82),
            version_of(Peer::NginxFpm),
        );
        let _ = writeln!(
            w,
            "## PHP versions: the server's share and PHP's
"
        );
        let _ = writeln!(
            w,
            "The same uring_php on PHP {a} and on PHP {b}, and nginx + php-fpm (PHP {f}), side by side. \
             uring_php {b} against php-fpm {f} is the server's share (same PHP version where the two agree); \
             uring_php {a} against {b} is PHP's (same server).\n"
        );
        let _ = writeln!(
            w,
            "| scenario | mode | conns | uring_php {a} req/s | uring_php {b} req/s | nginx+fpm {f} req/s | {a} ÷ {b} | uring {b} ÷ fpm | uring {a} ÷ fpm | CPU-µs/req {a} | {b} | fpm |"
        );
        let _ = writeln!(
            w,
            "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        );
        w.push_str(&versions);
        let _ = writeln!(w);
    }

    // ---- machine ----
    let _ = writeln!(w, "## Machine and software\n");
    let _ = writeln!(w, "| | |\n|---|---|");
    let _ = writeln!(
        w,
        "| CPU | {} × {} (CPUs this process may use) |",
        m.cpus, m.cpu_model
    );
    let _ = writeln!(w, "| memory | {} |", m.memory);
    let _ = writeln!(
        w,
        "| OS, kernel | {}, Linux {} (io_uring: {}) |",
        m.os, m.kernel, m.io_uring
    );
    let _ = writeln!(w, "| date | {} |", m.date);
    let _ = writeln!(w, "| uring_php | commit {} (release build) |", m.commit);
    let _ = writeln!(
        w,
        "| PHP of uring_php and the hyper variant | {} |",
        m.php_embed
    );
    let _ = writeln!(w, "| PHP of php-fpm | {} |", m.php_fpm);
    let _ = writeln!(w, "| PHP of php -S | {} |", m.php_cli);
    let _ = writeln!(w, "| nginx | {} |", m.nginx);
    let _ = writeln!(w, "| load generator | {} |\n", m.wrk);

    // ---- method ----
    let _ = writeln!(w, "## Method\n");
    let _ = writeln!(
        w,
        "- Every peer listens on 127.0.0.1 with the same document root (`bench/php/`; for a real application, that \
         app's copy in the run's temp dir, see bench/src/runner/apps.rs), the same php.ini settings \
         (uring_php's built-in defaults, `uring_php::php::ini::DEFAULTS`, written into php-fpm's and php -S's php.ini: \
         OPcache on, JIT off) and the same number of PHP workers (php-fpm: `pm = static` with as many children). \
         uring_php and the hyper variant run with QUEUE_CAPACITY={q}, php-fpm with listen.backlog = {q}, so no \
         connection count here meets a full queue (503).",
        q = super::servers::QUEUE_CAPACITY
    );
    for (mode, p) in &out.placements {
        let _ = writeln!(
            w,
            "- **{mode}** mode: servers on CPUs {}, wrk {}; {} PHP workers / php-fpm children; {} event-loop \
             thread(s) (uring_php cores = tokio workers = nginx worker processes).",
            if p.server_cpus.is_empty() { "all (no pinning beyond each server's own)".to_string() } else { cpu_list(&p.server_cpus) },
            if p.client_cpus.is_empty() { "unpinned, sharing them".to_string() } else { format!("pinned to CPU(s) {}", cpu_list(&p.client_cpus)) },
            p.workers,
            p.io_threads
        );
    }
    let _ = writeln!(
        w,
        "- wrk {}s per run, connections {}, {} round(s) per point; rounds alternate the servers (A, B, C, A, B, C …) \
         so drift on this shared machine hits all alike. Each peer gets a {}s warm-up per scenario first. Each answer \
         is checked (status and body) before a peer is measured.",
        opts.duration.as_secs(),
        opts.conns.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(", "),
        opts.rounds,
        opts.warmup.as_secs()
    );
    let _ = writeln!(
        w,
        "- req/s: mean over rounds (spread: ± half the gap between the highest and lowest round, in % of the mean); p50/p99: wrk's `--latency` percentiles, mean over rounds; CPU-µs/req: utime + \
         stime of the server's whole process tree (from /proc, before and after each run) over the requests served; \
         server CPUs: that CPU time over wall time; peak RSS: VmHWM summed over the server's processes, reset \
         (`clear_refs`) before each run, highest of the rounds — for php-fpm's children the OPcache shared memory \
         counts once per child. non-2xx: answers other than 2xx/3xx; socket errors: wrk's connect, read, write \
         and timeout errors (¹ php -S closes the connection after every answer, which wrk counts as a read error: \
         there these are closes, not failures)."
    );
    let all: Vec<&stats::Sample> = out
        .samples
        .iter()
        .chain(out.scaling.iter().flat_map(|r| r.samples.iter()))
        .collect();
    let wall: f64 = all.iter().map(|s| s.wall_s).sum();
    if wall > 0.0 {
        let other: f64 = all.iter().map(|s| s.other_cpu_s).sum::<f64>() / wall;
        let steal: f64 = all.iter().map(|s| s.steal_s).sum::<f64>() / wall;
        let worst = all
            .iter()
            .map(|s| s.other_cpu_s / s.wall_s.max(1e-9))
            .fold(0.0, f64::max);
        let _ = writeln!(
            w,
            "- Background load: while wrk ran, processes other than the server under test and wrk used {other:.2} \
             CPUs on average (worst run: {worst:.2}), and the hypervisor stole {steal:.2} CPUs (/proc/stat). \
             Per-run figures are in results.csv (`other_cpu_s`, `steal_s`)."
        );
    }
    let _ = writeln!(w, "\nPeers:\n\n| peer | what it is | PHP as it reports itself (bench/php/opcache.php) | PHP build |\n|---|---|---|---|");
    for p in Peer::ALL.into_iter().filter(|p| opts.peers.contains(p)) {
        if !out.samples.iter().any(|s| s.peer == p) {
            continue;
        }
        let info = out.peer_info.get(&p).map_or("—".to_string(), |i| {
            format!(
                "{} {}, SAPI `{}`, OPcache {}, JIT {}",
                i.version,
                if i.zts { "ZTS" } else { "NTS" },
                i.sapi,
                if i.opcache { "on" } else { "**off**" },
                if i.jit { "on" } else { "off" }
            )
        });
        let build = out
            .peer_info
            .get(&p)
            .map_or("—".to_string(), |i| i.build.replace('|', "\\|"));
        let _ = writeln!(
            w,
            "| {} | {} | {} | {} |",
            p.label(),
            p.describe(),
            info,
            build
        );
    }
    let _ = writeln!(w);

    // ---- results ----
    for (mode, _) in &out.placements {
        let _ = writeln!(w, "## Results: {mode} mode\n");
        for sc in SCENARIOS
            .iter()
            .filter(|s| opts.scenarios.iter().any(|o| o.key == s.key))
        {
            if !out
                .samples
                .iter()
                .any(|s| s.mode == *mode && s.scenario == sc.key)
            {
                continue;
            }
            let _ = writeln!(w, "### {} — {mode}\n\n{}.\n", sc.title, sc.describe);
            if let Some(p) = plots
                .iter()
                .find(|p| p.mode == *mode && p.scenario == sc.key)
            {
                let _ = writeln!(w, "![{} {mode}](plots/{})\n", sc.title, p.file);
            }
            let static_sc = sc.key.starts_with("static");
            let _ = writeln!(
                w,
                "| server | conns | req/s | spread | p50 | p99 | CPU-µs/req | server CPUs | client CPUs | peak RSS | non-2xx | socket errors | req/s × {} | req/s × hyper | CPU/req × hyper |",
                if static_sc { "nginx" } else { "nginx+fpm" }
            );
            let _ = writeln!(
                w,
                "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            );
            for c in super::conns_of(sc, opts) {
                let nginx = stats::find(&out.samples, *mode, sc.key, Peer::NginxFpm, c);
                let hyper = stats::find(&out.samples, *mode, sc.key, Peer::Hyper, c);
                for peer in Peer::ALL {
                    let Some(p) = stats::find(&out.samples, *mode, sc.key, peer, c) else {
                        continue;
                    };
                    row(w, peer, c, &p, nginx.as_ref(), hyper.as_ref());
                }
            }
            let _ = writeln!(w);
        }
    }

    // ---- scaling ----
    if !out.scaling.is_empty() {
        let _ = writeln!(w, "## CPU_AFFINITY scaling (uring_php, hello.php)\n");
        let _ = writeln!(
            w,
            "uring_php (io_uring) with `CPU_AFFINITY` = the first *k* CPUs and 2·*k* PHP workers; wrk on the remaining \
             CPUs where there are any, otherwise sharing them (then the client's own CPU use caps the server). Rounds \
             alternate the configurations. Ideally requests/s per core stays flat.\n"
        );
        if plots.iter().any(|p| p.mode == Mode::Scaling) {
            let _ = writeln!(w, "![scaling](plots/scaling.png)\n");
        }
        let _ = writeln!(w, "| cores | CPU_AFFINITY | wrk on | conns | req/s | req/s per core | p99 | CPU-µs/req | server CPUs | client CPUs |");
        let _ = writeln!(w, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|");
        for r in &out.scaling {
            let refs: Vec<&stats::Sample> = r.samples.iter().collect();
            if let Some(p) = stats::point(&refs) {
                let _ = writeln!(
                    w,
                    "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.2} |",
                    r.cores,
                    r.server_cpus,
                    r.client_cpus,
                    r.connections,
                    fmt_rps(p.rps),
                    fmt_rps(p.rps / r.cores as f64),
                    fmt_us(p.p99_us),
                    p.cpu_us_per_req,
                    p.server_cpus_busy,
                    p.client_cpus_busy
                );
            }
        }
        let _ = writeln!(w);
    }

    if !out.skipped.is_empty() {
        let _ = writeln!(
            w,
            "## Left out\n\n| mode | scenario | peer | why |\n|---|---|---|---|"
        );
        for k in &out.skipped {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                k.mode,
                k.scenario,
                k.peer.label(),
                k.reason.replace('|', "\\|")
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Reading these numbers\n");
    let _ = writeln!(
        w,
        "- This is a shared 2-core VM: absolute numbers move by ±10 % from run to run; the ratios between peers \
         measured side by side, round by round, are what the runner is for.\n\
         - The h2 scenario runs h2load (`-c16 -m10`, cleartext HTTP/2 by prior knowledge; nginx on an `http2` \
         listener of its own, FastCGI to php-fpm behind it). h2load reports no latency percentiles, so p50/p99 are \
         blank there.\n\
         - Client CPUs: the load generator's own CPU time over wall time.\n\
         - In shared mode wrk competes with the server for the same CPUs, so req/s is bounded by the client as much \
         as by the server; CPU-µs/req (the server's own CPU per request) is the fairer cost figure there.\n\
         - `php -S` is PHP's single-threaded development server (one request at a time, no keep-alive); it runs only \
         hello.php and the realistic page.\n\
         - The hyper variant reads static files through `tokio::fs` on every request (no cache); uring_php serves \
         files ≤ 256 KiB from a per-core cache (32 MiB per core) and larger ones through the ring; nginx uses sendfile.\n\
         - nginx runs with `keepalive_requests 1000000` and no access log (as uring_php at LOG_LEVEL=warn), and talks \
         to php-fpm over a unix socket, one FastCGI connection per request (the stock Debian setup)."
    );
    s
}

/// One line per scenario × mode × connections where uring_php ran.
fn summary(out: &Outcome, opts: &Options) -> String {
    let mut w = String::new();
    for sc in SCENARIOS
        .iter()
        .filter(|s| opts.scenarios.iter().any(|o| o.key == s.key))
    {
        for (mode, _) in &out.placements {
            for c in super::conns_of(sc, opts) {
                let Some(u) = stats::find(&out.samples, *mode, sc.key, Peer::Uring, c) else {
                    continue;
                };
                let n = stats::find(&out.samples, *mode, sc.key, Peer::NginxFpm, c);
                let h = stats::find(&out.samples, *mode, sc.key, Peer::Hyper, c);
                let cpu = |p: &Option<Point>| {
                    p.as_ref()
                        .map_or("–".to_string(), |p| format!("{:.1}", p.cpu_us_per_req))
                };
                let _ = writeln!(
                    w,
                    "| {} | {mode} | {c} | {} | {} | {} | {:.1} | {} | {} |",
                    sc.title,
                    fmt_rps(u.rps),
                    n.as_ref()
                        .map_or("–".into(), |n| fmt_ratio(ratio(u.rps, n.rps))),
                    h.as_ref()
                        .map_or("–".into(), |h| fmt_ratio(ratio(u.rps, h.rps))),
                    u.cpu_us_per_req,
                    cpu(&h),
                    cpu(&n),
                );
            }
        }
    }
    w
}

/// One line per app scenario × mode × connections where both uring_php and nginx + php-fpm ran.
fn real_apps(out: &Outcome, opts: &Options) -> String {
    let mut w = String::new();
    for sc in SCENARIOS
        .iter()
        .filter(|s| s.app.is_some() && opts.scenarios.iter().any(|o| o.key == s.key))
    {
        for (mode, _) in &out.placements {
            for c in super::conns_of(sc, opts) {
                let (Some(u), Some(n)) = (
                    stats::find(&out.samples, *mode, sc.key, Peer::Uring, c),
                    stats::find(&out.samples, *mode, sc.key, Peer::NginxFpm, c),
                ) else {
                    continue;
                };
                let _ = writeln!(
                    w,
                    "| {} | {c} | {} | {} | {} | {} | {} | {} | {} | {} | {:.0} | {:.0} |",
                    sc.title,
                    fmt_rps(u.rps),
                    fmt_rps(n.rps),
                    fmt_ratio(ratio(u.rps, n.rps)),
                    fmt_us(u.p50_us),
                    fmt_us(n.p50_us),
                    fmt_us(u.p99_us),
                    fmt_us(n.p99_us),
                    fmt_ratio(ratio(u.p99_us, n.p99_us)),
                    u.cpu_us_per_req,
                    n.cpu_us_per_req,
                );
            }
        }
    }
    w
}

/// One line per PHP scenario × mode × connections where uring_php ran on both PHP builds.
fn versions(out: &Outcome, opts: &Options) -> String {
    let mut w = String::new();
    for sc in SCENARIOS
        .iter()
        .filter(|s| opts.scenarios.iter().any(|o| o.key == s.key))
    {
        for (mode, _) in &out.placements {
            for &c in &opts.conns {
                let get = |p| stats::find(&out.samples, *mode, sc.key, p, c);
                let (Some(a), Some(b)) = (get(Peer::Uring), get(Peer::Uring82)) else {
                    continue;
                };
                let n = get(Peer::NginxFpm);
                let over_fpm = |x: &Point| {
                    n.as_ref()
                        .map_or("–".into(), |n| fmt_ratio(ratio(x.rps, n.rps)))
                };
                let _ = writeln!(
                    w,
                    "| {} | {mode} | {c} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {} |",
                    sc.title,
                    fmt_rps(a.rps),
                    fmt_rps(b.rps),
                    n.as_ref().map_or("–".into(), |n| fmt_rps(n.rps)),
                    fmt_ratio(ratio(a.rps, b.rps)),
                    over_fpm(&b),
                    over_fpm(&a),
                    a.cpu_us_per_req,
                    b.cpu_us_per_req,
                    n.as_ref()
                        .map_or("–".into(), |n| format!("{:.1}", n.cpu_us_per_req)),
                );
            }
        }
    }
    w
}

fn row(
    w: &mut String,
    peer: Peer,
    c: usize,
    p: &Point,
    nginx: Option<&Point>,
    hyper: Option<&Point>,
) {
    let vs = |other: Option<&Point>, f: &dyn Fn(&Point) -> f64| {
        other.map_or("–".to_string(), |o| fmt_ratio(ratio(f(p), f(o))))
    };
    let _ = writeln!(
        w,
        "| {} | {} | {} | {} | {} | {} | {:.1} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |",
        peer.label(),
        c,
        fmt_rps(p.rps),
        if p.spread_pct().is_finite() {
            format!("±{:.0} %", p.spread_pct() / 2.0)
        } else {
            "–".into()
        },
        fmt_us(p.p50_us),
        fmt_us(p.p99_us),
        p.cpu_us_per_req,
        p.server_cpus_busy,
        p.client_cpus_busy,
        fmt_mib(p.peak_rss_kib),
        if p.non_2xx > 0 {
            format!("**{}**", p.non_2xx)
        } else {
            "0".into()
        },
        if p.socket_errors > 0 && peer == Peer::PhpServer {
            format!("{} ¹", p.socket_errors)
        } else if p.socket_errors > 0 {
            format!("**{}**", p.socket_errors)
        } else {
            "0".into()
        },
        vs(nginx, &|x| x.rps),
        vs(hyper, &|x| x.rps),
        vs(hyper, &|x| x.cpu_us_per_req),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formats() {
        assert_eq!(fmt_rps(1234567.4), "1,234,567");
        assert_eq!(fmt_rps(999.6), "1,000");
        assert_eq!(fmt_rps(12.34), "12.3");
        assert_eq!(fmt_ratio(4.0 / 3.0), "1.33×");
        assert_eq!(fmt_ratio(f64::NAN), "–");
    }
}
