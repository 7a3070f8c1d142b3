#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine and runs every test of the project: formatting and lints,
# the header's freshness, the Rust unit and integration tests, the C program under
# AddressSanitizer and valgrind, the PHP, .NET and Python bindings against the simulator, and the
# simulator's dashboard in headless Chromium.
# Every suite runs even when an earlier one failed; the exit status is non-zero if any failed.
# The reliability tests run inside these suites: "Rust tests" holds the fault-proxy tests through
# the C ABI (sim/tests/faults.rs), the malicious-server table with its memory bounds
# (tests/malicious_server.rs), the simulator's limits (sim/tests/limits.rs), the 10 s load test
# (sim/tests/load.rs), the property tests (tests/properties.rs) and mb's memory bound
# (cli/tests/memory.rs); the PHP and Python suites drive the same faults through fault-proxy,
# which "release build" builds (--examples).
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh || { echo "test-all: setup failed" >&2; exit 1; }

export MIKROBILL_TARGET="$root/target/release"
export MIKROBILL_LIB="$MIKROBILL_TARGET/libmikrobill.so"
export MIKROBILL_SIM="$MIKROBILL_TARGET/mikrobill-sim"

results=()
failures=0
# Each suite's output goes to a file of its own and is shown when the suite ends, and a failed
# suite's last lines are shown again after the summary: CI keeps only the end of a long log, and
# that is where a failure's reason must be. A file, not a pipe through tee: a server a suite
# leaves behind would hold the pipe open and stall the run.
suite_logs=$(mktemp -d)
trap 'rm -rf "$suite_logs"' EXIT
failure_tails=()
suite() {
    local name=$1
    shift
    local log="$suite_logs/$(( ${#results[@]} + 1 )).log"
    echo
    echo "=== $name"
    local started=$SECONDS status=0
    "$@" >"$log" 2>&1 || status=$?
    cat "$log"
    if [ "$status" -eq 0 ]; then
        results+=("ok      $name ($((SECONDS - started)) s)")
    else
        results+=("FAILED  $name ($((SECONDS - started)) s)")
        failures=$((failures + 1))
        failure_tails+=("=== $name (exit $status), its last 40 lines:" "$(tail -n 40 "$log")")
    fi
}


suite "rustfmt" cargo fmt --all --check
suite "clippy" cargo clippy --workspace --all-targets -- -D warnings
suite "release build" cargo build --workspace --exclude xtask --release --lib --bins --examples
suite "generated files are current (header, bindings' tables, apicore.php)" cargo xtask codegen --check
suite "book (mdBook build, every link checked)" bash scripts/docs.sh
suite "release workflow lint (actionlint, zizmor)" bash scripts/lint-workflows.sh
# Clippy again for the Windows target: code under cfg(windows) (the services, the DACLs of the
# simulator's files) is compiled for no other.
windows_build() {
    cargo clippy --target x86_64-pc-windows-gnu --workspace --exclude xtask --lib --bins -- -D warnings &&
        cargo build --release --target x86_64-pc-windows-gnu --workspace --exclude xtask --lib --bins
}
suite "Windows build (clippy -D warnings, release build)" windows_build
suite "Windows under wine (C test, mb.exe, mikrobill-sim.exe)" bash tests/windows/run.sh
suite "Rust tests" cargo test --workspace --release --no-fail-fast
suite "C program (ASan, valgrind)" bash tests/c/run.sh
suite "PHP binding" bash bindings/php/run-tests.sh
suite "kassa deployment (nginx + php-fpm, Apache + mod_php)" bash tests/deploy/run.sh
suite ".NET binding" bash bindings/dotnet/run-tests.sh
suite "Python binding" bash bindings/python/run-tests.sh
suite "dashboard in Chromium" bash tests/browser/run.sh
dist_version=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')
suite "release artifacts (scripts/dist.sh)" bash scripts/dist.sh
suite "release artifacts' contents and glibc floor" python3 scripts/dist/check_artifacts.py dist "$dist_version"
# After dist.sh, which builds the glibc 2.17 library that PHP 7.4's bullseye root can load.
suite "PHP binding in Debian roots (bullseye PHP 7.4, trixie PHP 8.4)" bash bindings/php/run-debian-roots.sh
suite "Python binding in Debian roots (bullseye 3.9)" bash bindings/python/run-tests-debian.sh bullseye
suite "Python binding in Debian roots (trixie 3.13)" bash bindings/python/run-tests-debian.sh trixie
suite "install tests (deb, tarball, wheel, Composer, NuGet, Windows zip, nginx deployment)" bash scripts/test-install.sh
suite "install steps of the docs, run as written in fresh Debian 12 roots" bash tests/install-docs/run.sh

echo
if [ "$failures" -gt 0 ]; then
    echo "=== failed suites"
    printf '%s\n' "${failure_tails[@]}"
    echo
fi
echo "=== summary"
printf '%s\n' "${results[@]}"
echo "suites: $(( ${#results[@]} - failures )) passed, $failures failed"
[ "$failures" -eq 0 ]
