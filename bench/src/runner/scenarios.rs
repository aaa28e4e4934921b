//! The peers and the scenarios, and how to tell a correct answer.

use super::apps::App;
use super::mode::Mode;
use super::probe::Answer;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    Uring,
    /// The same server built against PHP 8.2 (the default build is 8.4).
    Uring82,
    UringEpoll,
    Hyper,
    NginxFpm,
    PhpServer,
    UringStub,
    /// uring_php with its response cache on (RESPONSE_CACHE_SIZE, RESPONSE_CACHE_TTL).
    UringCache,
    /// nginx + php-fpm with fastcgi_cache as WordPress guides set it up.
    NginxCache,
}

impl Peer {
    pub const ALL: [Peer; 9] = [
        Peer::Uring,
        Peer::Uring82,
        Peer::UringEpoll,
        Peer::Hyper,
        Peer::NginxFpm,
        Peer::PhpServer,
        Peer::UringStub,
        Peer::UringCache,
        Peer::NginxCache,
    ];

    /// Name on the command line and in results.csv.
    pub fn key(self) -> &'static str {
        match self {
            Peer::Uring => "uring",
            Peer::Uring82 => "uring-8.2",
            Peer::UringEpoll => "uring-epoll",
            Peer::Hyper => "hyper",
            Peer::NginxFpm => "nginx-fpm",
            Peer::PhpServer => "php-s",
            Peer::UringStub => "uring-stub",
            Peer::UringCache => "uring-cache",
            Peer::NginxCache => "nginx-cache",
        }
    }

    /// Name in RESULTS.md and the plots.
    pub fn label(self) -> &'static str {
        match self {
            Peer::Uring => "uring_php (io_uring)",
            Peer::Uring82 => "uring_php on PHP 8.2 (io_uring)",
            Peer::UringEpoll => "uring_php (epoll)",
            Peer::Hyper => "hyper variant",
            Peer::NginxFpm => "nginx + php-fpm",
            Peer::PhpServer => "php -S",
            Peer::UringStub => "uring_php EXECUTOR=stub",
            Peer::UringCache => "uring_php + response cache",
            Peer::NginxCache => "nginx fastcgi_cache + php-fpm",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Peer::Uring => "the server under test, IO_DRIVER=io-uring",
            Peer::Uring82 => {
                "the same server built against PHP 8.2 (`PHP_VERSION=8.2 scripts/build-php.sh`, target/php8.2), IO_DRIVER=io-uring: \
                 beside php8.2-fpm it tells the server's share from PHP's"
            }
            Peer::UringEpoll => "the same binary forced onto monoio's epoll driver (IO_DRIVER=epoll)",
            Peer::Hyper => {
                "bench/src/hyper_variant: uring_php's PHP engine, queue and workers behind tokio (multi-thread) + hyper 1"
            }
            Peer::NginxFpm => "Debian's nginx (FastCGI over a unix socket) + Debian's php-fpm (NTS), pm = static",
            Peer::PhpServer => "Debian's PHP CLI built-in server: single-threaded, one request at a time",
            Peer::UringStub => "uring_php with EXECUTOR=stub: PHP routes answered without PHP (the HTTP layer alone)",
            Peer::UringCache => "uring_php (io_uring) with RESPONSE_CACHE_SIZE=256M, RESPONSE_CACHE_TTL=60m (default bypass cookies)",
            Peer::NginxCache => {
                "nginx-fpm plus fastcgi_cache as WordPress guides configure it: keys_zone 100m, key $scheme$request_method$host$request_uri, fastcgi_cache_valid 200 60m, cache_lock, use_stale, skip on POST, query strings, wp-admin/wp-*.php URLs and WordPress's login/comment cookies"
            }
        }
    }

    pub fn from_key(s: &str) -> Option<Peer> {
        Peer::ALL.into_iter().find(|p| p.key() == s)
    }

    pub fn runs_php(self) -> bool {
        self != Peer::UringStub
    }

    /// Peers in the same process family as uring_php (they take CPU_AFFINITY).
    pub fn takes_cpu_affinity(self) -> bool {
        matches!(
            self,
            Peer::Uring
                | Peer::Uring82
                | Peer::UringEpoll
                | Peer::UringStub
                | Peer::Hyper
                | Peer::UringCache
        )
    }
}

#[derive(Clone, Copy, Debug)]
pub struct H2 {
    pub connections: &'static [usize],
    pub streams: usize,
}

pub struct Scenario {
    pub key: &'static str,
    pub title: &'static str,
    pub path: &'static str,
    /// POSTs the API body (through bench/wrk/post.lua).
    pub post: bool,
    /// HTTP/2 over cleartext (prior knowledge) with h2load instead of wrk, at these
    /// connections only, each with this many concurrent streams.
    pub h2: Option<H2>,
    pub peers: &'static [Peer],
    pub describe: &'static str,
    /// A real application's page, served from that app's own site (bench/src/runner/apps.rs)
    /// instead of bench/php.
    pub app: Option<App>,
    /// Runs at these connection counts only, whatever --conns says.
    pub conns: Option<&'static [usize]>,
    /// Runs in these modes only.
    pub modes: Option<&'static [Mode]>,
}

const PHP_PEERS: &[Peer] = &[
    Peer::Uring,
    Peer::Uring82,
    Peer::UringEpoll,
    Peer::Hyper,
    Peer::NginxFpm,
];
const STATIC_PEERS: &[Peer] = &[Peer::Uring, Peer::UringEpoll, Peer::Hyper, Peer::NginxFpm];

/// The real applications: 4 PHP workers on each side (shared mode, 2 CPUs × 2), as in
/// issue 12, at 16 and 64 connections, against nginx + php-fpm only.
const APP_CONNS: &[usize] = &[16, 64];
const APP_MODES: &[Mode] = &[Mode::Shared];
const APP_PEERS: &[Peer] = &[Peer::Uring, Peer::NginxFpm];

const fn app(
    key: &'static str,
    title: &'static str,
    path: &'static str,
    app: App,
    describe: &'static str,
) -> Scenario {
    Scenario {
        key,
        title,
        path,
        post: false,
        h2: None,
        peers: APP_PEERS,
        describe,
        app: Some(app),
        conns: Some(APP_CONNS),
        modes: Some(APP_MODES),
    }
}

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        key: "hello",
        title: "hello.php",
        path: "/hello.php",
        post: false,
        h2: None,
        peers: &[Peer::Uring, Peer::Uring82, Peer::UringEpoll, Peer::Hyper, Peer::NginxFpm, Peer::PhpServer, Peer::UringStub],
        describe: "`echo \"Hello, World!\"`: the cost of a PHP request itself",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "page",
        title: "realistic page",
        path: "/page.php",
        post: false,
        h2: None,
        peers: &[Peer::Uring, Peer::Uring82, Peer::UringEpoll, Peer::Hyper, Peer::NginxFpm, Peer::PhpServer],
        describe: "page.php: an autoloader pulls in 23 class files, a small kernel builds a catalog of 120 objects, sorts, filters and renders ~20 KiB of HTML",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "api",
        title: "JSON API, 10 KiB POST",
        path: "/api.php",
        post: true,
        h2: None,
        peers: PHP_PEERS,
        describe: "api.php: a 10 KiB JSON POST body read from php://input, decoded, aggregated, answered as JSON",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "static-1k",
        title: "static file, 1 KiB",
        path: "/static/1k.txt",
        post: false,
        h2: None,
        peers: STATIC_PEERS,
        describe: "static/1k.txt",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "static-100k",
        title: "static file, 100 KiB",
        path: "/static/100k.txt",
        post: false,
        h2: None,
        peers: STATIC_PEERS,
        describe: "static/100k.txt",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "cached-page",
        title: "realistic page, response cache",
        path: "/page.php",
        post: false,
        h2: None,
        peers: &[Peer::UringCache, Peer::NginxCache, Peer::Uring, Peer::NginxFpm],
        describe: "page.php (~20 KiB, no caching headers, like WordPress's front page) with each server's page cache on (60 min TTL, as fastcgi_cache_valid) and, for reference, both uncached",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "cache-miss",
        title: "hello.php never storable, response cache on",
        path: "/uncacheable.php",
        post: false,
        h2: None,
        peers: &[Peer::Uring, Peer::UringCache],
        describe: "uncacheable.php (hello.php with Cache-Control: private): every request takes the cache's miss path (lookup, coalescing, refused store) — its cost against the cache off",
        app: None,
        conns: None,
        modes: None,
    },
    Scenario {
        key: "h2-hello",
        title: "hello.php over h2c, 10 streams per connection",
        path: "/hello.php",
        post: false,
        h2: Some(H2 { connections: &[16], streams: 10 }),
        peers: &[Peer::Uring, Peer::Hyper, Peer::NginxFpm],
        describe: "hello.php over HTTP/2 (cleartext, prior knowledge), h2load -c16 -m10 (issue 4); a peer without h2c is left out",
        app: None,
        conns: None,
        modes: None,
    },
    app("wordpress", "WordPress 6.1 front page", "/", App::WordPress,
        "Debian's WordPress 6.1 (theme twentytwentythree) on MariaDB: the front page with ten posts, anonymous"),
    Scenario {
        key: "wordpress-cached",
        title: "WordPress front page, page cache",
        path: "/",
        post: false,
        h2: None,
        peers: &[Peer::UringCache, Peer::NginxCache, Peer::Uring, Peer::NginxFpm],
        describe: "the WordPress front page (anonymous) with each server's page cache on (60 min TTL, as fastcgi_cache_valid; WordPress's usual bypass cookies) and, for reference, both uncached (issue 17)",
        app: Some(App::WordPress),
        conns: Some(APP_CONNS),
        modes: None,
    },
    app("mediawiki", "MediaWiki 1.39 main page", "/index.php?title=Main_Page", App::MediaWiki,
        "Debian's MediaWiki 1.39 on SQLite: the main page, anonymous"),
    app("dokuwiki", "DokuWiki start page", "/doku.php", App::DokuWiki,
        "Debian's DokuWiki: the start page (Debian's welcome text), anonymous (DokuWiki starts a session)"),
    app("phpmyadmin", "phpMyAdmin 5.2 login page", "/index.php", App::PhpMyAdmin,
        "Debian's phpMyAdmin 5.2: the login page an anonymous visitor gets (a session)"),
    app("adminer", "Adminer 4.8 login page", "/", App::Adminer,
        "Debian's Adminer 4.8 as Debian serves it (/etc/adminer/conf.php): the login page (a session)"),
    app("symfony", "Symfony 5.4 page", "/hello/bench", App::Symfony,
        "tests/apps/symfony, built from Debian's php-symfony-* packages: a Twig page through the full kernel, no session"),
    app("laravel", "Laravel 8 page", "/hello/bench", App::Laravel,
        "tests/apps/laravel, built from Debian's php-laravel-framework: a Blade page through the HTTP kernel, no session"),
];

pub fn scenario(key: &str) -> Option<&'static Scenario> {
    SCENARIOS.iter().find(|s| s.key == key)
}

/// Items in the API body; the body is padded to exactly [`API_BODY_LEN`] bytes.
pub const API_ITEMS: usize = 100;
pub const API_BODY_LEN: usize = 10 * 1024;

/// The JSON document the API scenario posts: deterministic, exactly 10 KiB.
pub fn api_body() -> Vec<u8> {
    let tags = ["new", "sale", "eco", "handmade", "bestseller", "gift"];
    let mut items = Vec::with_capacity(API_ITEMS);
    for i in 0..API_ITEMS {
        items.push(format!(
            "{{\"id\":{i},\"name\":\"item-{i:04}\",\"price\":{}.{:02},\"qty\":{},\"tags\":[\"{}\",\"{}\"]}}",
            5 + (i * 37) % 200,
            (i * 13) % 100,
            1 + i % 4,
            tags[i % tags.len()],
            tags[(i * 5 + 1) % tags.len()],
        ));
    }
    let mut body = format!("{{\"items\":[{}],\"pad\":\"", items.join(","));
    let tail = "\"}";
    let pad = API_BODY_LEN.saturating_sub(body.len() + tail.len());
    body.push_str(&"x".repeat(pad));
    body.push_str(tail);
    body.into_bytes()
}

/// Whether `a` is the right answer for `s` (so no error page is ever measured).
pub fn check(s: &Scenario, a: &Answer) -> Result<(), String> {
    if let Some(app) = s.app {
        return super::apps::check(app, a);
    }
    if a.status != 200 {
        return Err(format!("status {} (body: {:.200})", a.status, a.text()));
    }
    let body = a.text();
    let ok = match s.key {
        "hello" | "h2-hello" | "cache-miss" => body == "Hello, World!",
        "page" | "cached-page" => {
            a.body.len() > 18 * 1024 && body.ends_with("</html>\n") && body.contains("data-id=")
        }
        "api" => {
            body.contains(&format!("\"count\":{API_ITEMS}"))
                && body.contains(&format!("\"bytes\":{API_BODY_LEN}"))
        }
        "static-1k" => a.body.len() == 1024,
        "static-100k" => a.body.len() == 100 * 1024,
        _ => true,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "unexpected body ({} bytes): {:.200}",
            a.body.len(),
            body
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_body_is_10_kib_of_json() {
        let b = api_body();
        assert_eq!(b.len(), API_BODY_LEN);
        let s = String::from_utf8(b).unwrap();
        assert!(s.starts_with("{\"items\":[{\"id\":0,"));
        assert!(s.ends_with("xx\"}"));
        assert_eq!(s.matches("\"id\":").count(), API_ITEMS);
    }

    #[test]
    fn keys_round_trip() {
        for p in Peer::ALL {
            assert_eq!(Peer::from_key(p.key()), Some(p));
        }
        assert!(scenario("hello").is_some() && scenario("nope").is_none());
    }
}
