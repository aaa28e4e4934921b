#!/usr/bin/env bash
# Writes docker/seccomp-io_uring.json: Docker's default seccomp profile, with the three
# io_uring syscalls (io_uring_setup, io_uring_enter, io_uring_register) allowed in an
# entry of their own, so the core threads get io_uring inside a container.
#
# Why: Docker 25.0 removed the io_uring syscalls from its default profile (containerd's
# default, which Kubernetes' RuntimeDefault uses, did the same); under it io_uring_setup
# fails with EPERM and uring_php runs on epoll (it logs why, once per core).
#
# Source of the default profile: profiles/seccomp/default.json in Debian 12's
# golang-github-docker-docker-dev package (Docker 20.10.24's sources), fetched with
# `apt-get download` (nothing is installed). That release still listed the io_uring
# syscalls in its main allow list; this script moves them to their own, commented entry
# (removing them from every other entry), so the profile reads as "Docker's default +
# io_uring" whatever the source listed. It also states `"defaultErrnoRet": 1` (EPERM), as
# Docker's current default does: 20.10's profile leaves it out, and while Docker and runc
# then return EPERM, other runtimes (buildah, measured) return 0 from a denied syscall.
#
# Usage: docker/gen-seccomp.sh [OUTPUT]   (default: docker/seccomp-io_uring.json)
#        docker/gen-seccomp.sh --check    (exit 1 when the committed file differs)
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'gen-seccomp: %s\n' "$*" >&2; }

out=docker/seccomp-io_uring.json
check=0
case "${1:-}" in
  --check) check=1 ;;
  "") ;;
  *) out=$1 ;;
esac

command -v jq >/dev/null || { say "error: jq is needed (apt-get install jq)"; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# apt-get download writes into the current directory; _apt cannot write to a mktemp dir
# owned by root, so allow the unsandboxed download explicitly.
(cd "$work" && apt-get download -q -o APT::Sandbox::User=root golang-github-docker-docker-dev >/dev/null 2>&1) || {
  say "error: apt-get download golang-github-docker-docker-dev failed (run apt-get update?)"
  exit 1
}
deb=$(ls "$work"/golang-github-docker-docker-dev_*.deb)
dpkg-deb --fsys-tarfile "$deb" \
  | tar -xO ./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json >"$work/default.json"
version=$(dpkg-deb -f "$deb" Version)

jq --arg version "$version" '
  ["io_uring_setup", "io_uring_enter", "io_uring_register"] as $uring
  | {defaultAction: .defaultAction, defaultErrnoRet: (.defaultErrnoRet // 1)} + .
  | .syscalls |= (map(.names -= $uring) | map(select(.names | length > 0)))
  | .syscalls |= (.[:1] + [{
      names: $uring,
      action: "SCMP_ACT_ALLOW",
      args: [],
      comment: ("uring_php: io_uring for the core threads (Docker >= 25 blocks it by default). Rest of this profile: Docker default, from golang-github-docker-docker-dev " + $version),
      includes: {},
      excludes: {}
    }] + .[1:])
' "$work/default.json" >"$work/out.json"

if [ "$check" = 1 ]; then
  if diff -q "$work/out.json" "$out" >/dev/null; then
    say "ok: $out matches Docker's default profile ($version) + io_uring"
  else
    say "error: $out differs from what this script generates (run docker/gen-seccomp.sh)"
    exit 1
  fi
else
  cp "$work/out.json" "$out"
  say "wrote $out (Docker default profile from $version + io_uring)"
fi
