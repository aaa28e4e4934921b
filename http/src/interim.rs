//! Informational (1xx) responses sent while the final one is still being made: 103 Early
//! Hints (RFC 8297), so a browser starts fetching what the `Link` headers name while the
//! application works.
//!
//! The connection puts an [`Interim`] into each [`Request`](crate::Request); the service
//! (or anything it hands a clone to, on the same core) calls [`Interim::send`], and the
//! connection writes the 1xx out while it waits for the service's answer. HTTP/1.0
//! clients get a detached handle that sends nothing: a server must not send them a 1xx
//! (RFC 9110 §15.2). Once the final response is on its way the handle is closed.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use crate::Headers;

/// One informational response: a 1xx status and its header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterimResponse {
    pub status: u16,
    pub headers: Headers,
}

#[derive(Default)]
struct State {
    queue: VecDeque<InterimResponse>,
    waker: Option<Waker>,
    closed: bool,
}

/// A way to send 1xx responses ahead of a request's final response. Cheap to clone; all
/// clones feed the same connection. The default handle is detached: it sends nothing.
#[derive(Clone, Default)]
pub struct Interim(Option<Rc<RefCell<State>>>);

/// At most this many informational responses wait unsent per request; more are dropped
/// (a script calling headers_send(103) in a loop must not grow memory).
const MAX_QUEUED: usize = 16;

impl std::fmt::Debug for Interim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "Interim(attached)"
        } else {
            "Interim(detached)"
        })
    }
}

impl Interim {
    /// A handle whose responses the connection writes out.
    pub(crate) fn attached() -> Interim {
        Interim(Some(Rc::new(RefCell::new(State::default()))))
    }

    /// Queues a 1xx response. False when it cannot go out: a detached or closed handle
    /// (HTTP/1.0, or the final response already started), a status outside 102..=199
    /// (100 belongs to the protocol layer, 101 would switch protocols), or a full queue.
    pub fn send(&self, status: u16, headers: Headers) -> bool {
        let Some(state) = &self.0 else {
            return false;
        };
        if !(102..=199).contains(&status) {
            return false;
        }
        let mut s = state.borrow_mut();
        if s.closed || s.queue.len() >= MAX_QUEUED {
            return false;
        }
        s.queue.push_back(InterimResponse { status, headers });
        if let Some(w) = s.waker.take() {
            w.wake();
        }
        true
    }

    /// Whether a send could go out now (attached and not closed).
    pub fn is_open(&self) -> bool {
        self.0.as_ref().is_some_and(|s| !s.borrow().closed)
    }

    /// The next queued response; pending (the task woken on the next send) when none.
    pub(crate) fn poll_next(&self, cx: &mut Context<'_>) -> Poll<InterimResponse> {
        let Some(state) = &self.0 else {
            return Poll::Pending;
        };
        let mut s = state.borrow_mut();
        match s.queue.pop_front() {
            Some(r) => Poll::Ready(r),
            None => {
                s.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// The next queued response, if any, without waiting.
    pub(crate) fn take(&self) -> Option<InterimResponse> {
        self.0.as_ref()?.borrow_mut().queue.pop_front()
    }

    /// The final response is starting: later sends are refused.
    pub(crate) fn close(&self) {
        if let Some(state) = &self.0 {
            let mut s = state.borrow_mut();
            s.closed = true;
            s.queue.clear();
            s.waker = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn link() -> Headers {
        let mut h = Headers::new();
        h.push("Link", "</a.css>; rel=preload; as=style");
        h
    }

    #[test]
    fn detached_sends_nothing() {
        assert!(!Interim::default().send(103, link()));
        assert!(!Interim::default().is_open());
    }

    #[test]
    fn queues_in_order_until_closed() {
        let i = Interim::attached();
        assert!(i.send(103, link()));
        assert!(i.clone().send(103, Headers::new()));
        assert!(!i.send(100, Headers::new()), "100 is the protocol's");
        assert!(!i.send(101, Headers::new()), "101 would switch protocols");
        assert!(!i.send(200, Headers::new()), "not informational");
        assert_eq!(i.take().unwrap().headers, link());
        assert!(i.take().unwrap().headers.is_empty());
        assert!(i.take().is_none());
        i.close();
        assert!(!i.send(103, link()));
        assert!(!i.is_open());
    }

    #[test]
    fn the_queue_is_bounded() {
        let i = Interim::attached();
        for _ in 0..MAX_QUEUED {
            assert!(i.send(103, link()));
        }
        assert!(!i.send(103, link()));
    }
}
