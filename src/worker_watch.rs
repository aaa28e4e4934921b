//! WORKER_WATCH: restarts the worker scripts when a watched file changes (inotify), for
//! development — edit a controller, the next request runs the new code.
//!
//! Each entry is a file, a directory (everything below it) or a glob (`**` crosses
//! directories, `*` does not). The directories under an entry's fixed part are watched
//! recursively, new ones as they appear. Changes arriving together (an editor's save, a
//! `git checkout`) become one reload.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use globset::{GlobBuilder, GlobMatcher};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

/// Changes closer together than this make one reload.
const SETTLE: Duration = Duration::from_millis(50);

#[derive(Clone, Debug, PartialEq)]
pub struct WatchList {
    pub spec: String,
    entries: Vec<Entry>,
}

#[derive(Clone, Debug)]
struct Entry {
    /// Watched recursively.
    root: PathBuf,
    /// Which changed paths count; None: everything below `root` (or `root` itself).
    glob: Option<GlobMatcher>,
    /// `root` is a file: only it counts (its directory is what is watched).
    file: bool,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.root == other.root && self.file == other.file
    }
}

impl WatchList {
    pub fn parse(spec: &str) -> Result<WatchList, String> {
        let mut entries = Vec::new();
        for p in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            entries.push(Entry::parse(p)?);
        }
        if entries.is_empty() {
            return Err("expected paths or globs like /app/src,/app/config/**/*.php".into());
        }
        Ok(WatchList {
            spec: spec.to_string(),
            entries,
        })
    }

    fn counts(&self, path: &Path) -> bool {
        self.entries.iter().any(|e| e.counts(path))
    }
}

impl Entry {
    fn parse(p: &str) -> Result<Entry, String> {
        let path = Path::new(p);
        if !path.is_absolute() {
            return Err(format!("expected absolute paths or globs (not {p:?})"));
        }
        let is_glob = |c: &Component| c.as_os_str().as_bytes().iter().any(|b| b"*?[{".contains(b));
        if !path.components().any(|c| is_glob(&c)) {
            let meta = std::fs::metadata(path).map_err(|e| format!("{p}: {e}"))?;
            let root = path.canonicalize().map_err(|e| format!("{p}: {e}"))?;
            return Ok(Entry {
                root,
                glob: None,
                file: !meta.is_dir(),
            });
        }
        let root: PathBuf = path.components().take_while(|c| !is_glob(c)).collect();
        if !root.is_dir() {
            return Err(format!("{p}: {} is not a directory", root.display()));
        }
        let glob = GlobBuilder::new(p)
            .literal_separator(true)
            .build()
            .map_err(|e| format!("bad glob {p:?}: {}", e.kind()))?
            .compile_matcher();
        // Match against the canonical root, as the events name paths under it.
        let canonical = root.canonicalize().map_err(|e| format!("{p}: {e}"))?;
        let glob = if canonical == root {
            glob
        } else {
            let rest = &p[root.as_os_str().len()..];
            GlobBuilder::new(&format!("{}{rest}", canonical.display()))
                .literal_separator(true)
                .build()
                .map_err(|e| format!("bad glob {p:?}: {}", e.kind()))?
                .compile_matcher()
        };
        Ok(Entry {
            root: canonical,
            glob: Some(glob),
            file: false,
        })
    }

    fn counts(&self, path: &Path) -> bool {
        if self.file {
            return path == self.root;
        }
        match &self.glob {
            Some(g) => g.is_match(path),
            None => path.starts_with(&self.root),
        }
    }

    fn watch_root(&self) -> &Path {
        if self.file {
            self.root.parent().unwrap_or(&self.root)
        } else {
            &self.root
        }
    }
}

struct Watcher {
    inotify: Inotify,
    dirs: HashMap<WatchDescriptor, PathBuf>,
}

const DIR_EVENTS: AddWatchFlags = AddWatchFlags::IN_CLOSE_WRITE
    .union(AddWatchFlags::IN_MOVED_TO)
    .union(AddWatchFlags::IN_MOVED_FROM)
    .union(AddWatchFlags::IN_CREATE)
    .union(AddWatchFlags::IN_DELETE)
    .union(AddWatchFlags::IN_ONLYDIR);

impl Watcher {
    fn add_tree(&mut self, dir: &Path) {
        match self.inotify.add_watch(dir, DIR_EVENTS) {
            Ok(wd) => {
                self.dirs.insert(wd, dir.to_path_buf());
            }
            Err(e) => {
                tracing::warn!(dir = %dir.display(), error = %e, "WORKER_WATCH: cannot watch");
                return;
            }
        }
        let Ok(list) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in list.flatten() {
            if entry.file_type().is_ok_and(|t| t.is_dir()) {
                self.add_tree(&entry.path());
            }
        }
    }

    /// Reads what is pending; true when a counted path changed.
    fn drain(&mut self, list: &WatchList) -> bool {
        let mut changed = false;
        let Ok(events) = self.inotify.read_events() else {
            return false;
        };
        for ev in events {
            let Some(dir) = self.dirs.get(&ev.wd).cloned() else {
                continue;
            };
            let Some(name) = ev.name.as_deref() else {
                continue;
            };
            let path = dir.join(OsStr::from_bytes(name.as_bytes()));
            if ev.mask.contains(AddWatchFlags::IN_ISDIR) {
                if ev
                    .mask
                    .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO)
                {
                    self.add_tree(&path);
                }
                continue;
            }
            if ev.mask.contains(AddWatchFlags::IN_CREATE) {
                // The write that follows (IN_CLOSE_WRITE) is the change.
                continue;
            }
            if list.counts(&path) {
                tracing::debug!(path = %path.display(), "WORKER_WATCH: changed");
                changed = true;
            }
        }
        changed
    }
}

/// Watches `list` on a thread of its own and calls `reload` after each burst of changes.
pub fn spawn(list: WatchList, reload: Box<dyn Fn() + Send>) -> Result<(), String> {
    let inotify =
        Inotify::init(InitFlags::IN_CLOEXEC).map_err(|e| format!("WORKER_WATCH: inotify: {e}"))?;
    let mut w = Watcher {
        inotify,
        dirs: HashMap::new(),
    };
    for e in &list.entries {
        w.add_tree(e.watch_root());
    }
    tracing::info!(dirs = w.dirs.len(), watch = %list.spec, "WORKER_WATCH: watching");
    std::thread::Builder::new()
        .name("worker-watch".into())
        .spawn(move || loop {
            if !w.drain(&list) {
                continue;
            }
            // Let the rest of a burst arrive, then reload once.
            loop {
                let mut fds = [PollFd::new(w.inotify.as_fd(), PollFlags::POLLIN)];
                let settle = PollTimeout::try_from(SETTLE).unwrap_or(PollTimeout::NONE);
                match poll(&mut fds, settle) {
                    Ok(n) if n > 0 => {
                        w.drain(&list);
                    }
                    _ => break,
                }
            }
            tracing::info!("WORKER_WATCH: files changed; restarting the worker scripts");
            reload();
        })
        .map_err(|e| format!("starting the WORKER_WATCH thread: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_count_what_they_name() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir_all(root.join("src/a")).unwrap();
        std::fs::write(root.join("config.php"), "").unwrap();
        let spec = format!(
            "{}/src/**/*.php,{}/config.php",
            root.display(),
            root.display()
        );
        let l = WatchList::parse(&spec).unwrap();
        assert!(l.counts(&root.join("src/a/B.php")));
        assert!(l.counts(&root.join("src/C.php")));
        assert!(!l.counts(&root.join("src/a/B.txt")));
        assert!(l.counts(&root.join("config.php")));
        assert!(!l.counts(&root.join("other.php")));
        let l = WatchList::parse(&format!("{}/src", root.display())).unwrap();
        assert!(l.counts(&root.join("src/a/anything")));
        assert!(WatchList::parse("relative/path").is_err());
        assert!(WatchList::parse(&format!("{}/missing", root.display())).is_err());
    }
}
