//! Turns PHP's header list into a status and response headers, as php-fpm and nginx
//! together would: the `Status:` header and the `HTTP/1.x nnn` line rules of php-fpm's
//! send_headers, nginx consuming `Status:`, and no header that could split a response.

use bytes::Bytes;
use uring_http::Headers;

use super::response::ResponseHead;

/// `code`: PHP's http_response_code; `status_line`: the `HTTP/1.1 404 Not Found` a
/// script set with header(), if any; `lines`: "Name: value" entries in order.
pub(crate) fn build(code: i32, status_line: Option<&[u8]>, lines: &[&[u8]]) -> ResponseHead {
    let mut status = code;
    let mut status_from_line = false;
    if code != 200 {
        if let Some(s) = status_line.and_then(status_of_line) {
            status = s;
            status_from_line = true;
        }
    }
    let mut status_header_seen = false;
    let mut headers = Headers::with_capacity(lines.len());
    for line in lines {
        let Some((name, value)) = split(line) else {
            tracing::warn!(header = %String::from_utf8_lossy(line), "dropped an invalid response header");
            continue;
        };
        if name.eq_ignore_ascii_case("Status") {
            // php-fpm forwards the first Status: header unless an HTTP/ status line
            // already decided; nginx takes the status from it and drops the header.
            if !status_from_line && !status_header_seen {
                status_header_seen = true;
                if let Some(s) = leading_code(value) {
                    status = s;
                }
            }
            continue;
        }
        headers.push(name, Bytes::copy_from_slice(value));
    }
    let status = if (100..=999).contains(&status) {
        status as u16
    } else {
        500
    };
    if status == 304 {
        headers.remove("Content-Type");
    }
    ResponseHead {
        status,
        headers,
        timing: Default::default(),
    }
}

/// The headers an informational response (headers_send(103)) carries: the `Link`
/// fields set so far, as nginx sends Early Hints — never cookies or other headers meant
/// for the final response.
pub(crate) fn interim_headers(lines: &[&[u8]]) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in lines.iter().filter_map(|l| split(l)) {
        if name.eq_ignore_ascii_case("Link") {
            headers.push(name, Bytes::copy_from_slice(value));
        }
    }
    headers
}

fn status_of_line(line: &[u8]) -> Option<i32> {
    if line.len() < 5 || !line[..5].eq_ignore_ascii_case(b"HTTP/") {
        return None;
    }
    let space = line.iter().position(|&b| b == b' ')?;
    leading_code(&line[space + 1..])
}

/// The number a status text starts with, as C's atoi would read it.
fn leading_code(s: &[u8]) -> Option<i32> {
    let s = s.trim_ascii_start();
    let digits = s.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 3 {
        return None;
    }
    std::str::from_utf8(&s[..digits]).ok()?.parse().ok()
}

/// "Name: value" → (name, value) when the name is a token and the value has no
/// control characters (CR, LF and NUL included) other than tab.
fn split(line: &[u8]) -> Option<(&str, &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let name = &line[..colon];
    if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
        return None;
    }
    let value = line[colon + 1..].trim_ascii();
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return None;
    }
    Some((std::str::from_utf8(name).ok()?, value))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(h: &ResponseHead) -> Vec<String> {
        h.headers
            .iter()
            .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
            .collect()
    }

    #[test]
    fn plain_headers_keep_order_and_repeats() {
        let h = build(
            200,
            None,
            &[b"Set-Cookie: a=1", b"X-A: 1", b"Set-Cookie: b=2"],
        );
        assert_eq!(h.status, 200);
        assert_eq!(
            names(&h),
            vec!["Set-Cookie: a=1", "X-A: 1", "Set-Cookie: b=2"]
        );
    }

    #[test]
    fn status_header_sets_status_and_is_dropped() {
        let h = build(200, None, &[b"Status: 403 Forbidden", b"X: y"]);
        assert_eq!(h.status, 403);
        assert_eq!(names(&h), vec!["X: y"]);
    }

    #[test]
    fn http_status_line_wins_over_status_header() {
        let h = build(
            404,
            Some(b"HTTP/1.1 404 Not Found"),
            &[b"Status: 403 Forbidden"],
        );
        assert_eq!(h.status, 404);
        assert!(h.headers.is_empty());
    }

    #[test]
    fn response_code_used_without_line() {
        assert_eq!(build(302, None, &[b"Location: /x"]).status, 302);
        assert_eq!(build(0, None, &[]).status, 500);
    }

    #[test]
    fn injection_and_garbage_are_dropped() {
        let h = build(
            200,
            None,
            &[
                b"X-Bad: a\r\nInjected: 1",
                b"X-Nul: a\0b",
                b"NoColon",
                b"Bad Name: v",
                b"Ok: v",
            ],
        );
        assert_eq!(names(&h), vec!["Ok: v"]);
    }

    #[test]
    fn interim_headers_are_the_links() {
        let h = interim_headers(&[
            b"Link: </a.css>; rel=preload; as=style",
            b"Set-Cookie: s=1",
            b"link: </b.js>; rel=preload; as=script",
            b"Link: bad\r\nX: y",
        ]);
        let got: Vec<String> = h
            .iter()
            .map(|(n, v)| format!("{n}: {}", String::from_utf8_lossy(v)))
            .collect();
        assert_eq!(
            got,
            [
                "Link: </a.css>; rel=preload; as=style",
                "link: </b.js>; rel=preload; as=script"
            ]
        );
    }

    #[test]
    fn not_modified_drops_content_type() {
        let h = build(304, None, &[b"Content-Type: text/html", b"ETag: \"x\""]);
        assert_eq!(names(&h), vec!["ETag: \"x\""]);
    }
}
