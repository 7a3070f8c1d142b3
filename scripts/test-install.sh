#!/usr/bin/env bash
# Install tests: each artifact in dist/ (scripts/dist.sh) installed the way its ecosystem does it,
# then used from the installed copy against a simulator, with no MIKROBILL_LIB or MIKROBILL_HEADER:
#   deb       dpkg -i; the C test program built with `pkg-config --cflags --libs mikrobill`
#             against /usr, and fully static with `pkg-config --static`; mb, mikrobill-sim and
#             the PHP shim from /usr/share/php; its PHP ini enabled by phpenmod, under php-fpm
#             and nginx; then removed (the ini disabled) and purged
#   tarball   unpacked to a prefix; the C test program built through its relocatable .pc,
#             shared and fully static
#   wheel     pip install into a fresh venv, imported from another directory
#   composer  a fresh project requiring mikrobill/apicore from dist/composer (artifact repository)
#   packagist the package committed to a git repository by scripts/dist/composer-vcs.sh (as the
#             release workflow does for Packagist), required from it as a VCS repository
#   nuget     the nupkg unpacked as NuGet's package folder; a Mono program references its
#             assembly and is pointed at its runtimes/linux-x64/native (LD_LIBRARY_PATH), as the
#             .NET chapter of the docs tells Mono users
#   windows   the zip's mikrobill.dll, mb.exe and mikrobill-sim.exe under wine (tests/windows)
#   nginx     the tarball's shim serving a kassa under nginx + php-fpm, preloaded by the ini
#             its ini.php prints, behind its nginx snippet
# Needs root (dpkg -i) and the hostile test peer: cargo build --release --examples.
#   scripts/test-install.sh [deb|tarball|wheel|composer|packagist|nuget|windows|nginx]...
#   (default: all)
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(python3 -c 'import tomllib; print(tomllib.load(open("'"$root"'/Cargo.toml", "rb"))["workspace"]["package"]["version"])')
# The name programs linked against the packages ask for (0.x: one per minor version).
IFS=. read -r major minor _ <<<"$version"
if [ "$major" = 0 ]; then soname=libmikrobill.so.$major.$minor; else soname=libmikrobill.so.$major; fi
dist=$root/dist
hostile=${MIKROBILL_TARGET:-$root/target/release}/examples/hostile-server
. "$root/tests/c/simulator-args.sh"
. "$root/scripts/lib/doc-blocks.sh"
unset MIKROBILL_LIB MIKROBILL_HEADER MIKROBILL_SIM

KEY1="AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
KEY2="EBESExQVFhcYGRobHB0eHw=="
MONEY='{"return":"100.01","code":0}'

work=$(mktemp -d)
pids=()
deb_installed=""
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    [ -z "$deb_installed" ] || dpkg -P mikrobill >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "test-install: $*" >&2; return 1; }

# start_server NAME COMMAND...: waits for "listening on HOST:PORT" and sets $port.
start_server() {
    local name=$1; shift
    "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=("$!")
    port=""
    for _ in $(seq 1 200); do
        if grep -q '^listening on ' "$work/$name.out" 2>/dev/null; then
            port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$work/$name.out" | head -n1)
            return 0
        fi
        sleep 0.05
    done
    cat "$work/$name.err" >&2
    fail "$name did not start"
}

# c_test NAME SIM CFLAGS-AND-LIBS...: builds tests/c/mikrobill_test.c with those flags and runs it
# against SIM (an installed mikrobill-sim) and the hostile peer.
c_test() {
    local name=$1 sim=$2; shift 2
    start_server "$name-sim" "$sim" --listen 127.0.0.1:0 "${c_test_sim_args[@]}" || return 1
    local sim_port=$port
    start_server "$name-hostile" "$hostile" || return 1
    local hostile_port=$port
    local dead_port
    dead_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    gcc -std=c11 -Wall -Wextra -Werror -Wpedantic "$root/tests/c/mikrobill_test.c" -o "$work/$name-c" \
        "$@" -pthread || fail "$name: the C test program does not build" || return 1
    "$work/$name-c" "$sim_port" "$hostile_port" "$dead_port" || fail "$name: the C test program failed"
}

# static_c_test NAME SIM: the C test program linked with -static through `pkg-config --static`
# (the mikrobill.pc on PKG_CONFIG_PATH or the system's): libmikrobill.a and Libs.private must be
# all a fully static glibc program needs.
static_c_test() {
    local name=$1 sim=$2
    # shellcheck disable=SC2046  # pkg-config's output is a list of flags
    c_test "$name" "$sim" -static $(pkg-config --static --cflags --libs mikrobill) || return 1
    local headers
    headers=$(objdump -p "$work/$name-c") || fail "$name: objdump failed" || return 1
    ! grep -Eq '^ *(NEEDED|INTERP) ' <<<"$headers" ||
        fail "$name: the program is not static: $(grep -E '^ *(NEEDED|INTERP) ' <<<"$headers")"
}

# php_check NAME SHIM-OR-AUTOLOAD PORT: the kassa's calls through an installed shim.
php_check() {
    local name=$1 shim=$2 port=$3
    mkdir -p "$work/$name-php/elsewhere"
    cat >"$work/$name-php/check.php" <<EOF
<?php
require '$shim';
\$api = new MikroBILL_API('127.0.0.1', $port, 'api', 'secret', '$KEY1', '$KEY2');
echo \$api->Process('API.Client.633824158637492.BillingInfo.Money'), "\n";
echo \$api->Process('API.Client.633824158637492.PersonalDataInfo.MobileTel', '+79990000003'), "\n";
echo MikroBILL_FFI::version(MikroBILL_FFI::get()), "\n";
EOF
    local out
    out=$(cd "$work/$name-php/elsewhere" && php "$work/$name-php/check.php") || fail "$name: PHP failed: $out" || return 1
    [ "$out" = "$MONEY"$'\n''{"return":"OK","code":0}'$'\n'"$version" ] || fail "$name: PHP printed: $out"
}

test_deb() {
    [ "$(id -u)" -eq 0 ] || fail "deb: dpkg -i needs root" || return 1
    ! dpkg-query -W mikrobill >/dev/null 2>&1 || fail "deb: a mikrobill package is already installed" || return 1
    dpkg -i "$dist/mikrobill_${version}_amd64.deb" >/dev/null || fail "deb: dpkg -i failed" || return 1
    deb_installed=1
    [ "$(pkg-config --modversion mikrobill)" = "$version" ] || fail "deb: pkg-config sees no mikrobill $version" || return 1
    # shellcheck disable=SC2046  # pkg-config's output is a list of flags
    c_test deb /usr/bin/mikrobill-sim $(pkg-config --cflags --libs mikrobill) || return 1
    # /lib is /usr/lib on merged-/usr systems (Debian 12), and ldd may name either. ldd's output is
    # read whole first: grep -q stops reading at its match, and under pipefail the SIGPIPE that
    # ldd may then get fails the pipeline (it did, once, on a busy machine).
    local linked
    linked=$(ldd "$work/deb-c") || fail "deb: ldd failed" || return 1
    grep -Eq "$soname => (/usr)?/lib/x86_64-linux-gnu/$soname " <<<"$linked" ||
        fail "deb: the program is not linked to the installed $soname: $linked" || return 1
    static_c_test deb-static /usr/bin/mikrobill-sim || return 1
    local sim_port
    start_server deb-sim2 /usr/bin/mikrobill-sim --listen 127.0.0.1:0 || return 1
    sim_port=$port
    [ "$(/usr/bin/mb process --port "$sim_port" API.Client.633824158637492.BillingInfo.Money)" = "$MONEY" ] ||
        fail "deb: /usr/bin/mb" || return 1
    php_check deb /usr/share/php/mikrobill/apicore.php "$sim_port" || return 1
    deb_php_ini "$sim_port" || return 1
    # The gateway: its binary runs, postinst made its user and a config folder only it can read,
    # and the unit is installed but not enabled (there is no config yet).
    /usr/bin/mikrobill-gateway --version | grep -qx "mikrobill-gateway $version" ||
        fail "deb: mikrobill-gateway --version" || return 1
    getent passwd mikrobill-gateway >/dev/null || fail "deb: no mikrobill-gateway user" || return 1
    [ "$(stat -c '%U:%G %a' /etc/mikrobill-gateway)" = "root:mikrobill-gateway 750" ] ||
        fail "deb: /etc/mikrobill-gateway is $(stat -c '%U:%G %a' /etc/mikrobill-gateway)" || return 1
    [ -f /lib/systemd/system/mikrobill-gateway.service ] || fail "deb: no systemd unit" || return 1
    deb_gateway_service "$sim_port" || return 1
    deb_ini_upgrade || return 1
    dpkg -r mikrobill >/dev/null || fail "deb: dpkg -r failed" || return 1
    [ ! -e "/usr/lib/x86_64-linux-gnu/$soname" ] && [ ! -e /usr/include/mikrobill.h ] ||
        fail "deb: files left after dpkg -r" || return 1
    # Left enabled, the ini would make php-fpm's next start fail on the removed preload.php.
    [ ! -e /etc/php/8.2/fpm/conf.d/90-mikrobill.ini ] && [ ! -L /etc/php/8.2/fpm/conf.d/90-mikrobill.ini ] ||
        fail "deb: dpkg -r left the ini enabled for php-fpm" || return 1
    dpkg -P mikrobill >/dev/null || fail "deb: dpkg -P failed" || return 1
    deb_installed=""
    [ ! -e /etc/php/8.2/mods-available/mikrobill.ini ] && [ ! -e /etc/php/8.2/mods-available/mikrobill.ini.ucf-dist ] ||
        fail "deb: dpkg -P left mods-available/mikrobill.ini or its .ucf-dist" || return 1
    [ -z "$(ucfq -w mikrobill)" ] || fail "deb: dpkg -P left the ini registered with ucf: $(ucfq -w mikrobill)"
}

# deb_ini_upgrade: ucf keeps mods-available/mikrobill.ini as Debian's PHP extensions keep theirs.
# Two later versions whose ini differs are made from the .deb: the first replaces the ini, which
# the provider has not changed; the second, after the provider changed it, leaves it as it is,
# with the new text beside it as mikrobill.ini.ucf-dist. The ini stays enabled throughout.
deb_ini_upgrade() {
    local mods=/etc/php/8.2/mods-available/mikrobill.ini shipped=/usr/share/mikrobill/deploy/mikrobill.ini
    local link=/etc/php/8.2/fpm/conf.d/90-mikrobill.ini step next
    for step in 1 2; do
        next=$work/deb-next$step
        dpkg-deb -R "$dist/mikrobill_${version}_amd64.deb" "$next" || fail "deb: dpkg-deb -R failed" || return 1
        sed -i "s/^Version: .*/Version: $version+next$step/" "$next/DEBIAN/control"
        printf '; next %s\n' "$step" >>"$next$shipped"
        (cd "$next" && find usr lib -type f | sort | xargs md5sum >DEBIAN/md5sums)
        dpkg-deb --root-owner-group --build "$next" "$next.deb" >/dev/null || fail "deb: dpkg-deb --build failed" || return 1
        [ "$step" = 1 ] || printf "; the provider's\n" >>"$mods"
        dpkg -i "$next.deb" </dev/null >/dev/null || fail "deb: upgrading to $version+next$step failed" || return 1
        [ "$(readlink "$link")" = "$mods" ] || fail "deb: the upgrade to +next$step disabled the ini" || return 1
    done
    [ "$(tail -n 2 "$mods")" = "; next 1"$'\n'"; the provider's" ] ||
        fail "deb: the ini is not the first upgrade's, as the provider changed it: $(tail -n 3 "$mods")" || return 1
    cmp -s "$mods.ucf-dist" "$shipped" && [ "$(tail -n 1 "$shipped")" = "; next 2" ] ||
        fail "deb: the second upgrade's ini is not beside the provider's as mikrobill.ini.ucf-dist" || return 1
}

# deb_php_ini SIM_PORT: postinst offered the ini to PHP 8.2's mods-available and did not enable
# it; the .deb's migration block of docs/src/php.md enables it for php-fpm (phpenmod), and a real
# php-fpm then preloads the installed shim and serves the kassa page through it.
deb_php_ini() {
    local mods=/etc/php/8.2/mods-available/mikrobill.ini link=/etc/php/8.2/fpm/conf.d/90-mikrobill.ini
    cmp -s "$mods" /usr/share/mikrobill/deploy/mikrobill.ini || fail "deb: postinst did not offer $mods" || return 1
    [ ! -e "$link" ] || fail "deb: postinst enabled the ini behind the provider's back" || return 1
    migrate_kassa deb "kassa migration (.deb): run by scripts/test-install.sh deb" \
        /usr/share/php/mikrobill/apicore.php || return 1
    [ "$(readlink "$link")" = "$mods" ] || fail "deb: the block's phpenmod made no link $link" || return 1
    kassa_page deb "$1" /usr/share/mikrobill/deploy/nginx-kassa.conf
}

# deb_gateway_service SIM_PORT: the installed unit as systemd would run it, where systemd is not
# PID 1 (CI): `systemd-analyze verify` checks the unit; its ExecStartPre and ExecStart lines run as
# its User= with a config in /etc/mikrobill-gateway that only that user (and root) can read; the
# gateway then reaches the simulator and serves a token's call.
deb_gateway_service() {
    local sim_port=$1 unit=/lib/systemd/system/mikrobill-gateway.service
    systemd-analyze verify "$unit" || fail "deb: systemd-analyze verify $unit" || return 1
    local user pre start token gw_port
    user=$(sed -n 's/^User=//p' "$unit")
    pre=$(sed -n 's/^ExecStartPre=//p' "$unit")
    start=$(sed -n 's/^ExecStart=//p' "$unit")
    [ "$user" = mikrobill-gateway ] && [ -n "$pre" ] && [ -n "$start" ] ||
        fail "deb: the unit's User=, ExecStartPre= or ExecStart= is not what this test expects" || return 1
    token=$(/usr/bin/mikrobill-gateway token new deb-test | sed -n 's/^ *\(mbg_[0-9a-f]*\)$/\1/p')
    gw_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    install -m 0640 -o root -g mikrobill-gateway /dev/stdin /etc/mikrobill-gateway/password <<<"secret"
    install -m 0640 -o root -g mikrobill-gateway /dev/stdin /etc/mikrobill-gateway/gateway.toml <<EOF
[server]
listen = "127.0.0.1:$gw_port"

[core]
host = "127.0.0.1"
port = $sim_port
login = "api"
password_file = "/etc/mikrobill-gateway/password"
key1 = "$KEY1"
key2 = "$KEY2"

[[token]]
name = "deb-test"
sha256 = "$(printf '%s' "$token" | sha256sum | cut -d' ' -f1)"
paths = ["API.Client.*.BillingInfo.Money"]
read_only = true
rate_per_second = 100
burst = 100
EOF
    # Nobody else reads the password (the folder is 0750 root:mikrobill-gateway).
    ! setpriv --reuid=nobody --regid=nogroup --clear-groups cat /etc/mikrobill-gateway/password 2>/dev/null ||
        fail "deb: another user can read /etc/mikrobill-gateway/password" || return 1
    local as_user=(setpriv --reuid="$user" --regid="$user" --init-groups)
    # shellcheck disable=SC2086  # the unit's command lines, split as systemd splits these
    "${as_user[@]}" $pre >/dev/null || fail "deb: the unit's ExecStartPre failed as $user" || return 1
    # shellcheck disable=SC2086
    start_server deb-gateway "${as_user[@]}" $start || return 1
    local reply
    reply=$(curl -s "http://127.0.0.1:$gw_port/v1/process" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d '{"path":"API.Client.633824158637492.BillingInfo.Money"}')
    [ "$reply" = "$MONEY" ] || fail "deb: a call through the gateway run as its unit says: $reply" || return 1
    kill "${pids[-1]}" 2>/dev/null
    wait "${pids[-1]}" 2>/dev/null || true
    rm -f /etc/mikrobill-gateway/gateway.toml /etc/mikrobill-gateway/password
}

test_tarball() {
    local prefix=$work/opt/mikrobill
    mkdir -p "$prefix"
    tar -C "$prefix" --strip-components=1 -xzf "$dist/mikrobill-$version-linux-x86_64.tar.gz" ||
        fail "tarball: cannot unpack" || return 1
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    [ "$(pkg-config --modversion mikrobill)" = "$version" ] || fail "tarball: pkg-config sees no mikrobill $version" || return 1
    # shellcheck disable=SC2046
    c_test tarball "$prefix/bin/mikrobill-sim" $(pkg-config --cflags --libs mikrobill) \
        -Wl,-rpath,"$prefix/lib" || return 1
    static_c_test tarball-static "$prefix/bin/mikrobill-sim" || return 1
    unset PKG_CONFIG_PATH
    local sim_port
    start_server tarball-sim2 "$prefix/bin/mikrobill-sim" --listen 127.0.0.1:0 || return 1
    sim_port=$port
    [ "$("$prefix/bin/mb" process --port "$sim_port" API.Client.633824158637492.BillingInfo.Money)" = "$MONEY" ] ||
        fail "tarball: bin/mb" || return 1
    "$prefix/bin/mikrobill-gateway" --version | grep -qx "mikrobill-gateway $version" ||
        fail "tarball: bin/mikrobill-gateway --version" || return 1
    # No MIKROBILL_LIB: the shim finds the library in the same unpacked tarball (../../../lib).
    php_check tarball "$prefix/share/php/mikrobill/apicore.php" "$sim_port"
}

# A simulator from the tarball for the binding tests (so no build tree is needed).
artifact_sim() {
    local dir=$work/sim-bin
    if [ ! -x "$dir/bin/mikrobill-sim" ]; then
        mkdir -p "$dir"
        tar -C "$dir" --strip-components=1 -xzf "$dist/mikrobill-$version-linux-x86_64.tar.gz" || return 1
    fi
    start_server "$1" "$dir/bin/mikrobill-sim" --listen 127.0.0.1:0
}

test_wheel() {
    artifact_sim wheel-sim || return 1
    python3 -m venv "$work/venv" || fail "wheel: cannot create a venv" || return 1
    "$work/venv/bin/pip" install --quiet --disable-pip-version-check --no-index \
        "$dist/python/mikrobill-$version-py3-none-manylinux2014_x86_64.whl" || fail "wheel: pip install failed" || return 1
    mkdir -p "$work/elsewhere"
    local out
    out=$(cd "$work/elsewhere" && "$work/venv/bin/python" - "$port" <<EOF
import sys, mikrobill
with mikrobill.MikroBILL_API("127.0.0.1", int(sys.argv[1]), "api", "secret", "$KEY1", "$KEY2") as api:
    print(api.Process("API.Client.633824158637492.BillingInfo.Money"))
location, version = mikrobill.library_info()
print(location.startswith("$work/venv/lib/"), location.endswith("/mikrobill/libmikrobill.so"), version)
print(mikrobill.__version__)
EOF
) || fail "wheel: the program failed: $out" || return 1
    [ "$out" = "$MONEY"$'\n'"True True $version"$'\n'"$version" ] || fail "wheel: printed $out"
}

test_composer() {
    command -v composer >/dev/null || fail "composer: composer is not installed" || return 1
    artifact_sim composer-sim || return 1
    local project=$work/kassa-project
    mkdir -p "$project"
    # The README's instructions: an artifact repository (a folder of package zips) and no packagist.
    cat >"$project/composer.json" <<EOF
{
    "repositories": [
        {"type": "artifact", "url": "$dist/composer"},
        {"packagist.org": false}
    ],
    "require": {"mikrobill/apicore": "^${version%.*}"}
}
EOF
    (cd "$project" && COMPOSER_HOME=$work/composer-home COMPOSER_ALLOW_SUPERUSER=1 \
        composer install --no-interaction --no-progress --quiet) || fail "composer: install failed" || return 1
    [ -f "$project/vendor/mikrobill/apicore/native/linux-x86_64/libmikrobill.so" ] ||
        fail "composer: the native library is not in vendor/" || return 1
    php_check composer "$project/vendor/autoload.php" "$port"
}

# What Packagist does with the release workflow's push: the package's own git repository, read
# as a VCS repository (tags are the versions), required from a fresh project.
test_packagist() {
    for tool in composer git; do
        command -v "$tool" >/dev/null || fail "packagist: $tool is not installed" || return 1
    done
    artifact_sim packagist-sim || return 1
    local repo=$work/apicore.git clone=$work/apicore-clone
    git init -q --bare -b main "$repo" && git clone -q "$repo" "$clone" 2>/dev/null ||
        fail "packagist: cannot make the package repository" || return 1
    GIT_AUTHOR_NAME=test GIT_AUTHOR_EMAIL=test@localhost GIT_COMMITTER_NAME=test \
        GIT_COMMITTER_EMAIL=test@localhost bash "$root/scripts/dist/composer-vcs.sh" \
        "$dist/composer/mikrobill-apicore-$version.zip" "$clone" "$version" >/dev/null ||
        fail "packagist: composer-vcs.sh failed" || return 1
    git -C "$clone" push -q origin HEAD:refs/heads/main "refs/tags/v$version" ||
        fail "packagist: push failed" || return 1
    local project=$work/packagist-project
    mkdir -p "$project"
    cat >"$project/composer.json" <<EOF
{
    "repositories": [
        {"type": "vcs", "url": "$repo"},
        {"packagist.org": false}
    ],
    "require": {"mikrobill/apicore": "^${version%.*}"}
}
EOF
    (cd "$project" && COMPOSER_HOME=$work/composer-home COMPOSER_ALLOW_SUPERUSER=1 \
        composer install --no-interaction --no-progress --quiet) || fail "packagist: install failed" || return 1
    [ "$(git -C "$project/vendor/mikrobill/apicore" describe --tags 2>/dev/null)" = "v$version" ] ||
        fail "packagist: vendor/mikrobill/apicore is not the v$version tag" || return 1
    php_check packagist "$project/vendor/autoload.php" "$port"
}

test_nuget() {
    for tool in mcs mono unzip; do
        command -v "$tool" >/dev/null || fail "nuget: $tool is not installed" || return 1
    done
    artifact_sim nuget-sim || return 1
    # The folder layout of NuGet's global packages folder: ~/.nuget/packages/ID/VERSION/.
    local package=$work/nuget-packages/mikrobill/$version
    mkdir -p "$package"
    unzip -q "$dist/nuget/MikroBILL.$version.nupkg" -d "$package" || fail "nuget: cannot unpack" || return 1
    local assembly=$package/lib/netstandard2.0/MikroBILL.dll
    mkdir -p "$work/nuget-app"
    cat >"$work/nuget-app/Program.cs" <<EOF
using System;
using MikroBILL;
static class Program
{
    static int Main(string[] args)
    {
        using (var api = new MikroBILL_API("127.0.0.1", int.Parse(args[0]), "api", "secret", "$KEY1", "$KEY2"))
        {
            Console.WriteLine(api.Process("API.Client.633824158637492.BillingInfo.Money"));
            Console.WriteLine(MikroBILL_API.LibraryVersion);
        }
        return 0;
    }
}
EOF
    mcs -nologo -out:"$work/nuget-app/app.exe" -r:"$assembly" "$work/nuget-app/Program.cs" ||
        fail "nuget: the program does not build against the package's assembly" || return 1
    local out
    out=$(cd "$work/nuget-app" && MONO_PATH=$package/lib/netstandard2.0 \
        LD_LIBRARY_PATH=$package/runtimes/linux-x64/native mono app.exe "$port") ||
        fail "nuget: the program failed: $out" || return 1
    [ "$out" = "$MONEY"$'\n'"$version" ] || fail "nuget: printed $out"
}

test_windows() {
    local unpacked=$work/windows
    mkdir -p "$unpacked"
    unzip -q "$dist/mikrobill-$version-windows-x86_64.zip" -d "$unpacked" || fail "windows: cannot unpack" || return 1
    local top=$unpacked/mikrobill-$version-windows-x86_64
    WINDOWS_BIN=$top/bin WINDOWS_IMPLIB=$top/lib WINDOWS_INCLUDE=$top/include bash "$root/tests/windows/run.sh"
}

# migrate_kassa NAME MARKER APICORE [VAR=VALUE...]: a kassa web root as MikroBILL installs it
# ($work/NAME-site/www, the original apicore.php in kassa/), migrated by the shell block of
# docs/src/php.md marked MARKER, run as written: only KASSA, BACKUP and the given VARs point into
# the test's folders, and systemctl is a stand-in. The block must restart php-fpm before it
# switches the kassa, keep the original in BACKUP, and leave a kassa/apicore.php that requires
# APICORE.
migrate_kassa() {
    local name=$1 marker=$2 apicore=$3
    shift 3
    local site=$work/$name-site
    mkdir -p "$site/www/kassa" "$site/backup-parent"
    printf '<?php // the original apicore.php (mcrypt)\n' >"$site/www/kassa/apicore.php"
    systemctl_stand_in "$site/stand-ins" "$site/systemctl.log"
    PATH="$site/stand-ins:$PATH" run_doc_block "$root/docs/src/php.md" "$marker" \
        KASSA="$site/www/kassa" BACKUP="$site/backup-parent/backup" "$@" ||
        fail "$name: the migration block of docs/src/php.md failed" || return 1
    [ "$(cat "$site/systemctl.log")" = "restart php8.2-fpm | kassa: <?php // the original apicore.php (mcrypt)" ] ||
        fail "$name: the block did not restart php-fpm before switching the kassa: $(cat "$site/systemctl.log")" ||
        return 1
    [ "$(stat -c %a "$site/backup-parent/backup")" = 700 ] &&
        grep -q 'the original apicore.php' "$site/backup-parent/backup/apicore.php.orig" ||
        fail "$name: the original is not kept in BACKUP" || return 1
    [ "$(cat "$site/www/kassa/apicore.php")" = "<?php require_once '$apicore';" ] ||
        fail "$name: kassa/apicore.php is $(cat "$site/www/kassa/apicore.php")"
}

# kassa_page NAME SIM_PORT DENY_SNIPPET [CONF_D]: the kassa that migrate_kassa NAME left, under
# nginx + php-fpm 8.2, both in the foreground with private paths; php-fpm reads PHP's ini as its
# service would (plus CONF_D, if given), with nothing else set: no MIKROBILL_LIB, PHP's default
# ffi.enable=preload. The kassa page must work through the preloaded shim, and a library, header,
# apicore.php.orig, preload.php or config.php that lands in the web root anyway must be refused
# by the package's copy of bindings/php/deploy/nginx-kassa.conf (DENY_SNIPPET).
kassa_page() {
    local name=$1 sim_port=$2 deny_snippet=$3 conf_d=${4:-}
    for tool in nginx php-fpm8.2 curl; do
        command -v "$tool" >/dev/null || fail "$name: $tool is not installed" || return 1
    done
    [ -f "$deny_snippet" ] || fail "$name: no nginx snippet at $deny_snippet" || return 1
    local site=$work/$name-site
    [ -f "$site/www/kassa/apicore.php" ] || fail "$name: no migrated kassa" || return 1
    mkdir -p "$site/www/kassa/vendor/mikrobill" "$site/tmp"
    cat >"$site/www/kassa/pay.php" <<PHP
<?php
include 'apicore.php';
\$Api = new MikroBILL_API('127.0.0.1', $sim_port, 'api', 'secret', '$KEY1', '$KEY2');
echo \$Api->Process('API.Client.633824158637492.BillingInfo.Money'), "\n", ini_get('ffi.enable'), "\n";
\$preloaded = opcache_get_status(false)['preload_statistics']['classes'] ?? [];
echo in_array('MikroBILL_API', \$preloaded, true) ? 'MikroBILL_API preloaded' : 'not preloaded';
PHP
    local denied=(apicore.php.orig libmikrobill.so "$soname" mikrobill.dll mikrobill.h preload.php
        config.php vendor/mikrobill/libmikrobill.so)
    local file
    for file in "${denied[@]}"; do echo "must not be served" >"$site/www/kassa/$file"; done
    # The pool runs as www-data, the ini's default preload user.
    chmod 755 "$work"
    chmod -R a+rX "$site"
    local http_port
    http_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    cat >"$site/fpm.conf" <<FPM
[global]
pid = $site/fpm.pid
error_log = $site/fpm.log
daemonize = no
[kassa]
user = www-data
group = www-data
listen = $site/fpm.sock
listen.mode = 0666
pm = static
pm.max_children = 2
catch_workers_output = yes
FPM
    cat >"$site/nginx.conf" <<NGINX
worker_processes 1;
pid $site/nginx.pid;
error_log $site/nginx-error.log;
events {}
http {
    access_log $site/access.log;
    client_body_temp_path $site/tmp/body;
    fastcgi_temp_path $site/tmp/fastcgi;
    proxy_temp_path $site/tmp/proxy;
    uwsgi_temp_path $site/tmp/uwsgi;
    scgi_temp_path $site/tmp/scgi;
    server {
        listen 127.0.0.1:$http_port;
        root $site/www;
        include $deny_snippet;
        location ~ \.php\$ {
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME \$document_root\$fastcgi_script_name;
            fastcgi_pass unix:$site/fpm.sock;
        }
    }
}
NGINX
    # The leading ':' of PHP_INI_SCAN_DIR keeps PHP's own conf.d.
    env ${conf_d:+PHP_INI_SCAN_DIR=":$conf_d"} php-fpm8.2 --fpm-config "$site/fpm.conf" --nodaemonize \
        >"$site/fpm.out" 2>&1 &
    local fpm_pid=$!
    pids+=("$fpm_pid")
    nginx -c "$site/nginx.conf" -p "$site" -g 'daemon off;' >"$site/nginx.out" 2>&1 &
    local nginx_pid=$!
    pids+=("$nginx_pid")
    local code=000
    for _ in $(seq 1 100); do
        if [ -S "$site/fpm.sock" ]; then
            code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$http_port/kassa/pay.php") || code=000
            [ "$code" = 000 ] || break
        fi
        kill -0 "$fpm_pid" 2>/dev/null || break # a preload that fails stops php-fpm's start
        sleep 0.1
    done
    local page
    page=$(curl -s -w '|%{http_code}' "http://127.0.0.1:$http_port/kassa/pay.php")
    if [ "$page" != "$MONEY"$'\n''preload'$'\n''MikroBILL_API preloaded|200' ]; then
        cat "$site/fpm.out" "$site/fpm.log" "$site/nginx-error.log" "$site/nginx.out" >&2
        fail "$name: the kassa page answered $page"
        return 1
    fi
    for file in "${denied[@]}"; do
        code=$(curl -s -o "$site/body" -w '%{http_code}' "http://127.0.0.1:$http_port/kassa/$file")
        case $code in
            403 | 404) ;;
            *) fail "$name: kassa/$file answered $code: $(cat "$site/body")"; return 1 ;;
        esac
    done
    kill "$nginx_pid" "$fpm_pid" 2>/dev/null
    wait "$nginx_pid" "$fpm_pid" 2>/dev/null
    echo "$name: the kassa page works through the preloaded shim; ${#denied[@]} files that must stay private answer 403/404"
}

# The tarball's migration block of docs/src/php.md, then its shim under nginx + php-fpm,
# preloaded by the ini that the tarball's ini.php printed for the folder it was unpacked to, with
# the tarball's nginx snippet. (tests/deploy/run.sh covers the from-source migration under nginx
# and Apache.)
test_nginx() {
    artifact_sim nginx-sim || return 1
    local sim_port=$port
    local prefix=$work/sim-bin
    [ -n "$work" ] && [ -d "$prefix" ] || fail "nginx: no unpacked tarball" || return 1
    local conf_d=$work/nginx-conf.d
    mkdir -p "$conf_d"
    migrate_kassa nginx "kassa migration (tarball): run by scripts/test-install.sh nginx" \
        "$prefix/share/php/mikrobill/apicore.php" MIKROBILL="$prefix" PHP_CONF="$conf_d" || return 1
    grep -qxF "opcache.preload=$prefix/share/php/mikrobill/preload.php" "$conf_d/90-mikrobill.ini" ||
        fail "nginx: the tarball's ini.php does not preload its shim: $(cat "$conf_d/90-mikrobill.ini")" ||
        return 1
    chmod -R a+rX "$prefix"
    kassa_page nginx "$sim_port" "$prefix/share/mikrobill/deploy/nginx-kassa.conf" "$conf_d"
}

[ -x "$hostile" ] || { echo "test-install: $hostile is missing; run cargo build --release --examples" >&2; exit 1; }
[ -f "$dist/SHA256SUMS" ] || { echo "test-install: dist/ is empty; run scripts/dist.sh" >&2; exit 1; }
selected=("$@")
[ "${#selected[@]}" -gt 0 ] || selected=(deb tarball wheel composer packagist nuget windows nginx)
failed=0
for name in "${selected[@]}"; do
    echo "== install test: $name"
    if "test_$name"; then echo "ok      $name"; else echo "FAILED  $name"; failed=$((failed + 1)); fi
done
echo "install tests: $(( ${#selected[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
