//! Decoding a chunked request body (RFC 9112 §7.1).
//!
//! A push decoder: it is fed whatever bytes arrived, consumes all of them (keeping its
//! place between calls, so a size line split across reads is fine) and hands out the
//! data. Chunk extensions are skipped and trailer fields dropped; both are bounded so
//! that a client cannot keep the server reading forever without sending data.

use super::H1Error;

/// Longest chunk-size line (size, extensions and CRLF) accepted.
const MAX_SIZE_LINE: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Reading hex digits; `digits` counts them.
    Size {
        digits: u32,
    },
    /// After the size: optional whitespace, then `;` extensions or CR.
    AfterSize,
    /// Inside chunk extensions, until CR.
    Extension,
    /// CR of the size line seen, LF expected.
    SizeLf,
    /// `remaining` data bytes of the current chunk to go.
    Data {
        remaining: u64,
    },
    /// CRLF after the chunk data.
    DataCr,
    DataLf,
    /// At the start of a trailer line (or of the final blank line).
    TrailerStart,
    /// Inside a trailer field line, until CR.
    TrailerLine,
    TrailerLf,
    /// CR of the final blank line seen, LF expected.
    EndLf,
    Done,
}

/// What one call to [`ChunkedDecoder::decode`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// Body bytes (never empty); more may follow in the rest of the input.
    Data {
        /// A slice of the input.
        data: &'a [u8],
        /// Input bytes used, up to the end of `data`.
        consumed: usize,
    },
    /// All of the input was consumed without finishing; feed more.
    NeedMore,
    /// The body ended (after its trailers) after `consumed` input bytes; what follows
    /// belongs to the next request.
    Done {
        /// Input bytes used, up to the end of the trailer section.
        consumed: usize,
    },
}

/// Decoder state for one chunked body.
#[derive(Clone, Debug)]
pub struct ChunkedDecoder {
    state: State,
    size: u64,
    line_len: usize,
    trailer_bytes: usize,
    max_trailer_bytes: usize,
}

impl ChunkedDecoder {
    /// A decoder that accepts up to `max_trailer_bytes` of trailer fields.
    pub fn new(max_trailer_bytes: usize) -> Self {
        ChunkedDecoder {
            state: State::Size { digits: 0 },
            size: 0,
            line_len: 0,
            trailer_bytes: 0,
            max_trailer_bytes,
        }
    }

    /// Whether the terminating chunk and trailers were read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes from the start of `input`. Returns at the first data bytes found (a slice
    /// of `input`), at the end of the body, or once `input` is used up.
    pub fn decode<'a>(&mut self, input: &'a [u8]) -> Result<Decoded<'a>, H1Error> {
        let mut i = 0;
        while i < input.len() {
            if let State::Data { remaining } = self.state {
                let n = (input.len() - i).min(usize::try_from(remaining).unwrap_or(usize::MAX));
                let left = remaining - n as u64;
                self.state = if left == 0 {
                    State::DataCr
                } else {
                    State::Data { remaining: left }
                };
                return Ok(Decoded::Data {
                    data: &input[i..i + n],
                    consumed: i + n,
                });
            }
            let b = input[i];
            i += 1;
            self.step(b)?;
            if self.state == State::Done {
                return Ok(Decoded::Done { consumed: i });
            }
        }
        Ok(Decoded::NeedMore)
    }

    fn step(&mut self, b: u8) -> Result<(), H1Error> {
        const BAD_SIZE: H1Error = H1Error::BadRequest("invalid chunk size\n");
        const BAD_FRAMING: H1Error = H1Error::BadRequest("invalid chunked framing\n");
        match self.state {
            State::Size { digits } => {
                self.count_line_byte()?;
                match hex_value(b) {
                    Some(v) => {
                        if self.size > (u64::MAX >> 4) {
                            return Err(BAD_SIZE);
                        }
                        self.size = (self.size << 4) | u64::from(v);
                        self.state = State::Size { digits: digits + 1 };
                    }
                    None if digits == 0 => return Err(BAD_SIZE),
                    None => {
                        self.state = State::AfterSize;
                        return self.after_size(b);
                    }
                }
            }
            State::AfterSize => {
                self.count_line_byte()?;
                return self.after_size(b);
            }
            State::Extension => {
                self.count_line_byte()?;
                match b {
                    b'\r' => self.state = State::SizeLf,
                    b'\t' | b' '..=b'~' | 0x80..=0xff => {}
                    _ => return Err(BAD_FRAMING),
                }
            }
            State::SizeLf => {
                if b != b'\n' {
                    return Err(BAD_FRAMING);
                }
                self.line_len = 0;
                self.state = if self.size == 0 {
                    State::TrailerStart
                } else {
                    State::Data {
                        remaining: self.size,
                    }
                };
                self.size = 0;
            }
            State::Data { .. } => unreachable!("data bytes are sliced, not stepped"),
            State::DataCr => {
                if b != b'\r' {
                    return Err(BAD_FRAMING);
                }
                self.state = State::DataLf;
            }
            State::DataLf => {
                if b != b'\n' {
                    return Err(BAD_FRAMING);
                }
                self.state = State::Size { digits: 0 };
            }
            State::TrailerStart => {
                self.count_trailer_byte()?;
                self.state = match b {
                    b'\r' => State::EndLf,
                    // A trailer field line; its syntax does not matter since it is dropped,
                    // but line endings must stay strict.
                    b'\n' => return Err(BAD_FRAMING),
                    _ => State::TrailerLine,
                };
            }
            State::TrailerLine => {
                self.count_trailer_byte()?;
                match b {
                    b'\r' => self.state = State::TrailerLf,
                    b'\n' | 0 => return Err(BAD_FRAMING),
                    _ => {}
                }
            }
            State::TrailerLf => {
                self.count_trailer_byte()?;
                if b != b'\n' {
                    return Err(BAD_FRAMING);
                }
                self.state = State::TrailerStart;
            }
            State::EndLf => {
                if b != b'\n' {
                    return Err(BAD_FRAMING);
                }
                self.state = State::Done;
            }
            State::Done => {}
        }
        Ok(())
    }

    fn after_size(&mut self, b: u8) -> Result<(), H1Error> {
        match b {
            // BWS before an extension (RFC 9112 §7.1.1).
            b' ' | b'\t' => {}
            b';' => self.state = State::Extension,
            b'\r' => self.state = State::SizeLf,
            _ => return Err(H1Error::BadRequest("invalid chunk size\n")),
        }
        Ok(())
    }

    fn count_line_byte(&mut self) -> Result<(), H1Error> {
        self.line_len += 1;
        if self.line_len > MAX_SIZE_LINE {
            return Err(H1Error::BadRequest("chunk size line too long\n"));
        }
        Ok(())
    }

    fn count_trailer_byte(&mut self) -> Result<(), H1Error> {
        self.trailer_bytes += 1;
        if self.trailer_bytes > self.max_trailer_bytes {
            return Err(H1Error::HeadersTooLarge);
        }
        Ok(())
    }
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Decodes `input` fed in pieces of `step` bytes; returns the body and the bytes left
    /// after the end.
    fn decode_all(input: &[u8], step: usize) -> Result<(Vec<u8>, Vec<u8>), H1Error> {
        let mut d = ChunkedDecoder::new(1024);
        let mut body = Vec::new();
        let mut pos = 0;
        while pos < input.len() {
            let end = (pos + step).min(input.len());
            let mut piece = &input[pos..end];
            loop {
                match d.decode(piece)? {
                    Decoded::Data { data, consumed } => {
                        body.extend_from_slice(data);
                        piece = &piece[consumed..];
                    }
                    Decoded::NeedMore => break,
                    Decoded::Done { consumed } => {
                        let rest_start = end - piece.len() + consumed;
                        return Ok((body, input[rest_start..].to_vec()));
                    }
                }
            }
            pos = end;
        }
        Err(H1Error::BadRequest("incomplete"))
    }

    #[test]
    fn decodes_in_any_split() {
        let input = b"5\r\nhello\r\n7;ext=1;b\r\n, world\r\n0\r\n\r\nNEXT";
        for step in 1..input.len() {
            let (body, rest) = decode_all(input, step).unwrap();
            assert_eq!(body, b"hello, world", "step {step}");
            assert_eq!(rest, b"NEXT", "step {step}");
        }
    }

    #[test]
    fn hex_sizes_and_trailers() {
        let mut input = b"1A\r\n".to_vec();
        input.extend_from_slice(&[b'x'; 26]);
        input.extend_from_slice(b"\r\n00 ; last\r\nTrailer: x\r\nOther: y\r\n\r\n");
        let (body, rest) = decode_all(&input, 1000).unwrap();
        assert_eq!(body.len(), 26);
        assert!(rest.is_empty());
    }

    #[test]
    fn refuses_bad_framing() {
        for bad in [
            &b"x\r\n"[..],
            b"\r\n",
            b";\r\n",
            b"5\nhello\r\n0\r\n\r\n",
            b"5\r\nhello\n0\r\n\r\n",
            b"5\r\nhelloXX0\r\n\r\n",
            b"5 x\r\nhello\r\n0\r\n\r\n",
            b"-5\r\nhello\r\n0\r\n\r\n",
            b"0x5\r\nhello\r\n0\r\n\r\n",
            b"10000000000000000\r\n",
            b"0\r\nTrailer: a\nX\r\n\r\n",
            b"0\r\n\n",
            b"1;a\x01\r\nx\r\n0\r\n\r\n",
        ] {
            let r = decode_all(bad, 1);
            assert!(
                matches!(r, Err(H1Error::BadRequest(_))),
                "{:?}: {r:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn largest_size_fits() {
        let mut d = ChunkedDecoder::new(0);
        assert_eq!(
            d.decode(b"ffffffffffffffff\r\nab").unwrap(),
            Decoded::Data {
                data: b"ab",
                consumed: 20
            }
        );
        assert!(!d.is_done());
    }

    #[test]
    fn bounds_extensions_and_trailers() {
        let mut long_ext = b"1;".to_vec();
        long_ext.extend(std::iter::repeat_n(b'a', MAX_SIZE_LINE));
        assert!(matches!(
            decode_all(&long_ext, 100),
            Err(H1Error::BadRequest(_))
        ));
        let mut long_trailer = b"0\r\nT: ".to_vec();
        long_trailer.extend(std::iter::repeat_n(b'a', 2000));
        assert_eq!(
            decode_all(&long_trailer, 100),
            Err(H1Error::HeadersTooLarge)
        );
    }

    #[test]
    fn leading_zeros_are_fine() {
        let (body, _) = decode_all(b"0003\r\nabc\r\n0\r\n\r\n", 3).unwrap();
        assert_eq!(body, b"abc");
    }
}
