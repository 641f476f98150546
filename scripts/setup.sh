#!/usr/bin/env bash
# Sets up a fresh machine for warren: the README's two commands start here
# (`bash scripts/setup.sh && npm run demo`, `bash scripts/setup.sh && npm test`)
# and so does CI (.ci/run). Installs what a clean Debian machine lacks:
#   - Node >= 22.12 (package.json "engines"), via `npm install -g node@24`
#     when the system node is older;
#   - rabbitmq-server, unless RABBITMQ_URL points at a broker: the demo and
#     the tests start a throwaway node on free ports (see docs/testing.md);
#   - postgresql, unless DATABASE_URL points at a server: same, for the
#     PostgreSQL idempotency store tests;
#   - promtool (Debian's prometheus package, no service started), for the
#     alert rules' unit tests in .ci/run;
#   - chromium (Debian's package), for the browser test of `warren console`;
# then `npm ci` and `npm run build`. Every step is skipped when its tool is already there.
set -euo pipefail

cd "$(dirname "$0")/.."

export DEBIAN_FRONTEND=noninteractive
export NPM_CONFIG_FUND=false NPM_CONFIG_AUDIT=false NPM_CONFIG_UPDATE_NOTIFIER=false

MIN_NODE="22.12.0"
SETUP_STARTED=$SECONDS
STEP_STARTED=$SECONDS
STEP_NAME=""

step() {
  finish_step
  STEP_NAME="$1"
  STEP_STARTED=$SECONDS
  printf '\n==== %s ====\n' "$STEP_NAME"
}

finish_step() {
  if [[ -n "$STEP_NAME" ]]; then
    printf -- '---- %s: %ss\n' "$STEP_NAME" "$((SECONDS - STEP_STARTED))"
  fi
  STEP_NAME=""
}

on_exit() {
  local status=$?
  if [[ $status -ne 0 && -n "$STEP_NAME" ]]; then
    printf '\n**** setup FAILED in step "%s" after %ss (exit %s)\n' \
      "$STEP_NAME" "$((SECONDS - STEP_STARTED))" "$status"
  fi
}
trap on_exit EXIT

die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# Runs a command as root: directly when we are root, else through sudo.
as_root() {
  if [[ $(id -u) -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo -n "$@"
  else
    die "need root (or passwordless sudo) to run: $*"
  fi
}

APT_UPDATED=0
apt_install() {
  command -v apt-get >/dev/null 2>&1 ||
    die "apt-get not found: install $* with your package manager (see docs/testing.md)"
  if [[ $APT_UPDATED -eq 0 ]]; then
    as_root apt-get update -q
    APT_UPDATED=1
  fi
  # Keep packages from starting their services (policy-rc.d exit 101 =
  # "action forbidden"): the tests start their own throwaway servers on free
  # ports, and a system RabbitMQ or PostgreSQL would only hold 5672/5432.
  local policy=/usr/sbin/policy-rc.d created_policy=0
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$policy" >/dev/null
    as_root chmod 755 "$policy"
    created_policy=1
  fi
  local status=0
  as_root apt-get install -y -q --no-install-recommends "$@" </dev/null || status=$?
  if [[ $created_policy -eq 1 ]]; then as_root rm -f "$policy"; fi
  [[ $status -eq 0 ]] || die "apt-get install $* failed (exit $status)"
}

node_is_recent() {
  command -v node >/dev/null 2>&1 &&
    node -e '
      const want = process.argv[1].split(".").map(Number);
      const have = process.versions.node.split(".").map(Number);
      for (let i = 0; i < 3; i++) {
        if (have[i] !== want[i]) process.exit(have[i] > want[i] ? 0 : 1);
      }
    ' "$MIN_NODE"
}

have_rabbitmq() {
  [[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ]] || command -v rabbitmq-server >/dev/null 2>&1
}

have_postgres() {
  compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null ||
    { command -v initdb >/dev/null 2>&1 && command -v postgres >/dev/null 2>&1; }
}

# ---------------------------------------------------------------------------

step "Node.js >= $MIN_NODE"
if node_is_recent; then
  echo "node $(node --version) at $(command -v node): ok"
else
  if command -v node >/dev/null 2>&1; then
    echo "node $(node --version) at $(command -v node) is older than $MIN_NODE"
  else
    echo "node not found"
  fi
  if ! command -v npm >/dev/null 2>&1; then
    apt_install nodejs npm
  fi
  # The `node` package on npm carries a Node binary and links it over the
  # global `node`; the one from apt is too old on Debian 12.
  as_root npm install -g node@24 --force
  hash -r
  node_is_recent || die "node is still $(node --version 2>/dev/null || echo missing) after installing node@24; install Node >= $MIN_NODE (https://nodejs.org)"
  echo "node $(node --version) at $(command -v node): installed"
fi
echo "npm $(npm --version)"

step "RabbitMQ"
if [[ -n "${RABBITMQ_URL:-}" ]]; then
  echo "RABBITMQ_URL is set: tests use that broker, no local install needed"
elif have_rabbitmq; then
  echo "rabbitmq-server present: tests start a throwaway node"
else
  apt_install rabbitmq-server
  have_rabbitmq || die "rabbitmq-server is still missing after apt-get install"
  echo "rabbitmq-server installed"
fi

step "PostgreSQL"
if [[ -n "${DATABASE_URL:-}" ]]; then
  echo "DATABASE_URL is set: tests use that server, no local install needed"
elif have_postgres; then
  echo "postgresql present: tests start a throwaway server"
else
  apt_install postgresql
  have_postgres || die "postgresql is still missing after apt-get install"
  echo "postgresql installed"
fi

# ---- promtool (ops/prometheus alert rules) --------------------------------
# `.ci/run` checks ops/prometheus/alerts.yml and runs its unit tests with
# promtool, which Debian ships in the `prometheus` package. apt_install's
# policy-rc.d keeps the package from starting a Prometheus server.
step "promtool"
if command -v promtool >/dev/null 2>&1; then
  echo "promtool present: $(promtool --version 2>&1 | head -n 1)"
else
  apt_install prometheus
  command -v promtool >/dev/null 2>&1 || die "promtool is still missing after apt-get install prometheus"
  echo "promtool installed: $(promtool --version 2>&1 | head -n 1)"
fi

# ---------------------------------------------------------------------------
# Chromium for the console's browser test (test/integration/console/): Debian's
# package, driven by playwright-core at /usr/bin/chromium; nothing is
# downloaded by npm. Skipped when it is already there.
step "Chromium"
if [[ -x /usr/bin/chromium ]]; then
  echo "chromium present: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
else
  apt_install chromium
  [[ -x /usr/bin/chromium ]] || die "chromium is still missing after apt-get install"
  echo "chromium installed"
fi
# ---------------------------------------------------------------------------

# openssl makes the throwaway certificates of the TLS tests
# (test/support/tls-proxy.ts). Skipped when it is already there.
step "openssl"
if command -v openssl >/dev/null 2>&1; then
  echo "openssl present: $(openssl version)"
else
  apt_install openssl
  command -v openssl >/dev/null 2>&1 || die "openssl is still missing after apt-get install"
  echo "openssl installed: $(openssl version)"
fi


step "npm ci"
npm ci --no-audit --no-fund </dev/null

step "npm run build"
# dist/ is what the `warren` bin (npx warren ...) and the package exports run.
npm run build </dev/null

finish_step
printf '\n==== setup done in %ss ====\n' "$((SECONDS - SETUP_STARTED))"
