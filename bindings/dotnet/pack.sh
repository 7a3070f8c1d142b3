#!/usr/bin/env bash
# Lays out the NuGet package's tree for the .NET binding in OUTDIR:
#   lib/netstandard2.0/MikroBILL.dll          (src/*.cs compiled by mcs, -deterministic)
#   runtimes/linux-x64/native/libmikrobill.so (LINUX_SO as given)
#   runtimes/win-x64/native/mikrobill.dll     (WIN_DLL as given)
# The same paths MikroBILL.csproj packs; scripts/dist.sh adds the nuspec made from the csproj and
# zips the tree. Needs mono-mcs.
# Usage: pack.sh OUTDIR LINUX_SO WIN_DLL
set -euo pipefail

if [ "$#" -ne 3 ]; then
    echo "usage: $0 OUTDIR LINUX_SO WIN_DLL" >&2
    exit 2
fi
out=$1 linux_so=$2 win_dll=$3
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
for file in "$linux_so" "$win_dll"; do
    if [ ! -f "$file" ]; then
        echo "pack.sh: $file not found" >&2
        exit 2
    fi
done

install -d "$out/lib/netstandard2.0" "$out/runtimes/linux-x64/native" "$out/runtimes/win-x64/native"
# Sorted, so that the assembly does not depend on the order the file system lists the sources in.
mapfile -t sources < <(find "$here/src" -name '*.cs' | LC_ALL=C sort)
mcs -nologo -warnaserror -langversion:6 -optimize+ -deterministic -target:library -r:System.Numerics \
    -out:"$out/lib/netstandard2.0/MikroBILL.dll" "${sources[@]}"
install -m 0755 "$linux_so" "$out/runtimes/linux-x64/native/libmikrobill.so"
install -m 0755 "$win_dll" "$out/runtimes/win-x64/native/mikrobill.dll"
