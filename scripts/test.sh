#!/usr/bin/env bash
# Runs every test: installs what the tests need (the ZTS PHP builds, nginx + php-fpm as
# the reference, curl, h2load, ...), then
#   - the whole workspace's tests on PHP 8.4, the default build;
#   - the tests that exercise PHP itself (engine, differential, runtime) on PHP 8.2 too,
#     in a target dir of its own (target/php8.2): cargo's build of the crate depends on
#     PHP_CONFIG, so the two versions sharing one would rebuild each other every time.
#
# PHP_VERSION=8.2 (or 8.4): the whole suite on that version only. Arguments go to
# `cargo test` (e.g. `scripts/test.sh --test engine`).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-rust.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"

TARGET=${CARGO_TARGET_DIR:-target}
# The test files that run PHP scripts through the engine and compare them with php-fpm.
PHP_TESTS=(--test engine --test differential --test runtime)

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
  echo "test.sh: PHP $version: cargo test $*" >&2
  PHP_CONFIG=$(php_config "$version") CARGO_TARGET_DIR=$(target_for "$version") \
    cargo test --workspace --locked "$@"
}

if [ -n "${PHP_VERSION:-}" ]; then
  version=$(echo "$PHP_VERSION" | cut -d. -f1-2)
  php_config "$version" >/dev/null
  ./scripts/install-test-deps.sh
  run_tests "$version" "$@"
  exit 0
fi

# Both builds first, so a broken PHP build fails before any test runs.
php_config 8.4 >/dev/null
php_config 8.2 >/dev/null
./scripts/install-test-deps.sh
run_tests 8.4 "$@"
if [ $# -eq 0 ]; then
  run_tests 8.2 "${PHP_TESTS[@]}"
else
  run_tests 8.2 "$@"
fi
