#!/usr/bin/env bash
# Runs the Python binding's tests on the Python of another Debian release, installed from the
# release wheel, beside run-tests.sh's run on this machine's (bookworm's 3.11):
#   bash bindings/python/run-tests-debian.sh bullseye   # Python 3.9,  glibc 2.31
#   bash bindings/python/run-tests-debian.sh trixie     # Python 3.13, glibc 2.41
# Extra arguments go to pytest.
#   MIKROBILL_PY_WHEEL     the wheel to test (default: dist/python/mikrobill-*-manylinux2014_x86_64.whl
#                          from scripts/dist.sh, whose library is linked against glibc 2.17 and
#                          so loads in every root; a library built here needs this glibc)
#   MIKROBILL_SIM          the simulator (default target/release/mikrobill-sim)
#   MIKROBILL_FAULT_PROXY  the fault proxy (default target/release/examples/fault-proxy)
#
# The root file system comes from scripts/lib/debian-root.sh (Debian's own python3 and
# python3-venv). Everything runs in a mount and PID namespace of its
# own: /proc, /tmp and /mnt of the root are private mounts that vanish with it (the root itself,
# shared with other runs, is never written), and when the run ends in any way every process in
# it, the simulators included, is killed with it. The tests reach what they need under /mnt:
#   /mnt/python  bindings/python (read-only): the tests, and the sources test_wheel builds from
#   /mnt/venv    a virtualenv kept in target/python-debian/SUITE/venv across runs, holding the
#                pinned pytest and setuptools of requirements-test.txt (from PyPI with the
#                root's pip, trusting this machine's CA bundle) and the wheel under test
#   /mnt/host    the simulator, the fault proxy and the PHP (the tests' oracle, with mcrypt) of
#                this machine, each run by this machine's dynamic loader with the libraries it
#                links (a bookworm build needs a newer glibc than bullseye has), the loader
#                tests' fake library (the roots have no C compiler), the wheel
#   /mnt/php/tests  bindings/php/tests (read-only): the original client, the oracle of a refused
#                login
# The root shares this machine's network, so its pip reaches PyPI and its tests the simulators on
# loopback. Needs root (namespaces, mount, chroot); run-tests.sh stays the bookworm run.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"

die() { echo "run-tests-debian.sh: $*" >&2; exit 1; }

suite=${1:?usage: run-tests-debian.sh bullseye|trixie [pytest arguments]}
shift
[ "$(id -u)" -eq 0 ] || die "needs root (unshare, mount and chroot)"
for tool in unshare chroot readelf ldd cc; do
    command -v "$tool" >/dev/null || die "$tool is not installed"
done

wheel=${MIKROBILL_PY_WHEEL:-}
if [ -z "$wheel" ]; then
    wheel=$(find "$REPO/dist/python" -maxdepth 1 -name 'mikrobill-*-manylinux2014_x86_64.whl' 2>/dev/null | sort | tail -n 1)
fi
[ -n "$wheel" ] && [ -f "$wheel" ] ||
    die "no wheel to test: run scripts/dist.sh first (dist/python/*manylinux2014_x86_64.whl) or set MIKROBILL_PY_WHEEL"
sim=${MIKROBILL_SIM:-$REPO/target/release/mikrobill-sim}
proxy=${MIKROBILL_FAULT_PROXY:-$REPO/target/release/examples/fault-proxy}
[ -x "$sim" ] || die "simulator not found at $sim (cargo build --release)"
[ -x "$proxy" ] || die "fault-proxy not found at $proxy (cargo build --release --examples)"

root=$(bash "$REPO/scripts/lib/debian-root.sh" "$suite") || die "no $suite root"
venv_dir="$REPO/target/python-debian/$suite/venv"
mkdir -p "$venv_dir"
requirements=$(grep -E '^(pytest|setuptools)==' "$HERE/requirements-test.txt" | tr '\n' ' ')
[ -n "$requirements" ] || die "requirements-test.txt pins neither pytest nor setuptools"

stage=$(mktemp -d "${TMPDIR:-/tmp}/mikrobill-py-$suite.XXXXXX")
NS_PID=""
cleanup() {
    trap - EXIT INT TERM HUP
    if [ -n "$NS_PID" ]; then
        # unshare --kill-child passes this on to the namespace's first process; when that one
        # ends, the kernel kills every other process of the namespace.
        kill -TERM "$NS_PID" 2>/dev/null || true
        wait "$NS_PID" 2>/dev/null || true
    fi
    rm -rf "$stage"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# This machine's executables, runnable in any root: started through their own dynamic loader
# with the libraries they were linked against.
mkdir -p "$stage/lib" "$stage/bin" "$stage/fake"
stage_libraries() { # ELF-FILE: the shared libraries it links, into $stage/lib
    local lib
    for lib in $(ldd "$1" | sed -n 's/.*=> \(\/[^ ]*\) .*/\1/p'); do
        cp -L "$lib" "$stage/lib/"
    done
}
stage_executable() { # PATH NAME [ARGUMENT...]: runs as /mnt/host/bin/NAME [ARGUMENT...] "$@"
    local interpreter path=$1 name=$2
    shift 2
    interpreter=$(readelf -l "$path" | sed -n 's/.*\[Requesting program interpreter: \(.*\)\]/\1/p')
    [ -n "$interpreter" ] || die "$path has no program interpreter"
    cp -L "$interpreter" "$stage/lib/ld.so"
    stage_libraries "$path"
    cp -L "$path" "$stage/bin/$name.real"
    printf '#!/bin/sh\nexec /mnt/host/lib/ld.so --library-path /mnt/host/lib /mnt/host/bin/%s.real %s "$@"\n' \
        "$name" "$*" >"$stage/bin/$name"
    chmod 0755 "$stage/bin/$name"
}
stage_executable "$sim" mikrobill-sim
stage_executable "$proxy" fault-proxy
# The tests' oracles are this machine's PHP, as in run-tests.sh: json_encode for the bytes on the
# wire, and bindings/php/tests/original-style-reply.php (the original client, which needs the
# mcrypt extension) for a refused login. The reference stays the same whatever Python is tested.
php=$(command -v php) || die "php (php8.2-cli) is not installed; it is the json_encode oracle"
php_extensions=$("$php" -n -r 'echo ini_get("extension_dir");')
[ -f "$php_extensions/mcrypt.so" ] || die "the mcrypt extension (php8.2-mcrypt) is not installed"
mkdir -p "$stage/php-extensions"
cp "$php_extensions/mcrypt.so" "$stage/php-extensions/"
stage_libraries "$php_extensions/mcrypt.so"
# Notices to stderr, as the host's php.ini has it: stdout carries only the oracle's answer.
stage_executable "$(readlink -f "$php")" php -d extension_dir=/mnt/host/php-extensions -d extension=mcrypt \
    -d display_errors=stderr
cc -shared -fPIC -o "$stage/fake/libmikrobill.so" "$HERE/tests/fake_library.c"
cp "$wheel" "$stage/"
cp -L /etc/ssl/certs/ca-certificates.crt "$stage/ca.crt" 2>/dev/null ||
    die "no CA bundle at /etc/ssl/certs/ca-certificates.crt (ca-certificates) for the root's pip"

# Inside the namespaces: the private mounts, then the run in the root.
inner=$(cat <<'EOF'
set -euo pipefail
root=$1 here=$2 venv_dir=$3 stage=$4 wheel=$5 requirements=$6
shift 6
mount -t proc proc "$root/proc"
mount -t tmpfs tmpfs "$root/tmp"
mount -t tmpfs tmpfs "$root/mnt"
mkdir -p "$root/mnt/python" "$root/mnt/venv" "$root/mnt/host" "$root/mnt/php/tests"
mount --bind "$here" "$root/mnt/python"
mount -o remount,bind,ro "$root/mnt/python"
mount --bind "$here/../php/tests" "$root/mnt/php/tests"
mount -o remount,bind,ro "$root/mnt/php/tests"
mount --bind "$venv_dir" "$root/mnt/venv"
mount --bind "$stage" "$root/mnt/host"
exec chroot "$root" /usr/bin/env -i PATH=/mnt/venv/bin:/mnt/host/bin:/usr/bin:/bin HOME=/tmp LANG=C.UTF-8 \
    PYTHONDONTWRITEBYTECODE=1 PIP_CERT=/mnt/host/ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MIKROBILL_SIM=/mnt/host/bin/mikrobill-sim MIKROBILL_FAULT_PROXY=/mnt/host/bin/fault-proxy \
    MIKROBILL_FAKE_LIB=/mnt/host/fake/libmikrobill.so \
    /bin/bash -c '
set -euo pipefail
wheel=$1 requirements=$2
shift 2
[ -x /mnt/venv/bin/python ] || /usr/bin/python3 -m venv /mnt/venv
python --version
# Pinned: once the venv holds them, pip is satisfied without asking the index.
python -m pip install --quiet $requirements
python -m pip install --quiet --no-deps --force-reinstall "/mnt/host/$wheel"
# The wheel as a user gets it: its own library, found in the package, loads on this glibc.
python -c "import mikrobill; print(\"mikrobill %s loads %s\" % (mikrobill.__version__, mikrobill.library_info()))"
export MIKROBILL_LIB=$(python -c "import os, mikrobill; print(os.path.join(os.path.dirname(mikrobill.__file__), \"libmikrobill.so\"))")
cd /mnt/python
set +e
python -m pytest -p no:cacheprovider "$@" tests
status=$?
[ "$status" -ne 5 ] || echo "run-tests-debian.sh: pytest collected no tests" >&2
exit "$status"
' run-in-root "$wheel" "$requirements" "$@"
EOF
)

echo "== Python binding on $suite ($(basename "$wheel"))"
# In the background so that a signal to this script is handled at once (see run-tests.sh).
unshare --pid --fork --kill-child --mount --propagation private \
    bash -c "$inner" inner "$root" "$HERE" "$venv_dir" "$stage" "$(basename "$wheel")" "$requirements" "$@" &
NS_PID=$!
set +e
wait "$NS_PID"
status=$?
set -e
NS_PID=""
exit "$status"
