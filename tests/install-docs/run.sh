#!/usr/bin/env bash
# The install steps of docs/src/building.md, run as written on a fresh machine: each block marked
# `<!-- install: NAME -->` runs as root in a fresh copy of a Debian 12 root made by mmdebstrap with
# nothing added (scripts/lib/debian-root.sh bookworm), in a folder holding only NAME's package
# from dist/ and app.c (the README's C example), with a clean environment. The root shares the
# host's network, so the block's apt-get reaches Debian's mirrors and its calls reach a simulator
# started here on 127.0.0.1:7403, the address the blocks use. A block passes when it exits 0 and
# its output holds the simulator's reply once per call it makes. A missing dependency, a wrong
# path or a command that needs something the docs do not install fails here, as it would for a
# provider. Needs root (chroot) and dist/ (scripts/dist.sh).
#   tests/install-docs/run.sh [deb|tarball|composer|wheel]...   (default: all)
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/lib/doc-blocks.sh"
version=$(python3 -c 'import tomllib; print(tomllib.load(open("'"$root"'/Cargo.toml", "rb"))["workspace"]["package"]["version"])')
dist=$root/dist
MONEY='{"return":"100.01","code":0}'

fail() { echo "install-docs: $*" >&2; return 1; }
[ "$(id -u)" -eq 0 ] || { echo "install-docs: needs root (chroot)" >&2; exit 1; }
[ -f "$dist/SHA256SUMS" ] || { echo "install-docs: dist/ is empty; run scripts/dist.sh" >&2; exit 1; }

work=$(mktemp -d)
sim_pid=""
cleanup() {
    [ -z "$sim_pid" ] || { kill "$sim_pid" 2>/dev/null; wait "$sim_pid" 2>/dev/null; }
    rm -rf "$work"
}
trap cleanup EXIT

base=$(bash "$root/scripts/lib/debian-root.sh" bookworm) || { echo "install-docs: no bookworm root" >&2; exit 1; }

# The simulator of the release tarball on the blocks' address.
mkdir -p "$work/sim"
tar -C "$work/sim" --strip-components=1 -xzf "$dist/mikrobill-$version-linux-x86_64.tar.gz" ||
    { echo "install-docs: cannot unpack the tarball" >&2; exit 1; }
if (exec 3<>/dev/tcp/127.0.0.1/7403) 2>/dev/null; then
    echo "install-docs: 127.0.0.1:7403, the docs' address, is taken by another program" >&2
    exit 1
fi
"$work/sim/bin/mikrobill-sim" --listen 127.0.0.1:7403 >"$work/sim.out" 2>"$work/sim.err" &
sim_pid=$!
for _ in $(seq 1 100); do
    grep -q '^listening on 127.0.0.1:7403$' "$work/sim.out" 2>/dev/null && break
    sleep 0.05
done
grep -q '^listening on 127.0.0.1:7403$' "$work/sim.out" ||
    { cat "$work/sim.err" >&2; echo "install-docs: the simulator did not start" >&2; exit 1; }

app_c=$(doc_block "$root/README.md" "app.c: built by tests/install-docs/run.sh")
[ -n "$app_c" ] || { echo "install-docs: README.md has no C example marked for this test" >&2; exit 1; }

# run_block NAME CALLS FILE...: NAME's block in a fresh copy of the root, in /root/install with
# FILEs (the package) and app.c; CALLS is how many replies from the simulator it must print.
run_block() {
    local name=$1 calls=$2
    shift 2
    local block
    block=$(doc_block "$root/docs/src/building.md" "install: $name")
    [ -n "$block" ] || fail "$name: docs/src/building.md has no block marked <!-- install: $name -->" || return 1
    local machine=$work/root-$name
    cp -a "$base" "$machine" || fail "$name: cannot copy the root" || return 1
    mkdir -p "$machine/root/install"
    cp "$@" "$machine/root/install/" || fail "$name: cannot copy the package" || return 1
    printf '%s\n' "$app_c" >"$machine/root/install/app.c"
    printf '%s\n' "$block" >"$machine/root/install/steps.sh"
    local started=$SECONDS status=0
    chroot "$machine" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
        PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        /bin/bash -c 'cd /root/install && exec bash -euo pipefail steps.sh' \
        >"$work/$name.log" 2>&1 </dev/null || status=$?
    local seen
    seen=$(grep -cF "$MONEY" "$work/$name.log")
    if [ "$status" -ne 0 ] || [ "$seen" -ne "$calls" ]; then
        tail -n 30 "$work/$name.log" >&2
        fail "$name: the block exited $status and printed the simulator's reply $seen times, wanted $calls"
        return 1
    fi
    rm -rf "$machine"
    echo "install-docs: $name: the block ran as written in a fresh Debian 12 ($((SECONDS - started)) s)"
}

test_deb() { run_block deb 2 "$dist/mikrobill_${version}_amd64.deb"; }
test_tarball() { run_block tarball 2 "$dist/mikrobill-$version-linux-x86_64.tar.gz"; }
test_composer() { run_block composer 1 "$dist/composer/mikrobill-apicore-$version.zip"; }
test_wheel() { run_block wheel 1 "$dist/python/mikrobill-$version-py3-none-manylinux2014_x86_64.whl"; }

selected=("$@")
[ "${#selected[@]}" -gt 0 ] || selected=(deb tarball composer wheel)
failed=0
for name in "${selected[@]}"; do
    if "test_$name"; then echo "ok      $name"; else echo "FAILED  $name"; failed=$((failed + 1)); fi
done
echo "install docs: $(( ${#selected[@]} - failed )) passed, $failed failed"
[ "$failed" -eq 0 ]
