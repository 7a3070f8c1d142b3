#!/usr/bin/env bash
# Runs the Python binding's tests against the built library and simulator.
#   MIKROBILL_LIB  path of libmikrobill.so   (default <repo>/target/release/libmikrobill.so)
#   MIKROBILL_SIM  path of mikrobill-sim     (default <repo>/target/release/mikrobill-sim)
#   MIKROBILL_PY_VENV  virtualenv to create/reuse (default bindings/python/.venv)
# Exits non-zero on any failure, including "no tests collected"; never skips a missing tool.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
export MIKROBILL_LIB="${MIKROBILL_LIB:-$REPO/target/release/libmikrobill.so}"
export MIKROBILL_SIM="${MIKROBILL_SIM:-$REPO/target/release/mikrobill-sim}"
VENV="${MIKROBILL_PY_VENV:-$HERE/.venv}"

die() { echo "run-tests.sh (python): $*" >&2; exit 1; }

command -v python3 >/dev/null || die "python3 is not installed"
command -v php >/dev/null || die "php (php8.2-cli) is not installed; it is the json_encode oracle"
[ -f "$MIKROBILL_LIB" ] || die "library not found at $MIKROBILL_LIB (run cargo build --release)"
[ -x "$MIKROBILL_SIM" ] || die "simulator not found at $MIKROBILL_SIM (run cargo build --release)"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV" || die "cannot create a virtualenv at $VENV (python3-venv missing?)"
fi
PY="$VENV/bin/python"
# Pinned, so once the venv holds them pip is satisfied without asking the index: later runs work
# offline.
"$PY" -m pip install --quiet --disable-pip-version-check -r "$HERE/requirements-test.txt" \
    || die "cannot install the test requirements (pytest, setuptools, mypy)"
# Installs the package as pip does for users (which also checks pyproject.toml and setup.py), but
# with the venv's pinned setuptools instead of fetching a build backend into an isolated env.
"$PY" -m pip install --quiet --disable-pip-version-check --no-build-isolation --no-deps -e "$HERE" \
    || die "cannot install the mikrobill package"
"$PY" -m pytest --version >/dev/null || die "pytest is not usable in $VENV"
# The package's type hints (it ships py.typed) are checked as strictly as mypy can.
"$PY" -m mypy --strict --cache-dir "$VENV/.mypy_cache" "$HERE/src/mikrobill" || die "mypy --strict failed on src/mikrobill"

# The simulators run in sessions of their own (see tests/conftest.py), so nothing kills them with
# pytest's process group. Each one's pid is kept under RUN_DIR while it runs; on any exit of this
# script (pytest failing, killed, even by SIGKILL, or this script interrupted) cleanup stops
# pytest and exactly the simulators listed there, nothing found by name.
RUN_DIR="$(mktemp -d "${TMPDIR:-/tmp}/mikrobill-py-run.XXXXXX")" || die "cannot create a run directory"
export MIKROBILL_PY_RUN_DIR="$RUN_DIR"
SIM_EXE="$(readlink -f "$MIKROBILL_SIM")"
PYTEST_PID=""

# shellcheck source=../../scripts/lib/processes.sh
. "$REPO/scripts/lib/processes.sh"

cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$PYTEST_PID" ]; then
        stop_process "$PYTEST_PID"
        wait "$PYTEST_PID" 2>/dev/null || true
    fi
    stop_recorded "$RUN_DIR" "$SIM_EXE"
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cd "$HERE"
# In the background so that a signal to this script is handled at once (bash runs traps only
# between commands, and waiting for a foreground pytest would delay cleanup until it ended).
"$PY" -m pytest -p no:cacheprovider "$@" tests &
PYTEST_PID=$!
set +e
wait "$PYTEST_PID"
status=$?
set -e
PYTEST_PID=""
if [ "$status" -eq 5 ]; then
    die "pytest collected no tests"
fi
exit "$status"
