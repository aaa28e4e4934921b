//! Sending a [`Response`] on a stream: HEADERS, then DATA frames within the client's
//! flow-control window (`reserve_capacity` / `poll_capacity`), so a slow reader holds at
//! most a window's worth of the body in memory.

use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::rc::Rc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use h2::server::SendResponse;
use h2::{Reason, SendStream};
use http::header::{HeaderName, HeaderValue};
use monoio::buf::IoBufMut;
use monoio::time::Instant;

use super::H2Config;
use crate::date::http_date;
use crate::h1::wait::{race, Raced};
use crate::{Body, BodyStream, Interim, InterimResponse, Response};

/// File bodies are read in pieces of this size.
const FILE_CHUNK: usize = 64 * 1024;

/// How sending a response ended.
pub(crate) enum Sent {
    /// The whole response went out (END_STREAM sent).
    Complete,
    /// The client reset the stream, or the connection went away, before the end.
    Gone,
    /// The server gave up; the stream was reset with this code: CANCEL when the client
    /// kept its window shut past the write timeout (RFC 9113 §8.7: the stream is no
    /// longer needed), INTERNAL_ERROR for the server's own failures (a file error).
    Aborted(Reason),
}

/// The response head as `h2` wants it. Names are lower-cased; the fields HTTP/2 forbids
/// (connection-specific ones, RFC 9113 §8.2.2) and the ones this layer writes itself are
/// dropped, as is any name or value that is not valid.
pub(crate) fn build_head(
    status: u16,
    headers: &crate::Headers,
    content_length: Option<u64>,
    cfg: &H2Config,
) -> http::Response<()> {
    let status = http::StatusCode::from_u16(status)
        .ok()
        .filter(|s| !s.is_informational())
        .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut resp = http::Response::new(());
    *resp.status_mut() = status;
    let map = resp.headers_mut();
    map.reserve(headers.len() + 3);
    let mut has_server = false;
    for (name, value) in headers.iter() {
        if skipped(name) {
            continue;
        }
        let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(value.clone()),
        ) else {
            tracing::warn!(
                header = name,
                "dropping response header with an invalid name or value"
            );
            continue;
        };
        has_server |= n == http::header::SERVER;
        map.append(n, v);
    }
    if let Ok(date) = HeaderValue::from_bytes(&http_date()) {
        map.insert(http::header::DATE, date);
    }
    if !has_server {
        if let Some(v) = cfg
            .server_header
            .as_ref()
            .and_then(|s| HeaderValue::from_maybe_shared(s.clone()).ok())
        {
            map.insert(http::header::SERVER, v);
        }
    }
    if let Some(n) = content_length {
        map.insert(http::header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    resp
}

/// Sends one informational response (h2 queues the frame; the connection writes it).
fn send_interim(respond: &mut SendResponse<Bytes>, r: InterimResponse) {
    let Ok(status) = http::StatusCode::from_u16(r.status) else {
        return;
    };
    let mut resp = http::Response::new(());
    *resp.status_mut() = status;
    let map = resp.headers_mut();
    for (name, value) in r.headers.iter() {
        if skipped(name) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_maybe_shared(value.clone()),
        ) {
            map.append(n, v);
        }
    }
    if let Err(e) = respond.send_informational(resp) {
        tracing::debug!(error = %e, "could not send an informational response");
    }
}

fn skipped(name: &str) -> bool {
    let is = |want: &str| name.eq_ignore_ascii_case(want);
    match name.len() {
        2 => is("te"),
        4 => is("date"),
        7 => is("upgrade"),
        10 => is("connection") || is("keep-alive"),
        14 => is("content-length"),
        16 => is("proxy-connection"),
        17 => is("transfer-encoding"),
        _ => false,
    }
}

/// Sends `resp` (headers only for HEAD and for statuses without a body).
pub(crate) async fn send_response(
    respond: &mut SendResponse<Bytes>,
    resp: Response,
    is_head: bool,
    cfg: &H2Config,
) -> Sent {
    let Response {
        status,
        headers,
        body,
        ..
    } = resp;
    let no_body = status == 204 || status == 304 || !(200..=999).contains(&status);
    let content_length = if no_body { None } else { body.len() };
    let head = build_head(status, &headers, content_length, cfg);
    drop(headers);
    let send_body = !no_body && !is_head && !body.is_empty();
    let mut stream = match respond.send_response(head, !send_body) {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "could not send response headers");
            return Sent::Gone;
        }
    };
    if !send_body {
        // Dropping a stream body here tells its producer nobody will read it.
        return Sent::Complete;
    }
    let result = match body {
        Body::Empty => Ok(()),
        Body::Bytes(b) => send_data(&mut stream, b, true, cfg).await,
        Body::File {
            file,
            offset,
            len,
            guard: _kept_until_sent,
        } => send_file(&mut stream, file, offset, len, cfg).await,
        Body::Stream(s) => send_stream(&mut stream, s, cfg).await,
    };
    match result {
        Ok(()) => Sent::Complete,
        Err(sent) => {
            if let Sent::Aborted(reason) = sent {
                stream.send_reset(reason);
            }
            sent
        }
    }
}

/// Sends `data` as DATA frames as the window allows; `end` marks the last of the body.
pub(crate) async fn send_data(
    stream: &mut SendStream<Bytes>,
    mut data: Bytes,
    end: bool,
    cfg: &H2Config,
) -> Result<(), Sent> {
    if data.is_empty() {
        if end {
            return stream.send_data(Bytes::new(), true).map_err(|_| Sent::Gone);
        }
        return Ok(());
    }
    while !data.is_empty() {
        stream.reserve_capacity(data.len());
        let deadline = Instant::now() + cfg.write_timeout;
        let capacity = match race(poll_fn(|cx| stream.poll_capacity(cx)), deadline, None).await {
            Raced::Done(Some(Ok(n))) => n,
            Raced::Done(Some(Err(_)) | None) => return Err(Sent::Gone),
            Raced::TimedOut | Raced::Shutdown => {
                tracing::debug!("client did not open its flow-control window in time");
                return Err(Sent::Aborted(Reason::CANCEL));
            }
        };
        if capacity == 0 {
            continue;
        }
        let piece = data.split_to(capacity.min(data.len()));
        let last = end && data.is_empty();
        stream.send_data(piece, last).map_err(|_| Sent::Gone)?;
    }
    Ok(())
}

async fn send_file(
    stream: &mut SendStream<Bytes>,
    file: Rc<monoio::fs::File>,
    offset: u64,
    len: u64,
    cfg: &H2Config,
) -> Result<(), Sent> {
    let mut pos = offset;
    let end = offset + len;
    while pos < end {
        let want = (end - pos).min(FILE_CHUNK as u64) as usize;
        let buf = BytesMut::with_capacity(want);
        let (res, slice) = file.read_at(buf.slice_mut(0..want), pos).await;
        let buf = slice.into_inner();
        match res {
            Ok(0) => {
                tracing::warn!("file body shorter than its length");
                return Err(Sent::Aborted(Reason::INTERNAL_ERROR));
            }
            Ok(n) => pos += n as u64,
            Err(e) => {
                tracing::warn!(error = %e, "reading a file body");
                return Err(Sent::Aborted(Reason::INTERNAL_ERROR));
            }
        }
        send_data(stream, buf.freeze(), pos >= end, cfg).await?;
    }
    Ok(())
}

/// Sends chunks as the producer yields them (SSE), asking for the next one only after
/// the previous one fit in the window; a client reset while the producer works ends it.
async fn send_stream(
    stream: &mut SendStream<Bytes>,
    mut body: Pin<Box<dyn BodyStream>>,
    cfg: &H2Config,
) -> Result<(), Sent> {
    loop {
        let next = poll_fn(|cx| {
            if let Poll::Ready(chunk) = body.as_mut().poll_chunk(cx) {
                return Poll::Ready(Some(chunk));
            }
            match stream.poll_reset(cx) {
                Poll::Ready(_) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await;
        match next {
            None => return Err(Sent::Gone),
            Some(Some(chunk)) if chunk.is_empty() => {}
            Some(Some(chunk)) => send_data(stream, chunk, false, cfg).await?,
            Some(None) => return send_data(stream, Bytes::new(), true, cfg).await,
        }
    }
}

/// Runs `fut` unless the client resets the stream first (`None` then). While a
/// request waits for the application, this is how a cancelled request stops its work.
/// The 1xx responses the application sends through `interim` meanwhile go out as
/// HEADERS frames without END_STREAM; those queued when `fut` ends go before its answer.
pub(crate) async fn unless_reset<F: Future>(
    fut: F,
    respond: &mut SendResponse<Bytes>,
    interim: &Interim,
) -> Option<F::Output> {
    let mut fut = pin!(fut);
    poll_fn(|cx| {
        while let Poll::Ready(r) = interim.poll_next(cx) {
            send_interim(respond, r);
        }
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            while let Some(r) = interim.take() {
                send_interim(respond, r);
            }
            return Poll::Ready(Some(v));
        }
        match respond.poll_reset(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
