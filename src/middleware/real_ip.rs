//! The client's address behind a reverse proxy or load balancer (`TRUSTED_PROXIES`,
//! `REAL_IP_HEADER`), as nginx's realip module with `real_ip_recursive on` finds it.
//!
//! Only when the TCP peer is a trusted proxy is its header believed. The header's
//! addresses (every field of that name, comma-separated, oldest hop first) are walked
//! from the right, skipping trusted proxies; the first untrusted one is the client. An
//! entry that is not an IP address ends the walk, so a client cannot smuggle a value past
//! the proxy that appended the real one. The result becomes the request's remote address
//! for everything after it: `REMOTE_ADDR` in PHP, the rate limit, the access log.

use std::net::{IpAddr, SocketAddr};

use ipnet::IpNet;
use uring_http::{Request, Response};

use super::{Middleware, RequestCtx};

pub struct RealIp {
    trusted: Vec<IpNet>,
    header: String,
}

impl RealIp {
    pub fn new(trusted: Vec<IpNet>, header: String) -> RealIp {
        RealIp { trusted, header }
    }

    fn is_trusted(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.trusted.iter().any(|n| n.contains(&ip))
    }

    /// The client address `req`'s proxy chain names, when the peer is trusted.
    fn client_of(&self, req: &Request) -> Option<IpAddr> {
        if !self.is_trusted(req.remote_addr.ip()) {
            return None;
        }
        let mut found = None;
        for field in req.headers.get_all(&self.header).rev() {
            let text = std::str::from_utf8(field).ok()?;
            for entry in text.rsplit(',') {
                let entry = entry.trim();
                if entry.is_empty() {
                    continue;
                }
                let ip = parse_entry(entry)?;
                found = Some(ip);
                if !self.is_trusted(ip) {
                    return found;
                }
            }
        }
        // Every hop was a trusted proxy: the oldest one is the best answer.
        found
    }
}

/// An address as proxies write it: `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443`,
/// `203.0.113.7:51234`.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .map(|ip| ip.to_canonical())
}

impl Middleware for RealIp {
    fn name(&self) -> &'static str {
        "real_ip"
    }

    fn priority(&self) -> i32 {
        -10
    }

    fn on_request(&self, req: &mut Request, ctx: &mut RequestCtx) -> Option<Response> {
        if let Some(ip) = self.client_of(req) {
            // The port stays the connection's: proxies do not pass the client's.
            req.remote_addr = SocketAddr::new(ip, req.remote_addr.port());
            ctx.remote = req.remote_addr;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use uring_http::{Headers, Method, RequestBody, Version};

    fn req(peer: &str, xff: &[&str]) -> Request {
        let mut headers = Headers::new();
        for v in xff {
            headers.push("X-Forwarded-For", Bytes::copy_from_slice(v.as_bytes()));
        }
        Request {
            method: Method::Get,
            target: "/".into(),
            path: "/".into(),
            query: None,
            version: Version::Http11,
            headers,
            host: None,
            body: RequestBody::Empty,
            remote_addr: peer.parse().unwrap(),
            local_addr: "127.0.0.1:80".parse().unwrap(),
            tls: false,
            interim: Default::default(),
            conn_fd: None,
        }
    }

    fn real(peer: &str, xff: &[&str]) -> String {
        let m = RealIp::new(
            vec!["10.0.0.0/8".parse().unwrap(), "::1/128".parse().unwrap()],
            "x-forwarded-for".into(),
        );
        let mut r = req(peer, xff);
        let mut ctx = RequestCtx::new(&r, 1);
        assert!(m.on_request(&mut r, &mut ctx).is_none());
        assert_eq!(ctx.remote, r.remote_addr);
        r.remote_addr.to_string()
    }

    #[test]
    fn only_trusted_peers_are_believed() {
        assert_eq!(real("203.0.113.9:5000", &["1.2.3.4"]), "203.0.113.9:5000");
        assert_eq!(real("10.1.2.3:5000", &["1.2.3.4"]), "1.2.3.4:5000");
        assert_eq!(real("[::ffff:10.1.2.3]:5000", &["1.2.3.4"]), "1.2.3.4:5000");
        assert_eq!(real("[::1]:5000", &["2001:db8::7"]), "[2001:db8::7]:5000");
        assert_eq!(real("10.1.2.3:5000", &[]), "10.1.2.3:5000");
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        // The client claims 6.6.6.6; the edge proxy appended the real 1.2.3.4, an
        // inner proxy 10.0.0.5.
        assert_eq!(
            real("10.0.0.9:1", &["6.6.6.6, 1.2.3.4, 10.0.0.5"]),
            "1.2.3.4:1"
        );
        // Several fields are one list, in order.
        assert_eq!(
            real("10.0.0.9:1", &["6.6.6.6", "1.2.3.4, 10.0.0.5"]),
            "1.2.3.4:1"
        );
        // Ports and brackets as some proxies write them.
        assert_eq!(real("10.0.0.9:1", &["1.2.3.4:5555"]), "1.2.3.4:1");
        assert_eq!(
            real("10.0.0.9:1", &["[2001:db8::1]:443"]),
            "[2001:db8::1]:1"
        );
        // Only proxies: the oldest.
        assert_eq!(real("10.0.0.9:1", &["10.0.0.1, 10.0.0.2"]), "10.0.0.1:1");
    }

    #[test]
    fn garbage_stops_the_walk() {
        assert_eq!(real("10.0.0.9:1", &["unknown"]), "10.0.0.9:1");
        assert_eq!(
            real("10.0.0.9:1", &["1.2.3.4, junk, 10.0.0.5"]),
            "10.0.0.9:1"
        );
        assert_eq!(real("10.0.0.9:1", &["junk, 1.2.3.4"]), "1.2.3.4:1");
    }
}
