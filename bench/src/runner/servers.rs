//! Starting and stopping the peers on loopback, each on its own free port, all with the
//! same document root, PHP settings and worker count.

use std::fs::{self, File};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::apps::Site;
use super::scenarios::Peer;
use super::{probe, procfs};
use uring_php::cpu_set::format as cpu_list;

pub const NGINX_BIN: &str = "/usr/sbin/nginx";
pub const PHP_FPM_BIN: &str = "/usr/sbin/php-fpm8.2";
pub const PHP_CLI_BIN: &str = "/usr/bin/php8.2";
const MIME_TYPES: &str = "/etc/nginx/mime.types";
const FASTCGI_PARAMS: &str = "/etc/nginx/fastcgi_params";
/// QUEUE_CAPACITY of uring_php and the hyper variant, = php-fpm's listen.backlog.
pub const QUEUE_CAPACITY: usize = 4096;
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// Where the servers of one mode run.
#[derive(Clone, Debug)]
pub struct Placement {
    /// CPUs the servers may use (CPU_AFFINITY, or taskset for nginx/php-fpm/php -S);
    /// empty: every CPU, nothing pinned.
    pub server_cpus: Vec<usize>,
    /// CPUs wrk is pinned to; empty: not pinned.
    pub client_cpus: Vec<usize>,
    /// PHP workers (uring_php, hyper variant) = php-fpm children.
    pub workers: usize,
    /// Event-loop threads: uring_php cores, tokio workers, nginx worker processes.
    pub io_threads: usize,
}

/// What every server needs to know.
pub struct Context {
    pub bin_dir: PathBuf,
    /// Where the uring-8.2 peer's binary is.
    pub bin_dir_82: PathBuf,
    /// The run's temp dir (configs, logs, sockets).
    pub tmp: PathBuf,
}

pub struct Server {
    pub peer: Peer,
    pub addr: SocketAddr,
    /// Where to speak h2c (prior knowledge): the same port, except for nginx, which
    /// needs a listener of its own for it.
    pub h2_addr: SocketAddr,
    children: Vec<Child>,
    pub dir: PathBuf,
}

impl Server {
    pub fn start(
        peer: Peer,
        ctx: &Context,
        site: &Site,
        place: &Placement,
        tag: &str,
    ) -> Result<Server, String> {
        let dir = ctx.tmp.join(format!("{}-{tag}", peer.key()));
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut last = String::new();
        for _ in 0..3 {
            let port = free_port()?;
            let addr: SocketAddr = ([127, 0, 0, 1], port).into();
            let mut h2_addr = addr;
            let children = match peer {
                Peer::Uring
                | Peer::Uring82
                | Peer::UringEpoll
                | Peer::UringStub
                | Peer::Hyper
                | Peer::UringCache => {
                    vec![spawn_rust(peer, ctx, site, place, addr, &dir)?]
                }
                Peer::NginxFpm | Peer::NginxCache => {
                    let mut h2_port = free_port()?;
                    while h2_port == port {
                        h2_port = free_port()?;
                    }
                    h2_addr = ([127, 0, 0, 1], h2_port).into();
                    spawn_nginx_fpm(site, place, port, h2_port, &dir, peer == Peer::NginxCache)?
                }
                Peer::PhpServer => vec![spawn_php_server(site, place, addr, &dir)?],
            };
            let mut server = Server {
                peer,
                addr,
                h2_addr,
                children,
                dir: dir.clone(),
            };
            match server.wait_ready(&site.ready_path) {
                Ok(()) => return Ok(server),
                Err(e) => {
                    last = format!("{e}\n{}", server.logs());
                    server.stop();
                }
            }
        }
        Err(format!("{} did not start: {last}", peer.label()))
    }

    pub fn pids(&self) -> Vec<u32> {
        self.children.iter().map(|c| c.id()).collect()
    }

    fn wait_ready(&mut self, path: &str) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            for c in &mut self.children {
                if let Ok(Some(status)) = c.try_wait() {
                    return Err(format!("exited at startup ({status})"));
                }
            }
            match probe::get(self.addr, path) {
                Ok(a) if a.status == 200 => return Ok(()),
                Ok(a) => last = format!("status {}", a.status),
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(50));
        }
        Err(format!("not ready after {READY_TIMEOUT:?}: {last}"))
    }

    /// The tail of every log file in the server's directory.
    pub fn logs(&self) -> String {
        let mut out = String::new();
        if let Ok(d) = fs::read_dir(&self.dir) {
            for e in d.flatten() {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "log") {
                    let text = fs::read_to_string(&p).unwrap_or_default();
                    let tail: String = text
                        .chars()
                        .rev()
                        .take(2000)
                        .collect::<Vec<_>>()
                        .into_iter()
                        .rev()
                        .collect();
                    out.push_str(&format!("--- {} ---\n{tail}\n", p.display()));
                }
            }
        }
        out
    }

    /// SIGTERM to each master; after 5 s SIGKILL to it and to the workers it leaves.
    pub fn stop(&mut self) {
        // (pid, start time) of the whole tree, so a recycled pid is never signalled.
        let tree: Vec<(u32, Option<u64>)> = procfs::tree(&self.pids())
            .into_iter()
            .map(|p| (p, procfs::start_time(p)))
            .collect();
        for c in &self.children {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut killed = false;
        for c in &mut self.children {
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                thread::sleep(Duration::from_millis(10));
            }
            if let Ok(None) = c.try_wait() {
                let _ = c.kill();
                let _ = c.wait();
                killed = true;
            }
        }
        if killed {
            for (p, started) in tree {
                if started.is_some() && procfs::start_time(p) == started {
                    let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
                }
            }
        }
        self.children.clear();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.children.is_empty() {
            self.stop();
        }
    }
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind 127.0.0.1:0: {e}"))?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn log_file(dir: &Path, name: &str) -> Result<(Stdio, Stdio), String> {
    let f = File::options()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.log")))
        .map_err(|e| format!("log file: {e}"))?;
    let g = f.try_clone().map_err(|e| e.to_string())?;
    Ok((Stdio::from(f), Stdio::from(g)))
}

/// A clean environment: nothing from the caller's (PHP_INI_*, RUST_LOG, …) leaks in.
fn clean(cmd: &mut Command) {
    cmd.env_clear().env(
        "PATH",
        "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    );
    if let Ok(h) = std::env::var("HOME") {
        cmd.env("HOME", h);
    }
    cmd.stdin(Stdio::null());
}

/// `taskset -c CPUS prog` when the placement pins servers, else `prog`.
fn pinned(prog: &str, cpus: &[usize]) -> Command {
    if cpus.is_empty() {
        Command::new(prog)
    } else {
        let mut c = Command::new("taskset");
        c.arg("-c").arg(cpu_list(cpus)).arg(prog);
        c
    }
}

fn spawn_rust(
    peer: Peer,
    ctx: &Context,
    site: &Site,
    place: &Placement,
    addr: SocketAddr,
    dir: &Path,
) -> Result<Child, String> {
    let bin = match peer {
        Peer::Hyper => ctx.bin_dir.join("hyper_variant"),
        Peer::Uring82 => ctx.bin_dir_82.join("uring_php"),
        _ => ctx.bin_dir.join("uring_php"),
    };
    if !bin.exists() {
        return Err(if peer == Peer::Uring82 {
            format!(
                "{} is missing: build it with `PHP_CONFIG=$(PHP_VERSION=8.2 scripts/build-php.sh | tail -n1)/bin/php-config \
                 CARGO_TARGET_DIR=target/php8.2 cargo build --release -p uring_php` (bench/run does)",
                bin.display()
            )
        } else {
            format!(
                "{} is missing: build it with `cargo build --release -p uring_php -p uring-bench`",
                bin.display()
            )
        });
    }
    let cpus = if place.server_cpus.is_empty() {
        uring_php::cpu_set::allowed()
    } else {
        place.server_cpus.clone()
    };
    // The hyper variant restricts itself to CPU_AFFINITY; taskset as well, as for nginx.
    let mut cmd = if peer == Peer::Hyper {
        pinned(&bin.to_string_lossy(), &place.server_cpus)
    } else {
        Command::new(&bin)
    };
    clean(&mut cmd);
    fs::create_dir_all(dir.join("sessions")).map_err(|e| e.to_string())?;
    cmd.env("LISTEN_ADDR", addr.to_string())
        .env("DOCUMENT_ROOT", &site.docroot)
        // As php-fpm's php.ini below: a session directory of the server's own.
        .env("PHP_INI_SESSION__SAVE_PATH", dir.join("sessions"))
        .env("PHP_WORKERS", place.workers.to_string())
        // Deep enough that no connection count here meets a full queue (503): nginx
        // queues in php-fpm's listen backlog (4096) the same way.
        .env("QUEUE_CAPACITY", QUEUE_CAPACITY.to_string())
        .env("CPU_AFFINITY", cpu_list(&cpus))
        .env("LOG_LEVEL", "warn")
        .env("LOG_FORMAT", "json")
        .env("TMPDIR", dir);
    if site.front_controller {
        cmd.env("INDEX_FILE", "index.php");
    }
    match peer {
        Peer::Uring | Peer::Uring82 => {
            cmd.env("IO_DRIVER", "io-uring");
        }
        Peer::UringEpoll => {
            cmd.env("IO_DRIVER", "epoll");
        }
        Peer::UringStub => {
            cmd.env("IO_DRIVER", "io-uring").env("EXECUTOR", "stub");
        }
        Peer::UringCache => {
            cmd.env("IO_DRIVER", "io-uring")
                .env("RESPONSE_CACHE_SIZE", "256M")
                .env("RESPONSE_CACHE_TTL", "60m");
        }
        _ => {}
    }
    let (out, err) = log_file(dir, "server")?;
    cmd.stdout(out).stderr(err);
    cmd.spawn()
        .map_err(|e| format!("cannot start {}: {e}", bin.display()))
}

fn spawn_php_server(
    site: &Site,
    place: &Placement,
    addr: SocketAddr,
    dir: &Path,
) -> Result<Child, String> {
    write_php_ini(dir)?;
    let mut cmd = pinned(PHP_CLI_BIN, &place.server_cpus);
    clean(&mut cmd);
    // -q: no per-request log lines; PHP_CLI_SERVER_WORKERS unset: one process.
    cmd.arg("-c")
        .arg(dir.join("php.ini"))
        .arg("-q")
        .arg("-S")
        .arg(addr.to_string())
        .arg("-t")
        .arg(&site.docroot);
    let (out, err) = log_file(dir, "php-server")?;
    cmd.stdout(out).stderr(err);
    cmd.spawn()
        .map_err(|e| format!("cannot start {PHP_CLI_BIN}: {e}"))
}

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// uring_php's built-in php.ini defaults, for php-fpm and php -S.
fn write_php_ini(dir: &Path) -> Result<(), String> {
    let mut ini =
        String::from("; generated by bench/src/runner/servers.rs: uring_php::php::ini::DEFAULTS\n");
    for (k, v) in uring_php::php::ini::DEFAULTS {
        ini.push_str(&format!("{k} = {}\n", ini_quote(v)));
    }
    fs::create_dir_all(dir.join("sessions")).map_err(|e| e.to_string())?;
    ini.push_str(&format!(
        "session.save_path = {}\n",
        ini_quote(&dir.join("sessions").to_string_lossy())
    ));
    fs::write(dir.join("php.ini"), ini).map_err(|e| format!("php.ini: {e}"))
}

fn ini_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('"', "\\\""))
    }
}

fn spawn_nginx_fpm(
    site: &Site,
    place: &Placement,
    port: u16,
    h2_port: u16,
    dir: &Path,
    page_cache: bool,
) -> Result<Vec<Child>, String> {
    for bin in [NGINX_BIN, PHP_FPM_BIN] {
        if !Path::new(bin).exists() {
            return Err(format!(
                "{bin} is not installed (scripts/install-test-deps.sh installs it)"
            ));
        }
    }
    for sub in [
        "client_body",
        "fastcgi",
        "proxy",
        "uwsgi",
        "scgi",
        "fastcgi_cache",
    ] {
        fs::create_dir_all(dir.join(sub)).map_err(|e| e.to_string())?;
    }
    write_php_ini(dir)?;
    let socket = dir.join("php-fpm.sock");
    let _ = fs::remove_file(&socket);
    let user = if is_root() {
        "user = root\ngroup = root\n"
    } else {
        ""
    };
    let d = dir.display();
    let fpm_conf = format!(
        "; generated by bench/src/runner/servers.rs\n[global]\npid = {d}/php-fpm.pid\nerror_log = {d}/php-fpm.log\n\
         log_level = warning\ndaemonize = no\n\n[www]\n{user}listen = {}\nlisten.mode = 0600\nlisten.backlog = {backlog}\n\
         pm = static\npm.max_children = {}\nclear_env = yes\ncatch_workers_output = yes\n\
         php_admin_value[error_log] = {d}/php-error.log\n",
        socket.display(),
        place.workers,
        backlog = QUEUE_CAPACITY
    );
    fs::write(dir.join("php-fpm.conf"), fpm_conf).map_err(|e| e.to_string())?;

    let mut fpm = pinned(PHP_FPM_BIN, &place.server_cpus);
    clean(&mut fpm);
    fpm.arg("--nodaemonize")
        .arg("--fpm-config")
        .arg(dir.join("php-fpm.conf"))
        .arg("-c")
        .arg(dir.join("php.ini"));
    if is_root() {
        fpm.arg("-R");
    }
    let (out, err) = log_file(dir, "php-fpm-out")?;
    fpm.stdout(out).stderr(err);
    let mut fpm = fpm
        .spawn()
        .map_err(|e| format!("cannot start php-fpm: {e}"))?;
    let deadline = Instant::now() + READY_TIMEOUT;
    while !socket.exists() {
        if Instant::now() > deadline || matches!(fpm.try_wait(), Ok(Some(_))) {
            let _ = fpm.kill();
            let _ = fpm.wait();
            return Err(format!("php-fpm did not create {}", socket.display()));
        }
        thread::sleep(Duration::from_millis(20));
    }

    let cache = if page_cache {
        NGINX_FASTCGI_CACHE_LOCATION
    } else {
        ""
    };
    let front = if site.front_controller {
        NGINX_FRONT_CONTROLLER
    } else {
        ""
    };
    let server = NGINX_SERVER
        .replace("@CACHE@", cache)
        .replace("@FRONT@", front);
    let conf = NGINX_CONF
        .replace(
            "@HTTP_CACHE@",
            if page_cache {
                NGINX_FASTCGI_CACHE_HTTP
            } else {
                ""
            },
        )
        .replace("@SERVER@", &server)
        .replace(
            "@SERVER_H2@",
            &server.replace("@PORT@ backlog=4096", "@H2PORT@ http2 backlog=4096"),
        )
        .replace("@H2PORT@", &h2_port.to_string())
        .replace("@USER@", if is_root() { "user root;\n" } else { "" })
        .replace("@WORKERS@", &place.io_threads.to_string())
        .replace("@ROOT@", &d.to_string())
        .replace("@DOCROOT@", &site.docroot.display().to_string())
        .replace("@SOCKET@", &socket.display().to_string())
        .replace("@PORT@", &port.to_string())
        .replace("@MIME_TYPES@", MIME_TYPES)
        .replace("@FASTCGI_PARAMS@", FASTCGI_PARAMS);
    fs::write(dir.join("nginx.conf"), conf).map_err(|e| e.to_string())?;
    let mut nginx = pinned(NGINX_BIN, &place.server_cpus);
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
    let (out, err) = log_file(dir, "nginx-out")?;
    nginx.stdout(out).stderr(err);
    match nginx.spawn() {
        Ok(n) => Ok(vec![n, fpm]),
        Err(e) => {
            let _ = fpm.kill();
            let _ = fpm.wait();
            Err(format!("cannot start nginx: {e}"))
        }
    }
}

/// nginx as a PHP site is usually deployed (Debian's defaults: sendfile, tcp_nopush),
/// without an access log (uring_php logs no access at LOG_LEVEL=warn either), and with
/// keep-alive connections never closed by a request count, as uring_php does.
const NGINX_CONF: &str = r#"# generated by bench/src/runner/servers.rs
@USER@worker_processes @WORKERS@;
pid "@ROOT@/nginx.pid";
error_log "@ROOT@/nginx-error.log" warn;
events { worker_connections 4096; }
http {
    include "@MIME_TYPES@";
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    client_body_temp_path "@ROOT@/client_body";
    fastcgi_temp_path "@ROOT@/fastcgi";
    proxy_temp_path "@ROOT@/proxy";
    uwsgi_temp_path "@ROOT@/uwsgi";
    scgi_temp_path "@ROOT@/scgi";
    server_tokens off;
    client_max_body_size 8m;
@HTTP_CACHE@
@SERVER@
@SERVER_H2@
}
"#;

/// One `server` block; the h2c one (prior knowledge, for the h2 scenario) is the same on
/// another port.
const NGINX_SERVER: &str = r#"    server {
        listen 127.0.0.1:@PORT@ backlog=4096;
        server_name localhost;
        root "@DOCROOT@";
        index index.php index.html;
@FRONT@
        location ~ [^/]\.php(/|$) {
            fastcgi_split_path_info ^(.+?\.php)(/.*)$;
            try_files $fastcgi_script_name =404;
            set $path_info $fastcgi_path_info;
            include "@FASTCGI_PARAMS@";
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $path_info;
            fastcgi_param HTTP_HOST $http_host;
            fastcgi_pass "unix:@SOCKET@";
@CACHE@        }
    }
"#;

/// fastcgi_cache as the common WordPress guides set it up (nginx's own "9 tips for
/// WordPress", EasyEngine, WordOps): a shared-memory key zone, the cache files on disk,
/// one hour for 200s, the lock and stale options, and skipping POSTs, query strings,
/// admin/login URLs and WordPress's login and comment cookies. Its TTL and cookies
/// match the uring-cache peer's settings.
const NGINX_FASTCGI_CACHE_HTTP: &str = r#"
    fastcgi_cache_path "@ROOT@/fastcgi_cache" levels=1:2 keys_zone=WORDPRESS:100m inactive=60m max_size=256m;
    fastcgi_cache_key "$scheme$request_method$host$request_uri";
    fastcgi_cache_use_stale error timeout updating invalid_header http_500 http_503;
    fastcgi_cache_background_update on;
    fastcgi_cache_lock on;
    fastcgi_ignore_headers Cache-Control Expires;
    map $request_method $skip_method { POST 1; default 0; }
    map $http_cookie $skip_cookie {
        "~*comment_author|wordpress_[a-f0-9]+|wp-postpass|wordpress_no_cache|wordpress_logged_in|PHPSESSID" 1;
        default 0;
    }
    map $request_uri $skip_uri {
        "~*/wp-admin/|/xmlrpc.php|wp-.*\.php|/feed/|sitemap(_index)?\.xml" 1;
        default 0;
    }
    map $query_string $skip_query { "" 0; default 1; }
"#;

const NGINX_FASTCGI_CACHE_LOCATION: &str = r#"            set $skip_cache 0;
            if ($skip_method) { set $skip_cache 1; }
            if ($skip_cookie) { set $skip_cache 1; }
            if ($skip_uri) { set $skip_cache 1; }
            if ($skip_query) { set $skip_cache 1; }
            fastcgi_cache_bypass $skip_cache;
            fastcgi_no_cache $skip_cache;
            fastcgi_cache WORDPRESS;
            fastcgi_cache_valid 200 301 404 60m;
            add_header X-Cache $upstream_cache_status;
"#;

/// uring_php's INDEX_FILE=index.php: `try_files $uri $uri/ /index.php$is_args$args`.
const NGINX_FRONT_CONTROLLER: &str = r#"        location / {
            try_files $uri $uri/ /index.php$is_args$args;
        }
"#;
