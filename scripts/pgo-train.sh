#!/usr/bin/env bash
# Trains a profile-generating PHP build for PGO (PHP_PGO=1 scripts/build-php.sh calls
# this with the build's prefix): builds uring_php against that PHP in a target dir of
# its own (target/pgo-train) and runs the benchmark runner through it — hello.php, the
# realistic page, the JSON API and the real applications (WordPress, MediaWiki,
# DokuWiki, Symfony, Laravel) — so the profile is the one those workloads give. The
# profile is written when the server exits (SIGTERM from the runner).
#
#   scripts/pgo-train.sh <php prefix>
set -euo pipefail
PREFIX=${1:?usage: scripts/pgo-train.sh <php prefix>}
cd "$(dirname "$0")/.."
./scripts/ensure-rust.sh
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
say() { printf 'pgo-train: %s\n' "$*" >&2; }

./scripts/install-test-deps.sh >&2
./scripts/install-apps.sh >&2

export PHP_CONFIG="$PREFIX/bin/php-config"
export CARGO_TARGET_DIR="$PWD/target/pgo-train"
say "building uring_php and the runner against $PREFIX"
cargo build --release --locked -p uring_php -p uring-bench >&2

out=$(mktemp -d "${TMPDIR:-/tmp}/uring-pgo-train.XXXXXX")
trap 'rm -rf "$out"' EXIT
say "training (the runner's output is in $out while it runs)"
"$CARGO_TARGET_DIR/release/bench" \
  --scenarios hello,page,api,wordpress,mediawiki,dokuwiki,symfony,laravel \
  --peers uring --bin-dir "$CARGO_TARGET_DIR/release" \
  --modes shared --conns 16 --rounds 1 --duration 4 --warmup 1 --no-scaling \
  --out "$out" >&2
say "done"
