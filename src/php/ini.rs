//! php.ini settings: built-in defaults (lowest precedence), an optional php.ini file,
//! and explicit overrides (highest precedence).
//!
//! Overrides come from `--php-define name=value` (like `php -d`) and from environment
//! variables `PHP_INI_<NAME>`, where `<NAME>` is the directive in upper case with `.`
//! written as `__` (`PHP_INI_MEMORY_LIMIT=256M`, `PHP_INI_OPCACHE__JIT=tracing`).

use std::path::PathBuf;

/// The defaults: Debian's php.ini-production (what `/etc/php/8.2/fpm/php.ini` sets), so an
/// app sees the settings it has under Debian's php-fpm. Values are as PHP reads them from
/// a php.ini (`Off` is "", `On` is "1", `E_ALL & ~E_DEPRECATED & ~E_STRICT` is 22527):
/// these lines are not run through the ini parser. Where uring_php deliberately differs,
/// docs/php-compatibility.md lists it ("php.ini defaults"); tests/php_ini_parity.rs
/// compares `ini_get_all()` with php-fpm's under Debian's own php.ini and holds both to
/// that list.
pub const DEFAULTS: &[(&str, &str)] = &[
    // OPcache on, JIT off (Debian's opcache.ini says `opcache.jit=off`), see docs/php.md.
    ("opcache.enable", "1"),
    ("opcache.jit", ""),
    // scripts/php-patches/0002: no per-request fcntl lock (one process; ignored unpatched).
    ("opcache.usage_lock", "0"),
    ("engine", "1"),
    // Debian's PHP is built with this include path; its php-* library packages live there.
    ("include_path", ".:/usr/share/php"),
    ("short_open_tag", ""),
    ("precision", "14"),
    ("output_buffering", "4096"),
    ("zlib.output_compression", ""),
    ("implicit_flush", ""),
    ("unserialize_callback_func", ""),
    ("serialize_precision", "-1"),
    ("disable_functions", ""),
    ("disable_classes", ""),
    ("zend.enable_gc", "1"),
    ("zend.exception_ignore_args", "1"),
    ("zend.exception_string_param_max_len", "0"),
    ("expose_php", ""),
    ("max_execution_time", "30"),
    ("max_input_time", "60"),
    ("memory_limit", "128M"),
    ("error_reporting", "22527"),
    ("display_errors", ""),
    ("display_startup_errors", ""),
    ("log_errors", "1"),
    ("ignore_repeated_errors", ""),
    ("ignore_repeated_source", ""),
    ("report_memleaks", "1"),
    ("variables_order", "GPCS"),
    ("request_order", "GP"),
    ("register_argc_argv", ""),
    ("auto_globals_jit", "1"),
    ("post_max_size", "8M"),
    ("auto_prepend_file", ""),
    ("auto_append_file", ""),
    ("default_mimetype", "text/html"),
    ("default_charset", "UTF-8"),
    ("doc_root", ""),
    ("user_dir", ""),
    ("enable_dl", ""),
    ("file_uploads", "1"),
    ("upload_max_filesize", "2M"),
    ("max_file_uploads", "20"),
    ("allow_url_fopen", "1"),
    ("allow_url_include", ""),
    ("default_socket_timeout", "60"),
    // Empty: mysqlnd's compiled-in socket, the distro's (scripts/build-php.sh).
    ("pdo_mysql.default_socket", ""),
    ("SMTP", "localhost"),
    ("smtp_port", "25"),
    ("mail.add_x_header", ""),
    ("mail.mixed_lf_and_crlf", ""),
    ("mysqli.max_persistent", "-1"),
    ("mysqli.allow_persistent", "1"),
    ("mysqli.max_links", "-1"),
    ("mysqli.default_port", "3306"),
    ("mysqli.default_socket", ""),
    ("mysqli.default_host", ""),
    ("mysqli.default_user", ""),
    ("mysqli.default_pw", ""),
    ("mysqlnd.collect_statistics", "1"),
    ("mysqlnd.collect_memory_statistics", ""),
    ("bcmath.scale", "0"),
    ("session.save_handler", "files"),
    ("session.use_strict_mode", "0"),
    ("session.use_cookies", "1"),
    ("session.use_only_cookies", "1"),
    ("session.name", "PHPSESSID"),
    ("session.auto_start", "0"),
    ("session.cookie_lifetime", "0"),
    ("session.cookie_path", "/"),
    ("session.cookie_domain", ""),
    ("session.cookie_httponly", ""),
    ("session.cookie_samesite", ""),
    ("session.serialize_handler", "php"),
    // Debian sets 0 and deletes old sessions from cron (its own session directory);
    // nothing does that for uring_php, so PHP's own collector stays on (1 in 1000).
    ("session.gc_probability", "1"),
    ("session.gc_divisor", "1000"),
    ("session.gc_maxlifetime", "1440"),
    ("session.referer_check", ""),
    ("session.cache_limiter", "nocache"),
    ("session.cache_expire", "180"),
    ("session.use_trans_sid", "0"),
    ("session.sid_length", "26"),
    ("session.trans_sid_tags", "a=href,area=href,frame=src,form="),
    ("session.sid_bits_per_character", "5"),
    // Debian's PHP starts with upload progress off.
    ("session.upload_progress.enabled", "0"),
    ("zend.assertions", "-1"),
];

/// Where PHP 8.4's php.ini-production (what Debian 13's `/etc/php/8.4/fpm/php.ini` sets)
/// differs from 8.2's, applied over [`DEFAULTS`] when the PHP is 8.4 or newer; `None`
/// leaves the directive at PHP's own default. docs/php-compatibility.md lists these
/// ("On PHP 8.4") and tests/php_ini_parity.rs holds the list to them. Not here:
/// `error_reporting`, which 8.4's file writes `E_ALL & ~E_DEPRECATED` (24575) because the
/// `E_STRICT` constant is deprecated; 22527 only also clears E_STRICT's bit, which nothing
/// has raised since PHP 8.0, so it reports the same errors and keeps `ini_get()` equal
/// to the reference's.
pub const DEFAULTS_8_4: &[(&str, Option<&str>)] = &[
    // Deprecated in 8.4 (any value but the default raises E_DEPRECATED): PHP's own 32 and
    // 4, 128 bits of session id against 8.2's 26 × 5 = 130.
    ("session.sid_length", None),
    ("session.sid_bits_per_character", None),
];

/// The built-in defaults for the PHP this binary is built against.
pub fn defaults() -> Vec<(&'static str, &'static str)> {
    defaults_for(env!("URING_PHP_VERSION"))
}

/// The built-in defaults for PHP `version` ("8.4.11"): [`DEFAULTS`], adjusted by
/// [`DEFAULTS_8_4`] from 8.4 on.
pub fn defaults_for(version: &str) -> Vec<(&'static str, &'static str)> {
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    let from_8_4 = (major, minor) >= (8, 4);
    DEFAULTS
        .iter()
        .filter_map(|&(k, v)| {
            if !from_8_4 {
                return Some((k, v));
            }
            match DEFAULTS_8_4.iter().find(|(name, _)| *name == k) {
                Some((_, changed)) => changed.map(|v| (k, v)),
                None => Some((k, v)),
            }
        })
        .collect()
}

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
        lines(defaults().into_iter())
    }

    /// The override lines, led by loading OPcache: PHP 8.2 and 8.4 build it only as a shared
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
    fn php_8_4_adjusts_the_8_2_defaults() {
        let get = |v: &str, k: &str| {
            defaults_for(v)
                .into_iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v)
        };
        assert_eq!(get("8.2.32", "error_reporting"), Some("22527"));
        assert_eq!(get("8.2.32", "session.sid_length"), Some("26"));
        assert_eq!(get("8.4.11", "error_reporting"), Some("22527"));
        assert_eq!(get("8.4.11", "session.sid_length"), None);
        assert_eq!(get("8.5.0", "session.sid_bits_per_character"), None);
        assert_eq!(get("8.4.11", "memory_limit"), Some("128M"));
        for (k, _) in DEFAULTS_8_4 {
            assert!(
                DEFAULTS.iter().any(|(n, _)| n == k),
                "{k} adjusts nothing in DEFAULTS"
            );
        }
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
