#!/usr/bin/env bash
# Page-level benchmark: the same 3-call kassa page served by php-fpm behind nginx (Debian
# packages), against the simulator, by
#   (a)  a pure-PHP client patched for PHP 8 (openssl, mysqli, one write per frame)
#   (a') the same client writing each frame in two writes, as the original does on the wire
#   (b)  the shim without persistence (keys from config.php and workparams on every page)
#   (c)  the shim with persistence and keys kept in the worker (preloaded: no header parse)
#   (c0) as (c) without opcache.preload: the header is parsed by FFI::cdef on every page
#   (d)  the same page making no API call: the web stack's own floor
#   (e)  three exchanges of bare frames with floor-server, which does no work: the floor that
#        three loopback round trips put under any client (no crypto, no JSON, no library)
# driven by wrk in turns, several rounds, once directly and once through a proxy adding 2 ms each
# way (a kassa and a core on different hosts). It prints figures and ratios and asserts nothing;
# it is not part of the test suite. All of it (MariaDB, simulator, php-fpm, nginx) runs privately
# under a temporary folder and is stopped at the end.
#
# usage: scripts/bench-php-fpm.sh [SECONDS_PER_MEASUREMENT (3)] [ROUNDS (3)]
#   MB_BENCH_PAGES="a c d"    only these page kinds (default: a a2 b c c0 d e)
#   MB_BENCH_CONNECTIONS=N    wrk connections and php-fpm workers (default 4)
# Needs: nginx php8.2-fpm php8.2-cli php8.2-mysql php8.2-opcache mariadb-server wrk curl
# (scripts/setup.sh --bench installs them) and cargo.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-3}
rounds=${2:-3}
conns=${MB_BENCH_CONNECTIONS:-4}

for tool in nginx php-fpm8.2 php wrk curl mariadbd mariadb-install-db mariadb cargo; do
    command -v "$tool" >/dev/null || { echo "bench-php-fpm: $tool not found (run scripts/setup.sh --bench)" >&2; exit 1; }
done
(cd "$root" && cargo build --quiet --release --lib --bins --example fault-proxy --example floor-server)
target=$root/target/release

work=$(mktemp -d "${TMPDIR:-/tmp}/mb-bench-fpm.XXXXXX")
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); $n = stream_socket_get_name($s, false); echo substr($n, strrpos($n, ":") + 1);'
}

. "$root/scripts/lib/servers.sh"

wait_for() {
    local what=$1 path=$2
    for _ in $(seq 1 200); do [ -e "$path" ] && return 0; sleep 0.05; done
    echo "bench-php-fpm: $what did not start" >&2; exit 1
}

# --- MariaDB with workparams, as a MikroBILL installation has it -------------------------------
mariadb-install-db --no-defaults --user="$(id -un)" --datadir="$work/db" \
    --auth-root-authentication-method=normal --skip-test-db >"$work/install-db.log" 2>&1 \
    || { cat "$work/install-db.log" >&2; exit 1; }
db_port=$(free_port)
mariadbd --no-defaults --user="$(id -un)" --datadir="$work/db" --socket="$work/mysqld.sock" \
    --port="$db_port" --bind-address=127.0.0.1 --pid-file="$work/mysqld.pid" \
    --log-error="$work/mysqld.err" --skip-log-bin --innodb-buffer-pool-size=16M >/dev/null 2>&1 &
pids+=("$!")
for _ in $(seq 1 200); do
    mariadb-admin --no-defaults --socket="$work/mysqld.sock" -uroot ping >/dev/null 2>&1 && break
    sleep 0.1
done
db_pass=$(php -r 'echo bin2hex(random_bytes(12));')
mariadb --no-defaults --socket="$work/mysqld.sock" -uroot <<SQL
CREATE DATABASE mikrobill;
CREATE TABLE mikrobill.workparams (param_name VARCHAR(64) NOT NULL PRIMARY KEY, param_value TEXT);
INSERT INTO mikrobill.workparams VALUES ('CRYPTO_KEY_2', 'EBESExQVFhcYGRobHB0eHw==');
CREATE USER 'mbweb'@'127.0.0.1' IDENTIFIED BY '$db_pass';
GRANT SELECT ON mikrobill.* TO 'mbweb'@'127.0.0.1';
SQL

# --- the simulator, and a 2 ms-each-way link to it ---------------------------------------------
start_server sim "$target/mikrobill-sim" --listen 127.0.0.1:0
sim_port=$port
# fault-proxy as a slow link: every byte 2 ms late each way; it ignores stdin (--until-killed).
start_server proxy "$target/examples/fault-proxy" --upstream "$sim_port" --delay-ms 2 --until-killed
proxy_port=$port
start_server floor "$target/examples/floor-server"
floor_port=$port
start_server floor-proxy "$target/examples/fault-proxy" --upstream "$floor_port" --delay-ms 2 --until-killed
floor_proxy_port=$port

# --- web root: config.php one folder above kassa, as MikroBILL lays it out ---------------------
mkdir -p "$work/www/kassa" "$work/www/cdef"
cp "$root/scripts/bench/patched_original.php" "$work/"
cp "$root"/scripts/bench/pages/*.php "$work/www/kassa/"
cat >"$work/www/config.php" <<PHP
<?php
\$mysql_adr = '127.0.0.1:$db_port';
\$mysql_user = 'mbweb';
\$mysql_pass = '$db_pass';
\$mysql_db = 'mikrobill';
\$CRYPTO_KEY_1 = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=';
PHP

# --- two php-fpm masters: with opcache.preload (FFI scope) and without (FFI::cdef per page) ----
fpm() {
    local name=$1; shift
    cat >"$work/fpm-$name.conf" <<CONF
[global]
pid = $work/fpm-$name.pid
error_log = $work/fpm-$name.log
daemonize = no
[bench]
user = $(id -un)
group = $(id -gn)
listen = $work/fpm-$name.sock
pm = static
pm.max_children = $conns
env[MIKROBILL_LIB] = $target/libmikrobill.so
env[MIKROBILL_APICORE] = $root/bindings/php/apicore.php
CONF
    local as_root=()
    [ "$(id -u)" -eq 0 ] && as_root=(-R)
    php-fpm8.2 -F "${as_root[@]}" -y "$work/fpm-$name.conf" -d opcache.enable=1 -d opcache.jit=off \
        -d error_reporting=E_ALL -d display_errors=1 "$@" >"$work/fpm-$name.out" 2>&1 &
    pids+=("$!")
    wait_for "php-fpm ($name)" "$work/fpm-$name.sock"
}
# A master running as root cannot register the FFI scope from opcache.preload (PHP refuses
# FFI::load with opcache.preload_user); ffi.preload of a header copy carrying FFI_SCOPE/FFI_LIB
# registers the same scope at startup, as root or not.
export MIKROBILL_LIB=$target/libmikrobill.so
{ printf '#define FFI_SCOPE "MIKROBILL"\n#define FFI_LIB "%s"\n' "$MIKROBILL_LIB"; cat "$root/include/mikrobill.h"; } \
    >"$work/mikrobill-ffi.h"
fpm preload -d ffi.enable=preload -d ffi.preload="$work/mikrobill-ffi.h" \
    -d opcache.preload="$root/bindings/php/preload.php" -d opcache.preload_user="$(id -un)"
fpm cdef -d ffi.enable=1

web_port=$(free_port)
cat >"$work/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
$( [ "$(id -u)" -eq 0 ] && echo "user root root;" )
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path $work/nginx-body;
    fastcgi_temp_path $work/nginx-fastcgi;
    proxy_temp_path $work/nginx-proxy;
    uwsgi_temp_path $work/nginx-uwsgi;
    scgi_temp_path $work/nginx-scgi;
    server {
        listen 127.0.0.1:$web_port;
        root $work/www;
        location ~ ^/kassa/(.+\.php)\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $work/www/kassa/\$1;
            fastcgi_pass unix:$work/fpm-preload.sock;
        }
        location ~ ^/cdef/(.+\.php)\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $work/www/kassa/\$1;
            fastcgi_pass unix:$work/fpm-cdef.sock;
        }
    }
}
CONF
nginx -c "$work/nginx.conf" -e "$work/nginx-error.log" >"$work/nginx.out" 2>&1 &
pids+=("$!")
for _ in $(seq 1 100); do curl -s -o /dev/null "http://127.0.0.1:$web_port/" && break; sleep 0.05; done

read -r -a variants <<<"${MB_BENCH_PAGES:-a a2 b c c0 d e}"
declare -A label=([a]="(a)  patched original, 1 write/frame" [a2]="(a') original on the wire, 2 writes" \
    [b]="(b)  shim, no persistence" [c]="(c)  shim, persistent + cached keys" \
    [c0]="(c0) as (c), header parsed per page" [d]="(d)  page without API calls" \
    [e]="(e)  3 bare exchanges, floor-server")
url() {
    case $1 in
        a) echo "http://127.0.0.1:$web_port/kassa/a.php?port=$2" ;;
        a2) echo "http://127.0.0.1:$web_port/kassa/a2.php?port=$2" ;;
        b) echo "http://127.0.0.1:$web_port/kassa/b.php?port=$2" ;;
        c) echo "http://127.0.0.1:$web_port/kassa/c.php?port=$2" ;;
        c0) echo "http://127.0.0.1:$web_port/cdef/c.php?port=$2" ;;
        d) echo "http://127.0.0.1:$web_port/kassa/d.php?port=$2" ;;
        # The same link as the others' (direct or through a delay proxy), to floor-server.
        e) if [ "$2" = "$sim_port" ]; then echo "http://127.0.0.1:$web_port/kassa/e.php?port=$floor_port"
           else echo "http://127.0.0.1:$web_port/kassa/e.php?port=$floor_proxy_port"; fi ;;
    esac
}

# A page that does not work would make every figure meaningless: check each one serves.
for port in "$sim_port" "$proxy_port"; do
    for v in "${variants[@]}"; do
        body=$(curl -s -w '\n%{http_code}' "$(url "$v" "$port")")
        if [ "${body##*$'\n'}" != 200 ] || ! grep -q '&quot;code&quot;:0' <<<"$body"; then
            echo "bench-php-fpm: page $v does not work:" >&2; echo "$body" >&2
            cat "$work"/fpm-*.log "$work/nginx-error.log" >&2; exit 1
        fi
    done
done

# One wrk run: prints "REQS_PER_S P50_MS P99_MS ERRORS".
measure() {
    wrk -t"$(( conns < 2 ? 1 : 2 ))" -c"$conns" -d"${secs}s" --latency "$1" | awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        $1 == "50%" { p50 = ms($2) } $1 == "99%" { p99 = ms($2) }
        /^Requests\/sec:/ { rps = $2 } /Non-2xx/ { err += $NF } /Socket errors/ { err += 1 }
        END { printf "%.1f %.3f %.3f %d\n", rps, p50, p99, err }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

header_costs() {
    local n=300
    php -d ffi.enable=1 -r '
        $h = file_get_contents($argv[1]); $lib = $argv[2]; $n = (int)$argv[3];
        FFI::cdef($h, $lib); $t = hrtime(true);
        for ($i = 0; $i < $n; $i++) { FFI::cdef($h, $lib); }
        printf("FFI::cdef of the header (no preload, ffi.enable=1): %.3f ms per page\n", (hrtime(true) - $t) / 1e6 / $n);' \
        "$root/include/mikrobill.h" "$target/libmikrobill.so" "$n"
    php -d ffi.enable=preload -d ffi.preload="$work/mikrobill-ffi.h" -r '
        $n = (int)$argv[1]; $t = hrtime(true);
        for ($i = 0; $i < $n; $i++) { FFI::scope("MIKROBILL"); }
        printf("FFI::scope of the preloaded header (ffi.preload or opcache.preload): %.4f ms per page\n", (hrtime(true) - $t) / 1e6 / $n);' "$n"
}

run_set() {
    local title=$1 port=$2
    echo
    echo "=== $title: $rounds rounds of ${secs} s per page kind, $conns connections, php-fpm pm.max_children=$conns"
    for v in "${variants[@]}"; do curl -s -o /dev/null "$(url "$v" "$port")"; done
    declare -A rps p50 p99 errs
    for r in $(seq 1 "$rounds"); do
        for v in "${variants[@]}"; do
            read -r q a b e < <(measure "$(url "$v" "$port")")
            rps[$v]+="$q "; p50[$v]+="$a "; p99[$v]+="$b "; errs[$v]=$(( ${errs[$v]:-0} + e ))
        done
    done
    printf '%-40s %10s %10s %10s %7s\n' "page (median of $rounds rounds)" "req/s" "p50 ms" "p99 ms" "errors"
    declare -A mrps mp50
    for v in "${variants[@]}"; do
        mrps[$v]=$(tr ' ' '\n' <<<"${rps[$v]}" | grep . | median)
        mp50[$v]=$(tr ' ' '\n' <<<"${p50[$v]}" | grep . | median)
        printf '%-40s %10.1f %10.3f %10.3f %7d\n' "${label[$v]}" "${mrps[$v]}" "${mp50[$v]}" \
            "$(tr ' ' '\n' <<<"${p99[$v]}" | grep . | median)" "${errs[$v]}"
    done
    awk -v c="${mrps[c]:-0}" -v a="${mrps[a]:-0}" -v a2="${mrps[a2]:-0}" -v b="${mrps[b]:-0}" -v d="${mrps[d]:-0}" \
        -v c0="${mrps[c0]:-0}" -v e="${mrps[e]:-0}" -v pc="${mp50[c]:-0}" -v pd="${mp50[d]:-0}" \
        -v pe="${mp50[e]:-0}" -v rtt="$3" '
    function r(x, y) { return (x > 0 && y > 0) ? sprintf("%.2fx", x / y) : "n/a" }
    BEGIN {
        printf "ratios (req/s): (c)/(a) %s, (c)/(a'"'"') %s, (c)/(b) %s, (b)/(a) %s, (c)/(c0) %s\n", r(c, a), r(c, a2), r(c, b), r(b, a), r(c, c0)
        printf "time per request (1/req/s) (c)/(d) %s; p50 (c)/(d) %s\n", r(d, c), r(pc, pd)
        printf "floor: time per request (e)/(d) %s, (c)/(e) %s; p50 (e)/(d) %s\n", r(d, e), r(e, c), r(pe, pd)
        if (rtt > 0) printf "p50 (c) / (p50 (d) + 3 round trips of %.0f ms) = %s\n", rtt, r(pc, pd + 3 * rtt)
    }'
}

echo "bench-php-fpm: $(nproc) CPUs, $(php -r 'echo PHP_VERSION;'), $(nginx -v 2>&1), $(wrk -v 2>&1 | head -n1 | cut -d' ' -f1-2)"
header_costs
run_set "loopback, simulator directly" "$sim_port" 0
run_set "through the delay proxy, 2 ms each way" "$proxy_port" 4
