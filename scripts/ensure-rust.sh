#!/usr/bin/env bash
# Makes sure a Rust toolchain new enough for the project is on PATH (installs rustup's
# stable toolchain when cargo is missing). Prints nothing when Rust is already there.
set -euo pipefail
[ -f "$HOME/.cargo/env" ] && . "$HOME/.cargo/env"
if command -v cargo >/dev/null 2>&1; then
  exit 0
fi
echo "ensure-rust: cargo not found; installing Rust with rustup" >&2
command -v curl >/dev/null 2>&1 || { sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"; $sudo apt-get install -y -qq curl >/dev/null; }
curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal >&2 \
  || { echo "ensure-rust: error: could not install Rust; install it from https://rustup.rs and retry" >&2; exit 1; }
