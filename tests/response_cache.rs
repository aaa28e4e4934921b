//! The response cache (RESPONSE_CACHE_SIZE; docs/response-cache.md), through the real
//! binary: what is stored and what never is, Vary, coalescing, stale answers, purges.
//!
//! The WordPress cases use a small app that sets WordPress's cookies the way WordPress
//! does (the real WordPress test setup lives on the `apps` branch, not yet on main).

mod common;

use std::path::Path;
use std::sync::Arc;

use common::http_client::{get, head, post, request, RawResponse};
use common::metrics::metric;
use common::server::TestServer;
use common::wait::eventually;

/// Counts the script's runs in a file (flock: PHP threads run concurrently).
const LIB: &str = r#"<?php
function bump(string $name): int {
    $h = fopen(__DIR__ . "/$name.count", 'c+');
    flock($h, LOCK_EX);
    $n = (int)stream_get_contents($h) + 1;
    ftruncate($h, 0);
    rewind($h);
    fwrite($h, (string)$n);
    flock($h, LOCK_UN);
    fclose($h);
    return $n;
}
function runs(string $name): int {
    return (int)@file_get_contents(__DIR__ . "/$name.count");
}
"#;

fn site(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lib.php"), LIB).unwrap();
    for (name, body) in files {
        std::fs::write(dir.path().join(name), body).unwrap();
    }
    dir
}

fn start(root: &Path, env: &[(&str, &str)]) -> TestServer {
    let mut b = TestServer::builder(root)
        .env("RESPONSE_CACHE_SIZE", "16M")
        .env("INTERNAL_ADDR", "127.0.0.1:0")
        .env("PHP_WORKERS", "4");
    for (k, v) in env {
        b = b.env(k, v);
    }
    b.start()
}

fn x_cache(r: &RawResponse) -> &str {
    r.header("X-Cache").unwrap_or("(none)")
}

fn runs(root: &Path, name: &str) -> u64 {
    std::fs::read_to_string(root.join(format!("{name}.count")))
        .map(|s| s.trim().parse().unwrap())
        .unwrap_or(0)
}

/// A page that answers like WordPress's front page: the same URL shows the anonymous
/// page, or the logged-in user's (admin bar) when WordPress's login cookie is there;
/// neither sends caching headers (RESPONSE_CACHE_TTL makes the anonymous one cacheable).
const WP_INDEX: &str = r#"<?php
require __DIR__ . '/lib.php';
$user = null;
foreach ($_COOKIE as $name => $value) {
    if (str_starts_with($name, 'wordpress_logged_in_')) {
        $user = explode('|', $value)[0];
    }
}
$n = bump('index');
if ($user !== null) {
    echo "<div id=\"wpadminbar\">Howdy, $user</div> run=$n";
} elseif (isset($_COOKIE['comment_author_abc'])) {
    echo "Welcome back, {$_COOKIE['comment_author_abc']} run=$n";
} else {
    echo "Hello, anonymous visitor run=$n";
}
"#;

#[test]
fn logged_in_wordpress_user_never_gets_the_cached_anonymous_page_and_vice_versa() {
    let dir = site(&[("index.php", WP_INDEX)]);
    let srv = start(dir.path(), &[("RESPONSE_CACHE_TTL", "60s")]);
    let addr = srv.addr();
    let logged_in = [(
        "Cookie",
        "wordpress_test_cookie=WP%20Cookie%20check; wordpress_logged_in_5c0ffee=admin%7C1700000000%7Ctoken%7Chash",
    )];

    // The logged-in user first: answered by PHP and not stored.
    let r = get(&addr, "/", &logged_in);
    assert_eq!(x_cache(&r), "BYPASS");
    assert!(r.body_str().contains("Howdy, admin"), "{}", r.body_str());
    let r = get(&addr, "/", &[]);
    assert_eq!(
        x_cache(&r),
        "MISS",
        "the logged-in page must not have been stored"
    );
    assert!(r.body_str().contains("anonymous visitor"));
    let anon_body = r.body_str();
    let r = get(&addr, "/", &[]);
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.body_str(), anon_body);

    // With the anonymous page stored, the logged-in user still gets their own.
    for _ in 0..3 {
        let r = get(&addr, "/", &logged_in);
        assert_eq!(x_cache(&r), "BYPASS");
        assert!(r.body_str().contains("Howdy, admin"), "{}", r.body_str());
    }
    // Other WordPress cookies that mean "not the anonymous page": commenters,
    // password-protected posts, a PHP session.
    for cookie in [
        "comment_author_abc=Jane",
        "wp-postpass_abc=%24P%24Bxyz",
        "PHPSESSID=abc123",
    ] {
        let r = get(&addr, "/", &[("Cookie", cookie)]);
        assert_eq!(x_cache(&r), "BYPASS", "{cookie}");
    }
    let r = get(&addr, "/", &[("Cookie", "comment_author_abc=Jane")]);
    assert!(r.body_str().contains("Welcome back, Jane"));
    // Cookies that say nothing about the user (analytics, WordPress's test cookie) do
    // not stop the anonymous page from being served.
    let r = get(
        &addr,
        "/",
        &[(
            "Cookie",
            "_ga=GA1.1.1; wordpress_test_cookie=WP%20Cookie%20check",
        )],
    );
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.body_str(), anon_body);
    // PHP ran: the logged-in page 4 times, the bypass cookies 4 times, the anonymous
    // page once.
    assert_eq!(runs(dir.path(), "index"), 9);
}

const POSTS: &str = r#"<?php
require __DIR__ . '/lib.php';
$file = __DIR__ . '/comments.txt';
if ($_SERVER['REQUEST_METHOD'] === 'POST') {
    file_put_contents($file, $_POST['comment'] . "\n", FILE_APPEND);
    if (($_GET['purge'] ?? '') === '1') {
        header('X-Purged: ' . uring_cache_purge('post-1'));
    }
    header('Cache-Control: public, max-age=600');
    echo "posted run=" . bump('post');
    return;
}
header('Cache-Control: public, max-age=600');
header('Cache-Tag: post-1, posts');
echo "comments:\n" . @file_get_contents($file) . "run=" . bump('get');
"#;

#[test]
fn post_is_never_cached_and_the_next_get_is_fresh_when_the_app_purges() {
    let dir = site(&[("post.php", POSTS)]);
    let srv = start(dir.path(), &[]);
    let addr = srv.addr();
    let form = "application/x-www-form-urlencoded";

    // A tagged page, stored.
    assert_eq!(x_cache(&get(&addr, "/post.php?id=1", &[])), "MISS");
    assert_eq!(x_cache(&get(&addr, "/post.php?id=1", &[])), "HIT");

    // A POST elsewhere that purges the tag: the page is rendered again.
    let r = post(&addr, "/post.php?purge=1", form, b"comment=first", &[]);
    assert_eq!(x_cache(&r), "BYPASS");
    assert_eq!(r.header("X-Purged"), Some("1"));
    let r = get(&addr, "/post.php?id=1", &[]);
    assert_eq!(x_cache(&r), "MISS");
    assert!(r.body_str().contains("first"), "{}", r.body_str());

    // POSTs themselves are never stored, even with Cache-Control: public: each one runs.
    for i in 0..3 {
        let r = post(
            &addr,
            "/post.php?other=1",
            form,
            format!("comment=c{i}").as_bytes(),
            &[],
        );
        assert_eq!(x_cache(&r), "BYPASS");
        assert!(
            r.body_str().contains(&format!("run={}", i + 2)),
            "{}",
            r.body_str()
        );
    }
    // ... and a GET of that URL is not answered with a POST's response.
    let r = get(&addr, "/post.php?other=1", &[]);
    assert_eq!(x_cache(&r), "MISS");
    assert!(r.body_str().starts_with("comments:"));
    assert_eq!(x_cache(&get(&addr, "/post.php?other=1", &[])), "HIT");

    // RFC 9111 §4.4: a successful POST to a URL invalidates that URL's entry, purge or not.
    post(&addr, "/post.php?other=1", form, b"comment=last", &[]);
    let r = get(&addr, "/post.php?other=1", &[]);
    assert_eq!(x_cache(&r), "MISS");
    assert!(r.body_str().contains("last"));
}

#[test]
fn set_cookie_responses_are_never_stored() {
    let dir = site(&[(
        "cookie.php",
        r#"<?php require __DIR__ . '/lib.php';
        header('Cache-Control: public, max-age=600');
        setcookie('visitor', 'v' . bump('cookie'));
        echo 'run=' . runs('cookie');"#,
    )]);
    let srv = start(dir.path(), &[("RESPONSE_CACHE_TTL", "60s")]);
    let addr = srv.addr();
    for i in 1..=3 {
        let r = get(&addr, "/cookie.php", &[]);
        assert_eq!(x_cache(&r), "MISS");
        assert_eq!(r.header("Set-Cookie"), Some(&*format!("visitor=v{i}")));
        assert_eq!(r.body_str(), format!("run={i}"));
    }
    assert_eq!(runs(dir.path(), "cookie"), 3);
    let internal = srv.internal_addr();
    assert_eq!(
        metric(&internal, "uring_php_response_cache_entries", &[]),
        0.0
    );
}

#[test]
fn vary_is_honoured() {
    let dir = site(&[
        (
            "lang.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: max-age=600');
            header('Vary: Accept-Language');
            echo ($_SERVER['HTTP_ACCEPT_LANGUAGE'] ?? 'none') . ' run=' . bump('lang');"#,
        ),
        (
            "theme.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: max-age=600');
            header('Vary: Cookie');
            echo 'theme=' . ($_COOKIE['theme'] ?? 'default') . ' run=' . bump('theme');"#,
        ),
        (
            "star.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: max-age=600');
            header('Vary: *');
            echo 'run=' . bump('star');"#,
        ),
    ]);
    let srv = start(dir.path(), &[]);
    let addr = srv.addr();
    let lang = |l: &str| get(&addr, "/lang.php", &[("Accept-Language", l)]);
    let r = lang("en");
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("MISS", "en run=1"));
    let r = lang("de");
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("MISS", "de run=2"));
    let r = lang("en");
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("HIT", "en run=1"));
    let r = lang("de");
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("HIT", "de run=2"));
    let r = get(&addr, "/lang.php", &[]);
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("MISS", "none run=3"));

    // Vary: Cookie: the cookies are the variant (in any order).
    let theme = |c: &str| get(&addr, "/theme.php", &[("Cookie", c)]);
    assert_eq!(x_cache(&theme("theme=dark; a=1")), "MISS");
    assert_eq!(theme("a=1; theme=dark").body_str(), "theme=dark run=1");
    assert_eq!(x_cache(&theme("a=1; theme=dark")), "HIT");
    let r = theme("theme=light; a=1");
    assert_eq!(
        (x_cache(&r), r.body_str().as_str()),
        ("MISS", "theme=light run=2")
    );

    // Vary: * is never stored.
    for _ in 0..2 {
        assert_eq!(x_cache(&get(&addr, "/star.php", &[])), "MISS");
    }
    assert_eq!(runs(dir.path(), "star"), 2);
}

#[test]
fn two_hundred_concurrent_misses_run_the_script_once() {
    let dir = site(&[(
        "slow.php",
        r#"<?php require __DIR__ . '/lib.php';
        $n = bump('slow');
        // Held until the test saw every other request wait for this one.
        while (!file_exists(__DIR__ . '/release')) { usleep(2000); }
        header('Cache-Control: public, max-age=600');
        echo "rendered once, run=$n";"#,
    )]);
    let srv = start(
        dir.path(),
        &[
            ("RESPONSE_CACHE_LOCK_TIMEOUT", "120s"),
            ("CPU_AFFINITY", "0-1"),
        ],
    );
    let addr = Arc::new(srv.addr());
    let internal = srv.internal_addr();
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let addr = Arc::clone(&addr);
            std::thread::spawn(move || {
                let mut s = common::http_client::connect(&addr);
                s.set_read_timeout(Some(std::time::Duration::from_secs(120)))
                    .unwrap();
                use std::io::Write;
                s.write_all(&common::http_client::build_request(
                    &addr,
                    "GET",
                    "/slow.php",
                    &[],
                    b"",
                ))
                .unwrap();
                common::http_client::read_response(&mut s)
            })
        })
        .collect();
    eventually("199 requests waiting for the one running PHP", || {
        metric(
            &internal,
            "uring_php_response_cache_coalesced_waits_total",
            &[],
        ) >= 199.0
    });
    std::fs::write(dir.path().join("release"), "").unwrap();
    let responses: Vec<RawResponse> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    for r in &responses {
        assert_eq!(r.status, 200);
        assert_eq!(r.body_str(), "rendered once, run=1");
    }
    let misses = responses.iter().filter(|r| x_cache(r) == "MISS").count();
    let hits = responses.iter().filter(|r| x_cache(r) == "HIT").count();
    assert_eq!((misses, hits), (1, 199));
    assert_eq!(runs(dir.path(), "slow"), 1);
    assert_eq!(
        metric(
            &internal,
            "uring_php_response_cache_lock_timeouts_total",
            &[]
        ),
        0.0
    );
}

#[test]
fn stale_is_served_when_php_fails_and_while_it_revalidates() {
    let dir = site(&[
        (
            "flaky.php",
            r#"<?php require __DIR__ . '/lib.php';
            $n = bump('flaky');
            $mode = @file_get_contents(__DIR__ . '/mode') ?: 'ok';
            if ($mode === 'error') { http_response_code(500); echo "broken run=$n"; return; }
            if ($mode === 'fatal') { undefined_function(); }
            if ($mode === 'slow') { sleep(30); }
            // Stale at once: every request asks PHP again, and may fall back on this copy.
            header('Cache-Control: max-age=0, stale-if-error=600');
            echo "good run=$n";"#,
        ),
        (
            "swr.php",
            r#"<?php require __DIR__ . '/lib.php';
            $n = bump('swr');
            header('Cache-Control: max-age=0, stale-while-revalidate=600');
            echo (@file_get_contents(__DIR__ . '/version') ?: 'v1') . " run=$n";"#,
        ),
    ]);
    let srv = start(dir.path(), &[("REQUEST_TIMEOUT", "1s")]);
    let addr = srv.addr();
    let set_mode = |m: &str| std::fs::write(dir.path().join("mode"), m).unwrap();

    let r = get(&addr, "/flaky.php", &[]);
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("MISS", "good run=1"));
    for (mode, run) in [("error", 2), ("fatal", 3), ("slow", 4)] {
        set_mode(mode);
        let r = get(&addr, "/flaky.php", &[]);
        assert_eq!(r.status, 200, "{mode}");
        assert_eq!(x_cache(&r), "STALE", "{mode}");
        assert_eq!(r.body_str(), "good run=1", "{mode}");
        assert_eq!(
            runs(dir.path(), "flaky"),
            run,
            "{mode}: PHP was asked first"
        );
    }
    set_mode("ok");
    let r = get(&addr, "/flaky.php", &[]);
    assert_eq!(
        (x_cache(&r), r.body_str().as_str()),
        ("EXPIRED", "good run=5")
    );

    // stale-while-revalidate: the stale copy at once, a fresh one rendered meanwhile.
    assert_eq!(get(&addr, "/swr.php", &[]).body_str(), "v1 run=1");
    std::fs::write(dir.path().join("version"), "v2").unwrap();
    let r = get(&addr, "/swr.php", &[]);
    assert_eq!((x_cache(&r), r.body_str().as_str()), ("STALE", "v1 run=1"));
    eventually("the background refresh to be stored", || {
        get(&addr, "/swr.php", &[]).body_str().starts_with("v2")
    });
    let internal = srv.internal_addr();
    assert!(metric(&internal, "uring_php_response_cache_refreshes_total", &[]) >= 1.0);
}

const TAGGED: &str = r#"<?php require __DIR__ . '/lib.php';
$page = basename($_SERVER['SCRIPT_NAME'], '.php');
header('Cache-Control: public, max-age=600');
header('Cache-Tag: ' . ['a' => 'product-1, catalog', 'b' => 'product-2 catalog', 'c' => 'about'][$page]);
header('Surrogate-Key: page-' . $page);
echo "$page run=" . bump($page);
"#;

#[test]
fn purge_by_tag_path_and_url_from_php_and_the_internal_server() {
    let dir = site(&[
        ("a.php", TAGGED),
        ("b.php", TAGGED),
        ("c.php", TAGGED),
        (
            "purge.php",
            r#"<?php echo uring_cache_purge(...explode(' ', $_GET['what']));"#,
        ),
    ]);
    let srv = start(dir.path(), &[]);
    let addr = srv.addr();
    let internal = srv.internal_addr();
    let status = |p: &str| x_cache(&get(&addr, p, &[])).to_string();
    let prime = || {
        for p in ["/a.php", "/b.php", "/c.php"] {
            get(&addr, p, &[]);
            assert_eq!(status(p), "HIT", "{p}");
        }
    };
    prime();
    // The tags are the cache's: clients never see them.
    let r = get(&addr, "/a.php", &[]);
    assert_eq!(r.header("Cache-Tag"), None);
    assert_eq!(r.header("Surrogate-Key"), None);

    // From PHP: a tag (Cache-Tag), then a Surrogate-Key, then a URL, then a path.
    let purge = |what: &str| get(&addr, &format!("/purge.php?what={what}"), &[]).body_str();
    assert_eq!(purge("product-1"), "1");
    assert_eq!(
        (status("/a.php"), status("/b.php")),
        ("MISS".into(), "HIT".into())
    );
    assert_eq!(purge("page-b"), "1");
    assert_eq!(status("/b.php"), "MISS");
    assert_eq!(purge(&format!("http://{addr}/c.php")), "1");
    assert_eq!(status("/c.php"), "MISS");
    assert_eq!(purge("/a.php"), "1");
    assert_eq!(status("/a.php"), "MISS");
    assert_eq!(purge("unknown-tag+/nothing.php"), "0");

    // Over the internal server: by tag (two pages share "catalog"), by path, everything.
    let r = request(&internal, "PURGE", "/", &[("Cache-Tag", "catalog")], b"");
    assert_eq!((r.status, r.body_str().trim()), (200, r#"{"purged":2}"#));
    assert_eq!(
        (status("/a.php"), status("/b.php"), status("/c.php")),
        ("MISS".into(), "MISS".into(), "HIT".into())
    );
    let r = request(&internal, "PURGE", "/c.php", &[], b"");
    assert_eq!(r.body_str().trim(), r#"{"purged":1}"#);
    assert_eq!(status("/c.php"), "MISS");
    // A proxy-style PURGE with the absolute URL (as MediaWiki sends to $wgCdnServers).
    let r = request(
        &internal,
        "PURGE",
        &format!("http://{addr}/c.php"),
        &[],
        b"",
    );
    assert_eq!(r.body_str().trim(), r#"{"purged":1}"#);
    assert_eq!(status("/c.php"), "MISS");
    prime();
    let r = request(&internal, "PURGE", "*", &[], b"");
    assert_eq!(r.body_str().trim(), r#"{"purged":3}"#);
    for p in ["/a.php", "/b.php", "/c.php"] {
        assert_eq!(status(p), "MISS", "{p}");
    }
    assert!(metric(&internal, "uring_php_response_cache_purged_total", &[]) >= 10.0);
}

#[test]
fn head_is_answered_from_the_get_entry_and_a_head_miss_stores_it() {
    let dir = site(&[(
        "page.php",
        r#"<?php require __DIR__ . '/lib.php';
        header('Cache-Control: max-age=600');
        echo str_repeat('x', 1000) . ' run=' . bump('page');"#,
    )]);
    let srv = start(dir.path(), &[]);
    let addr = srv.addr();
    let r = get(&addr, "/page.php?a", &[]);
    assert_eq!(x_cache(&r), "MISS");
    let len = r.body.len().to_string();
    let r = head(&addr, "/page.php?a", &[]);
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.header("Content-Length"), Some(len.as_str()));
    assert!(r.body.is_empty());

    // A HEAD miss renders the page as GET would (nginx's fastcgi_cache_convert_head), so
    // the GET after it is a hit with the whole body.
    let r = head(&addr, "/page.php?b", &[]);
    assert_eq!(x_cache(&r), "MISS");
    assert_eq!(r.header("Content-Length"), Some(len.as_str()));
    let r = get(&addr, "/page.php?b", &[]);
    assert_eq!(x_cache(&r), "HIT");
    assert!(r.body_str().ends_with("run=2"));
    assert_eq!(runs(dir.path(), "page"), 2);
}

#[test]
fn authorization_is_shared_only_when_the_response_says_public() {
    let dir = site(&[
        (
            "private.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: max-age=600');
            echo 'user=' . ($_SERVER['PHP_AUTH_USER'] ?? '-') . ' run=' . bump('private');"#,
        ),
        (
            "public.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: public, max-age=600');
            echo 'same for all run=' . bump('public');"#,
        ),
    ]);
    let srv = start(dir.path(), &[]);
    let addr = srv.addr();
    let alice = [("Authorization", "Basic YWxpY2U6cHc=")];
    let bob = [("Authorization", "Basic Ym9iOnB3")];
    assert_eq!(
        get(&addr, "/private.php", &alice).body_str(),
        "user=alice run=1"
    );
    let r = get(&addr, "/private.php", &bob);
    assert_eq!(
        (x_cache(&r), r.body_str().as_str()),
        ("MISS", "user=bob run=2")
    );
    // An anonymous request stores its own copy, which credentials never get.
    assert_eq!(get(&addr, "/private.php", &[]).body_str(), "user=- run=3");
    assert_eq!(x_cache(&get(&addr, "/private.php", &[])), "HIT");
    assert_eq!(
        get(&addr, "/private.php", &alice).body_str(),
        "user=alice run=4"
    );

    get(&addr, "/public.php", &alice);
    let r = get(&addr, "/public.php", &bob);
    assert_eq!(
        (x_cache(&r), r.body_str().as_str()),
        ("HIT", "same for all run=1")
    );
}

#[test]
fn compressed_hits_spilled_output_and_the_size_limits() {
    let dir = site(&[
        (
            "big.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: max-age=600');
            header('Content-Type: text/html; charset=UTF-8');
            $n = bump('big');
            for ($i = 0; $i < 3000; $i++) echo "<p>line $i of a page</p>\n";
            echo "run=$n";"#,
        ),
        (
            "huge.php",
            r#"<?php require __DIR__ . '/lib.php';
            header('Cache-Control: max-age=600');
            echo str_repeat('y', 300000) . ' run=' . bump('huge');"#,
        ),
    ]);
    let srv = start(
        dir.path(),
        &[
            ("COMPRESSION", "1"),
            ("OUTPUT_SPILL_THRESHOLD", "4096"),
            ("RESPONSE_CACHE_MAX_ENTRY_SIZE", "200K"),
        ],
    );
    let addr = srv.addr();
    // ~75 KiB: spilled to a memfd by PHP's output, read into the cache.
    let plain = get(&addr, "/big.php", &[]);
    assert_eq!(x_cache(&plain), "MISS");
    assert!(plain.body.len() > 60_000);
    let r = get(&addr, "/big.php", &[]);
    assert_eq!(x_cache(&r), "HIT");
    assert_eq!(r.body, plain.body);
    // Compressed per client from the one stored copy.
    for enc in ["gzip", "br", "zstd"] {
        let r = get(&addr, "/big.php", &[("Accept-Encoding", enc)]);
        assert_eq!(x_cache(&r), "HIT", "{enc}");
        assert_eq!(r.header("Content-Encoding"), Some(enc));
        assert!(r.header("Vary").unwrap().contains("Accept-Encoding"));
        assert!(r.body.len() < plain.body.len() / 4);
        assert_eq!(decode(enc, &r.body), plain.body, "{enc}");
    }
    assert_eq!(runs(dir.path(), "big"), 1);
    // Above RESPONSE_CACHE_MAX_ENTRY_SIZE: never stored.
    for _ in 0..2 {
        assert_eq!(x_cache(&get(&addr, "/huge.php", &[])), "MISS");
    }
    assert_eq!(runs(dir.path(), "huge"), 2);
}

fn decode(enc: &str, data: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    match enc {
        "gzip" => {
            flate2::read::GzDecoder::new(data)
                .read_to_end(&mut out)
                .unwrap();
        }
        "br" => {
            brotli::Decompressor::new(data, 4096)
                .read_to_end(&mut out)
                .unwrap();
        }
        _ => out = zstd::decode_all(data).unwrap(),
    }
    out
}

#[test]
fn memory_stays_within_the_bound() {
    let dir = site(&[(
        "p.php",
        r#"<?php header('Cache-Control: max-age=600');
        echo str_repeat('z', 40000) . $_GET['i'];"#,
    )]);
    let srv = start(dir.path(), &[("RESPONSE_CACHE_SIZE", "1M")]);
    let addr = srv.addr();
    let internal = srv.internal_addr();
    for i in 0..100 {
        assert_eq!(x_cache(&get(&addr, &format!("/p.php?i={i}"), &[])), "MISS");
    }
    let bytes = metric(&internal, "uring_php_response_cache_bytes", &[]);
    assert!(bytes > 0.0 && bytes <= (1 << 20) as f64, "{bytes}");
    assert!(metric(&internal, "uring_php_response_cache_evictions_total", &[]) >= 70.0);
    assert!(metric(&internal, "uring_php_response_cache_entries", &[]) <= 26.0);
}

#[test]
fn off_by_default_and_x_cache_can_be_switched_off() {
    let dir = site(&[(
        "p.php",
        r#"<?php require __DIR__ . '/lib.php';
        header('Cache-Control: public, max-age=600');
        echo 'run=' . bump('p');"#,
    )]);
    let srv = TestServer::start(dir.path());
    for i in 1..=2 {
        let r = get(&srv.addr(), "/p.php", &[]);
        assert_eq!(r.header("X-Cache"), None);
        assert_eq!(r.body_str(), format!("run={i}"));
    }
    drop(srv);
    // Without the header the cache still works (the access log says what it did).
    let log = dir.path().join("access.log");
    let srv = start(
        dir.path(),
        &[
            ("RESPONSE_CACHE_HEADER", "0"),
            ("ACCESS_LOG", "1"),
            ("ACCESS_LOG_FILE", log.to_str().unwrap()),
        ],
    );
    let r = get(&srv.addr(), "/p.php", &[]);
    assert_eq!(
        (r.header("X-Cache"), r.body_str().as_str()),
        (None, "run=3")
    );
    let r = get(&srv.addr(), "/p.php", &[]);
    assert_eq!(
        (r.header("X-Cache"), r.body_str().as_str()),
        (None, "run=3")
    );
    assert!(r.header("Age").is_some());
    eventually("two access log lines", || {
        std::fs::read_to_string(&log).is_ok_and(|l| l.lines().count() >= 2)
    });
    let lines: Vec<serde_json::Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let caches: Vec<&str> = lines.iter().map(|l| l["cache"].as_str().unwrap()).collect();
    assert_eq!(caches, ["MISS", "HIT"]);
}

#[test]
fn bad_settings_are_one_line_errors() {
    let dir = site(&[]);
    for (var, value, says) in [
        ("RESPONSE_CACHE_SIZE", "lots", "RESPONSE_CACHE_SIZE"),
        ("RESPONSE_CACHE_STATUS", "200,abc", "RESPONSE_CACHE_STATUS"),
        ("RESPONSE_CACHE_STATUS", "99", "RESPONSE_CACHE_STATUS"),
        (
            "RESPONSE_CACHE_BYPASS_COOKIES",
            "a b",
            "RESPONSE_CACHE_BYPASS_COOKIES",
        ),
        ("RESPONSE_CACHE_TTL", "soon", "RESPONSE_CACHE_TTL"),
    ] {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_uring_php"))
            .env_clear()
            .env("DOCUMENT_ROOT", dir.path())
            .env(var, value)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{var}={value}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(err.contains(says), "{err}");
    }
}
