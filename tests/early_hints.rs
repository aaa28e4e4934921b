//! 103 Early Hints from PHP (`headers_send(103)`, as FrankenPHP provides it): the Link
//! headers set so far reach the client as an informational response while the script
//! still runs, on HTTP/1.1 (raw client) and HTTP/2 (curl); never on HTTP/1.0.

mod common;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use common::http_client::{send_raw, ResponseReader};
use common::server::TestServer;

fn docroot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php")
}

fn server() -> TestServer {
    TestServer::builder(&docroot())
        .env("PHP_WORKERS", "2")
        .start()
}

#[test]
fn http11_gets_the_hint_while_the_script_runs() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("seen");
    let mut reader = ResponseReader::connect(&s.addr());
    reader.send(
        format!(
            "GET /parity/hints.php?marker={} HTTP/1.1\r\nHost: x\r\n\r\n",
            marker.display()
        )
        .as_bytes(),
    );
    let hint = reader.read_response(false);
    assert_eq!((hint.status, hint.reason.as_str()), (103, "Early Hints"));
    assert_eq!(
        hint.header_all("Link"),
        [
            "</style.css>; rel=preload; as=style",
            "</app.js>; rel=preload; as=script"
        ]
    );
    assert!(
        hint.header("Set-Cookie").is_none(),
        "only Link headers go in a hint: {:?}",
        hint.headers
    );
    assert!(hint.body.is_empty());
    // The script is still waiting for this file: the hint came while it ran.
    std::fs::write(&marker, "").unwrap();
    let r = reader.read_response(false);
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), "first=1 seen=1\nlate=3\n");
    assert_eq!(r.header("Set-Cookie"), Some("hinted=1"));
    assert_eq!(
        r.header_all("Link").len(),
        2,
        "the final response keeps its headers"
    );
}

#[test]
fn http10_gets_no_hint() {
    let s = server();
    let r = send_raw(&s.addr(), b"GET /parity/hints.php HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
    assert!(r.informational.is_empty(), "{:?}", r.informational);
    assert_eq!(r.body_str(), "first=3 seen=0\nlate=3\n");
}

#[test]
fn http2_gets_the_hint_while_the_script_runs() {
    let s = server();
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("seen");
    let mut curl = Command::new("curl")
        .args(["-sS", "-v", "--http2-prior-knowledge"])
        .arg(format!(
            "{}/parity/hints.php?marker={}",
            s.base_url(),
            marker.display()
        ))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("curl");
    // curl -v prints each response head as it arrives: wait for the hint's.
    let mut seen = Vec::new();
    let mut lines = BufReader::new(curl.stderr.take().unwrap()).lines();
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push(line.clone());
        if line.starts_with("< HTTP/2 103") {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.starts_with("< HTTP/2 103")),
        "no 103 before the script ended:\n{}",
        seen.join("\n")
    );
    // The script is still waiting for this file: the hint came while it ran.
    std::fs::write(&marker, "").unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    let out = curl.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", rest.join("\n"));
    // curl prints the hint's fields after its status line, up to the final head.
    let final_at = rest
        .iter()
        .position(|l| l.starts_with("< HTTP/2 200"))
        .unwrap_or_else(|| panic!("no final response:\n{}", rest.join("\n")));
    let hint_headers: Vec<String> = rest[..final_at]
        .iter()
        .filter(|l| l.starts_with("< "))
        .map(|l| l.to_ascii_lowercase())
        .collect();
    assert!(
        hint_headers
            .iter()
            .any(|l| l.starts_with("< link: </style.css>; rel=preload; as=style")),
        "{hint_headers:?}"
    );
    assert!(
        !hint_headers.iter().any(|l| l.starts_with("< set-cookie")),
        "{hint_headers:?}"
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "first=1 seen=1\nlate=3\n"
    );
}
