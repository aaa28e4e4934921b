#!/usr/bin/env bash
# Builds everything (first run: ~10 minutes for PHP) and serves the example app on
# LISTEN_ADDR (default 0.0.0.0:8080). Extra arguments go to uring_php.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(./scripts/build.sh | tail -n 1)
export DOCUMENT_ROOT="${DOCUMENT_ROOT:-$PWD/examples/app}"
export LISTEN_ADDR="${LISTEN_ADDR:-0.0.0.0:8080}"
echo "serving $DOCUMENT_ROOT on http://$LISTEN_ADDR (Ctrl-C stops)" >&2
exec "$BIN" "$@"
