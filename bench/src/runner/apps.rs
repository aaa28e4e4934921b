//! The real applications of the app scenarios: Debian's WordPress, MediaWiki, DokuWiki,
//! phpMyAdmin, Adminer, and this repository's Symfony 5.4 and Laravel 8 apps
//! (tests/apps/), installed by scripts/install-apps.sh. Each is set up once per run in
//! the run's temp dir and served by every peer from that same copy (the scenarios are
//! anonymous page views, which change nothing the peers would see differently). The
//! tests in tests/apps/ drive the same apps through their flows.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::probe::Answer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum App {
    WordPress,
    MediaWiki,
    DokuWiki,
    PhpMyAdmin,
    Adminer,
    Symfony,
    Laravel,
}

/// How the peers serve one site.
#[derive(Clone, Debug)]
pub struct Site {
    /// Canonical, so every peer sees the same DOCUMENT_ROOT / SCRIPT_FILENAME.
    pub docroot: PathBuf,
    /// Every path that is not a file runs /index.php (INDEX_FILE; nginx: try_files).
    pub front_controller: bool,
    /// What a peer is probed with until it answers 200.
    pub ready_path: String,
}

impl Site {
    /// bench/php: the synthetic scenarios' document root.
    pub fn bench(docroot: PathBuf) -> Site {
        Site {
            docroot,
            front_controller: false,
            ready_path: "/hello.php".into(),
        }
    }
}

const REPO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const MARIADB_USER: &str = "app";
const MARIADB_PASSWORD: &str = "bench-secret-pw";

/// The sites prepared so far, and the MariaDB WordPress needs.
pub struct Apps {
    dir: PathBuf,
    sites: BTreeMap<App, Result<Site, String>>,
    mariadb: Option<(Child, PathBuf)>,
}

impl Apps {
    pub fn new(tmp: &Path) -> Apps {
        Apps {
            dir: tmp.join("apps"),
            sites: BTreeMap::new(),
            mariadb: None,
        }
    }

    /// The app's site, set up on first use.
    pub fn site(&mut self, app: App) -> Result<Site, String> {
        if let Some(s) = self.sites.get(&app) {
            return s.clone();
        }
        let r = self.prepare(app);
        if let Err(e) = &r {
            eprintln!("bench: cannot set up {app:?}: {e}");
        }
        self.sites.insert(app, r.clone());
        r
    }

    fn prepare(&mut self, app: App) -> Result<Site, String> {
        fs::create_dir_all(&self.dir).map_err(|e| e.to_string())?;
        let dir = self.dir.clone();
        let site = match app {
            App::WordPress => {
                let socket = self.mariadb()?;
                wordpress(&dir, &socket)?
            }
            App::MediaWiki => mediawiki(&dir)?,
            App::DokuWiki => dokuwiki(&dir)?,
            App::PhpMyAdmin => phpmyadmin(&dir)?,
            App::Adminer => adminer(&dir)?,
            App::Symfony => framework(&dir, "symfony", &["var"])?,
            App::Laravel => framework(
                &dir,
                "laravel",
                &[
                    "bootstrap/cache",
                    "storage/framework/sessions",
                    "storage/framework/views",
                    "storage/framework/cache",
                    "storage/logs",
                ],
            )?,
        };
        Ok(Site {
            docroot: site
                .docroot
                .canonicalize()
                .map_err(|e| format!("{}: {e}", site.docroot.display()))?,
            ..site
        })
    }

    /// A private MariaDB (socket only) in the run's temp dir; its socket.
    fn mariadb(&mut self) -> Result<PathBuf, String> {
        if let Some((_, s)) = &self.mariadb {
            return Ok(s.clone());
        }
        let dir = self.dir.join("mariadb");
        fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let data = dir.join("data");
        let socket = dir.join("mysqld.sock");
        let root = nix::unistd::geteuid().is_root();
        let mut install = Command::new("/usr/bin/mariadb-install-db");
        install
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .args(["--auth-root-authentication-method=normal", "--skip-test-db"]);
        if root {
            install.arg("--user=root");
        }
        run(&mut install, "mariadb-install-db (scripts/install-apps.sh)")?;
        let log = fs::File::create(dir.join("mariadbd.log")).map_err(|e| e.to_string())?;
        let mut server = Command::new("/usr/sbin/mariadbd");
        server
            .arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--socket={}", socket.display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--tmpdir={}", dir.display()))
            .args([
                "--skip-networking",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=128M",
                "--character-set-server=utf8mb4",
                "--collation-server=utf8mb4_unicode_ci",
                "--max-connections=500",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(log));
        if root {
            server.arg("--user=root");
        }
        let child = server
            .spawn()
            .map_err(|e| format!("cannot start mariadbd: {e}"))?;
        self.mariadb = Some((child, socket.clone()));
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if UnixStream::connect(&socket).is_ok() && sql(&socket, "SELECT 1").is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err("mariadbd did not answer within 60 s".into());
            }
            thread::sleep(Duration::from_millis(50));
        }
        sql(
            &socket,
            &format!(
                "CREATE USER '{MARIADB_USER}'@'localhost' IDENTIFIED BY '{MARIADB_PASSWORD}'; \
                 GRANT ALL PRIVILEGES ON *.* TO '{MARIADB_USER}'@'localhost';"
            ),
        )?;
        Ok(socket)
    }
}

impl Drop for Apps {
    fn drop(&mut self) {
        if let Some((mut child, _)) = self.mariadb.take() {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn run(cmd: &mut Command, what: &str) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{what}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

fn sql(socket: &Path, sql: &str) -> Result<String, String> {
    run(
        Command::new("/usr/bin/mariadb")
            .arg("--no-defaults")
            .arg(format!("--socket={}", socket.display()))
            .args(["-uroot", "-N", "-B", "-e", sql]),
        "mariadb",
    )
}

fn copy_tree(src: &Path, dst: &Path) -> Result<(), String> {
    if !src.exists() {
        return Err(format!(
            "{} is missing: run scripts/install-apps.sh",
            src.display()
        ));
    }
    run(
        Command::new("cp").arg("-a").arg(src).arg(dst),
        &format!("cp -a {}", src.display()),
    )
    .map(|_| ())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// WordPress on MariaDB with ten posts; the front page is the scenario. The site's URL
/// follows the Host header (WP_HOME), so every peer, on its own port, serves the same
/// database without WordPress redirecting to another's.
fn wordpress(dir: &Path, socket: &Path) -> Result<Site, String> {
    sql(socket, "CREATE DATABASE wordpress")?;
    let root = dir.join("wordpress");
    copy_tree(Path::new("/usr/share/wordpress"), &root)?;
    fs::create_dir_all(root.join("wp-content/uploads")).map_err(|e| e.to_string())?;
    write(
        &root.join("wp-config.php"),
        &format!(
            r#"<?php
define('DB_NAME', 'wordpress');
define('DB_USER', '{MARIADB_USER}');
define('DB_PASSWORD', '{MARIADB_PASSWORD}');
define('DB_HOST', 'localhost:{socket}');
define('DB_CHARSET', 'utf8mb4');
define('DB_COLLATE', '');
foreach (['AUTH_KEY', 'SECURE_AUTH_KEY', 'LOGGED_IN_KEY', 'NONCE_KEY', 'AUTH_SALT', 'SECURE_AUTH_SALT', 'LOGGED_IN_SALT', 'NONCE_SALT'] as $k) {{
    define($k, 'bench-' . $k);
}}
define('WP_HOME', 'http://' . ($_SERVER['HTTP_HOST'] ?? 'localhost'));
define('WP_SITEURL', WP_HOME);
define('AUTOMATIC_UPDATER_DISABLED', true);
define('WP_AUTO_UPDATE_CORE', false);
define('DISABLE_WP_CRON', true);
$table_prefix = 'wp_';
if (!defined('ABSPATH')) {{
    define('ABSPATH', __DIR__ . '/');
}}
require_once ABSPATH . 'wp-settings.php';
"#,
            socket = socket.display()
        ),
    )?;
    let install = root.join("bench-install.php");
    write(
        &install,
        r#"<?php
$_SERVER['HTTP_HOST'] = 'localhost';
define('WP_INSTALLING', true);
require __DIR__ . '/wp-load.php';
require_once ABSPATH . 'wp-admin/includes/upgrade.php';
wp_install('Bench blog', 'admin', 'admin@example.com', true, '', 'bench-admin-password');
$words = explode(' ', 'the quick brown fox jumps over the lazy dog while a server answers requests in parallel');
for ($i = 1; $i <= 10; $i++) {
    $paragraphs = [];
    for ($p = 0; $p < 6; $p++) {
        $paragraphs[] = '<!-- wp:paragraph --><p>' . implode(' ', array_map(fn($k) => $words[($i * 7 + $p * 3 + $k) % count($words)], range(0, 60))) . '</p><!-- /wp:paragraph -->';
    }
    wp_insert_post([
        'post_title' => "Bench post $i",
        'post_content' => implode("\n", $paragraphs),
        'post_status' => 'publish',
        'post_date' => date('Y-m-d H:i:s', 1767225600 + $i * 3600),
    ]);
}
echo "installed\n";
"#,
    )?;
    let out = run(
        Command::new("php8.2").arg(&install).current_dir(&root),
        "WordPress install (php8.2)",
    )?;
    let _ = fs::remove_file(&install);
    if !out.contains("installed") {
        return Err(format!("WordPress install: {out}"));
    }
    // As WordPress's guide configures nginx (`try_files $uri $uri/ /index.php?$args`).
    Ok(Site {
        docroot: root,
        front_controller: true,
        ready_path: "/".into(),
    })
}

/// MediaWiki on SQLite, installed by its own installer; the main page is the scenario.
fn mediawiki(dir: &Path) -> Result<Site, String> {
    const MW: &str = "/usr/share/mediawiki";
    let state = dir.join("mediawiki-state");
    fs::create_dir_all(&state).map_err(|e| e.to_string())?;
    run(
        Command::new("php8.2")
            .arg(format!("{MW}/maintenance/install.php"))
            .args([
                "--dbtype=sqlite",
                "--dbname=wiki",
                "--server=http://localhost",
                "--scriptpath=",
                "--lang=en",
                "--pass=Bench-Admin-Passw0rd",
            ])
            .arg(format!("--dbpath={}", state.join("data").display()))
            .arg(format!("--confpath={}", state.display()))
            .args(["Bench Wiki", "Admin"]),
        "MediaWiki install (php8.2)",
    )?;
    let settings = state.join("LocalSettings.php");
    let text = fs::read_to_string(&settings).map_err(|e| e.to_string())?;
    let text: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with("$wgServer ") {
                "$wgServer = WebRequest::detectServer();".to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    write(&settings, &text.join("\n"))?;
    let root = dir.join("mediawiki");
    fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    for entry in ["index", "api", "load", "rest"] {
        write(
            &root.join(format!("{entry}.php")),
            &format!(
                "<?php\ndefine('MW_CONFIG_FILE', '{}');\nrequire '{MW}/{entry}.php';\n",
                settings.display()
            ),
        )?;
    }
    for assets in ["resources", "skins", "extensions"] {
        std::os::unix::fs::symlink(Path::new(MW).join(assets), root.join(assets))
            .map_err(|e| e.to_string())?;
    }
    Ok(Site {
        docroot: root,
        front_controller: false,
        ready_path: "/index.php?title=Main_Page".into(),
    })
}

/// DokuWiki with Debian's welcome page as its start page.
fn dokuwiki(dir: &Path) -> Result<Site, String> {
    let root = dir.join("dokuwiki");
    let conf = dir.join("dokuwiki-conf");
    let data = dir.join("dokuwiki-data");
    copy_tree(Path::new("/usr/share/dokuwiki"), &root)?;
    run(
        Command::new("cp").args(["-aL", "/etc/dokuwiki"]).arg(&conf),
        "cp -aL /etc/dokuwiki",
    )?;
    copy_tree(Path::new("/var/lib/dokuwiki/data"), &data)?;
    fs::copy(
        data.join("pages/wiki/welcome.txt"),
        data.join("pages/start.txt"),
    )
    .map_err(|e| format!("start page: {e}"))?;
    let _ = fs::remove_file(root.join(".htaccess"));
    write(
        &root.join("inc/preload.php"),
        &format!("<?php\ndefine('DOKU_CONF', '{}/');\n", conf.display()),
    )?;
    write(
        &conf.join("local.php"),
        &format!(
            "<?php\n$conf['title'] = 'Bench Wiki';\n$conf['savedir'] = '{}';\n\
             $conf['useacl'] = 1;\n$conf['superuser'] = '@admin';\n",
            data.display()
        ),
    )?;
    write(
        &conf.join("acl.auth.php"),
        "*               @ALL          1\n*               @user         8\n",
    )?;
    write(&conf.join("users.auth.php"), "")?;
    Ok(Site {
        docroot: root,
        front_controller: false,
        ready_path: "/doku.php".into(),
    })
}

/// phpMyAdmin's login page (what an anonymous visitor gets).
fn phpmyadmin(dir: &Path) -> Result<Site, String> {
    let root = dir.join("phpmyadmin");
    let tmp = dir.join("phpmyadmin-tmp");
    fs::create_dir_all(&tmp).map_err(|e| e.to_string())?;
    copy_tree(Path::new("/usr/share/phpmyadmin"), &root)?;
    let vendor = root.join("libraries/vendor_config.php");
    let text = fs::read_to_string(&vendor).map_err(|e| e.to_string())?;
    let config = dir.join("phpmyadmin-config.inc.php");
    let text = text
        .replace(
            "'/var/lib/phpmyadmin/tmp/'",
            &format!("'{}/'", tmp.display()),
        )
        .replace(
            "'/etc/phpmyadmin/config.inc.php'",
            &format!("'{}'", config.display()),
        );
    write(&vendor, &text)?;
    write(
        &config,
        &format!(
            "<?php\n$cfg['blowfish_secret'] = 'uring-php-bench-blowfish-secret-0';\n\
             $cfg['Servers'][1]['auth_type'] = 'cookie';\n$cfg['Servers'][1]['host'] = 'localhost';\n\
             $cfg['TempDir'] = '{}';\n$cfg['VersionCheck'] = false;\n",
            tmp.display()
        ),
    )?;
    Ok(Site {
        docroot: root,
        front_controller: false,
        ready_path: "/index.php".into(),
    })
}

/// Adminer's login page, served as Debian serves it (/etc/adminer/conf.php as the index).
fn adminer(dir: &Path) -> Result<Site, String> {
    let root = dir.join("adminer");
    fs::create_dir_all(&root).map_err(|e| e.to_string())?;
    fs::copy("/etc/adminer/conf.php", root.join("index.php"))
        .map_err(|e| format!("/etc/adminer/conf.php (scripts/install-apps.sh): {e}"))?;
    Ok(Site {
        docroot: root,
        front_controller: false,
        ready_path: "/".into(),
    })
}

/// tests/apps/NAME; its `/hello/bench` page renders a template without a session.
fn framework(dir: &Path, name: &str, writable: &[&str]) -> Result<Site, String> {
    let app = dir.join(name);
    copy_tree(&Path::new(REPO).join("tests/apps").join(name), &app)?;
    for d in writable {
        fs::create_dir_all(app.join(d)).map_err(|e| e.to_string())?;
    }
    Ok(Site {
        docroot: app.join("public"),
        front_controller: true,
        ready_path: "/hello/bench".into(),
    })
}

/// Whether `a` is the app's page (so no error page is ever measured).
pub fn check(app: App, a: &Answer) -> Result<(), String> {
    let body = a.text();
    let want: &[&str] = match app {
        App::WordPress => &["Bench post 10", "</html>"],
        App::MediaWiki => &["MediaWiki has been installed", "</html>"],
        App::DokuWiki => &["<title>start [Bench Wiki]</title>", "</html>"],
        App::PhpMyAdmin => &["id=\"login_form\"", "</html>"],
        App::Adminer => &["name=\"auth[username]\"", "<title>Login - Adminer</title>"],
        App::Symfony => &["Hello, bench! (Symfony 5.4.", "</html>"],
        App::Laravel => &["Hello, bench! (Laravel 8.", "</html>"],
    };
    if a.status == 200 && want.iter().all(|w| body.contains(w)) {
        Ok(())
    } else {
        Err(format!(
            "status {}, want 200 with {want:?} (body: {:.300})",
            a.status, body
        ))
    }
}
