//! Runs one app flow against both servers — nginx + php-fpm (Debian's, the reference) and
//! uring_php — each on its own copy of the app, and checks that both give the same
//! outcomes: status, redirect target, content type, the cookies set, and the facts each
//! flow records (what proves a step worked).

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use crate::browser::Page;
use crate::common::reference::ReferenceStack;
use crate::common::server::TestServer;

/// PHP workers on each side: the flows make one request at a time, but some apps call
/// themselves back over HTTP while a request runs (WordPress's install checks its
/// permalinks that way).
const WORKERS: usize = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// nginx + php-fpm.
    Reference,
    UringPhp,
}

impl Side {
    pub const BOTH: [Side; 2] = [Side::Reference, Side::UringPhp];

    pub fn name(self) -> &'static str {
        match self {
            Side::Reference => "nginx+php-fpm",
            Side::UringPhp => "uring_php",
        }
    }

    /// A short name for paths and database names.
    pub fn tag(self) -> &'static str {
        match self {
            Side::Reference => "fpm",
            Side::UringPhp => "uring",
        }
    }
}

/// How an app is served. Both servers get the same: docroot, front controller or not,
/// a private session directory, and the app's own php.ini lines (if any). Everything else
/// is each server's default.
pub struct Site {
    pub docroot: PathBuf,
    /// Every path that is neither a file nor a directory with an index runs /index.php
    /// (nginx: `try_files $uri $uri/ /index.php$is_args$args`).
    pub front_controller: bool,
    pub ini: Vec<(String, String)>,
    pub sessions: PathBuf,
}

impl Site {
    pub fn new(docroot: impl Into<PathBuf>, sessions: impl Into<PathBuf>) -> Site {
        Site {
            docroot: docroot.into(),
            front_controller: false,
            ini: Vec::new(),
            sessions: sessions.into(),
        }
    }

    pub fn front_controller(mut self) -> Site {
        self.front_controller = true;
        self
    }

    pub fn ini(mut self, key: &str, value: &str) -> Site {
        self.ini.push((key.to_string(), value.to_string()));
        self
    }
}

/// A running server for one side.
pub enum Server {
    Reference(ReferenceStack),
    UringPhp(TestServer),
}

impl Server {
    pub fn start(side: Side, site: &Site) -> Server {
        std::fs::create_dir_all(&site.sessions).unwrap();
        match side {
            Side::Reference => {
                let mut b = ReferenceStack::builder(&site.docroot)
                    .workers(WORKERS)
                    .front_controller(site.front_controller)
                    .session_save_path(&site.sessions);
                for (k, v) in &site.ini {
                    b = b.php_ini(k, v);
                }
                Server::Reference(b.start())
            }
            Side::UringPhp => {
                let docroot = std::fs::canonicalize(&site.docroot).unwrap();
                let mut b = TestServer::builder(&docroot)
                    .env("PHP_WORKERS", WORKERS.to_string())
                    .env("PHP_INI_SESSION__SAVE_PATH", &site.sessions);
                if site.front_controller {
                    b = b.env("INDEX_FILE", "index.php");
                }
                for (k, v) in &site.ini {
                    b = b.env(&ini_env_name(k), v);
                }
                Server::UringPhp(b.start())
            }
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base_url(&self) -> String {
        match self {
            Server::Reference(s) => s.base_url(),
            Server::UringPhp(s) => s.base_url(),
        }
    }

    pub fn logs(&self) -> String {
        match self {
            Server::Reference(s) => {
                format!("{}\n--- PHP error log ---\n{}", s.logs(), s.php_error_log())
            }
            Server::UringPhp(s) => s.log(),
        }
    }
}

/// `session.save_path` → `PHP_INI_SESSION__SAVE_PATH` (docs/php.md).
fn ini_env_name(key: &str) -> String {
    format!("PHP_INI_{}", key.to_ascii_uppercase().replace('.', "__"))
}

/// What one step of a flow showed; two sides must record equal steps.
#[derive(Clone, PartialEq, Eq)]
pub struct Step {
    pub name: String,
    pub status: u16,
    /// `Location`, with the side's own base URL replaced by `{base}`.
    pub location: Option<String>,
    /// The media type, without parameters.
    pub content_type: Option<String>,
    /// The cookies set, without values (see `Page::set_cookies`), 32-hex-digit parts
    /// (hashes of the site URL) as `{hash}`.
    pub cookies: Vec<String>,
    /// What the flow found in the response (normalised the same way).
    pub facts: Vec<String>,
}

impl fmt::Debug for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.status)?;
        if let Some(l) = &self.location {
            write!(f, " -> {l}")?;
        }
        if let Some(c) = &self.content_type {
            write!(f, " [{c}]")?;
        }
        if !self.cookies.is_empty() {
            write!(f, " cookies={:?}", self.cookies)?;
        }
        if !self.facts.is_empty() {
            write!(f, " facts={:?}", self.facts)?;
        }
        Ok(())
    }
}

/// The steps of one flow on one side.
pub struct Transcript {
    pub side: Side,
    base: String,
    /// Side-specific strings (database names) and what they read as in the comparison.
    aliases: Vec<(String, String)>,
    pub steps: Vec<Step>,
}

impl Transcript {
    pub fn new(side: Side, base: &str) -> Transcript {
        Transcript {
            side,
            base: base.trim_end_matches('/').to_string(),
            aliases: Vec::new(),
            steps: Vec::new(),
        }
    }

    /// Records `page` as step `name`, after checking its status (a mismatch fails the flow
    /// on this side with the response shown).
    pub fn step(&mut self, name: &str, page: &Page, want_status: u16) -> &mut Self {
        assert_eq!(
            page.status,
            want_status,
            "{} on {}: status {} (want {want_status}); Location: {:?}; body: {}",
            name,
            self.side.name(),
            page.status,
            page.header("location"),
            crate::browser::preview(&page.text())
        );
        let mut cookies: Vec<String> = page
            .set_cookies()
            .iter()
            .map(|c| normalize_hashes(c))
            .collect();
        cookies.sort();
        cookies.dedup();
        let step = Step {
            name: name.to_string(),
            status: page.status,
            location: page.header("location").map(|l| self.normalize(l)),
            content_type: page.header("content-type").map(|c| {
                c.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .to_ascii_lowercase()
            }),
            cookies,
            facts: Vec::new(),
        };
        self.steps.push(step);
        self
    }

    /// Asserts `cond` for the last step and records `fact` on it.
    pub fn check(&mut self, cond: bool, fact: &str, page: &Page) -> &mut Self {
        let step = self
            .steps
            .last()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        assert!(
            cond,
            "{step} on {}: expected {fact}; status {}; body: {}",
            self.side.name(),
            page.status,
            crate::browser::preview(&page.text())
        );
        self.fact(fact)
    }

    /// Asserts that the page's text contains `needle`, and records it.
    pub fn contains(&mut self, page: &Page, needle: &str) -> &mut Self {
        let fact = format!("contains {needle:?}");
        self.check(page.text().contains(needle), &fact, page)
    }

    /// For a redirect whose target differs between the servers by design (documented in
    /// docs/php-compatibility.md): leaves the Location out of the comparison and records
    /// `fact` instead.
    pub fn location_differs(&mut self, fact: &str) -> &mut Self {
        self.steps.last_mut().expect("a step first").location = None;
        self.fact(fact)
    }

    /// Records a fact (normalised) on the last step.
    pub fn fact(&mut self, fact: &str) -> &mut Self {
        let f = normalize_hashes(&self.normalize(fact));
        self.steps.last_mut().expect("a step first").facts.push(f);
        self
    }

    /// `real`, a string only this side has (its database's name), reads as `alias`.
    pub fn alias(&mut self, real: &str, alias: &str) -> &mut Self {
        self.aliases.push((real.to_string(), alias.to_string()));
        self
    }

    fn normalize(&self, s: &str) -> String {
        let escaped = self.base.replace('/', "\\/");
        let mut s = s.replace(&self.base, "{base}").replace(&escaped, "{base}");
        for (real, alias) in &self.aliases {
            s = s.replace(real, alias);
        }
        s
    }
}

/// Replaces runs of exactly 32 hex digits (md5s of a site URL in cookie names) with `{hash}`.
fn normalize_hashes(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = String::new();
    let mut i = 0;
    while i < b.len() {
        let run = b[i..].iter().take_while(|c| c.is_ascii_hexdigit()).count();
        if run == 32 {
            out.push_str("{hash}");
            i += run;
        } else if run > 0 {
            out.push_str(&s[i..i + run]);
            i += run;
        } else {
            let c = s[i..].chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    out
}

/// Runs `flow` on both sides: `prepare` makes each side's copy of the app (in its own
/// directory) and says how to serve it. Panics when a side fails a step (with that
/// server's log) or when the two transcripts differ.
pub fn run_on_both<P, F>(app: &str, prepare: P, flow: F)
where
    P: Fn(Side, &Path) -> Site,
    F: Fn(Side, &str) -> Transcript,
{
    let tmp = tempfile::Builder::new()
        .prefix(&format!("uring_php-app-{app}-"))
        .tempdir()
        .unwrap();
    let mut transcripts = Vec::new();
    for side in Side::BOTH {
        let dir = tmp.path().join(side.tag());
        std::fs::create_dir_all(&dir).unwrap();
        let site = prepare(side, &dir);
        let server = Server::start(side, &site);
        let base = server.base_url();
        match panic::catch_unwind(AssertUnwindSafe(|| flow(side, &base))) {
            Ok(t) => transcripts.push(t),
            Err(e) => {
                eprintln!(
                    "--- {app} on {} failed; server log ---\n{}",
                    side.name(),
                    server.logs()
                );
                panic::resume_unwind(e);
            }
        }
    }
    assert_same(app, &transcripts[0], &transcripts[1]);
}

fn assert_same(app: &str, a: &Transcript, b: &Transcript) {
    let n = a.steps.len().max(b.steps.len());
    let mut diffs = Vec::new();
    for i in 0..n {
        match (a.steps.get(i), b.steps.get(i)) {
            (Some(x), Some(y)) if x == y => {}
            (x, y) => diffs.push(format!(
                "step {i}:\n  {}: {x:?}\n  {}: {y:?}",
                a.side.name(),
                b.side.name()
            )),
        }
    }
    assert!(
        diffs.is_empty(),
        "{app}: the two servers differ in {} step(s):\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}
