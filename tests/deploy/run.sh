#!/usr/bin/env bash
# The kassa deployment of docs/src/php.md, on real web servers. In a throwaway web root laid out
# like a MikroBILL install (config.php at the root, the original apicore.php in kassa/), it runs
# the chapter's migration block as written (only $KASSA, $SHIM and $PHP_CONF point into the
# temporary folder; systemctl is a stand-in that records the restart), then serves the web root
# with nginx + php-fpm and with Apache + mod_php, each configured with the snippets of
# bindings/php/deploy/ and the preload ini the block wrote (ffi.enable=preload), and checks:
#  - the block restarts php-fpm after writing the ini and before switching the kassa to the shim;
#  - a kassa page using the shim answers with the simulator's replies, from the copy outside the
#    web root;
#  - the web root holds no library, header, original or preload script after the migration;
#  - those files, and config.php, answer 403 or 404 even when copies are put into the web root
#    on purpose, while a server without the snippet serves the same copies (so the snippet is
#    what denies them).
# Every process it starts (simulator, php-fpm, nginx, Apache) is stopped on exit.
#   tests/deploy/run.sh        needs target/release/{libmikrobill.so,mikrobill-sim} (cargo build --release)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"

fail() {
    echo "deploy: FAIL: $*" >&2
    exit 1
}
for tool in nginx:nginx apache2:apache2 php-fpm8.2:php8.2-fpm php:php8.2-cli curl:curl; do
    command -v "${tool%%:*}" >/dev/null || fail "${tool%%:*} is missing (scripts/setup.sh installs ${tool#*:})"
done
[ -f /usr/lib/apache2/modules/libphp8.2.so ] || fail "mod_php is missing (scripts/setup.sh installs libapache2-mod-php8.2)"
php -r 'exit(extension_loaded("ffi") ? 0 : 1);' || fail "PHP's FFI extension is missing (php8.2-cli)"
[ -f target/release/libmikrobill.so ] || fail "target/release/libmikrobill.so is missing: cargo build --release"
sim_bin=${MIKROBILL_SIM:-target/release/mikrobill-sim}
[ -x "$sim_bin" ] || fail "$sim_bin is missing: cargo build --release"
id www-data >/dev/null 2>&1 || fail "user www-data is missing"
# The shim must find its files by the deployment's layout alone, not through the test's variables.
unset MIKROBILL_LIB MIKROBILL_HEADER

umask 022 # the servers' workers run as www-data and read the fixture as a real install's files
tmp=$(mktemp -d /tmp/mikrobill-deploy.XXXXXX)
chmod 0755 "$tmp"
pids=()
cleanup() {
    local status=$?
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "$status" -ne 0 ]; then
        for log in "$tmp"/logs/*; do
            [ -s "$log" ] && { echo "--- $log"; tail -n 15 "$log"; }
        done >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT
mkdir -p "$tmp/logs" "$tmp/run"

free_ports() { # N: N distinct free loopback ports, held open together while chosen
    php -r 'for ($i = 0; $i < (int)$argv[1]; $i++) { $s[] = stream_socket_server("tcp://127.0.0.1:0");
        echo substr(strrchr(stream_socket_get_name(end($s), false), ":"), 1), " "; } echo "\n";' "$1"
}
read -r fpm_port nginx_port nginx_bare_port apache_conf_port apache_htaccess_port apache_bare_port \
    < <(free_ports 6)
[ -n "$apache_bare_port" ] || fail "could not pick free ports"
wait_for_port() { # PORT PID NAME: until something accepts on PORT, while PID lives (10 s at most)
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
        kill -0 "$2" 2>/dev/null || fail "$3 exited at startup"
        sleep 0.1
    done
    fail "$3 does not listen on port $1"
}

# --- A kassa install as it is before the migration.
webroot=$tmp/www/mikrobill
KASSA=$webroot/kassa
SHIM=$tmp/opt/mikrobill/php
mkdir -p "$KASSA"
key1=AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=
key2=EBESExQVFhcYGRobHB0eHw==
cat >"$webroot/config.php" <<EOF
<?php
\$CRYPTO_KEY_1 = '$key1';
\$mysql_adr = '127.0.0.1'; \$mysql_user = 'mikrobill'; \$mysql_pass = 'not-used-here'; \$mysql_db = 'mikrobill';
EOF
# Stands for the vendor's mcrypt apicore.php; only its moving is checked.
printf '<?php\n// original MikroBILL apicore.php (mcrypt), fixture %s\n' "$$" >"$KASSA/apicore.php"
cp "$KASSA/apicore.php" "$tmp/original-apicore.php"
sim_port_placeholder=SIM_PORT
cat >"$KASSA/balance.php" <<EOF
<?php
// A kassa extension as written for the original: CRYPTO_KEY_1 comes from ../config.php;
// CRYPTO_KEY_2 is given because no MikroBILL database runs in this test.
include 'apicore.php';
\$Api = new MikroBILL_API('127.0.0.1', $sim_port_placeholder, 'api', 'secret', NULL, '$key2');
header('Content-Type: text/plain');
echo \$Api->Process('API.Client.633824158637492.BillingInfo.Money'), "\n";
echo \$Api->Process('API.Client.633824158637492.AutorizeInfo.Accounts', array('28236356495083' => array('IP', 'MAC'))), "\n";
echo var_export(\$Api->CheckConnection(), true), "\n";
\$Api->Close();
echo 'shim: ', (new ReflectionClass('MikroBILL_API'))->getFileName(), "\n";
echo 'ffi.enable: ', ini_get('ffi.enable'), "\n";
EOF
echo '<p>MikroBILL</p>' >"$webroot/index.html"

# --- The migration block of docs/src/php.md, run as written with $KASSA, $SHIM and $PHP_CONF
# pointing into the temporary folder, and a systemctl that records the restart.
. scripts/lib/doc-blocks.sh
php_conf=$tmp/php-conf.d
mkdir -p "$php_conf"
systemctl_stand_in "$tmp/stand-ins" "$tmp/systemctl.log"
PATH="$tmp/stand-ins:$PATH" run_doc_block docs/src/php.md "kassa migration: run by tests/deploy/run.sh" \
    KASSA="$KASSA" SHIM="$SHIM" PHP_CONF="$php_conf" ||
    fail "the migration commands of docs/src/php.md failed"
# php-fpm was restarted with the preload ini in place, before the kassa was switched to the shim.
[ "$(cat "$tmp/systemctl.log")" = "restart php8.2-fpm | kassa: <?php" ] ||
    fail "the migration did not restart php-fpm before switching the kassa: $(cat "$tmp/systemctl.log")"

cmp -s "$SHIM/apicore.php.orig" "$tmp/original-apicore.php" || fail "the original is not kept as \$SHIM/apicore.php.orig"
leftovers=$(find "$webroot" \( -name '*.so*' -o -name '*.dll' -o -name '*.h' -o -name '*.orig' -o -name preload.php \) -print)
[ -z "$leftovers" ] || fail "the migration leaves in the web root: $leftovers"
case "$SHIM" in "$webroot"/*) fail "SHIM is inside the web root" ;; esac

# The book shows each file as it is: docs/src/php.md includes it with mdBook's {{#include}}, and
# scripts/docs.sh fails when an include cannot be expanded.
for file in bindings/php/deploy/nginx-kassa.conf bindings/php/deploy/apache-kassa.conf \
    bindings/php/deploy/htaccess; do
    grep -qxF "{{#include ../../$file}}" docs/src/php.md ||
        fail "docs/src/php.md does not include $file"
done

# The preload ini the migration wrote, added to the servers' PHP conf.d.
grep -qxF "opcache.preload=$SHIM/preload.php" "$php_conf/90-mikrobill.ini" ||
    fail "the migration's ini does not preload \$SHIM/preload.php: $(cat "$php_conf/90-mikrobill.ini")"
export PHP_INI_SCAN_DIR=":$php_conf" # the leading ':' keeps PHP's own conf.d

# --- The simulator.
"$sim_bin" --listen 127.0.0.1:0 >"$tmp/logs/sim.out" 2>"$tmp/logs/sim.err" &
pids+=($!)
sim_port=
for _ in $(seq 100); do
    sim_port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/logs/sim.out")
    [ -n "$sim_port" ] && break
    kill -0 "${pids[-1]}" 2>/dev/null || fail "mikrobill-sim exited at startup"
    sleep 0.1
done
[ -n "$sim_port" ] || fail "mikrobill-sim did not report its port"
sed -i "s/$sim_port_placeholder/$sim_port/" "$KASSA/balance.php"

expected_page="{\"return\":\"100.01\",\"code\":0}
[{\"return\":\"1.1.1.1\",\"code\":0,\"path\":\"API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.IP\"},{\"return\":\"AA:AA:AA:AA:AA:AA\",\"code\":0,\"path\":\"API.Client.633824158637492.AutorizeInfo.Accounts.28236356495083.MAC\"}]
true
shim: $SHIM/apicore.php
ffi.enable: preload"

status_of() { # URL: the HTTP status; the body goes to $tmp/body
    curl -s -o "$tmp/body" -w '%{http_code}' --max-time 10 "$1" || echo "no-answer"
}
check_page() { # BASE NAME
    local status
    status=$(status_of "$1/kassa/balance.php")
    [ "$status" = 200 ] || fail "$2: kassa page answered $status: $(head -c 2000 "$tmp/body")"
    [ "$(cat "$tmp/body")" = "$expected_page" ] ||
        fail "$2: kassa page printed:
$(cat "$tmp/body")
expected:
$expected_page"
    status=$(status_of "$1/kassa/apicore.php")
    [ "$status" = 200 ] && [ ! -s "$tmp/body" ] || fail "$2: kassa/apicore.php answered $status with $(head -c 200 "$tmp/body")"
    echo "deploy: $2: kassa page through the shim: ok"
}
# Paths a web root must never serve, as the migration leaves it (nothing there: 404; config.php
# exists and is denied) and after careless copies (all there, all denied).
sensitive=(/kassa/libmikrobill.so /kassa/libmikrobill.so.0.3 /kassa/libmikrobill.so.0.3.0
    /kassa/mikrobill.dll /kassa/mikrobill.h /kassa/mikrobill%2eh /kassa/apicore.php.orig
    /kassa/apicore.php.bak /kassa/preload.php /kassa/native/linux-x86_64/libmikrobill.so
    /mikrobill.h /config.php)
check_denied() { # BASE NAME ALLOWED_STATUSES...
    local base=$1 name=$2 path status
    shift 2
    for path in "${sensitive[@]}"; do
        status=$(status_of "$base$path")
        [[ " $* " == *" $status "* ]] || fail "$name: $path answered $status, expected one of: $*"
    done
    echo "deploy: $name: ${#sensitive[@]} sensitive paths answer $*: ok"
}
check_served_without_snippet() { # BASE NAME: the careless copies leak when nothing denies them
    local path status
    for path in "${sensitive[@]}"; do
        status=$(status_of "$1$path")
        [ "$status" != 403 ] && [ "$status" != 404 ] ||
            fail "$2 (no snippet): $path answered $status, so the test proves nothing about the snippet"
    done
    status=$(status_of "$1/kassa/mikrobill.h")
    cmp -s "$tmp/body" "$SHIM/mikrobill.h" || fail "$2 (no snippet): the header copy was not served"
    echo "deploy: $2 (no snippet): the same copies are served: ok"
}
careless_copies() {
    mkdir -p "$KASSA/native/linux-x86_64"
    cp "$SHIM/libmikrobill.so" "$KASSA/libmikrobill.so"
    cp "$SHIM/libmikrobill.so" "$KASSA/libmikrobill.so.0.3"
    cp "$SHIM/libmikrobill.so" "$KASSA/libmikrobill.so.0.3.0"
    cp "$SHIM/libmikrobill.so" "$KASSA/native/linux-x86_64/libmikrobill.so"
    cp "$SHIM/libmikrobill.so" "$KASSA/mikrobill.dll"
    cp "$SHIM/mikrobill.h" "$KASSA/mikrobill.h"
    cp "$SHIM/mikrobill.h" "$webroot/mikrobill.h"
    cp "$SHIM/apicore.php.orig" "$KASSA/apicore.php.orig"
    cp "$SHIM/apicore.php.orig" "$KASSA/apicore.php.bak"
    cp "$SHIM/preload.php" "$KASSA/preload.php"
    cp bindings/php/deploy/htaccess "$webroot/.htaccess"
    chmod -R a+rX "$webroot"
}
remove_careless_copies() {
    rm -rf "$KASSA/native" "$KASSA"/libmikrobill.so* "$KASSA/mikrobill.dll" "$KASSA/mikrobill.h" \
        "$webroot/mikrobill.h" "$KASSA/apicore.php.orig" "$KASSA/apicore.php.bak" "$KASSA/preload.php" \
        "$webroot/.htaccess"
}

# --- nginx + php-fpm, each on a free loopback port, in the foreground, with private paths.
cat >"$tmp/fpm.conf" <<EOF
[global]
pid = $tmp/run/fpm.pid
error_log = $tmp/logs/fpm.log
daemonize = no
[kassa]
user = www-data
group = www-data
listen = 127.0.0.1:$fpm_port
listen.allowed_clients = 127.0.0.1
pm = static
pm.max_children = 2
catch_workers_output = yes
EOF
php-fpm8.2 -F -y "$tmp/fpm.conf" >"$tmp/logs/fpm.out" 2>&1 &
pids+=($!)
wait_for_port "$fpm_port" "${pids[-1]}" php-fpm

mkdir -p "$tmp/nginx"
php_location="location ~ \\.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass 127.0.0.1:$fpm_port;
        }"
cat >"$tmp/nginx/nginx.conf" <<EOF
user www-data;
daemon off;
worker_processes 1;
pid $tmp/run/nginx.pid;
error_log $tmp/logs/nginx-error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log $tmp/logs/nginx-access.log;
    client_body_temp_path $tmp/nginx/body;
    proxy_temp_path $tmp/nginx/proxy;
    fastcgi_temp_path $tmp/nginx/fastcgi;
    uwsgi_temp_path $tmp/nginx/uwsgi;
    scgi_temp_path $tmp/nginx/scgi;
    server {
        listen 127.0.0.1:$nginx_port;
        root $webroot;
        index index.php index.html;
        include $root/bindings/php/deploy/nginx-kassa.conf;
        $php_location
    }
    server {
        listen 127.0.0.1:$nginx_bare_port;
        root $webroot;
        $php_location
    }
}
EOF
nginx -p "$tmp/nginx" -e "$tmp/logs/nginx-error.log" -c "$tmp/nginx/nginx.conf" -t >"$tmp/logs/nginx-t.log" 2>&1 ||
    fail "nginx rejects the configuration: $(cat "$tmp/logs/nginx-t.log")"
nginx -p "$tmp/nginx" -e "$tmp/logs/nginx-error.log" -c "$tmp/nginx/nginx.conf" &
pids+=($!)
nginx_pid=$!
wait_for_port "$nginx_port" "$nginx_pid" nginx
wait_for_port "$nginx_bare_port" "$nginx_pid" nginx

nginx_url=http://127.0.0.1:$nginx_port
check_page "$nginx_url" nginx
check_denied "$nginx_url" "nginx, web root as migrated" 404 403
careless_copies
check_denied "$nginx_url" "nginx, careless copies in the web root" 403
[ "$(status_of "$nginx_url/.htaccess")" = 403 ] || fail "nginx serves .htaccess"
check_page "$nginx_url" "nginx, careless copies in the web root"
check_served_without_snippet "http://127.0.0.1:$nginx_bare_port" nginx
remove_careless_copies

# --- Apache + mod_php (prefork), on free loopback ports, in the foreground, with private paths.
# Three virtual hosts over the same web root: the vhost snippet (AllowOverride None, Debian's
# default), the .htaccess alone (AllowOverride AuthConfig), and neither (the control).
mkdir -p "$tmp/apache"
modules=/usr/lib/apache2/modules
vhost() { # PORT ALLOWOVERRIDE EXTRA
    cat <<EOF
<VirtualHost 127.0.0.1:$1>
    DocumentRoot $webroot
    <Directory $webroot>
        Require all granted
        AllowOverride $2
    </Directory>
    $3
</VirtualHost>
EOF
}
cat >"$tmp/apache/apache2.conf" <<EOF
ServerRoot $tmp/apache
ServerName 127.0.0.1
DefaultRuntimeDir $tmp/run
PidFile $tmp/run/apache2.pid
Mutex file:$tmp/run default
ErrorLog $tmp/logs/apache-error.log
LogLevel warn
User www-data
Group www-data
LoadModule mpm_prefork_module $modules/mod_mpm_prefork.so
LoadModule authz_core_module $modules/mod_authz_core.so
LoadModule dir_module $modules/mod_dir.so
LoadModule mime_module $modules/mod_mime.so
LoadModule php_module $modules/libphp8.2.so
StartServers 2
MinSpareServers 1
MaxSpareServers 2
MaxRequestWorkers 4
TypesConfig /etc/mime.types
DirectoryIndex index.php index.html
CustomLog $tmp/logs/apache-access.log common
<FilesMatch "\\.php\$">
    SetHandler application/x-httpd-php
</FilesMatch>
# As Debian's apache2.conf: .htaccess itself is never served.
<FilesMatch "^\\.ht">
    Require all denied
</FilesMatch>
<Directory />
    Require all denied
    AllowOverride None
</Directory>
Listen 127.0.0.1:$apache_conf_port
Listen 127.0.0.1:$apache_htaccess_port
Listen 127.0.0.1:$apache_bare_port
$(vhost "$apache_conf_port" None "Include $root/bindings/php/deploy/apache-kassa.conf")
$(vhost "$apache_htaccess_port" AuthConfig "")
$(vhost "$apache_bare_port" None "")
EOF
apache2 -f "$tmp/apache/apache2.conf" -t >"$tmp/logs/apache-t.log" 2>&1 ||
    fail "Apache rejects the configuration: $(cat "$tmp/logs/apache-t.log")"
# In a session of its own: at shutdown the prefork parent signals its whole process group, which
# would otherwise include this script. (setsid execs in place here: this job is no group leader.)
setsid apache2 -f "$tmp/apache/apache2.conf" -DFOREGROUND >"$tmp/logs/apache.out" 2>&1 &
pids+=($!)
apache_pid=$!
for port in "$apache_conf_port" "$apache_htaccess_port" "$apache_bare_port"; do
    wait_for_port "$port" "$apache_pid" Apache
done
for _ in $(seq 50); do # the pid file is written after the ports are opened
    [ -s "$tmp/run/apache2.pid" ] && break
    sleep 0.1
done
[ "$(cat "$tmp/run/apache2.pid" 2>/dev/null)" = "$apache_pid" ] || fail "Apache's pid is not the one started"

apache_url=http://127.0.0.1:$apache_conf_port
htaccess_url=http://127.0.0.1:$apache_htaccess_port
check_page "$apache_url" "Apache (vhost snippet)"
check_denied "$apache_url" "Apache (vhost snippet), web root as migrated" 404 403
careless_copies
check_denied "$apache_url" "Apache (vhost snippet), careless copies in the web root" 403
check_denied "$htaccess_url" "Apache (.htaccess), careless copies in the web root" 403
check_page "$htaccess_url" "Apache (.htaccess), careless copies in the web root"
check_served_without_snippet "http://127.0.0.1:$apache_bare_port" Apache

echo "deploy: all checks passed"
