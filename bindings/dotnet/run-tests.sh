#!/usr/bin/env bash
# Builds the .NET binding and its tests with Mono's mcs and runs them on mono against the real
# libmikrobill.so and mikrobill-sim. Exits non-zero on any failure; never skips.
# Needs: mono-mcs, mono-runtime (apt), and `cargo build --release` done at the repository root.
# Env: MIKROBILL_LIB (default <repo>/target/release/libmikrobill.so),
#      MIKROBILL_SIM (default <repo>/target/release/mikrobill-sim).
# Optional argument: a substring of "Class.Method" to run only matching tests.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

for tool in mcs mono; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "run-tests.sh: '$tool' not found; install mono-mcs and mono-runtime" >&2
        exit 2
    fi
done

export MIKROBILL_LIB="${MIKROBILL_LIB:-$repo/target/release/libmikrobill.so}"
export MIKROBILL_SIM="${MIKROBILL_SIM:-$repo/target/release/mikrobill-sim}"
for artifact in "$MIKROBILL_LIB" "$MIKROBILL_SIM"; do
    if [ ! -f "$artifact" ]; then
        echo "run-tests.sh: $artifact not found; run 'cargo build --release' in $repo" >&2
        exit 2
    fi
done

out="$here/bin"
mkdir -p "$out"
# The library: the same sources the csproj compiles. The test exe also compiles the internal JSON
# reader, which it uses to inspect replies.
mcs -nologo -warnaserror -langversion:6 -optimize+ -target:library -r:System.Numerics \
    -out:"$out/MikroBILL.dll" "$here"/src/*.cs
mcs -nologo -warnaserror -langversion:6 -target:exe -r:System.Numerics -r:System.Core -r:System.Xml \
    -r:"$out/MikroBILL.dll" -out:"$out/MikroBILL.Tests.exe" "$here/src/JsonReader.cs" "$here"/tests/*.cs

cd "$out"
exec mono --debug "$out/MikroBILL.Tests.exe" "$@"
