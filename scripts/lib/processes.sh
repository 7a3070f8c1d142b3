# Sourced by the binding test runners (bindings/*/run-tests.sh): stops the processes a test run
# started and recorded, never anything found by name.

# True while pid $1 runs. A zombie has ended (kill -0 still succeeds on it, and an orphan's zombie
# lasts until init reaps it).
running() {
    local stat
    stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 1
    stat="${stat##*) }"
    [ "${stat%% *}" != Z ]
}

# Polls until pid $1 has ended, for at most $2 tenths of a second; 0 if it has.
gone_within() {
    local n
    for n in $(seq "$2"); do
        running "$1" || return 0
        sleep 0.1
    done
    ! running "$1"
}

# SIGTERM, then SIGKILL if pid $1 has not ended after $2 tenths of a second (default 50). SIGCONT
# first: a test may have left it stopped, and a stopped process cannot act on SIGTERM.
stop_process() {
    local pid=$1 grace=${2:-50}
    kill -CONT "$pid" 2>/dev/null || true
    kill -TERM "$pid" 2>/dev/null || return 0
    gone_within "$pid" "$grace" || kill -KILL "$pid" 2>/dev/null || true
}

# Stops each simulator recorded as $1/sim-PID.pid while its pid still runs executable $2: a file
# can outlive a test process killed before it reaped its simulator, and the pid may be reused.
stop_recorded() {
    local dir=$1 exe=$2 file pid actual
    for file in "$dir"/sim-*.pid; do
        [ -e "$file" ] || continue
        pid="$(cat "$file")"
        actual="$(readlink "/proc/$pid/exe" 2>/dev/null)" || continue
        [ "${actual% (deleted)}" = "$exe" ] || continue
        stop_process "$pid"
    done
}
