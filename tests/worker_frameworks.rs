//! Worker mode with real frameworks from Debian's packages: a Symfony 5.4 app run by a
//! worker runtime written as runtime/frankenphp-symfony is (tests/apps/worker-symfony,
//! APP_RUNTIME=App\Runtime\WorkerRuntime, its unchanged public/index.php as the worker
//! script), and a Laravel 8 app with a worker script written as Octane's FrankenPHP worker
//! is (tests/apps/worker-laravel/public/worker.php). Each answers as in classic mode, keeps
//! sessions, CSRF tokens and flash messages per client, and is booted once.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::http_client::{get, post, RawResponse};
use common::metrics::metric;
use common::server::TestServer;
use common::wait::eventually;

struct App {
    _dir: tempfile::TempDir,
    public: PathBuf,
    sessions: PathBuf,
}

/// A private copy of tests/apps/`name` (the apps write caches and sessions).
fn app(name: &str, writable: &[&str]) -> App {
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/apps")
        .join(name);
    let dir = tempfile::tempdir().unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(&src)
        .arg(dir.path().join("app"))
        .status()
        .unwrap();
    assert!(status.success());
    let root = dir.path().join("app");
    for w in writable {
        std::fs::create_dir_all(root.join(w)).unwrap();
    }
    let sessions = dir.path().join("sessions");
    std::fs::create_dir_all(&sessions).unwrap();
    App {
        public: root.join("public"),
        sessions,
        _dir: dir,
    }
}

fn server(app: &App, worker: Option<(&str, &[(&str, &str)])>) -> TestServer {
    let mut b = TestServer::builder(&app.public)
        .env("INDEX_FILE", "index.php")
        .env("PHP_WORKERS", "2")
        .env("PHP_INI_SESSION__SAVE_PATH", &app.sessions)
        .env("INTERNAL_ADDR", "127.0.0.1:0");
    if let Some((script, env)) = worker {
        b = b.env("WORKER_SCRIPT", script).env("WORKER_COUNT", "2");
        for (k, v) in env {
            b = b.env(k, v);
        }
    }
    let s = b.start();
    if worker.is_some() {
        let internal = s.internal_addr();
        eventually("the worker scripts to boot", || {
            metric(&internal, "uring_php_worker_mode_ready", &[]) == 2.0
        });
    }
    s
}

/// A client with its own cookies.
struct Client {
    addr: String,
    cookies: Vec<(String, String)>,
}

impl Client {
    fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_string(),
            cookies: Vec::new(),
        }
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, r: &RawResponse) {
        for c in r.header_all("Set-Cookie") {
            let pair = c.split(';').next().unwrap_or("");
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies.retain(|(n, _)| n != k);
                if v != "deleted" && !v.is_empty() {
                    self.cookies.push((k.to_string(), v.to_string()));
                }
            }
        }
    }

    fn get(&mut self, path: &str) -> RawResponse {
        let cookie = self.cookie_header();
        let headers: Vec<(&str, &str)> = if cookie.is_empty() {
            vec![]
        } else {
            vec![("Cookie", cookie.as_str())]
        };
        let r = get(&self.addr, path, &headers);
        self.keep(&r);
        r
    }

    fn post(&mut self, path: &str, form: &[(&str, &str)]) -> RawResponse {
        let body = form
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
            .collect::<Vec<_>>()
            .join("&");
        let cookie = self.cookie_header();
        let r = post(
            &self.addr,
            path,
            "application/x-www-form-urlencoded",
            body.as_bytes(),
            &[("Cookie", cookie.as_str())],
        );
        self.keep(&r);
        r
    }
}

fn csrf_token(html: &str) -> String {
    let i = html.find("name=\"_token\"").expect("a _token field");
    let rest = &html[i..];
    let v = rest.find("value=\"").expect("a value") + 7;
    rest[v..v + rest[v..].find('"').unwrap()].to_string()
}

/// Two clients interleaved: sessions, CSRF and flash messages stay with their client.
fn flow(addr: &str, framework: &str, forged_status: u16) {
    let mut a = Client::new(addr);
    let mut b = Client::new(addr);
    for n in 1..=3 {
        let r = a.get("/");
        assert_eq!(r.status, 200, "{}", r.body_str());
        assert!(
            r.body_str()
                .contains(&format!("Visits in this session: {n}")),
            "{}",
            r.body_str()
        );
        let r = b.get("/");
        assert!(
            r.body_str()
                .contains(&format!("Visits in this session: {n}")),
            "client b: {}",
            r.body_str()
        );
    }
    let token_a = csrf_token(&a.get("/contact").body_str());
    let token_b = csrf_token(&b.get("/contact").body_str());
    assert_ne!(token_a, token_b, "each session has its own CSRF token");
    let forged = b.post("/contact", &[("_token", &token_a), ("name", "Mallory")]);
    assert_eq!(forged.status, forged_status, "a's token is not b's");
    let r = a.post("/contact", &[("_token", &token_a), ("name", "Ada")]);
    assert_eq!(r.status, 302, "{}", r.body_str());
    let thanks_b = b.get("/contact/thanks");
    assert!(
        !thanks_b.body_str().contains("Thanks, Ada!"),
        "a's flash is not b's"
    );
    let thanks_a = a.get("/contact/thanks");
    assert!(
        thanks_a.body_str().contains("Thanks, Ada!"),
        "{}",
        thanks_a.body_str()
    );
    let again = a.get("/contact/thanks");
    assert!(
        !again.body_str().contains("Thanks, Ada!"),
        "a flash is shown once"
    );
    let hello = Client::new(addr).get("/hello/bench");
    assert!(hello
        .body_str()
        .contains(&format!("Hello, bench! ({framework}")));
    assert!(hello.header_all("Set-Cookie").is_empty());
}

fn pages(addr: &str) -> (String, String) {
    let hello = get(addr, "/hello/bench", &[]);
    assert_eq!(hello.status, 200);
    let items = get(addr, "/api/items/3", &[]);
    assert_eq!(items.status, 200);
    assert!(items
        .header("Content-Type")
        .unwrap()
        .starts_with("application/json"));
    (hello.body_str(), items.body_str())
}

fn booted_once(s: &TestServer, served_at_least: f64) {
    let internal = s.internal_addr();
    let served: f64 = (0..2)
        .map(|w| {
            metric(
                &internal,
                "uring_php_worker_mode_requests_total",
                &[("worker", &w.to_string())],
            )
        })
        .sum();
    assert!(
        served >= served_at_least,
        "the worker served them: {served}"
    );
    let restarts = metric(&internal, "uring_php_worker_mode_restarts_total", &[]);
    assert_eq!(restarts, 0.0, "each script booted once:\n{}", s.log());
}

#[test]
fn symfony_runs_in_worker_mode_as_in_classic_mode() {
    let writable = ["var"];
    let classic_app = app("worker-symfony", &writable);
    let classic = server(&classic_app, None);
    let want = pages(&classic.addr());

    let worker_app = app("worker-symfony", &writable);
    let s = server(
        &worker_app,
        Some((
            "index.php",
            &[("APP_RUNTIME", "App\\Runtime\\WorkerRuntime")],
        )),
    );
    assert_eq!(pages(&s.addr()), want);
    flow(&s.addr(), "Symfony 5.4", 403);
    booted_once(&s, 15.0);
}

#[test]
fn laravel_runs_in_worker_mode_as_in_classic_mode() {
    let writable = [
        "bootstrap/cache",
        "storage/framework/sessions",
        "storage/framework/views",
        "storage/framework/cache",
        "storage/logs",
    ];
    let classic_app = app("worker-laravel", &writable);
    let classic = server(&classic_app, None);
    let want = pages(&classic.addr());

    let worker_app = app("worker-laravel", &writable);
    let s = server(&worker_app, Some(("worker.php", &[])));
    assert_eq!(pages(&s.addr()), want);
    flow(&s.addr(), "Laravel 8", 419);
    booted_once(&s, 15.0);
}
