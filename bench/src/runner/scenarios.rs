//! The peers and the scenarios, and how to tell a correct answer.

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
}

impl Peer {
    pub const ALL: [Peer; 7] = [
        Peer::Uring,
        Peer::Uring82,
        Peer::UringEpoll,
        Peer::Hyper,
        Peer::NginxFpm,
        Peer::PhpServer,
        Peer::UringStub,
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
            Peer::Uring | Peer::Uring82 | Peer::UringEpoll | Peer::UringStub | Peer::Hyper
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
}

const PHP_PEERS: &[Peer] = &[
    Peer::Uring,
    Peer::Uring82,
    Peer::UringEpoll,
    Peer::Hyper,
    Peer::NginxFpm,
];
const STATIC_PEERS: &[Peer] = &[Peer::Uring, Peer::UringEpoll, Peer::Hyper, Peer::NginxFpm];

pub const SCENARIOS: &[Scenario] = &[
    Scenario {
        key: "hello",
        title: "hello.php",
        path: "/hello.php",
        post: false,
        h2: None,
        peers: &[Peer::Uring, Peer::Uring82, Peer::UringEpoll, Peer::Hyper, Peer::NginxFpm, Peer::PhpServer, Peer::UringStub],
        describe: "`echo \"Hello, World!\"`: the cost of a PHP request itself",
    },
    Scenario {
        key: "page",
        title: "realistic page",
        path: "/page.php",
        post: false,
        h2: None,
        peers: &[Peer::Uring, Peer::Uring82, Peer::UringEpoll, Peer::Hyper, Peer::NginxFpm, Peer::PhpServer],
        describe: "page.php: an autoloader pulls in 23 class files, a small kernel builds a catalog of 120 objects, sorts, filters and renders ~20 KiB of HTML",
    },
    Scenario {
        key: "api",
        title: "JSON API, 10 KiB POST",
        path: "/api.php",
        post: true,
        h2: None,
        peers: PHP_PEERS,
        describe: "api.php: a 10 KiB JSON POST body read from php://input, decoded, aggregated, answered as JSON",
    },
    Scenario {
        key: "static-1k",
        title: "static file, 1 KiB",
        path: "/static/1k.txt",
        post: false,
        h2: None,
        peers: STATIC_PEERS,
        describe: "static/1k.txt",
    },
    Scenario {
        key: "static-100k",
        title: "static file, 100 KiB",
        path: "/static/100k.txt",
        post: false,
        h2: None,
        peers: STATIC_PEERS,
        describe: "static/100k.txt",
    },
    Scenario {
        key: "h2-hello",
        title: "hello.php over h2c, 10 streams per connection",
        path: "/hello.php",
        post: false,
        h2: Some(H2 { connections: &[16], streams: 10 }),
        peers: &[Peer::Uring, Peer::Hyper, Peer::NginxFpm],
        describe: "hello.php over HTTP/2 (cleartext, prior knowledge), h2load -c16 -m10 (issue 4); a peer without h2c is left out",
    },
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
    if a.status != 200 {
        return Err(format!("status {} (body: {:.200})", a.status, a.text()));
    }
    let body = a.text();
    let ok = match s.key {
        "hello" | "h2-hello" => body == "Hello, World!",
        "page" => {
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
