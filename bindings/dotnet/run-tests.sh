#!/usr/bin/env bash
# Builds the .NET binding and its tests with Mono's mcs and runs them on mono against the real
# libmikrobill.so and mikrobill-sim. Exits non-zero on any failure; never skips.
# Needs: mono-mcs, mono-runtime (apt), and `cargo build --release` done at the repository root.
# Env: MIKROBILL_LIB (default <repo>/target/release/libmikrobill.so; bin/MikroBILL.dll.config maps
#      the binding's DllImport name "mikrobill" to it),
#      MIKROBILL_SIM (default <repo>/target/release/mikrobill-sim).
# Optional argument: a substring of "Class.Method" to run only matching tests.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

for tool in mcs mono timeout; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-tests.sh: '$tool' not found; install mono-mcs and mono-runtime" >&2
        exit 2
    fi
done

export MIKROBILL_LIB="${MIKROBILL_LIB:-$repo/target/release/libmikrobill.so}"
export MIKROBILL_SIM="${MIKROBILL_SIM:-$repo/target/release/mikrobill-sim}"
for artifact in "$MIKROBILL_LIB" "$MIKROBILL_SIM"; do
    if [ ! -f "$artifact" ]; then
        echo "run-tests.sh: $artifact not found; run 'cargo build --release' in $repo" >&2
        exit 2
    fi
done

out="$here/bin"
mkdir -p "$out"
# The library: the same sources the csproj compiles.
mcs -nologo -warnaserror -langversion:6 -optimize+ -target:library -r:System.Numerics \
    -out:"$out/MikroBILL.dll" "$here"/src/*.cs
# Mono finds [DllImport("mikrobill")] through the assembly's dllmap: here, the library under test.
cat >"$out/MikroBILL.dll.config" <<XML
<configuration><dllmap dll="mikrobill" target="$(readlink -f "$MIKROBILL_LIB")" os="linux"/></configuration>
XML
# The test helper for extensions' own tests (testing/SimulatorDouble.cs), an assembly of its own,
# which the binding's tests use too.
mcs -nologo -warnaserror -langversion:6 -optimize+ -target:library -r:"$out/MikroBILL.dll" \
    -out:"$out/MikroBILL.Testing.dll" "$here"/testing/*.cs
mcs -nologo -warnaserror -langversion:6 -target:exe -r:System.Numerics -r:System.Core -r:System.Xml \
    -r:"$out/MikroBILL.dll" -r:"$out/MikroBILL.Testing.dll" -out:"$out/MikroBILL.Tests.exe" "$here"/tests/*.cs

# Each simulator the tests start records its pid in sim-PID.pid under this run directory while it
# runs (testing/SimulatorDouble.cs). When mono ends without disposing them (a crash, kill -9, the timeout below)
# they would outlive the run, so on any exit of this script cleanup stops exactly the simulators
# listed there, and only while the pid still runs the simulator binary: nothing found by name.
run_dir="$(mktemp -d "${TMPDIR:-/tmp}/mikrobill-dotnet-run.XXXXXX")"
export MIKROBILL_DOTNET_RUN_DIR="$run_dir"
sim_exe="$(readlink -f "$MIKROBILL_SIM")"
runner_pid=""

# shellcheck source=../../scripts/lib/processes.sh
. "$repo/scripts/lib/processes.sh"

# timeout leads its own process group. Should timeout die first (killed from outside), mono lives
# on in that group and keeps starting simulators, so the group goes too.
end_runner_group() {
    kill -KILL -- "-$runner_pid" 2>/dev/null || true
}

cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$runner_pid" ]; then
        # timeout passes SIGTERM on to mono and sends SIGKILL 10 s later if mono is still there,
        # then exits itself; SIGKILL it only if that has not happened after 15 s.
        stop_process "$runner_pid" 150
        wait "$runner_pid" 2>/dev/null || true
        end_runner_group
    fi
    stop_recorded "$run_dir" "$sim_exe"
    rm -rf "$run_dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

cd "$out"
# The whole run normally takes seconds; 600 s means a deadlock, which must fail CI instead of
# holding it until the job's own limit. In the background so that a signal to this script is
# handled at once (bash runs traps only between commands, and would otherwise wait for mono).
timeout -k 10 600 mono --debug "$out/MikroBILL.Tests.exe" "$@" &
runner_pid=$!
set +e
wait "$runner_pid"
status=$?
set -e
# Killed by a signal: mono may have outlived timeout. Otherwise timeout has reaped mono already.
[ "$status" -gt 128 ] && end_runner_group
runner_pid=""
if [ "$status" -eq 124 ]; then
    echo "run-tests.sh: the tests did not finish within 600 s (deadlock?); mono was stopped" >&2
fi
exit "$status"
