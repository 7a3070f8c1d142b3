#!/usr/bin/env bash
# Builds every release artifact into dist/ from this checkout:
#   mikrobill-VERSION-linux-x86_64.tar.gz    shared lib (SONAME libmikrobill.so.0), static lib,
#                                            header, mikrobill.pc, mb, mikrobill-sim, PHP shim
#   mikrobill-VERSION-windows-x86_64.zip     mikrobill.dll + import lib, header, mb.exe,
#                                            mikrobill-sim.exe, PHP shim
#   mikrobill_VERSION_amd64.deb              one package (see docs/packaging.md for why)
#   composer/mikrobill-apicore-VERSION.zip   Composer package with both platforms' libraries
#   python/mikrobill-VERSION-py3-none-{manylinux2014_x86_64,win_amd64}.whl
#   nuget/MikroBILL.VERSION.nupkg            assembly (mcs) + linux-x64 and win-x64 natives
#   SHA256SUMS
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
abi=${version%%.*}
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
    -p mikrobill --lib
cargo zigbuild --release --locked --target "$linux_target.$GLIBC_FLOOR" --target-dir "$build_dir" \
    -p mikrobill-sim -p mikrobill-cli --bins
linux=$build_dir/$linux_target/release
echo "== Windows x86_64"
cargo build --release --locked --target "$windows_target" --target-dir "$build_dir" \
    -p mikrobill --lib
cargo build --release --locked --target "$windows_target" --target-dir "$build_dir" \
    -p mikrobill-sim -p mikrobill-cli --bins
windows=$build_dir/$windows_target/release

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

# The shared library: real file libmikrobill.so.VERSION with SONAME libmikrobill.so.ABI (rustc
# always names a cdylib after its file, and a link-arg cannot come after rustc's own -soname).
install_shared_library() { # DIR
    install -m 0755 "$linux/libmikrobill.so" "$1/libmikrobill.so.$version"
    patchelf --set-soname "libmikrobill.so.$abi" "$1/libmikrobill.so.$version"
    ln -sf "libmikrobill.so.$version" "$1/libmikrobill.so.$abi"
    ln -sf "libmikrobill.so.$abi" "$1/libmikrobill.so"
    install -m 0644 "$linux/libmikrobill.a" "$1/libmikrobill.a"
}

pkg_config() { # PREFIX-LINE LIBDIR-LINE
    cat <<EOF
$1
exec_prefix=\${prefix}
$2
includedir=\${prefix}/include

Name: mikrobill
Description: Client for the MikroBILL billing core API (C ABI)
Version: $version
Libs: -L\${libdir} -lmikrobill
Libs.private: -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc
Cflags: -I\${includedir}
EOF
}

php_shim() { # DIR: apicore.php and preload.php
    install -m 0644 bindings/php/apicore.php bindings/php/preload.php "$1/"
}

echo "== tarball"
name=mikrobill-$version-linux-x86_64
t=$stage/$name
install -d "$t/bin" "$t/lib/pkgconfig" "$t/include" "$t/share/php/mikrobill"
install -m 0755 "$linux/mb" "$linux/mikrobill-sim" "$t/bin/"
install_shared_library "$t/lib"
install -m 0644 include/mikrobill.h "$t/include/"
# ${pcfiledir}: the unpacked tree works wherever it is put, with no edit.
pkg_config 'prefix=${pcfiledir}/../..' 'libdir=${prefix}/lib' >"$t/lib/pkgconfig/mikrobill.pc"
php_shim "$t/share/php/mikrobill"
ln -s ../../../include/mikrobill.h "$t/share/php/mikrobill/mikrobill.h"
install -m 0644 LICENSE CHANGELOG.md "$t/"
sed "s/@VERSION@/$version/g" scripts/dist/INSTALL.linux >"$t/INSTALL"
targz "$name" "$out/$name.tar.gz"

echo "== zip"
name=mikrobill-$version-windows-x86_64
w=$stage/$name
install -d "$w/bin" "$w/lib" "$w/include" "$w/php"
install -m 0755 "$windows/mikrobill.dll" "$windows/mb.exe" "$windows/mikrobill-sim.exe" "$w/bin/"
install -m 0644 "$windows/libmikrobill.dll.a" "$w/lib/"
install -m 0644 include/mikrobill.h "$w/include/"
php_shim "$w/php"
install -m 0644 include/mikrobill.h "$w/php/"
install -m 0644 LICENSE CHANGELOG.md "$w/"
sed "s/@VERSION@/$version/g; s/\$/\r/" scripts/dist/INSTALL.windows >"$w/INSTALL.txt"
settle "$w"
(cd "$stage" && find "$name" | sort | zip -q -X -D -9 "$out/$name.zip" -@)

echo "== .deb"
d=$stage/deb
multiarch=x86_64-linux-gnu
install -d "$d/DEBIAN" "$d/usr/bin" "$d/usr/lib/$multiarch/pkgconfig" "$d/usr/include" \
    "$d/usr/share/php/mikrobill" "$d/usr/share/doc/mikrobill"
install -m 0755 "$linux/mb" "$linux/mikrobill-sim" "$d/usr/bin/"
install_shared_library "$d/usr/lib/$multiarch"
install -m 0644 include/mikrobill.h "$d/usr/include/"
pkg_config 'prefix=/usr' "libdir=\${prefix}/lib/$multiarch" >"$d/usr/lib/$multiarch/pkgconfig/mikrobill.pc"
php_shim "$d/usr/share/php/mikrobill"
ln -s ../../../include/mikrobill.h "$d/usr/share/php/mikrobill/mikrobill.h"
{
    echo "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/"
    echo "Upstream-Name: mikrobill"
    echo
    echo "Files: *"
    echo "License: MIT"
    sed 's/^$/./; s/^/ /' LICENSE
} >"$d/usr/share/doc/mikrobill/copyright"
gzip -9 -n <CHANGELOG.md >"$d/usr/share/doc/mikrobill/changelog.gz"
# The maintainer of record is the author of the project's first commit.
maintainer=$(git show -s --format='%an <%ae>' "$(git rev-list --max-parents=0 HEAD | tail -n1)")
sed "s/@VERSION@/$version/g; s/@SIZE@/$(du -sk --exclude=DEBIAN "$d" | cut -f1)/; s|@MAINTAINER@|$maintainer|" \
    scripts/dist/debian-control >"$d/DEBIAN/control"
# dpkg runs ldconfig once after the transaction, so dlopen("libmikrobill.so") finds the library.
echo "activate-noawait ldconfig" >"$d/DEBIAN/triggers"
(cd "$d" && find usr -type f | sort | xargs md5sum >DEBIAN/md5sums)
chmod 0644 "$d/DEBIAN/"*
settle "$d"
dpkg-deb --root-owner-group -Zxz --build "$d" "$out/mikrobill_${version}_amd64.deb" >/dev/null

echo "== Composer package"
c=$stage/composer
install -d "$c/include" "$c/native/linux-x86_64" "$c/native/windows-x86_64"
php_shim "$c"
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
}
build_wheel "$t/lib/libmikrobill.so.$version" libmikrobill.so manylinux2014_x86_64
build_wheel "$windows/mikrobill.dll" mikrobill.dll win_amd64

echo "== NuGet package"
n=$stage/nuget
install -d "$n/lib/netstandard2.0" "$n/runtimes/linux-x64/native" "$n/runtimes/win-x64/native" \
    "$n/_rels" "$n/package/services/metadata/core-properties"
# mcs compiles the same sources the csproj lists; -deterministic keeps the assembly byte-stable.
mcs -nologo -warnaserror -langversion:6 -optimize+ -deterministic -target:library -r:System.Numerics \
    -out:"$n/lib/netstandard2.0/MikroBILL.dll" $(find bindings/dotnet/src -name '*.cs' | sort)
install -m 0755 "$t/lib/libmikrobill.so.$version" "$n/runtimes/linux-x64/native/libmikrobill.so"
install -m 0755 "$windows/mikrobill.dll" "$n/runtimes/win-x64/native/"
sed "s/@VERSION@/$version/g" scripts/dist/MikroBILL.nuspec >"$n/MikroBILL.nuspec"
cp scripts/dist/nuget-content-types.xml "$n/[Content_Types].xml"
core=package/services/metadata/core-properties/mikrobill.psmdcp
sed "s|@CORE@|/$core|" scripts/dist/nuget-rels.xml >"$n/_rels/.rels"
sed "s/@VERSION@/$version/g" scripts/dist/nuget-core-properties.xml >"$n/$core"
mkdir -p "$out/nuget"
zipdir "$n" "$out/nuget/MikroBILL.$version.nupkg"

(cd "$out" && find . -type f ! -name SHA256SUMS | sed 's|^\./||' | sort | xargs sha256sum >SHA256SUMS)
echo "== dist/"
cat "$out/SHA256SUMS"
