//! `localhost` in mysqli and PDO means "the default Unix socket" (WordPress's installer
//! writes `DB_HOST=localhost`). The WordPress flow runs that way against the private
//! MariaDB with `mysqli.default_socket` set on both servers; this test checks the default
//! itself: with no setting, uring_php's is php-fpm's (uring_php's build says
//! `/run/mysqld/mysqld.sock`, Debian's php-fpm `/var/run/...`: the same file through
//! Debian's `/var/run -> /run` link), and
//! connecting to `localhost` ends the same way on both servers — refused when no system
//! MariaDB runs, as in CI, and the same login outcome when one does.

use std::fs;
use std::path::{Path, PathBuf};

use crate::browser::Browser;
use crate::sides::{run_on_both, Side, Site, Transcript};

const SCRIPT: &str = r#"<?php
mysqli_report(MYSQLI_REPORT_OFF);
echo "mysqli.default_socket=", ini_get('mysqli.default_socket'), "\n";
echo "pdo_mysql.default_socket=", ini_get('pdo_mysql.default_socket'), "\n";
$m = @new mysqli('localhost', 'root', '');
echo "mysqli localhost errno=", $m->connect_errno, "\n";
try {
    new PDO('mysql:host=localhost', 'root', '');
    echo "pdo localhost errno=0\n";
} catch (PDOException $e) {
    echo "pdo localhost errno=", $e->errorInfo[1] ?? $e->getCode(), "\n";
}
"#;

fn prepare(_side: Side, dir: &Path) -> Site {
    let root = dir.join("docroot");
    fs::create_dir_all(&root).unwrap();
    fs::write(root.join("socket.php"), SCRIPT).unwrap();
    Site::new(&root, dir.join("sessions"))
}

/// A path with its existing directories' links resolved (`/var/run` → `/run`).
fn resolve(path: &str) -> String {
    let p = Path::new(path);
    let mut existing = p;
    let mut rest = Vec::new();
    while !existing.exists() {
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_owned());
                existing = parent;
            }
            _ => return path.to_string(),
        }
    }
    let mut out: PathBuf = fs::canonicalize(existing).unwrap_or_else(|_| existing.to_path_buf());
    for name in rest.iter().rev() {
        out.push(name);
    }
    out.display().to_string()
}

fn flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let p = Browser::new(base).get("/socket.php");
    t.step("default socket", &p, 200);
    for line in p.text().lines() {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.ends_with("default_socket") {
            // Compared with the other server's, not with a fixed path: php-fpm's value
            // comes from its php.ini, which the reference stack decides.
            t.fact(&format!("{key}={}", resolve(value)));
        } else {
            t.fact(line);
        }
    }
    t
}

#[test]
fn localhost_means_debians_default_mysql_socket_like_php_fpm() {
    run_on_both("mysql-socket", prepare, flow);
}
