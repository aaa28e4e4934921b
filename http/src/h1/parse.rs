//! Parsing and validating a request head (request line and header section).
//!
//! httparse does the tokenising; this file adds what httparse leaves to its caller or
//! tolerates: limits, strict CRLF line endings, Host rules, and the framing decision.

use std::mem::MaybeUninit;

use bytes::Bytes;

use super::fields::{classify, FieldState, Known};
use super::target::split_target;
use super::{H1Config, H1Error};
use crate::{Headers, Method, RequestHead, Version};

/// How the body of a request is delimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyFraming {
    /// No body.
    None,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

impl BodyFraming {
    /// The body's length when the head declares it.
    pub fn declared_len(self) -> Option<u64> {
        match self {
            BodyFraming::Length(n) => Some(n),
            BodyFraming::None | BodyFraming::Chunked => None,
        }
    }
}

/// A parsed, validated request head.
#[derive(Debug)]
pub struct Head {
    /// What becomes the request (the authority: the absolute-form target's, else the
    /// Host header's).
    pub request: RequestHead,
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// How the body that follows is delimited.
    pub framing: BodyFraming,
    /// Whether the client wants the connection kept open after this request.
    pub keep_alive: bool,
    /// `Expect: 100-continue` was sent.
    pub expect_continue: bool,
    /// Bytes of the head in the input, including the blank line that ends it.
    pub len: usize,
}

impl std::ops::Deref for Head {
    type Target = RequestHead;
    fn deref(&self) -> &RequestHead {
        &self.request
    }
}

/// httparse needs a slice of header slots; this many live on the stack.
const STACK_HEADERS: usize = 128;

/// Parses the request head at the start of `buf`. `Ok(None)`: incomplete, read more.
/// The limits of `cfg` apply to the incomplete head too, so a client cannot make the
/// server buffer more than `max_header_bytes` before it answers.
pub fn parse_head(buf: &[u8], cfg: &H1Config) -> Result<Option<Head>, H1Error> {
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap;
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if cfg.max_headers <= STACK_HEADERS {
        &mut stack[..cfg.max_headers]
    } else {
        heap = Vec::with_capacity(cfg.max_headers);
        heap.resize_with(cfg.max_headers, MaybeUninit::uninit);
        &mut heap
    };
    let mut req = httparse::Request::new(&mut []);
    let len = match req.parse_with_uninit_headers(buf, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            check_bare_line_endings(buf)?;
            if buf.len() > cfg.max_header_bytes || buf.len() > cfg.max_uri_len {
                if target_len(buf) > cfg.max_uri_len {
                    return Err(H1Error::UriTooLong);
                }
                if buf.len() > cfg.max_header_bytes {
                    return Err(H1Error::HeadersTooLarge);
                }
            }
            return Ok(None);
        }
        Err(e) => return Err(map_httparse_error(e, buf)),
    };
    let head = &buf[..len];
    check_bare_line_endings(head)?;
    if len > cfg.max_header_bytes {
        return Err(if target_len(head) > cfg.max_uri_len {
            H1Error::UriTooLong
        } else {
            H1Error::HeadersTooLarge
        });
    }

    let version = match req.version {
        Some(0) => Version::Http10,
        _ => Version::Http11,
    };
    let target_str = req.path.unwrap_or("");
    if target_str.len() > cfg.max_uri_len {
        return Err(H1Error::UriTooLong);
    }
    let method = Method::from_token(req.method.unwrap_or(""));
    let target = split_target(target_str, &method)?;

    // One copy of the head backs every header value: one allocation instead of one per
    // value, and the read buffer stays free for the next request.
    let raw = Bytes::copy_from_slice(head);
    let mut headers = Headers::with_capacity(req.headers.len());
    let mut fields = FieldState::default();
    let mut host_value: &[u8] = b"";
    for h in req.headers.iter() {
        if let Some(kind) = classify(h.name) {
            fields.add(kind, h.value)?;
            if kind == Known::Host {
                host_value = h.value;
            }
        }
        // httparse's values borrow from `buf`; the same range of the copy backs ours.
        let start = h.value.as_ptr() as usize - buf.as_ptr() as usize;
        headers.push(h.name, raw.slice(start..start + h.value.len()));
    }

    if fields.host_count > 1 {
        return Err(H1Error::BadRequest("more than one Host header\n"));
    }
    if fields.host_count == 0 && version == Version::Http11 {
        return Err(H1Error::BadRequest("missing Host header\n"));
    }
    if fields.host_count == 1 && !fields.host_valid {
        return Err(H1Error::BadRequest("invalid Host header\n"));
    }
    if fields.transfer_encoding && version == Version::Http10 {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
        return Err(H1Error::BadRequest(
            "Transfer-Encoding in an HTTP/1.0 request\n",
        ));
    }
    if fields.transfer_encoding && fields.content_length.is_some() {
        return Err(H1Error::BadRequest(
            "both Content-Length and Transfer-Encoding\n",
        ));
    }
    let framing = if fields.chunked()? {
        BodyFraming::Chunked
    } else {
        match fields.content_length {
            Some(0) | None => BodyFraming::None,
            Some(n) => BodyFraming::Length(n),
        }
    };

    let host = match target.authority {
        Some(authority) => Some(authority.to_owned()),
        // valid_host admitted only ASCII, so this conversion cannot fail.
        None if !host_value.is_empty() => std::str::from_utf8(host_value).ok().map(str::to_owned),
        None => None,
    };
    let keep_alive = !fields.conn_close
        && match version {
            Version::Http10 => fields.conn_keep_alive,
            _ => true,
        };

    Ok(Some(Head {
        request: RequestHead {
            method,
            path: target.path.to_owned(),
            query: target.query.map(str::to_owned),
            target: target_str.to_owned(),
            headers,
            host,
        },
        version,
        framing,
        keep_alive,
        expect_continue: fields.expect_continue,
        len,
    }))
}

/// RFC 9112 §2.2 lets a server accept a bare LF as a line ending; this server does not:
/// where front proxies disagree about line endings, requests can be smuggled. Also
/// refuses obs-fold (a line starting with SP or HT, §5.2).
fn check_bare_line_endings(head: &[u8]) -> Result<(), H1Error> {
    for i in memchr::memchr2_iter(b'\r', b'\n', head) {
        if head[i] == b'\r' {
            // A CR at the very end of an incomplete head may still get its LF.
            if i + 1 < head.len() && head[i + 1] != b'\n' {
                return Err(H1Error::BadRequest("bare CR in request head\n"));
            }
        } else {
            if i == 0 || head[i - 1] != b'\r' {
                return Err(H1Error::BadRequest("bare LF in request head\n"));
            }
            if matches!(head.get(i + 1), Some(b' ' | b'\t')) {
                return Err(H1Error::BadRequest(
                    "obsolete line folding in request head\n",
                ));
            }
        }
    }
    Ok(())
}

/// Length of the (possibly incomplete) request-target: from after the method's space
/// to the next space or line end.
fn target_len(buf: &[u8]) -> usize {
    let start = match memchr::memchr(b' ', buf) {
        Some(i) => i + 1,
        None => return 0,
    };
    let rest = &buf[start..];
    memchr::memchr3(b' ', b'\r', b'\n', rest).unwrap_or(rest.len())
}

fn map_httparse_error(e: httparse::Error, buf: &[u8]) -> H1Error {
    match e {
        httparse::Error::TooManyHeaders => H1Error::HeadersTooLarge,
        httparse::Error::Version => version_error(buf),
        httparse::Error::HeaderName => H1Error::BadRequest("invalid header name\n"),
        httparse::Error::HeaderValue => H1Error::BadRequest("invalid header value\n"),
        httparse::Error::NewLine => H1Error::BadRequest("invalid line ending\n"),
        httparse::Error::Token => H1Error::BadRequest("malformed request line\n"),
        _ => H1Error::BadRequest("malformed request\n"),
    }
}

/// httparse says only "bad version". A well-formed `HTTP/x.y` that is not 1.0 or 1.1 on
/// an otherwise well-formed request line gets 505; anything else is a malformed line.
fn version_error(buf: &[u8]) -> H1Error {
    let start = buf
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(buf.len());
    let buf = &buf[start..];
    let line = &buf[..memchr::memchr2(b'\r', b'\n', buf).unwrap_or(buf.len())];
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return H1Error::BadRequest("malformed request line\n");
    };
    if method.is_empty() || target.is_empty() {
        return H1Error::BadRequest("malformed request line\n");
    }
    let well_formed = match version {
        [b'H', b'T', b'T', b'P', b'/', major, rest @ ..] if major.is_ascii_digit() => {
            matches!(rest, [] | [b'.'] | [b'.', b'0'..=b'9'])
        }
        _ => false,
    };
    if well_formed && version != b"HTTP/1.0" && version != b"HTTP/1.1" {
        H1Error::VersionNotSupported
    } else {
        H1Error::BadRequest("malformed request line\n")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> H1Config {
        H1Config::default()
    }

    fn parse(s: &str) -> Result<Option<Head>, H1Error> {
        parse_head(s.as_bytes(), &cfg())
    }

    fn ok(s: &str) -> Head {
        parse(s).expect("valid").expect("complete")
    }

    fn status(s: &str) -> u16 {
        match parse(s) {
            Err(e) => e.status(),
            Ok(Some(_)) => 200,
            Ok(None) => 0,
        }
    }

    #[test]
    fn simple_get() {
        let h =
            ok("GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty:\r\n\r\nrest");
        assert_eq!(h.method, Method::Get);
        assert_eq!(h.target, "/a/b?c=d");
        assert_eq!(h.path, "/a/b");
        assert_eq!(h.query.as_deref(), Some("c=d"));
        assert_eq!(h.version, Version::Http11);
        assert_eq!(h.host.as_deref(), Some("example.com"));
        assert_eq!(h.framing, BodyFraming::None);
        assert!(h.keep_alive);
        assert!(!h.expect_continue);
        assert_eq!(
            h.len,
            "GET /a/b?c=d HTTP/1.1\r\nHost: example.com\r\nAccept: */*\r\nX-Empty:\r\n\r\n".len()
        );
        let names: Vec<_> = h
            .headers
            .iter()
            .map(|(n, v)| (n.to_owned(), v.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Host".to_owned(), Bytes::from_static(b"example.com")),
                ("Accept".to_owned(), Bytes::from_static(b"*/*")),
                ("X-Empty".to_owned(), Bytes::new()),
            ]
        );
    }

    #[test]
    fn incomplete_heads() {
        assert!(parse("").unwrap().is_none());
        assert!(parse("GET / HTTP/1.1\r\nHost: a\r\n").unwrap().is_none());
        assert!(parse("GET / HTTP/1.1\r\nHost: a\r\n\r").unwrap().is_none());
        assert!(parse("GET / HTTP/1.1\r").unwrap().is_none());
    }

    #[test]
    fn leading_empty_line_is_skipped() {
        let h = ok("\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(h.path, "/");
    }

    #[test]
    fn keep_alive_rules() {
        assert!(!ok("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").keep_alive);
        assert!(!ok("GET / HTTP/1.0\r\n\r\n").keep_alive);
        let h = ok("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert!(h.keep_alive);
        assert_eq!(h.version, Version::Http10);
        assert_eq!(h.host, None);
    }

    #[test]
    fn framing() {
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n").framing,
            BodyFraming::Length(5)
        );
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n").framing,
            BodyFraming::None
        );
        assert_eq!(
            ok("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n").framing,
            BodyFraming::Chunked
        );
        assert_eq!(status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"), 400);
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"),
            200
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n"),
            501
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n"),
            400
        );
        assert_eq!(
            status("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            400
        );
    }

    #[test]
    fn expect() {
        assert!(
            ok("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n")
                .expect_continue
        );
        assert_eq!(
            status("POST / HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\n\r\n"),
            417
        );
    }

    #[test]
    fn host_rules() {
        assert_eq!(status("GET / HTTP/1.1\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), 400);
        assert_eq!(status("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n"), 400);
        for bad in ["a b", "a/b", "a\\b", "u@h", "h\x01"] {
            assert_eq!(
                status(&format!("GET / HTTP/1.1\r\nHost: {bad}\r\n\r\n")),
                400,
                "{bad:?}"
            );
        }
        // Empty Host is what RFC 9112 §3.2 asks of a client that has no authority.
        assert_eq!(ok("GET / HTTP/1.1\r\nHost:\r\n\r\n").host, None);
    }

    #[test]
    fn absolute_form_authority_wins() {
        let h = ok("GET http://real.example:8080/p?q=1 HTTP/1.1\r\nHost: other\r\n\r\n");
        assert_eq!(h.host.as_deref(), Some("real.example:8080"));
        assert_eq!(h.path, "/p");
        assert_eq!(h.query.as_deref(), Some("q=1"));
        assert_eq!(h.target, "http://real.example:8080/p?q=1");
    }

    #[test]
    fn asterisk_form() {
        let h = ok("OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(h.path, "*");
        assert_eq!(h.query, None);
        assert_eq!(status("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("GET foo HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
        assert_eq!(status("CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn malformed_heads() {
        for bad in [
            "GET / HTTP/1.1\nHost: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\n\n",
            "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n",
            "GET / HTTP/1.1\r\n Host: a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHöst: a\r\n\r\n",
            "GET / HTTP/1.1\r\nX(y): a\r\n\r\n",
            "GET / HTTP/1.1\r\n: a\r\n\r\n",
            "GET / HTTP/1.1\r\nX: a\x00b\r\nHost: a\r\n\r\n",
            "GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /  HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.1 x\r\nHost: a\r\n\r\n",
            "GET / http/1.1\r\nHost: a\r\n\r\n",
            "G@T / HTTP/1.1\r\nHost: a\r\n\r\n",
            "GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        ] {
            assert_eq!(status(bad), 400, "{bad:?}");
        }
    }

    #[test]
    fn raw_utf8_target_is_kept_but_other_bytes_are_not() {
        // Like nginx, accept UTF-8 sent unencoded; the path is kept as sent.
        assert_eq!(
            ok("GET /caf\u{e9} HTTP/1.1\r\nHost: a\r\n\r\n").path,
            "/caf\u{e9}"
        );
        let latin1 = b"GET /caf\xe9 HTTP/1.1\r\nHost: a\r\n\r\n";
        assert_eq!(parse_head(latin1, &cfg()).unwrap_err().status(), 400);
    }

    #[test]
    fn bare_lf_in_incomplete_head_is_refused_early() {
        assert_eq!(status("GET / HTTP/1.1\nHost: a"), 400);
        assert_eq!(status("GET / HTTP/1.1\rX"), 400);
    }

    #[test]
    fn version_not_supported() {
        assert_eq!(status("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/0.9\r\n\r\n"), 505);
        assert_eq!(status("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"), 505);
        assert_eq!(status("GET / HTTP/x.1\r\nHost: a\r\n\r\n"), 400);
    }

    #[test]
    fn limits() {
        let mut c = cfg();
        c.max_header_bytes = 100;
        c.max_uri_len = 50;
        c.max_headers = 2;
        let p = |s: &str| {
            parse_head(s.as_bytes(), &c)
                .map(|h| h.is_some())
                .map_err(|e| e.status())
        };
        assert_eq!(p("GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n"), Ok(true));
        assert_eq!(
            p("GET / HTTP/1.1\r\nHost: a\r\nA: b\r\nC: d\r\n\r\n"),
            Err(431)
        );
        let long_value = format!(
            "GET / HTTP/1.1\r\nHost: a\r\nA: {}\r\n\r\n",
            "x".repeat(100)
        );
        assert_eq!(p(&long_value), Err(431));
        // Incomplete but already over the limit: refused without waiting for the rest.
        assert_eq!(p(&long_value[..long_value.len() - 4]), Err(431));
        let long_uri = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "u".repeat(60));
        assert_eq!(p(&long_uri), Err(414));
        assert_eq!(p(&long_uri[..40 + 20]), Err(414));
        let very_long_uri = format!("GET /{} HTTP/1.1\r\n", "u".repeat(500));
        assert_eq!(p(&very_long_uri), Err(414));
    }

    #[test]
    fn many_headers_beyond_the_stack_slots() {
        let mut c = cfg();
        c.max_headers = 200;
        let mut s = String::from("GET / HTTP/1.1\r\nHost: a\r\n");
        for i in 0..150 {
            s.push_str(&format!("X-{i}: {i}\r\n"));
        }
        s.push_str("\r\n");
        let h = parse_head(s.as_bytes(), &c).unwrap().unwrap();
        assert_eq!(h.headers.len(), 151);
        c.max_headers = 100;
        assert_eq!(
            parse_head(s.as_bytes(), &c).unwrap_err(),
            H1Error::HeadersTooLarge
        );
    }

    #[test]
    fn other_methods_are_kept() {
        let h = ok("PURGE /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(h.method, Method::Other("PURGE".into()));
    }
}
