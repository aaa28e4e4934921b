//! Racing an IO future against a deadline and, while idle, the shutdown signal.
//!
//! The losing IO future is dropped, which cancels its operation (monoio keeps the buffer
//! alive until the kernel lets go of it). Bytes that arrive at that moment are lost, so
//! every caller closes the connection after a timeout or shutdown.

use std::future::{poll_fn, Future};
use std::pin::pin;
use std::task::Poll;

use monoio::time::Instant;

use crate::Shutdown;

/// How a raced future ended.
pub(crate) enum Raced<T> {
    Done(T),
    TimedOut,
    Shutdown,
}

/// Runs `fut` until it completes, `deadline` passes, or `shutdown` (when given) fires.
/// The future is polled first, so a result that is ready wins over a timer that is too.
pub(crate) async fn race<F: Future>(
    fut: F,
    deadline: Instant,
    shutdown: Option<&Shutdown>,
) -> Raced<F::Output> {
    let mut fut = pin!(fut);
    let mut sleep = pin!(monoio::time::sleep_until(deadline));
    let mut stop = pin!(async {
        match shutdown {
            Some(s) => s.triggered().await,
            None => std::future::pending().await,
        }
    });
    poll_fn(|cx| {
        if let Poll::Ready(v) = fut.as_mut().poll(cx) {
            return Poll::Ready(Raced::Done(v));
        }
        if stop.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Raced::Shutdown);
        }
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Raced::TimedOut);
        }
        Poll::Pending
    })
    .await
}
