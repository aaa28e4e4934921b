#!/usr/bin/env bash
# Runs every test: installs what the tests need (the ZTS PHP build, nginx + php-fpm as
# the reference, curl, h2load, the real applications of tests/apps/ and MariaDB, ...),
# then the whole workspace's tests.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-rust.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
PHP_PREFIX=$(./scripts/build-php.sh | tail -n 1)
export PHP_CONFIG="$PHP_PREFIX/bin/php-config"
./scripts/install-test-deps.sh
./scripts/install-apps.sh
cargo test --workspace --locked "$@"
