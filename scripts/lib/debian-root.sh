#!/usr/bin/env bash
# Makes (once) and prints the path of a Debian root file system for testing the bindings on the
# PHP and Python versions other Debian releases ship:
#   bash scripts/lib/debian-root.sh bullseye   # PHP 7.4, Python 3.9, glibc 2.31
#   bash scripts/lib/debian-root.sh trixie     # PHP 8.4, Python 3.13, glibc 2.41
#   bash scripts/lib/debian-root.sh bookworm   # Debian 12 with nothing added: a fresh machine
#                                              # (tests/install-docs copies it, never changes it)
# The root is built by mmdebstrap from Debian's own suites (installed here if missing) and kept
# under MIKROBILL_ROOTS (default /var/cache/mikrobill-roots/SUITE); a root whose package list
# changed is built again. `chroot ROOT php ...` then shares the host's loopback, so tests in the
# root reach servers started on the host. Needs root (mmdebstrap and chroot do).
set -euo pipefail

suite=${1:?usage: debian-root.sh bullseye|trixie|bookworm}
case $suite in
bullseye) packages=php7.4 ;;
trixie) packages=php8.4 ;;
bookworm) packages="" ;;
*)
    echo "debian-root.sh: unknown suite $suite (bullseye, trixie or bookworm)" >&2
    exit 2
    ;;
esac
[ -z "$packages" ] ||
    packages="$packages-cli,$packages-mysql,phpunit,python3,python3-venv,python3-pip,ca-certificates"
base=${MIKROBILL_ROOTS:-/var/cache/mikrobill-roots}
root=$base/$suite
stamp=$root/.mikrobill-packages

mkdir -p "$base"
# One builder at a time per suite: a second caller waits, then finds the root ready.
exec 9>"$base/$suite.lock"
flock 9

if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$packages" ]; then
    echo "$root"
    exit 0
fi

if ! command -v mmdebstrap >/dev/null; then
    echo "debian-root.sh: installing mmdebstrap" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >&2
fi
rm -rf "$root.new"
echo "debian-root.sh: building the $suite root (about half a minute)" >&2
mmdebstrap --quiet --variant=apt ${packages:+--include="$packages"} "$suite" "$root.new" >&2
echo "$packages" >"$root.new/.mikrobill-packages"
rm -rf "$root"
mv "$root.new" "$root"
echo "$root"
