//! Which site a request's host name belongs to: exact names first, then `*.example.com`
//! patterns (longest first; they match any depth of subdomain but not `example.com`
//! itself), as nginx's `server_name` does.

use std::collections::HashMap;

/// A host pattern as written in a site's `hosts`, normalized: lower case, no trailing
/// dot, no port. None when it is not a host name or `*.` pattern.
pub fn normalize_pattern(p: &str) -> Option<String> {
    let p = p.trim().trim_end_matches('.').to_ascii_lowercase();
    let name = p.strip_prefix("*.").unwrap_or(&p);
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b':' | b'[' | b']')
        });
    ok.then_some(p)
}

/// The host part of a request's authority (`Example.com:8080` → `example.com`,
/// `[::1]:80` → `[::1]`), lower case, without a trailing dot.
pub fn host_of(authority: &str) -> String {
    let host = if authority.starts_with('[') {
        authority.find(']').map_or(authority, |i| &authority[..=i])
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

#[derive(Debug, Default)]
pub struct HostTable {
    exact: HashMap<String, usize>,
    /// (".example.com", site) for `*.example.com`, longest first.
    wildcard: Vec<(String, usize)>,
}

impl HostTable {
    /// `sites`: each site's normalized patterns. A pattern already taken is an error
    /// naming both sites (by index).
    pub fn new<'a>(
        sites: impl IntoIterator<Item = &'a [String]>,
    ) -> Result<HostTable, (String, usize, usize)> {
        let mut t = HostTable::default();
        for (i, patterns) in sites.into_iter().enumerate() {
            for p in patterns {
                let taken = match p.strip_prefix('*') {
                    Some(suffix) => match t.wildcard.iter().find(|(s, _)| s == suffix) {
                        Some((_, j)) => Some(*j),
                        None => {
                            t.wildcard.push((suffix.to_string(), i));
                            None
                        }
                    },
                    None => match t.exact.get(p) {
                        Some(j) => Some(*j),
                        None => {
                            t.exact.insert(p.clone(), i);
                            None
                        }
                    },
                };
                if let Some(j) = taken {
                    return Err((p.clone(), j, i));
                }
            }
        }
        t.wildcard.sort_by_key(|(s, _)| std::cmp::Reverse(s.len()));
        Ok(t)
    }

    /// The site for a request's authority, if any pattern matches it.
    pub fn find(&self, authority: &str) -> Option<usize> {
        let host = host_of(authority);
        if let Some(i) = self.exact.get(&host) {
            return Some(*i);
        }
        self.wildcard
            .iter()
            .find(|(suffix, _)| host.len() > suffix.len() && host.ends_with(suffix.as_str()))
            .map(|(_, i)| *i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(sites: &[&[&str]]) -> HostTable {
        let sites: Vec<Vec<String>> = sites
            .iter()
            .map(|s| s.iter().map(|p| normalize_pattern(p).unwrap()).collect())
            .collect();
        HostTable::new(sites.iter().map(|v| v.as_slice())).unwrap()
    }

    #[test]
    fn exact_wildcard_and_ports() {
        let t = table(&[
            &["example.com", "www.example.com"],
            &["*.example.com"],
            &["*.api.example.com", "Other.ORG."],
        ]);
        assert_eq!(t.find("example.com"), Some(0));
        assert_eq!(t.find("WWW.Example.com:8443"), Some(0));
        assert_eq!(t.find("shop.example.com"), Some(1));
        assert_eq!(t.find("a.b.example.com"), Some(1));
        assert_eq!(t.find("v1.api.example.com"), Some(2));
        assert_eq!(t.find("other.org."), Some(2));
        assert_eq!(t.find("nowhere.net"), None);
        assert_eq!(t.find("xexample.com"), None);
    }

    #[test]
    fn hosts_and_patterns() {
        assert_eq!(host_of("[::1]:8080"), "[::1]");
        assert_eq!(host_of("Example.COM."), "example.com");
        assert_eq!(
            normalize_pattern("*.Example.com"),
            Some("*.example.com".into())
        );
        assert_eq!(normalize_pattern("a b"), None);
        assert_eq!(normalize_pattern("*."), None);
        assert_eq!(normalize_pattern("*.*.x"), None);
    }

    #[test]
    fn a_name_belongs_to_one_site() {
        let sites = [vec!["a.com".to_string()], vec!["a.com".to_string()]];
        let e = HostTable::new(sites.iter().map(|v| v.as_slice())).unwrap_err();
        assert_eq!(e, ("a.com".to_string(), 0, 1));
    }
}
