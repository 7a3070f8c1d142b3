#!/usr/bin/env bash
# Builds the book (docs/book.toml, chapters in docs/src/) into docs/book/ and checks its links.
#   bash scripts/docs.sh
# Installs what it needs: mdBook from crates.io (pinned, into target/docs-tools/, reused by later
# runs) and Debian's linkchecker. Fails when
#  - mdBook reports an error or a warning (a missing {{#include}} file is only logged by mdBook,
#    and the build would still succeed);
#  - a link in the built book, or in README.md and the bindings' READMEs, points to a file that
#    does not exist or to an anchor that no heading of the target page has;
#  - an external link is malformed. External links are never fetched (CI has no network for
#    them): linkchecker checks only their syntax.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

mdbook_version=0.5.4
tools=$root/target/docs-tools
mdbook=$tools/bin/mdbook

if [ "$("$mdbook" --version 2>/dev/null)" != "mdbook v$mdbook_version" ]; then
    command -v cargo >/dev/null || { echo "docs: cargo (Rust stable) is required" >&2; exit 1; }
    echo "docs: installing mdbook $mdbook_version from crates.io into $tools"
    # Without default features: no `serve`/`watch` (a web server and a file watcher) and no
    # search index; building the HTML is all CI needs.
    cargo install mdbook --locked --version "$mdbook_version" --no-default-features \
        --root "$tools" --quiet
fi

if ! command -v linkchecker >/dev/null; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    echo "docs: installing linkchecker"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends linkchecker >/dev/null
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rm -rf docs/book
"$mdbook" build docs 2>&1 | tee "$work/mdbook.log"
if grep -Eq '(^|[[:space:]])(ERROR|WARN)[[:space:]]' "$work/mdbook.log"; then
    echo "docs: FAIL: mdbook reported errors or warnings (above)" >&2
    exit 1
fi
if grep -l '{{#' docs/book/*.html; then
    echo "docs: FAIL: an mdBook directive was left unexpanded in the pages above" >&2
    exit 1
fi

# linkchecker drops root's privileges to "nobody", who may not be able to read the checkout
# (CI runs as root, often under /root): check a world-readable copy of the book and of the
# repository's tracked and new files, laid out as in the repository so relative links resolve.
copy=$work/repo
mkdir -p "$copy"
git ls-files -z --cached --others --exclude-standard |
    while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done |
    xargs -0 cp --parents -t "$copy"
cp -r docs/book "$copy/docs/book"
chmod -R a+rX "$work"

cat >"$work/linkcheckerrc" <<'EOF'
[filtering]
# Never fetch external links; their syntax is still checked.
checkextern=0
# A Markdown start file is reported as "not parseable" by the HTML parser although MarkdownCheck
# reads its links; that warning says nothing about a link.
ignorewarnings=url-content-type-unparseable
[output]
# Warnings (a missing anchor is one) make linkchecker fail as errors do.
warnings=1
[AnchorCheck]
[MarkdownCheck]
# Links in the READMEs are checked; the chapters they link to are checked as built HTML above, so
# their Markdown sources are only required to exist, not parsed (the plugin's simple parser would
# take text such as `[ipv6]:port` for a link).
filename_re=/README\.md$
EOF

urls=()
for page in "$copy"/docs/book/*.html; do urls+=("file://$page"); done
for readme in README.md bindings/php/README.md bindings/python/README.md bindings/dotnet/README.md; do
    urls+=("file://$copy/$readme")
done

if linkchecker --config "$work/linkcheckerrc" --no-status --threads 4 "${urls[@]}" \
    >"$work/linkchecker.log" 2>&1; then
    tail -n 3 "$work/linkchecker.log"
    echo "docs: book built in docs/book/, every link checked"
else
    grep -v -e '^WARNING linkcheck.check .* dropping privileges' -e '^INFO linkcheck.cmdline' \
        "$work/linkchecker.log" >&2
    echo "docs: FAIL: broken or malformed links (above)" >&2
    exit 1
fi
