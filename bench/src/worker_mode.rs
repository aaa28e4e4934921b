//! `bench/run-worker-mode`: the Symfony 5.4 and Laravel 8 apps of tests/apps/worker-*
//! (Debian's packages) in uring_php's classic mode, in its worker mode, and on nginx +
//! php-fpm, side by side: a route rendering a template (`/hello/bench`) and a JSON route
//! (`/api/items/20`). Peers alternate round by round; each figure is the median of the
//! rounds. Writes bench/RESULTS-worker-mode.md.

use std::fmt::Write as _;
use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::runner::{probe, procfs, wrk};

const NGINX_BIN: &str = "/usr/sbin/nginx";
const PHP_FPM_BIN: &str = "/usr/sbin/php-fpm8.2";
const FASTCGI_PARAMS: &str = "/etc/nginx/fastcgi_params";
const ROUTES: [(&str, &str); 2] = [("template", "/hello/bench"), ("json", "/api/items/20")];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Peer {
    Classic,
    Worker,
    Fpm,
}

impl Peer {
    const ALL: [Peer; 3] = [Peer::Worker, Peer::Classic, Peer::Fpm];
    fn label(self) -> &'static str {
        match self {
            Peer::Classic => "uring_php classic",
            Peer::Worker => "uring_php worker mode",
            Peer::Fpm => "nginx + php-fpm",
        }
    }
}

struct App {
    name: &'static str,
    title: &'static str,
    writable: &'static [&'static str],
    /// WORKER_SCRIPT and the extra environment of worker mode.
    worker_script: &'static str,
    worker_env: &'static [(&'static str, &'static str)],
}

const APPS: [App; 2] = [
    App {
        name: "worker-symfony",
        title: "Symfony 5.4",
        writable: &["var"],
        worker_script: "index.php",
        worker_env: &[("APP_RUNTIME", "App\\Runtime\\WorkerRuntime")],
    },
    App {
        name: "worker-laravel",
        title: "Laravel 8",
        writable: &[
            "bootstrap/cache",
            "storage/framework/sessions",
            "storage/framework/views",
            "storage/framework/cache",
            "storage/logs",
        ],
        worker_script: "worker.php",
        worker_env: &[],
    },
];

struct Opts {
    duration: Duration,
    rounds: usize,
    conns: usize,
    out: PathBuf,
    bin: PathBuf,
}

fn parse_args() -> Result<Opts, String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut o = Opts {
        duration: Duration::from_secs(8),
        rounds: 3,
        conns: 32,
        out: root.join("bench/RESULTS-worker-mode.md"),
        bin: root.join("target/release/uring_php"),
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--duration" => o.duration = Duration::from_secs(val()?.parse().map_err(|e| format!("--duration: {e}"))?),
            "--rounds" => o.rounds = val()?.parse().map_err(|e| format!("--rounds: {e}"))?,
            "--conns" => o.conns = val()?.parse().map_err(|e| format!("--conns: {e}"))?,
            "--out" => o.out = PathBuf::from(val()?),
            "--bin" => o.bin = PathBuf::from(val()?),
            "--help" | "-h" => {
                return Err("usage: worker_bench [--duration SECS] [--rounds N] [--conns N] [--out FILE] [--bin uring_php]".into())
            }
            _ => return Err(format!("unknown argument {a}")),
        }
    }
    Ok(o)
}

struct Running {
    peer: Peer,
    addr: SocketAddr,
    children: Vec<Child>,
}

impl Drop for Running {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        for c in &mut self.children {
            while Instant::now() < deadline && matches!(c.try_wait(), Ok(None)) {
                thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn log(dir: &Path, name: &str) -> Result<(Stdio, Stdio), String> {
    let f = fs::File::create(dir.join(format!("{name}.log"))).map_err(|e| e.to_string())?;
    let g = f.try_clone().map_err(|e| e.to_string())?;
    Ok((Stdio::from(f), Stdio::from(g)))
}

fn clean(cmd: &mut Command) {
    cmd.env_clear()
        .env(
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        )
        .stdin(Stdio::null());
}

/// The same php.ini settings for every peer: uring_php's built-in defaults, Debian's
/// include_path (the frameworks load from it) and a private session directory.
fn ini(dir: &Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = uring_php::php::ini::DEFAULTS
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    v.retain(|(k, _)| k != "include_path" && k != "session.save_path");
    v.push(("include_path".into(), ".:/usr/share/php".into()));
    v.push((
        "session.save_path".into(),
        dir.join("sessions").display().to_string(),
    ));
    v
}

fn start(
    peer: Peer,
    app: &App,
    public: &Path,
    dir: &Path,
    workers: usize,
    bin: &Path,
) -> Result<Running, String> {
    let dir = dir.join(format!("{peer:?}").to_lowercase());
    fs::create_dir_all(dir.join("sessions")).map_err(|e| e.to_string())?;
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let children = match peer {
        Peer::Classic | Peer::Worker => {
            let mut cmd = Command::new(bin);
            clean(&mut cmd);
            cmd.env("LISTEN_ADDR", addr.to_string())
                .env("DOCUMENT_ROOT", public)
                .env("INDEX_FILE", "index.php")
                .env("QUEUE_CAPACITY", "4096")
                .env("LOG_LEVEL", "warn")
                .env("LOG_FORMAT", "json");
            for (k, v) in ini(&dir) {
                cmd.arg("--php-define").arg(format!("{k}={v}"));
            }
            if peer == Peer::Worker {
                cmd.env("PHP_WORKERS", "1")
                    .env("WORKER_SCRIPT", app.worker_script)
                    .env("WORKER_COUNT", workers.to_string());
                for (k, v) in app.worker_env {
                    cmd.env(k, v);
                }
            } else {
                cmd.env("PHP_WORKERS", workers.to_string());
            }
            let (o, e) = log(&dir, "server")?;
            cmd.stdout(o).stderr(e);
            vec![cmd.spawn().map_err(|e| format!("{}: {e}", bin.display()))?]
        }
        Peer::Fpm => start_fpm(public, &dir, port, workers)?,
    };
    let r = Running {
        peer,
        addr,
        children,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match probe::get(addr, "/hello/bench") {
            Ok(a) if a.status == 200 => return Ok(r),
            Ok(a) if Instant::now() > deadline => {
                return Err(format!(
                    "{}: /hello/bench answered {}: {}",
                    peer.label(),
                    a.status,
                    a.text()
                ))
            }
            Err(e) if Instant::now() > deadline => return Err(format!("{}: {e}", peer.label())),
            _ => thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn start_fpm(public: &Path, dir: &Path, port: u16, workers: usize) -> Result<Vec<Child>, String> {
    for sub in ["client_body", "fastcgi", "proxy", "uwsgi", "scgi"] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    let mut php_ini = String::new();
    for (k, v) in ini(dir) {
        let _ = writeln!(php_ini, "{k} = \"{v}\"");
    }
    fs::write(dir.join("php.ini"), php_ini).map_err(|e| e.to_string())?;
    let root = nix::unistd::geteuid().is_root();
    let socket = dir.join("php-fpm.sock");
    let d = dir.display();
    fs::write(
        dir.join("php-fpm.conf"),
        format!(
            "[global]\npid = {d}/php-fpm.pid\nerror_log = {d}/php-fpm.log\ndaemonize = no\n\n[www]\n{}listen = {}\n\
             listen.backlog = 4096\npm = static\npm.max_children = {workers}\nclear_env = yes\n",
            if root { "user = root\ngroup = root\n" } else { "" },
            socket.display()
        ),
    )
    .map_err(|e| e.to_string())?;
    let mut fpm = Command::new(PHP_FPM_BIN);
    clean(&mut fpm);
    fpm.arg("--nodaemonize")
        .arg("--fpm-config")
        .arg(dir.join("php-fpm.conf"))
        .arg("-c")
        .arg(dir.join("php.ini"));
    if root {
        fpm.arg("-R");
    }
    let (o, e) = log(dir, "php-fpm-out")?;
    fpm.stdout(o).stderr(e);
    let fpm = fpm.spawn().map_err(|e| format!("php-fpm: {e}"))?;
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    // The reference front-controller site: try_files $uri /index.php, as the router does.
    let conf = format!(
        r#"{user}worker_processes 2;
pid "{d}/nginx.pid";
error_log "{d}/nginx-error.log" warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path "{d}/client_body";
    fastcgi_temp_path "{d}/fastcgi";
    proxy_temp_path "{d}/proxy";
    uwsgi_temp_path "{d}/uwsgi";
    scgi_temp_path "{d}/scgi";
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root "{public}";
        location / {{ try_files $uri /index.php$is_args$args; }}
        location ~ ^/index\.php(/|$) {{
            include "{FASTCGI_PARAMS}";
            fastcgi_param SCRIPT_FILENAME $document_root/index.php;
            fastcgi_param HTTP_HOST $http_host;
            fastcgi_pass "unix:{sock}";
        }}
    }}
}}
"#,
        user = if root { "user root;\n" } else { "" },
        public = public.display(),
        sock = socket.display(),
    );
    fs::write(dir.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
    let mut nginx = Command::new(NGINX_BIN);
    clean(&mut nginx);
    nginx
        .arg("-p")
        .arg(dir)
        .arg("-e")
        .arg(dir.join("nginx-error.log"))
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-g")
        .arg("daemon off;");
    let (o, e) = log(dir, "nginx-out")?;
    nginx.stdout(o).stderr(e);
    let nginx = nginx.spawn().map_err(|e| format!("nginx: {e}"))?;
    Ok(vec![nginx, fpm])
}

#[derive(Clone, Default)]
struct Sample {
    rps: f64,
    p99_ms: f64,
    cpu_us: f64,
}

fn measure(r: &Running, path: &str, conns: usize, duration: Duration) -> Result<Sample, String> {
    let pids = procfs::tree(&r.children.iter().map(|c| c.id()).collect::<Vec<_>>());
    let before = procfs::cpu_ticks(&pids);
    let res = wrk::run(&wrk::WrkRun {
        url: format!("http://{}{path}", r.addr),
        connections: conns,
        threads: 2,
        duration,
        cpus: &[],
        script: None,
        env: Vec::new(),
    })?;
    let ticks = procfs::cpu_ticks(&pids).saturating_sub(before) as f64;
    let rep = res.report;
    if rep.non_2xx > 0 || rep.socket_errors > 0 {
        return Err(format!(
            "{} {path}: {} non-2xx, {} socket errors",
            r.peer.label(),
            rep.non_2xx,
            rep.socket_errors
        ));
    }
    Ok(Sample {
        rps: rep.rps,
        p99_ms: rep.p99_us / 1000.0,
        cpu_us: ticks / procfs::clock_ticks_per_sec() * 1e6 / rep.requests.max(1) as f64,
    })
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        0.0
    } else {
        v[v.len() / 2]
    }
}

pub fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&opts) {
        eprintln!("worker_bench: {e}");
        std::process::exit(1);
    }
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

fn run(o: &Opts) -> Result<(), String> {
    let load_before = loadavg();
    let cpus = crate::runner::allowed_cpus().len();
    let workers = 2 * cpus;
    let tmp = std::env::temp_dir().join(format!("uring-worker-bench-{}", std::process::id()));
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/apps");
    let mut rows = Vec::new();
    for app in &APPS {
        let mut running = Vec::new();
        for peer in Peer::ALL {
            // A private copy per peer: each writes its own caches and sessions.
            let copy = tmp.join(app.name).join(format!("{peer:?}").to_lowercase());
            fs::create_dir_all(&copy).map_err(|e| e.to_string())?;
            let status = Command::new("cp")
                .arg("-a")
                .arg(src.join(app.name))
                .arg(copy.join("app"))
                .status()
                .map_err(|e| e.to_string())?;
            if !status.success() {
                return Err("cp -a failed".into());
            }
            for w in app.writable {
                fs::create_dir_all(copy.join("app").join(w)).map_err(|e| e.to_string())?;
            }
            running.push(start(
                peer,
                app,
                &copy.join("app/public"),
                &copy,
                workers,
                &o.bin,
            )?);
        }
        // The same answers from every peer before anything is measured.
        for (_, path) in ROUTES {
            let bodies: Vec<String> = running
                .iter()
                .map(|r| probe::get(r.addr, path).map(|a| a.text()))
                .collect::<Result<_, _>>()?;
            if bodies.iter().any(|b| b != &bodies[0]) {
                return Err(format!(
                    "{} {path}: the peers answer differently",
                    app.title
                ));
            }
        }
        for (route, path) in ROUTES {
            for r in &running {
                measure(r, path, o.conns, Duration::from_secs(2))?; // warm-up
            }
            let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); running.len()];
            for round in 0..o.rounds {
                for k in 0..running.len() {
                    // A, B, C, then B, C, A, ...: no peer always goes first.
                    let i = (k + round) % running.len();
                    let s = measure(&running[i], path, o.conns, o.duration)?;
                    eprintln!(
                        "{} {route} {}: {:.0} req/s, p99 {:.1} ms, {:.0} CPU-µs/req",
                        app.title,
                        running[i].peer.label(),
                        s.rps,
                        s.p99_ms,
                        s.cpu_us
                    );
                    samples[i].push(s);
                }
            }
            for (r, s) in running.iter().zip(samples) {
                rows.push((
                    app.title,
                    route,
                    r.peer,
                    median(s.iter().map(|x| x.rps).collect()),
                    median(s.iter().map(|x| x.p99_ms).collect()),
                    median(s.iter().map(|x| x.cpu_us).collect()),
                ));
            }
        }
        drop(running);
    }
    let _ = fs::remove_dir_all(&tmp);
    let load = format!("{load_before} before, {} after", loadavg());
    fs::write(&o.out, report(o, workers, &load, &rows))
        .map_err(|e| format!("{}: {e}", o.out.display()))?;
    eprintln!("wrote {}", o.out.display());
    Ok(())
}

type Row = (&'static str, &'static str, Peer, f64, f64, f64);

fn report(o: &Opts, workers: usize, load: &str, rows: &[Row]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# Worker mode: Symfony and Laravel, side by side\n");
    let _ = writeln!(
        s,
        "Written by `bench/run-worker-mode` ({}) on {} CPUs: {} rounds of {} s per peer and route, \
         peers alternating, {} connections, wrk with 2 threads on the same machine (unpinned); each \
         figure is the median of the rounds. Every peer has {workers} PHP workers (php-fpm `pm = static`, \
         `WORKER_COUNT`, `PHP_WORKERS`), the same php.ini settings (OPcache on, JIT off) and its own copy \
         of the app (tests/apps/worker-*: Debian's Symfony 5.4 and Laravel 8 packages). `template`: \
         `/hello/bench`, a page rendered with Twig / Blade; `json`: `/api/items/20`. CPU-µs/req: the \
         server's processes (nginx and php-fpm together), per request. Load average (1, 5, 15 min): \
         {load} — what else ran on the machine meanwhile shares the CPUs with every peer alike.\n",
        httpdate::fmt_http_date(std::time::SystemTime::now()),
        crate::runner::allowed_cpus().len(),
        o.rounds,
        o.duration.as_secs(),
        o.conns,
    );
    let _ = writeln!(
        s,
        "| app | route | peer | req/s | req/s × php-fpm | p99 ms | CPU-µs/req | CPU ÷ php-fpm's |\n|---|---|---|---:|---:|---:|---:|---:|"
    );
    for r in rows {
        let fpm = rows
            .iter()
            .find(|x| x.0 == r.0 && x.1 == r.1 && x.2 == Peer::Fpm);
        let ratio = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
        let _ = writeln!(
            s,
            "| {} | {} | {} | {:.0} | {:.2} | {:.1} | {:.0} | {:.2} |",
            r.0,
            r.1,
            r.2.label(),
            r.3,
            fpm.map_or(0.0, |f| ratio(r.3, f.3)),
            r.4,
            r.5,
            fpm.map_or(0.0, |f| ratio(r.5, f.5)),
        );
    }
    s.push_str(
        "\nOn a machine busy with other work the peers do not get equal shares of the CPUs \
         (more processes or threads, other scheduling), so req/s ratios drift with the load; \
         CPU-µs per request does not depend on the share a peer got, and its ratio (the last \
         column: 0.10 = a tenth of php-fpm's CPU per request) is the figure to compare across \
         runs.\n",
    );
    s.push_str(
        "\n## Beside FrankenPHP's published worker-mode gains\n\n\
         | source | app | FrankenPHP worker mode vs nginx + php-fpm |\n|---|---|---|\n\
         | Sylius benchmark by API Platform's maintainer (soyuka.github.io/sylius-benchmarks, 2 vCPU, PHP 8.3) | Sylius API, a product page | ≈ 3× the requests per second, far lower latency |\n\
         | \"Symfony 8 on PHP 8.4: FrankenPHP vs RoadRunner\" (8 cores, wrk -c100) | Symfony 8, JSON ping / DB writes | 8,500 vs 2,100 req/s (4.0×) / 3,200 vs 850 (3.8×) |\n\
         | FrankenPHP issue #833 (Laravel skeleton, Octane) | Laravel, a trivial route | 15,426 vs 14,639 req/s (1.05×) |\n\n\
         The apps here are small (no database), so the boot that worker mode skips is most of each \
         classic request: the ratio is the framework's boot cost, which is why it is larger for the \
         heavier boot (Symfony's container and Twig, Laravel's providers).\n",
    );
    s
}
