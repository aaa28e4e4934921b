//! One HTTP/2 stream, start to end: the head converted, the body read completely (spooled
//! to disk when large, as on HTTP/1.1), the service called, the response sent.

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use monoio::time::Instant;

use super::request::{convert_head, Head};
use super::respond::{send_response, unless_reset, Sent};
use super::H2Config;
use crate::h1::spool::BodySink;
use crate::h1::wait::{race, Raced};
use crate::h1::ConnInfo;
use crate::{Method, Request, RequestBody, Response, Service, Version};

/// How a stream ended, for the connection's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered (or refused with a 4xx/5xx), or the client left while the answer was
    /// being sent.
    Answered,
    /// The client reset the stream before it got its response: the work it started was
    /// wasted. Many of these are the rapid-reset attack.
    ResetEarly,
}

/// Why reading a body stopped early.
enum BodyStop {
    /// Answer with this status and text.
    Refuse(u16, &'static str),
    /// The client reset the stream (or the connection failed).
    Reset,
}

pub(crate) async fn serve_stream<S: Service>(
    req: http::Request<RecvStream>,
    mut respond: SendResponse<Bytes>,
    service: &S,
    cfg: &H2Config,
    info: ConnInfo,
) -> Outcome {
    let (parts, mut recv) = req.into_parts();
    let head = match convert_head(parts) {
        Ok(head) => head,
        Err((status, text)) => return refuse(&mut respond, status, text, cfg).await,
    };
    let body = if recv.is_end_stream() {
        RequestBody::Empty
    } else {
        match read_body(&mut recv, &mut respond, &head, cfg).await {
            Ok(body) => body,
            Err(BodyStop::Reset) => return Outcome::ResetEarly,
            Err(BodyStop::Refuse(status, text)) => {
                return refuse(&mut respond, status, text, cfg).await
            }
        }
    };
    drop(recv);
    let is_head = head.method == Method::Head;
    let req = Request {
        method: head.method,
        target: head.target,
        path: head.path,
        query: head.query,
        version: Version::Http2,
        headers: head.headers,
        host: head.host,
        body,
        remote_addr: info.remote_addr,
        local_addr: info.local_addr,
        tls: info.tls,
    };
    // Boxed: the application's future is large, and a stream future is moved into the
    // connection's set of streams; keeping it small makes that move cheap.
    let Some(resp) = unless_reset(Box::pin(service.call(req)), &mut respond).await else {
        return Outcome::ResetEarly;
    };
    send_response(&mut respond, resp, is_head, cfg).await;
    Outcome::Answered
}

async fn refuse(
    respond: &mut SendResponse<Bytes>,
    status: u16,
    text: &'static str,
    cfg: &H2Config,
) -> Outcome {
    tracing::debug!(status, reason = text.trim_end(), "refusing HTTP/2 request");
    match send_response(respond, Response::text(status, text), false, cfg).await {
        Sent::Complete | Sent::Aborted => Outcome::Answered,
        Sent::Gone => Outcome::Answered,
    }
}

/// Reads the whole body into memory or, past the spool threshold, an unlinked file.
/// Flow-control capacity is given back as bytes arrive, so the client's window reopens
/// while the body is stored.
async fn read_body(
    recv: &mut RecvStream,
    respond: &mut SendResponse<Bytes>,
    head: &Head,
    cfg: &H2Config,
) -> Result<RequestBody, BodyStop> {
    let too_large = BodyStop::Refuse(413, "request body too large\n");
    if head.content_length.is_some_and(|n| n > cfg.max_body_size) {
        // Refused before a byte of it is read (and before inviting it with 100).
        return Err(too_large);
    }
    if head.expect_continue {
        let mut cont = http::Response::new(());
        *cont.status_mut() = http::StatusCode::CONTINUE;
        let _ = respond.send_informational(cont);
    }
    let mut sink = BodySink::new(&cfg.spool, head.content_length);
    if head
        .content_length
        .is_some_and(|n| n > cfg.spool.threshold as u64)
    {
        sink.start_file().map_err(spool_failed)?;
    }
    loop {
        let deadline = Instant::now() + cfg.body_timeout;
        match race(recv.data(), deadline, None).await {
            Raced::Done(Some(Ok(chunk))) => {
                let _ = recv.flow_control().release_capacity(chunk.len());
                if sink.len() + chunk.len() as u64 > cfg.max_body_size {
                    return Err(too_large);
                }
                sink.extend(&chunk);
                sink.spill().await.map_err(spool_failed)?;
            }
            Raced::Done(Some(Err(e))) => {
                tracing::debug!(error = %e, "request body ended by the client");
                return Err(BodyStop::Reset);
            }
            Raced::Done(None) => break,
            Raced::TimedOut | Raced::Shutdown => {
                return Err(BodyStop::Refuse(408, "request timeout\n"))
            }
        }
    }
    sink.finish().await.map_err(spool_failed)
}

fn spool_failed(e: std::io::Error) -> BodyStop {
    tracing::error!(error = %e, "could not spool a request body to disk");
    BodyStop::Refuse(500, "internal server error\n")
}
