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

#[test]
fn uring_php_answers_like_php_fpm_behind_nginx() {
    let sessions = tempfile::tempdir().unwrap();
    let reference = ReferenceStack::builder(&docroot())
        .workers(2)
        .session_save_path(sessions.path())
        .start();
    let ours = TestServer::builder(reference.docroot())
        .env("PHP_WORKERS", "2")
        .env("PHP_INI_SESSION__SAVE_PATH", sessions.path())
        .start();
    let cases = cases();
    assert!(cases.len() >= 30, "the corpus has {} cases", cases.len());
    let mismatches = run_diff(&reference.addr(), &ours.addr(), &cases);
    assert!(
        mismatches.is_empty(),
        "{} of {} cases differ (A = nginx + php-fpm, B = uring_php):\n{}\n--- uring_php log ---\n{}",
        mismatches.len(),
        cases.len(),
        mismatches.join("\n"),
        ours.log()
    );
}
