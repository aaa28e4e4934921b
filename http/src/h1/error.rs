//! Protocol errors a client can cause, and the status each one is answered with.
//!
//! Every one of them ends the connection: after a framing error the server cannot know
//! where the next request would start.

use std::fmt;

/// A request the server refuses. [`status`](Self::status) and [`message`](Self::message)
/// make the (short, plain-text) error response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum H1Error {
    /// 400: malformed syntax or framing; the text says what.
    BadRequest(&'static str),
    /// 408: the head or the body did not arrive in time.
    Timeout,
    /// 413: the body is larger than `max_body_size`.
    PayloadTooLarge,
    /// 414: the request-target is longer than `max_uri_len`.
    UriTooLong,
    /// 417: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 431: the head is larger than `max_header_bytes` or has more than `max_headers` fields.
    HeadersTooLarge,
    /// 501: a transfer coding other than `chunked`.
    NotImplemented,
    /// 505: an HTTP version other than 1.0 and 1.1.
    VersionNotSupported,
}

impl H1Error {
    /// The response status for this error.
    pub fn status(&self) -> u16 {
        match self {
            H1Error::BadRequest(_) => 400,
            H1Error::Timeout => 408,
            H1Error::PayloadTooLarge => 413,
            H1Error::UriTooLong => 414,
            H1Error::ExpectationFailed => 417,
            H1Error::HeadersTooLarge => 431,
            H1Error::NotImplemented => 501,
            H1Error::VersionNotSupported => 505,
        }
    }

    /// The plain-text body of the error response.
    pub fn message(&self) -> &'static str {
        match self {
            H1Error::BadRequest(why) => why,
            H1Error::Timeout => "request timeout\n",
            H1Error::PayloadTooLarge => "request body too large\n",
            H1Error::UriTooLong => "request-target too long\n",
            H1Error::ExpectationFailed => "unsupported expectation\n",
            H1Error::HeadersTooLarge => "request header fields too large\n",
            H1Error::NotImplemented => "unsupported transfer coding\n",
            H1Error::VersionNotSupported => "HTTP version not supported\n",
        }
    }
}

impl fmt::Display for H1Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.status(), self.message().trim_end())
    }
}

impl std::error::Error for H1Error {}
