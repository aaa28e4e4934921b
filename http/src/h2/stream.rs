//! One HTTP/2 stream, start to end: the head converted, the body read completely (spooled
//! to disk when large, as on HTTP/1.1) or streamed to the service while it runs, the
//! service called, the response sent.

use std::pin::pin;

use bytes::Bytes;
use futures_util::future::{select, Either};
use h2::server::SendResponse;
use h2::RecvStream;
use monoio::time::Instant;

use super::request::{convert_head, Head};
use super::respond::{send_response, unless_reset, Sent};
use super::H2Config;
use crate::h1::body_target::{BodyTarget, PipeSink};
use crate::h1::spool::BodySink;
use crate::h1::wait::{race, Raced};
use crate::ConnInfo;
use crate::{body_pipe, Interim, Method, Request, RequestBody, Response, Service, Version};

/// How a stream ended, for the connection's bookkeeping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Answered (or refused with a 4xx/5xx), or the client left while the answer was
    /// being sent.
    Answered,
    /// The client reset the stream before it got its response: the work it started was
    /// wasted. Many of these are the rapid-reset attack.
    ResetEarly,
    /// The server turned the request away to protect itself ([`Response::refused`]).
    Refused,
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
    let has_body = !recv.is_end_stream();
    if has_body {
        if let Err(BodyStop::Refuse(status, text)) = begin_body(&mut respond, &head, cfg) {
            return refuse(&mut respond, status, text, cfg).await;
        }
    }
    let streaming = has_body && !cfg.spool.buffering;
    let (body, writer) = if streaming {
        let (writer, reader) = body_pipe(head.content_length);
        (RequestBody::Stream(reader), Some(writer))
    } else if has_body {
        match read_body(&mut recv, &head, cfg).await {
            Ok(body) => (body, None),
            Err(BodyStop::Reset) => return Outcome::ResetEarly,
            Err(BodyStop::Refuse(status, text)) => {
                return refuse(&mut respond, status, text, cfg).await
            }
        }
    } else {
        (RequestBody::Empty, None)
    };
    let is_head = head.method == Method::Head;
    let req = Request::new(
        head.request,
        Version::Http2,
        body,
        &info,
        Interim::attached(),
    );
    let Some(writer) = writer else {
        drop(recv);
        return answer(service, req, &mut respond, is_head, cfg).await;
    };
    // Streaming: the body goes on arriving while the service runs and while its response
    // is sent (HTTP/2 streams are full duplex), until the body ends or nobody reads it.
    let failed = {
        let pump = pin!(async {
            let mut sink = PipeSink::new(writer);
            read_body_into(&mut recv, &mut sink, cfg).await?;
            sink.finish().await.map_err(spool_failed)
        });
        let work = pin!(answer(service, req, &mut respond, is_head, cfg));
        match select(work, pump).await {
            Either::Left((outcome, _)) => return outcome,
            Either::Right((Ok(()), work)) => return work.await,
            Either::Right((Err(stop), _)) => stop,
        }
    };
    match failed {
        BodyStop::Reset => Outcome::ResetEarly,
        // If the response had begun, this fails and h2 resets the stream.
        BodyStop::Refuse(status, text) => refuse(&mut respond, status, text, cfg).await,
    }
}

/// Calls the service and sends its response, unless the client resets the stream first.
async fn answer<S: Service>(
    service: &S,
    req: Request,
    respond: &mut SendResponse<Bytes>,
    is_head: bool,
    cfg: &H2Config,
) -> Outcome {
    let interim = req.interim.clone();
    // Boxed: the application's future is large, and a stream future is moved into the
    // connection's set of streams; keeping it small makes that move cheap.
    let answered = unless_reset(Box::pin(service.call(req)), respond, &interim).await;
    interim.close();
    let Some(resp) = answered else {
        return Outcome::ResetEarly;
    };
    let refused = resp.refused;
    send_response(respond, resp, is_head, cfg).await;
    if refused {
        Outcome::Refused
    } else {
        Outcome::Answered
    }
}

async fn refuse(
    respond: &mut SendResponse<Bytes>,
    status: u16,
    text: &'static str,
    cfg: &H2Config,
) -> Outcome {
    tracing::debug!(status, reason = text.trim_end(), "refusing HTTP/2 request");
    match send_response(respond, Response::text(status, text), false, cfg).await {
        Sent::Complete | Sent::Aborted(_) => Outcome::Answered,
        Sent::Gone => Outcome::Answered,
    }
}

/// Refuses a body declared too large before a byte of it is read (and before inviting it
/// with 100), else answers `expect: 100-continue`.
fn begin_body(
    respond: &mut SendResponse<Bytes>,
    head: &Head,
    cfg: &H2Config,
) -> Result<(), BodyStop> {
    if head.content_length.is_some_and(|n| n > cfg.max_body_size) {
        return Err(too_large());
    }
    if head.expect_continue {
        let mut cont = http::Response::new(());
        *cont.status_mut() = http::StatusCode::CONTINUE;
        let _ = respond.send_informational(cont);
    }
    Ok(())
}

fn too_large() -> BodyStop {
    BodyStop::Refuse(413, "request body too large\n")
}

/// Reads the whole body into memory or, past the spool threshold, an unlinked file.
async fn read_body(
    recv: &mut RecvStream,
    head: &Head,
    cfg: &H2Config,
) -> Result<RequestBody, BodyStop> {
    let mut sink = BodySink::new(&cfg.spool, head.content_length);
    if head
        .content_length
        .is_some_and(|n| n > cfg.spool.threshold as u64)
    {
        sink.start_file().map_err(spool_failed)?;
    }
    read_body_into(recv, &mut sink, cfg).await?;
    sink.finish().await.map_err(spool_failed)
}

/// Moves the body's DATA into `target`. Flow-control capacity is given back as each
/// frame is taken, so the client's window reopens as fast as the target accepts bytes
/// (a full pipe to a busy application holds it shut).
async fn read_body_into<T: BodyTarget>(
    recv: &mut RecvStream,
    target: &mut T,
    cfg: &H2Config,
) -> Result<(), BodyStop> {
    loop {
        let deadline = Instant::now() + cfg.body_timeout;
        match race(recv.data(), deadline, None).await {
            Raced::Done(Some(Ok(chunk))) => {
                let _ = recv.flow_control().release_capacity(chunk.len());
                if target.len() + chunk.len() as u64 > cfg.max_body_size {
                    return Err(too_large());
                }
                target.extend(&chunk);
                target.spill().await.map_err(spool_failed)?;
            }
            Raced::Done(Some(Err(e))) => {
                tracing::debug!(error = %e, "request body ended by the client");
                return Err(BodyStop::Reset);
            }
            Raced::Done(None) => return Ok(()),
            Raced::TimedOut | Raced::Shutdown => {
                return Err(BodyStop::Refuse(408, "request timeout\n"))
            }
        }
    }
}

fn spool_failed(e: std::io::Error) -> BodyStop {
    tracing::error!(error = %e, "could not spool a request body to disk");
    BodyStop::Refuse(500, "internal server error\n")
}
