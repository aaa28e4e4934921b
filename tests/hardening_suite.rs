//! Runs the hardening suite (bench/hardening/) at its short scale against the binary
//! under test: every probe must hold. A file of its own, so that no other test of this
//! binary competes with the suite's throughput probes.

use std::process::Command;

#[test]
fn every_hardening_probe_holds_at_the_short_scale() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(format!("{root}/bench/hardening/run"))
        .arg("--short")
        .env("URING_PHP_BIN", env!("CARGO_BIN_EXE_uring_php"))
        .output()
        .expect("run bench/hardening/run");
    let report = String::from_utf8_lossy(&out.stdout);
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "a hardening probe failed:\n{report}\n{log}"
    );
    assert!(
        report.contains("probes held"),
        "no report:\n{report}\n{log}"
    );
    assert!(!report.contains("FAILED"), "{report}");
}
