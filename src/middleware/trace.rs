//! W3C Trace Context and request ids (`TRACE_CONTEXT=1`).
//!
//! Request flow: a valid `traceparent` continues the caller's trace (its span becomes
//! the parent, `tracestate` is kept), anything else starts a new trace; each request
//! gets a new span id. `X-Request-ID` is the client's when valid (1–128 printable ASCII
//! characters), otherwise `{trace_id}-{span_id}`; PHP sees it as HTTP_X_REQUEST_ID and
//! the ids as TRACE_ID, SPAN_ID and PARENT_SPAN_ID. Response flow: `traceparent` with
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
        let request_id = match req.headers.get("X-Request-ID") {
            Some(v) if valid_request_id(v) => v.clone(),
            other => {
                let id = trace.request_id();
                if crate::service::exp() & 2 == 0 {
                    if other.is_some() {
                        req.headers.remove("X-Request-ID");
                    }
                    req.headers.push("X-Request-ID", id.clone());
                }
                id
            }
        };
        ctx.trace = Some(trace);
        ctx.request_id = Some(request_id);
        None
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        if crate::service::exp() & 4 != 0 {
            return;
        }
        if let Some(t) = &ctx.trace {
            resp.headers.set("traceparent", t.traceparent());
            if let Some(state) = &t.tracestate {
                resp.headers.set("tracestate", state.clone());
            }
        }
        if let Some(id) = &ctx.request_id {
            resp.headers.set("X-Request-ID", Bytes::clone(id));
        }
    }
}
