//! Finds a ZTS PHP with the embed SAPI, generates bindings for the bridge's narrow C
//! interface, compiles `bridge/` and `ext/`, and links libphp with an rpath.
//!
//! PHP is looked up in this order: `PHP_CONFIG` (a php-config path), the project's own
//! cached build (scripts/build-php.sh), then `php-config` on PATH.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-changed=bridge");
    println!("cargo:rerun-if-changed=ext");
    println!("cargo:rerun-if-env-changed=PHP_CONFIG");
    println!("cargo:rerun-if-env-changed=URING_PHP_CACHE");

    let php_config = find_php_config().unwrap_or_else(|| {
        fail("no PHP found: run scripts/build-php.sh (builds PHP 8.4 ZTS; PHP_VERSION=8.2 for 8.2), or set PHP_CONFIG=/path/to/php-config")
    });
    println!("cargo:rerun-if-changed={}", php_config.display());

    let prefix = PathBuf::from(php_config_query(&php_config, "--prefix"));
    let include_dir = PathBuf::from(php_config_query(&php_config, "--include-dir"));
    let version = php_config_query(&php_config, "--version");
    let libdir = prefix.join("lib");

    if !is_zts(&include_dir) {
        fail(&format!(
            "PHP {version} at {} is not thread-safe (ZTS): uring_php runs PHP on many threads. \
             Run scripts/build-php.sh or point PHP_CONFIG at a ZTS build",
            prefix.display()
        ));
    }
    if !libdir.join("libphp.so").exists() {
        fail(&format!(
            "PHP at {} has no embed library (lib/libphp.so): configure PHP with --enable-embed=shared",
            prefix.display()
        ));
    }

    let includes: Vec<PathBuf> = php_config_query(&php_config, "--includes")
        .split_whitespace()
        .filter_map(|flag| flag.strip_prefix("-I").map(PathBuf::from))
        .collect();

    let mut build = cc::Build::new();
    build
        .file("bridge/sapi.c")
        .file("bridge/worker_request.c")
        .file("ext/uring_ext.c")
        .file("ext/worker_api.c")
        .include("bridge")
        .includes(&includes)
        .define("ZEND_ENABLE_STATIC_TSRMLS_CACHE", "1")
        .define("_GNU_SOURCE", None)
        .flag_if_supported("-Wno-unused-parameter")
        .flag_if_supported("-Wno-missing-field-initializers")
        .warnings(true);
    build.compile("uring_bridge");

    // The Rust side sees only the bridge's own header, never PHP's: an allow-list of
    // the uring_* names keeps the bindings small and stable across PHP versions.
    let bindings = bindgen::Builder::default()
        .header("bridge/uring_sapi.h")
        .allowlist_function("uring_.*")
        .allowlist_type("uring_.*")
        .layout_tests(false)
        .generate()
        .unwrap_or_else(|e| fail(&format!("bindgen failed on bridge/uring_sapi.h: {e}")));
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR"));
    bindings
        .write_to_file(out.join("bindings.rs"))
        .unwrap_or_else(|e| fail(&format!("writing bindings: {e}")));

    println!("cargo:rustc-link-search=native={}", libdir.display());
    println!("cargo:rustc-link-lib=dylib=php");
    // The binary finds libphp without LD_LIBRARY_PATH.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", libdir.display());
    // For dependent crates (the bench's hyper variant) through DEP_PHP_*.
    println!("cargo:libdir={}", libdir.display());
    println!("cargo:prefix={}", prefix.display());
    println!("cargo:rustc-env=URING_PHP_PREFIX={}", prefix.display());
    println!("cargo:rustc-env=URING_PHP_VERSION={version}");
    let build_info = prefix.join("build-info");
    println!("cargo:rerun-if-changed={}", build_info.display());
    println!(
        "cargo:rustc-env=URING_PHP_BUILD={}",
        build_summary(&build_info)
    );
}

/// One line saying how this PHP was built, from the `build-info` file scripts/build-php.sh
/// writes into its prefix (`key=value` lines): the flavour first, then every other key
/// but the version (known already) and the compiler.
fn build_summary(build_info: &Path) -> String {
    let Ok(text) = std::fs::read_to_string(build_info) else {
        return "ZTS, embed SAPI (not built by scripts/build-php.sh)".into();
    };
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim(), v.trim()))
        .collect();
    let mut parts: Vec<String> = pairs
        .iter()
        .filter(|(k, _)| *k == "flavour")
        .map(|(_, v)| v.to_string())
        .collect();
    parts.extend(
        pairs
            .iter()
            .filter(|(k, _)| !matches!(*k, "flavour" | "php_version" | "cc"))
            .map(|(k, v)| format!("{k}: {v}")),
    );
    parts.join("; ")
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    println!("cargo:warning={msg}");
    std::process::exit(1);
}

fn find_php_config() -> Option<PathBuf> {
    if let Some(p) = env::var_os("PHP_CONFIG") {
        let p = PathBuf::from(p);
        if !p.exists() {
            fail(&format!("PHP_CONFIG={} does not exist", p.display()));
        }
        return Some(p);
    }
    if let Some(p) = cached_build() {
        return Some(p);
    }
    let out = Command::new("sh")
        .args(["-c", "command -v php-config"])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?;
    let path = path.trim();
    (!path.is_empty()).then(|| PathBuf::from(path))
}

/// The complete build of scripts/build-php.sh in its cache directory with the highest PHP
/// version (8.4 before 8.2, as the script's default), the newest of those.
fn cached_build() -> Option<PathBuf> {
    let root = match env::var_os("URING_PHP_CACHE") {
        Some(p) => PathBuf::from(p),
        None => match env::var_os("XDG_CACHE_HOME") {
            Some(p) => PathBuf::from(p).join("uring_php"),
            None => PathBuf::from(env::var_os("HOME")?).join(".cache/uring_php"),
        },
    };
    println!("cargo:rerun-if-changed={}", root.display());
    let mut builds: Vec<(Vec<u32>, std::time::SystemTime, PathBuf)> = std::fs::read_dir(&root)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join(".complete").exists() && p.join("bin/php-config").exists())
        .filter_map(|p| {
            let t = p.join(".complete").metadata().ok()?.modified().ok()?;
            Some((cached_version(&p), t, p))
        })
        .collect();
    builds.sort();
    builds.pop().map(|(_, _, p)| p.join("bin/php-config"))
}

/// `[8, 4, 11]` from a cache entry named `php-8.4.11-zts-<key>`; empty when unnamed so.
fn cached_version(dir: &Path) -> Vec<u32> {
    dir.file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("php-"))
        .and_then(|n| n.split_once("-zts"))
        .map(|(v, _)| v.split('.').filter_map(|x| x.parse().ok()).collect())
        .unwrap_or_default()
}

fn php_config_query(php_config: &Path, arg: &str) -> String {
    let out = Command::new(php_config)
        .arg(arg)
        .output()
        .unwrap_or_else(|e| fail(&format!("running {} {arg}: {e}", php_config.display())));
    if !out.status.success() {
        fail(&format!("{} {arg} failed", php_config.display()));
    }
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn is_zts(include_dir: &Path) -> bool {
    std::fs::read_to_string(include_dir.join("main/php_config.h"))
        .map(|s| s.lines().any(|l| l.trim() == "#define ZTS 1"))
        .unwrap_or(false)
}
