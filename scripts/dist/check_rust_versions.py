#!/usr/bin/env python3
"""Checks that each workspace crate's rust-version is at least that of everything it builds with:
its locked dependencies (Cargo.lock, as scripts/dist.sh builds with --locked) and the workspace
crates it depends on, for the two platforms the release is built for. Clippy's incompatible_msrv
lint (on in CI) checks the other half, that a crate's own code calls no std API newer than its
rust-version; language features (e.g. c"" literals, 1.77) neither checks.

usage: check_rust_versions.py      (from the repository root; reads `cargo metadata --locked`)
Prints one line per crate; exits 1 if a crate claims less than it needs.
"""

import json
import subprocess
import sys

PLATFORMS = ["x86_64-unknown-linux-gnu", "x86_64-pc-windows-gnu"]


def version_key(text):
    """1.85 and 1.85.0 are the same version."""
    parts = [int(part) for part in text.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def metadata(platform):
    out = subprocess.run(["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", platform],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out)


packages, edges, members = {}, {}, []
for platform in PLATFORMS:
    data = metadata(platform)
    members = data["workspace_members"]
    for package in data["packages"]:
        packages[package["id"]] = package
    for node in data["resolve"]["nodes"]:
        for dep in node["deps"]:
            if any(kind["kind"] in (None, "build") for kind in dep["dep_kinds"]):
                edges.setdefault(node["id"], set()).add(dep["pkg"])

failures = 0
for member in members:
    own = packages[member].get("rust_version")
    seen, stack, floor, because = set(), list(edges.get(member, ())), "0", "nothing"
    while stack:
        pkg = stack.pop()
        if pkg in seen:
            continue
        seen.add(pkg)
        stack.extend(edges.get(pkg, ()))
        needed = packages[pkg].get("rust_version")
        if needed and version_key(needed) > version_key(floor):
            floor, because = needed, "%s %s" % (packages[pkg]["name"], packages[pkg]["version"])
    # A crate without rust-version (xtask, a development tool) claims nothing to check.
    ok = own is None or version_key(own) >= version_key(floor)
    failures += not ok
    print("%s  %s: rust-version %s; its dependencies need %s (%s)"
          % ("ok    " if ok else "FAILED", packages[member]["name"], own, floor, because))
sys.exit(1 if failures else 0)
