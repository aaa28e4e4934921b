//! A private MariaDB for the app flows: Debian's `mariadbd`, a fresh data directory in a
//! temp dir, a Unix socket there and no TCP port. One instance per test process, shared
//! by the tests (each app and each server gets its own database); nothing depends on the
//! system's MariaDB service. Installed by scripts/install-apps.sh.

use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const MARIADBD: &str = "/usr/sbin/mariadbd";
const INSTALL_DB: &str = "/usr/bin/mariadb-install-db";
const CLIENT: &str = "/usr/bin/mariadb";

/// The account the apps log in with (phpMyAdmin and Adminer refuse empty passwords).
pub const USER: &str = "app";
pub const PASSWORD: &str = "app-secret-pw";

pub struct MariaDb {
    dir: PathBuf,
    socket: PathBuf,
    /// Never waited for: the watchdog ends it after the test process.
    _server: std::process::Child,
}

static SHARED: OnceLock<MariaDb> = OnceLock::new();

/// The process's instance, started on first use.
pub fn shared() -> &'static MariaDb {
    SHARED.get_or_init(MariaDb::start)
}

impl MariaDb {
    fn start() -> MariaDb {
        for bin in [MARIADBD, INSTALL_DB, CLIENT] {
            assert!(
                Path::new(bin).exists(),
                "{bin} is missing: run scripts/install-apps.sh"
            );
        }
        // Kept past this function: a static is never dropped, so the watchdog below
        // stops the server and removes the directory when the test process ends.
        let dir = tempfile::Builder::new()
            .prefix("uring_php-mariadb-")
            .tempdir()
            .expect("mariadb temp dir")
            .keep();
        let data = dir.join("data");
        let socket = dir.join("mysqld.sock");
        let as_root = is_root();
        let mut install = Command::new(INSTALL_DB);
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if as_root {
            install.arg("--user=root");
        }
        let out = install.output().expect("run mariadb-install-db");
        assert!(
            out.status.success(),
            "mariadb-install-db failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );

        let log = std::fs::File::create(dir.join("mariadbd.out")).unwrap();
        let mut server = Command::new(MARIADBD);
        server
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--tmpdir={}", dir.display()))
            // Tests need no durability: fewer fsyncs make WordPress's install fast.
            .args([
                "--skip-networking",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=64M",
                "--innodb-flush-log-at-trx-commit=0",
                "--innodb-doublewrite=0",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--max-connections=300",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log));
        if as_root {
            server.arg("--user=root");
        }
        let child = server.spawn().expect("start mariadbd");
        start_watchdog(child.id(), &dir);
        let db = MariaDb {
            dir: dir.clone(),
            socket,
            _server: child,
        };
        db.wait_ready();
        db.sql(&format!(
            "CREATE USER '{USER}'@'localhost' IDENTIFIED BY '{PASSWORD}'; \
             GRANT ALL PRIVILEGES ON *.* TO '{USER}'@'localhost';"
        ));
        db
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if UnixStream::connect(&self.socket).is_ok() && self.try_sql("SELECT 1").is_ok() {
                return;
            }
            if Instant::now() > deadline {
                panic!(
                    "mariadbd did not answer on {} within 60 s:\n{}",
                    self.socket.display(),
                    std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// Runs SQL as root; the result as tab-separated rows without column names.
    pub fn sql(&self, sql: &str) -> String {
        self.try_sql(sql)
            .unwrap_or_else(|e| panic!("SQL failed: {sql}\n{e}"))
    }

    fn try_sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new(CLIENT)
            .arg("--no-defaults")
            .arg(format!("--socket={}", self.socket.display()))
            .args(["-uroot", "-N", "-B", "-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new, empty database.
    pub fn create_database(&self, name: &str) {
        self.sql(&format!(
            "DROP DATABASE IF EXISTS `{name}`; CREATE DATABASE `{name}`;"
        ));
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Stops mariadbd and removes its directory once the test process is gone (a static's
/// value is never dropped; Ctrl-C and kills skip destructors anyway).
fn start_watchdog(server_pid: u32, dir: &Path) {
    let script = r#"test_pid=$1; server=$2; dir=$3
while kill -0 "$test_pid" 2>/dev/null; do sleep 0.5; done
grep -qF "$dir" "/proc/$server/cmdline" 2>/dev/null && kill -TERM "$server" 2>/dev/null
for _ in $(seq 1 100); do [ -d "/proc/$server" ] || break; sleep 0.1; done
grep -qF "$dir" "/proc/$server/cmdline" 2>/dev/null && kill -KILL "$server" 2>/dev/null
rm -rf -- "$dir""#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("mariadb-watchdog")
        .arg(std::process::id().to_string())
        .arg(server_pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
}
