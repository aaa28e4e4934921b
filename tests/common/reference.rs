//! The reference stack: a private nginx in front of a private php-fpm (Debian's
//! `php8.2-fpm`, NTS), both in a temporary directory on an ephemeral loopback port.
//! "Correct" PHP behaviour for uring_php is what this stack does (DESIGN.md).
//!
//! ```ignore
//! let stack = ReferenceStack::start(Path::new("tests/php"), 2);
//! let resp = http_client::get(&stack.addr(), "/diff/hello.php", &[]);
//! ```
//!
//! Install the binaries with `scripts/install-test-deps.sh`.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

pub const NGINX_BIN: &str = "/usr/sbin/nginx";
pub const PHP_FPM_BIN: &str = "/usr/sbin/php-fpm8.2";
/// Debian's stock FastCGI parameter list, included by the generated nginx config.
pub const FASTCGI_PARAMS: &str = "/etc/nginx/fastcgi_params";
pub const MIME_TYPES: &str = "/etc/nginx/mime.types";

/// Debian's own php.ini for php-fpm (php.ini-production): the reference runs PHP as
/// Debian's users have it. The stack's php.ini is a copy of it plus the lines that must be
/// per instance (`session.save_path`, see [`ReferenceStackBuilder::session_save_path`])
/// and a test's own [`ReferenceStackBuilder::php_ini`] lines. uring_php's built-in
/// defaults equal it but for the differences docs/php-compatibility.md lists
/// (tests/php_ini_parity.rs).
pub const DEBIAN_PHP_INI: &str = "/etc/php/8.2/fpm/php.ini";

/// How long `start` waits for nginx and php-fpm to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// A static file served from the temp dir (not the docroot) to probe readiness.
const READY_PATH: &str = "/__reference_stack_ready.txt";
const READY_BODY: &str = "reference stack ready\n";
const PORT_ATTEMPTS: usize = 5;

/// A running nginx + php-fpm pair. Both processes are killed and the temp dir removed
/// on drop.
pub struct ReferenceStack {
    port: u16,
    docroot: PathBuf,
    nginx: Option<Child>,
    fpm: Option<Child>,
    /// Cleans up if the test process dies without running Drop (Ctrl-C, a kill).
    watchdog: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

/// Options for [`ReferenceStack`]; `ReferenceStack::start` and
/// `ReferenceStack::start_front_controller` cover the usual cases.
pub struct ReferenceStackBuilder {
    docroot: PathBuf,
    workers: usize,
    front_controller: bool,
    session_save_path: Option<PathBuf>,
    extra_ini: Vec<(String, String)>,
}

impl ReferenceStackBuilder {
    /// Number of php-fpm children (`pm = static`, `pm.max_children`).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    /// Adds `location / { try_files $uri $uri/ /index.php$is_args$args; }`: every request
    /// that is neither a file nor a directory with an index runs `/index.php` (uring_php's
    /// front-controller mode).
    pub fn front_controller(mut self, on: bool) -> Self {
        self.front_controller = on;
        self
    }

    /// `session.save_path`; default: a directory inside the stack's temp dir.
    pub fn session_save_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.session_save_path = Some(path.into());
        self
    }

    /// An extra php.ini line, written after Debian's (so it overrides it).
    pub fn php_ini(mut self, key: &str, value: &str) -> Self {
        self.extra_ini.push((key.to_string(), value.to_string()));
        self
    }

    pub fn start(self) -> ReferenceStack {
        ReferenceStack::launch(self)
    }
}

impl ReferenceStack {
    /// nginx + php-fpm serving `docroot`, `.php` files through FastCGI, with `workers`
    /// php-fpm children.
    pub fn start(docroot: &Path, workers: usize) -> ReferenceStack {
        Self::builder(docroot).workers(workers).start()
    }

    /// Like [`start`](Self::start), with `try_files $uri $uri/ /index.php$is_args$args`.
    pub fn start_front_controller(docroot: &Path, workers: usize) -> ReferenceStack {
        Self::builder(docroot)
            .workers(workers)
            .front_controller(true)
            .start()
    }

    pub fn builder(docroot: &Path) -> ReferenceStackBuilder {
        ReferenceStackBuilder {
            docroot: docroot.to_path_buf(),
            workers: 2,
            front_controller: false,
            session_save_path: None,
            extra_ini: Vec::new(),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT`, for the raw client in `http_client`.
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The document root exactly as nginx was given it (absolute, canonical). Start the
    /// server under comparison with this same string so SCRIPT_FILENAME and
    /// DOCUMENT_ROOT agree.
    pub fn docroot(&self) -> &Path {
        &self.docroot
    }

    /// The temp dir holding configs, logs, sockets.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().expect("temp dir present").path()
    }

    /// PHP's error log (`php_admin_value[error_log]`): warnings and fatals land here.
    pub fn php_error_log(&self) -> String {
        read_lossy(&self.dir().join("php-error.log"))
    }

    /// nginx's error log plus php-fpm's own log, for panic messages.
    pub fn logs(&self) -> String {
        collect_logs(self.dir())
    }

    fn launch(opts: ReferenceStackBuilder) -> ReferenceStack {
        for bin in [NGINX_BIN, PHP_FPM_BIN] {
            if !Path::new(bin).exists() {
                panic!(
                    "reference stack: {bin} is not installed; run scripts/install-test-deps.sh \
                     (installs nginx and php8.2-fpm from Debian)"
                );
            }
        }
        for file in [FASTCGI_PARAMS, MIME_TYPES, DEBIAN_PHP_INI] {
            if !Path::new(file).exists() {
                panic!("reference stack: {file} is missing; run scripts/install-test-deps.sh");
            }
        }
        assert!(opts.workers > 0, "reference stack: workers must be > 0");
        let docroot = fs::canonicalize(&opts.docroot).unwrap_or_else(|e| {
            panic!(
                "reference stack: docroot {} is not accessible: {e}",
                opts.docroot.display()
            )
        });
        assert!(
            docroot.is_dir(),
            "reference stack: docroot {} is not a directory",
            docroot.display()
        );

        let dir = tempfile::Builder::new()
            .prefix("uring_php-reference-")
            .tempdir()
            .expect("reference stack: cannot create a temp dir");
        let root = dir.path().to_path_buf();
        for sub in [
            "client_body",
            "fastcgi",
            "proxy",
            "uwsgi",
            "scgi",
            "sessions",
            "static",
        ] {
            fs::create_dir(root.join(sub)).expect("reference stack: cannot populate temp dir");
        }
        fs::write(
            root.join("static").join(READY_PATH.trim_start_matches('/')),
            READY_BODY,
        )
        .expect("reference stack: cannot write the readiness file");
        let session_dir = opts
            .session_save_path
            .clone()
            .unwrap_or_else(|| root.join("sessions"));

        let is_root = effective_uid() == Some(0);
        let socket = root.join("php-fpm.sock");
        write_php_ini(&root, &session_dir, &opts.extra_ini);
        write_fpm_conf(&root, &socket, opts.workers, is_root);

        let mut stack = ReferenceStack {
            port: 0,
            docroot: docroot.clone(),
            nginx: None,
            fpm: None,
            watchdog: None,
            dir: Some(dir),
        };

        // php-fpm first; nginx only proxies to its socket.
        let mut fpm_cmd = Command::new(PHP_FPM_BIN);
        fpm_cmd
            .arg("--nodaemonize")
            .arg("--fpm-config")
            .arg(root.join("php-fpm.conf"))
            .arg("-c")
            .arg(root.join("php.ini"));
        if is_root {
            fpm_cmd.arg("-R");
        }
        stack.fpm = Some(spawn(fpm_cmd, &root, "php-fpm"));
        stack.wait_for_socket(&socket);

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = ephemeral_port();
            write_nginx_conf(
                &root,
                &docroot,
                &socket,
                port,
                opts.front_controller,
                is_root,
            );
            // The error log is truncated per attempt so "Address already in use" refers
            // to this port.
            let _ = fs::write(root.join("nginx-error.log"), b"");
            let mut cmd = Command::new(NGINX_BIN);
            cmd.arg("-p")
                .arg(&root)
                .arg("-e")
                .arg(root.join("nginx-error.log"))
                .arg("-c")
                .arg(root.join("nginx.conf"))
                .arg("-g")
                .arg("daemon off;");
            stack.nginx = Some(spawn(cmd, &root, "nginx"));
            stack.port = port;
            match stack.wait_ready() {
                Ok(()) => {
                    stack.start_watchdog();
                    return stack;
                }
                Err(e) => {
                    let log = read_lossy(&root.join("nginx-error.log"));
                    stack.stop_nginx();
                    if log.contains("Address already in use") {
                        last_error = format!("port {port} taken: {e}");
                        continue;
                    }
                    panic!(
                        "reference stack did not become ready on port {port}: {e}\n{}",
                        collect_logs(&root)
                    );
                }
            }
        }
        panic!(
            "reference stack: nginx could not bind a port in {PORT_ATTEMPTS} attempts \
             (last: {last_error})\n{}",
            collect_logs(&root)
        );
    }

    fn wait_for_socket(&mut self, socket: &Path) {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if socket.exists() {
                return;
            }
            if let Some(status) = self.fpm.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                panic!(
                    "reference stack: php-fpm exited at startup ({status})\n{}",
                    collect_logs(self.dir())
                );
            }
            if Instant::now() > deadline {
                panic!(
                    "reference stack: php-fpm did not create {} within {:?}\n{}",
                    socket.display(),
                    READY_TIMEOUT,
                    collect_logs(self.dir())
                );
            }
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// TCP connect, then a GET of the readiness file, until it answers or 10 s pass.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + READY_TIMEOUT;
        let addr: SocketAddr = ([127, 0, 0, 1], self.port).into();
        let mut last = String::from("no attempt");
        while Instant::now() < deadline {
            if let Some(status) = self
                .nginx
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                return Err(format!("nginx exited at startup ({status})"));
            }
            if let Some(status) = self.fpm.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                return Err(format!("php-fpm exited ({status})"));
            }
            match probe(addr) {
                Ok(true) => return Ok(()),
                Ok(false) => last = "readiness file not served yet".into(),
                Err(e) => last = e,
            }
            thread::sleep(Duration::from_millis(25));
        }
        Err(format!("not ready after {READY_TIMEOUT:?}: {last}"))
    }

    /// php-fpm puts itself in a new session, so Ctrl-C on `cargo test` does not reach it,
    /// and a killed test process runs no Drop. A small shell loop in its own process group
    /// waits for the test process to go away, then stops both masters (only if their
    /// command line still names our temp dir) and removes the temp dir.
    fn start_watchdog(&mut self) {
        let pid = |c: &Option<Child>| c.as_ref().map(|c| c.id().to_string()).unwrap_or_default();
        let script = r#"test_pid=$1; dir=$2; shift 2
while kill -0 "$test_pid" 2>/dev/null; do sleep 0.5; done
for p in "$@"; do
  grep -qF "$dir" "/proc/$p/cmdline" 2>/dev/null && kill -TERM "$p" 2>/dev/null
done
sleep 2
for p in "$@"; do
  grep -qF "$dir" "/proc/$p/cmdline" 2>/dev/null && kill -KILL "$p" 2>/dev/null
done
rm -rf -- "$dir""#;
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(script)
            .arg("reference-stack-watchdog")
            .arg(std::process::id().to_string())
            .arg(self.dir())
            .arg(pid(&self.fpm))
            .arg(pid(&self.nginx))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        // Best effort: without it, only an abnormal exit leaks processes.
        self.watchdog = cmd.spawn().ok();
    }

    fn stop_nginx(&mut self) {
        if let Some(child) = self.nginx.take() {
            stop_master(child);
        }
    }
}

impl Drop for ReferenceStack {
    fn drop(&mut self) {
        if let Some(mut w) = self.watchdog.take() {
            // Its own process group: the shell and its `sleep`.
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", w.id())])
                .stderr(Stdio::null())
                .status();
            let _ = w.wait();
        }
        self.stop_nginx();
        if let Some(child) = self.fpm.take() {
            stop_master(child);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

fn probe(addr: SocketAddr) -> Result<bool, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let req = format!("GET {READY_PATH} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).map_err(|e| format!("read: {e}"))?;
    let text = String::from_utf8_lossy(&buf);
    Ok(text.starts_with("HTTP/1.1 200") && text.ends_with(READY_BODY))
}

/// Spawns `cmd` with its output appended to `<dir>/<name>.out`. It stays in the test's
/// process group, so Ctrl-C on `cargo test` stops nginx and php-fpm too.
fn spawn(mut cmd: Command, dir: &Path, name: &str) -> Child {
    let out = File::options()
        .create(true)
        .append(true)
        .open(dir.join(format!("{name}.out")))
        .expect("reference stack: cannot open an output file");
    let err = out.try_clone().expect("reference stack: cannot dup a file");
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .env_remove("PHP_INI_SCAN_DIR");
    cmd.spawn()
        .unwrap_or_else(|e| panic!("reference stack: cannot start {name} ({cmd:?}): {e}"))
}

/// SIGTERM to a master (nginx and php-fpm then stop their workers and wait for them);
/// after 5 s, SIGKILL to the master and to the workers it had.
fn stop_master(mut child: Child) {
    let pid = child.id();
    let workers = children_of(pid);
    signal(pid, "TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    for w in workers {
        // Only a worker that is still ours: orphaned (reparented) or still the master's.
        if matches!(parent_of(w), Some(ppid) if ppid == pid || ppid == 1) {
            signal(w, "KILL");
        }
    }
}

fn signal(pid: u32, sig: &str) {
    let _ = Command::new("kill")
        .args([format!("-{sig}"), pid.to_string()])
        .stderr(Stdio::null())
        .status();
}

/// Child pids of `pid`, from /proc/PID/task/*/children.
fn children_of(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            if let Ok(list) = fs::read_to_string(t.path().join("children")) {
                out.extend(
                    list.split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
        }
    }
    out
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn ephemeral_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("reference stack: cannot bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

fn effective_uid() -> Option<u32> {
    let status = fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    // Uid: real effective saved fs
    line.split_whitespace().nth(2)?.parse().ok()
}

fn write_php_ini(root: &Path, session_dir: &Path, extra: &[(String, String)]) {
    let debian = fs::read_to_string(DEBIAN_PHP_INI).unwrap_or_else(|e| {
        panic!("reference stack: {DEBIAN_PHP_INI}: {e}; run scripts/install-test-deps.sh")
    });
    let mut ini = debian;
    ini.push_str("\n[uring_php reference stack]\n; added by tests/common/reference.rs\n");
    ini.push_str(&format!(
        "session.save_path = {}\n",
        ini_quote(&session_dir.display().to_string())
    ));
    for (k, v) in extra {
        ini.push_str(&format!("{k} = {}\n", ini_quote(v)));
    }
    fs::write(root.join("php.ini"), ini).expect("reference stack: cannot write php.ini");
}

/// Quotes values that php.ini would otherwise interpret (paths, spaces); constants such as
/// `E_ALL` and booleans stay bare.
fn ini_quote(v: &str) -> String {
    if v.chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('"', "\\\""))
    }
}

fn write_fpm_conf(root: &Path, socket: &Path, workers: usize, is_root: bool) {
    let r = root.display();
    let user = if is_root {
        "user = root\ngroup = root\n"
    } else {
        ""
    };
    let conf = format!(
        "; generated by tests/common/reference.rs\n\
         [global]\n\
         pid = {r}/php-fpm.pid\n\
         error_log = {r}/php-fpm.log\n\
         log_level = notice\n\
         daemonize = no\n\
         \n\
         [www]\n\
         {user}\
         listen = {socket}\n\
         listen.mode = 0600\n\
         pm = static\n\
         pm.max_children = {workers}\n\
         clear_env = yes\n\
         catch_workers_output = yes\n\
         decorate_workers_output = no\n\
         php_admin_value[error_log] = {r}/php-error.log\n",
        socket = socket.display(),
    );
    fs::write(root.join("php-fpm.conf"), conf).expect("reference stack: cannot write php-fpm.conf");
}

/// The generated nginx.conf. `@NAME@` placeholders are filled in by `write_nginx_conf`.
const NGINX_CONF_TEMPLATE: &str = r#"# generated by tests/common/reference.rs
@USER@worker_processes 1;
pid "@ROOT@/nginx.pid";
error_log "@ROOT@/nginx-error.log" info;
events { worker_connections 1024; }
http {
    include "@MIME_TYPES@";
    default_type application/octet-stream;
    access_log "@ROOT@/access.log";
    client_body_temp_path "@ROOT@/client_body";
    fastcgi_temp_path "@ROOT@/fastcgi";
    proxy_temp_path "@ROOT@/proxy";
    uwsgi_temp_path "@ROOT@/uwsgi";
    scgi_temp_path "@ROOT@/scgi";
    server_tokens off;
    client_max_body_size 8m;

    server {
        listen 127.0.0.1:@PORT@;
        server_name localhost;
        root "@DOCROOT@";
        index index.php index.html;

        # Readiness probe, served from the temp dir, not the docroot.
        location = @READY_PATH@ {
            root "@ROOT@/static";
        }
@FRONT@
        location ~ [^/]\.php(/|$) {
            fastcgi_split_path_info ^(.+?\.php)(/.*)$;
            try_files $fastcgi_script_name =404;
            # try_files resets $fastcgi_path_info (trac.nginx.org/nginx/ticket/321); `set`
            # runs in the rewrite phase, before try_files, and keeps it (as Debian's
            # snippets/fastcgi-php.conf does).
            set $path_info $fastcgi_path_info;
            include "@FASTCGI_PARAMS@";
            fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
            fastcgi_param PATH_INFO $path_info;
            # Debian's fastcgi_params sets HTTP_HOST to $host (drops the port); pass the
            # Host header as sent, as upstream nginx, Apache and uring_php do. Later
            # params win in php-fpm, so this overrides the include.
            fastcgi_param HTTP_HOST $http_host;
            fastcgi_pass "unix:@SOCKET@";
        }
    }
}
"#;

const NGINX_FRONT_CONTROLLER: &str = r#"
        # Front-controller mode: anything that is neither a file nor a directory with an
        # index runs /index.php (WordPress's recipe; Laravel's too).
        location / {
            try_files $uri $uri/ /index.php$is_args$args;
        }
"#;

fn write_nginx_conf(
    root: &Path,
    docroot: &Path,
    socket: &Path,
    port: u16,
    front_controller: bool,
    is_root: bool,
) {
    // As root, nginx's workers would switch to `nobody`, who can reach neither the
    // FastCGI socket nor the temp paths inside our 0700 temp dir.
    let user = if is_root { "user root;\n" } else { "" };
    let front = if front_controller {
        NGINX_FRONT_CONTROLLER
    } else {
        ""
    };
    let conf = NGINX_CONF_TEMPLATE
        .replace("@USER@", user)
        .replace("@FRONT@", front)
        .replace("@ROOT@", &nginx_quoted(root))
        .replace("@DOCROOT@", &nginx_quoted(docroot))
        .replace("@SOCKET@", &nginx_quoted(socket))
        .replace("@PORT@", &port.to_string())
        .replace("@READY_PATH@", READY_PATH)
        .replace("@MIME_TYPES@", MIME_TYPES)
        .replace("@FASTCGI_PARAMS@", FASTCGI_PARAMS);
    fs::write(root.join("nginx.conf"), conf).expect("reference stack: cannot write nginx.conf");
}

/// A path for use inside a double-quoted nginx string.
fn nginx_quoted(p: &Path) -> String {
    p.display()
        .to_string()
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
}

fn read_lossy(path: &Path) -> String {
    fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_else(|e| format!("(cannot read {}: {e})", path.display()))
}

fn collect_logs(root: &Path) -> String {
    let mut out = String::new();
    for name in [
        "nginx-error.log",
        "nginx.out",
        "php-fpm.log",
        "php-fpm.out",
        "php-error.log",
    ] {
        let p = root.join(name);
        if p.exists() {
            out.push_str(&format!("--- {} ---\n{}\n", p.display(), read_lossy(&p)));
        }
    }
    out
}
