//! CPU lists in taskset syntax (`0-3,6`), and the CPUs this process may use.

/// Parses `0-3,6` into sorted, distinct CPU numbers.
pub fn parse(s: &str) -> Result<Vec<usize>, String> {
    let err = || "expected CPUs in taskset syntax, e.g. 0-3,6".to_string();
    let mut cpus = Vec::new();
    for part in s.split(',').map(str::trim) {
        if part.is_empty() {
            return Err(err());
        }
        match part.split_once('-') {
            Some((a, b)) => {
                let a: usize = a.trim().parse().map_err(|_| err())?;
                let b: usize = b.trim().parse().map_err(|_| err())?;
                if a > b || b - a > 4096 {
                    return Err(err());
                }
                cpus.extend(a..=b);
            }
            None => cpus.push(part.parse().map_err(|_| err())?),
        }
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

pub fn format(cpus: &[usize]) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        let mut end = start;
        while i + 1 < cpus.len() && cpus[i + 1] == end + 1 {
            i += 1;
            end = cpus[i];
        }
        out.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
        i += 1;
    }
    out.join(",")
}

/// The CPUs in this process's affinity mask.
pub fn allowed() -> Vec<usize> {
    match core_affinity::get_core_ids() {
        Some(ids) if !ids.is_empty() => ids.into_iter().map(|c| c.id).collect(),
        _ => (0..std::thread::available_parallelism().map_or(1, |n| n.get())).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn taskset_syntax() {
        assert_eq!(parse("0-3,6").unwrap(), vec![0, 1, 2, 3, 6]);
        assert_eq!(parse("1").unwrap(), vec![1]);
        assert_eq!(parse("3,1,1").unwrap(), vec![1, 3]);
        assert!(parse("").is_err());
        assert!(parse("a").is_err());
        assert!(parse("3-1").is_err());
        assert_eq!(format(&[0, 1, 2, 3, 6]), "0-3,6");
    }
}
