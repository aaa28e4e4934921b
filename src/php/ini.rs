//! php.ini settings: built-in defaults (lowest precedence), an optional php.ini file,
//! and explicit overrides (highest precedence).
//!
//! Overrides come from `--php-define name=value` (like `php -d`) and from environment
//! variables `PHP_INI_<NAME>`, where `<NAME>` is the directive in upper case with `.`
//! written as `__` (`PHP_INI_MEMORY_LIMIT=256M`, `PHP_INI_OPCACHE__JIT=tracing`).

use std::path::PathBuf;

/// The defaults: what php.ini-production sets that matters for a server, OPcache on and
/// JIT off (on ZTS 8.2 JIT slows every request's startup; see docs/php.md).
pub const DEFAULTS: &[(&str, &str)] = &[
    ("opcache.enable", "1"),
    ("opcache.enable_cli", "0"),
    // php.ini spells this `off`; its parser turns that into "" (JIT disabled).
    ("opcache.jit", ""),
    ("opcache.jit_buffer_size", "0"),
    ("opcache.memory_consumption", "128"),
    ("opcache.interned_strings_buffer", "16"),
    ("opcache.max_accelerated_files", "20000"),
    ("opcache.validate_timestamps", "1"),
    ("opcache.revalidate_freq", "2"),
    // scripts/php-patches/0002: no per-request fcntl lock (one process; ignored unpatched).
    ("opcache.usage_lock", "0"),
    ("memory_limit", "128M"),
    ("max_execution_time", "30"),
    ("max_input_time", "60"),
    ("display_errors", "0"),
    ("display_startup_errors", "0"),
    ("log_errors", "1"),
    ("html_errors", "0"),
    ("error_reporting", "32767"), // E_ALL: these defaults are not run through the ini parser
    ("output_buffering", "4096"),
    ("implicit_flush", "0"),
    ("expose_php", "0"),
    ("variables_order", "GPCS"),
    ("request_order", "GP"),
    ("register_argc_argv", "0"),
    ("auto_globals_jit", "1"),
    ("post_max_size", "8M"),
    ("upload_max_filesize", "8M"),
    ("max_file_uploads", "20"),
    ("zend.assertions", "-1"),
    ("cgi.fix_pathinfo", "1"),
    // Debian's PHP is compiled with this include_path; every library Debian packages
    // (php-symfony-*, php-laravel-framework, phpMyAdmin's dependencies, ...) lives under
    // /usr/share/php and is loaded through it (`require_once 'Symfony/.../autoload.php'`).
    ("include_path", ".:/usr/share/php"),
];

#[derive(Clone, Debug, Default)]
pub struct IniConfig {
    /// A php.ini file to load (`PHP_INI` / `--php-ini`); none when `None`.
    pub file: Option<PathBuf>,
    /// `name=value` overrides, applied after the file, in order.
    pub overrides: Vec<(String, String)>,
}

impl IniConfig {
    /// `name=value\n` lines of the built-in defaults.
    pub fn defaults_text() -> String {
        lines(DEFAULTS.iter().map(|(k, v)| (*k, *v)))
    }

    /// The override lines, led by loading OPcache: PHP 8.2 builds it only as a shared
    /// Zend extension, and the php.ini parser (which also reads these lines) is what
    /// loads Zend extensions. A php.ini must therefore not load it a second time.
    pub fn overrides_text(&self) -> String {
        let load = std::iter::once(("zend_extension", "opcache.so"));
        lines(load.chain(self.overrides.iter().map(|(k, v)| (k.as_str(), v.as_str()))))
    }

    /// Collects `PHP_INI_<NAME>=value` variables from an environment listing.
    pub fn overrides_from_env(
        vars: impl Iterator<Item = (String, String)>,
    ) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = vars
            .filter_map(|(k, v)| {
                let name = k.strip_prefix("PHP_INI_")?;
                if name.is_empty() {
                    return None;
                }
                Some((name.to_ascii_lowercase().replace("__", "."), v))
            })
            .collect();
        // Environment order is arbitrary; sorting makes the effective config stable.
        out.sort();
        out
    }

    /// Parses one `--php-define name=value`.
    pub fn parse_define(s: &str) -> Result<(String, String), String> {
        match s.split_once('=') {
            Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_string(), v.to_string())),
            _ => Err(format!("expected name=value, got {s:?}")),
        }
    }
}

fn lines<'a>(entries: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut s = String::new();
    for (k, v) in entries {
        // A newline inside a value would start a new directive: refuse to pass it.
        if k.contains(['\n', '=']) || v.contains('\n') {
            continue;
        }
        s.push_str(k);
        s.push('=');
        s.push_str(v);
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_map_to_directives() {
        let vars = vec![
            ("PHP_INI_MEMORY_LIMIT".to_string(), "256M".to_string()),
            ("PHP_INI_OPCACHE__JIT".to_string(), "tracing".to_string()),
            ("PATH".to_string(), "/bin".to_string()),
            ("PHP_INI_".to_string(), "x".to_string()),
        ];
        let got = IniConfig::overrides_from_env(vars.into_iter());
        assert_eq!(
            got,
            vec![
                ("memory_limit".to_string(), "256M".to_string()),
                ("opcache.jit".to_string(), "tracing".to_string())
            ]
        );
    }

    #[test]
    fn newline_values_are_not_passed() {
        let cfg = IniConfig {
            file: None,
            overrides: vec![("a".into(), "1\nb=2".into()), ("c".into(), "3".into())],
        };
        assert_eq!(cfg.overrides_text(), "zend_extension=opcache.so\nc=3\n");
    }

    #[test]
    fn define_parsing() {
        assert_eq!(
            IniConfig::parse_define("a.b=c=d").unwrap(),
            ("a.b".into(), "c=d".into())
        );
        assert!(IniConfig::parse_define("novalue").is_err());
        assert!(IniConfig::parse_define("=x").is_err());
    }
}
