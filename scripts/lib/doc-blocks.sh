# Sourced by the tests that run the docs' shell blocks as written. A block is marked in the
# Markdown by a comment line of its own right before it: <!-- MARKER -->.

# doc_block FILE MARKER: the first fenced block after MARKER's comment line, without its fences.
doc_block() {
    awk -v marker="<!-- $2 -->" '$0 == marker { m = 1; next }
        m && /^```/ { if (f) exit; f = 1; next }
        m && f { print }' "$1"
}

# run_doc_block FILE MARKER [VAR=VALUE...]: runs that block with bash -euo pipefail. Each VAR the
# block sets on a line of its own (VAR=...) gets VALUE instead: the only change made to what the
# docs say, and the block must still set each VAR, so a renamed variable fails the test.
# Commands the block runs are found on the caller's PATH (a test may put stand-ins first there).
run_doc_block() {
    local file=$1 marker=$2 block assignment var
    shift 2
    block=$(doc_block "$file" "$marker")
    [ -n "$block" ] || { echo "$file has no shell block marked '<!-- $marker -->'" >&2; return 1; }
    for assignment in "$@"; do
        var=${assignment%%=*}
        grep -q "^$var=" <<<"$block" ||
            { echo "the block '$marker' of $file no longer sets $var" >&2; return 1; }
        block=$(grep -v "^$var=" <<<"$block")
    done
    env "$@" bash -euo pipefail -c "$block"
}

# systemctl_stand_in DIR LOG: DIR/systemctl, which records each call in LOG as
# "ARGS | kassa: FIRST-LINE-OF-$KASSA/apicore.php", so a test sees what a block restarts and
# whether the kassa was already switched to the shim then. (Where the tests run, systemd is not
# PID 1.)
systemctl_stand_in() {
    mkdir -p "$1"
    cat >"$1/systemctl" <<STANDIN
#!/bin/sh
printf '%s | kassa: %s\n' "\$*" "\$(head -n 1 "\${KASSA:-/nonexistent}/apicore.php" 2>/dev/null)" >>'$2'
STANDIN
    chmod 0755 "$1/systemctl"
}
