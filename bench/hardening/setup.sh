#!/usr/bin/env bash
# Makes the Python environment of the hardening suite: a venv with h2 and hyperframe
# (raw HTTP/2 frames), outside the checkout so that worktrees and CI share it.
# Idempotent: does nothing when the venv already has both. Prints the venv's python.
set -euo pipefail
venv=${HARDENING_VENV:-$HOME/.cache/uring_php/hardening-venv}
py=$venv/bin/python3
if [ -x "$py" ] && "$py" -c 'import h2, hyperframe, hpack' 2>/dev/null; then
  echo "$py"
  exit 0
fi
mkdir -p "$(dirname "$venv")"
base=python3
# Debian's python3 is the one install-test-deps.sh may add venv support to; any
# python3 with the venv module does.
if ! python3 -c 'import venv, ensurepip' 2>/dev/null && [ -x /usr/bin/python3 ]; then
  base=/usr/bin/python3
fi
"$base" -m venv "$venv" >&2
"$py" -m pip install --quiet --disable-pip-version-check 'h2>=4,<5' 'hyperframe>=6,<7' >&2
"$py" -c 'import h2, hyperframe, hpack'
echo "$py"
