//! REQUEST_BUFFERING=0: PHP starts once the request head is read and reads its body as
//! the client sends it, on HTTP/1.1 (Content-Length and chunked) and HTTP/2. Each test
//! holds back the second half of a body until PHP has been seen reading the first, so it
//! fails whenever the body is buffered before PHP runs. The bodies are PUT: for a POST,
//! PHP itself reads the whole body before the script starts (as under php-fpm), so only
//! PHP, not the script, would see it arrive.

mod common;

use std::io::Write;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http_client::read_response;
use common::server::TestServer;

fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let php = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php");
    for f in ["streaming/digest.php", "engine/upload.php"] {
        let name = Path::new(f).file_name().unwrap();
        std::fs::copy(php.join(f), dir.path().join(name)).unwrap();
    }
    dir
}

fn streaming_server(docroot: &Path) -> TestServer {
    TestServer::builder(docroot)
        .env("REQUEST_BUFFERING", "0")
        .env("PHP_WORKERS", "2")
        .env("MAX_BODY_SIZE", "64M")
        // Debian's php.ini (the built-in defaults) allows 2M uploads and 8M POSTs.
        .env("PHP_INI_UPLOAD_MAX_FILESIZE", "64M")
        .env("PHP_INI_POST_MAX_SIZE", "64M")
        .start()
}

/// Bytes of every value, in no simple pattern.
fn data(len: usize) -> Vec<u8> {
    (0..len as u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    let mut child = Command::new("md5sum")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("md5sum");
    child.stdin.take().unwrap().write_all(data).unwrap();
    let out = child.wait_with_output().unwrap();
    String::from_utf8(out.stdout).unwrap()[..32].to_string()
}

/// Waits until PHP created `mark`: it has read the first block of a body whose rest the
/// client still holds back. Panics when that never happens.
fn wait_for_php(mark: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !mark.exists() {
        assert!(
            Instant::now() < deadline,
            "PHP never saw the first half of the body: the body was not streamed to it"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn http1_bodies_reach_php_while_they_arrive() {
    let site = site();
    let s = streaming_server(site.path());
    let body = data(3 << 20);
    let want = md5_hex(&body);
    let (first, rest) = body.split_at(256 * 1024);

    // Content-Length.
    let mark = site.path().join("mark-cl");
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        c,
        "PUT /digest.php?mark={} HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
        mark.display(),
        body.len()
    )
    .unwrap();
    c.write_all(first).unwrap();
    wait_for_php(&mark);
    c.write_all(rest).unwrap();
    let r = read_response(&mut c);
    assert_eq!(r.status, 200);
    assert_eq!(
        r.body_str(),
        format!("{} {want} cl={}", body.len(), body.len())
    );

    // Chunked, on the same (kept-alive) connection: no length to announce to PHP.
    let mark = site.path().join("mark-chunked");
    write!(
        c,
        "PUT /digest.php?mark={} HTTP/1.1\r\nHost: t\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n",
        mark.display()
    )
    .unwrap();
    let chunk = |c: &mut TcpStream, part: &[u8]| {
        for piece in part.chunks(50_000) {
            write!(c, "{:x}\r\n", piece.len()).unwrap();
            c.write_all(piece).unwrap();
            c.write_all(b"\r\n").unwrap();
        }
    };
    chunk(&mut c, first);
    wait_for_php(&mark);
    chunk(&mut c, rest);
    c.write_all(b"0\r\n\r\n").unwrap();
    let r = read_response(&mut c);
    assert_eq!(r.status, 200);
    assert_eq!(r.body_str(), format!("{} {want} cl=", body.len()));
}

#[test]
fn http2_body_reaches_php_while_it_arrives() {
    let site = site();
    let s = streaming_server(site.path());
    let body = data(3 << 20);
    let want = md5_hex(&body);
    let (first, rest) = body.split_at(256 * 1024);
    let mark = site.path().join("mark-h2");
    // curl uploads standard input as it reads it (-T -), as DATA frames.
    let mut curl = Command::new("curl")
        .args([
            "-sS",
            "--http2-prior-knowledge",
            "-T",
            "-",
            "-w",
            " v=%{http_version}",
        ])
        .arg("-H")
        .arg("Content-Type: application/octet-stream")
        .arg(format!(
            "{}/digest.php?mark={}",
            s.base_url(),
            mark.display()
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let mut stdin = curl.stdin.take().unwrap();
    stdin.write_all(first).unwrap();
    stdin.flush().unwrap();
    wait_for_php(&mark);
    stdin.write_all(rest).unwrap();
    drop(stdin);
    let out = curl.wait_with_output().unwrap();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("{} {want} cl= v=2", body.len())
    );
}

#[test]
fn multipart_uploads_stream_into_php_files() {
    let site = site();
    let s = streaming_server(site.path());
    let file = site.path().join("upload.bin");
    let bytes = data(5 << 20);
    std::fs::write(&file, &bytes).unwrap();
    for proto in ["--http1.1", "--http2-prior-knowledge"] {
        let out = Command::new("curl")
            .args(["-sS", proto, "-F", "x=1"])
            .arg("-F")
            .arg(format!("f[]=@{}", file.display()))
            .arg(format!("{}/upload.php", s.base_url()))
            .output()
            .expect("curl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{proto}: {e}: {}", String::from_utf8_lossy(&out.stdout)));
        let f = &v["files"][0];
        assert_eq!(f["size"], bytes.len(), "{proto}: {v}");
        assert_eq!(f["md5"], md5_hex(&bytes), "{proto}: {v}");
        assert_eq!(v["post"]["x"], "1", "{proto}: {v}");
    }
}

#[test]
fn a_client_gone_mid_body_frees_the_php_worker() {
    let site = site();
    let s = streaming_server(site.path());
    let body = data(1 << 20);
    // Three times the two workers: a worker left waiting for the rest of a body would
    // leave the last request (and this test) hanging.
    for i in 0..6 {
        let mark = site.path().join(format!("mark-gone-{i}"));
        let mut c = TcpStream::connect(s.addr()).unwrap();
        write!(
            c,
            "PUT /digest.php?mark={} HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
            mark.display(),
            body.len()
        )
        .unwrap();
        c.write_all(&body[..100_000]).unwrap();
        wait_for_php(&mark);
        drop(c);
    }
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    write!(
        c,
        "PUT /digest.php HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    c.write_all(&body).unwrap();
    let r = read_response(&mut c);
    assert_eq!(r.status, 200);
    assert!(r
        .body_str()
        .starts_with(&format!("{} {}", body.len(), md5_hex(&body))));
}
