//! Differential testing: the same requests sent to two servers (normally nginx + php-fpm
//! and uring_php, both serving `tests/php` as document root), responses normalized and
//! compared. The scripts live in `tests/php/diff/` and print only deterministic things.
//!
//! ```ignore
//! let reference = ReferenceStack::start(Path::new("tests/php"), 2);
//! let mismatches = diff::run_diff(&reference.base_url(), &ours, &diff::cases());
//! assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
//! ```
//!
//! What is compared (for [`Compare::Full`]): the status code (not the reason phrase, which
//! clients ignore); the header fields as a multiset of (lowercased name, value), minus
//! [`IGNORED_HEADERS`]; the body byte for byte after de-chunking.

use super::http_client::{self, Fields, RawResponse};

/// Header fields left out of the comparison: their values depend on the server
/// (Date, Server, X-Powered-By) or on framing, which legitimately differs (nginx answers
/// FastCGI responses with chunked encoding, a server may use Content-Length).
pub const IGNORED_HEADERS: &[&str] = &[
    "date",
    "server",
    "x-powered-by",
    "content-length",
    "transfer-encoding",
    "connection",
    "keep-alive",
];

/// The Host header every case sends unless it sets its own: a fixed value, so
/// `$_SERVER['HTTP_HOST']` is the same on both servers whatever their ports.
pub const DIFF_HOST: &str = "diff.test";

/// URL prefix of the corpus under the document root.
pub const DIFF_PREFIX: &str = "/diff";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compare {
    /// Status, headers (multiset, minus [`IGNORED_HEADERS`]) and body.
    Full,
    /// Status code only: for responses that nginx itself generates (its error pages and
    /// redirects), whose bodies and headers are nginx's own HTML, not PHP's. Each use says
    /// why in its note.
    StatusOnly,
}

#[derive(Debug, Clone)]
pub struct DiffCase {
    pub name: &'static str,
    pub method: &'static str,
    pub path_and_query: String,
    /// Extra request headers. `Host: diff.test`, `Connection: close` and `Content-Length`
    /// are added unless given here (see `http_client::build_request`).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// What the case checks.
    pub note: &'static str,
    pub compare: Compare,
}

impl DiffCase {
    fn new(name: &'static str, method: &'static str, path_and_query: &str) -> Self {
        DiffCase {
            name,
            method,
            path_and_query: path_and_query.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            note: "",
            compare: Compare::Full,
        }
    }

    fn get(name: &'static str, path_and_query: &str) -> Self {
        Self::new(name, "GET", path_and_query)
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    fn body(mut self, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        if !content_type.is_empty() {
            self = self.header("Content-Type", content_type);
        }
        self.body = body.into();
        self
    }

    fn note(mut self, note: &'static str) -> Self {
        self.note = note;
        self
    }

    fn status_only(mut self) -> Self {
        self.compare = Compare::StatusOnly;
        self
    }

    /// The request bytes this case sends to `addr`.
    pub fn request_bytes(&self, addr: &str) -> Vec<u8> {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if !self
            .headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("host"))
        {
            headers.push(("Host", DIFF_HOST));
        }
        headers.extend(self.headers.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        http_client::build_request(
            addr,
            self.method,
            &self.path_and_query,
            &headers,
            &self.body,
        )
    }
}

/// Cases that can never be identical between a correct uring_php and nginx + php-fpm,
/// so they are not in [`cases`]: (what, why).
pub const KNOWN_DIFFERENCES: &[(&str, &str)] = &[
    (
        "php_sapi_name() / PHP_SAPI",
        "php-fpm says \"fpm-fcgi\"; uring_php reports its own SAPI name (DESIGN.md: a \
         documented compatibility decision).",
    ),
    (
        "SERVER_SOFTWARE, Server header, X-Powered-By",
        "they name the server. server.php prints only whether SERVER_SOFTWARE is non-empty.",
    ),
    (
        "the full $_SERVER / getenv() key set",
        "php-fpm adds FCGI_ROLE, and USER/HOME from the pool's account (fpm sets them even \
         with clear_env = yes); these are process details, not request data. server.php \
         prints a fixed list of keys plus every HTTP_* key instead.",
    ),
    (
        "PHP_ZTS, get_loaded_extensions(), phpinfo()",
        "the reference is Debian's NTS build with Debian's extension set (calendar, exif, \
         ffi, ftp, ...); uring_php runs its own ZTS build.",
    ),
    (
        "a request header sent twice (X-Dup: a, X-Dup: b)",
        "nginx 1.22 (Debian 12) passes each line as its own FastCGI param and php-fpm keeps \
         the last (HTTP_X_DUP=b); nginx >= 1.23, Apache and RFC 9110 combine them (\"a, b\"). \
         Which one a correct server gives depends on the nginx version.",
    ),
    (
        "the Cookie header sent twice (Cookie: a=1, Cookie: b=2)",
        "same nginx 1.22 behaviour: HTTP_COOKIE=\"b=2\" and $_COOKIE has only b. nginx >= 1.23 \
         joins them with \"; \" (RFC 9113 requires it for HTTP/2 cookie crumbs).",
    ),
    (
        "absolute-form request target (GET http://other.test/x.php with Host: diff.test)",
        "the reference passes HTTP_HOST=$http_host, the raw Host header (\"diff.test\"); \
         uring_php lets the target's authority win (\"other.test\", RFC 9112 section 3.2.2, \
         DESIGN.md). REQUEST_URI is the path form (\"/x.php\") under nginx.",
    ),
    (
        "an upload over upload_max_filesize (UPLOAD_ERR_INI_SIZE, error 1)",
        "unreachable with the shared limits: upload_max_filesize = post_max_size = \
         client_max_body_size = 8M, so any body big enough to carry a file over 8M is refused \
         first (nginx 413, or PHP's post_max_size). upload-form-size covers the same rfc1867 \
         path with MAX_FILE_SIZE (error 2); a test that lowers upload_max_filesize on both \
         servers (ReferenceStackBuilder::php_ini) can cover error 1.",
    ),
    (
        "static files (ETag, Last-Modified, Accept-Ranges, Content-Type of unknown types)",
        "nginx's static module, not PHP: not part of the PHP differential corpus.",
    ),
    (
        "nginx-generated error pages (404 for a missing script, 301 for a directory without \
         a slash, 413)",
        "bodies are nginx's HTML with its version stripped; those cases compare the status \
         only (Compare::StatusOnly).",
    ),
];

/// `p("get.php?x")` → `/diff/get.php?x`
fn p(rest: &str) -> String {
    format!("{DIFF_PREFIX}/{rest}")
}

pub const MULTIPART_BOUNDARY: &str = "----diffBoundary7MA4YWxkTrZu0gW";

/// One part of a multipart/form-data body.
pub struct Part<'a> {
    pub name: &'a str,
    /// `Some` makes it a file part.
    pub filename: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub data: &'a [u8],
}

pub fn multipart_body(boundary: &str, parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for part in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let mut disposition = format!("Content-Disposition: form-data; name=\"{}\"", part.name);
        if let Some(f) = part.filename {
            disposition.push_str(&format!("; filename=\"{f}\""));
        }
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(b"\r\n");
        if let Some(ct) = part.content_type {
            body.extend_from_slice(format!("Content-Type: {ct}\r\n").as_bytes());
        }
        body.extend_from_slice(b"\r\n");
        body.extend_from_slice(part.data);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    body
}

/// Every byte value once.
pub fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

/// `n` bytes of a deterministic, non-repeating-looking pattern.
pub fn pattern(n: usize) -> Vec<u8> {
    let mut x: u32 = 0x1234_5678;
    (0..n)
        .map(|_| {
            // xorshift32: deterministic, cheap, every byte value occurs.
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x >> 24) as u8
        })
        .collect()
}

fn chunked(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(chunk) {
        out.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// The corpus. Every case names what it checks in `note`.
pub fn cases() -> Vec<DiffCase> {
    let form = "application/x-www-form-urlencoded";
    let multipart = format!("multipart/form-data; boundary={MULTIPART_BOUNDARY}");
    let upload_parts = [
        Part {
            name: "title",
            filename: None,
            content_type: None,
            data: b"Hello World",
        },
        Part {
            name: "tags[]",
            filename: None,
            content_type: None,
            data: b"one",
        },
        Part {
            name: "tags[]",
            filename: None,
            content_type: None,
            data: "zwei \u{017c}\u{00f3}\u{0142}w".as_bytes(),
        },
        Part {
            name: "f[]",
            filename: Some("hello.txt"),
            content_type: Some("text/plain"),
            data: b"Hello upload\n",
        },
        Part {
            name: "f[]",
            filename: Some("bytes.bin"),
            content_type: Some("application/octet-stream"),
            data: &all_bytes().repeat(3),
        },
        Part {
            name: "f[]",
            filename: Some("empty.txt"),
            content_type: Some("text/plain"),
            data: b"",
        },
        Part {
            name: "doc",
            filename: Some("dir/sub/report.csv"),
            content_type: Some("text/csv"),
            data: b"a,b\n1,2\n",
        },
        Part {
            name: "none",
            filename: Some(""),
            content_type: Some("application/octet-stream"),
            data: b"",
        },
    ];
    let form_size_parts = [
        Part {
            name: "MAX_FILE_SIZE",
            filename: None,
            content_type: None,
            data: b"100",
        },
        Part {
            name: "small",
            filename: Some("small.txt"),
            content_type: Some("text/plain"),
            data: b"fits",
        },
        Part {
            name: "big",
            filename: Some("big.bin"),
            content_type: Some("application/octet-stream"),
            data: &pattern(1000),
        },
    ];
    let json = r#"{"name":"diff","n":[1,2,3],"nested":{"ok":true,"s":"\u00e9"}}"#;

    vec![
        DiffCase::get("hello", &p("hello.php"))
            .note("smallest script: status, default Content-Type, body"),
        DiffCase::get("get-nested-arrays", &p("get.php?a[b][]=1&a[b][]=2&a[c]=3&list[]=x&list[]=y&m[0][k]=v"))
            .note("$_GET nested arrays: a[b][]=1&a[b][]=2 -> ['a'=>['b'=>['1','2']]]"),
        DiffCase::get(
            "get-encoding",
            &p("get.php?plus=a+b&amp=%26&eq=%3D&pct=100%25&utf8=%E2%9C%93&sp%20ace=1&k.dot=1&k+plus=2&raw=%zz"),
        )
        .note("$_GET decoding: '+' -> space, %26, %3D, UTF-8, bad escapes; key mangling ('.' and ' ' -> '_')"),
        DiffCase::get("get-repeated-empty", &p("get.php?rep=1&rep=2&empty=&flag&&=noname&last"))
            .note("$_GET repeated keys (last wins), empty value, key without '=', empty pairs, '=' without key"),
        DiffCase::get("get-odd-brackets", &p("get.php?a[=1&b]=2&c[x=3&d[][]=4&e[%20]=5&f[x]y=6"))
            .note("$_GET bracket edge cases: unbalanced '[' becomes '_', trailing text after ']' dropped"),
        DiffCase::new("post-urlencoded", "POST", &p("post.php"))
            .body(form, "a=1&b[]=2&b[]=3&c=x+y&d=%26%3D&e.f=g")
            .note("urlencoded $_POST with arrays, '+', escapes, mangled key; php://input still readable"),
        DiffCase::new("post-urlencoded-charset", "POST", &p("post.php"))
            .body("application/x-www-form-urlencoded; charset=UTF-8", "name=%C5%BC%C3%B3%C5%82w&x=1")
            .note("urlencoded body whose Content-Type has a charset parameter still fills $_POST"),
        DiffCase::new("post-unknown-type", "POST", &p("post.php"))
            .body("text/plain", "a=1&b=2")
            .note("a body of another type leaves $_POST empty; php://input has it"),
        DiffCase::new("upload-multipart", "POST", &p("upload.php"))
            .body(&multipart, multipart_body(MULTIPART_BOUNDARY, &upload_parts))
            .note("multipart: text fields, 3 files in f[] (text, binary, empty), a file name with a path (full_path), an empty file field (error 4); md5, is_uploaded_file, move_uploaded_file"),
        DiffCase::new("upload-form-size", "POST", &p("upload.php"))
            .body(&multipart, multipart_body(MULTIPART_BOUNDARY, &form_size_parts))
            .note("MAX_FILE_SIZE=100: the 1000-byte file gets UPLOAD_ERR_FORM_SIZE (2), the small one uploads"),
        DiffCase::new("input-json", "POST", &p("input.php"))
            .body("application/json", json)
            .note("raw JSON body: php://input read twice gives the same bytes; $_POST stays empty"),
        DiffCase::new("input-large", "POST", &p("input.php"))
            .body("application/octet-stream", pattern(1 << 20))
            .note("1 MiB body (nginx spools it to a temp file): length and md5 of php://input"),
        DiffCase::new("input-chunked", "POST", &p("method.php"))
            .header("Content-Type", "text/plain")
            .header("Transfer-Encoding", "chunked")
            .body("", chunked(b"hello chunked request body", 7))
            .note("chunked request body: de-chunked into php://input; CONTENT_LENGTH as php-fpm sees it"),
        DiffCase::new("server-chunked", "POST", &p("server.php"))
            .header("Content-Type", "text/plain")
            .header("Transfer-Encoding", "chunked")
            .body("", chunked(b"abc", 2))
            .note("chunked request: CONTENT_LENGTH is the de-chunked length, HTTP_TRANSFER_ENCODING still passed, no HTTP_CONTENT_LENGTH"),
        DiffCase::new("server-expect-continue", "POST", &p("server.php"))
            .header("Expect", "100-continue")
            .body(form, "k=v")
            .note("Expect: 100-continue (the interim 100 is skipped by the client): the final response and HTTP_EXPECT"),
        DiffCase::get("cookies", &p("cookies.php"))
            .header(
                "Cookie",
                "a=1; b=hello%20world; c.d=dot; e f=space; g=x+y; h=%3D%3B; arr[k]=v; arr[]=w; a=dup; empty=",
            )
            .note("$_COOKIE: encoded values, '+' kept, names with '.'/' ' mangled to '_', arrays, first duplicate wins"),
        DiffCase::new("request-order", "POST", &p("request.php?x=get&y=get"))
            .header("Cookie", "x=cookie; c=cookie")
            .body(form, "x=post&z=post")
            .note("$_REQUEST with request_order=GP: POST overrides GET, cookies not included"),
        DiffCase::get("server-basic", &p("server.php?q=1&r=two"))
            .header("X-Custom-Header", "custom value")
            .header("Accept", "text/plain")
            .header("User-Agent", "diff-client/1.0")
            .note("fixed $_SERVER keys for a GET: REQUEST_URI, SCRIPT_*, DOCUMENT_*, PHP_SELF, HTTP_* of custom headers"),
        DiffCase::get("getallheaders", &p("allheaders.php"))
            .header("X-Custom-Header", "custom value")
            .header("Accept", "text/plain")
            .header("User-Agent", "diff-client/1.0")
            .header("x-lower-case", "lower")
            .header("X-MiXeD-cAsE", "mixed")
            .note("getallheaders() and apache_request_headers() exist, agree, and name and order headers as php-fpm does"),
        DiffCase::new("getallheaders-post", "POST", &p("allheaders.php"))
            .body(form, "k=v")
            .header("Cookie", "a=1")
            .note("getallheaders() for a POST: Content-Type and Content-Length included"),
        DiffCase::get("server-auth-basic", &p("server.php"))
            .header("Authorization", "Basic dXNlcjpwYTpzcw==")
            .note("Basic auth user:pa:ss -> PHP_AUTH_USER, PHP_AUTH_PW (with ':'), AUTH_TYPE, REMOTE_USER (nginx's $remote_user), HTTP_AUTHORIZATION"),
        DiffCase::get("server-auth-bearer", &p("server.php"))
            .header("Authorization", "Bearer abc.def.ghi")
            .note("non-Basic Authorization: only HTTP_AUTHORIZATION, no PHP_AUTH_*"),
        DiffCase::get("server-path-info", &p("server.php/extra/path?x=1"))
            .note("PATH_INFO split (fastcgi_split_path_info): SCRIPT_NAME, PATH_INFO, PATH_TRANSLATED, PHP_SELF, DOCUMENT_URI"),
        DiffCase::new("server-post", "POST", &p("server.php?via=post"))
            .body(form, "k=v")
            .note("CONTENT_TYPE and CONTENT_LENGTH (and what HTTP_CONTENT_* exist) for a POST"),
        DiffCase::get("server-host-port", &p("server.php"))
            .header("Host", "diff.test:8080")
            .note("HTTP_HOST keeps the port as sent (reference overrides Debian's $host, see DESIGN.md)"),
        DiffCase::get("server-encoded-path", &p("serv%65r.php?a=%41"))
            .note("percent-encoded path: SCRIPT_NAME decoded, REQUEST_URI raw"),
        DiffCase::get("server-dot-segments", &p("./sub/../server.php"))
            .note("dot segments resolved for SCRIPT_NAME; REQUEST_URI raw"),
        DiffCase::get("server-double-slash", "//diff//server.php")
            .note("repeated slashes merged for SCRIPT_NAME (nginx merge_slashes); REQUEST_URI raw"),
        DiffCase::get("server-underscore-header", &p("server.php"))
            .header("X_Under_Score", "spoof")
            .header("X-Normal", "kept")
            .note("header names with '_' are dropped (nginx underscores_in_headers off), so they cannot spoof HTTP_X_* keys"),
        DiffCase::get("server-empty-query", &p("server.php?"))
            .note("'?' with nothing after: REQUEST_URI keeps '?', QUERY_STRING empty"),
        DiffCase::get("dir-index", &p("dirindex/"))
            .note("directory URL runs its index.php: REQUEST_URI is the directory, SCRIPT_NAME the index file"),
        DiffCase::get("dir-no-slash", &p("dirindex"))
            .note("directory without trailing slash: 301 to the slashed URL. StatusOnly: the body is nginx's HTML page and Location is built by nginx")
            .status_only(),
        DiffCase::get("missing-php", &p("does-not-exist.php"))
            .note("missing script: 404 (nginx try_files). StatusOnly: the 404 body is nginx's own HTML page")
            .status_only(),
        DiffCase::get("missing-php-path-info", &p("does-not-exist.php/extra"))
            .note("missing script with PATH_INFO: 404. StatusOnly: nginx's HTML page")
            .status_only(),
        DiffCase::get("headers-set-replace-append", &p("headers.php?mode=set-replace-append"))
            .note("header() replaces by default, appends with false (case-insensitive names), header_remove(name)"),
        DiffCase::get("headers-remove-all", &p("headers.php?mode=remove-all"))
            .note("header_remove() with no argument removes every header set so far"),
        DiffCase::get("headers-content-type", &p("headers.php?mode=content-type"))
            .note("custom Content-Type: application/json, no charset added"),
        DiffCase::get("headers-content-type-text", &p("headers.php?mode=content-type-text"))
            .note("Content-Type: text/plain gets '; charset=UTF-8' from default_charset"),
        DiffCase::get("headers-no-content-type", &p("headers.php?mode=no-content-type"))
            .note("header_remove('Content-Type'): what Content-Type, if any, is sent"),
        DiffCase::get("headers-list", &p("headers.php?mode=list"))
            .note("headers_list() content and order, including Set-Cookie"),
        DiffCase::get("setcookie", &p("setcookie.php"))
            .note("repeated Set-Cookie from setcookie() with expires 0 / a fixed past date, path, domain, secure, httponly, samesite; deletion cookie; setrawcookie"),
        DiffCase::get("status-created", &p("status.php?mode=created"))
            .note("http_response_code(201) with Location stays 201"),
        DiffCase::get("status-not-found", &p("status.php?mode=not-found"))
            .note("404 chosen by the script, with its own body"),
        DiffCase::get("status-teapot", &p("status.php?mode=teapot"))
            .note("418, a code nginx has no reason phrase for"),
        DiffCase::get("status-no-content", &p("status.php?mode=no-content"))
            .note("204 from the script: no body, which headers remain"),
        DiffCase::get("status-no-content-with-output", &p("status.php?mode=no-content-with-output"))
            .note("204 with output: the output is not sent"),
        DiffCase::get("status-not-modified", &p("status.php?mode=not-modified"))
            .note("304 with ETag from the script"),
        DiffCase::get("status-location", &p("status.php?mode=location"))
            .note("header('Location: /x') alone turns 200 into 302; Location passed unchanged"),
        DiffCase::new("status-location-after-post", "POST", &p("status.php?mode=location"))
            .body(form, "a=1")
            .note("header('Location: /x') after an HTTP/1.1 POST: php-fpm gives 302 (PHP's 303 for non-GET needs a SAPI that reports HTTP/1.1, which FastCGI's does not); apps' post-redirect-get depends on it"),
        DiffCase::get("status-location-301", &p("status.php?mode=location-301"))
            .note("header('Location: /x', true, 301) gives 301"),
        DiffCase::get("status-location-absolute", &p("status.php?mode=location-absolute"))
            .note("absolute Location URL passed unchanged, 302"),
        DiffCase::get("status-http-line", &p("status.php?mode=http-line"))
            .note("header('HTTP/1.1 404 Not Found') sets the status"),
        DiffCase::get("status-http-line-custom", &p("status.php?mode=http-line-custom"))
            .note("header('HTTP/1.1 299 Custom Reason'): an unregistered code passes through"),
        DiffCase::get("status-header", &p("status.php?mode=status-header"))
            .note("header('Status: 403 Forbidden') sets the status (php-fpm special-cases Status:) and is not sent as a header"),
        DiffCase::get("status-response-code-get", &p("status.php?mode=response-code-get"))
            .note("http_response_code() getter before/after setting 202"),
        DiffCase::get("status-503-retry-after", &p("status.php?mode=service-unavailable"))
            .note("503 with Retry-After from the script"),
        DiffCase::get("binary", &p("binary.php"))
            .note("all 256 byte values x4, application/octet-stream: binary-safe output"),
        DiffCase::get("large-output", &p("large.php"))
            .note("~1 MiB deterministic output, bigger than output_buffering and socket buffers"),
        DiffCase::get("errors-undefined-function", &p("errors.php?mode=undefined-function"))
            .note("fatal error with display_errors=Off: 500, empty body"),
        DiffCase::get("errors-output-then-fatal", &p("errors.php?mode=output-then-fatal"))
            .note("fatal after output still in the output buffer: status and what body is sent"),
        DiffCase::get("errors-exception", &p("errors.php?mode=exception"))
            .note("uncaught exception: 500, empty body"),
        DiffCase::get("errors-output-then-exception", &p("errors.php?mode=output-then-exception"))
            .note("uncaught exception after buffered output"),
        DiffCase::get("errors-exit-code", &p("errors.php?mode=exit-code"))
            .note("exit(3) after output: 200 with the output (exit status is not an HTTP status)"),
        DiffCase::get("errors-die-message", &p("errors.php?mode=die-message"))
            .note("die(\"msg\") prints msg, 200"),
        DiffCase::get("errors-warning", &p("errors.php?mode=warning"))
            .note("E_USER_WARNING, undefined index: logged only, output continues, error_get_last()"),
        DiffCase::get("errors-user-error", &p("errors.php?mode=user-error"))
            .note("E_USER_ERROR is fatal: 500, output so far, nothing after"),
        DiffCase::get("errors-memory", &p("errors.php?mode=memory"))
            .note("ini_set('memory_limit','16M') then allocating 64 MiB: fatal, 500"),
        DiffCase::get("errors-time-limit", &p("errors.php?mode=time-limit"))
            .note("set_time_limit(1) and a busy loop: max execution time fatal after ~1 s, 500"),
        DiffCase::get("errors-fatal-after-status", &p("errors.php?mode=fatal-after-status"))
            .note("fatal after http_response_code(404): the script's 404 stays (500 only replaces 200)"),
        DiffCase::get("errors-exception-handler", &p("errors.php?mode=handler"))
            .note("set_exception_handler output and status"),
        DiffCase::get("errors-shutdown-function", &p("errors.php?mode=shutdown"))
            .note("register_shutdown_function output after exit(0) is sent"),
        DiffCase::get("errors-parse", &p("errors.php?mode=parse-error"))
            .note("include of a file with a syntax error: E_PARSE, 500"),
        DiffCase::get("ini-values", &p("errors.php?mode=ini"))
            .note("effective ini values: uring_php's built-in defaults against Debian's php.ini"),
        DiffCase::new("head-script", "HEAD", &p("hello.php"))
            .note("HEAD to a script: same status and headers as GET, no body"),
        DiffCase::new("head-headers", "HEAD", &p("headers.php?mode=set-replace-append"))
            .note("HEAD keeps script-set headers"),
        DiffCase::new("method-options", "OPTIONS", &p("method.php"))
            .note("OPTIONS reaches the script"),
        DiffCase::new("method-delete", "DELETE", &p("method.php?id=7"))
            .note("DELETE without a body"),
        DiffCase::new("method-put", "PUT", &p("method.php"))
            .body("application/json", r#"{"put":true}"#)
            .note("PUT with a body: php://input has it, $_POST stays empty"),
        DiffCase::new("method-put-form", "PUT", &p("method.php"))
            .body(form, "a=1&b=2")
            .note("PUT with an urlencoded body: PHP fills $_POST only for POST"),
        DiffCase::new("method-patch", "PATCH", &p("method.php"))
            .body("text/plain", "patch body")
            .note("PATCH with a body"),
        DiffCase::new("method-post-empty", "POST", &p("method.php"))
            .note("POST with Content-Length: 0 and no Content-Type"),
        DiffCase::get("output-ob", &p("output.php?mode=ob"))
            .note("ob_get_level() is 1 with output_buffering=4096; ob_start/ob_end_clean/ob_get_clean, callback handler, buffer left open at exit is flushed"),
        DiffCase::get("output-headers-sent", &p("output.php?mode=headers-sent"))
            .note("headers_sent() false after small output (buffered), header() still works; true after flush(), later header() ignored"),
        DiffCase::get("output-flush", &p("output.php?mode=flush"))
            .note("flush() between chunks: same bytes in the end"),
        DiffCase::get("output-implicit-flush", &p("output.php?mode=implicit-flush"))
            .note("ob_implicit_flush(true)"),
        DiffCase::get("output-ignore-user-abort", &p("output.php?mode=ignore-user-abort"))
            .note("ignore_user_abort() returns the previous value; connection_status()"),
        DiffCase::get("output-finish-request", &p("output.php?mode=finish-request"))
            .note("fastcgi_finish_request() ends the response: later output and headers are not sent"),
        DiffCase::get("session", &p("session.php"))
            .note("session with a fixed id: Set-Cookie PHPSESSID, nocache headers (Expires, Cache-Control, Pragma), files save handler"),
    ]
}

/// Sends `case` to `addr` on a fresh connection.
pub fn fetch(addr: &str, case: &DiffCase) -> Result<RawResponse, String> {
    http_client::try_send_raw(addr, &case.request_bytes(addr)).map_err(|e| e.to_string())
}

/// Sends every case to both servers and compares; returns one description per mismatch
/// (empty: identical). `a` and `b` are `http://host:port` or `host:port`.
pub fn run_diff(a: &str, b: &str, cases: &[DiffCase]) -> Vec<String> {
    let mut out = Vec::new();
    for case in cases {
        let ra = fetch(a, case);
        let rb = fetch(b, case);
        let problems = match (&ra, &rb) {
            (Ok(ra), Ok(rb)) => compare(case, ra, rb),
            (Err(e), _) => vec![format!("request to A ({a}) failed: {e}")],
            (_, Err(e)) => vec![format!("request to B ({b}) failed: {e}")],
        };
        for p in problems {
            out.push(format!(
                "[{}] {} {}: {p}\n    (checks: {})",
                case.name, case.method, case.path_and_query, case.note
            ));
        }
    }
    out
}

/// Compares two responses to `case`; A is the first, B the second.
pub fn compare(case: &DiffCase, a: &RawResponse, b: &RawResponse) -> Vec<String> {
    let mut out = Vec::new();
    if a.status != b.status {
        out.push(format!(
            "status: A={} {:?}, B={} {:?}",
            a.status, a.reason, b.status, b.reason
        ));
    }
    if case.compare == Compare::StatusOnly {
        return out;
    }
    let (only_a, only_b) = header_multiset_diff(&normalized_headers(a), &normalized_headers(b));
    for (n, v) in only_a {
        out.push(format!("header only in A: {n}: {v}"));
    }
    for (n, v) in only_b {
        out.push(format!("header only in B: {n}: {v}"));
    }
    if let Some(d) = describe_body_diff(&a.body, &b.body) {
        out.push(d);
    }
    out
}

/// (lowercased name, value) pairs minus [`IGNORED_HEADERS`], sorted.
pub fn normalized_headers(r: &RawResponse) -> Fields {
    let mut h: Fields = r
        .headers
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
        .filter(|(n, _)| !IGNORED_HEADERS.contains(&n.as_str()))
        .collect();
    h.sort();
    h
}

/// Multiset difference of two sorted lists: (in a but not b, in b but not a).
fn header_multiset_diff(a: &[(String, String)], b: &[(String, String)]) -> (Fields, Fields) {
    let mut rest_b: Vec<Option<&(String, String)>> = b.iter().map(Some).collect();
    let mut only_a = Vec::new();
    for h in a {
        match rest_b.iter().position(|x| *x == Some(h)) {
            Some(i) => rest_b[i] = None,
            None => only_a.push(h.clone()),
        }
    }
    let only_b = rest_b.into_iter().flatten().cloned().collect();
    (only_a, only_b)
}

fn describe_body_diff(a: &[u8], b: &[u8]) -> Option<String> {
    if a == b {
        return None;
    }
    let at = a
        .iter()
        .zip(b.iter())
        .position(|(x, y)| x != y)
        .unwrap_or(a.len().min(b.len()));
    if let (Ok(sa), Ok(sb)) = (std::str::from_utf8(a), std::str::from_utf8(b)) {
        // Show the first differing line of each.
        let line_no = sa[..at.min(sa.len())].matches('\n').count();
        let la = sa.lines().nth(line_no).unwrap_or("(end of body)");
        let lb = sb.lines().nth(line_no).unwrap_or("(end of body)");
        return Some(format!(
            "body differs (A {} bytes, B {} bytes) at byte {at}, line {}:\n      A: {}\n      B: {}",
            a.len(),
            b.len(),
            line_no + 1,
            clip(la),
            clip(lb)
        ));
    }
    let window = |s: &[u8]| {
        let end = (at + 32).min(s.len());
        s[at.min(s.len())..end].escape_ascii().to_string()
    };
    Some(format!(
        "body differs (A {} bytes, B {} bytes) at byte {at}: A[{at}..]={:?} B[{at}..]={:?}",
        a.len(),
        b.len(),
        window(a),
        window(b)
    ))
}

fn clip(s: &str) -> String {
    if s.chars().count() > 200 {
        let cut: String = s.chars().take(200).collect();
        format!("{cut:?}…")
    } else {
        format!("{s:?}")
    }
}
