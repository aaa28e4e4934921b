//! Real applications from Debian's packages, driven like a user would with a browser
//! (curl with a cookie jar), on nginx + php-fpm and on uring_php, in the same test: each
//! step must succeed on both and give the same outcome (status, redirect, content type,
//! cookies, and the content that proves the step worked).
//!
//! Installed by scripts/install-apps.sh (scripts/test.sh runs it). Each app gets its own
//! writable copy and config in a temp dir per server; nothing under /usr/share, /etc or
//! /var/lib is written. MariaDB is a private instance (see `mariadb`).
//!
//! | app | flow |
//! |---|---|
//! | WordPress 6.1 (MariaDB) | install, log in, publish a post (REST, nonce), front page and post page, REST API, media upload |
//! | MediaWiki 1.39 (SQLite) | main page, API login, edit with a CSRF token (a wrong one refused), page view, history |
//! | DokuWiki | log in, edit, save, second revision, revisions list, old revision |
//! | phpMyAdmin 5.2 (MariaDB) | log in, browse a table, edit a row |
//! | Adminer 4.8 (MariaDB) | log in, run a query, browse a table |
//! | Symfony 5.4 (tests/apps/symfony) | route, session, form POST with CSRF (a wrong token refused), flash + redirect, 301, 404 |
//! | Laravel 8 (tests/apps/laravel) | route, session, form POST with CSRF (419 without), validation, flash + redirect, 301, 404 |

#[path = "../common/mod.rs"]
mod common;

mod browser;
mod form;
mod mariadb;
mod sides;

mod adminer;
mod dokuwiki;
mod frameworks;
mod mediawiki;
mod mysql_socket;
mod phpmyadmin;
mod wordpress;

use std::path::Path;
use std::process::Command;

/// `cp -a src dst`: symlinks stay symlinks (Debian's packages point into /etc and
/// /usr/share/javascript), and it is much faster than a copy file by file from here.
pub fn copy_tree(src: &Path, dst: &Path) {
    assert!(
        src.exists(),
        "{} is missing: run scripts/install-apps.sh",
        src.display()
    );
    let status = Command::new("cp")
        .arg("-a")
        .arg(src)
        .arg(dst)
        .status()
        .expect("run cp");
    assert!(
        status.success(),
        "cp -a {} {}",
        src.display(),
        dst.display()
    );
}

/// This repository's tests/apps/NAME.
pub fn repo_app(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps")
        .join(name)
}
