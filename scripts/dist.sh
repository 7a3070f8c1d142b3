#!/usr/bin/env bash
# Builds every release artifact into dist/ from this checkout:
#   mikrobill-VERSION-linux-x86_64.tar.gz    shared lib (SONAME libmikrobill.so.0.MINOR, see
#                                            below), static lib, header, mikrobill.pc, mb,
#                                            mikrobill-sim, gateway, PHP shim, web server snippets
#   mikrobill-VERSION-windows-x86_64.zip     mikrobill.dll + import lib, header, mb.exe,
#                                            mikrobill-sim.exe, gateway, PHP shim and its ini,
#                                            web server snippets
#   mikrobill_VERSION_amd64.deb              one package, not a runtime/-dev pair: the PHP shim
#                                            parses the header at run time; the PHP ini for
#                                            phpenmod, web server snippets
#   composer/mikrobill-apicore-VERSION.zip   Composer package with both platforms' libraries
#   python/mikrobill-VERSION-py3-none-{manylinux2014_x86_64,win_amd64}.whl
#   nuget/MikroBILL.VERSION.nupkg            assembly + linux-x64 and win-x64 natives; metadata
#                                            from bindings/dotnet/MikroBILL.csproj
#   SHA256SUMS
# One source for each fact: the version is Cargo.toml's workspace version (every file name, the
# .deb, .pc, composer.json and nuspec get it from here); the SONAME is decided below; the .pc
# files are scripts/dist/mikrobill.pc.in; the nupkg's metadata is the csproj.
# Linux binaries are linked by zig against glibc 2.17 (cargo-zigbuild), so they load on any
# x86_64 glibc distribution from 2014 on (RHEL/CentOS 7, Debian 8, Ubuntu 14.04).
# Reproducible: timestamps come from the last commit (SOURCE_DATE_EPOCH), archives are sorted
# and owner-free, build paths are remapped, zig and cargo-zigbuild are pinned. Two clean clones
# of one commit give identical files except mb.exe and mikrobill-sim.exe (so the Windows zip):
# their import tables are ordered by the random names of rustc's temporary import libraries
# (raw-dylib, used by windows-sys); mikrobill.dll is identical.
#   scripts/dist.sh          (installs its tools first, see scripts/dist-tools.sh)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

# An assignment, so that a failure of dist-tools.sh stops the build (eval "$(...)" would not).
tools_env=$(bash scripts/dist-tools.sh)
eval "$tools_env"

version=$(python3 -c 'import tomllib; print(tomllib.load(open("Cargo.toml", "rb"))["workspace"]["package"]["version"])')
# The SONAME names the C ABI. While the major version is 0 each minor release may break it (0.3
# removed exports of 0.2), so 0.3.x is libmikrobill.so.0.3; from 1.0 on, libmikrobill.so.MAJOR.
# Set here and only here, at link time: a build tree's target/release/libmikrobill.so has none,
# so programs and tests linked against a build tree ask for the file name it has
# (libmikrobill.so); the packages install the library where other programs link against it.
IFS=. read -r major minor _ <<<"$version"
if [ "$major" = 0 ]; then abi=$major.$minor; else abi=$major; fi
soname=libmikrobill.so.$abi

# Inputs other parts of the tree provide, checked before the long build.
[ -f bindings/dotnet/pack.sh ] ||
    { echo "dist: bindings/dotnet/pack.sh is missing (it builds the nupkg's lib/ and runtimes/)" >&2; exit 1; }
# The toolchain a packager needs, as each crate's rust-version says: true for the locked build.
python3 scripts/dist/check_rust_versions.py
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export TZ=UTC LC_ALL=C
umask 022
GLIBC_FLOOR=2.17
linux_target=x86_64-unknown-linux-gnu
windows_target=x86_64-pc-windows-gnu
build_dir=$root/target/dist-build
out=$root/dist
stage=$root/target/dist-stage
rm -rf "$out" "$stage"
mkdir -p "$out" "$stage"

remap="--remap-path-prefix=$root=/build/mikrobill --remap-path-prefix=${CARGO_HOME:-$HOME/.cargo}=/cargo"
export CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUSTFLAGS="$remap"
# GNU ld stamps PE files with the link time unless told not to; the COFF symbol table (not needed
# to run, exports are kept) names rustc's temporary folders, so it goes too.
export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUSTFLAGS="$remap -C link-arg=-Wl,--no-insert-timestamp -C strip=symbols"

echo "== Linux x86_64 (glibc $GLIBC_FLOOR)"
cargo zigbuild --release --locked --target "$linux_target.$GLIBC_FLOOR" --target-dir "$build_dir" \
    -p mikrobill-sim -p mikrobill-cli -p mikrobill-gateway --bins
# The library last: the binaries' build relinks it without the SONAME, which only `cargo rustc`
# can give to this one crate (RUSTFLAGS would give it to the executables too).
cargo-zigbuild rustc --release --locked --target "$linux_target.$GLIBC_FLOOR" --target-dir "$build_dir" \
    -p mikrobill --lib -- -C link-arg=-Wl,-soname,"$soname"
linux=$build_dir/$linux_target/release
built_soname=$(objdump -p "$linux/libmikrobill.so" | awk '$1 == "SONAME" { print $2 }')
[ "$built_soname" = "$soname" ] ||
    { echo "dist: $linux/libmikrobill.so has SONAME '$built_soname', not $soname" \
        "(a build script's -soname link-arg overrides this one: only scripts/dist.sh may set it)" >&2; exit 1; }
echo "== Windows x86_64"
cargo build --release --locked --target "$windows_target" --target-dir "$build_dir" \
    -p mikrobill --lib
cargo build --release --locked --target "$windows_target" --target-dir "$build_dir" \
    -p mikrobill-sim -p mikrobill-cli -p mikrobill-gateway --bins
windows=$build_dir/$windows_target/release

# The gateway's example config and its unit, beside its binary in every package.
gateway_files() { # gateway_files DIR
    install -d "$1"
    install -m 0644 gateway/deploy/gateway.example.toml gateway/deploy/mikrobill-gateway.service "$1/"
    install -m 0644 docs/src/gateway.md "$1/README.md"
}

# Every staged file gets the same mtime, so archives do not depend on when they were built.
settle() { find "$1" -exec touch -h -d "@$SOURCE_DATE_EPOCH" {} +; }
targz() { # targz DIR-IN-STAGE ARCHIVE
    settle "$stage/$1"
    tar -C "$stage" --sort=name --owner=0 --group=0 --numeric-owner --mtime="@$SOURCE_DATE_EPOCH" \
        -cf - "$1" | gzip -9 -n >"$2"
}
zipdir() { # zipdir DIR ARCHIVE: the contents of DIR at the archive's top level
    settle "$1"
    rm -f "$2"
    (cd "$1" && find . -mindepth 1 | sed 's|^\./||' | sort | zip -q -X -D -9 "$2" -@)
}

# The shared library: the real file libmikrobill.so.VERSION, the SONAME's link that the loader
# finds (ldconfig makes the same one), and libmikrobill.so for `cc -lmikrobill`.
install_shared_library() { # DIR
    install -m 0755 "$linux/libmikrobill.so" "$1/libmikrobill.so.$version"
    ln -sf "libmikrobill.so.$version" "$1/$soname"
    ln -sf "$soname" "$1/libmikrobill.so"
    install -m 0644 "$linux/libmikrobill.a" "$1/libmikrobill.a"
}

pkg_config() { # PREFIX LIBDIR: scripts/dist/mikrobill.pc.in for one layout
    sed "s|@PREFIX@|$1|; s|@LIBDIR@|$2|; s|@VERSION@|$version|" scripts/dist/mikrobill.pc.in
}

php_shim() { # DIR: apicore.php, preload.php and ini.php (prints the php.ini lines for DIR)
    install -m 0644 bindings/php/apicore.php bindings/php/preload.php bindings/php/ini.php "$1/"
}

# The web server snippets that deny the shim's files in a web root (docs/src/php.md).
deploy_files() { # DIR
    install -d "$1"
    install -m 0644 bindings/php/deploy/nginx-kassa.conf bindings/php/deploy/apache-kassa.conf \
        bindings/php/deploy/htaccess "$1/"
}

echo "== tarball"
name=mikrobill-$version-linux-x86_64
t=$stage/$name
install -d "$t/bin" "$t/lib/pkgconfig" "$t/include" "$t/share/php/mikrobill"
install -m 0755 "$linux/mb" "$linux/mikrobill-sim" "$linux/mikrobill-gateway" "$t/bin/"
gateway_files "$t/share/gateway"
install_shared_library "$t/lib"
install -m 0644 include/mikrobill.h "$t/include/"
# ${pcfiledir}: the unpacked tree works wherever it is put, with no edit.
# shellcheck disable=SC2016  # pkg-config expands these, not the shell
pkg_config '${pcfiledir}/../..' '${prefix}/lib' >"$t/lib/pkgconfig/mikrobill.pc"
php_shim "$t/share/php/mikrobill"
ln -s ../../../include/mikrobill.h "$t/share/php/mikrobill/mikrobill.h"
# No ini: its preload path is where the tarball is unpacked, so share/php/mikrobill/ini.php
# prints it there.
deploy_files "$t/share/mikrobill/deploy"
install -m 0644 LICENSE CHANGELOG.md "$t/"
sed "s/@VERSION@/$version/g; s/@SONAME@/$soname/g" scripts/dist/INSTALL.linux >"$t/INSTALL"
targz "$name" "$out/$name.tar.gz"

echo "== zip"
name=mikrobill-$version-windows-x86_64
w=$stage/$name
install -d "$w/bin" "$w/lib" "$w/include" "$w/php"
install -m 0755 "$windows/mikrobill.dll" "$windows/mb.exe" "$windows/mikrobill-sim.exe" \
    "$windows/mikrobill-gateway.exe" "$w/bin/"
gateway_files "$w/gateway"
install -m 0644 "$windows/libmikrobill.dll.a" "$w/lib/"
install -m 0644 include/mikrobill.h "$w/include/"
php_shim "$w/php"
install -m 0644 include/mikrobill.h "$w/php/"
deploy_files "$w/deploy"
# Windows' ini names no path (no preload there), so the zip carries it ready, with CRLF line ends.
php bindings/php/ini.php --platform=windows | sed 's/$/\r/' >"$w/php/mikrobill.ini"
install -m 0644 LICENSE CHANGELOG.md "$w/"
sed "s/@VERSION@/$version/g; s/\$/\r/" scripts/dist/INSTALL.windows >"$w/INSTALL.txt"
settle "$w"
(cd "$stage" && find "$name" | sort | zip -q -X -D -9 "$out/$name.zip" -@)

echo "== .deb"
d=$stage/deb
multiarch=x86_64-linux-gnu
install -d "$d/DEBIAN" "$d/usr/bin" "$d/usr/lib/$multiarch/pkgconfig" "$d/usr/include" \
    "$d/usr/share/php/mikrobill" "$d/usr/share/doc/mikrobill" "$d/lib/systemd/system"
install -m 0755 "$linux/mb" "$linux/mikrobill-sim" "$linux/mikrobill-gateway" "$d/usr/bin/"
# The gateway's unit, not enabled: there is no config until the provider writes one (see
# docs/src/gateway.md). postinst makes its system user and a config folder only it can read.
install -m 0644 gateway/deploy/mikrobill-gateway.service "$d/lib/systemd/system/"
gateway_files "$d/usr/share/doc/mikrobill/gateway"
install -m 0755 scripts/dist/debian-postinst "$d/DEBIAN/postinst"
install -m 0755 scripts/dist/debian-postrm "$d/DEBIAN/postrm"
install_shared_library "$d/usr/lib/$multiarch"
install -m 0644 include/mikrobill.h "$d/usr/include/"
pkg_config /usr "\${prefix}/lib/$multiarch" >"$d/usr/lib/$multiarch/pkgconfig/mikrobill.pc"
php_shim "$d/usr/share/php/mikrobill"
ln -s ../../../include/mikrobill.h "$d/usr/share/php/mikrobill/mikrobill.h"
# The ini postinst offers to each PHP in /etc/php/*/mods-available (enabled only by phpenmod).
deploy_files "$d/usr/share/mikrobill/deploy"
php bindings/php/ini.php --platform=linux --dir=/usr/share/php/mikrobill >"$d/usr/share/mikrobill/deploy/mikrobill.ini"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: mikrobill"
    echo
    echo "Files: *"
    echo "License: MIT"
    sed 's/^$/./; s/^/ /' LICENSE
} >"$d/usr/share/doc/mikrobill/copyright"
gzip -9 -n <CHANGELOG.md >"$d/usr/share/doc/mikrobill/changelog.gz"
# Its Maintainer is the copyright holder LICENSE names (the repository names no mail address).
sed "s/@VERSION@/$version/g; s/@SIZE@/$(du -sk --exclude=DEBIAN "$d" | cut -f1)/" \
    scripts/dist/debian-control >"$d/DEBIAN/control"
# dpkg runs ldconfig once after the transaction, so dlopen("libmikrobill.so") finds the library.
echo "activate-noawait ldconfig" >"$d/DEBIAN/triggers"
(cd "$d" && find usr lib -type f | sort | xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$d/DEBIAN/"*
chmod 0755 "$d/DEBIAN/postinst" "$d/DEBIAN/postrm"
settle "$d"
dpkg-deb --root-owner-group -Zxz --build "$d" "$out/mikrobill_${version}_amd64.deb" >/dev/null

echo "== Composer package"
c=$stage/composer
install -d "$c/include" "$c/native/linux-x86_64" "$c/native/windows-x86_64"
php_shim "$c"
deploy_files "$c/deploy"
install -m 0644 include/mikrobill.h "$c/include/"
install -m 0755 "$t/lib/libmikrobill.so.$version" "$c/native/linux-x86_64/libmikrobill.so"
install -m 0755 "$windows/mikrobill.dll" "$c/native/windows-x86_64/"
install -m 0644 LICENSE bindings/php/README.md "$c/"
python3 - "$version" bindings/php/composer.json "$c/composer.json" <<'PY'
import json, sys
version, source, target = sys.argv[1:]
manifest = json.load(open(source))
# An artifact repository takes the version from the archive's composer.json.
manifest["version"] = version
manifest.pop("archive", None)
json.dump(manifest, open(target, "w"), indent=4)
open(target, "a").write("\n")
PY
mkdir -p "$out/composer"
zipdir "$c" "$out/composer/mikrobill-apicore-$version.zip"

echo "== Python wheels"
mkdir -p "$out/python"
build_wheel() { # LIBRARY-FILE NAME-IN-PACKAGE PLATFORM-TAG
    local p=$stage/python-$3
    mkdir -p "$p"
    cp -r bindings/python/src bindings/python/pyproject.toml bindings/python/setup.py \
        bindings/python/README.md "$p/"
    find "$p" \( -name __pycache__ -o -name '*.egg-info' -o -name '*.so' -o -name '*.dll' \) -prune \
        -exec rm -rf {} +
    install -m 0755 "$1" "$p/src/mikrobill/$2"
    cp LICENSE "$p/"
    settle "$p"
    python -m pip wheel --quiet --disable-pip-version-check --no-build-isolation --no-deps --no-index \
        -w "$out/python" "$p" -C--build-option=--plat-name="$3"
    [ -f "$out/python/mikrobill-$version-py3-none-$3.whl" ] || {
        echo "dist: no mikrobill-$version wheel: bindings/python/pyproject.toml must carry Cargo.toml's version" >&2
        exit 1
    }
}
build_wheel "$t/lib/libmikrobill.so.$version" libmikrobill.so manylinux2014_x86_64
build_wheel "$windows/mikrobill.dll" mikrobill.dll win_amd64

echo "== NuGet package"
n=$stage/nuget
mkdir -p "$n"
# The binding lays out its own files (lib/TFM/ from the csproj's sources, runtimes/RID/native/);
# the nuspec and the OPC parts around them come from the csproj's package properties.
bash bindings/dotnet/pack.sh "$n" "$t/lib/libmikrobill.so.$version" "$windows/mikrobill.dll"
nupkg=$(python3 scripts/dist/nuget_package.py bindings/dotnet/MikroBILL.csproj "$version" "$n")
mkdir -p "$out/nuget"
zipdir "$n" "$out/nuget/$nupkg"

(cd "$out" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum >SHA256SUMS)
echo "== dist/"
cat "$out/SHA256SUMS"
