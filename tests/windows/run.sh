#!/usr/bin/env bash
# The Windows build, tested for real under wine64: tests/c/mikrobill_test.c cross-compiled with
# mingw against mikrobill.dll (its import library), and mb.exe, both talking over loopback to the
# simulator and the hostile peer running natively on Linux. Also starts mikrobill-sim.exe under
# wine and talks to it with the native mb, and runs mikrobill-gateway.exe as a Windows service
# (install, start, a call, stop, uninstall) under wine's service control manager. Needs:
#   cargo build --release --bins --examples                       (native simulator, hostile peer)
#   cargo build --release --target x86_64-pc-windows-gnu --workspace --lib --bins
# or, for the unpacked Windows zip (scripts/test-install.sh), WINDOWS_BIN (mikrobill.dll, mb.exe,
# mikrobill-sim.exe, mikrobill-gateway.exe), WINDOWS_IMPLIB (libmikrobill.dll.a) and WINDOWS_INCLUDE (mikrobill.h).
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
# The native gateway only makes the test's token (`token new`).
gateway_native=${MIKROBILL_GATEWAY:-$out/mikrobill-gateway}
for file in "$sim" "$mb" "$hostile" "$gateway_native" "$win/mikrobill.dll" "$implib/libmikrobill.dll.a" \
    "$win/mb.exe" "$win/mikrobill-sim.exe" "$win/mikrobill-gateway.exe" "$include/mikrobill.h"; do
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
cp "$win/mikrobill.dll" "$win/mb.exe" "$win/mikrobill-sim.exe" "$win/mikrobill-gateway.exe" "$work/bin/"
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

reply=$(timeout 60 wine "$work/bin/mb.exe" doctor --port "$sim_port" | tr -d '\r')
grep -q '^ok    core login    api accepted' <<<"$reply" || fail "mb.exe doctor against the simulator: $reply"
set +e
timeout 60 wine "$work/bin/mb.exe" doctor --port "$dead_port" >"$work/doctor-dead.out" 2>&1
status=$?
set -e
[ "$status" -eq 1 ] && grep -q '^FAIL  core port' "$work/doctor-dead.out" ||
    fail "mb.exe doctor against a closed port exited $status: $(cat "$work/doctor-dead.out")"

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

echo "== mikrobill-sim.exe's files of account data: private, and never another account's"
# file-security.exe prints a file's owner and the DACL entries that apply to it (see its source).
x86_64-w64-mingw32-gcc -std=c11 -municode -Wall -Wextra -Werror "$root/tests/windows/file-security.c" \
    -o "$work/bin/file-security.exe" -ladvapi32 -static
# Prints who other than this user and SYSTEM (S-1-5-18) may open FILE, and a foreign owner.
others() {
    local out me
    out=$(timeout 60 wine "$work/bin/file-security.exe" "Z:$1" | tr -d '\r') ||
        fail "file-security.exe $1: $out"
    me=$(sed -n 's/^me //p' <<<"$out")
    awk -v me="$me" '$2 == "allow" && $3 != me && $3 != "S-1-5-18" { print "allowed:", $3, $4 }
        $2 == "owner" && $3 != me { print "owner:", $3 }' <<<"$out"
}
for file in "$state_dir/sim.json" "$state_dir/sim.json.wal"; do
    wider=$(others "$file")
    [ -z "$wider" ] || fail "$file is not private to the simulator's user: $wider"
done
# Wine shows a file's Unix mode as its DACL: 0644 lets Everyone (S-1-1-0) read it.
acct=$work/account-files
mkdir -p "$acct"
printf '' >"$acct/trace.log"
chmod 0644 "$acct/trace.log"
[ -n "$(others "$acct/trace.log")" ] || fail "wine shows a 0644 file as private: the check below would prove nothing"
start_server tracesim wine "$work/bin/mikrobill-sim.exe" --listen 127.0.0.1:0 --trace-requests 'Z:'"$acct/trace.log"
"$mb" process --port "$port" API.Client.633824158637492.BillingInfo.Money >/dev/null
kill "${pids[-1]}"
wait "${pids[-1]}" 2>/dev/null || true
grep -q BillingInfo "$acct/trace.log" || fail "the trace holds no request"
wider=$(others "$acct/trace.log")
[ -z "$wider" ] || fail "a trace that existed readable by others was not made private: $wider"
# Files another account could read, or could replace: each refused at start-up (exit 1), before
# anything is written or its DACL changed. Wine shows a file of another Unix user as owned by
# S-1-5-7, and a folder of mode 0777 as one where Everyone may delete what it holds.
refused() { # LABEL WANTED-MESSAGE FLAG FILE
    local status
    set +e
    timeout 60 wine "$work/bin/mikrobill-sim.exe" --listen 127.0.0.1:0 "$3" 'Z:'"$4" >"$work/refused.out" 2>&1
    status=$?
    set -e
    [ "$status" -eq 1 ] && grep -q "$2" "$work/refused.out" ||
        fail "$1: mikrobill-sim.exe exited $status: $(tr -d '\r' <"$work/refused.out")"
}
printf 'theirs\n' >"$acct/planted.log"
chown nobody "$acct/planted.log"
chmod 0644 "$acct/planted.log"
refused "a trace owned by another user" "(S-1-5-7), not by this process's user" \
    --trace-requests "$acct/planted.log"
[ "$(cat "$acct/planted.log")" = theirs ] && [ "$(stat -c '%U %a' "$acct/planted.log")" = "nobody 644" ] ||
    fail "the other user's file was changed: $(stat -c '%U %a' "$acct/planted.log")"
printf 'elsewhere\n' >"$acct/elsewhere.log"
ln "$acct/elsewhere.log" "$acct/linked.log"
refused "a trace with a second hard link" "it has 2 hard links" --trace-requests "$acct/linked.log"
[ "$(cat "$acct/elsewhere.log")" = elsewhere ] || fail "the hard link's other name was written to"
mkdir "$acct/open"
chmod 0777 "$acct/open"
refused "state in a folder anyone may delete from" "lets Everyone (S-1-1-0) delete or rename the files" \
    --state "$acct/open/sim.json"
[ -z "$(ls -A "$acct/open")" ] || fail "files were made in the refused folder: $(ls -A "$acct/open")"

echo "== mikrobill-gateway.exe as a Windows service: install, start, serve, stop, uninstall"
# Wine's service control manager runs the service as Windows' would: `service install` registers
# `mikrobill-gateway.exe service run --config FILE`, and `net start` makes the SCM start it.
gw_dir=$work/gateway
mkdir -p "$gw_dir"
gw_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
gw_token=$("$gateway_native" token new windows-test | sed -n 's/^ *\(mbg_[0-9a-f]*\)$/\1/p')
[ -n "$gw_token" ] || fail "mikrobill-gateway token new printed no token"
printf '%s\n' "$gw_token" >"$gw_dir/token"
gw_hash=$(printf '%s' "$gw_token" | sha256sum | cut -d' ' -f1)
printf 'secret\n' >"$gw_dir/password"
cat >"$gw_dir/gateway.toml" <<GATEWAY
[server]
listen = "127.0.0.1:$gw_port"
audit_log = 'Z:$gw_dir/audit.jsonl'
watch_config_ms = 0

[core]
host = "127.0.0.1"
port = $sim_port
login = "api"
password_file = 'Z:$gw_dir/password'
key1 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
key2 = "EBESExQVFhcYGRobHB0eHw=="

[[token]]
name = "windows-test"
sha256 = "$gw_hash"
paths = ["*"]
read_only = true
rate_per_second = 100
burst = 100
GATEWAY
# Windows' service control manager always runs; wine's (services.exe) lives as long as the
# prefix's wineserver, which otherwise ends seconds after each command: restart it persistent
# (ending the simulators above, which are done).
wineserver -k || true
wineserver -w
wineserver -p
timeout 120 wine "$work/bin/mikrobill-gateway.exe" check --config 'Z:'"$gw_dir/gateway.toml" ||
    fail "mikrobill-gateway.exe check refused the config"
timeout 120 wine "$work/bin/mikrobill-gateway.exe" service install --config 'Z:'"$gw_dir/gateway.toml" ||
    fail "service install failed"
timeout 120 wine net start mikrobill-gateway || fail "net start mikrobill-gateway failed"
health=""
for _ in $(seq 1 600); do
    health=$(curl -s "http://127.0.0.1:$gw_port/v1/health" || true)
    case $health in *'"core_reachable":true'*) break ;; esac
    sleep 0.1
done
case $health in *'"core_reachable":true'*) ;; *) fail "the service's health: ${health:-no answer}" ;; esac
reply=$(curl -s "http://127.0.0.1:$gw_port/v1/process" -H "Authorization: Bearer $gw_token" \
    -H 'Content-Type: application/json' -d '{"path":"API.Client.633824158637492.BillingInfo.Money"}')
[ "$reply" = '{"return":"100.01","code":0}' ] || fail "a call through the service: $reply"
reply=$("$mb" --gateway "http://127.0.0.1:$gw_port" --token-file "$gw_dir/token" \
    process API.Client.633824158637492.BillingInfo.Money)
[ "$reply" = '{"return":"100.01","code":0}' ] || fail "native mb --gateway through the service: $reply"
grep -q '"token":"windows-test"' "$gw_dir/audit.jsonl" || fail "the service wrote no audit line"
timeout 120 wine net stop mikrobill-gateway || fail "net stop mikrobill-gateway failed"
for _ in $(seq 1 300); do
    curl -s -o /dev/null "http://127.0.0.1:$gw_port/v1/health" || break
    sleep 0.1
done
! curl -s -o /dev/null "http://127.0.0.1:$gw_port/v1/health" || fail "the service still answers after net stop"
timeout 120 wine "$work/bin/mikrobill-gateway.exe" service uninstall || fail "service uninstall failed"
# Wine's `sc query` is not implemented; `net start` of a service that is gone fails to open it.
set +e
timeout 60 wine net start mikrobill-gateway >"$work/gone.out" 2>&1
status=$?
set -e
[ "$status" -ne 0 ] && grep -q "Could not get handle to service" "$work/gone.out" ||
    fail "the service is still registered after uninstall: $(cat "$work/gone.out")"

echo "windows: C test, mb.exe, mikrobill-sim.exe and the gateway service passed under wine"
