//! Tests of the test harness itself: the reference stack (nginx + php-fpm) starts and
//! serves PHP, the differential corpus is deterministic (two reference stacks agree),
//! the comparator does report differences, and the raw HTTP client frames responses
//! correctly. Needs `scripts/install-test-deps.sh`.

mod common;

use common::diff::{self, Compare, DiffCase};
use common::http_client::{self, ResponseReader};
use common::reference::ReferenceStack;
use std::collections::HashSet;
use std::fs;
use std::net::TcpStream;
use std::path::{Path, PathBuf};

fn docroot() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/php")
}

/// A URL path as a relative file path: empty and `.` segments dropped, `..` applied.
fn normalize(path: &str) -> PathBuf {
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    parts.iter().collect()
}

fn case(name: &str) -> DiffCase {
    diff::cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no diff case named {name}"))
}

#[test]
fn reference_stack_serves_php() {
    let stack = ReferenceStack::start(&docroot(), 1);
    assert_eq!(
        stack.base_url(),
        format!("http://127.0.0.1:{}", stack.port())
    );
    let r = http_client::get(&stack.base_url(), "/diff/hello.php", &[]);
    assert_eq!(
        r.status,
        200,
        "GET /diff/hello.php: {r:?}\n{}",
        stack.logs()
    );
    assert_eq!(r.body_str(), "Hello, world!\n");
    assert_eq!(r.header("content-type"), Some("text/html; charset=UTF-8"));
    // expose_php=Off and server_tokens off.
    assert_eq!(r.header("x-powered-by"), None);
    assert_eq!(r.header("server"), Some("nginx"));
}

#[test]
fn reference_stack_runs_debians_php_ini() {
    let stack = ReferenceStack::start(&docroot(), 1);
    let r = http_client::get(&stack.addr(), "/diff/errors.php?mode=ini", &[]);
    assert_eq!(r.status, 200, "{}", stack.logs());
    let body = r.body_str();
    // Values only Debian's php.ini-production gives (PHP's own defaults differ).
    for (key, expected) in [
        ("memory_limit", "'128M'"),
        ("output_buffering", "'4096'"),
        ("display_errors", "''"),
        ("log_errors", "'1'"),
        ("error_reporting", "'22527'"),
        ("opcache.enable", "'1'"),
        ("variables_order", "'GPCS'"),
        ("request_order", "'GP'"),
        ("post_max_size", "'8M'"),
        ("upload_max_filesize", "'2M'"),
        ("short_open_tag", "''"),
    ] {
        let line = format!("{key}={expected}\n");
        assert!(body.contains(&line), "expected {line:?} in:\n{body}");
    }
    // Fatal errors go to the private PHP error log, not the response.
    let r = http_client::get(&stack.addr(), "/diff/errors.php?mode=exception", &[]);
    assert_eq!(r.status, 500);
    assert!(
        r.body.is_empty(),
        "display_errors is Off: {:?}",
        r.body_str()
    );
    assert!(
        stack.php_error_log().contains("uncaught for diff"),
        "PHP error log: {}",
        stack.php_error_log()
    );
}

#[test]
fn front_controller_routes_unknown_paths_to_index_php() {
    // A space in the docroot path: the generated nginx.conf must quote it.
    let root = tempfile::Builder::new()
        .prefix("front controller ")
        .tempdir()
        .expect("temp docroot");
    fs::write(
        root.path().join("index.php"),
        "<?php echo $_SERVER['REQUEST_URI'], '|', $_SERVER['SCRIPT_NAME'], '|', \
         json_encode($_GET), \"\\n\";",
    )
    .unwrap();
    fs::write(root.path().join("static.txt"), "static file\n").unwrap();
    let stack = ReferenceStack::start_front_controller(root.path(), 1);

    let r = http_client::get(&stack.addr(), "/blog/post/7?x=1", &[]);
    assert_eq!(r.status, 200, "{}", stack.logs());
    assert_eq!(r.body_str(), "/blog/post/7?x=1|/index.php|{\"x\":\"1\"}\n");

    let r = http_client::get(&stack.addr(), "/static.txt", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "static file\n");

    // Without front-controller mode the same path is a 404.
    let plain = ReferenceStack::start(root.path(), 1);
    let r = http_client::get(&plain.addr(), "/blog/post/7", &[]);
    assert_eq!(r.status, 404);
}

#[test]
fn corpus_is_well_formed() {
    let cases = diff::cases();
    assert!(cases.len() >= 35, "only {} cases", cases.len());
    let mut names = HashSet::new();
    for c in &cases {
        assert!(names.insert(c.name), "duplicate case name {}", c.name);
        assert!(!c.note.is_empty(), "case {} has no note", c.name);
        if c.compare == Compare::StatusOnly {
            assert!(
                c.note.contains("StatusOnly"),
                "case {} is StatusOnly without saying why",
                c.name
            );
            continue;
        }
        // Every fully compared case runs a script that exists.
        let path = c.path_and_query.split('?').next().unwrap();
        let script = match path.find(".php") {
            Some(i) => &path[..i + 4],
            None => continue, // a directory index
        };
        if script.contains('%') {
            continue; // percent-encoded on purpose
        }
        let file = docroot().join(normalize(script));
        assert!(
            file.is_file(),
            "case {}: {} does not exist",
            c.name,
            file.display()
        );
    }
    assert!(!diff::KNOWN_DIFFERENCES.is_empty());
}

/// Two independent reference stacks must agree on every case: proves the corpus prints
/// nothing time-, pid- or port-dependent.
#[test]
fn corpus_is_deterministic_between_two_reference_stacks() {
    let a = ReferenceStack::start(&docroot(), 2);
    let b = ReferenceStack::start(&docroot(), 2);
    let mismatches = diff::run_diff(&a.base_url(), &b.base_url(), &diff::cases());
    assert!(
        mismatches.is_empty(),
        "{} mismatches between two reference stacks:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
}

/// The comparator must be able to fail: different requests, statuses, headers and
/// bodies are each reported.
#[test]
fn comparator_reports_differences() {
    let stack = ReferenceStack::start(&docroot(), 1);
    let addr = stack.addr();

    // Same case, changed query: the body differs.
    let original = case("get-encoding");
    let mut changed = original.clone();
    changed.path_and_query = changed.path_and_query.replace("plus=a+b", "plus=a+c");
    let ra = diff::fetch(&addr, &original).unwrap();
    let rb = diff::fetch(&addr, &changed).unwrap();
    let m = diff::compare(&original, &ra, &rb);
    assert!(
        m.iter().any(|d| d.starts_with("body differs")),
        "changed query not detected: {m:?}"
    );
    assert!(
        m.iter()
            .any(|d| d.contains("plus=a+b") && d.contains("plus=a+c")),
        "the description should show both lines: {m:?}"
    );

    // Status and header differences.
    let hello = diff::fetch(&addr, &case("hello")).unwrap();
    let teapot = diff::fetch(&addr, &case("status-teapot")).unwrap();
    let m = diff::compare(&case("hello"), &hello, &teapot);
    assert!(m.iter().any(|d| d.starts_with("status: A=200")), "{m:?}");
    let headers = diff::fetch(&addr, &case("headers-set-replace-append")).unwrap();
    let m = diff::compare(&case("hello"), &headers, &hello);
    assert!(
        m.iter()
            .any(|d| d == "header only in A: x-replaced: second"),
        "{m:?}"
    );
    // A repeated header counts twice (multiset), whatever the case of its name.
    assert_eq!(
        m.iter()
            .filter(|d| d.starts_with("header only in A: x-appended"))
            .count(),
        3,
        "{m:?}"
    );

    // Ignored headers and framing do not count.
    let mut reframed = hello.clone();
    reframed.headers.retain(|(n, _)| {
        !n.eq_ignore_ascii_case("transfer-encoding") && !n.eq_ignore_ascii_case("date")
    });
    reframed
        .headers
        .push(("Content-Length".into(), hello.body.len().to_string()));
    reframed.chunked = false;
    assert!(diff::compare(&case("hello"), &hello, &reframed).is_empty());

    // StatusOnly ignores bodies but not statuses.
    let status_only = case("missing-php");
    assert_eq!(status_only.compare, Compare::StatusOnly);
    let mut other_body = hello.clone();
    other_body.body = b"something else".to_vec();
    assert!(diff::compare(&status_only, &hello, &other_body).is_empty());
    assert!(!diff::compare(&status_only, &hello, &teapot).is_empty());
}

/// run_diff end to end against a server that really behaves differently.
#[test]
fn run_diff_reports_a_differently_configured_server() {
    let a = ReferenceStack::start(&docroot(), 1);
    let b = ReferenceStack::builder(&docroot())
        .workers(1)
        .php_ini("memory_limit", "64M")
        .start();
    let cases = vec![case("ini-values"), case("hello")];
    let m = diff::run_diff(&a.base_url(), &b.base_url(), &cases);
    assert_eq!(m.len(), 1, "{m:#?}");
    assert!(m[0].starts_with("[ini-values]"), "{}", m[0]);
    assert!(
        m[0].contains("memory_limit='128M'") && m[0].contains("memory_limit='64M'"),
        "{}",
        m[0]
    );
}

#[test]
fn client_decodes_chunked_and_pipelined_responses() {
    let stack = ReferenceStack::start(&docroot(), 1);
    let addr = stack.addr();

    // nginx answers FastCGI with chunked encoding; the de-chunked body must be exact.
    let r = http_client::get(&addr, "/diff/large.php?kib=256", &[]);
    assert_eq!(r.status, 200);
    assert!(r.chunked, "expected a chunked response from nginx");
    let mut expected = String::new();
    for i in 0..256 * 16 {
        let letter = (b'a' + (i % 26) as u8) as char;
        expected.push_str(&format!("{i:08} {}\n", letter.to_string().repeat(54)));
    }
    assert_eq!(r.body.len(), 256 * 1024);
    assert!(r.body == expected.as_bytes(), "large body differs");

    // Three pipelined requests in one write, HEAD in the middle: the buffered reader must
    // not lose the bytes of the next response.
    let keep = [("Connection", "keep-alive")];
    let mut bytes = http_client::build_request(&addr, "GET", "/diff/hello.php", &keep, b"");
    bytes.extend(http_client::build_request(
        &addr,
        "HEAD",
        "/diff/hello.php",
        &keep,
        b"",
    ));
    bytes.extend(http_client::build_request(
        &addr,
        "GET",
        "/diff/binary.php",
        &[],
        b"",
    ));
    let mut reader = ResponseReader::connect(&addr);
    reader.send(&bytes);
    let first = reader.read_response(false);
    let second = reader.read_response(true);
    let third = reader.read_response(false);
    assert_eq!(first.body_str(), "Hello, world!\n");
    assert_eq!(second.status, 200);
    assert!(second.body.is_empty());
    assert_eq!(third.body, diff::all_bytes().repeat(4));
    assert!(third.closes_connection());
    assert!(reader.at_eof().unwrap(), "connection should be closed");

    // The unbuffered reader on a plain TcpStream reads exactly one response at a time.
    let mut stream = TcpStream::connect(&addr).unwrap();
    stream
        .set_read_timeout(Some(http_client::READ_TIMEOUT))
        .unwrap();
    let mut two = http_client::build_request(&addr, "GET", "/diff/hello.php", &keep, b"");
    two.extend(http_client::build_request(
        &addr,
        "GET",
        "/diff/get.php?a=1",
        &[],
        b"",
    ));
    std::io::Write::write_all(&mut stream, &two).unwrap();
    let r1 = http_client::read_response(&mut stream);
    let r2 = http_client::read_response(&mut stream);
    assert_eq!(r1.body_str(), "Hello, world!\n");
    assert!(r2.body_str().starts_with("QUERY_STRING=a=1\n"), "{r2:?}");
}

#[test]
fn drop_stops_both_servers_and_removes_the_temp_dir() {
    let stack = ReferenceStack::start(&docroot(), 1);
    let addr = stack.addr();
    let dir = stack.dir().to_path_buf();
    assert!(dir.join("php-fpm.sock").exists());
    drop(stack);
    assert!(!dir.exists(), "{} still exists", dir.display());
    assert!(
        http_client::try_connect(&addr).is_err(),
        "something still listens on {addr} after drop"
    );
}
