#!/usr/bin/env bash
# Builds everything uring_php needs: Rust (if missing), the ZTS PHP (cached), and the
# release binary. Prints the binary's path on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-rust.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
PHP_PREFIX=$(./scripts/build-php.sh | tail -n 1)
export PHP_CONFIG="$PHP_PREFIX/bin/php-config"
cargo build --release --locked -p uring_php >&2
echo "$PWD/target/release/uring_php"
