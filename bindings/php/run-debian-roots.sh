#!/usr/bin/env bash
# Runs the PHP binding's suite (calls, keys, faults, errors, loader, secrets...) with the PHP and
# PHPUnit of other Debian releases, each in a root file system of its own:
#   bullseye  PHP 7.4, PHPUnit 9, glibc 2.31
#   trixie    PHP 8.4, PHPUnit 11, glibc 2.41
# (bookworm's PHP 8.2 is run-tests.sh without a root). The simulator, fault-proxy,
# hostile-server and MariaDB run from the host's build (see run-tests.sh, MIKROBILL_PHP_ROOT).
#   bash bindings/php/run-debian-roots.sh [SUITE...]     (default: bullseye trixie)
# The library loaded in a root must find the glibc it was linked against there:
#   MIKROBILL_LIB             for trixie (glibc 2.41, newer than the host's): the host's build,
#                             default target/release/libmikrobill.so
#   MIKROBILL_LIB_GLIBC217    for bullseye (glibc 2.31, older than the host's 2.36): a build
#                             linked by zig against glibc 2.17, as users get it; default the one
#                             scripts/dist.sh builds for its tarball,
#                             target/dist-build/x86_64-unknown-linux-gnu/release/libmikrobill.so
#                             (or: cargo zigbuild --release --target x86_64-unknown-linux-gnu.2.17
#                              -p mikrobill --lib)
#   MIKROBILL_DEBIAN_ROOT_<SUITE>  a ready root to use instead of scripts/lib/debian-root.sh's
# The roots need php-cli, php-mysql and phpunit of their suite.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
fail() { echo "run-debian-roots.sh: $*" >&2; exit 1; }

host_lib=${MIKROBILL_LIB:-$repo/target/release/libmikrobill.so}
glibc217_lib=${MIKROBILL_LIB_GLIBC217:-$repo/target/dist-build/x86_64-unknown-linux-gnu/release/libmikrobill.so}

status=0
for suite in "${@:-bullseye trixie}"; do
    for suite in $suite; do
        case $suite in
        bullseye) lib=$glibc217_lib ;;
        trixie) lib=$host_lib ;;
        *) fail "unknown suite $suite (bullseye or trixie)" ;;
        esac
        [ -f "$lib" ] || fail "$lib not found (see the comment at the top for how to build it)"
        override=MIKROBILL_DEBIAN_ROOT_$suite
        root=${!override:-}
        [ -n "$root" ] || root=$(bash "$repo/scripts/lib/debian-root.sh" "$suite") || fail "no $suite root"
        php_version=$(chroot "$root" php -r 'echo PHP_VERSION;')
        echo "== PHP $php_version ($suite, $root, $lib)"
        # The test suite "roots" of phpunit.xml: every file but those needing php-fpm, mcrypt
        # (the original's cipher, gone since PHP 7.2), php -n with extensions by file name or
        # /proc; the tests of the other files that need php-fpm are its group php-fpm.
        if MIKROBILL_PHP_ROOT=$root MIKROBILL_LIB=$lib bash "$here/run-tests.sh" --testsuite roots \
            --exclude-group php-fpm; then
            echo "== PHP $php_version ($suite): passed"
        else
            echo "== PHP $php_version ($suite): FAILED"
            status=1
        fi
    done
done
exit "$status"
