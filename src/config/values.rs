//! The value types of the settings and their parsers: one line of error each, which
//! [`super::ConfigError`] prefixes with the variable's name.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cpu_set;

/// The documented default of RESPONSE_CACHE_BYPASS_COOKIES: PHP sessions and the login,
/// comment and cart cookies of the usual CMSs (WordPress, WooCommerce, MediaWiki,
/// Drupal, Joomla, Laravel, Symfony).
pub const DEFAULT_BYPASS_COOKIES: &str = "PHPSESSID,wordpress_logged_in_,wordpress_sec_,wp-postpass_,comment_author_,woocommerce_items_in_cart,woocommerce_cart_hash,wp_woocommerce_session_,*_session,*Session,*UserID,*Token,SESS,SSESS,joomla_user_state,MOCKSESSID";

/// RESPONSE_CACHE_BYPASS_COOKIES, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CookieList(pub Vec<String>);

impl std::ops::Deref for CookieList {
    type Target = Vec<String>;
    fn deref(&self) -> &Vec<String> {
        &self.0
    }
}

/// RESPONSE_CACHE_STATUS, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList(pub Vec<u16>);

impl std::ops::Deref for StatusList {
    type Target = Vec<u16>;
    fn deref(&self) -> &Vec<u16> {
        &self.0
    }
}

pub(super) fn parse_cookie_list(s: &str) -> Result<CookieList, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let name = item.strip_prefix('*').unwrap_or(item);
        if name
            .bytes()
            .any(|b| b <= b' ' || b"=;,\"\\".contains(&b) || b >= 0x7f)
        {
            return Err(format!(
                "{item:?} is not a cookie name: expected comma-separated names or prefixes, *suffix for suffixes"
            ));
        }
        out.push(item.to_string());
    }
    Ok(CookieList(out))
}

pub(super) fn parse_status_list(s: &str) -> Result<StatusList, String> {
    let mut out = Vec::new();
    for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        match item.parse::<u16>() {
            Ok(n) if (200..600).contains(&n) => out.push(n),
            _ => {
                return Err(format!(
                "{item:?}: expected comma-separated status codes from 200 to 599, e.g. 200,301,404"
            ))
            }
        }
    }
    Ok(StatusList(out))
}

/// A CPU list (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

pub(super) fn parse_cpus(s: &str) -> Result<CpuList, String> {
    cpu_set::parse(s).map(CpuList)
}

/// Trusted proxy networks (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedProxies(pub Vec<ipnet::IpNet>);

pub(super) fn parse_trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            p.parse::<ipnet::IpNet>()
                .or_else(|_| p.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                .map_err(|_| {
                    format!("expected IP addresses or CIDR ranges like 10.0.0.0/8,::1 (not {p:?})")
                })
        })
        .collect::<Result<Vec<_>, _>>()
        .map(TrustedProxies)
}

/// INTERNAL_LOCATIONS: (URI prefix ending in `/`, directory) pairs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InternalLocations(pub Vec<(String, PathBuf)>);

pub(super) fn parse_internal_locations(s: &str) -> Result<InternalLocations, String> {
    let err = |item: &str| {
        format!("expected /prefix/=/directory pairs, comma-separated, like /protected/=/srv/files/ (not {item:?})")
    };
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|item| {
            let (prefix, dir) = item.split_once('=').ok_or_else(|| err(item))?;
            let (prefix, dir) = (prefix.trim(), dir.trim());
            if !prefix.starts_with('/') || prefix.contains("..") || !dir.starts_with('/') {
                return Err(err(item));
            }
            let mut prefix = prefix.to_string();
            if !prefix.ends_with('/') {
                prefix.push('/');
            }
            Ok((prefix, PathBuf::from(dir)))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(InternalLocations)
}

/// Host names (one value: clap would read a bare Vec as repeated values).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Domains(pub Vec<String>);

pub(super) fn parse_domains(s: &str) -> Result<Domains, String> {
    s.split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            crate::sites::hosts::normalize_pattern(d)
                .filter(|d| !d.starts_with('*'))
                .ok_or_else(|| format!("expected host names like example.com,www.example.com (not {d:?}; wildcards need DNS-01, which is not supported)"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Domains)
}

/// SENDFILE_ROOTS: absolute directories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendfileRoots(pub Vec<PathBuf>);

pub(super) fn parse_sendfile_roots(s: &str) -> Result<SendfileRoots, String> {
    s.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| {
            if p.starts_with('/') {
                Ok(PathBuf::from(p))
            } else {
                Err(format!(
                    "expected absolute directories, comma-separated (not {p:?})"
                ))
            }
        })
        .collect::<Result<Vec<_>, _>>()
        .map(SendfileRoots)
}

pub(super) fn parse_header_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
    if ok {
        Ok(s.to_string())
    } else {
        Err("expected a header name like X-Forwarded-For".into())
    }
}

pub(super) fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.parse()
        .map_err(|_| "expected an address like 0.0.0.0:8080 or [::]:8080".to_string())
}

pub(super) fn parse_count(s: &str) -> Result<usize, String> {
    match s.trim().parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

pub(super) fn parse_u32_min1(s: &str) -> Result<u32, String> {
    match s.trim().parse::<u32>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err("expected a whole number ≥ 1".into()),
    }
}

/// An HTTP/2 flow-control window: 1 byte to 2^31-1 (RFC 9113 §6.9.1).
pub(super) fn parse_h2_window(s: &str) -> Result<u32, String> {
    match parse_size(s) {
        Ok(n) if (1..=(1u64 << 31) - 1).contains(&n) => Ok(n as u32),
        _ => Err("expected a size from 1 to 2147483647 bytes (K and M suffixes allowed)".into()),
    }
}

/// SETTINGS_MAX_FRAME_SIZE: 16384 to 16777215 (RFC 9113 §6.5.2).
pub(super) fn parse_h2_frame(s: &str) -> Result<u32, String> {
    match parse_size(s) {
        Ok(n) if (16_384..=16_777_215).contains(&n) => Ok(n as u32),
        _ => Err("expected a size from 16K to 16777215 bytes".into()),
    }
}

pub(super) fn parse_h2_header_list(s: &str) -> Result<u32, String> {
    match parse_size(s) {
        Ok(n) if (1024..=(16 << 20)).contains(&n) => Ok(n as u32),
        _ => Err("expected a size from 1K to 16M".into()),
    }
}

pub(super) fn parse_u32(s: &str) -> Result<u32, String> {
    s.trim()
        .parse::<u32>()
        .map_err(|_| "expected a whole number ≥ 0".into())
}

/// A duration of at least one second (a bare number is seconds).
pub(crate) fn parse_window(s: &str) -> Result<Duration, String> {
    match parse_duration(s) {
        Ok(d) if d >= Duration::from_secs(1) => Ok(Duration::from_secs(d.as_secs())),
        _ => Err("expected a duration of at least 1 second, like 60, 30s, 5m or 1h".into()),
    }
}

/// A cache lifetime: any duration [`parse_duration`] reads, except with a bare `m`, which
/// is refused rather than read as minutes: tokio_php reads `STATIC_CACHE_TTL=1m` as a
/// month, and a migrated setting that silently became 1/43200 of itself would be worse
/// than an error. The grammar is the one parser's; only this guard is added.
pub(crate) fn parse_cache_ttl(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(Duration::ZERO);
    }
    if t.len() > 1 && t.ends_with('m') && t[..t.len() - 1].bytes().all(|b| b.is_ascii_digit()) {
        return Err("ambiguous unit m (minute or month?): write 60s, 1h or 30d".into());
    }
    parse_duration(s)
}

pub(super) fn parse_level(s: &str, lo: i64, hi: i64) -> Result<i64, String> {
    match s.trim().parse::<i64>() {
        Ok(n) if (lo..=hi).contains(&n) => Ok(n),
        _ => Err(format!("expected a level from {lo} to {hi}")),
    }
}

pub(super) fn parse_level_br(s: &str) -> Result<u32, String> {
    parse_level(s, 0, 11).map(|n| n as u32)
}

pub(super) fn parse_level_zstd(s: &str) -> Result<i32, String> {
    parse_level(s, 1, 19).map(|n| n as i32)
}

pub(super) fn parse_level_gzip(s: &str) -> Result<u32, String> {
    parse_level(s, 1, 9).map(|n| n as u32)
}

pub(super) fn parse_u64(s: &str) -> Result<u64, String> {
    s.trim()
        .parse::<u64>()
        .map_err(|_| "expected a whole number ≥ 0".into())
}

pub(super) fn parse_bool(s: &str) -> Result<bool, String> {
    match s.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" | "" => Ok(false),
        _ => Err("expected 1 or 0".into()),
    }
}

pub(super) fn parse_secs(s: &str) -> Result<Duration, String> {
    match s.trim().parse::<u64>() {
        Ok(n) if n >= 1 => Ok(Duration::from_secs(n)),
        _ => Err("expected whole seconds ≥ 1".into()),
    }
}

/// Every duration setting's grammar: a bare number of seconds, or a number with `ms`,
/// `s`, `m` or `min` (minutes), `h`, `d`, `w` or `y` (365 days); `0` or `off` is zero
/// (which most settings read as "off").
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim().to_ascii_lowercase();
    if s == "off" {
        return Ok(Duration::ZERO);
    }
    let err = || "expected a duration like 30s, 2m, 1h, 7d, 500ms or 0 (off)".to_string();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s.as_str(), ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| err())?;
    if unit == "ms" {
        return Ok(Duration::from_millis(n));
    }
    let unit_secs: u64 = match unit {
        "" | "s" => 1,
        "m" | "min" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "y" => 365 * 86_400,
        _ => return Err(err()),
    };
    n.checked_mul(unit_secs)
        .map(Duration::from_secs)
        .ok_or_else(err)
}

/// Bytes with an optional K, M or G suffix (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let err = || "expected a size in bytes, optionally with K, M or G (e.g. 8M)".to_string();
    let (num, unit) = s
        .find(|c: char| !c.is_ascii_digit())
        .map_or((s, ""), |i| s.split_at(i));
    let n: u64 = num.parse().map_err(|_| err())?;
    let mult = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        _ => return Err(err()),
    };
    n.checked_mul(mult).ok_or_else(err)
}

pub(crate) fn parse_index_file(s: &str) -> Result<String, String> {
    let s = s.trim().trim_start_matches('/');
    if s.is_empty() || s.contains("..") || s.contains('\0') {
        return Err("expected a file name inside DOCUMENT_ROOT, e.g. index.php".into());
    }
    Ok(s.to_string())
}

pub(super) fn parse_worker_match(s: &str) -> Result<crate::worker_match::WorkerMatch, String> {
    crate::worker_match::WorkerMatch::parse(s)
}

pub(super) fn parse_worker_watch(s: &str) -> Result<crate::worker_watch::WatchList, String> {
    crate::worker_watch::WatchList::parse(s)
}

pub(super) fn parse_define(s: &str) -> Result<(String, String), String> {
    crate::php::IniConfig::parse_define(s)
}
