//! The three encoders behind one interface: whole bodies at once, streams piece by piece
//! with a flush after each piece (the client can decode everything sent so far).

use std::io::{self, Write};

use super::negotiate::Encoding;
use super::CompressionConfig;

/// Brotli window for streams (256 KiB): bounds the memory of a long-lived SSE stream.
const STREAM_LGWIN: u32 = 18;
/// zstd window for streams, for the same reason.
const STREAM_WINDOW_LOG: u32 = 18;

pub enum Encoder {
    Zstd(zstd::stream::write::Encoder<'static, Vec<u8>>),
    Br(Box<brotli::CompressorWriter<Vec<u8>>>),
    Gzip(flate2::write::GzEncoder<Vec<u8>>),
}

impl Encoder {
    /// A streaming encoder; `size_hint` is the input's size when known.
    pub fn new(
        enc: Encoding,
        cfg: &CompressionConfig,
        size_hint: Option<u64>,
    ) -> io::Result<Encoder> {
        Ok(match enc {
            Encoding::Zstd => {
                let mut e = zstd::stream::write::Encoder::new(Vec::new(), cfg.level_zstd)?;
                match size_hint {
                    Some(n) => e.set_pledged_src_size(Some(n))?,
                    None => e.window_log(STREAM_WINDOW_LOG)?,
                }
                Encoder::Zstd(e)
            }
            Encoding::Br => {
                let lgwin = size_hint.map_or(STREAM_LGWIN, lgwin_for);
                Encoder::Br(Box::new(brotli::CompressorWriter::new(
                    Vec::new(),
                    4096,
                    cfg.level_br,
                    lgwin,
                )))
            }
            Encoding::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                Vec::new(),
                flate2::Compression::new(cfg.level_gzip),
            )),
        })
    }

    pub fn write(&mut self, data: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Zstd(e) => e.write_all(data),
            Encoder::Br(e) => e.write_all(data),
            Encoder::Gzip(e) => e.write_all(data),
        }
    }

    /// Pushes out everything written so far as decodable output.
    pub fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Zstd(e) => e.flush(),
            Encoder::Br(e) => e.flush(),
            Encoder::Gzip(e) => e.flush(),
        }
    }

    /// The output produced so far (and not yet taken).
    pub fn take(&mut self) -> Vec<u8> {
        match self {
            Encoder::Zstd(e) => std::mem::take(e.get_mut()),
            Encoder::Br(e) => std::mem::take(e.get_mut()),
            Encoder::Gzip(e) => std::mem::take(e.get_mut()),
        }
    }

    /// Ends the stream; returns the output not yet taken.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        match self {
            Encoder::Zstd(e) => e.finish(),
            Encoder::Br(e) => Ok(e.into_inner()),
            Encoder::Gzip(e) => e.finish(),
        }
    }
}

/// A brotli window just big enough for `n` bytes (16 to 22 bits).
fn lgwin_for(n: u64) -> u32 {
    (64 - n.max(1).leading_zeros()).clamp(16, 22)
}

/// Compresses a whole body.
pub fn compress_all(enc: Encoding, cfg: &CompressionConfig, data: &[u8]) -> io::Result<Vec<u8>> {
    match enc {
        Encoding::Zstd => zstd::bulk::compress(data, cfg.level_zstd),
        _ => {
            let mut e = Encoder::new(enc, cfg, Some(data.len() as u64))?;
            e.write(data)?;
            e.finish()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decode(enc: Encoding, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        match enc {
            Encoding::Zstd => {
                zstd::stream::read::Decoder::new(data)
                    .unwrap()
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Encoding::Br => {
                brotli::Decompressor::new(data, 4096)
                    .read_to_end(&mut out)
                    .unwrap();
            }
            Encoding::Gzip => {
                flate2::read::GzDecoder::new(data)
                    .read_to_end(&mut out)
                    .unwrap();
            }
        }
        out
    }

    #[test]
    fn round_trips_whole_and_streamed() {
        let cfg = CompressionConfig::default();
        let text: Vec<u8> = (0..20_000)
            .flat_map(|i| format!("line {i} of some text\n").into_bytes())
            .collect();
        for enc in [Encoding::Zstd, Encoding::Br, Encoding::Gzip] {
            let whole = compress_all(enc, &cfg, &text).unwrap();
            assert!(whole.len() < text.len() / 3, "{enc:?}");
            assert_eq!(decode(enc, &whole), text, "{enc:?}");

            let mut e = Encoder::new(enc, &cfg, None).unwrap();
            let mut out = Vec::new();
            for piece in text.chunks(7_000) {
                e.write(piece).unwrap();
                e.flush().unwrap();
                let got = e.take();
                assert!(!got.is_empty(), "{enc:?}: a flush produces output");
                out.extend_from_slice(&got);
            }
            out.extend_from_slice(&e.finish().unwrap());
            assert_eq!(decode(enc, &out), text, "{enc:?}");
        }
    }
}
