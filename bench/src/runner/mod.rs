//! The benchmark runner: starts every peer on loopback, checks each answers every
//! scenario correctly (and runs PHP with OPcache on), then drives wrk against them
//! round by round — A, B, C, A, B, C … — so drift on this shared machine hits all
//! alike, reading each server's CPU time and peak RSS from /proc around every run.
//! Writes RESULTS.md, results.csv and the plots; nothing in them is typed by hand.

mod apps;
pub mod args;
pub mod h2load;
mod machine;
mod mode;
mod plot;
pub mod probe;
pub mod procfs;
mod report;
pub mod scenarios;
mod servers;
mod stats;
pub mod wrk;

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use apps::{App, Apps, Site};
pub use args::Options;
pub use mode::Mode;
use scenarios::{Peer, Scenario};
use servers::{Context, Placement, Server};
pub use stats::{Sample, ScalingRow};

/// Between two measured runs: lets the last run's connections close.
const PAUSE: Duration = Duration::from_millis(100);

/// CPUs in taskset syntax.
pub fn cpu_list(cpus: &[usize]) -> String {
    uring_php::cpu_set::format(cpus)
}

/// The CPUs this process may run on.
pub fn allowed_cpus() -> Vec<usize> {
    uring_php::cpu_set::allowed()
}

/// How the servers and wrk share the machine in each mode.
pub fn placement(mode: Mode, cpus: &[usize]) -> Option<Placement> {
    let n = cpus.len().max(1);
    match mode {
        Mode::Scaling => None,
        Mode::Shared => Some(Placement {
            server_cpus: vec![],
            client_cpus: vec![],
            workers: 2 * n,
            io_threads: n,
        }),
        Mode::Separate => {
            if cpus.len() < 2 {
                return None;
            }
            let half = cpus.len() / 2;
            Some(Placement {
                server_cpus: cpus[..half].to_vec(),
                client_cpus: cpus[half..].to_vec(),
                workers: 2 * half,
                io_threads: half,
            })
        }
    }
}

/// wrk threads: one per client CPU (at most 4), two when wrk is not pinned.
fn wrk_threads(place: &Placement, cpus: usize) -> usize {
    if place.client_cpus.is_empty() {
        cpus.clamp(1, 4)
    } else {
        place.client_cpus.len().clamp(1, 4)
    }
}

/// What a PHP peer reported about itself (bench/php/opcache.php).
#[derive(Clone, Debug, Default)]
pub struct PeerInfo {
    pub opcache: bool,
    pub jit: bool,
    pub sapi: String,
    pub version: String,
    pub zts: bool,
    /// How that PHP was built: uring_php's build-info line, or Debian's package.
    pub build: String,
}

/// A peer left out of a scenario, and why.
#[derive(Clone, Debug)]
pub struct Skipped {
    pub mode: Mode,
    pub scenario: &'static str,
    pub peer: Peer,
    pub reason: String,
}

/// Everything a run produced, for the report.
pub struct Outcome {
    pub samples: Vec<Sample>,
    pub skipped: Vec<Skipped>,
    pub peer_info: BTreeMap<Peer, PeerInfo>,
    pub placements: Vec<(Mode, Placement)>,
    pub scaling: Vec<ScalingRow>,
    pub elapsed: Duration,
}

pub fn main() {
    let opts = match Options::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("bench: {e}");
        std::process::exit(1);
    }
}

pub fn run(opts: &Options) -> Result<(), String> {
    let started = Instant::now();
    let machine = machine::collect();
    let cpus = allowed_cpus();
    let tmp = std::env::temp_dir().join(format!("uring-bench-{}", std::process::id()));
    fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    let docroot = opts
        .docroot
        .canonicalize()
        .map_err(|e| format!("{}: {e}", opts.docroot.display()))?;
    let ctx = Context {
        bin_dir: opts.bin_dir.clone(),
        bin_dir_82: opts.bin_dir_82.clone(),
        tmp: tmp.clone(),
    };
    let bench_site = Site::bench(docroot);
    let mut apps = Apps::new(&tmp);
    let post_body = tmp.join("api-body.json");
    fs::write(&post_body, scenarios::api_body()).map_err(|e| e.to_string())?;

    let plan = Plan::new(opts, &cpus);
    eprintln!(
        "bench: {} measured runs of {}s (+ warm-ups{}), about {} min; {} CPU(s): {}",
        plan.runs,
        opts.duration.as_secs(),
        if opts.scaling { ", scaling run" } else { "" },
        plan.estimate.as_secs().div_ceil(60),
        cpus.len(),
        machine.cpu_model
    );

    let mut out = Outcome {
        samples: Vec::new(),
        skipped: Vec::new(),
        peer_info: BTreeMap::new(),
        placements: Vec::new(),
        scaling: Vec::new(),
        elapsed: Duration::ZERO,
    };
    let mut progress = Progress {
        done: 0,
        total: plan.runs,
        started: Instant::now(),
    };
    for &mode in &opts.modes {
        let Some(place) = placement(mode, &cpus) else {
            eprintln!("bench: {mode} mode needs at least 2 CPUs; skipped");
            continue;
        };
        out.placements.push((mode, place.clone()));
        let sites = Sites {
            bench: &bench_site,
            apps: &mut apps,
        };
        run_mode(
            mode,
            &place,
            opts,
            &ctx,
            sites,
            &post_body,
            &mut out,
            &mut progress,
        )?;
    }
    if opts.scaling {
        out.scaling = run_scaling(opts, &ctx, &bench_site, &cpus, &mut progress)?;
    }
    drop(apps);
    out.elapsed = started.elapsed();

    fs::create_dir_all(opts.out.join("plots"))
        .map_err(|e| format!("{}: {e}", opts.out.display()))?;
    let plots = plot::write_all(&opts.out.join("plots"), &out, opts)?;
    let csv = stats::csv(&out.samples, &out.scaling);
    fs::write(opts.out.join("results.csv"), csv).map_err(|e| e.to_string())?;
    let md = report::render(opts, &machine, &out, &plots);
    let results = opts.out.join("RESULTS.md");
    fs::write(&results, md).map_err(|e| format!("{}: {e}", results.display()))?;
    let _ = fs::remove_dir_all(&tmp);
    eprintln!(
        "bench: wrote {} and {} plot(s) in {:.0} s",
        results.display(),
        plots.len(),
        out.elapsed.as_secs_f64()
    );
    Ok(())
}

/// How many measured runs a run will make, and about how long it takes.
struct Plan {
    runs: usize,
    estimate: Duration,
}

impl Plan {
    fn new(opts: &Options, cpus: &[usize]) -> Plan {
        let modes: Vec<Mode> = opts
            .modes
            .iter()
            .copied()
            .filter(|m| placement(*m, cpus).is_some())
            .collect();
        let in_mode = |m: Mode| opts.scenarios.iter().filter(move |s| runs_in(s, m));
        let pairs: usize = modes
            .iter()
            .map(|&m| in_mode(m).map(|s| peers_of(s, opts).len()).sum::<usize>())
            .sum();
        let points: usize = modes
            .iter()
            .map(|&m| {
                in_mode(m)
                    .map(|s| peers_of(s, opts).len() * conns_of(s, opts).len())
                    .sum::<usize>()
            })
            .sum();
        let mut runs = points * opts.rounds;
        let warmups = pairs;
        let modes_list = modes;
        let modes = modes_list.len();
        if opts.scaling {
            runs += scaling_counts(cpus.len()).len() * opts.rounds;
        }
        let app_secs: f64 = modes_list
            .iter()
            .map(|&m| {
                in_mode(m)
                    .map(|s| {
                        (duration_of(s, opts).as_secs_f64() - opts.duration.as_secs_f64())
                            * (peers_of(s, opts).len() * conns_of(s, opts).len()) as f64
                    })
                    .sum::<f64>()
            })
            .sum::<f64>()
            * opts.rounds as f64;
        let per_run = opts.duration.as_secs_f64() + 0.25;
        let secs = runs as f64 * per_run
            + app_secs
            + warmups as f64 * (opts.warmup.as_secs_f64() + 0.3)
            + 15.0 * modes as f64;
        Plan {
            runs,
            estimate: Duration::from_secs_f64(secs),
        }
    }
}

struct Progress {
    done: usize,
    total: usize,
    started: Instant,
}

impl Progress {
    fn step(&mut self, what: &str, s: &Sample) {
        self.done += 1;
        eprintln!(
            "[{:>3}/{}] {:>4.0}s {what}: {:>9.0} req/s  p50 {:>8}  p99 {:>8}  {:>6.1} CPU-µs/req  other load {:.2} CPUs{}",
            self.done,
            self.total,
            self.started.elapsed().as_secs_f64(),
            s.rps,
            stats::fmt_us(s.p50_us),
            stats::fmt_us(s.p99_us),
            s.cpu_us_per_req(),
            s.other_cpu_s / s.wall_s.max(1e-9),
            if s.errors() > 0 {
                format!(
                    "  ({} non-2xx, {} socket errors)",
                    s.non_2xx, s.socket_errors
                )
            } else {
                String::new()
            }
        );
    }
}

/// The connection counts `s` runs at: --conns, or the scenario's own.
pub fn conns_of(s: &Scenario, opts: &Options) -> Vec<usize> {
    match (s.conns, s.h2) {
        (Some(c), _) => c.to_vec(),
        (None, Some(h2)) => h2.connections.to_vec(),
        (None, None) => opts.conns.clone(),
    }
}

/// A real application's pages take milliseconds each: a run of --duration would hold too
/// few requests for a p99, so theirs last at least this long.
const APP_MIN_DURATION: Duration = Duration::from_secs(10);

/// How long each measured run of `s` lasts.
pub fn duration_of(s: &Scenario, opts: &Options) -> Duration {
    if s.app.is_some() {
        opts.duration.max(APP_MIN_DURATION)
    } else {
        opts.duration
    }
}

/// Whether `s` runs in `mode`.
pub fn runs_in(s: &Scenario, mode: Mode) -> bool {
    s.modes.is_none_or(|m| m.contains(&mode))
}

/// Where the scenarios are served from: bench/php, or an app's own site.
struct Sites<'a> {
    bench: &'a Site,
    apps: &'a mut Apps,
}

/// The peers that run `s`: its own list, filtered by --peers.
fn peers_of(s: &Scenario, opts: &Options) -> Vec<Peer> {
    s.peers
        .iter()
        .copied()
        .filter(|p| opts.peers.contains(p))
        .collect()
}

#[allow(clippy::too_many_arguments)]
fn run_mode(
    mode: Mode,
    place: &Placement,
    opts: &Options,
    ctx: &Context,
    sites: Sites,
    post_body: &std::path::Path,
    out: &mut Outcome,
    progress: &mut Progress,
) -> Result<(), String> {
    // One group per site, bench/php first: its peers run while the group's scenarios do.
    let mut groups: Vec<(Option<App>, Vec<&'static Scenario>)> = Vec::new();
    for &s in opts.scenarios.iter().filter(|s| runs_in(s, mode)) {
        match groups.iter_mut().find(|(a, _)| *a == s.app) {
            Some((_, v)) => v.push(s),
            None => groups.push((s.app, vec![s])),
        }
    }
    groups.sort_by_key(|(a, _)| *a);
    for (app, group) in groups {
        let (site, tag) = match app {
            None => (sites.bench.clone(), mode.key().to_string()),
            Some(a) => match sites.apps.site(a) {
                Ok(site) => (site, format!("{}-{}", mode.key(), group[0].key)),
                Err(e) => {
                    for s in &group {
                        for peer in peers_of(s, opts) {
                            out.skipped.push(Skipped {
                                mode,
                                scenario: s.key,
                                peer,
                                reason: first_line(&e),
                            });
                        }
                    }
                    continue;
                }
            },
        };
        run_site(
            mode, place, opts, ctx, &site, &tag, &group, post_body, out, progress,
        )?;
    }
    Ok(())
}

/// The scenarios of one site in one mode: their peers started on it, checked, warmed up
/// and measured round by round, then stopped.
#[allow(clippy::too_many_arguments)]
fn run_site(
    mode: Mode,
    place: &Placement,
    opts: &Options,
    ctx: &Context,
    site: &Site,
    tag: &str,
    scenarios: &[&'static Scenario],
    post_body: &std::path::Path,
    out: &mut Outcome,
    progress: &mut Progress,
) -> Result<(), String> {
    let mut needed: Vec<Peer> = scenarios.iter().flat_map(|s| peers_of(s, opts)).collect();
    needed.sort();
    needed.dedup();
    eprintln!(
        "bench: {mode} mode, {}: servers on CPUs {}, wrk on {}; {} PHP workers; starting {}",
        site.docroot.display(),
        if place.server_cpus.is_empty() {
            "all".into()
        } else {
            cpu_list(&place.server_cpus)
        },
        if place.client_cpus.is_empty() {
            "any (unpinned)".into()
        } else {
            cpu_list(&place.client_cpus)
        },
        place.workers,
        needed
            .iter()
            .map(|p| p.key())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let mut servers: BTreeMap<Peer, Server> = BTreeMap::new();
    for &peer in &needed {
        match Server::start(peer, ctx, site, place, tag) {
            Ok(s) => {
                servers.insert(peer, s);
            }
            Err(e) => {
                eprintln!("bench: {e}");
                for s in scenarios.iter().filter(|s| s.peers.contains(&peer)) {
                    out.skipped.push(Skipped {
                        mode,
                        scenario: s.key,
                        peer,
                        reason: first_line(&e),
                    });
                }
            }
        }
    }
    for (peer, server) in &servers {
        // bench/php/opcache.php: only the synthetic site has it.
        if peer.runs_php() && site.ready_path == "/hello.php" {
            match peer_info(server) {
                Ok(mut info) => {
                    if info.build.is_empty() {
                        info.build = machine::debian_php_build(*peer);
                    }
                    if !info.opcache {
                        eprintln!("bench: warning: {} runs PHP without OPcache", peer.label());
                    }
                    out.peer_info.insert(*peer, info);
                }
                Err(e) => eprintln!("bench: {}: cannot read /opcache.php: {e}", peer.label()),
            }
        }
    }

    let threads = wrk_threads(place, allowed_cpus().len());
    for scenario in scenarios {
        let mut peers = Vec::new();
        for peer in peers_of(scenario, opts) {
            let Some(server) = servers.get(&peer) else {
                continue;
            };
            if scenario.h2.is_some() {
                match h2load::supported(server.h2_addr, scenario.path) {
                    Ok(()) => peers.push(peer),
                    Err(e) => {
                        eprintln!("bench: {} left out of {}: {e}", peer.label(), scenario.key);
                        out.skipped.push(Skipped {
                            mode,
                            scenario: scenario.key,
                            peer,
                            reason: e,
                        });
                    }
                }
                continue;
            }
            let answer = if scenario.post {
                probe::request(
                    server.addr,
                    "POST",
                    scenario.path,
                    Some(("application/json", &scenarios::api_body())),
                )
            } else {
                probe::get(server.addr, scenario.path)
            };
            match answer.and_then(|a| scenarios::check(scenario, &a)) {
                Ok(()) => peers.push(peer),
                Err(e) => {
                    eprintln!(
                        "bench: {} answers {} wrongly, left out: {e}",
                        peer.label(),
                        scenario.path
                    );
                    out.skipped.push(Skipped {
                        mode,
                        scenario: scenario.key,
                        peer,
                        reason: first_line(&e),
                    });
                }
            }
        }
        // Warm-up: OPcache, php-fpm's children, page cache, connection pools.
        for &peer in &peers {
            let server = &servers[&peer];
            let warm_conns = conns_of(scenario, opts)
                .into_iter()
                .min()
                .unwrap_or(16)
                .min(16);
            let _ = measure(
                server,
                scenario,
                warm_conns,
                opts.warmup,
                place,
                threads,
                post_body,
            );
        }
        for conns in conns_of(scenario, opts) {
            for round in 0..opts.rounds {
                for &peer in &peers {
                    let server = &servers[&peer];
                    let mut s = measure(
                        server,
                        scenario,
                        conns,
                        duration_of(scenario, opts),
                        place,
                        threads,
                        post_body,
                    )
                    .map_err(|e| {
                        format!(
                            "{} {} c={conns}: {e}\n{}",
                            peer.label(),
                            scenario.key,
                            server.logs()
                        )
                    })?;
                    s.mode = mode;
                    s.round = round;
                    progress.step(
                        &format!("{mode} {} c={conns} r{round} {}", scenario.key, peer.key()),
                        &s,
                    );
                    out.samples.push(s);
                    thread::sleep(PAUSE);
                }
            }
        }
    }
    for (_, mut s) in servers {
        s.stop();
    }
    Ok(())
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").to_string()
}

fn peer_info(server: &Server) -> Result<PeerInfo, String> {
    let a = probe::get(server.addr, "/opcache.php")?;
    if a.status != 200 {
        return Err(format!("status {}", a.status));
    }
    let t = a.text();
    let flag = |k: &str| t.contains(&format!("\"{k}\":true"));
    let string = |k: &str| {
        t.split(&format!("\"{k}\":\""))
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap_or("")
            .to_string()
    };
    Ok(PeerInfo {
        opcache: flag("opcache"),
        jit: flag("jit"),
        sapi: string("sapi"),
        version: string("version"),
        zts: flag("zts"),
        build: string("build"),
    })
}

/// One wrk run against `server`, with the server's CPU time and peak RSS around it.
fn measure(
    server: &Server,
    scenario: &Scenario,
    conns: usize,
    duration: Duration,
    place: &Placement,
    threads: usize,
    post_body: &std::path::Path,
) -> Result<Sample, String> {
    let script = scenario
        .post
        .then(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/wrk/post.lua")));
    let run = wrk::WrkRun {
        url: format!("http://{}{}", server.addr, scenario.path),
        connections: conns,
        threads,
        duration,
        cpus: &place.client_cpus,
        script: script.as_deref(),
        env: vec![(
            "BENCH_POST_BODY".into(),
            post_body.to_string_lossy().into_owned(),
        )],
    };
    let before = procfs::tree(&server.pids());
    procfs::reset_peak_rss(&before);
    let cpu0 = procfs::cpu_ticks(&before);
    let (busy0, steal0) = procfs::machine_ticks();
    let r = match scenario.h2 {
        Some(h2) => h2load::run(&h2load::H2Run {
            url: format!("http://{}{}", server.h2_addr, scenario.path),
            connections: conns,
            streams: h2.streams,
            threads,
            duration,
            cpus: &place.client_cpus,
        })?,
        None => wrk::run(&run)?,
    };
    let (busy1, steal1) = procfs::machine_ticks();
    let after = procfs::tree(&server.pids());
    let cpu1 = procfs::cpu_ticks(&after);
    let rss = procfs::peak_rss_kib(&after);
    let ticks = procfs::clock_ticks_per_sec();
    let server_cpu_s = cpu1.saturating_sub(cpu0) as f64 / ticks;
    let machine_s = busy1.saturating_sub(busy0) as f64 / ticks;
    Ok(Sample {
        mode: Mode::Shared,
        scenario: scenario.key,
        peer: server.peer,
        conns,
        round: 0,
        requests: r.report.requests,
        rps: r.report.rps,
        p50_us: r.report.p50_us,
        p99_us: r.report.p99_us,
        socket_errors: r.report.socket_errors,
        non_2xx: r.report.non_2xx,
        server_cpu_s,
        client_cpu_s: r.client_cpu_s,
        wall_s: r.wall.as_secs_f64(),
        other_cpu_s: (machine_s - server_cpu_s - r.client_cpu_s).max(0.0),
        steal_s: steal1.saturating_sub(steal0) as f64 / ticks,
        peak_rss_kib: rss,
    })
}

/// 1, 2, 4, 8, 16 — as many as the machine has.
pub fn scaling_counts(cpus: usize) -> Vec<usize> {
    let mut v: Vec<usize> = [1, 2, 4, 8, 16]
        .into_iter()
        .filter(|&k| k <= cpus)
        .collect();
    if v.last() != Some(&cpus) && cpus < 16 {
        v.push(cpus);
    }
    v
}

/// uring_php hello.php with CPU_AFFINITY = the first k CPUs, wrk on the rest when any.
fn run_scaling(
    opts: &Options,
    ctx: &Context,
    bench: &Site,
    cpus: &[usize],
    progress: &mut Progress,
) -> Result<Vec<ScalingRow>, String> {
    let hello = scenarios::scenario("hello").expect("hello scenario");
    let mut rows = Vec::new();
    let mut servers = Vec::new();
    for k in scaling_counts(cpus.len()) {
        let place = Placement {
            server_cpus: cpus[..k].to_vec(),
            client_cpus: cpus[k..].to_vec(),
            workers: 2 * k,
            io_threads: k,
        };
        let server = Server::start(Peer::Uring, ctx, bench, &place, &format!("scaling-{k}"))?;
        let conns = (32 * k).max(64);
        let threads = if place.client_cpus.is_empty() {
            cpus.len().clamp(1, 4)
        } else {
            place.client_cpus.len().clamp(1, 4)
        };
        eprintln!(
            "bench: scaling: CPU_AFFINITY={}, wrk on {}",
            cpu_list(&place.server_cpus),
            if place.client_cpus.is_empty() {
                "any CPU".into()
            } else {
                cpu_list(&place.client_cpus)
            }
        );
        let _ = measure(&server, hello, 16, opts.warmup, &place, threads, &ctx.tmp);
        rows.push(ScalingRow {
            cores: k,
            server_cpus: cpu_list(&place.server_cpus),
            client_cpus: if place.client_cpus.is_empty() {
                "shared".into()
            } else {
                cpu_list(&place.client_cpus)
            },
            connections: conns,
            samples: Vec::new(),
        });
        servers.push((server, place, threads));
    }
    for round in 0..opts.rounds {
        for (i, (server, place, threads)) in servers.iter().enumerate() {
            let conns = rows[i].connections;
            let mut s = measure(
                server,
                hello,
                conns,
                opts.duration,
                place,
                *threads,
                &ctx.tmp,
            )?;
            s.round = round;
            s.mode = Mode::Scaling;
            progress.step(
                &format!("scaling cores={} c={conns} r{round}", rows[i].cores),
                &s,
            );
            rows[i].samples.push(s);
            thread::sleep(PAUSE);
        }
    }
    for (mut s, _, _) in servers {
        s.stop();
    }
    Ok(rows)
}
