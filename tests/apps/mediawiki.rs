//! MediaWiki 1.39 (Debian's `mediawiki`) on SQLite.
//!
//! Installed once per test process with MediaWiki's own installer (Debian's php8.2 CLI),
//! then copied per server. The docroot holds MediaWiki's entry points as one-line
//! wrappers that name this copy's LocalSettings.php (`MW_CONFIG_FILE`, MediaWiki's
//! supported way to keep the settings out of the code) and links to its static assets.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::browser::Browser;
use crate::sides::{run_on_both, Side, Site, Transcript};

const MW: &str = "/usr/share/mediawiki";
const PASSWORD: &str = "Mw-Admin-Passw0rd-long";
const PAGE: &str = "App_test_page";

/// An installed wiki (LocalSettings.php and the SQLite files) to copy from.
fn template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = tempfile::Builder::new()
            .prefix("uring_php-mediawiki-")
            .tempdir()
            .unwrap()
            .keep();
        let out = Command::new("php8.2")
            .arg(format!("{MW}/maintenance/install.php"))
            .args([
                "--dbtype=sqlite",
                "--dbname=wiki",
                "--server=http://127.0.0.1",
                "--scriptpath=",
                "--lang=en",
            ])
            .arg(format!("--dbpath={}", dir.join("data").display()))
            .arg(format!("--confpath={}", dir.display()))
            .arg(format!("--pass={PASSWORD}"))
            .args(["App Test Wiki", "Admin"])
            .output()
            .expect("run MediaWiki's install.php (scripts/install-apps.sh)");
        assert!(
            out.status.success(),
            "MediaWiki install failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The URL comes from each request (as with $wgServer unset in a plain install
        // behind a proxy), and the data directory sits next to the settings of each copy.
        let settings = dir.join("LocalSettings.php");
        let text = fs::read_to_string(&settings).unwrap();
        let text: String = text
            .lines()
            .map(|l| {
                if l.starts_with("$wgServer ") {
                    "$wgServer = WebRequest::detectServer();".to_string()
                } else if l.starts_with("$wgSQLiteDataDir ") {
                    "$wgSQLiteDataDir = __DIR__ . '/data';".to_string()
                } else {
                    l.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join("\n");
        fs::write(&settings, text).unwrap();
        dir
    })
}

pub fn prepare(_side: Side, dir: &Path) -> Site {
    let state = dir.join("wiki");
    crate::copy_tree(template(), &state);
    let root = dir.join("docroot");
    fs::create_dir_all(&root).unwrap();
    for entry in ["index", "api", "load", "rest"] {
        fs::write(
            root.join(format!("{entry}.php")),
            format!(
                "<?php\ndefine('MW_CONFIG_FILE', '{}');\nrequire '{MW}/{entry}.php';\n",
                state.join("LocalSettings.php").display()
            ),
        )
        .unwrap();
    }
    for assets in ["resources", "skins", "extensions"] {
        std::os::unix::fs::symlink(Path::new(MW).join(assets), root.join(assets)).unwrap();
    }
    Site::new(&root, dir.join("sessions"))
}

pub fn flow(side: Side, base: &str) -> Transcript {
    let mut t = Transcript::new(side, base);
    let b = Browser::new(base);

    let p = b.get("/index.php?title=Main_Page");
    t.step("main page", &p, 200)
        .contains(&p, "MediaWiki has been installed");
    // MediaWiki turns on /index.php/Title URLs unless PHP_SAPI contains "cgi" (its test
    // for "PATH_INFO may be broken"): php-fpm's "fpm-fcgi" gets ?title= URLs, uring_php's
    // PATH_INFO ones. Both work on both servers.
    let p = b.get("/");
    t.step("root", &p, 301)
        .location_differs("redirects to the main page, URL style by PHP_SAPI");
    let main = p.header("location").unwrap_or_default().to_string();
    let p = b.get(&main);
    t.step("main page by the redirect", &p, 200)
        .contains(&p, "MediaWiki has been installed");
    let p = b.get("/index.php/Main_Page");
    t.step("main page by PATH_INFO", &p, 200)
        .contains(&p, "MediaWiki has been installed");

    let p = b.get("/api.php?action=query&meta=tokens&type=login&format=json");
    t.step("login token", &p, 200);
    let login_token = p.json()["query"]["tokens"]["logintoken"]
        .as_str()
        .unwrap_or("")
        .to_string();
    t.check(login_token.ends_with("+\\"), "a login token", &p);
    let login_return = format!("{base}/");
    let p = b.post(
        "/api.php",
        &[
            ("action", "clientlogin"),
            ("format", "json"),
            ("username", "Admin"),
            ("password", PASSWORD),
            ("logintoken", &login_token),
            ("loginreturnurl", &login_return),
        ],
    );
    t.step("log in", &p, 200);
    let status = p.json()["clientlogin"]["status"]
        .as_str()
        .unwrap_or("")
        .to_string();
    t.check(status == "PASS", &format!("login {status}"), &p);

    let p = b.get("/api.php?action=query&meta=tokens&format=json");
    t.step("CSRF token", &p, 200);
    let csrf = p.json()["query"]["tokens"]["csrftoken"]
        .as_str()
        .unwrap_or("")
        .to_string();
    // The anonymous token is "+\": a longer one means the session is logged in.
    t.check(
        csrf.len() > 2 && csrf.ends_with("+\\"),
        "a user's CSRF token",
        &p,
    );

    let edit = |token: &str, text: &str, summary: &str| {
        b.post(
            "/api.php",
            &[
                ("action", "edit"),
                ("format", "json"),
                ("title", PAGE),
                ("text", text),
                ("summary", summary),
                ("token", token),
            ],
        )
    };
    let p = edit("+\\", "forged", "forged edit");
    t.step("edit with the anonymous token", &p, 200);
    let code = p.json()["error"]["code"].as_str().unwrap_or("").to_string();
    t.check(code == "badtoken", &format!("error {code}"), &p);

    let p = edit(&csrf, "First '''uring''' text, marker 4711.", "first edit");
    t.step("create page", &p, 200);
    let first = p.json();
    let result = first["edit"]["result"].as_str().unwrap_or("").to_string();
    t.check(result == "Success", &format!("edit {result}"), &p);
    let first_rev = first["edit"]["newrevid"].as_u64().unwrap_or(0);

    let p = edit(
        &csrf,
        "Second '''uring''' text, marker 4712.",
        "second edit",
    );
    t.step("edit page", &p, 200);
    let second = p.json();
    let old = second["edit"]["oldrevid"].as_u64().unwrap_or(0);
    t.check(old == first_rev, "the edit follows the first revision", &p);

    let p = b.get(&format!("/index.php?title={PAGE}"));
    t.step("page view", &p, 200)
        .contains(&p, "Second <b>uring</b> text, marker 4712.");
    let p = b.get(&format!("/index.php?title={PAGE}&action=history"));
    t.step("history", &p, 200)
        .contains(&p, "first edit")
        .contains(&p, "second edit");
    let p = b.get(&format!(
        "/api.php?action=query&prop=revisions&titles={PAGE}&rvlimit=10&rvprop=comment&format=json"
    ));
    t.step("revisions (API)", &p, 200);
    let pages = p.json()["query"]["pages"].clone();
    let revisions = pages
        .as_object()
        .and_then(|o| o.values().next())
        .and_then(|pg| pg["revisions"].as_array().map(|a| a.len()))
        .unwrap_or(0);
    t.check(revisions == 2, &format!("{revisions} revisions"), &p);
    let p = b.get(&format!("/index.php?title={PAGE}&oldid={first_rev}"));
    t.step("old revision", &p, 200)
        .contains(&p, "First <b>uring</b> text, marker 4711.");
    t
}

#[test]
fn mediawiki_edits_through_the_api_like_php_fpm() {
    run_on_both("mediawiki", prepare, flow);
}
