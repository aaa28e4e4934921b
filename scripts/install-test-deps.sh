#!/usr/bin/env bash
# Installs what the integration tests and benchmarks need from Debian's archive:
# the reference stack (nginx + php8.2-fpm with the same extensions as our ZTS build)
# and the client tools (curl, wrk, nghttp, testssl.sh, jq, openssl), and pebble, the ACME
# test server tests/acme.rs starts (with its mock DNS, pebble-challtestsrv).
#
# Idempotent and quiet: installs only what is missing, runs `apt-get update` only then,
# logs apt's output to $INSTALL_LOG (default /tmp/uring_php-install-test-deps.<uid>.log) and
# prints one line per action. Works as root or as a user with sudo.
#
# Afterwards Debian's own nginx / php-fpm services are stopped: the tests start private
# instances on ephemeral ports and must not find a system master holding :80.
set -euo pipefail

LOG=${INSTALL_LOG:-${TMPDIR:-/tmp}/uring_php-install-test-deps.$(id -u).log}
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  nginx
  php8.2-fpm
  php8.2-cli
  php8.2-sqlite3
  php8.2-mbstring
  php8.2-xml
  php8.2-curl
  php8.2-intl
  php8.2-bcmath
  curl
  wrk
  nghttp2-client
  testssl.sh
  jq
  openssl
  # Worker mode's framework apps (tests/apps/worker-*, bench/) load these through the
  # include_path.
  php-symfony-framework-bundle
  php-symfony-twig-bundle
  php-symfony-security-csrf
  php-symfony-runtime
  php-laravel-framework
  pebble
)

say() { printf 'install-test-deps: %s\n' "$*"; }
die() {
  printf 'install-test-deps: error: %s (log: %s)\n' "$*" "$LOG" >&2
  exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -E "$@"
  else
    printf 'install-test-deps: cannot run "%s" as root: not root and no sudo\n' "$*" >&2
    return 1
  fi
}

{ : >>"$LOG"; } 2>/dev/null || LOG=/dev/null

installed() {
  # "install ok installed" is the only state that means the package is usable.
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  say "all ${#PACKAGES[@]} packages already installed"
else
  say "missing: ${missing[*]}"
  say "apt-get update"
  as_root apt-get update >>"$LOG" 2>&1 || die "apt-get update failed"
  say "apt-get install ${#missing[@]} package(s)"
  # Depending on the machine, postinst starts the services (systemd, or no policy-rc.d)
  # or not (containers whose policy-rc.d denies it): they are stopped below either way.
  as_root apt-get install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >>"$LOG" 2>&1 || die "apt-get install failed"
  for p in "${missing[@]}"; do
    installed "$p" || die "$p is still not installed"
  done
  say "installed: ${missing[*]}"
fi

# Stop Debian's own services so they hold no ports. With systemd, `service` stops them;
# in a container without an init system, postinst may have started daemons directly:
# kill their masters from the pid files. Errors are ignored on purpose.
stop_service() {
  local name=$1 pidfile=$2 pid=""
  [ -s "$pidfile" ] && pid=$(cat "$pidfile" 2>/dev/null || true)
  running() { [ -n "$pid" ] && [ -d "/proc/$pid" ]; }
  running || pid=""
  if command -v service >/dev/null 2>&1; then
    as_root service "$name" stop >>"$LOG" 2>&1 || true
  fi
  if running; then
    as_root kill -TERM "$pid" >>"$LOG" 2>&1 || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      running || break
      sleep 0.2
    done
    if running; then as_root kill -KILL "$pid" >>"$LOG" 2>&1 || true; fi
  fi
  if [ -n "$pid" ]; then
    if running; then
      say "warning: could not stop system $name (pid $pid)"
    else
      say "stopped system $name (pid $pid)"
    fi
  fi
  return 0
}
stop_service nginx /run/nginx.pid
stop_service php8.2-fpm /run/php/php8.2-fpm.pid

for bin in /usr/sbin/nginx /usr/sbin/php-fpm8.2 /usr/bin/php8.2; do
  [ -x "$bin" ] || die "$bin missing after install"
done
say "ok: $(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //'), $(/usr/sbin/php-fpm8.2 -v | head -n1 | cut -d' ' -f1-2)"
