//! X-Accel-Redirect and X-Sendfile: a PHP response naming a file is answered with that
//! file by the static-file path — ranges, ETag/304, precompressed variants, the script's
//! other headers kept — and never with a file outside the configured places, however the
//! name is spelled (`..`, encoded `..`, symlinks out, other directories).

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};

use common::http_client::{get, RawResponse};
use common::server::TestServer;

const REPORT: &str = "report contents: 0123456789 abcdefghij\n";
const SECRET: &str = "the secret outside every allowed place\n";

struct Site {
    _dir: tempfile::TempDir,
    docroot: PathBuf,
    files: PathBuf,
    outside: PathBuf,
}

fn site() -> Site {
    let dir = tempfile::tempdir().unwrap();
    let docroot = dir.path().join("www");
    let files = dir.path().join("files");
    std::fs::create_dir_all(docroot.join("protected")).unwrap();
    std::fs::create_dir_all(files.join("sub")).unwrap();
    std::fs::copy(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php/parity/sendfile.php"),
        docroot.join("sendfile.php"),
    )
    .unwrap();
    // Reachable through the document root were the location not internal.
    std::fs::write(docroot.join("protected/report.txt"), "public copy\n").unwrap();
    std::fs::write(files.join("report.txt"), REPORT).unwrap();
    std::fs::write(files.join("report.txt.gz"), b"\x1f\x8b pretend gzip").unwrap();
    std::fs::write(files.join("sub/inner.txt"), "inner\n").unwrap();
    std::fs::write(files.join("big.bin"), vec![b'x'; 8 << 20]).unwrap();
    let outside = dir.path().join("secret.txt");
    std::fs::write(&outside, SECRET).unwrap();
    std::os::unix::fs::symlink(&outside, files.join("out.txt")).unwrap();
    std::os::unix::fs::symlink("sub/inner.txt", files.join("in.txt")).unwrap();
    Site {
        _dir: dir,
        docroot,
        files,
        outside,
    }
}

fn server(site: &Site, workers: &str) -> TestServer {
    TestServer::builder(&site.docroot)
        .env("PHP_WORKERS", workers)
        .env(
            "INTERNAL_LOCATIONS",
            format!("/protected/={}/", site.files.display()),
        )
        .env("SENDFILE_ROOTS", site.files.display().to_string())
        .start()
}

/// Percent-encodes a query value (PHP decodes it once).
fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn accel(s: &TestServer, uri: &str, headers: &[(&str, &str)]) -> RawResponse {
    get(
        &s.addr(),
        &format!("/sendfile.php?accel={}", enc(uri)),
        headers,
    )
}

fn sendfile(s: &TestServer, path: &Path, headers: &[(&str, &str)]) -> RawResponse {
    get(
        &s.addr(),
        &format!(
            "/sendfile.php?sendfile={}",
            enc(&path.display().to_string())
        ),
        headers,
    )
}

fn assert_file(r: &RawResponse, body: &str) {
    assert_eq!(r.status, 200, "{}", r.body_str());
    assert_eq!(r.body_str(), body);
    assert_eq!(
        r.header("Content-Disposition"),
        Some("attachment; filename=\"report.txt\"")
    );
    assert_eq!(r.header("Cache-Control"), Some("private, max-age=60"));
    assert_eq!(r.header("Set-Cookie"), Some("downloaded=1"));
    assert_eq!(r.header("Content-Type"), Some("text/plain"));
    assert!(r.header("ETag").is_some() && r.header("Last-Modified").is_some());
    assert_eq!(r.header("Accept-Ranges"), Some("bytes"));
    assert!(r.header("X-Accel-Redirect").is_none() && r.header("X-Sendfile").is_none());
}

#[test]
fn x_accel_redirect_serves_the_file_with_the_scripts_headers() {
    let site = site();
    let s = server(&site, "2");
    let r = accel(&s, "/protected/report.txt", &[]);
    assert_file(&r, REPORT);
    // Encoded, with a query, through a symlink that stays inside.
    assert_eq!(
        accel(&s, "/protected/sub/%69nner.txt?v=2", &[]).body_str(),
        "inner\n"
    );
    assert_eq!(accel(&s, "/protected/in.txt", &[]).body_str(), "inner\n");
    // The script's own type wins, except PHP's default text/html.
    let r = get(
        &s.addr(),
        "/sendfile.php?accel=/protected/report.txt&type=application/x-report",
        &[],
    );
    assert_eq!(r.header("Content-Type"), Some("application/x-report"));
    // HEAD: the file's length, no body.
    let r = common::http_client::head(&s.addr(), "/sendfile.php?accel=/protected/report.txt", &[]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Length"), Some(&*REPORT.len().to_string()));
}

#[test]
fn x_sendfile_serves_files_beneath_its_roots() {
    let site = site();
    let s = server(&site, "2");
    assert_file(&sendfile(&s, &site.files.join("report.txt"), &[]), REPORT);
    assert_eq!(
        sendfile(&s, &site.files.join("sub/./inner.txt"), &[]).body_str(),
        "inner\n"
    );
}

#[test]
fn ranges_conditionals_and_precompressed_variants() {
    let site = site();
    let s = server(&site, "2");
    let r = accel(&s, "/protected/report.txt", &[("Range", "bytes=0-5")]);
    assert_eq!(r.status, 206);
    assert_eq!(r.body_str(), &REPORT[..6]);
    assert_eq!(
        r.header("Content-Range"),
        Some(&*format!("bytes 0-5/{}", REPORT.len()))
    );
    assert_eq!(
        r.header("Content-Disposition"),
        Some("attachment; filename=\"report.txt\"")
    );
    let etag = accel(&s, "/protected/report.txt", &[])
        .header("ETag")
        .unwrap()
        .to_string();
    let r = sendfile(
        &s,
        &site.files.join("report.txt"),
        &[("If-None-Match", &etag)],
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let r = accel(&s, "/protected/report.txt", &[("Accept-Encoding", "gzip")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Content-Encoding"), Some("gzip"));
    assert_eq!(r.body, b"\x1f\x8b pretend gzip");
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
    assert!(r.header("ETag").unwrap().starts_with("W/"));
    // A client that takes no gzip gets the file itself, with Vary all the same.
    let r = accel(&s, "/protected/report.txt", &[("Accept-Encoding", "br")]);
    assert_eq!((r.status, r.body_str().as_str()), (200, REPORT));
    assert!(r.header("Content-Encoding").is_none());
    assert_eq!(r.header("Vary"), Some("Accept-Encoding"));
}

#[test]
fn nothing_outside_the_configured_places() {
    let site = site();
    let s = server(&site, "2");
    let outside = site.outside.display().to_string();
    let files = site.files.display().to_string();
    let refused = [
        accel(&s, "/protected/../secret.txt", &[]),
        accel(&s, "/protected/%2e%2e/secret.txt", &[]),
        accel(&s, "/protected/sub/..%2f..%2fsecret.txt", &[]),
        accel(&s, "/protected/out.txt", &[]),
        accel(&s, "/elsewhere/report.txt", &[]),
        accel(&s, "protected/report.txt", &[]),
        sendfile(&s, Path::new(&format!("{files}/../secret.txt")), &[]),
        sendfile(&s, &site.outside, &[]),
        sendfile(&s, &site.files.join("out.txt"), &[]),
        sendfile(&s, Path::new("/etc/passwd"), &[]),
        sendfile(&s, Path::new(&format!("{files}-other/report.txt")), &[]),
        sendfile(&s, Path::new("report.txt"), &[]),
    ];
    for (i, r) in refused.iter().enumerate() {
        assert_eq!(r.status, 500, "case {i}: {}", r.body_str());
        assert!(!r.body_str().contains("secret"), "case {i}");
        assert!(!r.body_str().contains("script's own body"), "case {i}");
        assert!(r.header("X-Sendfile").is_none() && r.header("X-Accel-Redirect").is_none());
    }
    // The log is written by the server's own thread: wait for the last line to land.
    let logged = || {
        s.log()
            .matches("refusing a file a PHP response asked for")
            .count()
    };
    common::wait::eventually("each refusal logged", || logged() >= refused.len());
    // An absolute path after the prefix is a path beneath it, like any other.
    let r = accel(&s, &format!("/protected/{outside}"), &[]);
    assert_eq!(r.status, 404);
    assert!(!r.body_str().contains("secret"));
    // Missing inside an allowed place: 404.
    assert_eq!(accel(&s, "/protected/missing.txt", &[]).status, 404);
    assert_eq!(sendfile(&s, &site.files.join("missing"), &[]).status, 404);
    // The internal location is not reachable from outside, however spelled.
    for path in [
        "/protected/report.txt",
        "/%70rotected/report.txt",
        "/protected",
    ] {
        assert_eq!(get(&s.addr(), path, &[]).status, 404, "{path}");
    }
}

#[test]
fn the_php_worker_is_free_while_the_file_goes_out() {
    let site = site();
    let s = server(&site, "1");
    // A client that asks for 8 MiB and reads only the head: the rest waits in buffers.
    let mut slow = TcpStream::connect(s.addr()).unwrap();
    slow.write_all(b"GET /sendfile.php?accel=/protected/big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut head = [0u8; 12];
    slow.read_exact(&mut head).unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // The only PHP worker answers another request meanwhile.
    let r = accel(&s, "/protected/report.txt", &[]);
    assert_eq!((r.status, r.body_str().as_str()), (200, REPORT));
    drop(slow);
}
