//! The request header fields this layer interprets itself: the ones that decide framing
//! (Content-Length, Transfer-Encoding), the connection's fate (Connection), the handshake
//! before the body (Expect), and the authority (Host).

use super::target::valid_host;
use super::H1Error;

/// Which header a field name is, for the names the layer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Known {
    Host,
    ContentLength,
    TransferEncoding,
    Connection,
    Expect,
}

/// Classifies a header name; most names are rejected on their length alone.
#[inline]
pub(crate) fn classify(name: &str) -> Option<Known> {
    let n = name.as_bytes();
    let (want, kind): (&[u8], Known) = match n.len() {
        4 => (b"host", Known::Host),
        6 => (b"expect", Known::Expect),
        10 => (b"connection", Known::Connection),
        14 => (b"content-length", Known::ContentLength),
        17 => (b"transfer-encoding", Known::TransferEncoding),
        _ => return None,
    };
    n.eq_ignore_ascii_case(want).then_some(kind)
}

/// The elements of a comma-separated field value, trimmed, empty ones skipped
/// (RFC 9110 §5.6.1 says recipients accept empty list elements).
pub(crate) fn list_elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|e| !e.is_empty())
}

fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

/// What the framing-related fields of one request said, gathered field by field.
#[derive(Debug, Default)]
pub(crate) struct FieldState {
    pub content_length: Option<u64>,
    pub transfer_encoding: bool,
    codings: usize,
    chunked_count: usize,
    chunked_last: bool,
    chunked_not_last: bool,
    unknown_coding: bool,
    pub host_count: usize,
    pub host_valid: bool,
    pub conn_close: bool,
    pub conn_keep_alive: bool,
    pub expect_continue: bool,
}

impl FieldState {
    /// Takes one field the layer knows into account.
    pub fn add(&mut self, kind: Known, value: &[u8]) -> Result<(), H1Error> {
        match kind {
            Known::Host => {
                self.host_count += 1;
                self.host_valid = valid_host(value);
            }
            Known::ContentLength => self.add_content_length(value)?,
            Known::TransferEncoding => {
                self.transfer_encoding = true;
                for coding in list_elements(value) {
                    self.codings += 1;
                    if self.chunked_last {
                        self.chunked_not_last = true;
                    }
                    if coding.eq_ignore_ascii_case(b"chunked") {
                        self.chunked_count += 1;
                        self.chunked_last = true;
                    } else {
                        self.unknown_coding = true;
                        self.chunked_last = false;
                    }
                }
            }
            Known::Connection => {
                for token in list_elements(value) {
                    if token.eq_ignore_ascii_case(b"close") {
                        self.conn_close = true;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        self.conn_keep_alive = true;
                    }
                }
            }
            Known::Expect => {
                for expectation in list_elements(value) {
                    if expectation.eq_ignore_ascii_case(b"100-continue") {
                        self.expect_continue = true;
                    } else {
                        return Err(H1Error::ExpectationFailed);
                    }
                }
            }
        }
        Ok(())
    }

    /// RFC 9110 §8.6: a list of identical values (`5, 5`, or the field twice) is one
    /// length; anything else is an attempt at request smuggling or a broken client.
    fn add_content_length(&mut self, value: &[u8]) -> Result<(), H1Error> {
        let mut any = false;
        for element in value.split(|&b| b == b',').map(trim_ows) {
            any = true;
            let n =
                parse_decimal(element).ok_or(H1Error::BadRequest("invalid Content-Length\n"))?;
            match self.content_length {
                Some(prev) if prev != n => {
                    return Err(H1Error::BadRequest("conflicting Content-Length values\n"))
                }
                _ => self.content_length = Some(n),
            }
        }
        if !any {
            return Err(H1Error::BadRequest("invalid Content-Length\n"));
        }
        Ok(())
    }

    /// Whether the request body is chunked, after every field was added. Errors for
    /// codings this server cannot decode, and for chunked not being the final coding.
    pub fn chunked(&self) -> Result<bool, H1Error> {
        if !self.transfer_encoding {
            return Ok(false);
        }
        if self.codings == 0 || self.chunked_not_last || self.chunked_count > 1 {
            return Err(H1Error::BadRequest(
                "chunked must be the final transfer coding\n",
            ));
        }
        if self.unknown_coding {
            return Err(H1Error::NotImplemented);
        }
        Ok(self.chunked_last)
    }
}

/// Non-empty ASCII digits as a u64, refusing signs, spaces and overflow.
pub(crate) fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(fields: &[(Known, &str)]) -> Result<FieldState, H1Error> {
        let mut s = FieldState::default();
        for (k, v) in fields {
            s.add(*k, v.as_bytes())?;
        }
        Ok(s)
    }

    #[test]
    fn classifies_case_insensitively() {
        assert_eq!(classify("HOST"), Some(Known::Host));
        assert_eq!(classify("content-LENGTH"), Some(Known::ContentLength));
        assert_eq!(classify("Transfer-Encoding"), Some(Known::TransferEncoding));
        assert_eq!(classify("Connection"), Some(Known::Connection));
        assert_eq!(classify("expect"), Some(Known::Expect));
        assert_eq!(classify("Hosts"), None);
        assert_eq!(classify("Accept"), None);
    }

    #[test]
    fn content_length_rules() {
        use Known::ContentLength as CL;
        assert_eq!(state(&[(CL, "42")]).unwrap().content_length, Some(42));
        assert_eq!(
            state(&[(CL, "42"), (CL, "42")]).unwrap().content_length,
            Some(42)
        );
        assert_eq!(state(&[(CL, "7, 7")]).unwrap().content_length, Some(7));
        for bad in [
            &[(CL, "1"), (CL, "2")][..],
            &[(CL, "1, 2")],
            &[(CL, "")],
            &[(CL, "+1")],
            &[(CL, "-1")],
            &[(CL, "0x10")],
            &[(CL, "1 2")],
            &[(CL, "99999999999999999999999")],
        ] {
            assert!(matches!(state(bad), Err(H1Error::BadRequest(_))), "{bad:?}");
        }
    }

    #[test]
    fn transfer_encoding_rules() {
        use Known::TransferEncoding as TE;
        assert_eq!(state(&[(TE, "chunked")]).unwrap().chunked(), Ok(true));
        assert_eq!(state(&[(TE, "Chunked")]).unwrap().chunked(), Ok(true));
        assert_eq!(state(&[]).unwrap().chunked(), Ok(false));
        assert_eq!(
            state(&[(TE, "gzip")]).unwrap().chunked(),
            Err(H1Error::NotImplemented)
        );
        assert_eq!(
            state(&[(TE, "gzip, chunked")]).unwrap().chunked(),
            Err(H1Error::NotImplemented)
        );
        assert_eq!(
            state(&[(TE, "gzip"), (TE, "chunked")]).unwrap().chunked(),
            Err(H1Error::NotImplemented)
        );
        for bad in ["chunked, gzip", "chunked, chunked", "", " , "] {
            assert!(
                matches!(
                    state(&[(TE, bad)]).unwrap().chunked(),
                    Err(H1Error::BadRequest(_))
                ),
                "{bad:?}"
            );
        }
        assert!(matches!(
            state(&[(TE, "chunked"), (TE, "identity")])
                .unwrap()
                .chunked(),
            Err(H1Error::BadRequest(_))
        ));
    }

    #[test]
    fn connection_and_expect() {
        let s = state(&[(Known::Connection, "Keep-Alive, Upgrade")]).unwrap();
        assert!(s.conn_keep_alive && !s.conn_close);
        let s = state(&[(Known::Connection, "foo"), (Known::Connection, "CLOSE")]).unwrap();
        assert!(s.conn_close);
        assert!(
            state(&[(Known::Expect, "100-Continue")])
                .unwrap()
                .expect_continue
        );
        assert!(!state(&[(Known::Expect, "")]).unwrap().expect_continue);
        assert_eq!(
            state(&[(Known::Expect, "200-ok")]).unwrap_err(),
            H1Error::ExpectationFailed
        );
    }

    #[test]
    fn decimal() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        assert_eq!(parse_decimal(b""), None);
    }
}
