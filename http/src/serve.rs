//! Choosing the protocol of a fresh connection: on a cleartext port the first bytes tell
//! HTTP/2 with prior knowledge (the connection preface) from HTTP/1.x; over TLS the
//! protocol negotiated with ALPN decides.

use std::io;

use bytes::BytesMut;
use monoio::buf::IoBufMut;
use monoio::io::{AsyncReadRent, AsyncWriteRent};
use monoio::time::Instant;

use crate::h1::wait::{race, Raced};
use crate::h1::{serve_h1, H1Config};
use crate::h2::{serve_h2, H2Config};
use crate::tls::{negotiated_h2, TlsAcceptor};
use crate::ConnInfo;
use crate::{Service, Shutdown};

/// The HTTP/2 connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The first read's buffer; it becomes the HTTP/1.1 read buffer.
const FIRST_READ: usize = 8 * 1024;

/// Settings for both protocols, shared by reference by every connection of a core.
#[derive(Clone, Debug, Default)]
pub struct ConnConfig {
    pub h1: H1Config,
    pub h2: H2Config,
}

/// What the bytes so far say about the protocol.
#[derive(Debug, PartialEq, Eq)]
pub enum Sniffed {
    H2,
    H1,
    /// Still a prefix of the HTTP/2 preface: read more.
    Undecided,
}

/// Tells the HTTP/2 preface from anything else, from as few bytes as possible (almost
/// every HTTP/1.1 request differs at its first byte).
pub fn sniff(buf: &[u8]) -> Sniffed {
    let n = buf.len().min(H2_PREFACE.len());
    if buf[..n] != H2_PREFACE[..n] {
        Sniffed::H1
    } else if n == H2_PREFACE.len() {
        Sniffed::H2
    } else {
        Sniffed::Undecided
    }
}

/// Serves a cleartext connection: HTTP/2 when it opens with the preface (h2c with prior
/// knowledge), HTTP/1.x otherwise. The bytes read to decide are handed on, not lost.
pub async fn serve_conn<IO, S>(
    mut io: IO,
    service: &S,
    cfg: &ConnConfig,
    info: ConnInfo,
    shutdown: &Shutdown,
) -> io::Result<()>
where
    IO: AsyncReadRent + AsyncWriteRent + Unpin + 'static,
    S: Service,
{
    let mut buf = BytesMut::with_capacity(FIRST_READ);
    // Idle until the first byte (and shutdown closes an idle connection), then the head's
    // timeout for the rest of the preface.
    let mut deadline = Instant::now() + cfg.h1.idle_timeout;
    loop {
        let watch = buf.is_empty().then_some(shutdown);
        let len = buf.len();
        if len == buf.capacity() {
            // Cannot happen (the preface is far shorter), but never read into nothing.
            break;
        }
        let cap = buf.capacity();
        match race(io.read(buf.slice_mut(len..cap)), deadline, watch).await {
            Raced::Done((Ok(0), _)) => return Ok(()),
            Raced::Done((Ok(_), slice)) => buf = slice.into_inner(),
            Raced::Done((Err(e), _)) => return Err(e),
            Raced::TimedOut | Raced::Shutdown => return Ok(()),
        }
        if len == 0 {
            deadline = Instant::now() + cfg.h1.header_timeout;
        }
        match sniff(&buf) {
            Sniffed::H2 => return serve_h2(io, buf, service, &cfg.h2, info, shutdown).await,
            Sniffed::H1 => break,
            Sniffed::Undecided => {}
        }
    }
    serve_h1(io, buf, service, &cfg.h1, info, shutdown).await
}

/// Serves a TLS connection: the handshake (bounded by the header timeout), then HTTP/2
/// when ALPN chose `h2`, HTTP/1.1 otherwise. Requests see `tls: true`.
pub async fn serve_tls<IO, S>(
    io: IO,
    tls: &TlsAcceptor,
    service: &S,
    cfg: &ConnConfig,
    info: ConnInfo,
    shutdown: &Shutdown,
) -> io::Result<()>
where
    IO: AsyncReadRent + AsyncWriteRent + Unpin + 'static,
    S: Service,
{
    let deadline = Instant::now() + cfg.h1.header_timeout;
    let stream = match race(tls.accept(io), deadline, Some(shutdown)).await {
        Raced::Done(Ok(stream)) => stream,
        Raced::Done(Err(e)) => {
            tracing::debug!(error = %e, peer = %info.remote_addr, "TLS handshake failed");
            return Ok(());
        }
        Raced::TimedOut | Raced::Shutdown => return Ok(()),
    };
    let info = ConnInfo { tls: true, ..info };
    if crate::tls::negotiated_acme(&stream) {
        // An ACME validation: the handshake was all it came for.
        tracing::debug!(peer = %info.remote_addr, "ACME TLS-ALPN-01 validation answered");
        return Ok(());
    }
    if negotiated_h2(&stream) {
        serve_h2(stream, BytesMut::new(), service, &cfg.h2, info, shutdown).await
    } else {
        serve_h1(stream, BytesMut::new(), service, &cfg.h1, info, shutdown).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sniffing() {
        assert_eq!(sniff(b"GET / HTTP/1.1\r\n"), Sniffed::H1);
        assert_eq!(sniff(b"P"), Sniffed::Undecided);
        assert_eq!(sniff(b"POST / HTTP/1.1\r\n"), Sniffed::H1);
        assert_eq!(sniff(b"PRI * HTTP/2.0\r\n"), Sniffed::Undecided);
        assert_eq!(sniff(H2_PREFACE), Sniffed::H2);
        let mut more = H2_PREFACE.to_vec();
        more.extend_from_slice(b"\0\0\x12\x04");
        assert_eq!(sniff(&more), Sniffed::H2);
        assert_eq!(sniff(b"PRI * HTTP/1.1\r\n"), Sniffed::H1);
    }
}
