#!/usr/bin/env bash
# The demo: builds the library, starts the simulator with its demo dataset, and runs a session
# against it twice: from C (examples/c/example.c) and with the `mb` command-line tool.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

bash scripts/setup.sh --demo
cargo build --release --lib --bins
out=$root/target/release

work=$(mktemp -d)
sim_pid=""
cleanup() {
    [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

"$out/mikrobill-sim" --listen 127.0.0.1:0 >"$work/sim.out" &
sim_pid=$!
for _ in $(seq 1 200); do
    grep -q '^listening on ' "$work/sim.out" 2>/dev/null && break
    sleep 0.05
done
port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/sim.out" | head -n1)
[ -n "$port" ] || { echo "demo: the simulator did not start" >&2; exit 1; }
echo "== simulator listening on 127.0.0.1:$port (demo dataset, login api / secret)"

echo
echo "== a C program using include/mikrobill.h"
gcc -std=c11 -Wall -Wextra -I include examples/c/example.c -L "$out" -lmikrobill \
    -Wl,-rpath,"$out" -o "$work/example"
"$work/example" 127.0.0.1 "$port"

echo
echo "== the mb command-line tool (VALUE is JSON text)"
export MIKROBILL_HOST=127.0.0.1 MIKROBILL_PORT=$port
mb() {
    printf '$ mb'; printf " '%s'" "$@"; echo
    "$out/mb" "$@"
}
mb process API.GetClients '"Петров"'
mb process --pretty API.Client.9527563927532953.AutorizeInfo.Accounts '{"835354904534456":["IP","MAC"],"835354904534457":["IP"]}'
mb process API.Client.9527563927532953.StatusInfo.BlockReason
echo
echo "== a failing call exits non-zero"
status=0
mb process API.Client.1.AutorizeInfo.Name || status=$?
[ "$status" -ne 0 ] || { echo "demo: expected a non-zero exit for an unknown client" >&2; exit 1; }
echo "(exit status $status)"
