#!/usr/bin/env bash
# Runs the PHP binding's PHPUnit suite against the simulator and a private MariaDB server.
#   MIKROBILL_LIB  path of libmikrobill.so   (default <repo>/target/release/libmikrobill.so)
#   MIKROBILL_SIM  path of mikrobill-sim     (default <repo>/target/release/mikrobill-sim)
# Needs (Debian 12): php8.2-cli php8.2-mcrypt php8.2-mysql php8.2-opcache php8.2-fpm phpunit
# mariadb-server libfcgi-bin. A missing tool is an error, never a skip.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
export MIKROBILL_LIB=${MIKROBILL_LIB:-$repo/target/release/libmikrobill.so}
export MIKROBILL_SIM=${MIKROBILL_SIM:-$repo/target/release/mikrobill-sim}
export PATH="$PATH:/usr/sbin:/sbin"

fail() { echo "run-tests.sh: $*" >&2; exit 1; }

command -v php >/dev/null || fail "php not found (apt-get install php8.2-cli)"
command -v phpunit >/dev/null || fail "phpunit not found (apt-get install phpunit)"
for ext in FFI mcrypt mysqli "Zend OPcache"; do
    php -r 'exit(extension_loaded($argv[1]) ? 0 : 1);' "$ext" \
        || fail "PHP extension '$ext' missing (php8.2-cli / php8.2-mcrypt / php8.2-mysql / php8.2-opcache)"
done
command -v mariadbd >/dev/null || fail "mariadbd not found (apt-get install mariadb-server)"
command -v mariadb-install-db >/dev/null || fail "mariadb-install-db not found (apt-get install mariadb-server)"
command -v mariadb >/dev/null || fail "mariadb client not found (apt-get install mariadb-server)"
command -v php-fpm8.2 >/dev/null || fail "php-fpm8.2 not found (apt-get install php8.2-fpm)"
command -v cgi-fcgi >/dev/null || fail "cgi-fcgi not found (apt-get install libfcgi-bin)"
[ -f "$MIKROBILL_LIB" ] || fail "MIKROBILL_LIB=$MIKROBILL_LIB not found (cargo build --release)"
[ -x "$MIKROBILL_SIM" ] || fail "MIKROBILL_SIM=$MIKROBILL_SIM not found (cargo build --release)"

work=$(mktemp -d /tmp/mikrobill-php-run.XXXXXX)
db_pid=
cleanup() {
    if [ -n "$db_pid" ]; then
        kill "$db_pid" 2>/dev/null || true
        wait "$db_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

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
CREATE USER '$db_user'@'127.0.0.1' IDENTIFIED BY '$db_pass';
CREATE USER '$db_user'@'localhost' IDENTIFIED BY '$db_pass';
GRANT SELECT ON mikrobill.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
GRANT SELECT ON mikrobill_norow.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
GRANT SELECT ON mikrobill_notable.* TO '$db_user'@'127.0.0.1', '$db_user'@'localhost';
SQL

export MB_TEST_MYSQL_PORT=$db_port MB_TEST_MYSQL_SOCKET=$db_socket
export MB_TEST_MYSQL_USER=$db_user MB_TEST_MYSQL_PASS=$db_pass
export MB_TEST_MYSQL_DB=mikrobill MB_TEST_MYSQL_DB_NOROW=mikrobill_norow MB_TEST_MYSQL_DB_NOTABLE=mikrobill_notable

# Not exec: the trap must stop MariaDB afterwards. set -e propagates phpunit's failure.
phpunit -c "$here/phpunit.xml" "$@"
