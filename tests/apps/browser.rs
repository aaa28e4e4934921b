//! A browser for the app flows: curl with a cookie jar, one request per call, redirects
//! not followed (each hop is a step the flows check).

use std::fs;
use std::path::PathBuf;
use std::process::Command;

/// One HTTP response.
pub struct Page {
    pub status: u16,
    /// Header fields of the final response (not of a 100 Continue), in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Page {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The cookies this response sets, without their values (which are random or time-
    /// dependent): `name; attr; attr=value`, with `=deleted` when the value deletes the
    /// cookie, an expiry date written `expires=<date>` and Max-Age `max-age=<n>`.
    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| cookie_shape(v))
            .collect()
    }

    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "not JSON ({e}), status {}: {}",
                self.status,
                preview(&self.text())
            )
        })
    }
}

/// What a request carries.
pub enum Body<'a> {
    None,
    /// `application/x-www-form-urlencoded`.
    Form(&'a [(String, String)]),
    /// `multipart/form-data`: text fields, then one file field (name, file name, type, bytes).
    Multipart {
        fields: &'a [(String, String)],
        file: (&'a str, &'a str, &'a str, &'a [u8]),
    },
    /// Any other body with its content type.
    Raw(&'a str, &'a [u8]),
}

pub struct Browser {
    base: String,
    dir: tempfile::TempDir,
    jar: PathBuf,
}

impl Browser {
    /// A browser with an empty cookie jar for the site at `base` (`http://127.0.0.1:PORT`).
    pub fn new(base: &str) -> Browser {
        let dir = tempfile::Builder::new()
            .prefix("uring_php-browser-")
            .tempdir()
            .expect("browser temp dir");
        let jar = dir.path().join("cookies.txt");
        Browser {
            base: base.trim_end_matches('/').to_string(),
            dir,
            jar,
        }
    }

    pub fn get(&self, path: &str) -> Page {
        self.request("GET", path, &[], Body::None)
    }

    pub fn post_form(&self, path: &str, fields: &[(String, String)]) -> Page {
        self.request("POST", path, &[], Body::Form(fields))
    }

    /// A form given as `&[(&str, &str)]`.
    pub fn post(&self, path: &str, fields: &[(&str, &str)]) -> Page {
        let owned: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.post_form(path, &owned)
    }

    /// `path` is either absolute on this site (`/x?y`) or a full URL on it.
    pub fn request(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Body) -> Page {
        let url = if path.starts_with("http://") {
            path.to_string()
        } else {
            format!("{}{}", self.base, path)
        };
        let head_file = self.dir.path().join("head.txt");
        let body_file = self.dir.path().join("body.bin");
        let req_file = self.dir.path().join("request.bin");
        let _ = fs::remove_file(&head_file);
        let _ = fs::remove_file(&body_file);
        let mut cmd = Command::new("curl");
        cmd.args(["-sS", "--max-time", "120", "--globoff", "-X", method])
            .arg("-c")
            .arg(&self.jar)
            .arg("-b")
            .arg(&self.jar)
            .arg("-D")
            .arg(&head_file)
            .arg("-o")
            .arg(&body_file)
            .args(["-w", "%{http_code}", "-H", "Expect:"]);
        for (k, v) in headers {
            cmd.arg("-H").arg(format!("{k}: {v}"));
        }
        match body {
            Body::None => {}
            Body::Form(fields) => {
                fs::write(&req_file, form_urlencode(fields)).unwrap();
                cmd.args(["-H", "Content-Type: application/x-www-form-urlencoded"])
                    .arg("--data-binary")
                    .arg(format!("@{}", req_file.display()));
            }
            Body::Raw(content_type, bytes) => {
                fs::write(&req_file, bytes).unwrap();
                cmd.arg("-H")
                    .arg(format!("Content-Type: {content_type}"))
                    .arg("--data-binary")
                    .arg(format!("@{}", req_file.display()));
            }
            Body::Multipart { fields, file } => {
                for (k, v) in fields {
                    cmd.arg("--form-string").arg(format!("{k}={v}"));
                }
                let (field, file_name, content_type, bytes) = file;
                let path = self.dir.path().join(file_name);
                fs::write(&path, bytes).unwrap();
                cmd.arg("-F").arg(format!(
                    "{field}=@{};type={content_type};filename={file_name}",
                    path.display()
                ));
            }
        }
        cmd.arg(&url);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("cannot run curl (scripts/install-test-deps.sh): {e}"));
        assert!(
            out.status.success(),
            "curl {method} {url} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let status: u16 = String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .expect("curl's %{http_code}");
        let head = fs::read_to_string(&head_file).unwrap_or_default();
        Page {
            status,
            headers: last_header_block(&head),
            body: fs::read(&body_file).unwrap_or_default(),
        }
    }
}

fn cookie_shape(set_cookie: &str) -> String {
    let mut parts = set_cookie.split(';').map(str::trim);
    let first = parts.next().unwrap_or("");
    let (name, value) = first.split_once('=').unwrap_or((first, ""));
    let mut out = name.to_string();
    if value.is_empty() || value == "deleted" {
        out.push_str("=deleted");
    }
    let mut attrs: Vec<String> = parts
        .filter(|a| !a.is_empty())
        .map(|a| match a.split_once('=') {
            Some((k, _)) if k.eq_ignore_ascii_case("expires") => "expires=<date>".to_string(),
            // PHP derives Max-Age from the expiry and the clock: a second may pass.
            Some((k, _)) if k.eq_ignore_ascii_case("max-age") => "max-age=<n>".to_string(),
            Some((k, v)) => format!("{}={v}", k.to_ascii_lowercase()),
            None => a.to_ascii_lowercase(),
        })
        .collect();
    attrs.sort();
    for a in attrs {
        out.push_str("; ");
        out.push_str(&a);
    }
    out
}

/// curl's `-D` file holds every response head (1xx ones too); the last one is the answer.
fn last_header_block(head: &str) -> Vec<(String, String)> {
    let blocks: Vec<&str> = head
        .split("\r\n\r\n")
        .filter(|b| b.trim_start().starts_with("HTTP/"))
        .collect();
    let Some(last) = blocks.last() else {
        return Vec::new();
    };
    last.lines()
        .skip(1)
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect()
}

pub fn form_urlencode(fields: &[(String, String)]) -> String {
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The first 600 characters, for assertion messages.
pub fn preview(s: &str) -> String {
    let mut p: String = s.chars().take(600).collect();
    if p.len() < s.len() {
        p.push_str(" […]");
    }
    p
}
