//! What the middleware chain costs per request, in ns, all of it and each middleware
//! alone: a hello.php-shaped request and response through the chain, no I/O, no PHP.
//! A micro-benchmark for changes to src/middleware/ (bench/run measures whole servers).
//!
//! `cargo run --release -p uring-bench --bin middleware_bench` (BENCH_ONLY=<name> for one
//! chain, BENCH_N=<requests>).

use std::time::Instant;

use bytes::Bytes;
use uring_http::{Body, Headers, Method, Request, RequestBody, Response, Version};
use uring_php::config::Config;
use uring_php::middleware::{Chain, Operations, RequestCtx, SiteMiddleware};
use uring_php::sites::SiteSpec;

fn request() -> Request {
    let mut headers = Headers::with_capacity(4);
    headers.push("Host", Bytes::from_static(b"localhost:8080"));
    headers.push("User-Agent", Bytes::from_static(b"wrk"));
    headers.push("Accept", Bytes::from_static(b"*/*"));
    Request {
        method: Method::Get,
        target: "/hello.php".into(),
        path: "/hello.php".into(),
        query: None,
        version: Version::Http11,
        headers,
        host: Some("localhost:8080".into()),
        body: RequestBody::Empty,
        remote_addr: "127.0.0.1:5555".parse().unwrap(),
        local_addr: "127.0.0.1:8080".parse().unwrap(),
        tls: false,
        interim: Default::default(),
        conn_fd: None,
    }
}

fn main() {
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .enable_timer()
        .build()
        .unwrap();
    rt.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("a.log");
        let cfg = Config::parse_from_iter([
            "x",
            "--document-root",
            dir.path().to_str().unwrap(),
            "--access-log",
            "1",
            "--access-log-file",
            log.to_str().unwrap(),
            "--compression",
            "1",
            "--rate-limit",
            "1000000000",
            "--trace-context",
            "1",
            "--internal-addr",
            "127.0.0.1:0",
            "--static-cache-ttl",
            "1h",
            "--error-pages-dir",
            dir.path().to_str().unwrap(),
        ])
        .unwrap();
        let all = Operations::start(&cfg, None, None, 1).unwrap();
        let site = SiteMiddleware::start(&SiteSpec::from_env(&cfg), &cfg, None).unwrap();
        // The server-wide chain and the site's, as one (their priorities interleave
        // the same way).
        let both = || {
            let mut items = all.chain_for_core(0).into_items();
            items.extend(site.chain().into_items());
            Chain::new(items)
        };
        let full = both();
        let mut chains: Vec<(String, Chain)> = vec![("all".into(), full)];
        for keep in [
            "access_log",
            "metrics",
            "trace_context",
            "rate_limit",
            "compression",
            "static_cache",
            "error_pages",
        ] {
            let c = both();
            let items = c
                .into_items()
                .into_iter()
                .filter(|m| m.name() == keep)
                .collect();
            chains.push((keep.into(), Chain::new(items)));
        }
        chains.push(("none".into(), Chain::default()));
        let only = std::env::var("BENCH_ONLY").ok();
        for (name, chain) in chains {
            if only.as_deref().is_some_and(|o| o != name) {
                continue;
            }
            let n = if only.is_some() || name == "all" {
                std::env::var("BENCH_N")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(200_000)
            } else {
                200_000
            };
            let t = Instant::now();
            for i in 0..n {
                let mut req = request();
                let mut ctx = RequestCtx::new(&req, i);
                if !chain.is_empty() {
                    let _ = chain.on_request(&mut req, &mut ctx);
                }
                drop(req);
                let mut h = Headers::with_capacity(2);
                h.push(
                    "Content-Type",
                    Bytes::from_static(b"text/html; charset=UTF-8"),
                );
                let resp = Response::new(200, h, Body::Bytes(Bytes::from_static(b"Hello, World!")));
                let resp = chain.on_response(chain.len(), &mut ctx, resp);
                std::hint::black_box(resp);
            }
            println!(
                "{name}: {:.0} ns per request",
                t.elapsed().as_nanos() as f64 / n as f64
            );
            chain.finish();
        }
        all.finish();
    });
}
