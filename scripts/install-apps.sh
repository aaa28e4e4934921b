#!/usr/bin/env bash
# Installs the real PHP applications that tests/apps.rs and bench/ run, all from Debian's
# archive: WordPress, MediaWiki, DokuWiki, phpMyAdmin, Adminer, MariaDB (server and
# client), the Symfony 5.4 components and Laravel 8 that tests/apps/{symfony,laravel}
# are assembled from, and PHP's MySQL/GD modules for the reference php-fpm.
#
# Idempotent and quiet, like install-test-deps.sh (run that first: the apps must find
# nginx and php8.2-fpm installed, else apt pulls Apache in to satisfy "httpd"): installs
# only what is missing, logs apt's output to $INSTALL_LOG, prints one line per action.
#
# The tests start private MariaDB instances in temp dirs and copy each app into a temp dir;
# nothing under /usr/share, /etc or /var/lib is modified. Debian's own MariaDB service is
# stopped afterwards (as nginx and php-fpm are): nothing depends on it.
set -euo pipefail

LOG=${INSTALL_LOG:-${TMPDIR:-/tmp}/uring_php-install-apps.$(id -u).log}
export DEBIAN_FRONTEND=noninteractive

PACKAGES=(
  # `php` first so that apt satisfies "libapache2-mod-php | php" with it (php8.2-fpm is
  # installed) instead of pulling Apache.
  php
  php8.2-mysql
  php8.2-gd
  mariadb-server
  mariadb-client
  wordpress
  wordpress-theme-twentytwentythree
  mediawiki
  dokuwiki
  phpmyadmin
  adminer
  php-laravel-framework
  php-symfony-framework-bundle
  php-symfony-twig-bundle
  php-symfony-security-csrf
  php-symfony-runtime
)

say() { printf 'install-apps: %s\n' "$*"; }
die() {
  printf 'install-apps: error: %s (log: %s)\n' "$*" "$LOG" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -E "$@"
  else
    printf 'install-apps: cannot run "%s" as root: not root and no sudo\n' "$*" >&2
    return 1
  fi
}

{ : >>"$LOG"; } 2>/dev/null || LOG=/dev/null

installed() {
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

for bin in /usr/sbin/nginx /usr/sbin/php-fpm8.2; do
  [ -x "$bin" ] || die "$bin missing: run scripts/install-test-deps.sh first"
done

missing=()
for p in "${PACKAGES[@]}"; do
  installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  say "all ${#PACKAGES[@]} packages already installed"
else
  say "missing: ${missing[*]}"
  # phpMyAdmin's postinst would otherwise try to create its own database through
  # dbconfig-common on a server the tests never use.
  printf '%s\n' \
    'phpmyadmin phpmyadmin/dbconfig-install boolean false' \
    'phpmyadmin phpmyadmin/reconfigure-webserver multiselect' \
    | as_root debconf-set-selections >>"$LOG" 2>&1 || die "debconf-set-selections failed"
  say "apt-get update"
  as_root apt-get -o DPkg::Lock::Timeout=900 update >>"$LOG" 2>&1 || die "apt-get update failed"
  say "apt-get install ${#missing[@]} package(s)"
  as_root apt-get -o DPkg::Lock::Timeout=900 install -y -q --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${missing[@]}" >>"$LOG" 2>&1 || die "apt-get install failed"
  for p in "${missing[@]}"; do
    installed "$p" || die "$p is still not installed"
  done
  say "installed: ${missing[*]}"
fi

# Debian's MariaDB service (started by postinst where the machine allows it) is not used:
# the tests start their own instances. Stop it so no test depends on it by accident.
pidfile=/run/mysqld/mysqld.pid
pid=""
[ -s "$pidfile" ] && pid=$(cat "$pidfile" 2>/dev/null || true)
if [ -n "$pid" ] && [ -d "/proc/$pid" ]; then
  if command -v service >/dev/null 2>&1; then
    as_root service mariadb stop >>"$LOG" 2>&1 || true
  fi
  if [ -d "/proc/$pid" ]; then
    as_root kill -TERM "$pid" >>"$LOG" 2>&1 || true
    for _ in $(seq 1 50); do
      [ -d "/proc/$pid" ] || break
      sleep 0.2
    done
  fi
  if [ -d "/proc/$pid" ]; then
    say "warning: could not stop system mariadb (pid $pid)"
  else
    say "stopped system mariadb (pid $pid)"
  fi
fi

for f in /usr/sbin/mariadbd /usr/bin/mariadb-install-db /usr/share/wordpress/wp-load.php \
  /usr/share/mediawiki/index.php /usr/share/dokuwiki/doku.php /usr/share/phpmyadmin/index.php \
  /usr/share/adminer /usr/share/php/Illuminate/Foundation/Application.php \
  /usr/share/php/Symfony/Bundle/FrameworkBundle/FrameworkBundle.php; do
  [ -e "$f" ] || die "$f missing after install"
done
say "ok: $(/usr/sbin/mariadbd --version | sed -E 's/.*Ver ([^ ]+).*/mariadb \1/'), wordpress $(dpkg-query -W -f='${Version}' wordpress), mediawiki $(dpkg-query -W -f='${Version}' mediawiki)"
