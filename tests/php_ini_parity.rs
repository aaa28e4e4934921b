//! uring_php's built-in php.ini defaults against Debian's php-fpm with Debian's own
//! php.ini: every directive both know must have the same value, except the deliberate
//! differences docs/php-compatibility.md lists — and each listed one must really differ,
//! so the list stays true.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use common::http_client;
use common::reference::ReferenceStack;
use common::server::TestServer;

/// Set per instance by the reference stack (a temp dir each), not by php.ini defaults.
const SET_BY_THE_TEST_STACK: &[&str] = &["session.save_path", "error_log"];

fn ini_all(addr: &str) -> BTreeMap<String, Option<String>> {
    let r = http_client::get(addr, "/ini.php", &[]);
    assert_eq!(r.status, 200, "{}", r.body_str());
    let v: serde_json::Value = serde_json::from_slice(&r.body).expect("ini_get_all() as JSON");
    v.as_object()
        .expect("an object")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().map(str::to_string)))
        .collect()
}

/// The directives in the tables under "## php.ini defaults" of docs/php-compatibility.md:
/// the first table always, the one under "### On PHP 8.4" when the server runs 8.4 or
/// newer (the reference is Debian 12's php8.2-fpm either way).
fn documented_differences() -> BTreeSet<String> {
    let doc = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/php-compatibility.md"
    ))
    .unwrap();
    let section = doc
        .split("\n## php.ini defaults\n")
        .nth(1)
        .expect("docs/php-compatibility.md has a \"## php.ini defaults\" section");
    let section = section.split("\n## ").next().unwrap();
    let (common, on_8_4) = section
        .split_once("\n### On PHP 8.4\n")
        .expect("docs/php-compatibility.md has an \"### On PHP 8.4\" table under php.ini defaults");
    let version = uring_php::php::Engine::php_version();
    let from_8_4 = !version.starts_with("8.2.") && !version.starts_with("8.3.");
    let section = if from_8_4 {
        format!("{common}\n{on_8_4}")
    } else {
        common.to_string()
    };
    section
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn builtin_defaults_equal_debians_php_ini() {
    let root = tempfile::tempdir().unwrap();
    fs::write(
        root.path().join("ini.php"),
        "<?php header('Content-Type: application/json'); echo json_encode(ini_get_all(null, false));",
    )
    .unwrap();
    let stack = ReferenceStack::start(root.path(), 1);
    let ours = TestServer::start(stack.docroot());
    let fpm = ini_all(&stack.addr());
    let uring = ini_all(&ours.addr());

    let mut differ = BTreeSet::new();
    let mut report = String::new();
    for (k, theirs) in &fpm {
        let Some(mine) = uring.get(k) else { continue };
        if SET_BY_THE_TEST_STACK.contains(&k.as_str()) {
            continue;
        }
        if mine != theirs {
            differ.insert(k.clone());
            report.push_str(&format!("  {k}: uring_php {mine:?}, php-fpm {theirs:?}\n"));
        }
    }
    let documented = documented_differences();
    assert!(!documented.is_empty(), "no documented differences parsed");
    assert!(
        fpm.keys().filter(|k| uring.contains_key(*k)).count() > 100,
        "too few directives in common to compare"
    );
    let undocumented: Vec<_> = differ.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&differ).collect();
    assert!(
        undocumented.is_empty() && stale.is_empty(),
        "php.ini defaults differ from Debian's php-fpm where docs/php-compatibility.md does \
         not say so: {undocumented:?}; documented but equal: {stale:?}\nall differences:\n{report}"
    );
}
