#!/usr/bin/env bash
# Builds everything uring_php needs: Rust (if missing), the ZTS PHP (cached), and the
# release binary. Prints the binary's path on its last line.
#
# PHP_VERSION=8.2 builds against PHP 8.2 instead of 8.4, into target/php8.2 (cargo's
# build of the crate depends on the PHP it links, so each version keeps its own target
# dir and neither rebuilds the other).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/ensure-rust.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
PHP_PREFIX=$(./scripts/build-php.sh | tail -n 1)
export PHP_CONFIG="$PHP_PREFIX/bin/php-config"
SERIES=$("$PHP_CONFIG" --version | cut -d. -f1-2)
TARGET=${CARGO_TARGET_DIR:-target}
[ "$SERIES" = 8.4 ] || TARGET="$TARGET/php$SERIES"
CARGO_TARGET_DIR=$TARGET cargo build --release --locked -p uring_php >&2
echo "$(cd "$TARGET" && pwd)/release/uring_php"
