//! Writing a response head and chunk frames into a buffer.

use bytes::{BufMut, Bytes, BytesMut};

use super::status::reason_phrase;
use crate::date::http_date;
use crate::Headers;

/// How a response body is delimited on the wire; decides the framing header written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body and no length (1xx, 204, 304).
    NoBody,
    /// `Content-Length`.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Raw bytes until the connection closes (a stream to an HTTP/1.0 client).
    UntilClose,
}

/// The `Connection` header the layer writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnectionHeader {
    /// HTTP/1.1 keep-alive is the default: nothing to say.
    Omit,
    Close,
    /// An HTTP/1.0 client asked for keep-alive and gets it.
    KeepAlive,
}

/// The last chunk and the (empty) trailer section.
pub(crate) const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// Appends the status line and header section, ending with the blank line.
///
/// The service's headers come first, in order, except the ones this layer owns (Date,
/// Content-Length, Transfer-Encoding, Connection, Keep-Alive) and any whose name is not a
/// token or whose value holds CR, LF or NUL: those would let a value split the response.
pub(crate) fn encode_head(
    buf: &mut BytesMut,
    status: u16,
    headers: &Headers,
    framing: Framing,
    connection: ConnectionHeader,
    server: Option<&Bytes>,
) {
    status_line(buf, status);
    let mut service_set_server = false;
    for (name, value) in headers.iter() {
        match owned_by_layer(name) {
            Owned::Yes => continue,
            Owned::Server => service_set_server = true,
            Owned::No => {}
        }
        if !valid_field(name, value) {
            tracing::warn!(
                header = name,
                "dropping response header with an invalid name or value"
            );
            continue;
        }
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(value);
        buf.extend_from_slice(b"\r\n");
    }

    buf.extend_from_slice(b"Date: ");
    buf.extend_from_slice(&http_date());
    buf.extend_from_slice(b"\r\n");
    if let Some(server) = server {
        // The application's own Server header, if it set one, wins over the default.
        if !service_set_server && valid_field("Server", server) {
            buf.extend_from_slice(b"Server: ");
            buf.extend_from_slice(server);
            buf.extend_from_slice(b"\r\n");
        }
    }
    match framing {
        Framing::Length(n) => {
            buf.extend_from_slice(b"Content-Length: ");
            put_decimal(buf, n);
            buf.extend_from_slice(b"\r\n");
        }
        Framing::Chunked => buf.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::NoBody | Framing::UntilClose => {}
    }
    match connection {
        ConnectionHeader::Omit => {}
        ConnectionHeader::Close => buf.extend_from_slice(b"Connection: close\r\n"),
        ConnectionHeader::KeepAlive => buf.extend_from_slice(b"Connection: keep-alive\r\n"),
    }
    buf.extend_from_slice(b"\r\n");
}

/// Appends an informational (1xx) response: the status line and the service's fields,
/// filtered as in [`encode_head`], without Date or Server (RFC 9110 §6.6.1 asks Date of
/// final responses only).
pub(crate) fn encode_interim(buf: &mut BytesMut, status: u16, headers: &Headers) {
    debug_assert!((100..200).contains(&status));
    status_line(buf, status);
    for (name, value) in headers.iter() {
        if matches!(owned_by_layer(name), Owned::Yes) || !valid_field(name, value) {
            continue;
        }
        buf.extend_from_slice(name.as_bytes());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(value);
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"\r\n");
}

fn status_line(buf: &mut BytesMut, status: u16) {
    buf.extend_from_slice(b"HTTP/1.1 ");
    let status = if (100..=999).contains(&status) {
        status
    } else {
        500
    };
    buf.extend_from_slice(&[
        b'0' + (status / 100) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
        b' ',
    ]);
    buf.extend_from_slice(reason_phrase(status).as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// Appends the size line of a chunk of `len` bytes (`len` must not be 0: that is the
/// last chunk).
pub(crate) fn chunk_header(buf: &mut BytesMut, len: usize) {
    debug_assert!(len > 0);
    let mut tmp = [0u8; 16];
    let mut i = tmp.len();
    let mut n = len;
    loop {
        i -= 1;
        tmp[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    buf.extend_from_slice(&tmp[i..]);
    buf.extend_from_slice(b"\r\n");
}

fn put_decimal(buf: &mut BytesMut, mut n: u64) {
    let mut tmp = [0u8; 20];
    let mut i = tmp.len();
    loop {
        i -= 1;
        tmp[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    buf.put_slice(&tmp[i..]);
}

enum Owned {
    Yes,
    Server,
    No,
}

fn owned_by_layer(name: &str) -> Owned {
    let is = |want: &str| name.eq_ignore_ascii_case(want);
    match name.len() {
        4 if is("date") => Owned::Yes,
        6 if is("server") => Owned::Server,
        10 if is("connection") || is("keep-alive") => Owned::Yes,
        14 if is("content-length") => Owned::Yes,
        17 if is("transfer-encoding") => Owned::Yes,
        _ => Owned::No,
    }
}

fn valid_field(name: &str, value: &[u8]) -> bool {
    !name.is_empty()
        && name.bytes().all(is_tchar)
        && memchr::memchr3(b'\r', b'\n', 0, value).is_none()
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(
        status: u16,
        headers: &Headers,
        framing: Framing,
        conn: ConnectionHeader,
        server: Option<&Bytes>,
    ) -> String {
        let mut buf = BytesMut::new();
        encode_head(&mut buf, status, headers, framing, conn, server);
        String::from_utf8(buf.to_vec()).unwrap()
    }

    /// Replaces the Date value, which changes every second, with a fixed marker.
    fn without_date(s: &str) -> String {
        let start = s.find("Date: ").expect("has a Date") + 6;
        format!("{}<date>{}", &s[..start], &s[start + 29..])
    }

    #[test]
    fn orders_and_filters_headers() {
        let mut h = Headers::new();
        h.push("Content-Type", "text/plain");
        h.push("content-length", "999");
        h.push("Set-Cookie", "a=1");
        h.push("Connection", "upgrade");
        h.push("Keep-Alive", "timeout=5");
        h.push("DATE", "yesterday");
        h.push("Transfer-Encoding", "gzip");
        h.push("Set-Cookie", "b=2");
        h.push("X-Evil", "a\r\nInjected: yes");
        h.push("Bad Name", "x");
        let s = head(200, &h, Framing::Length(5), ConnectionHeader::Omit, None);
        assert_eq!(
            without_date(&s),
            "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\
             Date: <date>\r\nContent-Length: 5\r\n\r\n"
        );
    }

    #[test]
    fn framing_and_connection_headers() {
        let h = Headers::new();
        let server = Bytes::from_static(b"uring");
        let s = head(
            404,
            &h,
            Framing::Chunked,
            ConnectionHeader::Close,
            Some(&server),
        );
        assert_eq!(
            without_date(&s),
            "HTTP/1.1 404 Not Found\r\nDate: <date>\r\nServer: uring\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        let s = head(304, &h, Framing::NoBody, ConnectionHeader::KeepAlive, None);
        assert_eq!(
            without_date(&s),
            "HTTP/1.1 304 Not Modified\r\nDate: <date>\r\nConnection: keep-alive\r\n\r\n"
        );
        let s = head(299, &h, Framing::UntilClose, ConnectionHeader::Close, None);
        assert_eq!(
            without_date(&s),
            "HTTP/1.1 299 \r\nDate: <date>\r\nConnection: close\r\n\r\n"
        );
        let s = head(7, &h, Framing::Length(0), ConnectionHeader::Omit, None);
        assert!(
            s.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
            "{s}"
        );
        assert!(s.contains("\r\nContent-Length: 0\r\n"));
    }

    #[test]
    fn service_server_header_wins() {
        let mut h = Headers::new();
        h.push("server", "app");
        let server = Bytes::from_static(b"uring");
        let s = head(
            200,
            &h,
            Framing::Length(0),
            ConnectionHeader::Omit,
            Some(&server),
        );
        assert!(s.contains("server: app\r\n"));
        assert!(!s.contains("uring"));
    }

    #[test]
    fn interim_head() {
        let mut h = Headers::new();
        h.push("Link", "</a.css>; rel=preload; as=style");
        h.push("Content-Length", "5");
        h.push("X-Evil", "a\r\nb: c");
        h.push("link", "</b.js>; rel=preload; as=script");
        let mut buf = BytesMut::new();
        encode_interim(&mut buf, 103, &h);
        assert_eq!(
            &buf[..],
            b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload; as=style\r\n\
              link: </b.js>; rel=preload; as=script\r\n\r\n"
        );
    }

    #[test]
    fn numbers() {
        let mut b = BytesMut::new();
        put_decimal(&mut b, 0);
        b.extend_from_slice(b",");
        put_decimal(&mut b, u64::MAX);
        assert_eq!(&b[..], b"0,18446744073709551615");
        let mut b = BytesMut::new();
        chunk_header(&mut b, 1);
        chunk_header(&mut b, 0x1a2b);
        chunk_header(&mut b, usize::MAX);
        assert_eq!(&b[..], b"1\r\n1a2b\r\nffffffffffffffff\r\n");
    }
}
