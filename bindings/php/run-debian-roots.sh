#!/usr/bin/env bash
# Runs the PHP binding's suite (calls, keys, faults, errors, loader, secrets...) with the PHP and
# PHPUnit of other Debian releases, each in a root file system of its own:
#   bullseye  PHP 7.4, PHPUnit 9, glibc 2.31
#   trixie    PHP 8.4, PHPUnit 11, glibc 2.41
# (bookworm's PHP 8.2 is run-tests.sh without a root). The simulator, fault-proxy,
# hostile-server and MariaDB run from the host's build (see run-tests.sh, MIKROBILL_PHP_ROOT).
#   bash bindings/php/run-debian-roots.sh [SUITE...]     (default: bullseye trixie)
#   MIKROBILL_ROOT_LIB  the library loaded in the roots; default: the one in the release tarball
#                       dist/mikrobill-VERSION-linux-x86_64.tar.gz (scripts/dist.sh), linked
#                       against glibc 2.17, as users get it. target/release's needs the host's glibc.
#   MIKROBILL_DEBIAN_ROOT_<SUITE>  a ready root to use instead of scripts/lib/debian-root.sh's
# The roots need php-cli, php-mysql and phpunit of their suite.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "run-debian-roots.sh: $*" >&2; exit 1; }

scratch=$(mktemp -d /tmp/mikrobill-php-roots.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
lib=${MIKROBILL_ROOT_LIB:-}
if [ -z "$lib" ]; then
    version=$(python3 -c 'import tomllib; print(tomllib.load(open("'"$repo"'/Cargo.toml", "rb"))["workspace"]["package"]["version"])')
    tarball=$repo/dist/mikrobill-$version-linux-x86_64.tar.gz
    [ -f "$tarball" ] || fail "$tarball not found (run scripts/dist.sh first, or set MIKROBILL_ROOT_LIB)"
    tar -C "$scratch" -xzf "$tarball"
    lib=$(find "$scratch" -name "libmikrobill.so.$version" | head -n1)
    [ -n "$lib" ] || fail "no libmikrobill.so.$version in $tarball"
fi

status=0
for suite in "${@:-bullseye trixie}"; do
    for suite in $suite; do
        override=MIKROBILL_DEBIAN_ROOT_$suite
        root=${!override:-}
        [ -n "$root" ] || root=$(bash "$repo/scripts/lib/debian-root.sh" "$suite") || fail "no $suite root"
        php_version=$(chroot "$root" php -r 'echo PHP_VERSION;')
        echo "== PHP $php_version ($suite, $root)"
        # The test suite "roots" of phpunit.xml: every file but those needing php-fpm, mcrypt
        # (the original's cipher, gone since PHP 7.2) or php -n with extensions by file name.
        if MIKROBILL_PHP_ROOT=$root MIKROBILL_LIB=$lib bash "$here/run-tests.sh" --testsuite "roots"; then
            echo "== PHP $php_version ($suite): passed"
        else
            echo "== PHP $php_version ($suite): FAILED"
            status=1
        fi
    done
done
exit "$status"
