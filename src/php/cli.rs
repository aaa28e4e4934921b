//! `uring_php php-cli [ARGS]`: PHP's command line (cron jobs, `wp`, `bin/console`,
//! `artisan`, Composer) with the same build, extensions and php.ini settings the server
//! gives web requests.
//!
//! It replaces itself (exec) with the PHP CLI binary of the build the server links
//! (`$PREFIX/bin/php`, or `URING_PHP_CLI`). Running the CLI in-process is not an
//! option: PHP's CLI (`sapi/cli/php_cli.c`: option parsing, `-r`, `-a`, `-l`, STDIN/
//! STDOUT/STDERR constants, the `cli` SAPI name scripts check) is a program, not part of
//! libphp, and the embed SAPI is no substitute for it. The binary gets the server's
//! php.ini layers as files (kept where only this user may write, see [`CliIni`]), in
//! the server's order:
//!
//! 1. the built-in defaults for this PHP version ([`defaults`]);
//! 2. the `PHP_INI` file's directives, if set;
//! 3. the overrides: OPcache loaded, then `PHP_INI_<NAME>` variables.
//!
//! PHP's own `-d` arguments come last and win. The CLI's fixed settings
//! (`register_argc_argv=1`, `max_execution_time=0`, `output_buffering=0`,
//! `implicit_flush=1`, `html_errors=0`, `max_input_time=-1`) apply as with any php-cli.

use std::ffi::OsString;
use std::hash::{Hash, Hasher};
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::ini::{self, IniConfig};

/// The PHP CLI binary: `URING_PHP_CLI`, else the one of the build this binary links.
pub fn binary() -> PathBuf {
    std::env::var_os("URING_PHP_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("URING_PHP_PREFIX")).join("bin/php"))
}

/// The server's php.ini layers as files for the CLI: the defaults as its php.ini, the
/// PHP_INI file and the overrides in its scan directory, in that order. Separate files
/// because PHP parses each on its own: a `[PATH=...]` section at the end of the PHP_INI
/// file would otherwise capture every directive after it.
#[derive(Debug, PartialEq, Eq)]
pub struct CliIni {
    pub defaults: String,
    pub file: Option<PathBuf>,
    pub overrides: String,
}

impl CliIni {
    pub fn new(ini: &IniConfig) -> CliIni {
        let mut defaults = String::from("; uring_php php-cli: the server's built-in defaults\n");
        // The defaults of this PHP version, as the server applies them.
        for (name, value) in ini::defaults() {
            // The server hands these to PHP unparsed; quoted, the ini parser reads them
            // the same (none holds a quote, a backslash or a `$`: a unit test holds them
            // to it).
            defaults.push_str(&format!("{name}=\"{value}\"\n"));
        }
        CliIni {
            defaults,
            file: ini.file.clone(),
            overrides: ini.overrides_text(),
        }
    }

    /// A name for this configuration: the same layers, the same directory.
    fn key(&self) -> u64 {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        (&self.defaults, &self.file, &self.overrides).hash(&mut hasher);
        hasher.finish()
    }

    /// Writes the layers under `parent` (or finds them there, written before); returns
    /// (the php.ini, the scan directory).
    fn store(&self, parent: &Path) -> Result<(PathBuf, PathBuf), String> {
        let dir = parent.join(format!("cli-{:016x}", self.key()));
        let (ini, scan) = (dir.join("php.ini"), dir.join("conf.d"));
        if self.stored_in(&dir) {
            return Ok((ini, scan));
        }
        let tmp = parent.join(format!(
            "cli-{:016x}.{}.tmp",
            self.key(),
            std::process::id()
        ));
        let fail = |e: std::io::Error| format!("writing {}: {e}", tmp.display());
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .recursive(true)
            .create(tmp.join("conf.d"))
            .map_err(fail)?;
        std::fs::write(tmp.join("php.ini"), &self.defaults).map_err(fail)?;
        if let Some(file) = &self.file {
            let file = std::path::absolute(file).map_err(fail)?;
            std::os::unix::fs::symlink(file, tmp.join("conf.d/10-php.ini")).map_err(fail)?;
        }
        std::fs::write(tmp.join("conf.d/20-overrides.ini"), &self.overrides).map_err(fail)?;
        // Another run may have stored the same layers meanwhile: either copy will do.
        let _ = std::fs::remove_dir_all(&dir);
        if let Err(e) = std::fs::rename(&tmp, &dir) {
            let _ = std::fs::remove_dir_all(&tmp);
            if !self.stored_in(&dir) {
                return Err(format!("storing {}: {e}", dir.display()));
            }
        }
        Ok((ini, scan))
    }

    fn stored_in(&self, dir: &Path) -> bool {
        let same = |rel: &str, want: &str| {
            std::fs::read(dir.join(rel)).is_ok_and(|got| got == want.as_bytes())
        };
        let link = std::fs::read_link(dir.join("conf.d/10-php.ini")).ok();
        let want_link = self.file.as_ref().and_then(|f| std::path::absolute(f).ok());
        same("php.ini", &self.defaults)
            && same("conf.d/20-overrides.ini", &self.overrides)
            && link == want_link
    }
}

/// Replaces this process with PHP's CLI running `args`; returns only on failure.
pub fn exec(args: impl IntoIterator<Item = OsString>) -> String {
    let file = std::env::var_os("PHP_INI").map(PathBuf::from);
    if let Some(f) = &file {
        if !f.is_file() {
            return format!("PHP_INI={}: not a readable file", f.display());
        }
    }
    let layers = CliIni::new(&IniConfig {
        file,
        overrides: IniConfig::overrides_from_env(std::env::vars()),
    });
    let (ini, scan) = match private_dir().and_then(|dir| layers.store(&dir)) {
        Ok(paths) => paths,
        Err(e) => return e,
    };
    let php = binary();
    let err = Command::new(&php)
        .arg("-c")
        .arg(&ini)
        .args(args)
        .env("PHP_INI_SCAN_DIR", &scan)
        .env_remove("PHPRC")
        .exec();
    format!(
        "{}: {err} (set URING_PHP_CLI to the PHP CLI binary of this build)",
        php.display()
    )
}

/// Where the layers are kept: `$XDG_RUNTIME_DIR/uring_php`, else
/// `$TMPDIR/uring_php-<uid>`, created 0700 and refused unless it is a real directory of
/// this user that nobody else may write to (a php.ini is code: `auto_prepend_file`).
/// Files, not a memfd: ZTS PHP resolves paths itself and cannot open a memfd's
/// `/proc/self/fd/N`, and they must outlive this process, which PHP replaces. Each
/// distinct configuration leaves one small directory there.
fn private_dir() -> Result<PathBuf, String> {
    let dir = match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(run) if !run.is_empty() => PathBuf::from(run).join("uring_php"),
        _ => {
            std::env::temp_dir().join(format!("uring_php-{}", rustix::process::geteuid().as_raw()))
        }
    };
    match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(format!("{}: {e}", dir.display())),
    }
    let meta = std::fs::symlink_metadata(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    if !meta.is_dir() || !ours || meta.mode() & 0o077 != 0 {
        return Err(format!(
            "{}: not a private directory of this user (mode 0700): refusing to keep the php.ini there",
            dir.display()
        ));
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_survive_quoting() {
        for (name, value) in ini::DEFAULTS {
            assert!(
                !value.contains(['"', '\\', '$', '\n']),
                "{name}={value} cannot be written quoted"
            );
        }
    }

    #[test]
    fn layers_are_stored_once_per_configuration() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("php.ini");
        std::fs::write(&file, "memory_limit = 64M\n").unwrap();
        let layers = CliIni::new(&IniConfig {
            file: Some(file.clone()),
            overrides: vec![("memory_limit".into(), "256M".into())],
        });
        assert!(layers.defaults.contains("memory_limit=\"128M\"\n"));
        assert!(layers
            .overrides
            .starts_with("zend_extension=opcache.so\nmemory_limit=256M\n"));
        let (ini, scan) = layers.store(d.path()).unwrap();
        assert_eq!(std::fs::read_to_string(&ini).unwrap(), layers.defaults);
        assert_eq!(std::fs::read_link(scan.join("10-php.ini")).unwrap(), file);
        assert_eq!(layers.store(d.path()).unwrap(), (ini.clone(), scan));
        // Tampered with: written again.
        std::fs::write(&ini, "auto_prepend_file=/evil.php\n").unwrap();
        let (ini2, _) = layers.store(d.path()).unwrap();
        assert_eq!(std::fs::read_to_string(ini2).unwrap(), layers.defaults);
    }
}
