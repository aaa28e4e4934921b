//! Command-line options of the runner.

use std::path::PathBuf;
use std::time::Duration;

use super::mode::Mode;
use super::scenarios::{self, Peer, Scenario, SCENARIOS};

pub const USAGE: &str = "\
usage: bench [--quick] [--scenarios a,b] [--peers a,b] [--conns 16,64,256] [--modes shared,separate]
             [--duration SECS] [--rounds N] [--warmup SECS] [--scaling | --no-scaling] [--out DIR]

Runs wrk against every peer on loopback, alternating servers round by round, and writes
DIR/RESULTS.md, DIR/results.csv and DIR/plots/*.png.

  --quick          hello + static-1k, 64 connections, two 2 s rounds per mode, no scaling
                   run (< 3 min); output in bench/quick/ unless --out is given
  --scenarios      hello, page, api, static-1k, static-100k, h2-hello, and the real
                   applications wordpress, mediawiki, dokuwiki, phpmyadmin, adminer,
                   symfony, laravel (shared mode, 16 and 64 connections, runs of at
                   least 10 s; scripts/install-apps.sh installs them) (default: all)
  --peers          uring, uring-8.2, uring-epoll, hyper, nginx-fpm, php-s, uring-stub,
                   uring-cache, nginx-cache (default: all; --quick: all but uring-8.2)
  --conns          wrk connections (default 16,64,256)
  --modes          shared (servers on every CPU, wrk unpinned) and/or separate (servers
                   on the first half of the CPUs, wrk pinned to the rest); default both
  --duration       seconds per measured run (default 2)
  --rounds         rounds per data point (default 2)
  --warmup         seconds of warm-up per peer and scenario (default 1)
  --scaling        run the CPU_AFFINITY scaling run (on by default in full mode); alone,
                   without --scenarios, it is the only thing run
  --no-scaling     skip it
  --out            where RESULTS.md, results.csv and plots/ go (default: bench/)
  --bin-dir        where uring_php and hyper_variant are (default: target/release)
  --bin-dir-8.2    where uring_php built against PHP 8.2 is, the uring-8.2 peer
                   (default: target/php8.2/release)
  --docroot        document root (default: bench/php)
";

pub struct Options {
    pub quick: bool,
    pub scenarios: Vec<&'static Scenario>,
    pub peers: Vec<Peer>,
    pub conns: Vec<usize>,
    pub modes: Vec<Mode>,
    pub duration: Duration,
    pub warmup: Duration,
    pub rounds: usize,
    pub scaling: bool,
    pub out: PathBuf,
    pub bin_dir: PathBuf,
    pub bin_dir_82: PathBuf,
    pub docroot: PathBuf,
}

const BENCH_DIR: &str = env!("CARGO_MANIFEST_DIR");

fn list(v: &str) -> impl Iterator<Item = &str> {
    v.split(',').map(str::trim).filter(|s| !s.is_empty())
}

fn secs(v: &str, name: &str) -> Result<Duration, String> {
    match v.parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
        _ => Err(format!("{name}: expected whole seconds ≥ 1, got {v:?}")),
    }
}

impl Options {
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Options, String> {
        let args: Vec<String> = args.collect();
        let quick = args.iter().any(|a| a == "--quick");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(BENCH_DIR).join("../target"));
        let mut o = Options {
            quick,
            scenarios: if quick {
                vec![
                    scenarios::scenario("hello").unwrap(),
                    scenarios::scenario("static-1k").unwrap(),
                ]
            } else {
                SCENARIOS.iter().collect()
            },
            // The 8.2 build is a second PHP build and binary: a full run's business.
            peers: Peer::ALL
                .into_iter()
                .filter(|p| !quick || *p != Peer::Uring82)
                .collect(),
            conns: if quick { vec![64] } else { vec![16, 64, 256] },
            modes: vec![Mode::Shared, Mode::Separate],
            duration: Duration::from_secs(2),
            warmup: Duration::from_secs(1),
            rounds: 2,
            scaling: !quick,
            out: if quick {
                PathBuf::from(BENCH_DIR).join("quick")
            } else {
                PathBuf::from(BENCH_DIR)
            },
            bin_dir: target.join("release"),
            bin_dir_82: target.join("php8.2/release"),
            docroot: PathBuf::from(BENCH_DIR).join("php"),
        };
        let mut scenarios_given = false;
        let mut scaling_given = false;
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let (flag, inline) = match a.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (a.as_str(), None),
            };
            let mut value = || -> Result<String, String> {
                inline
                    .clone()
                    .or_else(|| it.next().cloned())
                    .ok_or_else(|| format!("{flag} needs a value"))
            };
            match flag {
                "--quick" => {}
                "-h" | "--help" => return Err(USAGE.to_string()),
                "--scenarios" => {
                    scenarios_given = true;
                    o.scenarios = list(&value()?)
                        .map(|s| {
                            scenarios::scenario(s)
                                .ok_or_else(|| format!("--scenarios: unknown scenario {s:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--peers" => {
                    o.peers = list(&value()?)
                        .map(|s| {
                            Peer::from_key(s).ok_or_else(|| format!("--peers: unknown peer {s:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--conns" => {
                    o.conns = list(&value()?)
                        .map(|s| {
                            s.parse::<usize>()
                                .ok()
                                .filter(|&n| n > 0)
                                .ok_or_else(|| format!("--conns: bad count {s:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--modes" => {
                    o.modes = list(&value()?)
                        .map(|s| {
                            Mode::from_key(s).ok_or_else(|| format!("--modes: unknown mode {s:?}"))
                        })
                        .collect::<Result<_, _>>()?;
                }
                "--duration" => o.duration = secs(&value()?, "--duration")?,
                "--warmup" => o.warmup = secs(&value()?, "--warmup")?,
                "--rounds" => {
                    let v = value()?;
                    o.rounds = v
                        .parse()
                        .ok()
                        .filter(|&n| n > 0)
                        .ok_or_else(|| format!("--rounds: bad count {v:?}"))?;
                }
                "--scaling" => {
                    scaling_given = true;
                    o.scaling = true;
                }
                "--no-scaling" => o.scaling = false,
                "--out" => o.out = PathBuf::from(value()?),
                "--bin-dir" => o.bin_dir = PathBuf::from(value()?),
                "--bin-dir-8.2" => o.bin_dir_82 = PathBuf::from(value()?),
                "--docroot" => o.docroot = PathBuf::from(value()?),
                other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
            }
        }
        if scaling_given && !scenarios_given {
            o.scenarios.clear();
        }
        if o.conns.is_empty() || o.modes.is_empty() || o.peers.is_empty() {
            return Err("--conns, --modes and --peers may not be empty".into());
        }
        Ok(o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Options, String> {
        Options::parse(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_quick() {
        let full = parse(&[]).unwrap();
        assert_eq!(full.scenarios.len(), SCENARIOS.len());
        assert_eq!(full.conns, vec![16, 64, 256]);
        assert!(full.scaling && !full.quick);
        let quick = parse(&["--quick"]).unwrap();
        assert_eq!(
            quick.scenarios.iter().map(|s| s.key).collect::<Vec<_>>(),
            vec!["hello", "static-1k"]
        );
        assert!(!quick.scaling && quick.out.ends_with("quick"));
        assert!(full.peers.contains(&Peer::Uring82) && !quick.peers.contains(&Peer::Uring82));
        assert!(full.bin_dir_82.ends_with("php8.2/release"));
    }

    #[test]
    fn options() {
        let o = parse(&[
            "--scenarios",
            "hello,api",
            "--conns=16",
            "--peers",
            "uring,hyper",
            "--rounds",
            "3",
        ])
        .unwrap();
        assert_eq!(o.scenarios.len(), 2);
        assert_eq!(o.conns, vec![16]);
        assert_eq!(o.peers, vec![Peer::Uring, Peer::Hyper]);
        assert_eq!(o.rounds, 3);
        assert!(parse(&["--scenarios", "nope"]).is_err());
        assert!(parse(&["--bogus"]).is_err());
        let s = parse(&["--scaling"]).unwrap();
        assert!(s.scaling && s.scenarios.is_empty());
        let q = parse(&[
            "--quick",
            "--peers",
            "uring,uring-8.2",
            "--bin-dir-8.2",
            "/x",
        ])
        .unwrap();
        assert_eq!(q.peers, vec![Peer::Uring, Peer::Uring82]);
        assert_eq!(q.bin_dir_82, PathBuf::from("/x"));
    }
}
