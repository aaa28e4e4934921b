//! Precompressed variants of a static file (`F.zst`, `F.br`, `F.gz` beside `F`), served
//! instead of compressing on the fly when compression is on and the client takes one of
//! them, as nginx's gzip_static/brotli_static do.

use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::compression::{negotiate, CompressionConfig, Encoding, PREFERENCE};
use crate::router::Router;

/// How long a file's set of variants is remembered (per core).
const VARIANTS_TTL: Duration = Duration::from_secs(1);
const VARIANTS_MAX: usize = 4096;

pub struct Variants {
    pub cfg: CompressionConfig,
    router: Rc<Router>,
    /// Static path -> (bit mask of the variants that exist, when looked up).
    known: RefCell<HashMap<PathBuf, (u8, Instant)>>,
}

impl Variants {
    pub fn new(cfg: CompressionConfig, router: Rc<Router>) -> Variants {
        Variants {
            cfg,
            router,
            known: RefCell::new(HashMap::new()),
        }
    }

    fn path_of(rel: &Path, enc: Encoding) -> PathBuf {
        let mut s = OsString::from(rel.as_os_str());
        s.push(enc.file_suffix());
        PathBuf::from(s)
    }

    /// Which of `rel`'s variants exist.
    fn mask(&self, rel: &Path) -> u8 {
        if let Some((mask, at)) = self.known.borrow().get(rel) {
            if at.elapsed() < VARIANTS_TTL {
                return *mask;
            }
        }
        let mut mask = 0;
        for enc in PREFERENCE {
            if self.router.open_file(&Self::path_of(rel, enc)).is_some() {
                mask |= 1 << enc.index();
            }
        }
        let mut known = self.known.borrow_mut();
        if known.len() >= VARIANTS_MAX {
            known.clear();
        }
        known.insert(rel.to_path_buf(), (mask, Instant::now()));
        mask
    }

    /// The variant of `rel` (beneath the document root) the client's Accept-Encoding
    /// ranks first among those that exist, opened.
    pub fn pick(
        &self,
        accept_encoding: Option<&[u8]>,
        rel: &Path,
    ) -> Option<(Encoding, File, Metadata)> {
        let accepted = negotiate(accept_encoding?);
        accepted.best()?;
        let mask = self.mask(rel);
        if mask == 0 {
            return None;
        }
        let found = accepted
            .iter()
            .filter(|e| mask & (1 << e.index()) != 0)
            .find_map(|enc| {
                let (file, meta) = self.router.open_file(&Self::path_of(rel, enc))?;
                meta.is_file().then_some((enc, file, meta))
            });
        found
    }
}
