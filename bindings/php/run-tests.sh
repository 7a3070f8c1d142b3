#!/usr/bin/env bash
# Runs the PHP binding's PHPUnit suite against the simulator and a private MariaDB server.
#   MIKROBILL_LIB  path of libmikrobill.so   (default <repo>/target/release/libmikrobill.so)
#   MIKROBILL_SIM  path of mikrobill-sim     (default <repo>/target/release/mikrobill-sim)
#   MIKROBILL_EXAMPLES  with MIKROBILL_PHP_ROOT: folder of fault-proxy and hostile-server (default
#                  <repo>/target/release/examples; without a root the tests look beside the library)
#   MIKROBILL_PHP_ROOT  a Debian root file system (run-debian-roots.sh): PHP and PHPUnit run in it
#                  with chroot, the simulator, the other host binaries and MariaDB on the host
#                  side; MIKROBILL_LIB must then be a library that loads in the root
# Needs (Debian 12): php8.2-cli php8.2-mcrypt php8.2-mysql php8.2-opcache php8.2-fpm phpunit
# mariadb-server libfcgi-bin; with MIKROBILL_PHP_ROOT, the root's php-cli, php-mysql and phpunit
# instead of the php8.2 packages. A missing tool is an error, never a skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export MIKROBILL_LIB=${MIKROBILL_LIB:-$repo/target/release/libmikrobill.so}
export MIKROBILL_SIM=${MIKROBILL_SIM:-$repo/target/release/mikrobill-sim}
export PATH="$PATH:/usr/sbin:/sbin"

fail() { echo "run-tests.sh: $*" >&2; exit 1; }

root=${MIKROBILL_PHP_ROOT:-}
# Runs a command of the PHP under test: the host's, or the root's through chroot.
in_php() {
    if [ -n "$root" ]; then chroot "$root" "$@"; else "$@"; fi
}
in_php sh -c 'command -v php' >/dev/null || fail "php not found${root:+ in $root} (apt-get install php-cli)"
in_php sh -c 'command -v phpunit' >/dev/null || fail "phpunit not found${root:+ in $root} (apt-get install phpunit)"
if [ -n "$root" ]; then
    extensions=(FFI mysqli)
else
    extensions=(FFI mcrypt mysqli "Zend OPcache")
fi
for ext in "${extensions[@]}"; do
    in_php php -r 'exit(extension_loaded($argv[1]) ? 0 : 1);' "$ext" \
        || fail "PHP extension '$ext' missing${root:+ in $root} (php-cli / php-mcrypt / php-mysql / php-opcache)"
done
command -v php >/dev/null || fail "php not found on the host (apt-get install php8.2-cli)"
command -v mariadbd >/dev/null || fail "mariadbd not found (apt-get install mariadb-server)"
command -v mariadb-install-db >/dev/null || fail "mariadb-install-db not found (apt-get install mariadb-server)"
command -v mariadb >/dev/null || fail "mariadb client not found (apt-get install mariadb-server)"
if [ -z "$root" ]; then
    command -v php-fpm8.2 >/dev/null || fail "php-fpm8.2 not found (apt-get install php8.2-fpm)"
    command -v cgi-fcgi >/dev/null || fail "cgi-fcgi not found (apt-get install libfcgi-bin)"
fi
[ -f "$MIKROBILL_LIB" ] || fail "MIKROBILL_LIB=$MIKROBILL_LIB not found (cargo build --release)"
[ -x "$MIKROBILL_SIM" ] || fail "MIKROBILL_SIM=$MIKROBILL_SIM not found (cargo build --release)"

# In a root, everything the tests read or write lives inside it: $work is the host's path,
# $inside the same folder seen from the root.
work=$(mktemp -d "$root/tmp/mikrobill-php-run.XXXXXX")
inside=${work#"$root"}
db_pid=
# When PHPUnit dies from a fatal error or a signal, the destructors that stop its simulators and
# php-fpm servers never run. Two records let this script stop exactly those, and nothing else
# (other people's simulators on the machine are untouched):
#  - PHPUnit runs in a session (and process group) of its own, whose id it writes to
#    $pgid_file; simulators and php children inherit that group.
#  - php-fpm starts a session of its own, so the tests also record each process they start as
#    $pid_dir/<pid> holding its executable, deleted when the test stops it. A php-fpm master
#    leads its own group: killing that group ends its workers too.
pgid_file="$work/phpunit.pgid"
pid_dir="$work/pids"
mkdir "$pid_dir"
# True if a process of group $1 is still running (a zombie no one reaps does not count).
group_alive() {
    ps -e -o pgid=,stat= | awk -v g="$1" '$1 == g && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}
stop_test_processes() {
    local groups=() alive=() group file pid
    [ -s "$pgid_file" ] && groups+=("$(cat "$pgid_file")")
    for file in "$pid_dir"/*; do
        [ -f "$file" ] || continue
        pid=${file##*/}
        # Only a process still running the recorded executable: a pid can be reused.
        [ "$(readlink "/proc/$pid/exe" 2>/dev/null)" = "$(cat "$file")" ] || continue
        if [ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]; then
            groups+=("$pid")
        else
            kill -TERM "$pid" 2>/dev/null || true
        fi
    done
    for group in "${groups[@]}"; do
        kill -TERM -- "-$group" 2>/dev/null || true
    done
    # Bounded grace for a clean exit (php-fpm ends its workers), then SIGKILL what is left.
    for _ in $(seq 1 50); do
        alive=()
        for group in "${groups[@]}"; do
            if group_alive "$group"; then alive+=("$group"); fi
        done
        [ "${#alive[@]}" -gt 0 ] || return 0
        sleep 0.1
    done
    for group in "${alive[@]}"; do
        kill -KILL -- "-$group" 2>/dev/null || true
    done
}
cleanup() {
    stop_test_processes
    if [ -n "$db_pid" ]; then
        kill "$db_pid" 2>/dev/null || true
        wait "$db_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
# A non-interactive bash ends on SIGINT/SIGTERM without running the EXIT trap unless these exist.
trap 'exit 130' INT
trap 'exit 143' TERM

# A host binary runnable in the root: it keeps the host's C library, which a root of an older
# Debian lacks, by running through the host's dynamic loader with the host's libraries copied
# beside it. exec keeps the process id, so the tests' signals reach the binary itself.
host_binary() { # BINARY WRAPPER
    local dir=$work/host-libs lib
    mkdir -p "$dir" "$(dirname "$2")"
    cp "$1" "$dir/$(basename "$1")"
    for lib in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
        cp -L "$lib" "$dir/"
    done
    printf '#!/bin/sh\nexec %s --library-path %s %s "$@"\n' "${inside}/host-libs/ld-linux-x86-64.so.2" \
        "$inside/host-libs" "$inside/host-libs/$(basename "$1")" >"$2"
    chmod 0755 "$2"
}

free_port() {
    php -r '$s = stream_socket_server("tcp://127.0.0.1:0"); $n = stream_socket_get_name($s, false); echo substr($n, strrpos($n, ":") + 1);'
}

# --- a private MariaDB server: own datadir, socket and port; root over the socket only -------
user=$(id -un)
mariadb-install-db --no-defaults --user="$user" --datadir="$work/db" \
    --auth-root-authentication-method=normal --skip-test-db >"$work/install-db.log" 2>&1 \
    || { cat "$work/install-db.log" >&2; fail "mariadb-install-db failed"; }
db_port=$(free_port)
db_socket="$work/mysqld.sock"
mariadbd --no-defaults --user="$user" --datadir="$work/db" --socket="$db_socket" \
    --port="$db_port" --bind-address=127.0.0.1 --pid-file="$work/mysqld.pid" \
    --log-error="$work/mysqld.err" --skip-log-bin --innodb-buffer-pool-size=16M >"$work/mysqld.out" 2>&1 &
db_pid=$!
for _ in $(seq 1 300); do
    mariadb-admin --no-defaults --socket="$db_socket" -uroot ping >/dev/null 2>&1 && break
    kill -0 "$db_pid" 2>/dev/null || { cat "$work/mysqld.err" >&2; fail "mariadbd exited during startup"; }
    sleep 0.1
done
mariadb-admin --no-defaults --socket="$db_socket" -uroot ping >/dev/null 2>&1 \
    || { cat "$work/mysqld.err" >&2; fail "mariadbd did not come up"; }

# The web user the fixture config.php names; it connects with a password over TCP.
db_user=mbweb
db_pass=$(php -r 'echo bin2hex(random_bytes(12));')
mariadb --no-defaults --socket="$db_socket" -uroot <<SQL
CREATE DATABASE mikrobill;
CREATE TABLE mikrobill.workparams (param_name VARCHAR(64) NOT NULL PRIMARY KEY, param_value TEXT);
INSERT INTO mikrobill.workparams VALUES ('SITE_NAME', 'test'), ('CRYPTO_KEY_2', 'EBESExQVFhcYGRobHB0eHw==');
CREATE DATABASE mikrobill_norow;
CREATE TABLE mikrobill_norow.workparams LIKE mikrobill.workparams;
INSERT INTO mikrobill_norow.workparams VALUES ('SITE_NAME', 'test');
CREATE DATABASE mikrobill_notable;
CREATE DATABASE mikrobill_rekey;
CREATE TABLE mikrobill_rekey.workparams LIKE mikrobill.workparams;
INSERT INTO mikrobill_rekey.workparams SELECT * FROM mikrobill.workparams;
CREATE USER '$db_user'@'127.0.0.1' IDENTIFIED BY '$db_pass';
CREATE USER '$db_user'@'localhost' IDENTIFIED BY '$db_pass';
GRANT SELECT ON mikrobill.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
GRANT SELECT ON mikrobill_norow.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
GRANT SELECT ON mikrobill_notable.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
GRANT SELECT, UPDATE ON mikrobill_rekey.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
SQL

export MB_TEST_MYSQL_PORT=$db_port MB_TEST_MYSQL_SOCKET=$inside/mysqld.sock
export MB_TEST_MYSQL_USER=$db_user MB_TEST_MYSQL_PASS=$db_pass
export MB_TEST_PID_DIR=$inside/pids
export MB_TEST_MYSQL_DB=mikrobill MB_TEST_MYSQL_DB_NOROW=mikrobill_norow MB_TEST_MYSQL_DB_NOTABLE=mikrobill_notable
export MB_TEST_MYSQL_DB_REKEY=mikrobill_rekey

# Not exec: the trap must stop MariaDB and any leftover test processes afterwards.
# setsid --wait forks only if needed and passes on phpunit's exit status; the inner shell is the
# new session's leader, so its $$ is the process group id, and exec keeps that id for phpunit.
# In the background plus wait: phpunit, in its own session, gets no terminal Ctrl-C, and the
# wait builtin (unlike a foreground command) returns at once when this script is signalled.
# TMPDIR inside $work: the suite's scratch folders go away with it even after a crash.
mkdir "$work/tmp"
config=$here/phpunit.xml
if [ -n "$root" ]; then
    # The root sees the binding, the header and the library at the repository's layout (the
    # tests find the header at ../../include), and host binaries through wrappers.
    mkdir -p "$work/repo/bindings" "$work/repo/include" "$work/repo/lib"
    cp -r "$here" "$work/repo/bindings/php"
    cp "$repo/include/mikrobill.h" "$work/repo/include/"
    cp "$MIKROBILL_LIB" "$work/repo/lib/libmikrobill.so"
    host_binary "$MIKROBILL_SIM" "$work/repo/lib/mikrobill-sim"
    for example in fault-proxy hostile-server; do
        host_binary "${MIKROBILL_EXAMPLES:-$repo/target/release/examples}/$example" "$work/repo/lib/examples/$example"
    done
    export MIKROBILL_LIB=$inside/repo/lib/libmikrobill.so MIKROBILL_SIM=$inside/repo/lib/mikrobill-sim
    config=$inside/repo/bindings/php/phpunit.xml
    if [ "$(in_php phpunit --version | sed -n 's/^PHPUnit \([0-9]*\)\..*/\1/p')" -ge 10 ]; then
        # PHPUnit 10 dropped convertDeprecationsToExceptions (deprecations fail the run through
        # failOnDeprecation instead); an unknown attribute would make the configuration invalid.
        sed -e 's/convertDeprecationsToExceptions="true"/failOnDeprecation="true"/' "$here/phpunit.xml" \
            >"$work/repo/bindings/php/phpunit.xml"
    fi
fi
runner=(phpunit)
[ -z "$root" ] || runner=(chroot "$root" phpunit)
TMPDIR="$inside/tmp" setsid --wait bash -c 'echo $$ >"$0"; exec "$@"' "$pgid_file" \
    "${runner[@]}" -c "$config" --log-junit "$inside/junit.xml" "$@" &
status=0
wait "$!" || status=$?
# PHPUnit 9 exits 0 when it ran no test at all ("No tests executed!"): a filter that matches
# nothing must not pass as a green suite.
if [ "$status" -eq 0 ]; then
    ran=$(sed -n 's/.*<testsuite [^>]*tests="\([0-9]*\)".*/\1/p' "$work/junit.xml" 2>/dev/null | head -n1)
    if [ -z "$ran" ] || [ "$ran" -eq 0 ]; then
        echo "bindings/php: PHPUnit ran no test" >&2
        status=1
    fi
fi
exit "$status"
