#!/usr/bin/env bash
# Builds PHP 8.2 ZTS with the embed SAPI (and the CLI) into a cache outside the checkout,
# keyed by PHP version and configure flags, so CI and later builds reuse it.
#
# Sources, in order: PHP_TARBALL (a path to a php-8.2.x tarball); Debian's source package
# via `apt-get source` (a deb-src entry is derived from this machine's deb entries).
#
# Prints the install prefix on its last line of stdout. Idempotent: a finished build is
# detected by its stamp file and reused.
set -euo pipefail

CACHE_ROOT=${URING_PHP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uring_php}
JOBS=${JOBS:-$(nproc)}
log() { printf 'build-php: %s\n' "$*" >&2; }
die() { printf 'build-php: error: %s\n' "$*" >&2; exit 1; }

# The flags matter for correctness, not only features (DESIGN.md): per-thread execution
# timers, and no Zend Signals stealing the server's signal handlers.
CONFIGURE_FLAGS=(
  --enable-zts
  --enable-embed=shared
  --enable-cli
  --disable-cgi
  --disable-phpdbg
  --enable-opcache
  --enable-zend-max-execution-timers
  --disable-zend-signals
  --enable-mbstring
  --enable-intl
  --with-pdo-sqlite
  --with-sqlite3
  --enable-mysqlnd
  --with-mysqli=mysqlnd
  --with-pdo-mysql=mysqlnd
  --with-openssl
  --with-zlib
  --with-curl
  --enable-dom
  --enable-xml
  --enable-simplexml
  --enable-xmlreader
  --enable-xmlwriter
  --enable-fileinfo
  --enable-gd
  --with-sodium
  --enable-bcmath
  --enable-ctype
  --with-iconv
  --enable-session
  --enable-tokenizer
  --enable-filter
  --enable-pcntl
  --enable-sockets
  --enable-exif
  --with-pear=no
)

# mysqlnd's default socket (mysqli.default_socket, pdo_mysql.default_socket, and what
# `localhost` means to mysqli/PDO) is compiled in. Debian's PHP uses the distro's MariaDB/
# MySQL socket; without it WordPress's DB_HOST=localhost cannot connect. PHP_MYSQL_SOCKET
# overrides; otherwise ask the installed client library, then fall back to Debian's path.
mysql_socket() {
  if [ -n "${PHP_MYSQL_SOCKET:-}" ]; then echo "$PHP_MYSQL_SOCKET"; return; fi
  local s=""
  command -v mysql_config >/dev/null 2>&1 && s=$(mysql_config --socket 2>/dev/null || true)
  [ -z "$s" ] && command -v mariadb_config >/dev/null 2>&1 && s=$(mariadb_config --socket 2>/dev/null || true)
  echo "${s:-/run/mysqld/mysqld.sock}"
}
CONFIGURE_FLAGS+=(--with-mysql-sock="$(mysql_socket)")

BUILD_DEPS=(build-essential pkg-config autoconf bison re2c dpkg-dev xz-utils patch
  libxml2-dev libsqlite3-dev libonig-dev libicu-dev libssl-dev zlib1g-dev
  libcurl4-openssl-dev libsodium-dev libpng-dev libargon2-dev libclang-dev)

install_deps() {
  local missing=()
  for p in "${BUILD_DEPS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing build dependencies: ${missing[*]}"
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  local apt_log="${TMPDIR:-/tmp}/uring_php-build-deps.log"
  { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
      --no-install-recommends "${missing[@]}"; } >"$apt_log" 2>&1 \
    || { tail -n 20 "$apt_log" >&2; die "apt-get install failed (log: $apt_log)"; }
}

# deb-src entries derived from the machine's own deb entries (deb822 and one-line formats).
ensure_deb_src() {
  if grep -rqsE '^(Types:.*deb-src|deb-src )' /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
    return 0
  fi
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  local out=/etc/apt/sources.list.d/uring-php-deb-src
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/debian.sources | $sudo tee "$out.sources" >/dev/null
  elif [ -f /etc/apt/sources.list.d/ubuntu.sources ]; then
    sed -E 's/^Types:.*/Types: deb-src/' /etc/apt/sources.list.d/ubuntu.sources | $sudo tee "$out.sources" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed -E 's/^deb /deb-src /' | $sudo tee "$out.list" >/dev/null
  else
    return 1
  fi
  log "added deb-src entries derived from the deb entries ($out.*)"
  $sudo apt-get update -qq >/dev/null 2>&1 || true
}

# Fetches the pristine upstream tarball of Debian's php8.2 source package into $1 and
# prints its path. Tries each listed version: the security suite may list a newer
# version than the mirror can serve.
fetch_debian_source() {
  local dir=$1
  ensure_deb_src || return 1
  local versions
  versions=$(apt-cache showsrc php8.2 2>/dev/null | awk '/^Version:/ {print $2}' | sort -uVr)
  [ -n "$versions" ] || return 1
  for v in $versions; do
    log "trying apt-get source php8.2=$v"
    if (cd "$dir" && apt-get source --download-only -qq "php8.2=$v" >&2 2>/dev/null); then
      local orig
      orig=$(ls "$dir"/php8.2_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1)
      [ -n "$orig" ] && { echo "$orig"; return 0; }
    fi
  done
  return 1
}

# PHP_WITH_REDIS=1: adds the phpredis extension (Debian's php-redis source package) to
# the build, for a Redis session handler shared by several instances. It is an add-on
# to a finished prefix (lib/php/extensions/.../redis.so), so it does not change the key.
add_redis() {
  local prefix=$1
  [ "${PHP_WITH_REDIS:-0}" = 1 ] || return 0
  local extdir
  extdir=$("$prefix/bin/php-config" --extension-dir)
  [ -f "$extdir/redis.so" ] && { log "phpredis: present"; return 0; }
  ensure_deb_src || die "PHP_WITH_REDIS=1 needs Debian's php-redis source package (no deb-src entries)"
  local dir
  dir=$(mktemp -d "${TMPDIR:-/tmp}/uring-php-redis.XXXXXX")
  local versions v ok=""
  versions=$(apt-cache showsrc php-redis 2>/dev/null | awk '/^Version:/ {print $2}' | sort -uVr)
  for v in $versions; do
    if (cd "$dir" && apt-get source --download-only -qq "php-redis=$v" >/dev/null 2>&1); then ok=1; break; fi
  done
  [ -n "$ok" ] || { rm -rf "$dir"; die "PHP_WITH_REDIS=1: apt-get source php-redis failed"; }
  log "building phpredis $v"
  (
    cd "$dir"
    tar -xf php-redis_*.orig.tar.*
    # The source package carries several phpredis releases: take the newest.
    cd "$(find . -mindepth 1 -maxdepth 1 -type d -name 'redis-*' | sort -V | tail -n1)"
    "$prefix/bin/phpize" >"$dir/phpize.log" 2>&1
    ./configure --with-php-config="$prefix/bin/php-config" >"$dir/configure.log" 2>&1
    make -j"$JOBS" >"$dir/make.log" 2>&1
    make install >"$dir/install.log" 2>&1
  ) || { tail -n 20 "$dir"/*.log >&2; rm -rf "$dir"; die "building phpredis failed"; }
  rm -rf "$dir"
  log "phpredis installed: load it with --php-define extension=redis.so"
}

install_deps

WORK=$(mktemp -d "${TMPDIR:-/tmp}/uring-php-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${PHP_TARBALL:-}" ]; then
  [ -r "$PHP_TARBALL" ] || die "PHP_TARBALL=$PHP_TARBALL is not a readable file"
  TARBALL=$PHP_TARBALL
else
  TARBALL=$(fetch_debian_source "$WORK") || \
    die "no PHP source: set PHP_TARBALL=/path/to/php-8.2.x.tar.xz (apt-get source php8.2 failed)"
fi

# The version is read from the tarball's own main/php_version.h, not its file name.
VERSION=$(tar -xOf "$TARBALL" --wildcards '*/main/php_version.h' 2>/dev/null \
  | awk -F'"' '/#define PHP_VERSION / {print $2}')
[ -n "$VERSION" ] || die "could not read PHP_VERSION from $TARBALL"
case "$VERSION" in 8.2.*) ;; *) die "need PHP 8.2.x, $TARBALL holds $VERSION";; esac

# Small patches uring_php carries (scripts/php-patches/*.patch, each explained in its
# header); they are part of the cache key like the flags.
PATCH_DIR="$(cd "$(dirname "$0")" && pwd)/php-patches"
PATCHES=()
for p in "$PATCH_DIR"/*.patch; do [ -e "$p" ] && PATCHES+=("$p"); done
KEY=$( { printf '%s\n' "$VERSION" "${CONFIGURE_FLAGS[@]}"; cat "${PATCHES[@]}" /dev/null; } | sha256sum | cut -c1-12)
PREFIX="$CACHE_ROOT/php-$VERSION-zts-$KEY"
if [ -f "$PREFIX/.complete" ]; then
  log "cached: $PREFIX"
  add_redis "$PREFIX"
  echo "$PREFIX"
  exit 0
fi
# One build per key at a time: a second run waits, then finds the first one's result.
mkdir -p "$CACHE_ROOT"
exec 9>"$CACHE_ROOT/.lock-$KEY"
if ! flock -n 9; then
  log "another build of $PREFIX is running; waiting for it"
  flock 9
fi
if [ -f "$PREFIX/.complete" ]; then
  log "cached: $PREFIX"
  add_redis "$PREFIX"
  echo "$PREFIX"
  exit 0
fi

log "building PHP $VERSION ZTS into $PREFIX (takes several minutes)"
tar -xf "$TARBALL" -C "$WORK"
SRC=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d -name 'php*' | head -n1)
[ -n "$SRC" ] || die "tarball $TARBALL has no php-* directory"
rm -rf "$PREFIX"
mkdir -p "$CACHE_ROOT"
(
  cd "$SRC"
  for p in "${PATCHES[@]}"; do
    patch -p1 --forward --quiet < "$p" >&2 || { echo "patch $p does not apply to PHP $VERSION" >&2; exit 1; }
  done
  [ -x configure ] || ./buildconf --force >&2
  ./configure --prefix="$PREFIX" --with-config-file-path="$PREFIX/etc" \
    "${CONFIGURE_FLAGS[@]}" >"$WORK/configure.log" 2>&1 \
    || { tail -n 30 "$WORK/configure.log" >&2; exit 1; }
  make -j"$JOBS" >"$WORK/make.log" 2>&1 || { tail -n 40 "$WORK/make.log" >&2; exit 1; }
  make install >"$WORK/install.log" 2>&1 || { tail -n 20 "$WORK/install.log" >&2; exit 1; }
) || die "PHP build failed (log above)"

"$PREFIX/bin/php" -r 'exit(PHP_ZTS ? 0 : 1);' || die "built PHP is not ZTS"
[ -f "$PREFIX/lib/libphp.so" ] || die "built PHP has no lib/libphp.so (embed SAPI)"
mkdir -p "$PREFIX/etc"
touch "$PREFIX/.complete"
log "done: $PREFIX"
add_redis "$PREFIX"
echo "$PREFIX"
