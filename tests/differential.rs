//! The same requests to nginx + php-fpm (Debian's) and to uring_php, on the same
//! document root with the same PHP settings: status, headers and body must match.
//! Cases that cannot match are listed, with the reason, in common::diff::KNOWN_DIFFERENCES.

mod common;

use std::path::PathBuf;

use common::diff::{cases, run_diff};
use common::reference::ReferenceStack;
use common::server::TestServer;

fn docroot() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/php")
}

/// The corpus against both stacks, uring_php with `extra` settings; the mismatches and
/// uring_php's log.
fn diff_with(extra: &[(&str, &str)]) -> (Vec<String>, usize, String) {
    let sessions = tempfile::tempdir().unwrap();
    let reference = ReferenceStack::builder(&docroot())
        .workers(2)
        .session_save_path(sessions.path())
        .start();
    let mut ours = TestServer::builder(reference.docroot())
        .env("PHP_WORKERS", "2")
        .env("PHP_INI_SESSION__SAVE_PATH", sessions.path());
    for (k, v) in extra {
        ours = ours.env(k, v);
    }
    let ours = ours.start();
    let cases = cases();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mismatches = run_diff(&reference.addr(), &ours.addr(), &cases);
    (mismatches, cases.len(), ours.log())
}

#[test]
fn uring_php_answers_like_php_fpm_behind_nginx() {
    let (mismatches, cases, log) = diff_with(&[]);
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ (A = nginx + php-fpm, B = uring_php):\n{}\n--- uring_php log ---\n{}",
        mismatches.len(),
        cases,
        mismatches.join("\n"),
        log
    );
}

/// With request bodies streamed to PHP, the one documented difference from php-fpm
/// behind (buffering) nginx: a chunked body's length is not known while PHP runs, so
/// CONTENT_LENGTH is empty. Everything else — forms, uploads, cookies, sessions,
/// php://input — must still match.
#[test]
fn streamed_request_bodies_answer_like_php_fpm_but_for_chunked_length() {
    let (mismatches, cases, log) = diff_with(&[("REQUEST_BUFFERING", "0")]);
    let mut differing: Vec<&str> = mismatches
        .iter()
        .map(|m| m.split(']').next().unwrap_or("").trim_start_matches('['))
        .collect();
    differing.sort();
    assert_eq!(
        differing,
        ["input-chunked", "server-chunked"],
        "{} of {cases} cases differ:\n{}\n--- uring_php log ---\n{log}",
        mismatches.len(),
        mismatches.join("\n")
    );
    assert!(mismatches.iter().all(|m| m.contains("CONTENT_LENGTH=")));
}
