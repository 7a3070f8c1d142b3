#!/usr/bin/env bash
# Commits the Composer package that scripts/dist.sh built into a git clone of the repository
# Packagist reads, and tags it vVERSION:
#   scripts/dist/composer-vcs.sh dist/composer/mikrobill-apicore-VERSION.zip CLONE VERSION
# Packagist takes a package from a git repository whose root holds composer.json, and its
# versions from that repository's tags. This repository is no such thing (the manifest is in
# bindings/php/, and the package carries libraries built from it), so the release workflow pushes
# each release's package, as built, to a repository of its own that Packagist watches.
# The commit's author comes from the environment (GIT_AUTHOR_NAME, GIT_AUTHOR_EMAIL, and the
# GIT_COMMITTER_ ones); nothing is pushed here.
set -euo pipefail
[ "$#" -eq 3 ] || { echo "usage: composer-vcs.sh PACKAGE-ZIP CLONE VERSION" >&2; exit 2; }
zip=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
clone=$2
version=$3
[ -f "$zip" ] || { echo "composer-vcs: $zip is missing" >&2; exit 1; }
git -C "$clone" rev-parse --git-dir >/dev/null
! git -C "$clone" rev-parse -q --verify "refs/tags/v$version" >/dev/null ||
    { echo "composer-vcs: $clone already has tag v$version" >&2; exit 1; }

# The tree is exactly this release's package: files a former release had and this one has not go.
git -C "$clone" rm -r -q --ignore-unmatch .
(cd "$clone" && unzip -q -o "$zip")
# Composer reads a VCS package's version from its tag; a "version" in composer.json that could
# disagree with the tag is what Composer's documentation warns against, so it goes.
python3 - "$clone/composer.json" "$version" <<'PY'
import json, sys
path, version = sys.argv[1:]
manifest = json.load(open(path))
if manifest.pop("version", version) != version:
    sys.exit("composer-vcs: the package's composer.json is not version %s" % version)
json.dump(manifest, open(path, "w"), indent=4)
open(path, "a").write("\n")
PY
git -C "$clone" add -A
git -C "$clone" commit -q -m "mikrobill/apicore $version"
git -C "$clone" tag -a -m "mikrobill/apicore $version" "v$version"
echo "composer-vcs: $clone at v$version ($(git -C "$clone" rev-parse --short HEAD))"
