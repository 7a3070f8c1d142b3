#!/usr/bin/env bash
# Installs what the demo and the tests need on a fresh Debian 12 machine (run as root, or with
# sudo available). Packages already present are not reinstalled.
#   scripts/setup.sh          everything the tests need
#   scripts/setup.sh --demo   only what the demo needs
#   scripts/setup.sh --bench  what scripts/bench-php-fpm.sh needs
set -euo pipefail

need_demo=(gcc)
need_tests=(gcc valgrind libasan8 python3 python3-venv
    php8.2-cli php8.2-mcrypt php8.2-mysql php8.2-opcache php8.2-fpm libfcgi-bin phpunit
    mono-mcs mono-runtime mariadb-server tmux
    chromium nodejs)
need_bench=(php8.2-cli php8.2-mysql php8.2-opcache php8.2-fpm mariadb-server nginx wrk curl)

packages=("${need_tests[@]}")
packages+=(nginx apache2 libapache2-mod-php8.2 curl) # tests/deploy/run.sh: real web servers
[ "${1:-}" = "--demo" ] && packages=("${need_demo[@]}")
[ "${1:-}" = "--bench" ] && packages=("${need_bench[@]}")

missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm: Debian's package, unless a nodejs that bundles its own npm (NodeSource) is installed.
[ -z "${1:-}" ] && ! command -v npm >/dev/null && missing+=(npm)
if [ "${#missing[@]}" -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v cargo >/dev/null || { echo "setup: cargo (Rust stable) is required" >&2; exit 1; }
