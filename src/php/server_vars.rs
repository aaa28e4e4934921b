//! `$_SERVER` as php-fpm fills it behind nginx: Debian's fastcgi_params plus
//! SCRIPT_FILENAME, PATH_INFO and HTTP_HOST, then every request header as HTTP_*, then
//! the server's own entries.

use std::net::SocketAddr;

use super::ffi::uring_var;
use super::request::ScriptRequest;

pub const SERVER_SOFTWARE: &str = concat!("uring_php/", env!("CARGO_PKG_VERSION"));

/// Keys and values in one arena; `vars` points into it once it is complete.
pub(crate) struct ServerVars {
    arena: Vec<u8>,
    vars: Vec<uring_var>,
}

struct Builder {
    arena: Vec<u8>,
    /// (key offset, value offset, value length)
    entries: Vec<(usize, usize, usize)>,
}

impl Builder {
    fn add(&mut self, key: &str, value: &[u8]) {
        let k = self.arena.len();
        self.arena.extend_from_slice(key.as_bytes());
        self.arena.push(0);
        let v = self.arena.len();
        self.arena.extend_from_slice(value);
        self.entries.push((k, v, value.len()));
    }

    fn add_str(&mut self, key: &str, value: &str) {
        self.add(key, value.as_bytes());
    }
}

impl ServerVars {
    /// Like `build`, with `first` ahead of the request's own entries (which win over
    /// them in PHP's `$_SERVER`, as the CGI request variables win over the environment).
    pub fn build_with(
        req: &ScriptRequest,
        worker_id: usize,
        first: &[(String, Vec<u8>)],
    ) -> ServerVars {
        let mut b = Builder {
            arena: Vec::with_capacity(2048),
            entries: Vec::with_capacity(48 + first.len()),
        };
        for (k, v) in first {
            b.add(k, v);
        }
        let content_type = req
            .headers
            .get("Content-Type")
            .map(|v| v.as_ref())
            .unwrap_or(b"");
        // Empty when there is no body, and for a body still streaming in whose length
        // the client did not declare (chunked): PHP reads it to its end regardless.
        let content_length = match req.body.known_len() {
            Some(0) if !req.headers.contains("Content-Length") => String::new(),
            Some(n) => n.to_string(),
            None => String::new(),
        };
        let remote = canonical(req.remote_addr);
        let local = canonical(req.local_addr);

        b.add_str("QUERY_STRING", &req.query);
        b.add_str("REQUEST_METHOD", req.method.as_str());
        b.add("CONTENT_TYPE", content_type);
        b.add_str("CONTENT_LENGTH", &content_length);
        b.add_str("SCRIPT_NAME", &req.script_name);
        b.add_str("REQUEST_URI", &req.uri);
        // nginx's $document_uri after `try_files $fastcgi_script_name`: the script.
        b.add_str("DOCUMENT_URI", &req.script_name);
        b.add_str("DOCUMENT_ROOT", &req.document_root);
        b.add_str("SERVER_PROTOCOL", req.version.as_str());
        b.add_str("REQUEST_SCHEME", if req.tls { "https" } else { "http" });
        if req.tls {
            b.add_str("HTTPS", "on");
        }
        b.add_str("GATEWAY_INTERFACE", "CGI/1.1");
        b.add_str("SERVER_SOFTWARE", SERVER_SOFTWARE);
        b.add_str("REMOTE_ADDR", &remote.ip().to_string());
        b.add_str("REMOTE_PORT", &remote.port().to_string());
        b.add("REMOTE_USER", &basic_auth_user(req));
        b.add_str("SERVER_ADDR", &local.ip().to_string());
        b.add_str("SERVER_PORT", &local.port().to_string());
        let server_name = match (&req.server_name, &req.host) {
            (Some(name), _) => name.to_string(),
            (None, Some(host)) => host_without_port(host).to_string(),
            (None, None) => local.ip().to_string(),
        };
        b.add_str("SERVER_NAME", &server_name);
        b.add_str("REDIRECT_STATUS", "200");
        b.add_str("SCRIPT_FILENAME", &req.script_filename);
        b.add_str("PATH_INFO", &req.path_info);
        if let Some(host) = &req.host {
            b.add_str("HTTP_HOST", host);
        }
        add_headers(&mut b, req);
        b.add_str("URING_REQUEST_ID", &req.id.to_string());
        b.add_str("URING_WORKER_ID", &worker_id.to_string());
        if let Some(t) = &req.trace {
            b.add_str("TRACE_ID", &t.trace_id);
            b.add_str("SPAN_ID", &t.span_id);
            b.add_str("PARENT_SPAN_ID", &t.parent_span_id);
        }
        // The site's own (fastcgi_param): registered last, so they win on a clash.
        for (k, v) in &req.site.server_vars {
            b.add_str(k, v);
        }
        // php-fpm: PHP_SELF = SCRIPT_NAME + PATH_INFO.
        b.add_str("PHP_SELF", &format!("{}{}", req.script_name, req.path_info));

        let base = b.arena.as_ptr();
        let vars = b
            .entries
            .iter()
            .map(|&(k, v, len)| uring_var {
                // SAFETY: offsets were taken inside `arena`, which is not modified again.
                key: unsafe { base.add(k) } as *const libc::c_char,
                value: unsafe { base.add(v) } as *const libc::c_char,
                value_len: len,
            })
            .collect();
        ServerVars {
            arena: b.arena,
            vars,
        }
    }

    pub fn as_slice(&self) -> &[uring_var] {
        debug_assert!(!self.arena.is_empty() || self.vars.is_empty());
        &self.vars
    }

    /// (key, value) pairs, for tests.
    #[cfg(test)]
    pub fn pairs(&self) -> Vec<(String, String)> {
        self.vars
            .iter()
            .map(|v| {
                // SAFETY: key is NUL-terminated and value has value_len bytes, both inside
                // the arena this value owns.
                unsafe {
                    let key = std::ffi::CStr::from_ptr(v.key)
                        .to_string_lossy()
                        .into_owned();
                    let val = std::slice::from_raw_parts(v.value as *const u8, v.value_len);
                    (key, String::from_utf8_lossy(val).into_owned())
                }
            })
            .collect()
    }
}

/// HTTP_* for every header, as nginx passes them: names with `_` are dropped (nginx's
/// default `underscores_in_headers off`, which stops `X_Foo` from posing as `X-Foo`),
/// repeats are joined (`; ` for Cookie, `, ` otherwise), Host comes from the authority.
fn add_headers(b: &mut Builder, req: &ScriptRequest) {
    let first = b.entries.len();
    let mut key = String::with_capacity(64);
    for (name, value) in req.headers.iter() {
        if name.contains('_') || name.eq_ignore_ascii_case("Host") {
            continue;
        }
        key.clear();
        key.push_str("HTTP_");
        key.extend(name.chars().map(|c| {
            if c == '-' {
                '_'
            } else {
                c.to_ascii_uppercase()
            }
        }));
        let existing = b.entries[first..].iter().position(|&(k, _, _)| {
            let end = k + key.len();
            b.arena.get(k..end) == Some(key.as_bytes()) && b.arena.get(end) == Some(&0)
        });
        match existing {
            Some(i) => {
                // Rare (repeated headers): rebuild that entry's value at the arena's end.
                let (k, v, len) = b.entries[first + i];
                let sep: &[u8] = if key == "HTTP_COOKIE" { b"; " } else { b", " };
                let mut joined = b.arena[v..v + len].to_vec();
                joined.extend_from_slice(sep);
                joined.extend_from_slice(value);
                let nv = b.arena.len();
                b.arena.extend_from_slice(&joined);
                b.entries[first + i] = (k, nv, joined.len());
            }
            None => b.add(&key, value),
        }
    }
}

/// nginx's $remote_user: the user of a Basic Authorization header, else empty.
fn basic_auth_user(req: &ScriptRequest) -> Vec<u8> {
    let Some(v) = req.headers.get("Authorization") else {
        return Vec::new();
    };
    let v = v.trim_ascii();
    if v.len() < 6 || !v[..6].eq_ignore_ascii_case(b"basic ") {
        return Vec::new();
    }
    let Some(decoded) = base64_decode(v[6..].trim_ascii()) else {
        return Vec::new();
    };
    match decoded.iter().position(|&b| b == b':') {
        Some(i) => decoded[..i].to_vec(),
        None => Vec::new(),
    }
}

/// Decodes as nginx's ngx_decode_base64 does for $remote_user: the standard alphabet,
/// up to the first `=`, padding optional, stray bits past the last byte ignored.
fn base64_decode(s: &[u8]) -> Option<Vec<u8>> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    use base64::Engine;
    const NGINX: GeneralPurpose = GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let end = s.iter().position(|&b| b == b'=').unwrap_or(s.len());
    NGINX.decode(&s[..end]).ok()
}

fn canonical(addr: SocketAddr) -> SocketAddr {
    SocketAddr::new(addr.ip().to_canonical(), addr.port())
}

fn host_without_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host
            .split_once(']')
            .map_or(host, |(h, _)| &host[..h.len() + 1]);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::SystemTime;
    use uring_http::{Headers, Method, RequestBody, Version};

    fn request(headers: Headers) -> ScriptRequest {
        ScriptRequest {
            id: 7,
            method: Method::Post,
            uri: "/a/b.php/x/y?q=1".into(),
            query: "q=1".into(),
            script_filename: "/srv/a/b.php".into(),
            script_name: "/a/b.php".into(),
            path_info: "/x/y".into(),
            document_root: Arc::from("/srv"),
            version: Version::Http11,
            headers,
            host: Some("example.com:8080".into()),
            body: RequestBody::Memory(bytes::Bytes::from_static(b"abc")),
            remote_addr: "[::ffff:10.0.0.1]:5000".parse().unwrap(),
            local_addr: "127.0.0.1:8080".parse().unwrap(),
            tls: false,
            server_name: None,
            site: Default::default(),
            trace: None,
            received_at: SystemTime::now(),
            driver: "io_uring",
        }
    }

    fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
        pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn fastcgi_params_and_headers() {
        let mut h = Headers::new();
        h.push("Host", "example.com:8080");
        h.push("Content-Type", "text/plain");
        h.push("X-Forwarded-For", "1.1.1.1");
        h.push("X-Forwarded-For", "2.2.2.2");
        h.push("Cookie", "a=1");
        h.push("cookie", "b=2");
        h.push("X_Sneaky", "1");
        h.push("Authorization", "Basic eDp5");
        let vars = ServerVars::build_with(&request(h), 3, &[]);
        let p = vars.pairs();
        assert_eq!(get(&p, "SCRIPT_NAME"), Some("/a/b.php"));
        assert_eq!(get(&p, "PHP_SELF"), Some("/a/b.php/x/y"));
        assert_eq!(get(&p, "DOCUMENT_URI"), Some("/a/b.php"));
        assert_eq!(get(&p, "REMOTE_USER"), Some("x"));
        assert_eq!(get(&p, "PATH_INFO"), Some("/x/y"));
        assert_eq!(get(&p, "CONTENT_LENGTH"), Some("3"));
        assert_eq!(get(&p, "CONTENT_TYPE"), Some("text/plain"));
        assert_eq!(get(&p, "REMOTE_ADDR"), Some("10.0.0.1"));
        assert_eq!(get(&p, "SERVER_NAME"), Some("example.com"));
        assert_eq!(get(&p, "HTTP_HOST"), Some("example.com:8080"));
        assert_eq!(get(&p, "HTTP_X_FORWARDED_FOR"), Some("1.1.1.1, 2.2.2.2"));
        assert_eq!(get(&p, "HTTP_COOKIE"), Some("a=1; b=2"));
        assert_eq!(get(&p, "HTTP_AUTHORIZATION"), Some("Basic eDp5"));
        assert_eq!(get(&p, "HTTP_X_SNEAKY"), None);
        assert_eq!(get(&p, "HTTPS"), None);
        assert_eq!(get(&p, "URING_WORKER_ID"), Some("3"));
        assert_eq!(p.iter().filter(|(k, _)| k == "HTTP_HOST").count(), 1);
    }

    #[test]
    fn basic_auth_base64_as_nginx_decodes_it() {
        assert_eq!(base64_decode(b"eDp5").as_deref(), Some(&b"x:y"[..]));
        assert_eq!(base64_decode(b"eA==").as_deref(), Some(&b"x"[..]));
        assert_eq!(base64_decode(b"eA").as_deref(), Some(&b"x"[..]));
        assert_eq!(base64_decode(b"eA=junk").as_deref(), Some(&b"x"[..]));
        assert_eq!(base64_decode(b"e"), None);
        assert_eq!(base64_decode(b"e*p5"), None);
    }

    #[test]
    fn host_port_stripping() {
        assert_eq!(host_without_port("a.b:80"), "a.b");
        assert_eq!(host_without_port("a.b"), "a.b");
        assert_eq!(host_without_port("[::1]:80"), "[::1]");
        assert_eq!(host_without_port("[::1]"), "[::1]");
    }
}
