#!/usr/bin/env bash
# The dashboard's browser test: installs playwright-core (pinned in package-lock.json) into
# tests/browser/node_modules and drives Debian's /usr/bin/chromium headless against a real
# simulator, with a PHP extension call (apicore.php). Needs: nodejs, npm, chromium, php8.2-cli
# (scripts/setup.sh installs them) and `cargo build --release`. Never skips a missing tool.
#   SCREENSHOT_DIR  where dashboard.png goes (default tests/browser/out)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export MIKROBILL_SIM=${MIKROBILL_SIM:-$repo/target/release/mikrobill-sim}
export MIKROBILL_LIB=${MIKROBILL_LIB:-$repo/target/release/libmikrobill.so}
fail() { echo "tests/browser/run.sh: $*" >&2; exit 1; }
for tool in node npm php; do
    command -v "$tool" >/dev/null || fail "$tool not found (scripts/setup.sh installs it)"
done
[ -x /usr/bin/chromium ] || fail "/usr/bin/chromium not found (apt-get install chromium)"
[ -x "$MIKROBILL_SIM" ] || fail "$MIKROBILL_SIM not found (cargo build --release)"
[ -f "$MIKROBILL_LIB" ] || fail "$MIKROBILL_LIB not found (cargo build --release)"
cd "$here"
# npm ci only when the installed tree is not the locked one: later runs work offline.
if ! cmp -s package-lock.json node_modules/.installed-from-lock 2>/dev/null; then
    npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed"
    cp package-lock.json node_modules/.installed-from-lock
fi
timeout -k 5 120 node dashboard.test.mjs
