#!/usr/bin/env bash
# Runs Debian's testssl.sh against uring_php's TLS listener and fails when any finding is
# rated HIGH or CRITICAL.
#
# A throw-away CA and a server certificate signed by it (RSA 2048 by default, KEY_TYPE=ec
# for ECDSA P-256) are made in a temp dir; the CA is handed to testssl with --add-ca, so
# the chain-of-trust check judges the server, not the fact that the test CA is private.
# The certificate looks like a CA-issued one (a year's validity, CRL and OCSP URIs that
# testssl does not fetch): testssl rates a short-lived certificate or one without
# revocation info HIGH, which would be a finding about the fixture, not the server.
# The server runs with EXECUTOR=stub on 127.0.0.1 (ephemeral ports) and is stopped at the
# end. Takes a few minutes.
#
#   scripts/testssl.sh                 # builds target/release/uring_php if needed
#   URING_PHP_BIN=/path/to/uring_php KEY_TYPE=ec TLS_MIN_VERSION=1.3 scripts/testssl.sh
#
# Output: a count per severity, every finding rated LOW or above, and the JSON file's path
# (kept in $TESTSSL_OUT, default a temp dir). Needs testssl (Debian package testssl.sh),
# openssl and jq: scripts/install-test-deps.sh installs them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KEY_TYPE=${KEY_TYPE:-rsa}
TLS_MIN_VERSION=${TLS_MIN_VERSION:-1.2}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/uring_php-testssl.XXXXXX")
OUT=${TESTSSL_OUT:-$WORK}
SERVER_PID=

say() { printf 'testssl: %s\n' "$*"; }
die() {
  printf 'testssl: error: %s\n' "$*" >&2
  exit 2
}
cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ "$OUT" != "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

TESTSSL=$(command -v testssl || command -v testssl.sh || true)
[ -n "$TESTSSL" ] || die "testssl not found (apt-get install testssl.sh, or scripts/install-test-deps.sh)"
command -v openssl >/dev/null || die "openssl not found"
command -v jq >/dev/null || die "jq not found"

BIN=${URING_PHP_BIN:-$ROOT/target/release/uring_php}
if [ ! -x "$BIN" ]; then
  say "building $BIN"
  (cd "$ROOT" && cargo build --release -p uring_php >/dev/null)
fi

# --- certificates: a private CA and a server certificate for localhost / 127.0.0.1 ---
cd "$WORK"
newkey() {
  if [ "$KEY_TYPE" = ec ]; then
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null
  else
    openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1" 2>/dev/null
  fi
}
newkey ca.key
openssl req -x509 -new -key ca.key -sha256 -days 400 -subj "/CN=uring_php testssl CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
  -out ca.crt 2>/dev/null
newkey server.key
openssl req -new -key server.key -subj "/CN=localhost" -out server.csr 2>/dev/null
cat >server.ext <<'EOF'
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1
crlDistributionPoints=URI:http://crl.invalid/uring_php-test-ca.crl
authorityInfoAccess=OCSP;URI:http://ocsp.invalid/
EOF
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 -days 365 \
  -extfile server.ext -out server.crt 2>/dev/null
cat server.crt ca.crt >chain.pem

# --- the server ---
mkdir -p www
echo "testssl" >www/index.html
env -i PATH="$PATH" \
  LISTEN_ADDR=127.0.0.1:0 TLS_LISTEN_ADDR=127.0.0.1:0 \
  TLS_CERT="$WORK/chain.pem" TLS_KEY="$WORK/server.key" TLS_MIN_VERSION="$TLS_MIN_VERSION" \
  DOCUMENT_ROOT="$WORK/www" EXECUTOR=stub LOG_FORMAT=json LOG_LEVEL=info \
  "$BIN" >/dev/null 2>server.log &
SERVER_PID=$!
ADDR=
for _ in $(seq 1 200); do
  ADDR=$(grep -o 'listening on https://[^" ]*' server.log | head -1 | sed 's|listening on https://||' || true)
  [ -n "$ADDR" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || die "uring_php did not start: $(cat server.log)"
  sleep 0.05
done
[ -n "$ADDR" ] || die "no TLS listener in the log: $(cat server.log)"
say "uring_php ($KEY_TYPE key, TLS_MIN_VERSION=$TLS_MIN_VERSION) on https://$ADDR; running testssl (minutes)"

# --- testssl ---
JSON="$OUT/testssl.json"
rm -f "$JSON"
set +e
"$TESTSSL" --quiet --color 0 --warnings batch --add-ca "$WORK/ca.crt" \
  --jsonfile "$JSON" "$ADDR" >"$OUT/testssl.txt" 2>&1
TESTSSL_RC=$?
set -e
[ -s "$JSON" ] || die "testssl wrote no JSON (exit $TESTSSL_RC); its output: $OUT/testssl.txt"

say "findings per severity:"
jq -r 'group_by(.severity) | map("  \(.[0].severity): \(length)") | .[]' "$JSON"
say "findings rated LOW or above:"
jq -r '.[] | select(.severity == "LOW" or .severity == "MEDIUM" or .severity == "HIGH" or .severity == "CRITICAL")
       | "  [\(.severity)] \(.id): \(.finding)"' "$JSON"
BAD=$(jq '[.[] | select(.severity == "HIGH" or .severity == "CRITICAL")] | length' "$JSON")
say "JSON: $JSON; full report: $OUT/testssl.txt"
if [ "$BAD" -gt 0 ]; then
  say "FAIL: $BAD finding(s) rated HIGH or CRITICAL"
  exit 1
fi
say "OK: no finding rated HIGH or CRITICAL"
