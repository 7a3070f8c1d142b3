#!/usr/bin/env bash
# The Windows build, tested for real under wine64: tests/c/mikrobill_test.c cross-compiled with
# mingw against mikrobill.dll (its import library), and mb.exe, both talking over loopback to the
# simulator and the hostile peer running natively on Linux. Also starts mikrobill-sim.exe under
# wine and talks to it with the native mb. Needs:
#   cargo build --release --bins --examples                       (native simulator, hostile peer)
#   cargo build --release --target x86_64-pc-windows-gnu --workspace --lib --bins
# or, for the unpacked Windows zip (scripts/test-install.sh), WINDOWS_BIN (mikrobill.dll, mb.exe,
# mikrobill-sim.exe), WINDOWS_IMPLIB (libmikrobill.dll.a) and WINDOWS_INCLUDE (mikrobill.h).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${MIKROBILL_TARGET:-$root/target/release}
win=${WINDOWS_BIN:-$root/target/x86_64-pc-windows-gnu/release}
implib=${WINDOWS_IMPLIB:-$win}
include=${WINDOWS_INCLUDE:-$root/include}
sim=${MIKROBILL_SIM:-$out/mikrobill-sim}
mb=${MIKROBILL_MB:-$out/mb}
hostile=$out/examples/hostile-server
for tool in x86_64-w64-mingw32-gcc wine python3; do
    command -v "$tool" >/dev/null || { echo "tests/windows: $tool is not installed" >&2; exit 1; }
done
for file in "$sim" "$mb" "$hostile" "$win/mikrobill.dll" "$implib/libmikrobill.dll.a" "$win/mb.exe" \
    "$win/mikrobill-sim.exe" "$include/mikrobill.h"; do
    [ -e "$file" ] || { echo "tests/windows: $file is missing (see the comment at the top)" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    # The prefix's wineserver outlives the programs by a few seconds; end it now.
    WINEPREFIX="$work/prefix" wineserver -k 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
export WINEPREFIX="$work/prefix" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="

# mikrobill-sim.exe under wine can take a while to start on a busy machine.
start_server_seconds=60
. "$root/scripts/lib/servers.sh"

echo "== wine prefix"
timeout 300 wineboot --init >/dev/null 2>&1 || { echo "tests/windows: wineboot failed" >&2; exit 1; }

. "$root/tests/c/simulator-args.sh"
start_server sim "$sim" --listen 127.0.0.1:0 "${c_test_sim_args[@]}"
sim_port=$port
start_server hostile "$hostile"
hostile_port=$port
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

echo "== C test, mikrobill.dll under wine"
mkdir "$work/bin"
cp "$win/mikrobill.dll" "$win/mb.exe" "$win/mikrobill-sim.exe" "$work/bin/"
# Wine 8 has no bcryptprimitives.dll, which every Windows 10+ has and Rust's std imports: the
# prefix gets the test-only stand-in (see the comment in its source).
x86_64-w64-mingw32-gcc -O2 -shared -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    "$root/tests/windows/wine-bcryptprimitives.c" -lbcrypt -Wl,--kill-at
# -static: winpthread and libgcc go into the .exe, so the program needs only mikrobill.dll and
# system DLLs, as on a clean Windows machine. ws2_32: the test listens on a socket of its own to
# see that a refused call connects nowhere.
x86_64-w64-mingw32-gcc -std=c11 -Wall -Wextra -Werror -Wpedantic -I "$include" \
    "$root/tests/c/mikrobill_test.c" -o "$work/bin/mikrobill_test.exe" "$implib/libmikrobill.dll.a" \
    -static -pthread -lws2_32
timeout 300 wine "$work/bin/mikrobill_test.exe" "$sim_port" "$hostile_port" "$dead_port" | tr -d '\r' |
    tee "$work/c.out"
grep -Eq '^[1-9][0-9]* passed, 0 failed$' "$work/c.out"

fail() { echo "tests/windows: $*" >&2; exit 1; }

echo "== mb.exe under wine, against the native simulator"
reply=$(timeout 60 wine "$work/bin/mb.exe" process --port "$sim_port" \
    API.Client.633824158637492.BillingInfo.Money | tr -d '\r')
[ "$reply" = '{"return":"100.01","code":0}' ] || fail "mb.exe read: $reply"
reply=$(timeout 60 wine "$work/bin/mb.exe" process --port "$sim_port" \
    API.Client.633824158637492.PersonalDataInfo.MobileTel '"+79990000002"' | tr -d '\r')
[ "$reply" = '{"return":"OK","code":0}' ] || fail "mb.exe set: $reply"
reply=$("$mb" process --port "$sim_port" API.Client.633824158637492.PersonalDataInfo.MobileTel)
case $reply in *'+79990000002'*) ;; *) fail "the set by mb.exe is not visible natively: $reply" ;; esac
set +e
timeout 60 wine "$work/bin/mb.exe" process --json --port "$dead_port" API.GetClients >"$work/dead.out" 2>&1
status=$?
set -e
# 3: no reply (mb process --help); 10061 is WinSock's "connection refused".
[ "$status" -eq 3 ] || fail "mb.exe against a closed port exited $status, wanted 3"
grep -q '"code":10061' "$work/dead.out" || fail "mb.exe against a closed port: $(cat "$work/dead.out")"

echo "== mikrobill-sim.exe under wine, native mb as the client"
start_server winsim wine "$work/bin/mikrobill-sim.exe" --listen 127.0.0.1:0
winsim_port=$port
reply=$("$mb" process --port "$winsim_port" API.Client.633824158637492.BillingInfo.Money)
[ "$reply" = '{"return":"100.01","code":0}' ] || fail "native mb against mikrobill-sim.exe: $reply"

echo "== mikrobill-sim.exe --state: the lock (LockFileEx) and the journal on Windows"
state_dir=$work/state
mkdir -p "$state_dir"
start_server statesim wine "$work/bin/mikrobill-sim.exe" --listen 127.0.0.1:0 --state 'Z:'"$state_dir/sim.json"
state_port=$port
reply=$("$mb" process --port "$state_port" API.Client.633824158637492.PersonalDataInfo.MobileTel '"+79990000004"')
[ "$reply" = '{"return":"OK","code":0}' ] || fail "set through mikrobill-sim.exe --state: $reply"
set +e
timeout 60 wine "$work/bin/mikrobill-sim.exe" --listen 127.0.0.1:0 --state 'Z:'"$state_dir/sim.json" \
    >"$work/second.out" 2>&1
status=$?
set -e
[ "$status" -eq 1 ] && grep -q "in use by another simulator" "$work/second.out" ||
    fail "a second mikrobill-sim.exe on the same state exited $status: $(cat "$work/second.out")"
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
start_server statesim2 wine "$work/bin/mikrobill-sim.exe" --listen 127.0.0.1:0 --state 'Z:'"$state_dir/sim.json"
reply=$("$mb" process --port "$port" API.Client.633824158637492.PersonalDataInfo.MobileTel)
case $reply in *'+79990000004'*) ;; *) fail "the change did not survive a restart: $reply" ;; esac
echo "windows: C test, mb.exe and mikrobill-sim.exe passed under wine"
