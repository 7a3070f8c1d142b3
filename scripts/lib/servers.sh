# Sourced by the test and benchmark scripts that start their own servers. The caller has a
# directory $work and an array pids (its cleanup stops what pids holds).

# start_server NAME COMMAND...: starts COMMAND in the background with its output in
# $work/NAME.out and $work/NAME.err, records its pid in pids, and waits until it prints
# "listening on HOST:PORT" (a CR before the line end is allowed: programs under wine print one);
# sets $port. It must run in the caller's shell, not in $(...), so that the recorded pid is the one
# cleanup stops. Waits at most $start_server_seconds (default 10), then fails loudly.
start_server() {
    local name=$1 _
    shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=("$!")
    port=""
    for _ in $(seq 1 $(( ${start_server_seconds:-10} * 20 ))); do
        # The output file may not exist yet (the background job opens it): not a failure here.
        port=$(sed -n 's/^listening on .*:\([0-9]*\)\r*$/\1/p' "$work/$name.out" 2>/dev/null | head -n1 || true)
        [ -n "$port" ] && return 0
        sleep 0.05
    done
    echo "$0: $name did not start" >&2
    cat "$work/$name.out" "$work/$name.err" >&2
    exit 1
}
