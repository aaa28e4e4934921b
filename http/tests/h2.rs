//! HTTP/2 over real loopback TCP, on each monoio driver: the `h2` crate's client (on a
//! tokio runtime in the test thread) talks to `serve_conn` (h2c by prior knowledge) and
//! `serve_tls` (ALPN) behind a monoio listener.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use common::{checksum, drivers, pattern, start_mode, Client, Mode};
use h2::client::SendRequest;
use h2::{Reason, RecvStream, SendStream};
use uring_http::ConnConfig;

fn each_driver(cfg: ConnConfig, test: impl Fn(SocketAddr)) {
    for driver in drivers() {
        eprintln!("driver: {driver:?}");
        test(start_mode(Mode::Sniff(cfg.clone()), driver));
    }
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// How many `/slow/` requests the server's service has taken, asked over a connection
/// of its own (HTTP/1.1, so asking opens no stream the test counts).
async fn entered(addr: SocketAddr) -> u64 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"GET /entered HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    tcp.read_to_end(&mut out).await.unwrap();
    let text = String::from_utf8_lossy(&out);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
    body.trim()
        .parse()
        .unwrap_or_else(|_| panic!("/entered: {text}"))
}

/// Waits (polling, within 10 s) until the service has taken `n` `/slow/` requests.
async fn until_entered(addr: SocketAddr, n: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = entered(addr).await;
        if now >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the service took {now} of {n} /slow/ requests in 10 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn connect(addr: SocketAddr, builder: h2::client::Builder) -> SendRequest<Bytes> {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (send, conn) = builder.handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    send
}

fn req(method: &str, addr: SocketAddr, path: &str) -> http::Request<()> {
    http::Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(())
        .unwrap()
}

/// Sends `data` on `stream` within the flow-control window, then ends the stream.
async fn send_body(stream: &mut SendStream<Bytes>, mut data: Bytes) -> Result<(), h2::Error> {
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let cap = std::future::poll_fn(|cx| stream.poll_capacity(cx))
            .await
            .expect("stream open")?;
        let piece = data.split_to(cap.min(data.len()));
        stream.send_data(piece, false)?;
    }
    stream.send_data(Bytes::new(), true)
}

async fn read_body(mut body: RecvStream) -> Result<Bytes, h2::Error> {
    let mut out = BytesMut::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk?;
        let _ = body.flow_control().release_capacity(chunk.len());
        out.extend_from_slice(&chunk);
    }
    Ok(out.freeze())
}

/// One request on `send`; returns status, headers and body.
async fn fetch(
    send: &mut SendRequest<Bytes>,
    request: http::Request<()>,
    body: Option<Bytes>,
) -> (u16, http::HeaderMap, Bytes) {
    let mut send = send.clone().ready().await.unwrap();
    let (resp, mut stream) = send.send_request(request, body.is_none()).unwrap();
    if let Some(body) = body {
        send_body(&mut stream, body).await.unwrap();
    }
    let resp = resp.await.unwrap();
    let (parts, body) = resp.into_parts();
    (
        parts.status.as_u16(),
        parts.headers,
        read_body(body).await.unwrap(),
    )
}

fn text(b: &Bytes) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn hundred_concurrent_streams_each_get_their_own_body() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let send = connect(addr, h2::client::Builder::new()).await;
            let mut tasks = Vec::new();
            for i in 0..100 {
                let mut send = send.clone();
                tasks.push(tokio::spawn(async move {
                    let body = Bytes::from(format!("body of stream {i}"));
                    let sum = checksum(&body);
                    let len = body.len();
                    let (status, headers, got) = fetch(
                        &mut send,
                        req("POST", addr, &format!("/echo/{i}?n={i}")),
                        Some(body),
                    )
                    .await;
                    assert_eq!(status, 200);
                    assert_eq!(headers["x-path"], format!("/echo/{i}").as_str());
                    assert_eq!(
                        text(&got),
                        format!(
                            "POST /echo/{i} q=Some(\"n={i}\") host=Some(\"{addr}\") HTTP/2.0 \
                             body=memory:{len}:{sum}"
                        )
                    );
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
    });
}

#[test]
fn early_hints_arrive_while_the_service_works() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let send = connect(addr, h2::client::Builder::new()).await;
            let mut s = send.clone().ready().await.unwrap();
            let (mut resp, _) = s.send_request(req("GET", addr, "/hints"), true).unwrap();
            // The service waits for /release, so without the hint this would wait for
            // ever: the timeout only turns that into a failure.
            let hint = tokio::time::timeout(
                Duration::from_secs(20),
                std::future::poll_fn(|cx| resp.poll_informational(cx)),
            )
            .await
            .expect("a 103 while the service still works")
            .expect("an informational response")
            .unwrap();
            assert_eq!(hint.status(), 103);
            assert_eq!(
                hint.headers()["link"],
                "</style.css>; rel=preload; as=style"
            );
            assert!(hint.headers().get("date").is_none());
            // Only now may the service finish.
            let mut other = send.clone();
            let (status, _, body) = fetch(&mut other, req("GET", addr, "/release"), None).await;
            assert_eq!((status, text(&body).as_str()), (200, "released"));
            let (parts, body) = resp.await.unwrap().into_parts();
            assert_eq!(parts.status, 200);
            assert_eq!(text(&read_body(body).await.unwrap()), "hinted=true");
        });
    });
}

#[test]
fn a_reset_stream_does_not_disturb_its_siblings() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let send = connect(addr, h2::client::Builder::new()).await;
            // Siblings that stay in the service for a while.
            let mut siblings = Vec::new();
            for i in 0..10 {
                let mut send = send.clone();
                siblings.push(tokio::spawn(async move {
                    fetch(
                        &mut send,
                        req("GET", addr, &format!("/slow/200?i={i}")),
                        None,
                    )
                    .await
                }));
            }
            // One reset while its body is half sent, one while the service works on it.
            let mut s = send.clone().ready().await.unwrap();
            let (upload, mut upload_body) =
                s.send_request(req("POST", addr, "/upload"), false).unwrap();
            upload_body.reserve_capacity(1000);
            upload_body
                .send_data(Bytes::from(vec![b'x'; 1000]), false)
                .unwrap();
            let mut s = send.clone().ready().await.unwrap();
            let (waiting, mut waiting_stream) = s
                .send_request(req("GET", addr, "/slow/5000"), true)
                .unwrap();
            // The ten siblings and the waiting one are all in the service.
            until_entered(addr, 11).await;
            upload_body.send_reset(Reason::CANCEL);
            waiting_stream.send_reset(Reason::CANCEL);
            assert!(upload.await.is_err());
            assert!(waiting.await.is_err());
            for (i, t) in siblings.into_iter().enumerate() {
                let (status, _, body) = t.await.unwrap();
                assert_eq!(status, 200);
                assert!(text(&body).starts_with("GET /slow/200 q=Some(\"i="), "{i}");
            }
            // The connection still serves new streams.
            let (status, _, _) = fetch(&mut send.clone(), req("GET", addr, "/after"), None).await;
            assert_eq!(status, 200);
        });
    });
}

#[test]
fn large_post_body_arrives_intact_and_is_spooled() {
    let mut cfg = ConnConfig::default();
    cfg.h2.spool.threshold = 256 * 1024;
    cfg.h2.max_body_size = 64 << 20;
    each_driver(cfg, |addr| {
        block_on(async move {
            let mut send = connect(addr, h2::client::Builder::new()).await;
            let data = Bytes::from(pattern(20 << 20));
            let want = format!("body=file:{}:{}", data.len(), checksum(&data));
            let (status, _, body) =
                fetch(&mut send, req("PUT", addr, "/big-upload"), Some(data)).await;
            assert_eq!(status, 200);
            assert!(text(&body).ends_with(&want), "{}", text(&body));
            // A small body stays in memory, on the same connection.
            let (_, _, body) = fetch(
                &mut send,
                req("POST", addr, "/small"),
                Some(Bytes::from_static(b"abc")),
            )
            .await;
            assert!(text(&body).ends_with(&format!("body=memory:3:{}", checksum(b"abc"))));
        });
    });
}

#[test]
fn streamed_body_reaches_the_service_while_it_arrives() {
    let mut cfg = ConnConfig::default();
    cfg.h2.spool.buffering = false;
    cfg.h2.max_body_size = 64 << 20;
    each_driver(cfg, |addr| {
        block_on(async move {
            let mut send = connect(addr, h2::client::Builder::new()).await;
            // Many times the stream window and the pipe: flow control must reopen as
            // the service reads.
            let data = Bytes::from(pattern(20 << 20));
            let want = format!("body=stream:{}:{}", data.len(), checksum(&data));
            let (status, _, body) =
                fetch(&mut send, req("PUT", addr, "/big-upload"), Some(data)).await;
            assert_eq!(status, 200);
            assert!(text(&body).ends_with(&want), "{}", text(&body));
            let (status, _, body) = fetch(&mut send, req("GET", addr, "/after"), None).await;
            assert_eq!(status, 200);
            assert!(text(&body).ends_with("body=empty:0:0"));
        });
    });
}

#[test]
fn body_over_the_limit_gets_413() {
    let mut cfg = ConnConfig::default();
    cfg.h2.max_body_size = 1000;
    each_driver(cfg, |addr| {
        block_on(async move {
            let mut send = connect(addr, h2::client::Builder::new()).await;
            // Declared too large: refused before the body is read.
            let mut r = req("POST", addr, "/declared");
            r.headers_mut()
                .insert("content-length", "5000".parse().unwrap());
            let mut s = send.clone().ready().await.unwrap();
            let (resp, _body) = s.send_request(r, false).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 413);
            // Undeclared, found too large while reading.
            let mut s = send.clone().ready().await.unwrap();
            let (resp, mut body) = s
                .send_request(req("POST", addr, "/streamed"), false)
                .unwrap();
            body.reserve_capacity(2000);
            body.send_data(Bytes::from(vec![b'y'; 2000]), false)
                .unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 413);
            // The connection lives on.
            let (status, _, _) = fetch(&mut send, req("GET", addr, "/ok"), None).await;
            assert_eq!(status, 200);
        });
    });
}

#[test]
fn large_responses_respect_a_small_client_window() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let mut builder = h2::client::Builder::new();
            builder
                .initial_window_size(16 * 1024)
                .initial_connection_window_size(32 * 1024);
            let mut send = connect(addr, builder).await;
            for path in ["/big/5000000", "/file/3000000"] {
                let n: usize = path.rsplit('/').next().unwrap().parse().unwrap();
                let mut s = send.clone().ready().await.unwrap();
                let (resp, _) = s.send_request(req("GET", addr, path), true).unwrap();
                let resp = resp.await.unwrap();
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.headers()["content-length"], n.to_string().as_str());
                let mut body = resp.into_body();
                let mut got = Vec::with_capacity(n);
                while let Some(chunk) = body.data().await {
                    let chunk = chunk.unwrap();
                    // Never more in flight than the window the client granted.
                    assert!(chunk.len() <= 16 * 1024);
                    got.extend_from_slice(&chunk);
                    let _ = body.flow_control().release_capacity(chunk.len());
                }
                assert_eq!(got.len(), n);
                assert!(got == pattern(n), "{path}: body differs");
            }
            // HEAD: the length, no body.
            let (status, headers, body) =
                fetch(&mut send, req("HEAD", addr, "/big/1234"), None).await;
            assert_eq!(status, 200);
            assert_eq!(headers["content-length"], "1234");
            assert!(body.is_empty());
        });
    });
}

#[test]
fn streamed_chunks_arrive_in_order() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let mut send = connect(addr, h2::client::Builder::new()).await;
            let mut s = send.clone().ready().await.unwrap();
            let (resp, _) = s.send_request(req("GET", addr, "/ticks/20"), true).unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            assert!(resp.headers().get("content-length").is_none());
            let mut body = resp.into_body();
            let mut frames = Vec::new();
            while let Some(chunk) = body.data().await {
                let chunk = chunk.unwrap();
                let _ = body.flow_control().release_capacity(chunk.len());
                frames.push(text(&chunk));
            }
            let want: String = (0..20).map(|i| format!("tick {i}\n")).collect();
            assert_eq!(frames.concat(), want);
            // Chunks were sent as they came, not collected into one.
            assert!(frames.len() > 1, "{frames:?}");
            // And a second request on the same connection after the stream ended.
            let (status, _, _) = fetch(&mut send, req("GET", addr, "/x"), None).await;
            assert_eq!(status, 200);
        });
    });
}

#[test]
fn request_head_details() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let mut send = connect(addr, h2::client::Builder::new()).await;
            let mut r = req("GET", addr, "/info");
            r.headers_mut().append("cookie", "a=1".parse().unwrap());
            r.headers_mut().append("cookie", "b=2".parse().unwrap());
            let (status, headers, body) = fetch(&mut send, r, None).await;
            assert_eq!(status, 200);
            assert!(headers.contains_key("date"));
            assert_eq!(
                text(&body),
                format!("tls=false version=HTTP/2.0 host=Some(\"{addr}\") cookies=a=1|b=2")
            );
            // An invalid authority is refused with 400 on that stream only.
            let bad = http::Request::builder()
                .uri("http://bad\\host/x")
                .body(())
                .ok();
            if let Some(bad) = bad {
                let (status, _, _) = fetch(&mut send, bad, None).await;
                assert_eq!(status, 400);
            }
            let (status, _, _) = fetch(&mut send, req("GET", addr, "/still"), None).await;
            assert_eq!(status, 200);
        });
    });
}

#[test]
fn h1_still_works_on_the_sniffing_port() {
    each_driver(ConnConfig::default(), |addr| {
        let mut c = Client::connect(addr);
        c.send("GET /one HTTP/1.1\r\nHost: t\r\n\r\n");
        let r = c.response(false);
        assert_eq!(r.status, 200);
        assert_eq!(
            r.text(),
            "GET /one q=None host=Some(\"t\") HTTP/1.1 body=empty:0:0"
        );
        // A method that starts like the preface.
        c.send("PUT /p HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\nhi");
        assert!(c.response(false).text().starts_with("PUT /p"));
        // The preface sent a byte at a time is still recognised.
        let mut c = Client::connect(addr);
        for b in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
            c.send([*b]);
        }
        // The server's SETTINGS frame: type 0x4 on stream 0.
        let mut head = [0u8; 9];
        std::io::Read::read_exact(c.stream(), &mut head).unwrap();
        assert_eq!(head[3], 4);
    });
}

/// Whether a connection was cut for abuse: GOAWAY ENHANCE_YOUR_CALM, or — when the
/// client was still writing as the server closed — the socket error that lost the GOAWAY.
fn cut_for_abuse(err: &h2::Error) -> bool {
    err.reason() == Some(Reason::ENHANCE_YOUR_CALM) || err.is_io()
}

async fn open_conn(
    addr: SocketAddr,
) -> (
    SendRequest<Bytes>,
    tokio::task::JoinHandle<Result<(), h2::Error>>,
) {
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::Builder::new()
        .handshake::<_, Bytes>(tcp)
        .await
        .unwrap();
    (send, tokio::spawn(conn))
}

#[test]
fn rapid_reset_before_accept_is_cut_off() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let (send, conn) = open_conn(addr).await;
            for i in 0..2000 {
                if conn.is_finished() {
                    break;
                }
                let Ok(mut s) = send.clone().ready().await else {
                    break;
                };
                let Ok((_resp, mut stream)) = s.send_request(req("GET", addr, "/slow/1000"), true)
                else {
                    break;
                };
                stream.send_reset(Reason::CANCEL);
                // Pacing, not synchronisation: the frames go out in bursts of ten.
                if i % 10 == 9 {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
            let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
            let err = ended.expect("connection ends").unwrap().unwrap_err();
            assert!(cut_for_abuse(&err), "{err:?}");
        });
        // The server itself is fine.
        block_on(async move {
            let mut send = connect(addr, h2::client::Builder::new()).await;
            assert_eq!(fetch(&mut send, req("GET", addr, "/x"), None).await.0, 200);
        });
    });
}

#[test]
fn resets_after_the_work_started_are_bounded_too() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let (send, conn) = open_conn(addr).await;
            // Waves of requests that reach the service, then are cancelled.
            let mut entered_so_far = 0;
            for _wave in 0..10 {
                if conn.is_finished() {
                    break;
                }
                let mut streams = Vec::new();
                for _ in 0..100 {
                    let Ok(mut s) = send.clone().ready().await else {
                        break;
                    };
                    match s.send_request(req("GET", addr, "/slow/2000"), true) {
                        Ok((resp, stream)) => streams.push((resp, stream)),
                        Err(_) => break,
                    }
                }
                // Reset only once the wave reached the service (the cut must come from
                // resets of running work, which the previous test does not cover).
                entered_so_far += streams.len() as u64;
                let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
                while !conn.is_finished() && entered(addr).await < entered_so_far {
                    assert!(tokio::time::Instant::now() < deadline, "wave not served");
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                for (_, mut stream) in streams {
                    stream.send_reset(Reason::CANCEL);
                }
                // Pacing between waves, not synchronisation: the resets go out first.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
            let err = ended.expect("connection ends").unwrap().unwrap_err();
            assert!(cut_for_abuse(&err), "{err:?}");
        });
    });
}

/// A stream whose client never opens its window is reset with CANCEL (the stream is no
/// longer wanted), not INTERNAL_ERROR (which says the server failed).
#[test]
fn a_window_kept_shut_resets_the_stream_with_cancel() {
    let mut cfg = ConnConfig::default();
    cfg.h2.write_timeout = Duration::from_millis(200);
    each_driver(cfg, |addr| {
        block_on(async move {
            let mut builder = h2::client::Builder::new();
            builder.initial_window_size(0);
            let send = connect(addr, builder).await;
            let mut send = send.ready().await.unwrap();
            let (resp, _stream) = send
                .send_request(req("GET", addr, "/big/100000"), true)
                .unwrap();
            let resp = resp.await.unwrap();
            assert_eq!(resp.status(), 200);
            let mut body = resp.into_body();
            let err = tokio::time::timeout(Duration::from_secs(30), body.data())
                .await
                .expect("the server gives up on the stream")
                .expect("a reset, not the end of the body")
                .unwrap_err();
            assert_eq!(err.reason(), Some(Reason::CANCEL), "{err:?}");
        });
    });
}

/// An idle connection whose client never answers PING (so the GOAWAY's round trip never
/// completes) is closed once the grace period is over, instead of holding its socket
/// for ever.
#[test]
fn an_idle_connection_that_ignores_ping_is_closed() {
    use std::io::{Read, Write};
    let mut cfg = ConnConfig::default();
    cfg.h2.idle_timeout = Duration::from_millis(100);
    cfg.h2.goaway_grace = Duration::from_millis(300);
    each_driver(cfg, |addr| {
        let mut tcp = std::net::TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").unwrap();
        tcp.write_all(&[0, 0, 0, 4, 0, 0, 0, 0, 0]).unwrap(); // SETTINGS
        let (mut goaway, mut ping, mut acked) = (false, false, false);
        loop {
            let mut head = [0u8; 9];
            match tcp.read_exact(&mut head) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
                Err(e) => panic!("the connection stays open (goaway={goaway}, ping={ping}): {e}"),
            }
            let len = u32::from_be_bytes([0, head[0], head[1], head[2]]) as usize;
            let mut payload = vec![0u8; len];
            tcp.read_exact(&mut payload).unwrap();
            match (head[3], head[4]) {
                // The server's SETTINGS: acknowledged, as any client does.
                (4, 0) if !acked => {
                    tcp.write_all(&[0, 0, 0, 4, 1, 0, 0, 0, 0]).unwrap();
                    acked = true;
                }
                (6, 0) => ping = true, // and never answered
                (7, _) => goaway = true,
                _ => {}
            }
        }
        assert!(goaway, "a GOAWAY before the close");
        assert!(ping, "the server asked for a PING round trip");
    });
}

/// A flood of requests the server refuses for load (503 before the client's RST_STREAM
/// could arrive) counts against the rapid-reset budget like cancelled ones.
#[test]
fn requests_refused_for_load_count_as_wasted_streams() {
    each_driver(ConnConfig::default(), |addr| {
        block_on(async move {
            let (send, conn) = open_conn(addr).await;
            let mut answered = 0;
            for _ in 0..2000 {
                if conn.is_finished() {
                    break;
                }
                let Ok(mut s) = send.clone().ready().await else {
                    break;
                };
                let Ok((resp, mut stream)) = s.send_request(req("GET", addr, "/refuse"), true)
                else {
                    break;
                };
                match resp.await {
                    Ok(r) if r.status() == 503 => answered += 1,
                    _ => break,
                }
                stream.send_reset(Reason::CANCEL);
            }
            assert!(answered > 0);
            let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
            let err = ended.expect("connection ends").unwrap().unwrap_err();
            assert!(cut_for_abuse(&err), "{err:?}");
        });
    });
}

#[test]
fn graceful_shutdown_sends_goaway_and_finishes_open_streams() {
    for driver in drivers() {
        let addr = start_mode(Mode::Sniff(ConnConfig::default()), driver);
        block_on(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let (send, conn) = h2::client::Builder::new()
                .handshake::<_, Bytes>(tcp)
                .await
                .unwrap();
            let conn = tokio::spawn(conn);
            let slow = {
                let mut send = send.clone();
                tokio::spawn(
                    async move { fetch(&mut send, req("GET", addr, "/slow/300"), None).await },
                )
            };
            until_entered(addr, 1).await;
            let (status, _, _) =
                fetch(&mut send.clone(), req("GET", addr, "/shutdown"), None).await;
            assert_eq!(status, 200);
            // The stream that was open still completes.
            let (status, _, body) = slow.await.unwrap();
            assert_eq!(status, 200);
            assert!(text(&body).starts_with("GET /slow/300"));
            // Then the server closes the connection cleanly (GOAWAY NO_ERROR).
            let ended = tokio::time::timeout(Duration::from_secs(10), conn).await;
            ended.expect("connection closes").unwrap().unwrap();
        });
    }
}

mod tls {
    use super::*;
    use monoio::io::{AsyncReadRent, AsyncWriteRent, AsyncWriteRentExt};
    use rustls_pki_types::ServerName;
    use uring_http::tls::{TlsAcceptor, TlsFiles, TlsVersion};

    struct Fixture {
        acceptor: Arc<TlsAcceptor>,
        cert_der: rustls_pki_types::CertificateDer<'static>,
        dir: std::path::PathBuf,
    }

    impl Drop for Fixture {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }

    fn fixture() -> Fixture {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        let dir = std::env::temp_dir().join(format!("uring-http-h2-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&c, cert.pem()).unwrap();
        std::fs::write(&k, key.serialize_pem()).unwrap();
        let acceptor = TlsAcceptor::new(TlsFiles {
            cert: c,
            key: k,
            min_version: TlsVersion::Tls12,
        })
        .unwrap();
        Fixture {
            acceptor: Arc::new(acceptor),
            cert_der: cert.der().clone(),
            dir,
        }
    }

    fn client_config(
        cert: &rustls_pki_types::CertificateDer<'static>,
        alpn: &[&[u8]],
    ) -> Arc<rustls::ClientConfig> {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(cert.clone()).unwrap();
        let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        cfg.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Arc::new(cfg)
    }

    fn monoio_block_on<F: std::future::Future>(f: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn alpn_picks_h2_or_http11_and_requests_see_tls() {
        let fx = fixture();
        for driver in drivers() {
            let addr = start_mode(
                Mode::Tls(ConnConfig::default(), Arc::clone(&fx.acceptor)),
                driver,
            );
            let cert = fx.cert_der.clone();
            monoio_block_on(async move {
                // h2 offered (with http/1.1): h2 is chosen.
                let tcp = monoio::net::TcpStream::connect(addr).await.unwrap();
                let connector =
                    monoio_rustls::TlsConnector::from(client_config(&cert, &[b"h2", b"http/1.1"]));
                let name = ServerName::try_from("localhost").unwrap();
                let tls = connector.connect(name.clone(), tcp).await.unwrap();
                assert_eq!(tls.alpn_protocol().as_deref(), Some(&b"h2"[..]));
                let io = monoio_compat::StreamWrapper::new(tls);
                let (send, conn) = h2::client::handshake(io).await.unwrap();
                monoio::spawn(async move {
                    let _ = conn.await;
                });
                let mut send = send.ready().await.unwrap();
                let (resp, _) = send
                    .send_request(
                        http::Request::get("https://localhost/info")
                            .body(())
                            .unwrap(),
                        true,
                    )
                    .unwrap();
                let resp = resp.await.unwrap();
                assert_eq!(resp.status(), 200);
                let body = read_body(resp.into_body()).await.unwrap();
                assert_eq!(
                    text(&body),
                    "tls=true version=HTTP/2.0 host=Some(\"localhost\") cookies="
                );

                // Only http/1.1 offered: HTTP/1.1 over TLS.
                let tcp = monoio::net::TcpStream::connect(addr).await.unwrap();
                let connector =
                    monoio_rustls::TlsConnector::from(client_config(&cert, &[b"http/1.1"]));
                let mut tls = connector.connect(name, tcp).await.unwrap();
                assert_eq!(tls.alpn_protocol().as_deref(), Some(&b"http/1.1"[..]));
                let (r, _) = tls
                    .write_all(&b"GET /info HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"[..])
                    .await;
                r.unwrap();
                let _ = tls.flush().await;
                let mut all = Vec::new();
                loop {
                    let buf = vec![0u8; 4096];
                    let (r, buf) = tls.read(buf).await;
                    match r {
                        Ok(0) | Err(_) => break,
                        Ok(n) => all.extend_from_slice(&buf[..n]),
                    }
                }
                let all = String::from_utf8_lossy(&all);
                assert!(all.starts_with("HTTP/1.1 200"), "{all}");
                assert!(
                    all.ends_with("tls=true version=HTTP/1.1 host=Some(\"h\") cookies="),
                    "{all}"
                );
            });
        }
    }
}
