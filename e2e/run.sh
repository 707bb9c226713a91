#!/usr/bin/env bash
# End-to-end tests of the web client: the real server, driven by headless Chromium.
# What CI calls; works from a fresh clone. Installs Chromium (Debian packages) when it
# is missing, the one npm dependency (playwright-core, from the lock file) when
# node_modules is missing, builds the server (debug, the same build as `cargo test`),
# then runs the tests with Node's test runner. CI=true is passed through.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

if [ ! -x /usr/bin/chromium ]; then
  echo "e2e: installing chromium"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver fonts-noto-color-emoji >/dev/null
fi
# Emoji in the screenshots need a colour emoji font; the tests pass without it.
if ! fc-list 2>/dev/null | grep -qi "color emoji"; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-noto-color-emoji >/dev/null 2>&1 \
    || echo "e2e: fonts-noto-color-emoji not installed; emoji show as boxes in screenshots"
fi

if ! command -v node >/dev/null; then
  echo "e2e: node (20 or later) is needed" >&2
  exit 1
fi

if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "e2e: npm ci"
  (cd "$here" && npm ci --no-audit --no-fund)
fi

if [ -z "${DUET_BIN:-}" ]; then
  echo "e2e: cargo build --bin duet"
  (cd "$root" && cargo build --bin duet)
  export DUET_BIN="$root/target/debug/duet"
fi

cd "$here"
exec node --test --test-concurrency=1 --test-reporter=spec tests/
