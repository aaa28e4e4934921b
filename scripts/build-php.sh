#!/usr/bin/env bash
# Builds PHP ZTS with the embed SAPI (and the CLI) into a cache outside the checkout,
# keyed by PHP version, configure flags and patches, so CI and later builds reuse it.
#
# PHP_VERSION picks the series: 8.4 (the default) or 8.2. Sources, in order:
#   PHP_TARBALL  a path to a php-8.x tarball (8.2 to 8.5; its own version wins, and a
#                PHP_VERSION that disagrees with it is an error);
#   8.4          Debian 13 (trixie)'s php8.4 source package: a deb-src entry for trixie
#                is added in its own file (sources only: nothing is installed from trixie),
#                each listed version is tried, then the known-good 8.4.11-1 from the pool;
#   8.2          Debian 12 (bookworm)'s php8.2 source package (a deb-src entry is derived
#                from this machine's deb entries).
# Both series live side by side in the cache (php-<version>-zts-<key>).
#
# Optional optimisation (docs/performance.md, "Build options"), its own cache entry:
#   PHP_PGO=1    profile-guided optimisation: a profile-generating build is installed,
#                trained by scripts/pgo-train.sh (the bench scenarios and the real apps
#                through uring_php), then rebuilt with the profile.
# Without them the build is PHP's own (-O2), keyed exactly as before.
#
# Prints the install prefix on its last line of stdout. Idempotent: a finished build is
# detected by its stamp file and reused.
set -euo pipefail

CACHE_ROOT=${URING_PHP_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/uring_php}
JOBS=${JOBS:-$(nproc)}
log() { printf 'build-php: %s\n' "$*" >&2; }
die() { printf 'build-php: error: %s\n' "$*" >&2; exit 1; }

# The flags matter for correctness, not only features (docs/php.md): per-thread execution
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
  if grep -rqsE --exclude="$(basename "$TRIXIE_SRC")" '^(Types:.*deb-src|deb-src )' \
      /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then
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

# Fetches the pristine upstream tarball of Debian's php$SERIES source package into $1
# and prints its path. Tries each listed version: a suite may list a newer version than
# the mirror can serve (bookworm-security's, trixie's point releases).
fetch_listed_source() {
  local dir=$1 pkg=php$SERIES versions v orig
  versions=$(apt-cache showsrc "$pkg" 2>/dev/null | awk '/^Version:/ {print $2}' | sort -uVr)
  for v in $versions; do
    log "trying apt-get source $pkg=$v"
    if (cd "$dir" && apt-get source --download-only -qq "$pkg=$v" >&2 2>/dev/null); then
      orig=$(ls "$dir"/"${pkg}"_*.orig.tar.* 2>/dev/null | grep -v '\.asc$' | head -n1)
      [ -n "$orig" ] && { echo "Debian source package $pkg $v" >"$dir/.source"; echo "$orig"; return 0; }
    fi
  done
  return 1
}

# PHP 8.4 comes from trixie's sources. Only a deb-src entry is added, in its own file, and
# only that file is refreshed: nothing is ever installed from trixie. Skipped where the
# machine's own entries already list php8.4 (a trixie machine).
TRIXIE_SRC=/etc/apt/sources.list.d/uring-php-trixie-src.sources
TRIXIE_MIRROR=http://deb.debian.org/debian
ensure_trixie_src() {
  apt-cache showsrc php8.4 2>/dev/null | grep -q '^Version:' && return 0
  local sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ ! -f "$TRIXIE_SRC" ]; then
    local keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f /usr/share/keyrings/debian-archive-trixie-stable.gpg ] || return 1
    printf 'Types: deb-src\nURIs: %s\nSuites: trixie\nComponents: main\nSigned-By: %s\n' \
      "$TRIXIE_MIRROR" "$keyring" | $sudo tee "$TRIXIE_SRC" >/dev/null
    log "added a deb-src entry for Debian 13 (trixie), sources only ($TRIXIE_SRC)"
  fi
  $sudo apt-get update -qq -o Dir::Etc::sourcelist="$TRIXIE_SRC" -o Dir::Etc::sourceparts=- \
    -o APT::Get::List-Cleanup=0 >/dev/null 2>&1 || true
}

# The last resort for 8.4: a release whose files the mirror keeps (trixie's listed point
# releases may be gone from it). Its upstream tarball is checked against the SHA-256 that
# its signed .dsc (php8.4_8.4.11-1.dsc) lists.
KNOWN_GOOD_84=8.4.11-1
KNOWN_GOOD_84_ORIG=php8.4_8.4.11.orig.tar.xz
KNOWN_GOOD_84_SHA256=04cd331380a8683a5c2503938eb51764d48d507c53ad4208d2c82e0eed779a00
fetch_known_good_84() {
  local dir=$1 url="$TRIXIE_MIRROR/pool/main/p/php8.4/$KNOWN_GOOD_84_ORIG"
  log "trying the known-good php8.4=$KNOWN_GOOD_84 ($url)"
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL -o "$dir/$KNOWN_GOOD_84_ORIG" "$url" || return 1
  else
    wget -q -O "$dir/$KNOWN_GOOD_84_ORIG" "$url" || return 1
  fi
  echo "$KNOWN_GOOD_84_SHA256  $dir/$KNOWN_GOOD_84_ORIG" | sha256sum -c --quiet - >&2 \
    || { log "$KNOWN_GOOD_84_ORIG: checksum mismatch"; return 1; }
  echo "Debian source package php8.4 $KNOWN_GOOD_84 (the known-good one, from the pool)" >"$dir/.source"
  echo "$dir/$KNOWN_GOOD_84_ORIG"
}

fetch_debian_source() {
  local dir=$1
  case "$SERIES" in
    8.2)
      ensure_deb_src || return 1
      fetch_listed_source "$dir"
      ;;
    8.4)
      ensure_trixie_src || log "no trixie deb-src entry (no trixie key in /usr/share/keyrings)"
      fetch_listed_source "$dir" || fetch_known_good_84 "$dir"
      ;;
    *) return 1 ;;
  esac
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

# PHP_VERSION names a series (8.4, 8.2). An X.Y.Z value (as some images set it) counts
# as its series.
REQUESTED=${PHP_VERSION:-}
case "$REQUESTED" in
  "") ;;
  8.[0-9]|8.[0-9].*) REQUESTED=$(echo "$REQUESTED" | cut -d. -f1-2) ;;
  *) die "PHP_VERSION=$REQUESTED: expected a series such as 8.4 or 8.2" ;;
esac
SERIES=${REQUESTED:-8.4}

install_deps

WORK=$(mktemp -d "${TMPDIR:-/tmp}/uring-php-build.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

if [ -n "${PHP_TARBALL:-}" ]; then
  [ -r "$PHP_TARBALL" ] || die "PHP_TARBALL=$PHP_TARBALL is not a readable file"
  TARBALL=$PHP_TARBALL
else
  case "$SERIES" in
    8.2|8.4) ;;
    *) die "PHP_VERSION=$SERIES: Debian's source packages give 8.4 and 8.2; for $SERIES set PHP_TARBALL=/path/to/php-$SERIES.x.tar.xz" ;;
  esac
  TARBALL=$(fetch_debian_source "$WORK") || {
    case "$SERIES" in
      8.4) die "no PHP 8.4 source: apt-get source php8.4 (trixie) failed for every listed version and php8.4=$KNOWN_GOOD_84 could not be fetched from $TRIXIE_MIRROR; set PHP_TARBALL=/path/to/php-8.4.x.tar.xz, or PHP_VERSION=8.2" ;;
      *) die "no PHP source: set PHP_TARBALL=/path/to/php-8.2.x.tar.xz (apt-get source php8.2 failed)" ;;
    esac
  }
fi

# The version is read from the tarball's own main/php_version.h, not its file name.
VERSION=$(tar -xOf "$TARBALL" --wildcards '*/main/php_version.h' 2>/dev/null \
  | awk -F'"' '/#define PHP_VERSION / {print $2}')
[ -n "$VERSION" ] || die "could not read PHP_VERSION from $TARBALL"
TARBALL_SERIES=$(echo "$VERSION" | cut -d. -f1-2)
case "$TARBALL_SERIES" in 8.2|8.3|8.4|8.5) ;; *) die "need PHP 8.2 to 8.5, $TARBALL holds $VERSION";; esac
if [ -n "$REQUESTED" ] && [ "$REQUESTED" != "$TARBALL_SERIES" ]; then
  die "PHP_VERSION=$REQUESTED, but $TARBALL holds PHP $VERSION"
fi
SERIES=$TARBALL_SERIES

# Small patches uring_php carries (scripts/php-patches/<series>/*.patch, each explained
# in its header); they are part of the cache key like the flags. A series without its own
# directory (8.3, 8.5 from PHP_TARBALL) borrows the nearest older one's patches that
# apply; the server works without them, a little slower (docs/php.md).
SCRIPTS_DIR="$(cd "$(dirname "$0")" && pwd)"
PATCH_ROOT="$SCRIPTS_DIR/php-patches"
PATCH_SERIES=$(cd "$PATCH_ROOT" && ls -d 8.* 2>/dev/null | sort -V \
  | awk -v s="$SERIES" 'BEGIN {split(s, w, ".")} {split($0, v, "."); if (v[1] < w[1] || (v[1] == w[1] && v[2] <= w[2])) best = $0} END {print best}')
PATCHES=()
if [ -n "$PATCH_SERIES" ]; then
  for p in "$PATCH_ROOT/$PATCH_SERIES"/*.patch; do [ -e "$p" ] && PATCHES+=("$p"); done
fi
if [ "$PATCH_SERIES" != "$SERIES" ] && [ ${#PATCHES[@]} -gt 0 ]; then
  # Borrowed patches: keep those that apply to this tarball, and say which do not.
  probe="$WORK/probe"
  mkdir -p "$probe"
  tar -xf "$TARBALL" -C "$probe"
  probe_src=$(find "$probe" -mindepth 1 -maxdepth 1 -type d -name 'php*' | head -n1)
  kept=()
  for p in "${PATCHES[@]}"; do
    if (cd "$probe_src" && patch -p1 --dry-run --forward --quiet < "$p" >/dev/null 2>&1); then
      kept+=("$p")
    else
      log "warning: $(basename "$p") (from php-patches/$PATCH_SERIES) does not apply to PHP $VERSION: building without it"
    fi
  done
  PATCHES=("${kept[@]}")
  rm -rf "$probe"
  log "PHP $SERIES has no php-patches/$SERIES: using ${#PATCHES[@]} patch(es) from php-patches/$PATCH_SERIES"
fi
# What this build is, for people and for the server (build.rs bakes it into the binary:
# uring_server_info()['php_build'], `uring_php --version`, bench/RESULTS.md). Written for
# cached builds that predate it too: everything in it is known from the inputs.
write_build_info() {
  [ -f "$PREFIX/build-info" ] && return 0
  local patches="" p
  for p in "${PATCHES[@]+"${PATCHES[@]}"}"; do patches+="${patches:+ }$(basename "$p" .patch)"; done
  {
    echo "php_version=$VERSION"
    echo "flavour=ZTS, embed SAPI"
    echo "source=$SOURCE"
    echo "patches=${patches:-none}"
    echo "optimisation=${FLAVOUR:-default} (CFLAGS ${BASE_CFLAGS})"
    echo "cc=$(cc --version 2>/dev/null | head -n1)"
  } >"$PREFIX/build-info"
}
if [ -n "${PHP_TARBALL:-}" ]; then
  SOURCE="PHP_TARBALL $(basename "$PHP_TARBALL")"
else
  SOURCE=$(cat "$WORK/.source" 2>/dev/null || echo "Debian source package php$SERIES")
fi

# The optimisation flavour: empty for the default build (so its key does not change).
# (No LTO flavour: GCC's LTO refuses the Zend VM's global register variables —
# "global register variable follows a function definition" — unless PHP is configured
# --disable-gcc-global-regs, which gives up what the VM gains from them; not measured.)
FLAVOUR=""
[ "${PHP_PGO:-0}" = 1 ] && FLAVOUR="pgo"
BASE_CFLAGS="-g -O2"
if [ -n "$FLAVOUR" ]; then
  KEY=$( { printf '%s\n' "$VERSION" "${CONFIGURE_FLAGS[@]}" "flavour=$FLAVOUR" "cflags=$BASE_CFLAGS"
    cat "${PATCHES[@]+"${PATCHES[@]}"}" /dev/null; } | sha256sum | cut -c1-12)
  PREFIX="$CACHE_ROOT/php-$VERSION-zts-$FLAVOUR-$KEY"
else
  KEY=$( { printf '%s\n' "$VERSION" "${CONFIGURE_FLAGS[@]}"; cat "${PATCHES[@]+"${PATCHES[@]}"}" /dev/null; } | sha256sum | cut -c1-12)
  PREFIX="$CACHE_ROOT/php-$VERSION-zts-$KEY"
fi
if [ -f "$PREFIX/.complete" ]; then
  log "cached: $PREFIX"
  write_build_info
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
  write_build_info
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
  for p in "${PATCHES[@]+"${PATCHES[@]}"}"; do
    patch -p1 --forward --quiet < "$p" >&2 || { echo "patch $p does not apply to PHP $VERSION" >&2; exit 1; }
  done
  [ -x configure ] || ./buildconf --force >&2
  # $1: extra CFLAGS (the default build passes none and keeps PHP's own).
  build() {
    local env=()
    if [ -n "$FLAVOUR" ]; then
      env=(CFLAGS="$BASE_CFLAGS $1" CXXFLAGS="$BASE_CFLAGS $1" LDFLAGS="$BASE_CFLAGS $1")
    fi
    if [ "${PHP_PGO:-0}" = 1 ]; then
      # IFUNC resolvers run while the dynamic linker relocates libphp, before the
      # profile counters they would touch are usable: the instrumented library crashed
      # at load. Without ifunc PHP picks its SSE4.2/AVX2 string functions through
      # function pointers instead (both passes alike, so the profile matches).
      env+=(ax_cv_have_func_attribute_ifunc=no)
    fi
    [ -f Makefile ] && make distclean >/dev/null 2>&1 || true
    env "${env[@]}" ./configure --prefix="$PREFIX" --with-config-file-path="$PREFIX/etc" \
      "${CONFIGURE_FLAGS[@]}" >"$WORK/configure.log" 2>&1 \
      || { tail -n 30 "$WORK/configure.log" >&2; exit 1; }
    make -j"$JOBS" >"$WORK/make.log" 2>&1 || { tail -n 40 "$WORK/make.log" >&2; exit 1; }
    make install >"$WORK/install.log" 2>&1 || { tail -n 20 "$WORK/install.log" >&2; exit 1; }
  }
  if [ "${PHP_PGO:-0}" = 1 ]; then
    # Profiles live outside the tree (distclean would delete them), named after the
    # objects' paths, which the second build shares. Atomic counters: PHP's threads
    # run at once.
    profiles="$WORK/pgo-profiles"
    mkdir -p "$profiles"
    log "PGO: building with profile generation"
    build "-fprofile-generate -fprofile-update=atomic -fprofile-dir=$profiles"
    log "PGO: training (scripts/pgo-train.sh)"
    "$SCRIPTS_DIR/pgo-train.sh" "$PREFIX" >&2 || { echo "PGO training failed" >&2; exit 1; }
    # The profile must come from libphp's own objects (the PIC ones in .libs/) run by the
    # server, not only from the PHP the build itself ran.
    [ -n "$(find "$profiles" -name '*#Zend#.libs#zend_execute.gcda' -print -quit)" ] \
      || { echo "PGO training wrote no profile for libphp (did the server start?)" >&2; exit 1; }
    # configure's own test programs ran instrumented too; their profiles would not match
    # the second configure's.
    find "$profiles" -name '*conftest*' -delete
    log "PGO: rebuilding with the profile ($(find "$profiles" -name '*.gcda' | wc -l) files)"
    build "-fprofile-use -fprofile-partial-training -fprofile-correction -Wno-missing-profile -fprofile-dir=$profiles"
  else
    build ""
  fi
) || die "PHP build failed (log above)"

"$PREFIX/bin/php" -r 'exit(PHP_ZTS ? 0 : 1);' || die "built PHP is not ZTS"
[ -f "$PREFIX/lib/libphp.so" ] || die "built PHP has no lib/libphp.so (embed SAPI)"
mkdir -p "$PREFIX/etc"
write_build_info
touch "$PREFIX/.complete"
log "done: $PREFIX"
add_redis "$PREFIX"
echo "$PREFIX"
