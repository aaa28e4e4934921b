//! W3C Trace Context and request ids (`TRACE_CONTEXT=1`).
//!
//! Request flow: a valid `traceparent` continues the caller's trace (its span becomes
//! the parent, `tracestate` is kept), anything else starts a new trace; each request
//! gets a new span id. `X-Request-ID` is the client's when valid (1–128 printable ASCII
//! characters), otherwise `{trace_id}-{span_id}`. PHP sees the ids as TRACE_ID, SPAN_ID
//! and PARENT_SPAN_ID (and a client's X-Request-ID as HTTP_X_REQUEST_ID, as sent).
//! Response flow: `traceparent` with
//! this request's span, `tracestate` when one was kept, and `X-Request-ID`.

use bytes::Bytes;
use uring_http::{Request, Response};

use super::{Middleware, RequestCtx};
use crate::trace_context::{valid_request_id, TraceContext};

pub struct Trace;

impl Middleware for Trace {
    fn name(&self) -> &'static str {
        "trace_context"
    }

    fn priority(&self) -> i32 {
        10
    }

    fn on_request(&self, req: &mut Request, ctx: &mut RequestCtx) -> Option<Response> {
        let trace = TraceContext::from_headers(
            req.headers.get("traceparent").map(|v| &v[..]),
            req.headers.get("tracestate"),
        );
        // The client's id when valid; otherwise one derived from the trace (PHP can
        // build the same from TRACE_ID and SPAN_ID; it is not added to the request).
        let traceparent = trace.traceparent();
        let request_id = match req.headers.get("X-Request-ID") {
            Some(v) if valid_request_id(v) => v.clone(),
            _ => TraceContext::request_id_of(&traceparent),
        };
        ctx.trace = Some(trace);
        ctx.traceparent = Some(traceparent);
        ctx.request_id = Some(request_id);
        None
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        if let Some(tp) = ctx.traceparent.take() {
            resp.headers.set("traceparent", tp);
        }
        if let Some(t) = &ctx.trace {
            if let Some(state) = &t.tracestate {
                resp.headers.set("tracestate", state.clone());
            }
        }
        if let Some(id) = &ctx.request_id {
            resp.headers.set("X-Request-ID", Bytes::clone(id));
        }
    }
}
