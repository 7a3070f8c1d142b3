#!/usr/bin/env bash
# Builds tests/c/mikrobill_test.c against include/mikrobill.h twice, with -Wall -Wextra -Werror:
# linked to the shared library under AddressSanitizer, and to the static library under valgrind.
# Both must report zero errors and zero leaks. Then tests/c/dialect_test.c against simulators that
# answer as a real core might (normalised batch paths, CP1251 replies), and tests/c/fork_test.c
# (hundreds of forks beside busy threads). Needs the release build and
# examples:
#   cargo build --release --lib --bins --examples
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${MIKROBILL_TARGET:-$root/target/release}
sim=${MIKROBILL_SIM:-$out/mikrobill-sim}
hostile=$out/examples/hostile-server
for tool in gcc valgrind; do
    command -v "$tool" >/dev/null || { echo "tests/c: $tool is not installed" >&2; exit 1; }
done
for file in "$sim" "$hostile" "$out/libmikrobill.so" "$out/libmikrobill.a"; do
    [ -e "$file" ] || { echo "tests/c: $file is missing; run cargo build --release --lib --bins --examples" >&2; exit 1; }
done

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT

. "$root/scripts/lib/servers.sh"

. "$root/tests/c/simulator-args.sh"
start_server sim "$sim" --listen 127.0.0.1:0 "${c_test_sim_args[@]}"
sim_port=$port
start_server hostile "$hostile"
hostile_port=$port
dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

flags=(-std=c11 -Wall -Wextra -Werror -Wpedantic -I "$root/include")

echo "== C test, shared library, AddressSanitizer"
gcc "${flags[@]}" -g -fsanitize=address -fno-omit-frame-pointer "$root/tests/c/mikrobill_test.c" \
    -o "$work/test_asan" -L "$out" -lmikrobill -Wl,-rpath,"$out" -pthread
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$work/test_asan" "$sim_port" "$hostile_port" "$dead_port"

echo "== C test, static library, valgrind"
gcc "${flags[@]}" -g "$root/tests/c/mikrobill_test.c" -o "$work/test_static" \
    "$out/libmikrobill.a" -pthread -ldl -lm
valgrind --quiet --error-exitcode=1 --leak-check=full \
    --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite,indirect,possible \
    "$work/test_static" "$sim_port" "$hostile_port" "$dead_port"

echo "== C dialect test: a core that echoes batch paths normalised and one that replies in CP1251"
start_server sim-normalised "$sim" --listen 127.0.0.1:0 --batch-paths normalised
normalised_port=$port
start_server sim-cp1251 "$sim" --listen 127.0.0.1:0 --reply-encoding cp1251
cp1251_port=$port
gcc "${flags[@]}" -g -fsanitize=address -fno-omit-frame-pointer "$root/tests/c/dialect_test.c" \
    -o "$work/dialect_asan" -L "$out" -lmikrobill -Wl,-rpath,"$out"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 "$work/dialect_asan" "$normalised_port" "$cp1251_port"

# Without a sanitizer: gcc 12's AddressSanitizer allocator is not fork-safe (a child forked while
# another thread is inside ASan's malloc waits for ever on ASan's own lock, seen here in gdb),
# whereas glibc's malloc, which programs run with, is.
echo "== C fork test: 300 forks beside busy threads, a handle in a call at the fork, reused descriptor numbers"
gcc "${flags[@]}" -g "$root/tests/c/fork_test.c" -o "$work/fork_test" -L "$out" -lmikrobill \
    -Wl,-rpath,"$out" -pthread
"$work/fork_test" "$sim_port" "$hostile_port"
