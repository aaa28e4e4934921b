#!/usr/bin/env bash
# Runs every test: installs what the tests need (the ZTS PHP builds, nginx + php-fpm as
# the reference, curl, h2load, the real applications of tests/apps/ and MariaDB, ...),
# checks formatting, lints and that no module imports one that imports it back, then
# runs the whole workspace's tests on PHP 8.4, the
# default build, and the tests that exercise PHP itself (engine, differential, runtime,
# OPcache restarts, php.ini parity, output) on PHP 8.2 too, in a target dir of its own
# (target/php8.2): cargo's build of the crate depends on PHP_CONFIG, so two versions
# sharing one target dir would rebuild each other every time. The differential test's
# reference is Debian 12's php8.2-fpm on both runs: on 8.2 it is the same PHP, on 8.4 it
# checks the server's behaviour, which PHP 8.4 does not change for any of its cases.
#
# PHP_VERSION=8.2 (or 8.4): the whole suite on that version only. Arguments go to
# `cargo test` on each version (e.g. `scripts/test.sh --test engine`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-rust.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

TARGET=${CARGO_TARGET_DIR:-target}
# On the second PHP version, when no arguments narrow the run.
PHP_TESTS=(--test engine --test differential --test runtime --test opcache_restart
  --test php_ini_parity --test output_spill)

php_config() {
  local prefix
  prefix=$(PHP_VERSION=$1 ./scripts/build-php.sh | tail -n 1)
  echo "$prefix/bin/php-config"
}

target_for() {
  if [ "$1" = 8.4 ]; then echo "$TARGET"; else echo "$TARGET/php$1"; fi
}

run_tests() {
  local version=$1; shift
  echo "test.sh: PHP $version: cargo test --workspace --locked $*" >&2
  PHP_CONFIG=${CONFIG[$version]} CARGO_TARGET_DIR=$(target_for "$version") \
    cargo test --workspace --locked "$@"
}

if [ -n "${PHP_VERSION:-}" ]; then
  VERSIONS=("$(echo "$PHP_VERSION" | cut -d. -f1-2)")
else
  VERSIONS=(8.4 8.2)
fi
# Every build first, so a broken PHP build fails before any test runs.
declare -A CONFIG
for v in "${VERSIONS[@]}"; do CONFIG[$v]=$(php_config "$v"); done
./scripts/install-test-deps.sh
./scripts/install-apps.sh

rustup component add rustfmt clippy >/dev/null 2>&1 || true
cargo fmt --all -- --check
# No module imports one that imports it back (src/, http/, bench/; docs/architecture.md).
python3 scripts/check-import-cycles.py
PHP_CONFIG=${CONFIG[${VERSIONS[0]}]} CARGO_TARGET_DIR=$(target_for "${VERSIONS[0]}") \
  cargo clippy --workspace --all-targets --locked -- -D warnings

run_tests "${VERSIONS[0]}" "$@"
for v in "${VERSIONS[@]:1}"; do
  if [ $# -gt 0 ]; then run_tests "$v" "$@"; else run_tests "$v" "${PHP_TESTS[@]}"; fi
done
