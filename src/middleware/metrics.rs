//! Request metrics (on with `INTERNAL_ADDR`): requests by method and status class,
//! durations (total and PHP), body bytes in and out, 429s, 503s for a full queue, and
//! streamed responses. Written to this core's own counters (see
//! `crate::metrics_registry`).

use std::sync::Arc;

use uring_http::{Body, Request, Response};

use super::{body_bytes, Middleware, ObservedStream, RequestCtx};
use crate::metrics_registry::{method_index, CoreMetrics};

pub struct MetricsMiddleware {
    m: Arc<CoreMetrics>,
}

impl MetricsMiddleware {
    pub fn new(m: Arc<CoreMetrics>) -> MetricsMiddleware {
        MetricsMiddleware { m }
    }
}

impl Middleware for MetricsMiddleware {
    fn name(&self) -> &'static str {
        "metrics"
    }

    fn priority(&self) -> i32 {
        5
    }

    fn on_request(&self, req: &mut Request, _ctx: &mut RequestCtx) -> Option<Response> {
        self.m.bytes_in.add(req.body.len());
        None
    }

    fn on_response(&self, ctx: &mut RequestCtx, resp: &mut Response) {
        let m = &self.m;
        m.request(method_index(&ctx.method), resp.status);
        m.duration
            .observe_us(ctx.started.elapsed().as_micros() as u64);
        if let Some(us) = ctx.php_micros {
            m.php_duration.observe_us(us);
        }
        if ctx.rate_limited {
            m.rate_limited.inc();
        }
        if ctx.dropped {
            m.dropped.inc();
        }
        match body_bytes(ctx, resp) {
            Some(n) => m.bytes_out.add(n),
            None => {
                let Body::Stream(inner) = std::mem::replace(&mut resp.body, Body::Empty) else {
                    return;
                };
                m.streams_started.inc();
                let m = Arc::clone(&self.m);
                resp.body = Body::Stream(Box::pin(ObservedStream::new(inner, move |sent, _| {
                    m.bytes_out.add(sent);
                    m.streams_ended.inc();
                })));
            }
        }
    }
}
