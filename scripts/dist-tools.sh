#!/usr/bin/env bash
# Installs what scripts/dist.sh needs on a fresh Debian 12 machine (root or sudo) and prints the
# PATH to use: apt packages, the Windows Rust target, cargo-zigbuild, and zig from PyPI's
# `ziglang` in a private virtualenv (Debian's python3 refuses system-wide pip installs).
#   eval "$(scripts/dist-tools.sh)"
# Everything it installs goes to stderr's log; stdout carries only the export line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# Pinned so that two runs of dist.sh link with the same zig (reproducible artifacts).
ZIGLANG_VERSION=0.13.0
CARGO_ZIGBUILD_VERSION=0.24.1
SETUPTOOLS_VERSION=75.3.0

packages=(gcc binutils zip unzip dpkg-dev python3 python3-venv php8.2-cli php8.2-zip composer
    mono-mcs mono-runtime gcc-mingw-w64-x86-64 pkg-config)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "dist-tools: installing ${missing[*]}" >&2
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

command -v cargo >/dev/null || { echo "dist-tools: cargo (Rust stable, via rustup) is required" >&2; exit 1; }
rustup target list --installed | grep -qx x86_64-pc-windows-gnu || rustup target add x86_64-pc-windows-gnu >&2
cargo zigbuild --help >/dev/null 2>&1 ||
    cargo install --locked --version "$CARGO_ZIGBUILD_VERSION" cargo-zigbuild >&2

venv=$root/target/dist-tools/venv
if ! "$venv/bin/python" -c "import ziglang, setuptools; assert setuptools.__version__ == '$SETUPTOOLS_VERSION'" 2>/dev/null ||
    [ "$("$venv/bin/python" -m pip show ziglang 2>/dev/null | sed -n 's/^Version: //p')" != "$ZIGLANG_VERSION" ]; then
    python3 -m venv "$venv" >&2
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
        "ziglang==$ZIGLANG_VERSION" "setuptools==$SETUPTOOLS_VERSION" >&2
fi
# cargo-zigbuild runs `python3 -m ziglang` when no `zig` is on PATH: the venv's python3 has it.
echo "export PATH=\"$venv/bin:\$PATH\""
